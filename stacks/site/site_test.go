package site_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/mocks"
	"nautobot-worker/internal/realchart"
	"nautobot-worker/stacks/global"
	"nautobot-worker/stacks/site"
)

const (
	// defaultGlobalStack is the globalStack default under mocks, whose organization is the file backend's.
	defaultGlobalStack = "organization/nautobot-worker/global"
	chartType          = "kubernetes:helm.sh/v4:Chart"
	esType             = "kubernetes:external-secrets.io/v1:ExternalSecret"
)

func globalOutputs() map[string]any {
	return map[string]any{
		"namespace": "nautobot", "issuerName": "mtls-ca-issuer", "caCertSecretName": "mtls-ca-cert",
		"dbFqdn": "nautobot-db.prod.example.com", "dbPort": 5432, "dbName": "app", "dbUser": "app",
		"redisFqdn": "nautobot-redis.prod.example.com", "redisPort": 6379,
		"sites": []any{"dfw1", "iad1", "lon1"},
		"siteClientSecrets": map[string]any{
			"dfw1": "nautobot-mtls-client-dfw1", "iad1": "nautobot-mtls-client-iad1", "lon1": "nautobot-mtls-client-lon1",
		},
		"clientKeyPemType":  "EC PRIVATE KEY",
		"databaseDirectTls": true,
		"dbServerNames":     []any{"nautobot-cluster-rw", "nautobot-cluster-rw.nautobot.svc", "nautobot-db.prod.example.com"},
		"redisServerNames":  []any{"nautobot-redis-master", "nautobot-redis.prod.example.com"},
	}
}

func baseConfig() map[string]string {
	return map[string]string{
		"kubernetes": `{"kubeconfig":"/tmp/kubeconfig"}`,
		"site":       `{"name":"dfw1","partition":"dfw"}`,
		"secrets": `{"store":{"name":"vault"},"django":{"key":"nautobot/django"},"db":{"key":"nautobot/db"},
			"redis":{"key":"nautobot/redis"},"registry":{"key":"ghcr/pull"},"customEnv":{"key":"nautobot/custom-env"},
			"mtls":{"clientKey":"mtls/client-dfw1","caKey":"mtls/ca"}}`,
	}
}

func with(c map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
			continue
		}
		out[kv[i]] = kv[i+1]
	}
	return out
}

type result struct {
	m       *mocks.Monitor
	outputs map[string]any
	secret  map[string]bool
}

func build(t *testing.T, stack string, config map[string]string, outputs map[string]any) (result, error) {
	t.Helper()
	m := &mocks.Monitor{StackOutputs: map[string]map[string]any{defaultGlobalStack: outputs}}
	var out map[string]pulumi.Input
	err := mocks.Run(stack, config, m, func(ctx *pulumi.Context) error {
		var err error
		out, err = site.Build(ctx)
		return err
	})
	res := result{m: m, outputs: map[string]any{}, secret: map[string]bool{}}
	if err != nil {
		return res, err
	}
	res.outputs, res.secret = mocks.AwaitAll(t, out)
	return res, nil
}

// TestTheGlobalStackDefaultFollowsTheBackend: on Pulumi Cloud a site stack runs in its organization, and by
// default reads the global stack of the same organization and project.
func TestTheGlobalStackDefaultFollowsTheBackend(t *testing.T) {
	for _, tc := range []struct{ org, want string }{
		{"", defaultGlobalStack},
		{"acme", "acme/nautobot-worker/global"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			m := &mocks.Monitor{StackOutputs: map[string]map[string]any{tc.want: globalOutputs()}}
			inOrg := func(info *pulumi.RunInfo) { info.Organization = tc.org }
			require.NoError(t, mocks.Run("site-dfw1", baseConfig(), m, func(ctx *pulumi.Context) error {
				_, err := site.Build(ctx)
				return err
			}, inOrg))
			ref, ok := m.Find(mocks.StackReferenceType, "global")
			require.True(t, ok)
			require.Equal(t, tc.want, ref.Plain()["name"])
		})
	}
}

