package global_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	pushSecretType   = "kubernetes:external-secrets.io/v1alpha1:PushSecret"
	distributionType = "nautobot:distribution:CertificateDistribution"
)

// TestNoPushUnlessDistributionIsEnabled: the push is opt-in, and settings kept while it is off are not
// checked until it is on.
func TestNoPushUnlessDistributionIsEnabled(t *testing.T) {
	for name, config := range map[string]map[string]string{
		"no distribution key": baseConfig(),
		"enabled: false":      with(baseConfig(), "distribution", `{"enabled":false,"store":{"name":"fleet-secrets"}}`),
		"settings kept while off": with(baseConfig(), "distribution",
			`{"enabled":false,"store":{"kind":"Vault"},"layout":"pkcs12"}`),
	} {
		t.Run(name, func(t *testing.T) {
			r, err := build(t, config)
			require.NoError(t, err)
			require.Empty(t, r.m.OfType(pushSecretType))
			require.Empty(t, r.m.OfType(distributionType))
			require.NotContains(t, r.outputs, "pushedRemoteKeys")
		})
	}
}

// TestAPushSecretPerSiteAndOneForTheCA: each site's PushSecret reads the certificate issued for it, the
// CA's reads the ca.crt-only secret (never the key pair), all go to the configured store, and the output
// tells each site's stack file its secrets.mtls keys.
func TestAPushSecretPerSiteAndOneForTheCA(t *testing.T) {
	type push struct{ namespace, source, store string }
	for _, tc := range []struct {
		name       string
		config     map[string]string
		want       map[string]push
		remoteKeys map[string]map[string]string
	}{
		{
			name:   "defaults",
			config: with(baseConfig(), "distribution", `{"enabled":true,"store":{"name":"fleet-secrets"}}`),
			want: map[string]push{
				"push-ca":        {"nautobot", "mtls-ca-cert", "ClusterSecretStore/fleet-secrets"},
				"push-site-dfw1": {"nautobot", "nautobot-mtls-client-dfw1", "ClusterSecretStore/fleet-secrets"},
				"push-site-iad1": {"nautobot", "nautobot-mtls-client-iad1", "ClusterSecretStore/fleet-secrets"},
				"push-site-lon1": {"nautobot", "nautobot-mtls-client-lon1", "ClusterSecretStore/fleet-secrets"},
			},
			remoteKeys: map[string]map[string]string{
				"dfw1": {"clientKey": "nautobot-mtls-client-dfw1", "caKey": "nautobot-mtls-ca",
					"clientCertProperty": "password", "clientKeyProperty": "password", "caCertProperty": "password"},
				"iad1": {"clientKey": "nautobot-mtls-client-iad1", "caKey": "nautobot-mtls-ca",
					"clientCertProperty": "password", "clientKeyProperty": "password", "caCertProperty": "password"},
				"lon1": {"clientKey": "nautobot-mtls-client-lon1", "caKey": "nautobot-mtls-ca",
					"clientCertProperty": "password", "clientKeyProperty": "password", "caCertProperty": "password"},
			},
		},
		{
			name: "the sources follow the certificates' prefix and the authority's namespace and public secret",
			config: with(baseConfig(),
				"sites", `[{"name":"dfw1"}]`,
				"certificates", `{"siteClientSecretPrefix":"site-client"}`,
				"authority", `{"namespace":"pki","caPublicSecret":"fleet-ca"}`,
				"distribution", `{"enabled":true,"store":{"kind":"SecretStore","name":"vault"},"layout":"separate","clientKey":"nautobot/{site}/client"}`),
			want: map[string]push{
				// The ca.crt-only secret is in the application namespace, whichever namespace the CA has.
				"push-ca":        {"nautobot", "fleet-ca", "SecretStore/vault"},
				"push-site-dfw1": {"nautobot", "site-client-dfw1", "SecretStore/vault"},
			},
			remoteKeys: map[string]map[string]string{
				"dfw1": {"clientKey": "nautobot/dfw1/client", "caKey": "nautobot-mtls-ca",
					"clientCertProperty": "tls.crt", "clientKeyProperty": "tls.key", "caCertProperty": "password"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := build(t, tc.config)
			require.NoError(t, err)
			got := map[string]push{}
			for _, p := range r.m.OfType(pushSecretType) {
				if !strings.HasPrefix(p.Name, "push-") {
					continue // the CA namespace's deliveries, within the global cluster (TestASeparateCANamespace)
				}
				plain := p.Plain()
				meta, spec := plain["metadata"].(map[string]any), plain["spec"].(map[string]any)
				source := spec["selector"].(map[string]any)["secret"].(map[string]any)["name"].(string)
				require.Equal(t, source, meta["name"], "a PushSecret is named after its source")
				store := spec["secretStoreRefs"].([]any)[0].(map[string]any)
				got[p.Name] = push{p.Namespace(), source, store["kind"].(string) + "/" + store["name"].(string)}
				require.NotEqual(t, "mtls-ca-key-pair", source, "the CA key pair never leaves the global cluster")
			}
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.remoteKeys, r.outputs["pushedRemoteKeys"])
		})
	}
}

