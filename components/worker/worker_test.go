package worker_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"

	"nautobot-worker/assets"
	"nautobot-worker/components/worker"
	"nautobot-worker/internal/chart"
	"nautobot-worker/internal/mocks"
	"nautobot-worker/internal/nautobotpod"
)

const (
	chartType = "kubernetes:helm.sh/v4:Chart"
	cmType    = "kubernetes:core/v1:ConfigMap"
)

func base() worker.Args {
	return worker.Args{
		Namespace: "nautobot", Site: "dfw1", Partition: "dfw",
		DB:    nautobotpod.Database{Host: "nautobot-db.example.com", Port: 5432, Name: "app", User: "app"},
		Redis: nautobotpod.Redis{Host: "nautobot-redis.example.com", Port: 6379},
		Secrets: worker.SecretNames{
			Django: "nautobot-django", DB: "nautobot-db", Redis: "nautobot-worker-redis",
			Registry: "dockerconfigjson-github-com", CustomEnv: "nautobot-custom-env", MTLS: "nautobot-mtls-client",
		},
	}
}

func run(t *testing.T, args worker.Args) (*mocks.Monitor, error) {
	t.Helper()
	return mocks.Component("site-dfw1", "worker", args, worker.NewCeleryWorker)
}

func chartOf(t *testing.T, m *mocks.Monitor, name string) mocks.Resource {
	t.Helper()
	r, ok := m.Find(chartType, name)
	require.True(t, ok, "missing chart %s", name)
	require.True(t, r.Remote, "the Chart v4 must be registered as a remote component")
	return r
}

// defaultValues are the complete chart values of base() with defaults: the seed's worker-only layout.
func defaultValues() map[string]any {
	env := func(name, value string) map[string]any { return map[string]any{"name": name, "value": value} }
	probe := map[string]any{"initialDelaySeconds": 60.0, "periodSeconds": 120.0, "timeoutSeconds": 60.0}
	readiness := map[string]any{"initialDelaySeconds": 60.0, "periodSeconds": 120.0, "timeoutSeconds": 60.0,
		"exec": map[string]any{"command": []any{"bash", "-c", worker.DatabaseReadinessCommand}}}
	return map[string]any{
		"nautobot": map[string]any{
			"enabled":    false,
			"singleInit": false,
			"superUser":  map[string]any{"enabled": false},
			"config":     assets.NautobotConfig,
			"image":      map[string]any{"pullSecrets": []any{"dockerconfigjson-github-com"}},
			"db": map[string]any{
				"engine": "django.db.backends.postgresql", "host": "nautobot-db.example.com", "port": 5432.0,
				"name": "app", "user": "app", "existingSecret": "nautobot-db",
				"existingSecretUsernameKey": "username", "existingSecretPasswordKey": "password",
			},
			"django": map[string]any{"existingSecret": "nautobot-django", "existingSecretSecretKeyKey": "NAUTOBOT_SECRET_KEY"},
			"redis": map[string]any{
				"host": "nautobot-redis.example.com", "port": 6379.0, "ssl": true,
				"existingSecret": "nautobot-worker-redis", "existingSecretPasswordKey": "redis-password",
			},
		},
		"nautobots": map[string]any{"default": map[string]any{"enabled": false, "initNautobot": false}},
		"celery": map[string]any{
			"concurrency":        2.0,
			"replicaCount":       1.0,
			"livenessProbe":      probe,
			"readinessProbe":     readiness,
			"extraEnvVarsCM":     []any{"cluster-data"},
			"extraEnvVarsSecret": []any{"nautobot-django", "nautobot-custom-env"},
			"extraEnvVars": []any{
				env("NAUTOBOT_CONFIG", "/opt/nautobot/nautobot_config.py"),
				env("NAUTOBOT_DB_SSLMODE", "verify-full"),
				env("NAUTOBOT_DB_SSLNEGOTIATION", "direct"),
				env("NAUTOBOT_REDIS_SSL_CERT_REQS", "required"),
				env("NAUTOBOT_REDIS_SSL_CHECK_HOSTNAME", "true"),
				env("NAUTOBOT_REDIS_SSL_CA_CERTS", "/etc/nautobot/mtls/ca.crt"),
				env("NAUTOBOT_REDIS_SSL_CERTFILE", "/etc/nautobot/mtls/tls.crt"),
				env("NAUTOBOT_REDIS_SSL_KEYFILE", "/etc/nautobot/mtls/tls.key"),
			},
			"extraVolumes": []any{map[string]any{
				"name": "mtls-certs", "secret": map[string]any{"secretName": "nautobot-mtls-client", "defaultMode": 256.0},
			}},
			"extraVolumeMounts": []any{map[string]any{"name": "mtls-certs", "mountPath": "/etc/nautobot/mtls", "readOnly": true}},
		},
		"workers": map[string]any{
			"default": map[string]any{"enabled": false},
			"beat":    map[string]any{"enabled": false},
			"dfw1":    map[string]any{"enabled": true, "taskQueues": "dfw1"},
		},
		"redis":      map[string]any{"enabled": false},
		"postgresql": map[string]any{"enabled": false},
		"ingress":    map[string]any{"enabled": false},
	}
}

