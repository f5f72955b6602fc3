package gateway_test

import (
	"testing"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
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
	m := &mocks.Monitor{}
	err := mocks.RunWithProvider("global", m, func(ctx *pulumi.Context, p *kubernetes.Provider) error {
		a.Provider = p
		_, err := gateway.NewPassthroughGateway(ctx, "gw", &a)
		return err
	})
	return m, err
}

func TestKeepaliveCanBeSwitchedOff(t *testing.T) {
	off := false
	m, err := run(t, gateway.Args{Routes: routes(), Keepalive: gateway.Keepalive{Enabled: &off}})
	require.NoError(t, err)
	require.Empty(t, m.OfType("kubernetes:gateway.envoyproxy.io/v1alpha1:ClientTrafficPolicy"))
	require.Len(t, m.OfType("kubernetes:gateway.networking.k8s.io/v1alpha2:TLSRoute"), 2)
}

func TestChildrenHaveProviderAndParent(t *testing.T) {
	m, err := run(t, gateway.Args{Routes: routes(), RouteNamespace: "routes"})
	require.NoError(t, err)
	require.Len(t, m.RequireComponentChildren(t, "nautobot:gateway:PassthroughGateway", "gw"), 1+2+2+1,
		"gateway, 2 routes, 2 keepalive policies, 1 ReferenceGrant")
}

func TestValidation(t *testing.T) {
	cases := []struct {
		name string
		args gateway.Args
		want string
	}{
		{"keepalive in days", gateway.Args{Routes: routes(), Keepalive: gateway.Keepalive{IdleTime: "1d"}},
			`config gateway.keepalive.idleTime: "1d" is not a Gateway API duration`},
		{"fractional keepalive", gateway.Args{Routes: routes(), Keepalive: gateway.Keepalive{Interval: "1.5m"}},
			`config gateway.keepalive.interval: "1.5m" is not a Gateway API duration; use whole numbers of h, m, s or ms`},
		{"no probes", gateway.Args{Routes: routes(), Keepalive: gateway.Keepalive{Probes: -1}},
			"config gateway.keepalive.probes: -1 must be at least 1"},
		{"same FQDN twice", gateway.Args{Routes: []gateway.Route{routes()[0], {Name: "redis", FQDN: "db.example.com", Port: 6379, Service: "r", ServicePort: 6379}}},
			`config gateway.routes.redis.fqdn: "db.example.com" is also the FQDN of route db`},
		{"bad class", gateway.Args{Routes: routes(), ClassName: "Envoy Gateway"},
			`config gateway.className: "Envoy Gateway" is not a valid Kubernetes object name`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := run(t, tc.args)
			require.ErrorContains(t, err, tc.want)
			require.Empty(t, m.OfType("nautobot:gateway:PassthroughGateway"))
		})
	}
}
