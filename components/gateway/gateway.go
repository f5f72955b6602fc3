// Package gateway provides PassthroughGateway: Gateway API TLS-passthrough listeners and TLSRoutes that
// route PostgreSQL and Redis by SNI without terminating TLS, plus Envoy Gateway TCP keepalive per listener.
package gateway

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"nautobot-worker/internal/component"
	"nautobot-worker/internal/kube"
	"nautobot-worker/internal/validate"
)

// ConfigKey is the stack config key these arguments are read from.
const ConfigKey = "gateway"

// DefaultTLSRouteAPIVersion is the TLSRoute version Envoy Gateway v1.9 watches (Gateway API v1.6 CRDs, either
// channel, serve it). A controller that watches a version the CRD does not serve never sees the routes.
const DefaultTLSRouteAPIVersion = "gateway.networking.k8s.io/v1"

// TLSRouteAPIVersions are the TLSRoute versions the stacks may write, with the Gateway API CRDs that serve
// them. The API server serves each TLSRoute at every version its CRD serves, so the version written need only
// be one the CRD serves; the CRD must serve the controller's version too, or the controller ignores TLSRoutes.
var TLSRouteAPIVersions = map[string]string{
	DefaultTLSRouteAPIVersion:            "Gateway API v1.6 CRDs, standard or experimental channel: what Envoy Gateway v1.9 installs and watches",
	"gateway.networking.k8s.io/v1alpha3": "Gateway API v1.4 experimental CRDs, which Envoy Gateway v1.6 watches at this version, or v1.6 experimental",
	"gateway.networking.k8s.io/v1alpha2": "Gateway API v1.4 or v1.6 experimental CRDs; the v1.6 standard channel does not serve it",
}

// otherRouteVersions are the TLSRoute types of the versions not written: the type of a custom resource
// names its apiVersion, so without these aliases a new gateway.tlsRouteApiVersion would create each route
// anew (the same object, applied again) and then delete the old resource, which deletes the route.
func (a Args) otherRouteVersions() []pulumi.Alias {
	var aliases []pulumi.Alias
	for _, v := range slices.Sorted(maps.Keys(TLSRouteAPIVersions)) {
		if v != a.TLSRouteAPIVersion {
			aliases = append(aliases, pulumi.Alias{Type: pulumi.String("kubernetes:" + v + ":TLSRoute")})
		}
	}
	return aliases
}

// Route sends TLS connections for one SNI name to one Service, untouched.
type Route struct {
	// Name of the listener, the TLSRoute and the keepalive policy.
	Name string
	// FQDN is the SNI name clients connect to; it is also a SAN of the backend's server certificate.
	FQDN string
	// Port the gateway listens on.
	Port int
	// Service and ServicePort of the backend.
	Service     string
	ServicePort int
	// ServiceNamespace holds the backend Service.
	ServiceNamespace string
}

// Keepalive configures TCP keepalive on the client side of every listener: without it, idle worker
// connections through the gateway were dropped by middleboxes.
type Keepalive struct {
	Enabled  *bool  `json:"enabled"`
	Probes   int    `json:"probes"`
	IdleTime string `json:"idleTime"`
	Interval string `json:"interval"`
}

// Args configures the gateway.
type Args struct {
	Provider *kubernetes.Provider `json:"-"`
	// Name and Namespace of the Gateway (default nautobot-passthrough in envoy-gateway).
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// ClassName is the GatewayClass (default eg, Envoy Gateway's conventional class).
	ClassName string `json:"className"`
	// RouteNamespace holds the TLSRoutes (default: the backends' namespace, so no ReferenceGrant is needed).
	RouteNamespace string `json:"routeNamespace"`
	// TLSRouteAPIVersion is the apiVersion the TLSRoutes are written at: one the cluster's TLSRoute CRD
	// serves (default DefaultTLSRouteAPIVersion).
	TLSRouteAPIVersion string    `json:"tlsRouteApiVersion"`
	Keepalive          Keepalive `json:"keepalive"`
	// Routes are set by the stack from the database and Redis endpoints.
	Routes []Route `json:"-"`
}

