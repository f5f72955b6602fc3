package nautobot_test

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"

	"nautobot-worker/assets"
	"nautobot-worker/components/nautobot"
	"nautobot-worker/internal/mocks"
)

func base() nautobot.Args {
	return nautobot.Args{
		Namespace: "nautobot", DBService: "nautobot-cluster-rw", DBName: "app", DBUser: "app", DBSecret: "nautobot-cluster-app",
		RedisServerSecret: "nautobot-redis-server-tls", ClientSecret: "nautobot-mtls-client",
	}
}

func run(t *testing.T, a nautobot.Args, withSecrets bool) (*mocks.Monitor, error) {
	t.Helper()
	if !withSecrets {
		return mocks.Component("global", "nautobot", a, nautobot.NewGlobalNautobot)
	}
	return mocks.Component("global", "nautobot", a, nautobot.NewGlobalNautobot, func(_ *pulumi.Context, a *nautobot.Args) {
		a.CreateSecrets = true
		a.DjangoSecretKey = pulumi.ToSecret(pulumi.String("django-key")).(pulumi.StringOutput)
		a.RedisPasswordValue = pulumi.ToSecret(pulumi.String("redis-pass")).(pulumi.StringOutput)
	})
}

func TestChartValues(t *testing.T) {
	m, err := run(t, base(), false)
	require.NoError(t, err)
	c, ok := m.Find("kubernetes:helm.sh/v4:Chart", "nautobot")
	require.True(t, ok)
	require.True(t, c.Remote)
	require.Contains(t, c.Provider, "pulumi:providers:kubernetes::k8s::")
	in := c.Plain()
	require.Equal(t, "nautobot", in["chart"])
	require.Equal(t, "3.1.2", in["version"])
	require.Equal(t, map[string]any{"repo": "https://nautobot.github.io/helm-charts/"}, in["repositoryOpts"])
	require.Equal(t, "nautobot", in["name"])
	v := in["values"].(map[string]any)

	require.Equal(t, map[string]any{
		"enabled": true, "architecture": "standalone",
		"auth": map[string]any{"enabled": true, "existingSecret": "nautobot-redis", "existingSecretPasswordKey": "NAUTOBOT_REDIS_PASSWORD"},
		"tls": map[string]any{"enabled": true, "authClients": true, "existingSecret": "nautobot-redis-server-tls",
			"certFilename": "tls.crt", "certKeyFilename": "tls.key", "certCAFilename": "ca.crt"},
	}, v["redis"])
	nb := v["nautobot"].(map[string]any)
	require.Equal(t, assets.NautobotConfig, nb["config"])
	require.Equal(t, map[string]any{"ssl": true}, nb["redis"])
	require.Equal(t, map[string]any{
		"engine": "django.db.backends.postgresql", "host": "nautobot-cluster-rw", "port": float64(5432), "name": "app", "user": "app",
		"existingSecret": "nautobot-cluster-app", "existingSecretUsernameKey": "username", "existingSecretPasswordKey": "password",
	}, nb["db"])
	volume := []any{map[string]any{"name": "mtls-certs", "secret": map[string]any{"secretName": "nautobot-mtls-client", "defaultMode": float64(256)}}}
	mount := []any{map[string]any{"name": "mtls-certs", "mountPath": "/etc/nautobot/mtls", "readOnly": true}}
	celery := v["celery"].(map[string]any)
	for _, section := range []map[string]any{nb, celery} {
		require.Equal(t, volume, section["extraVolumes"], "every pod mounts the global client certificate")
		require.Equal(t, mount, section["extraVolumeMounts"])
	}
	require.Equal(t, []any{"nautobot-django"}, celery["extraEnvVarsSecret"])
	// The pods check that the servers' certificates name the Services they connect to.
	require.Contains(t, nb["extraVars"], map[string]any{"name": "NAUTOBOT_DB_SSLMODE", "value": "verify-full"})
	require.Contains(t, nb["extraVars"], map[string]any{"name": "NAUTOBOT_REDIS_SSL_CERT_REQS", "value": "required"})
	require.Contains(t, nb["extraVars"], map[string]any{"name": "NAUTOBOT_REDIS_SSL_CHECK_HOSTNAME", "value": "true"})
	require.Equal(t, map[string]any{"default": map[string]any{"enabled": true, "taskQueues": "default"}, "beat": map[string]any{"enabled": true}}, v["workers"])
	require.Empty(t, m.OfType("kubernetes:core/v1:Secret"), "existing secrets are used unless their values are configured")
}

