package chartrender_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/chart"
	"nautobot-worker/internal/chartrender"
	"nautobot-worker/internal/realchart"
)

// nautobotChart is the real chart 3.1.1; the tests skip only when it is absent.
func nautobotChart(t *testing.T) string {
	t.Helper()
	p, err := realchart.Path(filepath.Join("..", ".."))
	if err != nil {
		t.Skipf("skipped: %v", err)
	}
	return p
}

// redisTLS are values that switch on the Redis subchart TLS-only with client-certificate auth.
func redisTLS() map[string]any {
	return map[string]any{
		"redis": map[string]any{
			"enabled":      true,
			"architecture": "standalone",
			"auth":         map[string]any{"enabled": true, "existingSecret": "redis-pw", "existingSecretPasswordKey": "PW"},
			"tls": map[string]any{
				"enabled": true, "authClients": true, "existingSecret": "redis-tls",
				"certFilename": "tls.crt", "certKeyFilename": "tls.key", "certCAFilename": "ca.crt",
			},
		},
		"celery": map[string]any{"concurrency": 3},
		// Without these the chart generates a random Django key and superuser password on every render.
		"nautobot": map[string]any{"superUser": map[string]any{"enabled": false}, "django": map[string]any{"existingSecret": "django"}},
	}
}

func find(objs []map[string]any, kind, name string) map[string]any {
	for _, o := range objs {
		if o["kind"] == kind && dig(o, "metadata", "name") == name {
			return o
		}
	}
	return nil
}

func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func env(container map[string]any) map[string]any {
	out := map[string]any{}
	for _, e := range container["env"].([]any) {
		e := e.(map[string]any)
		out[e["name"].(string)] = e["value"]
	}
	return out
}

func TestRenderTheRealChart(t *testing.T) {
	path := nautobotChart(t)
	values := redisTLS()
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	res, err := chartrender.RenderWith(path, "rel", "ns1", values, chartrender.Options{})
	require.NoError(t, err)

	sts := find(res.Objects, "StatefulSet", "rel-redis-master")
	require.NotNil(t, sts, "the packaged redis subchart renders when redis.enabled")
	require.Equal(t, "ns1", dig(sts, "metadata", "namespace"))
	redis := dig(sts, "spec", "template", "spec", "containers").([]any)[0].(map[string]any)
	require.Equal(t, []any{"-c", "/opt/bitnami/scripts/start-scripts/start-master.sh"}, redis["args"])
	redisEnv := env(redis)
	require.Equal(t, "yes", redisEnv["REDIS_TLS_AUTH_CLIENTS"])
	require.Equal(t, "6379", redisEnv["REDIS_TLS_PORT"], "numbers reach the templates as a Pulumi program passes them")
	scripts := find(res.Objects, "ConfigMap", "rel-redis-scripts")
	require.NotNil(t, scripts)
	require.Contains(t, dig(scripts, "data", "start-master.sh"), `ARGS=("--port" "0")`)
	require.Contains(t, dig(scripts, "data", "start-master.sh"), `ARGS+=("--tls-auth-clients" "${REDIS_TLS_AUTH_CLIENTS}")`)
	require.Contains(t, dig(find(res.Objects, "ConfigMap", "rel-redis-health"), "data", "ping_readiness_local.sh"), "--cert /opt/bitnami/redis/certs/tls.crt")

	worker := find(res.Objects, "Deployment", "rel-nautobot-celery-default")
	require.NotNil(t, worker, "a release name without 'nautobot' gets the <release>-nautobot prefix")
	command := dig(worker, "spec", "template", "spec", "containers").([]any)[0].(map[string]any)["command"].([]any)
	require.Equal(t, []any{"--concurrency", "3"}, command[len(command)-2:])

	for _, o := range res.Objects {
		annotations, _ := dig(o, "metadata", "annotations").(map[string]any)
		require.NotContains(t, annotations, "helm.sh/hook", "%s %s is a hook", o["kind"], dig(o, "metadata", "name"))
		require.NotEqual(t, "postgresql", dig(o, "metadata", "labels", "app.kubernetes.io/name"), "postgresql.enabled defaults to false")
	}
	require.Len(t, res.Hooks, 1)
	require.Equal(t, "rel-nautobot-default-test", dig(res.Hooks[0], "metadata", "name"))
	require.Equal(t, "test", dig(res.Hooks[0], "metadata", "annotations", "helm.sh/hook"))

	require.Equal(t, redisTLS(), values, "the caller's values are not modified")
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, before, after)
}

func ids(objs []map[string]any) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o["kind"].(string)+" "+dig(o, "metadata", "name").(string))
	}
	return out
}

func TestRenderSetsHooksAside(t *testing.T) {
	path := nautobotChart(t)
	values := map[string]any{"nautobot": map[string]any{"singleInit": true}}
	res, err := chartrender.RenderWith(path, "nautobot", "ns", values, chartrender.Options{})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"Job nautobot-init", "ConfigMap nautobot-env-init", "ConfigMap nautobot-config-init",
		"Secret nautobot-env-init", "Pod nautobot-default-test"}, ids(res.Hooks))
	require.NotContains(t, ids(res.Objects), "Job nautobot-init", "Chart v4 would never create the init Job")

	objs, err := chartrender.Render(path, "nautobot", "ns", values)
	require.NoError(t, err)
	require.Equal(t, ids(res.Objects), ids(objs))
}

