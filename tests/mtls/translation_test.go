package mtls

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"nautobot-worker/components/gateway"
	"nautobot-worker/internal/chartrender"
)

// The SNI router of these tests routes what Envoy Gateway's own translation of the global stack's gateway
// objects routes: egctl (Envoy Gateway's CLI, built at the controller's pinned version) translates the
// Gateway, TLSRoutes, ReferenceGrants and ClientTrafficPolicies the stack registers, with the GatewayClass
// and the backend Services they name, to the xDS an Envoy proxy would be served; the router's listeners,
// server names, backends and TCP keepalive are read from that xDS.

const (
	// egControllerName is the controller name Envoy Gateway's GatewayClass carries.
	egControllerName = "gateway.envoyproxy.io/gatewayclass-controller"
	// cnpgPostgresPort is the port of the Services CNPG creates for a Cluster.
	cnpgPostgresPort = 5432
)

// serviceRef is a Service port: what a route's backend is, and what a test server stands in for.
type serviceRef struct {
	namespace, name string
	port            int
}

func (s serviceRef) String() string {
	return fmt.Sprintf("Service %s/%s port %d", s.namespace, s.name, s.port)
}

// tcpKeepalive is the keepalive of a listener's sockets, in seconds and probes.
type tcpKeepalive struct{ idle, interval, probes int }

func (k tcpKeepalive) String() string {
	return fmt.Sprintf("idle %ds, interval %ds, %d probes", k.idle, k.interval, k.probes)
}

// translatedListener is one xDS listener: its port, the Service each server name's filter chain sends
// the connection to, and the keepalive its socket options set (nil: none).
type translatedListener struct {
	name      string
	port      int
	routes    map[string]serviceRef
	unrouted  []string // server names whose filter chain reaches no Service (no cluster, or no endpoint)
	keepalive *tcpKeepalive
}

// gatewayTranslation is Envoy Gateway's translation of one set of gateway objects.
type gatewayTranslation struct {
	listeners []translatedListener // by port
}

// route is the listener and Service that the translation sends a server name to (ok false: none).
func (g *gatewayTranslation) route(name string) (translatedListener, serviceRef, bool) {
	for _, l := range g.listeners {
		if s, ok := l.routes[name]; ok {
			return l, s, true
		}
	}
	return translatedListener{}, serviceRef{}, false
}

// stackGateway is what the global stack registers for its gateway, and the Services its backends are.
type stackGateway struct {
	// objects are the Gateway, TLSRoutes, ReferenceGrants and ClientTrafficPolicies as registered.
	objects []k8sObject
	// config is the stack's gateway config (its keepalive with the component's defaults).
	config gateway.Args
	// cluster is the CNPG Cluster's namespace and name: CNPG creates its Services from them.
	clusterNamespace, clusterName string
}

// cnpgServices are the Services CNPG creates for a Cluster (its naming: <cluster>-rw, -ro, -r).
func (s stackGateway) cnpgServices() []k8sObject {
	var out []k8sObject
	for _, suffix := range []string{"-rw", "-ro", "-r"} {
		out = append(out, k8sObject{"apiVersion": "v1", "kind": "Service",
			"metadata": map[string]any{"namespace": s.clusterNamespace, "name": s.clusterName + suffix},
			"spec":     map[string]any{"ports": []any{map[string]any{"name": "postgres", "port": cnpgPostgresPort, "protocol": "TCP"}}}})
	}
	return out
}

// postgresService is the Service the PostgreSQL test servers stand in for: CNPG's read-write Service,
// which leads to the primary.
func (p *stackPKI) postgresService() serviceRef {
	return serviceRef{p.gateway.clusterNamespace, p.gateway.clusterName + "-rw", cnpgPostgresPort}
}

