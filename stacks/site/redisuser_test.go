package site_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// worker.redisSiteUser connects the worker as the user the global stack gives the site; without one from
// the global stack the preview fails naming the key, and the seed's default user stays the default.
func TestTheWorkerConnectsAsItsSitesRedisUser(t *testing.T) {
	username := func(t *testing.T, r result) any {
		values := r.m.MustFind(t, chartType, "worker").Plain()["values"].(map[string]any)
		return values["nautobot"].(map[string]any)["redis"].(map[string]any)["username"]
	}
	withUsers := globalOutputs()
	withUsers["redisUsers"] = map[string]any{"dfw1": "site-dfw1", "iad1": "site-iad1"}

	r, err := build(t, "site-dfw1", with(baseConfig(), "worker", `{"redisSiteUser":true}`), withUsers)
	require.NoError(t, err)
	require.Equal(t, "site-dfw1", username(t, r))

	r, err = build(t, "site-dfw1", baseConfig(), withUsers)
	require.NoError(t, err)
	require.Nil(t, username(t, r), "the seed's default user until the site opts in")

	r, err = build(t, "site-dfw1", with(baseConfig(), "worker", `{"redisSiteUser":true}`), globalOutputs())
	r.m.RequireRejected(t, err, "config worker.redisSiteUser: the global stack organization/nautobot-worker/global gives site dfw1 no Redis user")
}