func kubernetesResources(m *mocks.Monitor) []mocks.Resource {
	var out []mocks.Resource
	for _, r := range m.Resources() {
		if strings.HasPrefix(r.Type, "kubernetes:") {
			out = append(out, r)
		}
	}
	return out
}

func TestASiteDeploysItsSecretsAndOneWorkerWiredToTheGlobalStack(t *testing.T) {
	res, err := build(t, "site-dfw1", baseConfig(), globalOutputs())
	require.NoError(t, err)

	ref, ok := res.m.Find(mocks.StackReferenceType, "global")
	require.True(t, ok)
	require.True(t, ref.Read)
	require.Equal(t, defaultGlobalStack, ref.Plain()["name"])

	types := map[string]int{}
	for _, r := range res.m.Resources() {
		types[r.Type]++
	}
	require.Equal(t, map[string]int{
		mocks.StackReferenceType:           1,
		"pulumi:providers:kubernetes":      1,
		"kubernetes:core/v1:Namespace":     1,
		"nautobot:sitesecrets:SiteSecrets": 1,
		esType:                             6,
		"nautobot:worker:CeleryWorker":     1,
		"kubernetes:core/v1:ConfigMap":     1,
		chartType:                          1,
	}, types)

	ns, _ := res.m.Find("kubernetes:core/v1:Namespace", "site-namespace")
	require.Equal(t, map[string]any{"name": "nautobot"}, ns.Plain()["metadata"])
	require.False(t, ns.Protect, "a site is disposable: its namespace is not protected")

	c, _ := res.m.Find(chartType, "worker")
	values := c.Plain()["values"].(map[string]any)
	nautobot := values["nautobot"].(map[string]any)
	require.Equal(t, "nautobot-db.prod.example.com", nautobot["db"].(map[string]any)["host"])
	require.Equal(t, 5432.0, nautobot["db"].(map[string]any)["port"])
	require.Equal(t, "app", nautobot["db"].(map[string]any)["name"])
	require.Equal(t, "app", nautobot["db"].(map[string]any)["user"])
	require.Equal(t, "nautobot-redis.prod.example.com", nautobot["redis"].(map[string]any)["host"])
	require.Equal(t, 6379.0, nautobot["redis"].(map[string]any)["port"])
	require.Equal(t, map[string]any{"enabled": true, "taskQueues": "dfw1"}, values["workers"].(map[string]any)["dfw1"])
	require.False(t, c.IsSecret("values"))

	cm, _ := res.m.Find("kubernetes:core/v1:ConfigMap", "worker-cluster-data")
	require.Equal(t, map[string]any{"UNDERSTACK_PARTITION": "dfw", "UNDERSTACK_SITE": "dfw1"}, cm.Plain()["data"])

	require.Equal(t, map[string]any{
		"site": "dfw1", "enabled": true, "queue": "dfw1", "namespace": "nautobot",
		"releaseName": "nautobot-worker", "workerDeployment": "nautobot-worker-celery-dfw1",
		"secrets": map[string]any{
			"django": "nautobot-django", "db": "nautobot-db", "redis": "nautobot-worker-redis",
			"registry": "dockerconfigjson-github-com", "customEnv": "nautobot-custom-env", "mtlsClient": "nautobot-mtls-client",
		},
		"clientCertSource": map[string]any{"stack": defaultGlobalStack, "namespace": "nautobot", "secret": "nautobot-mtls-client-dfw1"},
		"caCertSource":     map[string]any{"stack": defaultGlobalStack, "namespace": "nautobot", "secret": "mtls-ca-cert"},
	}, res.outputs)
}