// redisService is the Service the Redis test servers stand in for: the Service of the chart that selects
// the Redis master StatefulSet's pods, at its port that leads to the container's Redis port.
func (p *stackPKI) redisService(t testing.TB) serviceRef {
	t.Helper()
	objs := p.chartObjects(t)
	sts := findObject(t, objs, "StatefulSet", p.globalRelease.name+"-redis-master")
	podLabels := field[map[string]any](sts, "spec", "template", "metadata", "labels")
	for _, svc := range objs {
		selector := field[map[string]any](svc, "spec", "selector")
		if svc["kind"] != "Service" || len(selector) == 0 || field[string](svc, "spec", "clusterIP") == "None" {
			continue
		}
		matches := true
		for k, v := range selector {
			matches = matches && podLabels[k] == v
		}
		if !matches {
			continue
		}
		for _, port := range field[[]any](svc, "spec", "ports") {
			if field[string](port, "targetPort") == "redis" {
				return serviceRef{objectNamespace(svc, p.globalRelease.namespace), field[string](svc, "metadata", "name"), int(field[float64](port, "port"))}
			}
		}
	}
	t.Fatalf("the chart renders no Service with a cluster IP selecting the pods of StatefulSet %s at its redis port", field[string](sts, "metadata", "name"))
	return serviceRef{}
}

var (
	chartOnce sync.Once
	chartObjs []k8sObject
	chartErr  error
)

// chartObjects are the objects the real chart renders for the global release, rendered once per run.
func (p *stackPKI) chartObjects(t testing.TB) []k8sObject {
	t.Helper()
	chartOnce.Do(func() {
		rel := p.globalRelease
		chartObjs, chartErr = chartrender.Render(rel.chart, rel.name, rel.namespace, rel.values)
	})
	if chartErr != nil {
		t.Fatalf("rendering %s with the global stack's values: %v", p.globalRelease.chart, chartErr)
	}
	return chartObjs
}

// objectNamespace is an object's namespace, or fallback when its manifest leaves it to the release.
func objectNamespace(obj k8sObject, fallback string) string {
	if ns := field[string](obj, "metadata", "namespace"); ns != "" {
		return ns
	}
	return fallback
}

// egctl is Envoy Gateway's CLI: $NAUTOBOT_EGCTL, else egctl on PATH (.tools/bin, where the toolchain links
// the build of the controller's pinned version). Missing, the tests that need it fail: the SNI router has
// nothing else to route from.
func egctl() (string, error) {
	if path := os.Getenv("NAUTOBOT_EGCTL"); path != "" {
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("NAUTOBOT_EGCTL=%s: %w", path, err)
		}
		return path, nil
	}
	path, err := exec.LookPath("egctl")
	if err != nil {
		return "", errors.New("egctl (Envoy Gateway's CLI, which translates the stack's gateway objects to the xDS the SNI router " +
			"routes by) is not on PATH: `bash scripts/cluster.sh binaries` builds it into .tools/bin with Envoy Gateway's " +
			"controller, or set NAUTOBOT_EGCTL to an egctl of the same version")
	}
	return path, nil
}

// gatewayVariant is a set of gateway objects egctl translates: the stack's own, or the stack's with one
// change a test needs.
type gatewayVariant int

const (
	stackObjects gatewayVariant = iota
	secondRouteNames
	dbRouteToRedis
	dbRouteToMissingService
	dbKeepaliveOnMissingListener
	variantCount
)

// variants says what each variant changes in the stack's gateway objects.
var variants = [variantCount]struct {
	describe string
	mutate   func(t testing.TB, p *stackPKI, objs []k8sObject)
}{
	stackObjects: {"the stack's gateway objects", nil},
	secondRouteNames: {"each route with a second name the server certificates lack", func(t testing.TB, p *stackPKI, objs []k8sObject) {
		addRouteNames(objs, routeAliases(p))
	}},
	dbRouteToRedis: {"the database route pointed at the Redis Service", func(t testing.TB, p *stackPKI, objs []k8sObject) {
		routeTo(objs, p.dbFQDN, p.redisService(t))
	}},
	dbRouteToMissingService: {"the database route pointed at a Service that does not exist", func(t testing.TB, p *stackPKI, objs []k8sObject) {
		routeTo(objs, p.dbFQDN, serviceRef{p.postgresService().namespace, "no-such-service", cnpgPostgresPort})
	}},
	dbKeepaliveOnMissingListener: {"the database keepalive policy on a listener the Gateway lacks", func(t testing.TB, p *stackPKI, objs []k8sObject) {
		policyOn(objs, routeName(t, p, p.dbFQDN), routeName(t, p, p.dbFQDN)+"-typo")
	}},
}

