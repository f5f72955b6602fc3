package global_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// One value, one report: a value the stack copies into several components (the namespace, the gateway's
// FQDNs and ports) is reported once, at the key the user set, never at a key the user did not write.
func TestEachProblemIsReportedOnceAtTheKeyTheUserSet(t *testing.T) {
	cases := []struct {
		name   string
		config map[string]string
		want   []string
		never  []string
	}{
		{"invalid namespace", with(baseConfig(), "namespace", "Nautobot"),
			[]string{`config namespace: "Nautobot" is not a valid DNS label`}, []string{"authority.namespace", "routeNamespace"}},
		{"invalid domain", with(baseConfig(), "gateway", `{"domain":"Prod_Example"}`),
			[]string{`config gateway.domain: "Prod_Example" is not a valid DNS name`}, []string{"routes.", "config gateway.dbFqdn", "config gateway.redisFqdn"}},
		{"no domain", with(baseConfig(), "gateway", `{}`),
			[]string{"config gateway.domain: is not set"}, []string{"routes.", "config gateway.dbFqdn", "config gateway.redisFqdn"}},
		{"invalid FQDN", with(baseConfig(), "gateway", `{"dbFqdn":"db_primary.example.com","redisFqdn":"redis.example.com"}`),
			[]string{`config gateway.dbFqdn: "db_primary.example.com" is not a valid DNS name`}, []string{"routes."}},
		{"port out of range", with(baseConfig(), "gateway", `{"domain":"prod.example.com","redisPort":70000}`),
			[]string{"config gateway.redisPort: 70000 is not a TCP port"}, []string{"routes."}},
		{"TLSRoute version the cluster cannot serve", with(baseConfig(), "gateway", `{"domain":"prod.example.com","tlsRouteApiVersion":"gateway.networking.k8s.io/v1beta1"}`),
			[]string{`config gateway.tlsRouteApiVersion: "gateway.networking.k8s.io/v1beta1" is not a TLSRoute version`}, nil},
		{"site name the worker cannot use", with(baseConfig(), "sites", `[{"name":"beat"}]`),
			[]string{`config sites[0].name: "beat" is reserved`}, nil},
		{"state that an outage could drop", with(baseConfig(), "kubernetes", `{"kubeconfig":"k","deleteUnreachable":true}`),
			[]string{"config kubernetes.deleteUnreachable: is refused on the global stack"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := build(t, tc.config)
			r.m.RequireRejected(t, err, tc.want...)
			for _, want := range tc.want {
				key := want[:strings.Index(want, ": ")+2]
				require.Equal(t, 1, strings.Count(err.Error(), key), "reported more than once: %v", err)
			}
			for _, never := range tc.never {
				require.NotContains(t, err.Error(), never)
			}
		})
	}
}