func TestDefaultsRenderOneWorkerOnTheSiteQueue(t *testing.T) {
	require.NotEmpty(t, strings.TrimSpace(assets.NautobotConfig))
	m, err := run(t, base())
	require.NoError(t, err)

	c := chartOf(t, m, "worker")
	require.Equal(t, map[string]any{
		"chart":          "nautobot",
		"version":        "3.1.2",
		"repositoryOpts": map[string]any{"repo": "https://nautobot.github.io/helm-charts/"},
		"name":           "nautobot-worker",
		"namespace":      "nautobot",
		"skipAwait":      false,
		"values":         defaultValues(),
	}, c.Plain())
	require.False(t, c.IsSecret("values"), "the values hold no credential: every one comes from an existing secret")

	cm, ok := m.Find(cmType, "worker-cluster-data")
	require.True(t, ok)
	require.Equal(t, map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "cluster-data", "namespace": "nautobot"},
		"data":     map[string]any{"UNDERSTACK_PARTITION": "dfw", "UNDERSTACK_SITE": "dfw1"},
	}, cm.Plain())

	a := base().Defaults()
	require.Equal(t, "nautobot-worker-celery-dfw1", a.DeploymentName())
}

func TestEveryKubernetesResourceHasTheExplicitProviderAndAParent(t *testing.T) {
	m, err := run(t, base())
	require.NoError(t, err)
	children := m.RequireComponentChildren(t, "nautobot:worker:CeleryWorker", "worker")
	require.Equal(t, []string{"kubernetes:core/v1:ConfigMap worker-cluster-data", "kubernetes:helm.sh/v4:Chart worker"}, mocks.Refs(children))
	for _, r := range children {
		require.False(t, r.Protect, "a site is disposable: %s must not be protected", r.Name)
	}
}