// translationInput is what egctl translates: every variant of the stack's gateway objects (each variant's
// Gateway, routes and policies renamed after it, so that each gets an xDS of its own), a GatewayClass of
// Envoy Gateway for the class the Gateway names, and the Services the routes may name (CNPG's and the
// chart's), each with a cluster IP of its own so that an xDS endpoint tells which Service a route reaches.
// It returns the variants by Gateway (namespace/name) and the Services by endpoint address.
func translationInput(t testing.TB, p *stackPKI) ([]k8sObject, map[string]gatewayVariant, map[string]serviceRef) {
	t.Helper()
	var input []k8sObject
	byGateway := map[string]gatewayVariant{}
	var className string
	for v := range variantCount {
		var objs []k8sObject
		for _, o := range p.gateway.objects {
			objs = append(objs, deepCopy(t, o))
		}
		if m := variants[v].mutate; m != nil {
			m(t, p, objs)
		}
		routeNamespaces := map[string]bool{}
		for _, o := range objs {
			switch o["kind"] {
			case "TLSRoute":
				// Envoy Gateway 1.9 reads TLSRoute gateway.networking.k8s.io/v1 only (its file loader asserts
				// the v1 spec type); the stacks write the version the cluster's CRDs serve, with the same spec.
				o["apiVersion"] = "gateway.networking.k8s.io/v1"
				routeNamespaces[objectNamespace(o, "default")] = true
			case "Gateway":
				className = field[string](o, "spec", "gatewayClassName")
			}
		}
		for _, o := range objs {
			if o["kind"] == "Gateway" {
				allowByNameSelector(t, o, routeNamespaces)
				if v != stackObjects {
					renameGateway(objs, field[string](o, "metadata", "name"), fmt.Sprintf("-variant-%d", v))
				}
				byGateway[objectNamespace(o, "default")+"/"+field[string](o, "metadata", "name")] = v
			}
		}
		input = append(input, objs...)
	}
	if className == "" || len(byGateway) != int(variantCount) {
		t.Fatalf("the global stack registers %d Gateways for %d variants (class %q); want one Gateway with a gatewayClassName", len(byGateway), variantCount, className)
	}
	input = append(input, k8sObject{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
		"metadata": map[string]any{"name": className}, "spec": map[string]any{"controllerName": egControllerName}})

	services := append(p.gateway.cnpgServices(), p.chartObjectsOfKind(t, "Service")...)
	byAddress := map[string]serviceRef{}
	for i, svc := range services {
		svc = deepCopy(t, svc)
		ns := objectNamespace(svc, p.globalRelease.namespace)
		svc["metadata"].(map[string]any)["namespace"] = ns
		spec := svc["spec"].(map[string]any)
		if spec["clusterIP"] != "None" {
			// As the API server allocates: one address per Service.
			ip := fmt.Sprintf("10.96.0.%d", 10+i)
			spec["clusterIP"] = ip
			for _, port := range field[[]any](svc, "spec", "ports") {
				n := int(toFloat(port.(map[string]any)["port"]))
				byAddress[fmt.Sprintf("%s:%d", ip, n)] = serviceRef{ns, field[string](svc, "metadata", "name"), n}
			}
		}
		input = append(input, svc)
	}
	return input, byGateway, byAddress
}

// renameGateway appends suffix to the name of the Gateway gw, of the routes and policies, and to the
// references to gw.
func renameGateway(objs []k8sObject, gw, suffix string) {
	for _, o := range objs {
		meta := o["metadata"].(map[string]any)
		meta["name"] = meta["name"].(string) + suffix
		for _, refs := range []string{"parentRefs", "targetRefs"} {
			for _, ref := range field[[]any](o, "spec", refs) {
				if r := ref.(map[string]any); r["kind"] == "Gateway" && r["name"] == gw {
					r["name"] = gw + suffix
				}
			}
		}
	}
}