// Defaults returns args with every unset field filled in.
func (a Args) Defaults() Args {
	a.Name = cmp.Or(a.Name, "nautobot-passthrough")
	a.Namespace = cmp.Or(a.Namespace, "envoy-gateway")
	a.ClassName = cmp.Or(a.ClassName, "eg")
	a.TLSRouteAPIVersion = cmp.Or(a.TLSRouteAPIVersion, DefaultTLSRouteAPIVersion)
	if a.RouteNamespace == "" && len(a.Routes) > 0 {
		a.RouteNamespace = a.Routes[0].ServiceNamespace
	}
	if a.Keepalive.Enabled == nil {
		on := true
		a.Keepalive.Enabled = &on
	}
	if a.Keepalive.Probes == 0 {
		a.Keepalive.Probes = 3
	}
	a.Keepalive.IdleTime = cmp.Or(a.Keepalive.IdleTime, "60s")
	a.Keepalive.Interval = cmp.Or(a.Keepalive.Interval, "10s")
	return a
}

// Validate checks the plain values; problems name keys relative to Args.
func (a Args) Validate() error {
	p := validate.New("")
	p.ObjectName("name", a.Name)
	p.DNSLabel("namespace", a.Namespace)
	p.ObjectName("className", a.ClassName)
	if a.RouteNamespace != "" {
		p.DNSLabel("routeNamespace", a.RouteNamespace)
	}
	if _, ok := TLSRouteAPIVersions[a.TLSRouteAPIVersion]; !ok {
		p.Addf("tlsRouteApiVersion", "%q is not a TLSRoute version; use the one your cluster's TLSRoute CRD serves and your Envoy Gateway watches: %s",
			a.TLSRouteAPIVersion, supportedTLSRouteVersions())
	}
	if *a.Keepalive.Enabled {
		if a.Keepalive.Probes < 1 {
			p.Addf("keepalive.probes", "%d must be at least 1", a.Keepalive.Probes)
		}
		p.GatewayDuration("keepalive.idleTime", a.Keepalive.IdleTime)
		p.GatewayDuration("keepalive.interval", a.Keepalive.Interval)
	}
	ports, hosts := map[int]string{}, map[string]string{}
	for _, r := range a.Routes {
		key := "routes." + r.Name
		p.DNSLabel(key+".name", r.Name)
		p.FQDN(key+".fqdn", r.FQDN)
		p.Port(key+".port", r.Port)
		p.Port(key+".servicePort", r.ServicePort)
		if other, dup := ports[r.Port]; dup {
			p.Addf(key+".port", "%d is also the port of route %s; PostgreSQL and Redis need separate listener ports", r.Port, other)
		}
		if other, dup := hosts[r.FQDN]; dup {
			p.Addf(key+".fqdn", "%q is also the FQDN of route %s; SNI routing needs one name per backend", r.FQDN, other)
		}
		ports[r.Port], hosts[r.FQDN] = r.Name, r.Name
	}
	return p.Err()
}

// Cluster returns the provider, once the stack has set the routes.
func (a Args) Cluster() (*kubernetes.Provider, error) {
	if a.Provider == nil || len(a.Routes) == 0 {
		return nil, errors.New("gateway: Args.Provider and at least one route are required")
	}
	return a.Provider, nil
}

// PassthroughGateway is the Gateway, its TLSRoutes, ReferenceGrants and keepalive policies.
type PassthroughGateway struct {
	pulumi.ResourceState
	component.WithArgs[Args]

	// Address is the first address in the Gateway status (empty until a controller assigns one).
	Address pulumi.StringOutput `pulumi:"address"`
}