func TestEveryKubernetesResourceUsesTheSiteProvider(t *testing.T) {
	res, err := build(t, "site-dfw1", baseConfig(), globalOutputs())
	require.NoError(t, err)
	// Exactly these objects, each through the site's explicit provider and under its component.
	got := map[string]string{}
	for _, r := range kubernetesResources(res.m) {
		require.True(t, strings.HasPrefix(r.Provider, "urn:pulumi:site-dfw1::nautobot-worker::pulumi:providers:kubernetes::site::"),
			"%s %s has provider %q", r.Type, r.Name, r.Provider)
		parent := resource.URN(r.Parent)
		got[r.Type+" "+r.Name] = string(parent.Type()) + " " + parent.Name()
	}
	require.Equal(t, map[string]string{
		"kubernetes:core/v1:Namespace site-namespace":      "pulumi:pulumi:Stack nautobot-worker-site-dfw1",
		esType + " secrets-django":                         "nautobot:sitesecrets:SiteSecrets secrets",
		esType + " secrets-db":                             "nautobot:sitesecrets:SiteSecrets secrets",
		esType + " secrets-redis":                          "nautobot:sitesecrets:SiteSecrets secrets",
		esType + " secrets-registry":                       "nautobot:sitesecrets:SiteSecrets secrets",
		esType + " secrets-custom-env":                     "nautobot:sitesecrets:SiteSecrets secrets",
		esType + " secrets-mtls-client":                    "nautobot:sitesecrets:SiteSecrets secrets",
		"kubernetes:core/v1:ConfigMap worker-cluster-data": "nautobot:worker:CeleryWorker worker",
		chartType + " worker":                              "nautobot:worker:CeleryWorker worker",
	}, got, "object -> type and name of its parent")
}

// walk calls f with every map key and string value of an input tree, with its dotted path.
func walk(path string, v resource.PropertyValue, f func(path, s string)) {
	switch {
	case v.IsSecret():
		walk(path, v.SecretValue().Element, f)
	case v.IsString():
		f(path, v.StringValue())
	case v.IsArray():
		for i, e := range v.ArrayValue() {
			walk(fmt.Sprintf("%s[%d]", path, i), e, f)
		}
	case v.IsObject():
		for k, e := range v.ObjectValue() {
			p := path + "." + string(k)
			f(p, string(k))
			walk(p, e, f)
		}
	}
}

func TestASiteNeverHoldsTheCAPrivateKey(t *testing.T) {
	res, err := build(t, "site-dfw1", baseConfig(), globalOutputs())
	require.NoError(t, err)
	var keyRefs []string
	for _, r := range res.m.Resources() {
		if r.Read {
			continue
		}
		walk(r.Type+"::"+r.Name, resource.NewObjectProperty(r.Inputs), func(path, s string) {
			require.NotContains(t, s, "mtls-ca-key-pair", "%s references the CA key pair", path)
			if strings.Contains(s, "tls.key") {
				keyRefs = append(keyRefs, path)
			}
		})
	}
	require.ElementsMatch(t, []string{
		// The only key material: this site's client key, templated by the ExternalSecret from its own item...
		esType + "::secrets-mtls-client.spec.target.template.data.tls.key",
		// ...and the path the worker reads it from (an env variable, and nautobot_config.py's default).
		chartType + "::worker.values.celery.extraEnvVars[7].value",
		chartType + "::worker.values.nautobot.config",
	}, keyRefs)
	es, _ := res.m.Find(esType, "secrets-mtls-client")
	data := es.Plain()["spec"].(map[string]any)["dataFrom"].([]any)
	require.Equal(t, "mtls/client-dfw1", data[0].(map[string]any)["extract"].(map[string]any)["key"])
	require.Equal(t, "mtls/ca", data[1].(map[string]any)["extract"].(map[string]any)["key"])
}

func TestADisabledSiteDeploysNothing(t *testing.T) {
	res, err := build(t, "site-dfw1", with(baseConfig(), "site", `{"name":"dfw1","enabled":false}`, "secrets", ""), nil)
	require.NoError(t, err)
	require.Empty(t, res.m.Resources(), "no provider, no stack reference, no kubernetes resource")
	require.Equal(t, map[string]any{"site": "dfw1", "enabled": false}, res.outputs)
}

// TestAGlobalStackWithoutTheAgreementOutputsStillServesSites: clientKeyPemType and databaseDirectTls are
// checked when the global stack exports them; one deployed before them does not block its sites.
func TestAGlobalStackWithoutTheAgreementOutputsStillServesSites(t *testing.T) {
	outputs := globalOutputs()
	delete(outputs, "clientKeyPemType")
	delete(outputs, "databaseDirectTls")
	delete(outputs, "dbServerNames")
	delete(outputs, "redisServerNames")
	m := &mocks.Monitor{StackOutputs: map[string]map[string]any{defaultGlobalStack: outputs}}
	require.NoError(t, mocks.Run("site-dfw1", baseConfig(), m, func(ctx *pulumi.Context) error { _, err := site.Build(ctx); return err }))
}