func TestRenderMatchesTheSchemaLessCopyTheStacksRender(t *testing.T) {
	path := nautobotChart(t)
	copied, err := chart.WithoutSchemas(path, t.TempDir())
	require.NoError(t, err)
	fromArchive, err := chartrender.RenderWith(path, "nautobot", "nautobot", redisTLS(), chartrender.Options{})
	require.NoError(t, err)
	fromCopy, err := chartrender.RenderWith(copied, "nautobot", "nautobot", redisTLS(), chartrender.Options{})
	require.NoError(t, err)
	require.Equal(t, fromArchive.Objects, fromCopy.Objects)
	// Helm applies .helmignore when it loads a directory, not an archive: the chart's "tests/" (meant for
	// its unit tests) also drops templates/tests/, the `helm test` pod, which Chart v4 never creates anyway.
	require.Equal(t, []string{"Pod nautobot-default-test"}, ids(fromArchive.Hooks))
	require.Empty(t, fromCopy.Hooks)
}

func TestKubeVersion(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"Chart.yaml":        "apiVersion: v2\nname: caps\nversion: 1.0.0\n",
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: caps\ndata:\n  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n  cnpg: {{ .Capabilities.APIVersions.Has \"postgresql.cnpg.io/v1\" | quote }}\n",
	} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	objs, err := chartrender.Render(dir, "r", "ns", nil)
	require.NoError(t, err)
	require.Len(t, objs, 1)
	require.Equal(t, chartrender.DefaultKubeVersion, dig(objs[0], "data", "kube"))
	require.Equal(t, "false", dig(objs[0], "data", "cnpg"))

	res, err := chartrender.RenderWith(dir, "r", "ns", nil, chartrender.Options{KubeVersion: "v1.31.4", APIVersions: []string{"postgresql.cnpg.io/v1"}})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"kube": "v1.31.4", "cnpg": "true"}, res.Objects[0]["data"])

	_, err = chartrender.RenderWith(dir, "r", "ns", nil, chartrender.Options{KubeVersion: "one"})
	require.ErrorContains(t, err, `KubeVersion "one"`)
}

// The default Kubernetes version follows the client-go the provider's helm links and the API server the
// integration tests run, so a dependency bump cannot leave it behind.
func TestDefaultKubeVersionFollowsThePinnedModules(t *testing.T) {
	minor := regexp.MustCompile(`^v1\.(\d+)\.0$`).FindStringSubmatch(chartrender.DefaultKubeVersion)
	require.NotNil(t, minor, chartrender.DefaultKubeVersion)
	for file, re := range map[string]string{
		"../../tools/kubernetes-provider/go.mod": `k8s.io/client-go v0\.(\d+)\.`,
		"../../tools/kube/go.mod":                `k8s.io/kubernetes v1\.(\d+)\.`,
	} {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		m := regexp.MustCompile(re).FindSubmatch(data)
		require.NotNil(t, m, file)
		require.Equal(t, minor[1], string(m[1]), "%s pins another Kubernetes minor than chartrender.DefaultKubeVersion", file)
	}
}

func TestRenderErrors(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"missing-dep/Chart.yaml":        "apiVersion: v2\nname: x\nversion: 1.0.0\ndependencies:\n  - name: redis\n    version: 18.19.4\n    repository: oci://registry-1.docker.io/bitnamicharts\n",
		"bad-yaml/Chart.yaml":           "apiVersion: v2\nname: y\nversion: 1.0.0\n",
		"bad-yaml/templates/cm.yaml":    "kind: ConfigMap\nmetadata: [\n",
		"kube-range/Chart.yaml":         "apiVersion: v2\nname: z\nversion: 1.0.0\nkubeVersion: <1.20.0\n",
		"kube-range/templates/cm.yaml":  "kind: ConfigMap\n",
		"bad-template/Chart.yaml":       "apiVersion: v2\nname: w\nversion: 1.0.0\n",
		"bad-template/templates/x.yaml": "{{ required \"set x.y\" .Values.x }}\n",
	}
	for name, body := range files {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	for _, tc := range []struct{ chart, want string }{
		{"nope", "loading chart"},
		{"missing-dep", "dependencies redis are not under charts/; run `helm dependency build`"},
		{"bad-yaml", "rendered invalid YAML"},
		{"kube-range", "requires kubeVersion <1.20.0"},
		{"bad-template", "set x.y"},
	} {
		t.Run(tc.chart, func(t *testing.T) {
			_, err := chartrender.Render(filepath.Join(dir, tc.chart), "r", "ns", nil)
			require.Error(t, err)
			require.True(t, strings.Contains(err.Error(), tc.want), err.Error())
		})
	}
}
