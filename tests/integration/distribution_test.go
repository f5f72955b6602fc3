package integration

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/fleet"
	"nautobot-worker/internal/realchart"
)

// pushStore is the writable store of the stand-in provider that the test's global stacks push to.
const pushStore = "demo-secrets-push"

// TestDistribution runs global stacks with distribution on against the real External Secrets controller:
// `fleet add-site` adds a fourth site to the demo global stack in one call, the PushSecrets pass the real CRD
// schema, the controller syncs them, the stand-in provider's items hold the issued certificates in both
// layouts, the new site reads what was pushed, and a renewed certificate reaches the provider with no step
// by hand.
func TestDistribution(t *testing.T) {
	e := newEnv(t)
	provider := "demo-secrets-provider"

	t.Run("the demo store's account may only read, so the push gets a store that may write", func(t *testing.T) {
		token := strings.TrimSpace(e.mustRun("kubectl", "--kubeconfig", e.kubeconfig, "create", "token", "demo-secrets-reader", "-n", provider))
		out, err := e.run("kubectl", "--kubeconfig", e.kubeconfig, "--token", token, "auth", "can-i", "create", "secrets", "-n", provider)
		require.Error(t, err)
		require.Equal(t, "no", strings.TrimSpace(out))
		e.writableStore(provider)
	})

	distribution := func(settings string) func(string) string {
		return func(config string) string {
			require.Contains(t, config, "  nautobot-worker:gateway:\n")
			return strings.Replace(config, "  nautobot-worker:gateway:\n",
				"  nautobot-worker:distribution:\n    enabled: true\n    store: {name: "+pushStore+"}\n    refreshInterval: 1m\n"+settings+
					"  nautobot-worker:gateway:\n", 1)
		}
	}
	// The site's other items; its mTLS items are the push's.
	for name, fields := range map[string]map[string]string{
		"nautobot-django":     {"password": "django-secret"},
		"nautobot-db":         {"username": "app", "password": "db-password"},
		"nautobot-redis":      {"password": "redis-password"},
		"ghcr-pull-secret":    {"password": `{"auths":{"ghcr.io":{"auth":"ZGVtbzpkZW1v"}}}`},
		"nautobot-custom-env": {"DEMO_ENVIRONMENT": "distribution"},
	} {
		e.putItem(name, fields)
	}

	// `fleet add-site` adds a fourth site to the demo global stack with distribution on (certificate and key
	// concatenated under the demo sites' item names), in a project directory of its own: it runs the stacks
	// named global and site-<name> there, with this env's cluster and state backend.
	dir := e.addSiteProject(map[string]string{
		"Pulumi.global.yaml":    e.stackFile("global", distribution("")),
		"Pulumi.site-dfw1.yaml": e.stackFile("site-dfw1"),
	})
	// The global stack gives every site a Redis user of its own (redisSiteKey, set as an operator sets it
	// before the first up), so add-site writes worker.redisSiteUser and the pushed Redis item into lon2's file.
	for _, args := range [][]string{
		{"stack", "init", "organization/nautobot-worker/" + fleet.GlobalStack, "--no-select"},
		{"config", "set", "--secret", "redisSiteKey", "7d1e5c3b9a8f6e4d2c0b1a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d", "--stack", "organization/nautobot-worker/" + fleet.GlobalStack},
	} {
		cmd := exec.Command("pulumi", args...)
		cmd.Dir = dir
		b, err := cmd.CombinedOutput()
		require.NoError(t, err, "pulumi %v: %s", args, b)
	}
	var out bytes.Buffer
	runner := fleet.StackRunner{Root: dir, Out: &out}
	err := fleet.AddSite(t.Context(), dir, fleet.SiteRequest{Name: "lon2", EgressCIDRs: []string{"10.40.0.0/16"}, Partition: "lon",
		Template: "Pulumi.site-dfw1.yaml", Namespace: "nautobot-lon2"}, fleet.AddAndDeploy, runner, &out)
	require.NoError(t, err, out.String())
	t.Run("add-site ran the global stack and the new site, and printed the firewall request", func(t *testing.T) {
		require.Contains(t, out.String(), "Firewall request for site lon2 (global stack output firewallRules.lon2):\n  source       10.40.0.0/16\n")
		require.Contains(t, out.String(), "  ports        5432, 6379\n")
		t.Log(out.String()[strings.Index(out.String(), "Firewall request"):])
		site, err := os.ReadFile(filepath.Join(dir, "Pulumi.site-lon2.yaml"))
		require.NoError(t, err)
		require.Contains(t, string(site), "      clientKey: nautobot-mtls-client-lon2\n")
		require.Contains(t, string(site), "    redis: {key: nautobot-redis-lon2}\n")
		require.Contains(t, string(site), "    redisSiteUser: true\n")
		require.Contains(t, string(site), "\nencryptionsalt: ", "stack init wrote the new stack's salt")
		require.True(t, e.exists("deployments.apps", "nautobot-lon2", "nautobot-worker-celery-lon2"), "the site's worker")
	})

	// And one global stack in its own namespace that pushes separate fields under other names.
	separate := e.stack("global-separate", "global", e.extraGlobal("nautobot-separate", "sep1", "keyAlgorithm: ECDSA"),
		distribution("    layout: separate\n    clientKey: separate-{site}\n    caKey: separate-ca\n"))
	e.up(separate)

	pushes := map[string][]string{
		"nautobot": {"mtls-ca-cert", "nautobot-mtls-client-dfw1", "nautobot-mtls-client-iad1", "nautobot-mtls-client-lon1", "nautobot-mtls-client-lon2",
			"nautobot-redis-site-dfw1", "nautobot-redis-site-iad1", "nautobot-redis-site-lon1", "nautobot-redis-site-lon2"},
		"nautobot-separate": {"mtls-ca-cert", "nautobot-mtls-client-sep1"},
	}
	t.Run("one PushSecret per site and one for the CA, every field kept by the CRD schema", func(t *testing.T) {
		for ns, names := range pushes {
			require.ElementsMatch(t, names, e.names("pushsecrets.external-secrets.io", ns), ns)
		}
		spec := dig(e.object("pushsecrets.external-secrets.io", "nautobot", "nautobot-mtls-client-lon2"), "spec").(map[string]any)
		require.Equal(t, map[string]any{
			"engineVersion": "v2", "type": "Opaque", "mergePolicy": "Replace",
			"data": map[string]any{"cert-and-key.pem": "{{ index . \"tls.crt\" | trim }}\n{{ index . \"tls.key\" | trim }}\n"},
		}, spec["template"])
		require.Equal(t, []any{map[string]any{"conversionStrategy": "None", "match": map[string]any{
			"secretKey": "cert-and-key.pem", "remoteRef": map[string]any{"remoteKey": "nautobot-mtls-client-lon2", "property": "password"},
		}}}, spec["data"])
		require.Equal(t, map[string]any{"secret": map[string]any{"name": "nautobot-mtls-client-lon2"}}, spec["selector"])
		require.Equal(t, []any{map[string]any{"kind": "ClusterSecretStore", "name": pushStore}}, spec["secretStoreRefs"])
		require.Equal(t, "1m0s", spec["refreshInterval"])
	})

	// The first pushes ran before cert-manager had issued anything (the source secrets were missing), and
	// the controller retries with a growing backoff: once the sources exist, a changed annotation makes it
	// push at once.
	for ns := range pushes {
		for _, name := range e.names("certificates.cert-manager.io", ns) {
			e.waitCondition("certificates.cert-manager.io", ns, name, "Ready", 2*time.Minute)
		}
		e.waitCondition("externalsecrets.external-secrets.io", ns, "mtls-ca-cert", "Ready", 2*time.Minute)
	}
	for ns, names := range pushes {
		for _, name := range names {
			e.forceSync("pushsecrets.external-secrets.io", ns, name)
			e.waitCondition("pushsecrets.external-secrets.io", ns, name, "Ready", 2*time.Minute)
			require.Equal(t, "Synced", condition(e.object("pushsecrets.external-secrets.io", ns, name), "Ready")["reason"], name)
		}
	}

	bundle := func(ns, secret string) string {
		s := e.secret(ns, secret)
		return strings.TrimSpace(string(s["tls.crt"])) + "\n" + strings.TrimSpace(string(s["tls.key"])) + "\n"
	}
	t.Run("the provider's items hold the issued certificates, keys and CA, and nothing else", func(t *testing.T) {
		items := e.secrets(provider)
		for _, site := range []string{"dfw1", "iad1", "lon1", "lon2"} {
			item := items["nautobot-mtls-client-"+site]
			require.Equal(t, []string{"password"}, keys(item), site)
			require.Equal(t, bundle("nautobot", "nautobot-mtls-client-"+site), string(item["password"]), site)
			blocks := pemBlocks(t, item["password"])
			require.Len(t, blocks, 2)
			requireKeyMatches(t, pem.EncodeToMemory(blocks[1]), "EC PRIVATE KEY", onlyCert(t, pem.EncodeToMemory(blocks[0])))
			require.Equal(t, "Opaque", e.object("secrets", provider, "nautobot-mtls-client-"+site)["type"])
		}
		require.Equal(t, map[string][]byte{"password": e.secret("nautobot", "mtls-ca-cert")["ca.crt"]}, items["nautobot-mtls-ca"])
		for _, site := range []string{"dfw1", "iad1", "lon1", "lon2"} {
			// Only the site's Redis password, from the Secret the global stack derived it into.
			password := e.secret("nautobot", "nautobot-redis-site-"+site)["password"]
			require.Len(t, password, 64, site)
			require.Equal(t, map[string][]byte{"password": password}, items["nautobot-redis-"+site], site)
		}
		issued := e.secret("nautobot-separate", "nautobot-mtls-client-sep1")
		require.Equal(t, map[string][]byte{"tls.crt": issued["tls.crt"], "tls.key": issued["tls.key"]}, items["separate-sep1"])
		require.Equal(t, map[string][]byte{"password": e.secret("nautobot-separate", "mtls-ca-cert")["ca.crt"]}, items["separate-ca"])
	})

	t.Run("the outputs give each site its stack file's secrets.mtls keys", func(t *testing.T) {
		require.Equal(t, map[string]any{"clientKey": "separate-sep1", "caKey": "separate-ca",
			"clientCertProperty": "tls.crt", "clientKeyProperty": "tls.key", "caCertProperty": "password"},
			dig(e.outputs(separate), "pushedRemoteKeys", "sep1"))
		outputs, err := runner.Outputs(t.Context(), fleet.GlobalStack)
		require.NoError(t, err)
		require.Equal(t, map[string]any{"clientKey": "nautobot-mtls-client-lon2", "caKey": "nautobot-mtls-ca",
			"clientCertProperty": "password", "clientKeyProperty": "password", "caCertProperty": "password",
			"redisKey": "nautobot-redis-lon2", "redisProperty": "password"},
			dig(outputs, "pushedRemoteKeys", "lon2"))
		require.Equal(t, "site-lon2", dig(outputs, "redisUsers", "lon2"))
	})

	// The new site's first sync found no item yet: made to retry now.
	e.forceSync("externalsecrets.external-secrets.io", "nautobot-lon2", "nautobot-mtls-client")
	siteSecret := func() map[string][]byte {
		e.waitCondition("externalsecrets.external-secrets.io", "nautobot-lon2", "nautobot-mtls-client", "Ready", 2*time.Minute)
		return e.secret("nautobot-lon2", "nautobot-mtls-client")
	}
	t.Run("the new site's mTLS secret is what the push wrote", func(t *testing.T) {
		got := siteSecret()
		issued := e.secret("nautobot", "nautobot-mtls-client-lon2")
		require.Equal(t, onlyCert(t, issued["tls.crt"]).Raw, onlyCert(t, got["tls.crt"]).Raw)
		require.Equal(t, pemBlocks(t, issued["tls.key"])[0].Bytes, pemBlocks(t, got["tls.key"])[0].Bytes)
		require.Equal(t, onlyCert(t, e.secret("nautobot", "mtls-ca-cert")["ca.crt"]).Raw, onlyCert(t, got["ca.crt"]).Raw)
	})

	t.Run("the new site's Redis secret is its own user's password, as pushed", func(t *testing.T) {
		e.forceSync("externalsecrets.external-secrets.io", "nautobot-lon2", "nautobot-worker-redis")
		e.waitCondition("externalsecrets.external-secrets.io", "nautobot-lon2", "nautobot-worker-redis", "Ready", 2*time.Minute)
		require.Equal(t, e.secret("nautobot", "nautobot-redis-site-lon2")["password"], e.secret("nautobot-lon2", "nautobot-worker-redis")["redis-password"])
	})

	t.Run("a renewed certificate reaches the provider within the refresh interval, with no step by hand", func(t *testing.T) {
		before := e.secret("nautobot", "nautobot-mtls-client-lon2")
		// cert-manager issues a certificate whose secret is gone again, with a new key (rotationPolicy Always).
		e.mustRun("kubectl", "--kubeconfig", e.kubeconfig, "-n", "nautobot", "delete", "secret", "nautobot-mtls-client-lon2")
		var renewed map[string][]byte
		require.Eventually(t, func() bool {
			if !e.exists("secrets", "nautobot", "nautobot-mtls-client-lon2") {
				return false
			}
			renewed = e.secret("nautobot", "nautobot-mtls-client-lon2")
			return len(renewed["tls.key"]) > 0
		}, 3*time.Minute, time.Second, "cert-manager did not issue the certificate again")
		require.NotEqual(t, before["tls.key"], renewed["tls.key"], "a renewal re-keys")
		start := time.Now()
		want := bundle("nautobot", "nautobot-mtls-client-lon2")
		require.Eventually(t, func() bool {
			return string(e.secret(provider, "nautobot-mtls-client-lon2")["password"]) == want
		}, 2*time.Minute, 2*time.Second, "the renewed certificate was not pushed within 2 minutes (refreshInterval 1m)")
		t.Logf("the renewed certificate reached the provider %s after it was issued", time.Since(start).Round(time.Second))
		// The site's own refresh interval (1h) then carries it to the site; forced here.
		e.forceSync("externalsecrets.external-secrets.io", "nautobot-lon2", "nautobot-mtls-client")
		require.Eventually(t, func() bool {
			return string(siteSecret()["tls.key"]) != string(before["tls.key"])
		}, time.Minute, time.Second)
		require.Equal(t, pemBlocks(t, renewed["tls.key"])[0].Bytes, pemBlocks(t, siteSecret()["tls.key"])[0].Bytes)
	})
}

