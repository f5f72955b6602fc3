package gateway_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"nautobot-worker/components/gateway"
	"nautobot-worker/internal/mocks"
)

func routes() []gateway.Route {
	return []gateway.Route{
		{Name: "db", FQDN: "db.example.com", Port: 5432, Service: "pg-rw", ServicePort: 5432, ServiceNamespace: "nautobot"},
		{Name: "redis", FQDN: "redis.example.com", Port: 6379, Service: "redis-master", ServicePort: 6379, ServiceNamespace: "nautobot"},
	}
}

func run(t *testing.T, a gateway.Args) (*mocks.Monitor, error) {
	t.Helper()
	return mocks.Component("global", "gw", a, gateway.NewPassthroughGateway)
}

func TestKeepaliveCanBeSwitchedOff(t *testing.T) {
	off := false
	m, err := run(t, gateway.Args{Routes: routes(), Keepalive: gateway.Keepalive{Enabled: &off}})
	require.NoError(t, err)
	require.Empty(t, m.OfType("kubernetes:gateway.envoyproxy.io/v1alpha1:ClientTrafficPolicy"))
	require.Equal(t, []string{"gw-route-db", "gw-route-redis"}, mocks.Names(m.OfType("kubernetes:gateway.networking.k8s.io/v1:TLSRoute")),
		"the routes stay when only the keepalive policies are off")
}

func TestChildrenHaveProviderAndParent(t *testing.T) {
	m, err := run(t, gateway.Args{Routes: routes(), RouteNamespace: "routes"})
	require.NoError(t, err)
	require.Equal(t, []string{
		"kubernetes:gateway.envoyproxy.io/v1alpha1:ClientTrafficPolicy gw-keepalive-db",
		"kubernetes:gateway.envoyproxy.io/v1alpha1:ClientTrafficPolicy gw-keepalive-redis",
		"kubernetes:gateway.networking.k8s.io/v1:Gateway gw-gateway",
		"kubernetes:gateway.networking.k8s.io/v1:TLSRoute gw-route-db",
		"kubernetes:gateway.networking.k8s.io/v1:TLSRoute gw-route-redis",
		"kubernetes:gateway.networking.k8s.io/v1beta1:ReferenceGrant gw-grant-nautobot",
	}, mocks.Refs(m.RequireComponentChildren(t, "nautobot:gateway:PassthroughGateway", "gw")),
		"the gateway, a route and a keepalive policy per route, a ReferenceGrant for the backends' namespace")
}

func TestValidation(t *testing.T) {
	cases := []struct {
		name string
		args gateway.Args
		want string
	}{
		{"keepalive in days", gateway.Args{Routes: routes(), Keepalive: gateway.Keepalive{IdleTime: "1d"}},
			`keepalive.idleTime: "1d" is not a Gateway API duration`},
		{"fractional keepalive", gateway.Args{Routes: routes(), Keepalive: gateway.Keepalive{Interval: "1.5m"}},
			`keepalive.interval: "1.5m" is not a Gateway API duration; use whole numbers of h, m, s or ms`},
		{"no probes", gateway.Args{Routes: routes(), Keepalive: gateway.Keepalive{Probes: -1}},
			"keepalive.probes: -1 must be at least 1"},
		{"same FQDN twice", gateway.Args{Routes: []gateway.Route{routes()[0], {Name: "redis", FQDN: "db.example.com", Port: 6379, Service: "r", ServicePort: 6379}}},
			`routes.redis.fqdn: "db.example.com" is also the FQDN of route db`},
		{"bad class", gateway.Args{Routes: routes(), ClassName: "Envoy Gateway"},
			`className: "Envoy Gateway" is not a valid Kubernetes object name`},
		{"TLSRoute version without its group", gateway.Args{Routes: routes(), TLSRouteAPIVersion: "v1"},
			`tlsRouteApiVersion: "v1" is not a TLSRoute version; use the one your cluster's TLSRoute CRD serves and your Envoy Gateway watches: gateway.networking.k8s.io/v1 (Gateway API v1.6 CRDs`},
		{"TLSRoute version no Gateway API has", gateway.Args{Routes: routes(), TLSRouteAPIVersion: "gateway.networking.k8s.io/v1beta1"},
			`tlsRouteApiVersion: "gateway.networking.k8s.io/v1beta1" is not a TLSRoute version`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := run(t, tc.args)
			require.ErrorContains(t, err, tc.want)
			require.Empty(t, m.OfType("nautobot:gateway:PassthroughGateway"))
		})
	}
}

func TestTLSRouteVersionIsTheConfiguredOne(t *testing.T) {
	for _, tc := range []struct{ set, want string }{
		{"", "gateway.networking.k8s.io/v1"},
		{"gateway.networking.k8s.io/v1alpha3", "gateway.networking.k8s.io/v1alpha3"},
		{"gateway.networking.k8s.io/v1alpha2", "gateway.networking.k8s.io/v1alpha2"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			m, err := run(t, gateway.Args{Routes: routes(), TLSRouteAPIVersion: tc.set})
			require.NoError(t, err)
			var routes []string
			for _, r := range m.Resources() {
				if strings.HasSuffix(r.Type, ":TLSRoute") {
					routes = append(routes, r.Type+" "+r.Name)
				}
			}
			require.ElementsMatch(t, []string{"kubernetes:" + tc.want + ":TLSRoute gw-route-db", "kubernetes:" + tc.want + ":TLSRoute gw-route-redis"}, routes,
				"both routes at %s and at no other version", tc.want)
		})
	}
}