// NewPassthroughGateway registers the gateway objects.
func NewPassthroughGateway(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*PassthroughGateway, error) {
	return component.New(ctx, "nautobot:gateway:PassthroughGateway", name, args, &PassthroughGateway{}, opts,
		func(c *PassthroughGateway, k8s []pulumi.ResourceOption) (pulumi.Map, error) {
			a := c.Args

			allowed := map[string]any{"from": "Same"}
			if a.RouteNamespace != a.Namespace {
				// Only the route namespace may attach, not every namespace of the cluster.
				allowed = map[string]any{"from": "Selector", "selector": map[string]any{
					"matchLabels": map[string]any{"kubernetes.io/metadata.name": a.RouteNamespace},
				}}
			}
			var listeners []any
			for _, r := range a.Routes {
				listeners = append(listeners, map[string]any{
					"name":     r.Name,
					"protocol": "TLS",
					"port":     r.Port,
					"hostname": r.FQDN,
					"tls":      map[string]any{"mode": "Passthrough"},
					// Lists the API server defaults into are spelt as it stores them (see kube.ExternalSecretData).
					"allowedRoutes": map[string]any{"namespaces": allowed, "kinds": []any{map[string]any{"group": "gateway.networking.k8s.io", "kind": "TLSRoute"}}},
				})
			}
			gw, err := kube.NewCustomResource(ctx, name+"-gateway", "gateway.networking.k8s.io/v1", "Gateway",
				kube.Object{Namespace: a.Namespace, Name: a.Name},
				map[string]any{"spec": map[string]any{"gatewayClassName": a.ClassName, "listeners": listeners}}, k8s...)
			if err != nil {
				return nil, err
			}
			afterGateway := append(k8s, pulumi.DependsOn([]pulumi.Resource{gw}))
			routeOptions := append(slices.Clone(afterGateway), pulumi.Aliases(a.otherRouteVersions()))
			grants := map[string]bool{}
			for _, r := range a.Routes {
				backend := map[string]any{"group": "", "kind": "Service", "name": r.Service, "port": r.ServicePort, "weight": 1}
				if r.ServiceNamespace != a.RouteNamespace {
					backend["namespace"] = r.ServiceNamespace
					grants[r.ServiceNamespace] = true
				}
				if _, err := kube.NewCustomResource(ctx, name+"-route-"+r.Name, a.TLSRouteAPIVersion, "TLSRoute",
					kube.Object{Namespace: a.RouteNamespace, Name: r.Name},
					map[string]any{"spec": map[string]any{
						"parentRefs": []any{map[string]any{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": a.Name,
							"namespace": a.Namespace, "sectionName": r.Name}},
						"hostnames": []any{r.FQDN},
						"rules":     []any{map[string]any{"backendRefs": []any{backend}}},
					}}, routeOptions...); err != nil {
					return nil, err
				}
				if *a.Keepalive.Enabled {
					if _, err := kube.NewCustomResource(ctx, name+"-keepalive-"+r.Name, "gateway.envoyproxy.io/v1alpha1", "ClientTrafficPolicy",
						kube.Object{Namespace: a.Namespace, Name: r.Name + "-client-traffic"},
						map[string]any{"spec": map[string]any{
							"targetRefs": []any{map[string]any{
								"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": a.Name, "sectionName": r.Name,
							}},
							"tcpKeepalive": map[string]any{
								"probes": a.Keepalive.Probes, "idleTime": a.Keepalive.IdleTime, "interval": a.Keepalive.Interval,
							},
						}}, afterGateway...); err != nil {
						return nil, err
					}
				}
			}
			for _, ns := range slices.Sorted(maps.Keys(grants)) {
				if _, err := kube.NewCustomResource(ctx, fmt.Sprintf("%s-grant-%s", name, ns), "gateway.networking.k8s.io/v1beta1", "ReferenceGrant",
					kube.Object{Namespace: ns, Name: "tlsroutes-from-" + a.RouteNamespace},
					map[string]any{"spec": map[string]any{
						"from": []any{map[string]any{"group": "gateway.networking.k8s.io", "kind": "TLSRoute", "namespace": a.RouteNamespace}},
						"to":   []any{map[string]any{"group": "", "kind": "Service"}},
					}}, k8s...); err != nil {
					return nil, err
				}
			}
			c.Address = gw.OtherFields.ApplyT(firstAddress).(pulumi.StringOutput)
			return pulumi.Map{"address": c.Address}, nil
		})
}

func supportedTLSRouteVersions() string {
	var parts []string
	for _, v := range slices.Sorted(maps.Keys(TLSRouteAPIVersions)) {
		parts = append(parts, fmt.Sprintf("%s (%s)", v, TLSRouteAPIVersions[v]))
	}
	return strings.Join(parts, "; ")
}

func firstAddress(fields map[string]any) string {
	status, _ := fields["status"].(map[string]any)
	addrs, _ := status["addresses"].([]any)
	if len(addrs) == 0 {
		return ""
	}
	first, _ := addrs[0].(map[string]any)
	v, _ := first["value"].(string)
	return v
}