// TestEachPushSecretWaitsForItsSource: the certificate (or the ca.crt-only secret's writer) exists before
// its PushSecret, so the controller's first push finds its source.
func TestEachPushSecretWaitsForItsSource(t *testing.T) {
	r, err := build(t, with(baseConfig(), "distribution", `{"enabled":true,"store":{"name":"fleet-secrets"}}`))
	require.NoError(t, err)
	writers := r.m.SecretWriters()
	got := map[string]string{}
	for _, p := range r.m.OfType(pushSecretType) {
		source := p.Plain()["spec"].(map[string]any)["selector"].(map[string]any)["secret"].(map[string]any)["name"].(string)
		w, ok := writers[p.Namespace()+"/"+source]
		require.True(t, ok, "nothing in the stack writes %s's source %s", p.Name, source)
		r.m.RequireAfter(t, p, w)
		got[p.Name] = w.Type + " " + w.Name
	}
	require.Equal(t, map[string]string{
		"push-ca":        "kubernetes:external-secrets.io/v1:ExternalSecret mtls-ca-public",
		"push-site-dfw1": certificate + " certs-site-dfw1",
		"push-site-iad1": certificate + " certs-site-iad1",
		"push-site-lon1": certificate + " certs-site-lon1",
	}, got)
}

// TestEachSitesRedisPasswordIsPushed: with per-site Redis users, each site's Secret on the global cluster
// is pushed to the item its stack file names in secrets.redis (the output says where), after the Secret
// exists; without them nothing of Redis is pushed (TestAPushSecretPerSiteAndOneForTheCA).
func TestEachSitesRedisPasswordIsPushed(t *testing.T) {
	r, err := build(t, with(baseConfig(), "redisSiteKey", siteKey,
		"distribution", `{"enabled":true,"store":{"name":"fleet-secrets"},"redisKey":"nautobot/{site}/redis"}`), "redisSiteKey")
	require.NoError(t, err)
	writers := r.m.SecretWriters()
	keys := r.outputs["pushedRemoteKeys"].(map[string]map[string]string)
	for _, site := range []string{"dfw1", "iad1", "lon1"} {
		p := r.m.MustFind(t, pushSecretType, "push-redis-"+site)
		spec := p.Plain()["spec"].(map[string]any)
		source := spec["selector"].(map[string]any)["secret"].(map[string]any)["name"].(string)
		require.Equal(t, "nautobot-redis-site-"+site, source)
		require.Equal(t, "nautobot", p.Namespace(), "the Secret's namespace: a PushSecret reads its own namespace only")
		require.Equal(t, []any{map[string]any{"conversionStrategy": "None", "match": map[string]any{
			"secretKey": "password", "remoteRef": map[string]any{"remoteKey": "nautobot/" + site + "/redis", "property": "password"}}}},
			spec["data"], "only the password; the user name is the site's identity")
		w, ok := writers[p.Namespace()+"/"+source]
		require.True(t, ok, "nothing in the stack writes %s", source)
		require.Equal(t, "redis-users-"+site, w.Name)
		r.m.RequireAfter(t, p, w)
		require.Equal(t, "nautobot/"+site+"/redis", keys[site]["redisKey"])
		require.Equal(t, "password", keys[site]["redisProperty"])
	}

	t.Run("site users off: no Redis push, no Redis keys", func(t *testing.T) {
		r, err := build(t, with(baseConfig(), "redisSiteKey", siteKey, "nautobot", `{"redis":{"siteUsers":false}}`,
			"distribution", `{"enabled":true,"store":{"name":"fleet-secrets"}}`), "redisSiteKey")
		require.NoError(t, err)
		for _, p := range r.m.OfType(pushSecretType) {
			require.False(t, strings.HasPrefix(p.Name, "push-redis-"), p.Name)
		}
		require.NotContains(t, r.outputs["pushedRemoteKeys"].(map[string]map[string]string)["dfw1"], "redisKey")
	})

	t.Run("a Redis item that would overwrite the site's certificate", func(t *testing.T) {
		r, err := build(t, with(baseConfig(), "redisSiteKey", siteKey,
			"distribution", `{"enabled":true,"store":{"name":"fleet-secrets"},"redisKey":"nautobot-mtls-client-{site}"}`), "redisSiteKey")
		require.ErrorContains(t, err, `config distribution.redisKey: "nautobot-mtls-client-dfw1" field "password" is also where site dfw1's certificate items are pushed`)
		r.m.RequireNothingRegistered(t)
	})
}