// allowByNameSelector rewrites a listener's allowedRoutes selector on kubernetes.io/metadata.name (the
// label the API server gives every namespace, its name) to `from: All`, after checking that every route
// of the input lives in a namespace the selector admits: egctl's file loader keeps no Namespace labels,
// so there a selector never matches. Whether the real controller admits the routes is its own condition,
// checked against the local cluster.
func allowByNameSelector(t testing.TB, gw k8sObject, routeNamespaces map[string]bool) {
	t.Helper()
	for _, l := range field[[]any](gw, "spec", "listeners") {
		ns := field[map[string]any](l, "allowedRoutes", "namespaces")
		if ns["from"] != "Selector" {
			continue
		}
		labels := field[map[string]any](ns, "selector", "matchLabels")
		name, _ := labels["kubernetes.io/metadata.name"].(string)
		if len(labels) != 1 || name == "" || len(field[[]any](ns, "selector", "matchExpressions")) > 0 {
			t.Fatalf("listener %s: allowedRoutes selector %v is not one on kubernetes.io/metadata.name, which the translation "+
				"cannot evaluate (egctl keeps no Namespace labels)", field[string](l, "name"), ns["selector"])
		}
		for rns := range routeNamespaces {
			if rns != name {
				t.Fatalf("listener %s admits routes from namespace %s only, and a TLSRoute lives in %s", field[string](l, "name"), name, rns)
			}
		}
		ns["from"] = "All"
		delete(ns, "selector")
	}
}

// chartObjectsOfKind are the chart's rendered objects of one kind.
func (p *stackPKI) chartObjectsOfKind(t testing.TB, kind string) []k8sObject {
	var out []k8sObject
	for _, o := range p.chartObjects(t) {
		if o["kind"] == kind {
			out = append(out, o)
		}
	}
	return out
}

// deepCopy copies a decoded object, so that a variant's changes stay its own.
func deepCopy(t testing.TB, o k8sObject) k8sObject {
	t.Helper()
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	var c k8sObject
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// toFloat is a number as the mocks record it (float64) or as a program output carries it (int).
func toFloat(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case int:
		return float64(n)
	}
	return 0
}

var (
	translationOnce sync.Once
	translations    [variantCount]*gatewayTranslation
	translationErr  error
)

// translation is Envoy Gateway's translation of a variant. egctl translates every variant in one run per
// test binary: most of a run is egctl loading its CRD schemas, not translating.
func translation(t testing.TB, v gatewayVariant) *gatewayTranslation {
	t.Helper()
	translationOnce.Do(func() {
		// Stays the error when translateAll ends the first caller's test with t.Fatal.
		translationErr = errors.New("the translation failed in the first test that asked for it (see that test's failure)")
		translationErr = translateAll(t)
	})
	if translationErr != nil {
		t.Fatal(translationErr)
	}
	return translations[v]
}

func translateAll(t testing.TB) error {
	bin, err := egctl()
	if err != nil {
		return err
	}
	p := getPKI(t)
	objs, byGateway, byAddress := translationInput(t, p)
	dir, err := os.MkdirTemp("", "mtls-translate-")
	if err != nil {
		return err
	}
	trackDir(dir) // removed when the run ends
	var in strings.Builder
	namespace := ""
	for _, o := range objs {
		b, err := json.Marshal(o)
		if err != nil {
			return err
		}
		fmt.Fprintf(&in, "---\n%s\n", b) // JSON is YAML: one document each
		if o["kind"] == "Gateway" {
			namespace = objectNamespace(o, "default")
		}
	}
	inFile := filepath.Join(dir, "gateway.yaml")
	writeFile(t, inFile, in.String())
	start := time.Now()
	out, err := runCommand(t, 2*time.Minute, nil, []string{"HOME=" + dir}, bin, "experimental", "translate",
		"--from", "gateway-api", "--to", "xds", "--type", "all", "--output", "json", "--file", inFile, "--namespace", namespace)
	if err != nil {
		return fmt.Errorf("egctl translate: %v\n%s\ninput: %s", err, lastLines(out, 20), inFile)
	}
	t.Logf("egctl translated %d variants of the stack's gateway objects in %s", variantCount, time.Since(start).Round(time.Millisecond))
	var dump xdsDump
	if err := json.Unmarshal([]byte(out), &dump); err != nil {
		return fmt.Errorf("decoding egctl's JSON: %w", err)
	}
	for gw, v := range byGateway {
		x, ok := dump.XDS[gw]
		if !ok {
			return fmt.Errorf("egctl translated no xDS for Gateway %s (%s); it has %v", gw, variants[v].describe, slices.Sorted(maps.Keys(dump.XDS)))
		}
		if translations[v], err = readXDS(x.Configs, byAddress); err != nil {
			return fmt.Errorf("the xDS of %s: %w", variants[v].describe, err)
		}
	}
	return nil
}

// xdsDump is the part of egctl's xDS output read here: per Gateway, the config dumps of its proxy.
type xdsDump struct {
	XDS map[string]struct {
		Configs []json.RawMessage `json:"configs"`
	} `json:"xds"`
}