func TestConfigOverrides(t *testing.T) {
	outputs := globalOutputs()
	outputs["clientKeyPemType"] = "PRIVATE KEY"
	m := &mocks.Monitor{StackOutputs: map[string]map[string]any{"acme/nautobot-worker/prod-global": outputs}}
	cfg := with(baseConfig(),
		"globalStack", "acme/nautobot-worker/prod-global",
		"namespace", "nautobot-iad1",
		"createNamespace", "false",
		"site", `{"name":"iad1","partition":"iad"}`,
		"worker", `{"releaseName":"site-worker","concurrency":4}`)
	err := mocks.Run("site-iad1", cfg, m, func(ctx *pulumi.Context) error { _, err := site.Build(ctx); return err })
	require.NoError(t, err)
	ref, ok := m.Find(mocks.StackReferenceType, "global")
	require.True(t, ok)
	require.Equal(t, "acme/nautobot-worker/prod-global", ref.Plain()["name"])
	_, ok = m.Find("kubernetes:core/v1:Namespace", "site-namespace")
	require.False(t, ok, "createNamespace: false uses an existing namespace")
	c, _ := m.Find(chartType, "worker")
	require.Equal(t, "nautobot-iad1", c.Plain()["namespace"])
	require.Equal(t, "site-worker", c.Plain()["name"])
	require.Equal(t, 4.0, c.Plain()["values"].(map[string]any)["celery"].(map[string]any)["concurrency"])
	es, _ := m.Find(esType, "secrets-mtls-client")
	tmpl := es.Plain()["spec"].(map[string]any)["target"].(map[string]any)["template"].(map[string]any)
	require.True(t, strings.HasPrefix(tmpl["data"].(map[string]any)["tls.key"].(string), `{{ $pem := .client_password | filterPEM "PRIVATE KEY" }}`),
		"an unset key type follows the keys the global stack issues: %s", tmpl["data"].(map[string]any)["tls.key"])
}

func TestSecretGlobalOutputsStaySecret(t *testing.T) {
	outputs := globalOutputs()
	outputs["dbFqdn"] = resource.MakeSecret(resource.NewProperty("nautobot-db.prod.example.com"))
	outputs["siteClientSecrets"] = resource.MakeSecret(resource.NewProperty(resource.NewPropertyMapFromMap(map[string]any{"dfw1": "nautobot-mtls-client-dfw1"})))
	res, err := build(t, "site-dfw1", baseConfig(), outputs)
	require.NoError(t, err)
	c, _ := res.m.Find(chartType, "worker")
	require.True(t, c.IsSecret("values"))
	require.Equal(t, "nautobot-db.prod.example.com", c.Plain()["values"].(map[string]any)["nautobot"].(map[string]any)["db"].(map[string]any)["host"])
	require.True(t, res.secret["clientCertSource"])
	require.False(t, res.secret["caCertSource"])
}