func TestTwoInstancesDoNotCollide(t *testing.T) {
	m := &mocks.Monitor{}
	err := mocks.RunWithProvider("site-dfw1", m, func(ctx *pulumi.Context, p *kubernetes.Provider) error {
		for _, site := range []string{"dfw1", "iad1"} {
			a := base()
			a.Provider, a.Site, a.Namespace = p, site, "nautobot-"+site
			if _, err := worker.NewCeleryWorker(ctx, site, &a); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
	// Each instance's objects carry its own Pulumi names, in its own namespace; the release is the same.
	got := map[string]string{}
	for _, r := range append(m.OfType(chartType), m.OfType(cmType)...) {
		name, _ := r.Plain()["name"].(string)
		if meta, ok := r.Plain()["metadata"].(map[string]any); ok {
			name = meta["name"].(string)
		}
		got[r.Type+" "+r.Name] = r.Namespace() + "/" + name
	}
	require.Equal(t, map[string]string{
		chartType + " dfw1":           "nautobot-dfw1/nautobot-worker",
		chartType + " iad1":           "nautobot-iad1/nautobot-worker",
		cmType + " dfw1-cluster-data": "nautobot-dfw1/cluster-data",
		cmType + " iad1-cluster-data": "nautobot-iad1/cluster-data",
	}, got)
}

func TestConfigurationReachesTheChart(t *testing.T) {
	dir := t.TempDir()
	configFile := filepath.Join(dir, "nautobot_config.py")
	require.NoError(t, os.WriteFile(configFile, []byte("# deploy config\nPLUGINS = []\n"), 0o644))
	localChart := filepath.Join(dir, "chart")
	require.NoError(t, os.MkdirAll(localChart, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(localChart, "Chart.yaml"), []byte("apiVersion: v2\nname: nautobot\nversion: 1.0.0\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(localChart, "values.schema.json"), []byte(`{"$ref": "https://example.com/s.json"}`), 0o644))
	cache := t.TempDir()

	a := base()
	a.ChartCacheDir = cache
	a.ReleaseName = "site-worker"
	a.Chart = chart.Source{Path: localChart, SkipSchemaValidation: true}
	a.SkipAwait = true
	a.NautobotConfig = configFile
	a.Image = worker.Image{Registry: "ghcr.io", Repository: "acme/nautobot", Tag: "v3.0.1", PullPolicy: "IfNotPresent"}
	a.Concurrency = new(int)
	a.Replicas = new(int)
	*a.Replicas = 3
	a.Resources = map[string]any{"requests": map[string]any{"cpu": "500m"}}
	a.LivenessProbe = worker.Probe{InitialDelaySeconds: 30}
	a.ReadinessProbe = worker.ReadinessProbe{Probe: worker.Probe{PeriodSeconds: 30}, CheckDatabase: new(false)}
	a.ExtraEnvVars = []nautobotpod.EnvVar{{Name: "REQUESTS_CA_BUNDLE", Value: "/etc/ssl/bundle/ca.pem"}}
	a.ExtraVolumes = []map[string]any{{"name": "ca-bundle", "configMap": map[string]any{"name": "ca-bundle"}}}
	a.ExtraVolumeMounts = []map[string]any{{"name": "ca-bundle", "mountPath": "/etc/ssl/bundle", "readOnly": true}}
	a.Values = map[string]any{
		"metrics": map[string]any{"enabled": true},
		"celery":  map[string]any{"resources": map[string]any{"limits": map[string]any{"memory": "2Gi"}}, "podLabels": map[string]any{"team": "infra"}},
		"workers": map[string]any{"dfw1": map[string]any{"autoscaling": map[string]any{"enabled": false}}},
	}
	// The site stack validates before registering; validating must not change what is registered next.
	require.NoError(t, a.Defaults().Validate())
	m, err := run(t, a)
	require.NoError(t, err)

	plain := chartOf(t, m, "worker").Plain()
	copied, err := chart.WithoutSchemas(localChart, cache)
	require.NoError(t, err)
	require.Equal(t, copied, plain["chart"], "a schema-less copy of the local chart is rendered")
	require.NoFileExists(t, filepath.Join(copied, "values.schema.json"))
	require.NotContains(t, plain, "version")
	require.NotContains(t, plain, "repositoryOpts")
	require.Equal(t, "site-worker", plain["name"])
	require.Equal(t, true, plain["skipAwait"])

	values := plain["values"].(map[string]any)
	nautobot := values["nautobot"].(map[string]any)
	require.Equal(t, "# deploy config\nPLUGINS = []\n", nautobot["config"])
	require.Equal(t, map[string]any{
		"registry": "ghcr.io", "repository": "acme/nautobot", "tag": "v3.0.1", "pullPolicy": "IfNotPresent",
		"pullSecrets": []any{"dockerconfigjson-github-com"},
	}, nautobot["image"])
	celery := values["celery"].(map[string]any)
	require.Equal(t, 0.0, celery["concurrency"])
	require.Equal(t, 3.0, celery["replicaCount"])
	require.Equal(t, map[string]any{"requests": map[string]any{"cpu": "500m"}, "limits": map[string]any{"memory": "2Gi"}}, celery["resources"])
	require.Equal(t, map[string]any{"initialDelaySeconds": 30.0, "periodSeconds": 120.0, "timeoutSeconds": 60.0}, celery["livenessProbe"])
	require.Equal(t, map[string]any{"initialDelaySeconds": 60.0, "periodSeconds": 30.0, "timeoutSeconds": 60.0}, celery["readinessProbe"],
		"checkDatabase: false leaves the chart's own probe command")
	require.Equal(t, map[string]any{"team": "infra"}, celery["podLabels"])
	envs := celery["extraEnvVars"].([]any)
	var envNames []string
	for _, e := range envs {
		envNames = append(envNames, e.(map[string]any)["name"].(string))
	}
	require.Equal(t, []string{"NAUTOBOT_CONFIG", "NAUTOBOT_DB_SSLMODE", "NAUTOBOT_DB_SSLNEGOTIATION", "NAUTOBOT_REDIS_SSL_CERT_REQS",
		"NAUTOBOT_REDIS_SSL_CHECK_HOSTNAME", "NAUTOBOT_REDIS_SSL_CA_CERTS", "NAUTOBOT_REDIS_SSL_CERTFILE", "NAUTOBOT_REDIS_SSL_KEYFILE",
		"REQUESTS_CA_BUNDLE"}, envNames)
	require.Equal(t, map[string]any{"name": "REQUESTS_CA_BUNDLE", "value": "/etc/ssl/bundle/ca.pem"}, envs[8], "extra variables come after the stack's")
	require.Equal(t, []any{
		map[string]any{"name": "mtls-certs", "secret": map[string]any{"secretName": "nautobot-mtls-client", "defaultMode": 256.0}},
		map[string]any{"name": "ca-bundle", "configMap": map[string]any{"name": "ca-bundle"}},
	}, celery["extraVolumes"])
	require.Equal(t, []any{
		map[string]any{"name": "mtls-certs", "mountPath": "/etc/nautobot/mtls", "readOnly": true},
		map[string]any{"name": "ca-bundle", "mountPath": "/etc/ssl/bundle", "readOnly": true},
	}, celery["extraVolumeMounts"], "the extra mount comes after the stack's")
	require.Equal(t, map[string]any{"enabled": true}, values["metrics"])
	require.Equal(t, map[string]any{"enabled": true, "taskQueues": "dfw1", "autoscaling": map[string]any{"enabled": false}},
		values["workers"].(map[string]any)["dfw1"])
	require.Equal(t, map[string]any{"requests": map[string]any{"cpu": "500m"}}, a.Resources, "merging must not write into the caller's args")

	require.Equal(t, "site-worker-nautobot-celery-dfw1", a.Defaults().DeploymentName())
}

func TestSecretGlobalOutputsKeepTheValuesSecret(t *testing.T) {
	a := base()
	a.SecretValues = true
	m, err := run(t, a)
	require.NoError(t, err)
	c := chartOf(t, m, "worker")
	require.True(t, c.IsSecret("values"))
	require.Equal(t, defaultValues(), c.Plain()["values"])
}

func TestInvalidArgsFailBeforeAnyResourceIsRegistered(t *testing.T) {
	with := func(f func(*worker.Args)) worker.Args {
		a := base()
		f(&a)
		return a
	}
	cases := []struct {
		name string
		args worker.Args
		want []string
	}{
		{"invalid site name", with(func(a *worker.Args) { a.Site = "DFW_1" }),
			[]string{`site: "DFW_1" is not a site name: it must be a DNS label of at most 47 characters`}},
		{"site name too long", with(func(a *worker.Args) { a.Site = strings.Repeat("a", 48) }), []string{"site: "}},
		{"reserved site name", with(func(a *worker.Args) { a.Site = "default" }),
			[]string{`site: "default" is reserved`}},
		{"missing nautobot config", with(func(a *worker.Args) { a.NautobotConfig = "/nonexistent/nautobot_config.py" }),
			[]string{`nautobotConfig: "/nonexistent/nautobot_config.py" cannot be read`, "remove the key to use the project's assets/nautobot_config.py"}},
		{"both repo and path", with(func(a *worker.Args) { a.Chart = chart.Source{Repo: chart.DefaultRepo, Version: "3.1.2", Path: "."} }),
			[]string{"chart: sets both repo"}},
		{"neither repo nor path", with(func(a *worker.Args) { a.Chart = chart.Source{Version: "3.1.2"} }),
			[]string{"chart: sets neither repo nor path"}},
		{"schema skip on a repo chart", with(func(a *worker.Args) {
			a.Chart = chart.Source{SkipSchemaValidation: true, Repo: chart.DefaultRepo, Version: "3.1.2"}
		}),
			[]string{"chart.skipSchemaValidation: works only for a local chart"}},
		{"override of the mTLS env", with(func(a *worker.Args) {
			a.Values = map[string]any{"celery": map[string]any{"extraEnvVars": []any{}}}
		}), []string{"values.celery.extraEnvVars: is owned by the stack; worker.values cannot set or override it; add variables with worker.extraEnvVars"}},
		{"override of the DB host", with(func(a *worker.Args) {
			a.Values = map[string]any{"nautobot": map[string]any{"db": map[string]any{"host": "elsewhere"}}}
		}), []string{"values.nautobot.db.host: is owned by the stack; worker.values cannot set or override it; it comes from the global stack's outputs"}},
		{"re-enabling the web server", with(func(a *worker.Args) {
			a.Values = map[string]any{"nautobots": map[string]any{"default": map[string]any{"enabled": true}}}
		}), []string{"values.nautobots.default.enabled: is owned by the stack", "worker-only and wired for mTLS"}},
		{"another worker on the global default queue", with(func(a *worker.Args) {
			a.Values = map[string]any{"workers": map[string]any{"extra": map[string]any{"enabled": true, "taskQueues": "default"}}}
		}), []string{"values.workers.extra: is owned by the stack"}},
		{"a second web server", with(func(a *worker.Args) {
			a.Values = map[string]any{"nautobots": map[string]any{"web": map[string]any{"enabled": true}}}
		}), []string{"values.nautobots: is owned by the stack"}},
		{"a different worker command", with(func(a *worker.Args) {
			a.Values = map[string]any{"celery": map[string]any{"command": []any{"celery", "worker", "-Q", "default"}}}
		}), []string{"values.celery.command: is owned by the stack"}},
		{"a worker that runs no Deployment", with(func(a *worker.Args) {
			a.Values = map[string]any{"workers": map[string]any{"dfw1": map[string]any{"type": "kubernetes"}}, "celery": map[string]any{"type": "kubernetes"}}
		}), []string{"values.celery.type: is owned by the stack", "values.workers.dfw1.type: is owned by the stack"}},
		{"scalar over a map", with(func(a *worker.Args) { a.Values = map[string]any{"workers": "none"} }),
			[]string{"values.workers: is owned by the stack"}},
		{"renaming the release objects", with(func(a *worker.Args) { a.Values = map[string]any{"fullnameOverride": "x"} }),
			[]string{"values.fullnameOverride: is owned by the stack; worker.values cannot set or override it; the stack derives the worker's Deployment name from worker.releaseName"}},
		{"reserved env var", with(func(a *worker.Args) {
			a.ExtraEnvVars = []nautobotpod.EnvVar{{Name: "NAUTOBOT_DB_SSLMODE", Value: "disable"}}
		}),
			[]string{"extraEnvVars[0].name: NAUTOBOT_DB_SSLMODE is set by the stack"}},
		{"bad env var", with(func(a *worker.Args) { a.ExtraEnvVars = []nautobotpod.EnvVar{{Name: "1X"}, {Name: "A"}, {Name: "A"}} }),
			[]string{`extraEnvVars[0].name: "1X" is not an environment variable name`, "extraEnvVars[2].name: A is listed twice"}},
		{"mtls volume name", with(func(a *worker.Args) { a.ExtraVolumes = []map[string]any{{"name": "mtls-certs"}} }),
			[]string{`extraVolumes[0].name: "mtls-certs" must be a DNS label other than mtls-certs`}},
		{"mount over the certificates", with(func(a *worker.Args) {
			a.ExtraVolumeMounts = []map[string]any{{"name": "x", "mountPath": "/etc/nautobot/mtls/extra"}, {"name": "y"}}
		}), []string{"extraVolumeMounts[0].mountPath: /etc/nautobot/mtls/extra would hide or change the mTLS certificate mount",
			"extraVolumeMounts[1]: needs a name other than mtls-certs and an absolute mountPath"}},
		{"bad pull policy", with(func(a *worker.Args) { a.Image.PullPolicy = "always" }),
			[]string{`image.pullPolicy: "always" is not supported`}},
		{"negative numbers", with(func(a *worker.Args) {
			a.Concurrency, a.Replicas = new(int), new(int)
			*a.Concurrency, *a.Replicas = -1, -1
			a.ReadinessProbe.TimeoutSeconds = -5
		}), []string{"concurrency: -1 is negative", "replicas: -1 is negative", "readinessProbe: initialDelaySeconds"}},
		{"bad resources", with(func(a *worker.Args) { a.Resources = map[string]any{"cpu": "1"} }),
			[]string{"resources.cpu: is not a container resources field"}},
		{"release name", with(func(a *worker.Args) { a.ReleaseName = strings.Repeat("n", 54) }),
			[]string{"releaseName: "}},
		{"bad namespace", with(func(a *worker.Args) { a.Namespace = "" }), []string{`namespace: "" is not a valid DNS label`}},
		{"an sslmode that checks no server", with(func(a *worker.Args) { a.DatabaseSSLMode = "require" }),
			[]string{`databaseSslMode: "require" is not supported; use one of verify-full, verify-ca`}},
		{"the name check switched off by an env var", with(func(a *worker.Args) {
			a.ExtraEnvVars = []nautobotpod.EnvVar{{Name: "NAUTOBOT_REDIS_SSL_CHECK_HOSTNAME", Value: "false"}}
		}), []string{"extraEnvVars[0].name: NAUTOBOT_REDIS_SSL_CHECK_HOSTNAME is set by the stack"}},
		{"a database address the server certificate does not name", with(func(a *worker.Args) {
			a.DBServerNames, a.RedisServerNames = globalDBNames, globalRedisNames
			a.ExtraEnvVars = []nautobotpod.EnvVar{{Name: "NAUTOBOT_DB_HOST", Value: "10.0.0.5"}}
		}), []string{`extraEnvVars[0].value: the pods connect to PostgreSQL as "10.0.0.5", a name the PostgreSQL server certificate does not carry`,
			`add "10.0.0.5" to the global stack's certificates.postgres.extraDnsNames, or set worker.databaseSslMode: verify-ca`}},
		{"a Redis gateway name the server certificate does not name", with(func(a *worker.Args) {
			a.DBServerNames, a.RedisServerNames = globalDBNames, []string{"nautobot-redis-master"}
		}), []string{`redisCheckHostname: the pods connect to Redis as "nautobot-redis.example.com"`,
			"or set worker.redisCheckHostname: false to check the chain only"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := run(t, tc.args)
			m.RequireRejected(t, err, tc.want...)
		})
	}
}

// The server certificates' names as the global stack exports them for base()'s hosts.
var (
	globalDBNames    = []string{"nautobot-cluster-rw", "nautobot-cluster-rw.nautobot", "nautobot-db.example.com"}
	globalRedisNames = []string{"nautobot-redis-master", "nautobot-redis.example.com"}
)

func TestServerNamesAreCheckedUnlessTheConfigSaysOtherwise(t *testing.T) {
	env := func(t *testing.T, a worker.Args) map[string]string {
		m, err := run(t, a)
		require.NoError(t, err)
		out := map[string]string{}
		for _, e := range chartOf(t, m, "worker").Plain()["values"].(map[string]any)["celery"].(map[string]any)["extraEnvVars"].([]any) {
			out[e.(map[string]any)["name"].(string)] = e.(map[string]any)["value"].(string)
		}
		return out
	}
	t.Run("by default, against the names the global stack exports", func(t *testing.T) {
		a := base()
		a.DBServerNames, a.RedisServerNames = globalDBNames, globalRedisNames
		vars := env(t, a)
		require.Equal(t, "verify-full", vars["NAUTOBOT_DB_SSLMODE"])
		require.Equal(t, "true", vars["NAUTOBOT_REDIS_SSL_CHECK_HOSTNAME"])
	})
	t.Run("the seed's verify-ca and no Redis name check, set explicitly, for hosts the certificates lack", func(t *testing.T) {
		a := base()
		a.DBServerNames, a.RedisServerNames = globalDBNames, globalRedisNames
		a.DatabaseSSLMode, a.RedisCheckHostname = "verify-ca", new(false)
		a.ExtraEnvVars = []nautobotpod.EnvVar{{Name: "NAUTOBOT_DB_HOST", Value: "10.0.0.5"}, {Name: "NAUTOBOT_REDIS_HOST", Value: "10.0.0.6"}}
		vars := env(t, a)
		require.Equal(t, "verify-ca", vars["NAUTOBOT_DB_SSLMODE"])
		require.Equal(t, "false", vars["NAUTOBOT_REDIS_SSL_CHECK_HOSTNAME"])
		require.Equal(t, "10.0.0.5", vars["NAUTOBOT_DB_HOST"])
	})
}