type socketAddress struct {
	Address   string `json:"address"`
	PortValue int    `json:"portValue"`
}

type xdsListener struct {
	Name    string `json:"name"`
	Address struct {
		SocketAddress socketAddress `json:"socketAddress"`
	} `json:"address"`
	SocketOptions []struct {
		Level    int    `json:"level,string"`
		Name     int    `json:"name,string"`
		IntValue string `json:"intValue"`
	} `json:"socketOptions"`
	FilterChains []struct {
		FilterChainMatch struct {
			ServerNames []string `json:"serverNames"`
		} `json:"filterChainMatch"`
		Filters []struct {
			Name        string `json:"name"`
			TypedConfig struct {
				Cluster string `json:"cluster"`
			} `json:"typedConfig"`
		} `json:"filters"`
	} `json:"filterChains"`
	DefaultFilterChain json.RawMessage `json:"defaultFilterChain"`
}

type xdsLoadAssignment struct {
	ClusterName string `json:"clusterName"`
	Endpoints   []struct {
		LBEndpoints []struct {
			Endpoint struct {
				Address struct {
					SocketAddress socketAddress `json:"socketAddress"`
				} `json:"address"`
			} `json:"endpoint"`
		} `json:"lbEndpoints"`
	} `json:"endpoints"`
}

type configDump struct {
	Type             string `json:"@type"`
	DynamicListeners []struct {
		ActiveState struct {
			Listener xdsListener `json:"listener"`
		} `json:"activeState"`
	} `json:"dynamicListeners"`
	DynamicActiveClusters []struct {
		Cluster struct {
			Name           string             `json:"name"`
			Type           string             `json:"type"`
			LoadAssignment *xdsLoadAssignment `json:"loadAssignment"`
		} `json:"cluster"`
	} `json:"dynamicActiveClusters"`
	DynamicEndpointConfigs []struct {
		EndpointConfig xdsLoadAssignment `json:"endpointConfig"`
	} `json:"dynamicEndpointConfigs"`
}

// proxyReadyListener starts the name of the HTTP listener Envoy Gateway gives every proxy for its
// readiness probe.
const proxyReadyListener = "envoy-gateway-proxy-ready-"

// The socket options Envoy Gateway translates a ClientTrafficPolicy's tcpKeepalive to (Linux values).
const (
	solSocket, soKeepalive                        = 1, 9
	solTCP, tcpKeepIdle, tcpKeepIntvl, tcpKeepCnt = 6, 4, 5, 6
)