func TestInvalidConfigOrGlobalStackFailsBeforeAnyResourceIsRegistered(t *testing.T) {
	without := func(name string) map[string]any {
		o := globalOutputs()
		delete(o, name)
		return o
	}
	withOutput := func(name string, v any) map[string]any {
		o := globalOutputs()
		o[name] = v
		return o
	}
	stack := defaultGlobalStack
	cases := []struct {
		name    string
		config  map[string]string
		outputs map[string]any
		want    []string
		// readsGlobal is whether the global stack is read before the failure (plain config fails first).
		readsGlobal bool
	}{
		{"missing site name", with(baseConfig(), "site", `{"partition":"dfw"}`), globalOutputs(),
			[]string{"config site.name: is required", "no fallback to the global default queue"}, false},
		{"invalid site name", with(baseConfig(), "site", `{"name":"DFW1"}`), globalOutputs(),
			[]string{`config site.name: "DFW1" is not a site name`}, false},
		{"unknown key", with(baseConfig(), "site", `{"name":"dfw1","enable":false}`), globalOutputs(),
			[]string{`config site: unknown key "enable"`}, false},
		{"bad store kind", with(baseConfig(), "secrets", strings.Replace(baseConfig()["secrets"], `{"name":"vault"}`, `{"kind":"Vault","name":"vault"}`, 1)),
			globalOutputs(), []string{`config secrets.store.kind: "Vault" is not supported`}, false},
		{"bad filterPEM type", with(baseConfig(), "secrets", strings.Replace(baseConfig()["secrets"], `"caKey":"mtls/ca"`, `"caKey":"mtls/ca","privateKeyType":"EC KEY"`, 1)),
			globalOutputs(), []string{`config secrets.mtls.privateKeyType: "EC KEY" is not supported`}, false},
		{"bad chart source", with(baseConfig(), "worker", `{"chart":{"repo":"https://charts.example.com","path":"charts/nautobot"}}`),
			globalOutputs(), []string{"config worker.chart: sets both repo"}, false},
		{"chart source without repo or path", with(baseConfig(), "worker", `{"chart":{"version":"3.1.3"}}`),
			globalOutputs(), []string{"config worker.chart: sets neither repo nor path"}, false},
		{"bad globalStack", with(baseConfig(), "globalStack", "global"), globalOutputs(),
			[]string{`config globalStack: "global" is not a fully qualified stack name`}, false},
		{"bad createNamespace", with(baseConfig(), "createNamespace", "yes"), globalOutputs(),
			[]string{`config createNamespace: "yes" is not a boolean`}, false},
		{"no client certificate for the site", nil, withOutput("siteClientSecrets", map[string]any{"iad1": "x"}),
			[]string{`output siteClientSecrets has no secret for site "dfw1"`}, true},
		{"port not a number", nil, withOutput("dbPort", "5432"), []string{`global stack "` + stack + `" (config globalStack): output "dbPort" is 5432, want a TCP port`}, true},
		{"empty host", nil, withOutput("redisFqdn", ""), []string{`output "redisFqdn" is , want a non-empty string`}, true},
		{"the global database refuses direct TLS", nil, withOutput("databaseDirectTls", false),
			[]string{"config globalStack: the global stack exports databaseDirectTls: false (its config database.directTls), but a site reaches PostgreSQL only through the TLS-passthrough gateway",
				"set database.directTls: true on the global stack"}, true},
		{"a gateway name the global PostgreSQL certificate lacks", nil, withOutput("dbServerNames", []any{"nautobot-cluster-rw"}),
			[]string{`config worker.databaseSslMode: the pods connect to PostgreSQL as "nautobot-db.prod.example.com", a name the PostgreSQL server certificate does not carry (nautobot-cluster-rw)`,
				"add \"nautobot-db.prod.example.com\" to the global stack's certificates.postgres.extraDnsNames, or set worker.databaseSslMode: verify-ca"}, true},
		{"a Redis address the global certificate lacks", with(baseConfig(), "worker", `{"extraEnvVars":[{"name":"NAUTOBOT_REDIS_HOST","value":"10.1.2.3"}]}`),
			globalOutputs(), []string{`config worker.extraEnvVars[0].value: the pods connect to Redis as "10.1.2.3"`, "set worker.redisCheckHostname: false"}, true},
		{"an sslmode that checks no server", with(baseConfig(), "worker", `{"databaseSslMode":"verify"}`),
			globalOutputs(), []string{`config worker.databaseSslMode: "verify" is not supported; use one of verify-full, verify-ca`}, false},
		{"key type differs from the issued keys", with(baseConfig(), "secrets", strings.Replace(baseConfig()["secrets"], `"caKey":"mtls/ca"`, `"caKey":"mtls/ca","privateKeyType":"PRIVATE KEY"`, 1)),
			globalOutputs(), []string{`config secrets.mtls.privateKeyType: "PRIVATE KEY" does not match the keys the global stack issues (clientKeyPemType "EC PRIVATE KEY")`}, true},
	}
	for _, name := range []string{"namespace", "dbFqdn", "dbPort", "dbName", "dbUser", "redisFqdn", "redisPort", "sites", "siteClientSecrets", "caCertSecretName"} {
		cases = append(cases, struct {
			name        string
			config      map[string]string
			outputs     map[string]any
			want        []string
			readsGlobal bool
		}{"missing output " + name, nil, without(name),
			[]string{fmt.Sprintf("global stack %q (config globalStack): has no output %q; run `pulumi up` on the global stack first", stack, name)}, true})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.config
			if cfg == nil {
				cfg = baseConfig()
			}
			for _, dryRun := range []bool{false, true} {
				m := &mocks.Monitor{StackOutputs: map[string]map[string]any{stack: tc.outputs}}
				var opts []pulumi.RunOption
				if dryRun {
					opts = append(opts, mocks.DryRun)
				}
				err := mocks.Run("site-dfw1", cfg, m, func(ctx *pulumi.Context) error { _, err := site.Build(ctx); return err }, opts...)
				require.Error(t, err, "dry run %v", dryRun)
				for _, w := range tc.want {
					require.Contains(t, err.Error(), w, "dry run %v", dryRun)
				}
				_, read := m.Find(mocks.StackReferenceType, "global")
				require.Equal(t, tc.readsGlobal, read)
				for _, r := range m.Resources() {
					require.Equal(t, mocks.StackReferenceType, r.Type, "registered %s %s before validation failed", r.Type, r.Name)
				}
			}
		})
	}
}

