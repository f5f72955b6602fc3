package global_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const siteKey = "5e1f0c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d"

func redisConfiguration(t *testing.T, r result) (string, bool) {
	t.Helper()
	values := r.m.MustFind(t, "kubernetes:helm.sh/v4:Chart", "nautobot").Plain()["values"].(map[string]any)
	master, _ := values["redis"].(map[string]any)["master"].(map[string]any)
	conf, ok := master["configuration"].(string)
	return conf, ok
}

// With redisSiteKey every site gets a user in Redis's configuration, carrying only its password's
// SHA-256, and a Secret on the global cluster with the user and the password as a Pulumi secret; the
// outputs tell each site its user and where its password is.
func TestEverySiteGetsARedisUserOfItsOwn(t *testing.T) {
	r, err := build(t, with(baseConfig(), "redisSiteKey", siteKey), "redisSiteKey")
	require.NoError(t, err)
	conf, ok := redisConfiguration(t, r)
	require.True(t, ok, "no users in redis.master.configuration")
	passwords := map[string]string{}
	for _, site := range []string{"dfw1", "iad1", "lon1"} {
		s := r.m.MustFind(t, "kubernetes:core/v1:Secret", "redis-users-"+site)
		data := s.Plain()["stringData"].(map[string]any)
		require.Equal(t, "nautobot-redis-site-"+site, s.Plain()["metadata"].(map[string]any)["name"])
		require.Equal(t, "site-"+site, data["username"])
		require.True(t, s.IsSecret("stringData.password"), "the password must be a Pulumi secret")
		password := data["password"].(string)
		require.Len(t, password, 64)
		require.NotContains(t, conf, password, "Redis's configuration is a ConfigMap")
		hash := sha256.Sum256([]byte(password))
		require.Contains(t, conf, "user site-"+site+" on #"+hex.EncodeToString(hash[:])+" resetchannels ~* &* +@all -@dangerous\n")
		passwords[site] = password
	}
	require.NotContains(t, conf, siteKey)
	require.Len(t, map[string]bool{passwords["dfw1"]: true, passwords["iad1"]: true, passwords["lon1"]: true}, 3, "each site its own password")
	require.Equal(t, map[string]string{"dfw1": "site-dfw1", "iad1": "site-iad1", "lon1": "site-lon1"}, r.outputs["redisUsers"])
	require.Equal(t, map[string]string{"dfw1": "nautobot-redis-site-dfw1", "iad1": "nautobot-redis-site-iad1", "lon1": "nautobot-redis-site-lon1"}, r.outputs["siteRedisSecrets"])

	t.Run("the same config derives the same passwords, a rotation changes only its site's", func(t *testing.T) {
		again, err := build(t, with(baseConfig(), "redisSiteKey", siteKey), "redisSiteKey")
		require.NoError(t, err)
		same, _ := redisConfiguration(t, again)
		require.Equal(t, conf, same, "a preview must show no change")
		rotated, err := build(t, with(baseConfig(), "redisSiteKey", siteKey,
			"sites", `[{"name":"dfw1"},{"name":"iad1","redisPasswordRotation":1},{"name":"lon1"}]`), "redisSiteKey")
		require.NoError(t, err)
		for site, changed := range map[string]bool{"dfw1": false, "iad1": true, "lon1": false} {
			password := rotated.m.MustFind(t, "kubernetes:core/v1:Secret", "redis-users-"+site).Plain()["stringData"].(map[string]any)["password"]
			require.Equal(t, changed, password != passwords[site], site)
		}
	})

	t.Run("removing a site removes its user and its Secret", func(t *testing.T) {
		without, err := build(t, with(baseConfig(), "redisSiteKey", siteKey,
			"sites", `[{"name":"dfw1"},{"name":"lon1"}]`), "redisSiteKey")
		require.NoError(t, err)
		conf, _ := redisConfiguration(t, without)
		require.NotContains(t, conf, "site-iad1")
		require.Equal(t, 2, strings.Count(conf, "\nuser ")+1)
		_, found := without.m.Find("kubernetes:core/v1:Secret", "redis-users-iad1")
		require.False(t, found)
	})
}

func TestRedisSiteUsersConfig(t *testing.T) {
	t.Run("without redisSiteKey the seed's one password stays", func(t *testing.T) {
		r, err := build(t, baseConfig())
		require.NoError(t, err)
		_, ok := redisConfiguration(t, r)
		require.False(t, ok)
		require.NotContains(t, r.outputs, "redisUsers")
	})
	t.Run("explicitly off with the key", func(t *testing.T) {
		r, err := build(t, with(baseConfig(), "redisSiteKey", siteKey, "nautobot", `{"redis":{"siteUsers":false}}`), "redisSiteKey")
		require.NoError(t, err)
		_, ok := redisConfiguration(t, r)
		require.False(t, ok)
		require.NotContains(t, r.outputs, "redisUsers")
	})
	for _, tc := range []struct {
		name   string
		config map[string]string
		secret []string
		want   string
	}{
		{"on without the key", with(baseConfig(), "nautobot", `{"redis":{"siteUsers":true}}`), nil,
			"config nautobot.redis.siteUsers: is true, but redisSiteKey, from which every site's Redis password is derived, is not set; set it with `pulumi config set --secret redisSiteKey"},
		{"a short key", with(baseConfig(), "redisSiteKey", "0123456789"), []string{"redisSiteKey"},
			"config redisSiteKey: is 10 characters; a key from which every site's Redis password is derived needs at least 32"},
		{"a key in plain text", with(baseConfig(), "redisSiteKey", siteKey), nil,
			"config redisSiteKey: is stored in plain text; set it with `pulumi config set --secret redisSiteKey`"},
		{"a negative rotation", with(baseConfig(), "redisSiteKey", siteKey, "sites", `[{"name":"dfw1","redisPasswordRotation":-1}]`), []string{"redisSiteKey"},
			"config sites[0].redisPasswordRotation: -1 is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := build(t, tc.config, tc.secret...)
			r.m.RequireRejected(t, err, tc.want)
		})
	}
}