// readXDS follows each listener's filter chains by server name to their TCP proxy's cluster, the cluster's
// endpoints to the Service with that address, and reads the listener's keepalive socket options. Anything
// the SNI router cannot reproduce (a catch-all chain, another filter, a socket option other than
// keepalive, several endpoints) is an error, so the router never silently routes something else.
func readXDS(configs []json.RawMessage, byAddress map[string]serviceRef) (*gatewayTranslation, error) {
	var listeners []xdsListener
	clusters := map[string]bool{}
	endpoints := map[string]*xdsLoadAssignment{}
	for _, raw := range configs {
		var c configDump
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("decoding a config dump: %w", err)
		}
		for _, l := range c.DynamicListeners {
			listeners = append(listeners, l.ActiveState.Listener)
		}
		for _, cl := range c.DynamicActiveClusters {
			clusters[cl.Cluster.Name] = true
			if cl.Cluster.LoadAssignment != nil {
				endpoints[cl.Cluster.Name] = cl.Cluster.LoadAssignment
			}
		}
		for _, e := range c.DynamicEndpointConfigs {
			endpoints[e.EndpointConfig.ClusterName] = &e.EndpointConfig
		}
	}
	tr := &gatewayTranslation{}
	for _, l := range listeners {
		if strings.HasPrefix(l.Name, proxyReadyListener) {
			continue // the proxy's own readiness probe, not a listener of the Gateway
		}
		tl := translatedListener{name: l.Name, port: l.Address.SocketAddress.PortValue, routes: map[string]serviceRef{}}
		if len(l.DefaultFilterChain) > 0 && string(l.DefaultFilterChain) != "null" {
			return nil, fmt.Errorf("listener %s has a default filter chain, which the SNI router does not reproduce", l.Name)
		}
		ka, err := keepaliveOf(l)
		if err != nil {
			return nil, err
		}
		tl.keepalive = ka
		for _, fc := range l.FilterChains {
			if len(fc.FilterChainMatch.ServerNames) == 0 {
				return nil, fmt.Errorf("listener %s has a filter chain for any server name, which the SNI router does not reproduce", l.Name)
			}
			if len(fc.Filters) != 1 || fc.Filters[0].Name != "envoy.filters.network.tcp_proxy" {
				return nil, fmt.Errorf("listener %s: the chain for %v is not one TCP proxy: %+v", l.Name, fc.FilterChainMatch.ServerNames, fc.Filters)
			}
			cluster := fc.Filters[0].TypedConfig.Cluster
			var backend *serviceRef
			if la := endpoints[cluster]; clusters[cluster] && la != nil {
				var addrs []string
				for _, e := range la.Endpoints {
					for _, lb := range e.LBEndpoints {
						a := lb.Endpoint.Address.SocketAddress
						addrs = append(addrs, fmt.Sprintf("%s:%d", a.Address, a.PortValue))
					}
				}
				switch {
				case len(addrs) > 1:
					return nil, fmt.Errorf("cluster %s has endpoints %v; the SNI router sends a name to one backend", cluster, addrs)
				case len(addrs) == 1:
					s, ok := byAddress[addrs[0]]
					if !ok {
						return nil, fmt.Errorf("cluster %s leads to %s, the address of no Service of the input", cluster, addrs[0])
					}
					backend = &s
				}
			}
			for _, name := range fc.FilterChainMatch.ServerNames {
				if strings.Contains(name, "*") {
					return nil, fmt.Errorf("listener %s routes the wildcard %s; the SNI router routes exact names", l.Name, name)
				}
				if backend == nil {
					tl.unrouted = append(tl.unrouted, name)
					continue
				}
				tl.routes[name] = *backend
			}
		}
		tr.listeners = append(tr.listeners, tl)
	}
	slices.SortFunc(tr.listeners, func(a, b translatedListener) int { return a.port - b.port })
	return tr, nil
}

// keepaliveOf reads the keepalive socket options of a listener: nil without SO_KEEPALIVE.
func keepaliveOf(l xdsListener) (*tcpKeepalive, error) {
	var on bool
	var ka tcpKeepalive
	for _, o := range l.SocketOptions {
		var v int
		if _, err := fmt.Sscan(o.IntValue, &v); err != nil {
			return nil, fmt.Errorf("listener %s: socket option %d/%d has no integer value", l.Name, o.Level, o.Name)
		}
		switch {
		case o.Level == solSocket && o.Name == soKeepalive:
			on = v == 1
		case o.Level == solTCP && o.Name == tcpKeepIdle:
			ka.idle = v
		case o.Level == solTCP && o.Name == tcpKeepIntvl:
			ka.interval = v
		case o.Level == solTCP && o.Name == tcpKeepCnt:
			ka.probes = v
		default:
			return nil, fmt.Errorf("listener %s sets socket option %d/%d, which the SNI router does not reproduce", l.Name, o.Level, o.Name)
		}
	}
	if !on {
		return nil, nil
	}
	return &ka, nil
}

// routeAliases are a second name for each gateway FQDN, in its domain: names the server certificates lack.
func routeAliases(p *stackPKI) map[string]string {
	domain := strings.SplitN(p.dbFQDN, ".", 2)[1]
	return map[string]string{p.dbFQDN: "db-alias." + domain, p.redisFQDN: "redis-alias." + domain}
}

// addRouteNames gives the TLSRoute of each name in aliases a second name, and takes the hostname off every
// listener so that it admits it: a route for a name the server certificates do not carry.
func addRouteNames(objs []k8sObject, aliases map[string]string) {
	for _, o := range objs {
		switch o["kind"] {
		case "Gateway":
			for _, l := range field[[]any](o, "spec", "listeners") {
				delete(l.(map[string]any), "hostname")
			}
		case "TLSRoute":
			spec := o["spec"].(map[string]any)
			for _, h := range field[[]any](o, "spec", "hostnames") {
				if alias, ok := aliases[h.(string)]; ok {
					spec["hostnames"] = append(spec["hostnames"].([]any), alias)
				}
			}
		}
	}
}