// TestASiteTheGlobalStackDoesNotListYet: its up and its preview are refused before anything registers, so
// a pull request that drops a site from global while its stack remains fails its preview. Only the fleet
// runner's preview of a site the backend does not have yet (previewBeforeGlobal) shows the site's whole
// plan, with where its certificate comes from unknown.
func TestASiteTheGlobalStackDoesNotListYet(t *testing.T) {
	cfg := with(baseConfig(), "site", `{"name":"ord1"}`)
	for _, tc := range []struct {
		name   string
		config map[string]string
		opts   []pulumi.RunOption
	}{
		{"up", cfg, nil},
		{"preview", cfg, []pulumi.RunOption{mocks.DryRun}},
		{"up of a new site", with(cfg, site.PreviewBeforeGlobalKey, "true"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &mocks.Monitor{StackOutputs: map[string]map[string]any{defaultGlobalStack: globalOutputs()}}
			err := mocks.Run("site-ord1", tc.config, m, func(ctx *pulumi.Context) error { _, err := site.Build(ctx); return err }, tc.opts...)
			require.ErrorContains(t, err, `config site.name: site "ord1" is not in the sites output of the global stack "`+defaultGlobalStack+`" (dfw1, iad1, lon1); add it to the global stack's sites config and run `+"`pulumi up`"+` there first`)
			for _, r := range m.Resources() {
				require.Equal(t, mocks.StackReferenceType, r.Type, "registered %s %s before the refusal", r.Type, r.Name)
			}
		})
	}

	preview := &mocks.Monitor{StackOutputs: map[string]map[string]any{defaultGlobalStack: globalOutputs()}}
	var out map[string]pulumi.Input
	require.NoError(t, mocks.Run("site-ord1", with(cfg, site.PreviewBeforeGlobalKey, "true"), preview, func(ctx *pulumi.Context) error {
		var err error
		out, err = site.Build(ctx)
		return err
	}, mocks.DryRun))
	full, err := build(t, "site-dfw1", baseConfig(), globalOutputs())
	require.NoError(t, err)
	require.Len(t, kubernetesResources(preview), len(kubernetesResources(full.m)), "the whole plan of a listed site")
	values, _ := mocks.AwaitAll(t, out)
	require.NotContains(t, values, "clientCertSource", "the certificate's source is unknown until global lists the site")
	require.Contains(t, values, "caCertSource")
	require.Equal(t, "ord1", values["queue"])
}

// stackFile reads a Pulumi.<stack>.yaml into mock config (objects as JSON, like the CLI passes them).
func stackFile(t *testing.T, path, role string) map[string]string {
	t.Helper()
	out, err := mocks.StackFile(path)
	require.NoError(t, err)
	for k, v := range out {
		out[k] = realchart.Rewrite(v)
	}
	require.Equal(t, role, out["nautobot-worker:role"], "%s must set nautobot-worker:role: %s", path, role)
	require.Equal(t, `["kubernetes"]`, out["pulumi:disable-default-providers"], "%s must disable the default kubernetes provider", path)
	return out
}