// stackFile is the committed Pulumi.<from>.yaml (the demo project's, else the repository's template)
// pointed at this env's cluster and chart, with edits applied: the config of a stack in a project
// directory other than the demo's.
func (e *env) stackFile(from string, edits ...func(string) string) string {
	e.t.Helper()
	path := filepath.Join(root, realchart.DemoDir, "Pulumi."+from+".yaml")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		path = filepath.Join(root, "Pulumi."+from+".yaml")
	}
	text, err := os.ReadFile(path)
	require.NoError(e.t, err)
	config := strings.ReplaceAll(string(text), "kubeconfig: .cluster/kubeconfig", "kubeconfig: "+e.kubeconfig)
	if url := e.serverURL(); url != "" {
		config = strings.ReplaceAll(config, demoServerURL, url)
	}
	if strings.Contains(config, realchart.DemoPath) {
		config, err = realchart.Absolute(config, root)
		require.NoError(e.t, err)
	}
	for _, edit := range edits {
		config = edit(config)
	}
	return config
}

// addSiteProject is a project directory with the repository's Pulumi.yaml and assets and the given stack
// files, made this test's working directory and the env's variables this process's (fleet.AddSite runs the
// program inline, in this process), both until the test ends.
func (e *env) addSiteProject(files map[string]string) string {
	e.t.Helper()
	dir := e.t.TempDir()
	for name, path := range map[string]string{"Pulumi.yaml": "Pulumi.yaml", "assets/nautobot_config.py": "assets/nautobot_config.py"} {
		text, err := os.ReadFile(filepath.Join(root, path))
		require.NoError(e.t, err)
		files[name] = string(text)
	}
	for name, text := range files {
		require.NoError(e.t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(e.t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "PULUMI_") || k == "KUBECONFIG" {
			e.t.Setenv(k, "") // restored when the test ends
			require.NoError(e.t, os.Unsetenv(k))
		}
	}
	for _, kv := range e.vars {
		k, v, _ := strings.Cut(kv, "=")
		e.t.Setenv(k, v)
	}
	e.t.Chdir(dir)
	return dir
}

// writableStore creates the ClusterSecretStore pushStore over the stand-in provider's namespace: the demo
// store's own, but with an account that may write secrets there.
func (e *env) writableStore(namespace string) {
	e.t.Helper()
	server := dig(e.object("clustersecretstores.external-secrets.io", "", "demo-secrets"), "spec", "provider", "kubernetes", "server")
	require.NotNil(e.t, server)
	writer := pushStore + "-writer"
	meta := map[string]any{"name": writer, "namespace": namespace}
	e.applyObjects(
		map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
		map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta,
			"rules": []any{map[string]any{"apiGroups": []any{""}, "resources": []any{"secrets"},
				"verbs": []any{"get", "list", "watch", "create", "update", "patch"}}}},
		map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta,
			"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": writer},
			"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": writer, "namespace": namespace}}},
		map[string]any{"apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore", "metadata": map[string]any{"name": pushStore},
			"spec": map[string]any{"provider": map[string]any{"kubernetes": map[string]any{
				"remoteNamespace": namespace,
				"server":          server,
				"auth":            map[string]any{"serviceAccount": map[string]any{"name": writer, "namespace": namespace}},
			}}}},
	)
}

// applyObjects applies objects as one List.
func (e *env) applyObjects(objects ...any) {
	e.t.Helper()
	manifest, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": objects})
	require.NoError(e.t, err)
	file := filepath.Join(e.t.TempDir(), "objects.json")
	require.NoError(e.t, os.WriteFile(file, manifest, 0o600))
	e.mustRun("kubectl", "--kubeconfig", e.kubeconfig, "apply", "-f", file)
}

// forceSync changes an annotation of an External Secrets object, which makes its controller reconcile it now.
func (e *env) forceSync(kind, namespace, name string) {
	e.t.Helper()
	e.mustRun("kubectl", "--kubeconfig", e.kubeconfig, "-n", namespace, "annotate", "--overwrite", kind, name,
		"force-sync="+time.Now().Format(time.RFC3339Nano))
}