func TestDistributionProblemsNameTheirKey(t *testing.T) {
	for _, tc := range []struct {
		name, value, want string
	}{
		{"no store", `{"enabled":true}`,
			"config distribution.store.name: is required: the ClusterSecretStore on the global cluster that writes to the sites' secrets provider"},
		{"a misspelled key", `{"enabled":true,"store":{"name":"fleet-secrets"},"storeName":"x"}`,
			`config distribution: unknown key "storeName"`},
		{"a layout and its fields disagree", `{"enabled":true,"store":{"name":"s"},"layout":"separate","clientCertProperty":"pem","clientKeyProperty":"pem"}`,
			`config distribution.clientKeyProperty: "pem" is also clientCertProperty, but layout separate writes certificate and key to two fields`},
		{"the CA item is a site's client item", `{"enabled":true,"store":{"name":"s"},"caKey":"nautobot-mtls-client-lon1"}`,
			`config distribution.caKey: "nautobot-mtls-client-lon1" is also site lon1's client item (clientKey)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := build(t, with(baseConfig(), "distribution", tc.value))
			require.ErrorContains(t, err, tc.want)
			r.m.RequireNothingRegistered(t)
		})
	}
}

// TestClientLifetimeFollowsDistribution: pushed renewals allow 90-day client certificates; hand-copied ones
// last a year; a configured duration is kept either way.
func TestClientLifetimeFollowsDistribution(t *testing.T) {
	pushed := `{"enabled":true,"store":{"name":"fleet-secrets"}}`
	for _, tc := range []struct {
		name       string
		config     map[string]string
		want       string
		renewalLag string
	}{
		{"hand copy", baseConfig(), "8760h", "720h"},
		{"pushed", with(baseConfig(), "distribution", pushed), "2160h", "720h"},
		{"pushed, configured", with(baseConfig(), "distribution", pushed, "certificates", `{"clientDuration":"4380h"}`), "4380h", "720h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := build(t, tc.config)
			require.NoError(t, err)
			for _, name := range []string{"certs-global-client", "certs-site-dfw1"} {
				s := spec(t, r.m, certificate, name)
				require.Equal(t, tc.want, s["duration"], name)
				require.Equal(t, tc.renewalLag, s["renewBefore"], name)
			}
			require.Equal(t, "8760h", spec(t, r.m, certificate, "certs-postgres-server")["duration"], "servers keep their year")
		})
	}
}