// globalDemoOutputs runs the global stack's program on the demo's Pulumi.global.yaml under mocks, so the
// site stacks are checked against the outputs the global stack really exports.
func globalDemoOutputs(t *testing.T) map[string]any {
	t.Helper()
	var out map[string]pulumi.Input
	err := mocks.Run("global", stackFile(t, "demo/Pulumi.global.yaml", "global"), &mocks.Monitor{}, func(ctx *pulumi.Context) error {
		var err error
		out, err = global.Build(ctx)
		return err
	}, mocks.DryRun)
	require.NoError(t, err)
	outputs, _ := mocks.AwaitAll(t, out)
	return outputs
}

func TestTheDemoStackFilesDeployAgainstTheGlobalStack(t *testing.T) {
	// The program's directory (the repository), where Pulumi runs it, so the files' relative paths resolve.
	t.Chdir(filepath.Join("..", ".."))
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	outputs := globalDemoOutputs(t)
	for _, tc := range []struct{ file, site, namespace string }{
		{"demo/Pulumi.site-dfw1.yaml", "dfw1", "nautobot-dfw1"},
		{"demo/Pulumi.site-iad1.yaml", "iad1", "nautobot-iad1"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			res, err := build(t, "site-"+tc.site, stackFile(t, tc.file, "site"), outputs)
			require.NoError(t, err)
			require.Equal(t, tc.namespace, res.outputs["namespace"])
			require.Equal(t, "nautobot-worker-celery-"+tc.site, res.outputs["workerDeployment"])
			c, _ := res.m.Find(chartType, "worker")
			copied := c.Plain()["chart"].(string)
			require.True(t, strings.HasPrefix(copied, filepath.Join(cache, "nautobot-worker", "charts")+string(filepath.Separator)),
				"the demo renders a schema-less copy of the real chart, not %s", copied)
			meta, err := os.ReadFile(filepath.Join(copied, "Chart.yaml"))
			require.NoError(t, err)
			require.Contains(t, string(meta), `version: "3.1.1"`)
			require.NoFileExists(t, filepath.Join(copied, "values.schema.json"))
			require.Equal(t, true, c.Plain()["skipAwait"], "the local API server has no kubelet")
		})
	}
}

func TestAMisspelledTopLevelKeyIsRefused(t *testing.T) {
	// mocks.Run hands the program its config in PULUMI_CONFIG as the language host does, so the check is on.
	res, err := build(t, "site-dfw1", with(baseConfig(), "globalstack", "organization/nautobot-worker/eu"), globalOutputs())
	require.ErrorContains(t, err, "config globalstack: unknown key; a site-dfw1 stack reads only role, kubernetes, site, globalStack")
	require.Empty(t, res.m.Resources())
}

// TestTheSeedsChainOnlyChecksAreAcceptedWhenSetExplicitly: an address the global server certificates do not
// name passes once the site says it checks only the chain.
func TestTheSeedsChainOnlyChecksAreAcceptedWhenSetExplicitly(t *testing.T) {
	cfg := with(baseConfig(), "worker", `{"databaseSslMode":"verify-ca","redisCheckHostname":false,
		"extraEnvVars":[{"name":"NAUTOBOT_DB_HOST","value":"10.1.2.3"},{"name":"NAUTOBOT_REDIS_HOST","value":"10.1.2.4"}]}`)
	res, err := build(t, "site-dfw1", cfg, globalOutputs())
	require.NoError(t, err)
	c, _ := res.m.Find(chartType, "worker")
	env := map[string]any{}
	for _, e := range c.Plain()["values"].(map[string]any)["celery"].(map[string]any)["extraEnvVars"].([]any) {
		env[e.(map[string]any)["name"].(string)] = e.(map[string]any)["value"]
	}
	require.Equal(t, "verify-ca", env["NAUTOBOT_DB_SSLMODE"])
	require.Equal(t, "false", env["NAUTOBOT_REDIS_SSL_CHECK_HOSTNAME"])
}