func TestSecretsFromConfigStaySecret(t *testing.T) {
	a := base()
	a.Namespace = "nautobot-eu"
	m, err := run(t, a, true)
	require.NoError(t, err)
	// Each value sits under the key the chart reads, in the Secret the chart names, in the release's namespace.
	for name, kv := range map[string][2]string{
		"nautobot-django": {"NAUTOBOT_SECRET_KEY", "django-key"},
		"nautobot-redis":  {"NAUTOBOT_REDIS_PASSWORD", "redis-pass"},
	} {
		s := m.MustFind(t, "kubernetes:core/v1:Secret", name)
		require.Equal(t, map[string]any{
			"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
			"metadata":   map[string]any{"name": name, "namespace": "nautobot-eu"},
			"stringData": map[string]any{kv[0]: kv[1]},
		}, s.Plain())
		require.True(t, s.IsSecret("stringData."+kv[0]), "%s must be a Pulumi secret", name)
		require.False(t, s.IsSecret("metadata"), "%s: its name stays readable in a preview", name)
		require.Contains(t, s.Provider, "pulumi:providers:kubernetes::k8s::")
	}
	require.Equal(t, []string{"nautobot-django", "nautobot-redis"}, mocks.Names(m.OfType("kubernetes:core/v1:Secret")))
}

func TestValidation(t *testing.T) {
	a := base()
	a.Chart.Path, a.Chart.Repo = "tests/charts", "https://example.com/charts"
	a.ReleaseName = "Nautobot"
	m, err := run(t, a, false)
	require.ErrorContains(t, err, `releaseName: "Nautobot" is not a valid DNS label`)
	require.ErrorContains(t, err, "chart: sets both repo")
	require.Empty(t, m.OfType("nautobot:nautobot:GlobalNautobot"))
}

func TestServerNames(t *testing.T) {
	// The names the global stack gives the server certificates of CNPG's Services and the Redis master.
	withNames := func(f func(*nautobot.Args)) nautobot.Args {
		a := base()
		a.DBServerNames = []string{"nautobot-cluster-rw", "nautobot-cluster-ro", "nautobot-db.example.com"}
		a.RedisServerNames = []string{"nautobot-redis-master", "nautobot-redis.example.com"}
		f(&a)
		return a
	}
	extraVars := func(t *testing.T, m *mocks.Monitor) []any {
		c, ok := m.Find("kubernetes:helm.sh/v4:Chart", "nautobot")
		require.True(t, ok)
		return c.Plain()["values"].(map[string]any)["nautobot"].(map[string]any)["extraVars"].([]any)
	}
	env := func(name, value string) map[string]any { return map[string]any{"name": name, "value": value} }

	t.Run("checked by default: the Services are named", func(t *testing.T) {
		m, err := run(t, withNames(func(*nautobot.Args) {}), false)
		require.NoError(t, err)
		require.Contains(t, extraVars(t, m), env("NAUTOBOT_DB_SSLMODE", "verify-full"))
		require.Contains(t, extraVars(t, m), env("NAUTOBOT_REDIS_SSL_CHECK_HOSTNAME", "true"))
	})
	t.Run("the seed's verify-ca and no Redis name check, set explicitly", func(t *testing.T) {
		m, err := run(t, withNames(func(a *nautobot.Args) { a.DatabaseSSLMode, a.RedisCheckHostname = "verify-ca", new(false) }), false)
		require.NoError(t, err)
		require.Contains(t, extraVars(t, m), env("NAUTOBOT_DB_SSLMODE", "verify-ca"))
		require.Contains(t, extraVars(t, m), env("NAUTOBOT_REDIS_SSL_CHECK_HOSTNAME", "false"))
	})
	for _, c := range []struct {
		name string
		args nautobot.Args
		want []string
	}{
		{"an sslmode that checks no server", withNames(func(a *nautobot.Args) { a.DatabaseSSLMode = "verify_full" }),
			[]string{`databaseSslMode: "verify_full" is not supported; use one of verify-full, verify-ca`}},
		{"a release whose Redis Service the certificate does not name", withNames(func(a *nautobot.Args) { a.ReleaseName = "nb" }),
			[]string{`redisCheckHostname: the pods connect to Redis as "nb-redis-master", a name the Redis server certificate does not carry`,
				"add \"nb-redis-master\" to certificates.redis.extraDnsNames, or set nautobot.redisCheckHostname: false"}},
		{"a database Service the certificate does not name", withNames(func(a *nautobot.Args) { a.DBService = "other-rw" }),
			[]string{`databaseSslMode: the pods connect to PostgreSQL as "other-rw"`, "set nautobot.databaseSslMode: verify-ca"}},
		{"Redis sentinel, which moves the pods to another Service", withNames(func(a *nautobot.Args) {
			a.ExtraValues = map[string]any{"redis": map[string]any{"sentinel": map[string]any{"enabled": true}}}
		}), []string{"values.redis.sentinel", "a name the Redis server certificate does not carry"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := run(t, c.args, false)
			m.RequireRejected(t, err, c.want...)
		})
	}
}
