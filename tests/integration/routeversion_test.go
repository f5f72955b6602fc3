package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestChangingTheTLSRouteVersionKeepsTheRoutes upgrades a global stack deployed with the TLSRoute version
// the stacks wrote before gateway.tlsRouteApiVersion (v1alpha2) to the default (v1): the routes must stay
// in the cluster, the same objects, and Envoy Gateway's controller must accept them at the new version.
// Written at another apiVersion the resource's type changes; without an alias the engine would create the
// "new" route (the same object, applied again) and then delete the "old" one, taking the route away.
func TestChangingTheTLSRouteVersionKeepsTheRoutes(t *testing.T) {
	const ns = "nautobot-routes"
	e := newEnv(t)
	withGateway := func(version string) func(string) string {
		return func(config string) string {
			config = e.extraGlobal(ns, "rt1", "keyEncoding: PKCS1")(config)
			return strings.Replace(config, "    enabled: false\n    domain:",
				"    className: eg\n    tlsRouteApiVersion: "+version+"\n    domain:", 1)
		}
	}
	global := e.stack("global-routes", "global", withGateway("gateway.networking.k8s.io/v1alpha2"))
	e.up(global)
	uids := map[string]any{}
	for _, route := range []string{"nautobot-db", "nautobot-redis"} {
		uids[route] = e.object("tlsroutes.gateway.networking.k8s.io", ns, route)["metadata"].(map[string]any)["uid"]
	}

	e.rewrite(global, func(string) string { return withGateway("gateway.networking.k8s.io/v1")("") })
	steps := e.previewSteps(global)
	for _, step := range steps {
		require.NotRegexp(t, `^(delete|create|replace|create-replacement|delete-replaced|discard) .*TLSRoute`, step,
			"a new TLSRoute version must update the routes in place: %v", steps)
	}
	e.up(global)
	for route, uid := range uids {
		obj := e.object("tlsroutes.gateway.networking.k8s.io", ns, route)
		require.Equal(t, uid, obj["metadata"].(map[string]any)["uid"], "%s is the object deployed before", route)
		e.waitFor(t, "Envoy Gateway accepts "+route, 2*time.Minute, func() (bool, any) {
			parent := routeParent(e.object("tlsroutes.gateway.networking.k8s.io", ns, route), route)
			return conditionIn(parent, "Accepted", "True"), parent
		})
	}
	require.Empty(t, e.previewSteps(global), "a second preview plans nothing")
}
