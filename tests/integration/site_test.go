package integration

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSiteStacks runs the global demo stack and the two demo site stacks (dfw1, iad1) against one real API
// server, each site in its own namespace as they would be on their own clusters.
func TestSiteStacks(t *testing.T) {
	e := newEnv(t)
	global := e.stack("global", "global")
	e.up(global)
	refGlobal := func(config string) string {
		return strings.Replace(config, "config:\n", "config:\n  nautobot-worker:globalStack: organization/nautobot-worker/"+global+"\n", 1)
	}
	sites := map[string]string{}
	for _, site := range []string{"dfw1", "iad1"} {
		sites[site] = e.stack("site-"+site, "site-"+site, refGlobal)
		e.up(sites[site])
	}

	for site, stack := range sites {
		ns := "nautobot-" + site
		t.Run(site+": ExternalSecrets accepted by the ESO v1 schema", func(t *testing.T) {
			require.ElementsMatch(t, []string{
				"nautobot-django", "nautobot-db", "nautobot-worker-redis", "dockerconfigjson-github-com",
				"nautobot-custom-env", "nautobot-mtls-client",
			}, e.names("externalsecrets.external-secrets.io", ns))
			mtls := e.object("externalsecrets.external-secrets.io", ns, "nautobot-mtls-client")
			require.Equal(t, "kubernetes.io/tls", dig(mtls, "spec", "target", "template", "type"))
			require.Equal(t, "Retain", dig(mtls, "spec", "target", "deletionPolicy"))
			data := dig(mtls, "spec", "target", "template", "data").(map[string]any)
			require.Contains(t, data["tls.key"], `filterPEM "EC PRIVATE KEY"`)
			require.Contains(t, data["ca.crt"], `ca_`)
			from := dig(mtls, "spec", "dataFrom").([]any)
			require.Equal(t, "nautobot/mtls-client-"+site, dig(from[0].(map[string]any), "extract", "key"))
		})
		t.Run(site+": worker only, on the site's queue, with the mTLS wiring", func(t *testing.T) {
			d := e.object("deployments.apps", ns, "nautobot-worker-celery-"+site)
			pod := dig(d, "spec", "template", "spec").(map[string]any)
			c := pod["containers"].([]any)[0].(map[string]any)
			env := map[string]any{}
			for _, v := range c["env"].([]any) {
				kv := v.(map[string]any)
				env[kv["name"].(string)] = kv["value"]
			}
			require.Equal(t, site, env["CELERY_TASK_QUEUES"])
			require.Equal(t, "verify-ca", env["NAUTOBOT_DB_SSLMODE"])
			require.Equal(t, "direct", env["NAUTOBOT_DB_SSLNEGOTIATION"])
			require.Equal(t, "/etc/nautobot/mtls/ca.crt", env["NAUTOBOT_REDIS_SSL_CA_CERTS"])
			var mtlsMode any
			for _, v := range pod["volumes"].([]any) {
				if dig(v.(map[string]any), "secret", "secretName") == "nautobot-mtls-client" {
					mtlsMode = dig(v.(map[string]any), "secret", "defaultMode")
				}
			}
			require.Equal(t, float64(256), mtlsMode)
			require.Equal(t, []string{"nautobot-worker-celery-" + site}, e.names("deployments.apps", ns), "no web server, no default worker, no beat")
			cm := e.object("configmaps", ns, "cluster-data")
			require.Equal(t, site, dig(cm, "data", "UNDERSTACK_SITE"))
			envCM := e.object("configmaps", ns, "nautobot-worker-env")
			require.Equal(t, "nautobot-db.demo.example.com", dig(envCM, "data", "NAUTOBOT_DB_HOST"))
		})
		t.Run(site+": strict validation and a second preview with no changes", func(t *testing.T) {
			e.strictDryRun(stack)
			require.Empty(t, e.previewSteps(stack))
		})
	}

	t.Run("destroying one site leaves the other site and the global stack untouched", func(t *testing.T) {
		before := e.mustRun("kubectl", "--kubeconfig", e.kubeconfig, "get", "externalsecrets.external-secrets.io,deployments.apps,configmaps,certificates.cert-manager.io",
			"-n", "nautobot-iad1", "-o", "jsonpath={range .items[*]}{.metadata.uid}{' '}{.metadata.generation}{'\\n'}{end}")
		globalBefore := e.mustRun("kubectl", "--kubeconfig", e.kubeconfig, "get", "certificates.cert-manager.io,clusters.postgresql.cnpg.io",
			"-n", "nautobot", "-o", "jsonpath={range .items[*]}{.metadata.uid}{' '}{.metadata.generation}{'\\n'}{end}")
		e.mustRun("pulumi", "destroy", "--stack", sites["dfw1"], "--yes", "--skip-preview", "--suppress-progress")
		require.False(t, e.exists("deployments.apps", "nautobot-dfw1", "nautobot-worker-celery-dfw1"))
		require.False(t, e.exists("externalsecrets.external-secrets.io", "nautobot-dfw1", "nautobot-mtls-client"))
		after := e.mustRun("kubectl", "--kubeconfig", e.kubeconfig, "get", "externalsecrets.external-secrets.io,deployments.apps,configmaps,certificates.cert-manager.io",
			"-n", "nautobot-iad1", "-o", "jsonpath={range .items[*]}{.metadata.uid}{' '}{.metadata.generation}{'\\n'}{end}")
		require.Equal(t, before, after)
		require.Equal(t, globalBefore, e.mustRun("kubectl", "--kubeconfig", e.kubeconfig, "get", "certificates.cert-manager.io,clusters.postgresql.cnpg.io",
			"-n", "nautobot", "-o", "jsonpath={range .items[*]}{.metadata.uid}{' '}{.metadata.generation}{'\\n'}{end}"))
		require.Empty(t, e.previewSteps(sites["iad1"]))
		require.Empty(t, e.previewSteps(global))
	})

	t.Run("a newcomer's site from Pulumi.site-example.yaml", func(t *testing.T) {
		// Every placeholder filled in, the chart pointed at the stand-in (the public chart cannot be
		// downloaded here), lon1 being one of the global stack's sites.
		stack := e.stack("site-lon1", "site-example", func(config string) string {
			config = strings.NewReplacer(
				"kubeconfig: REPLACE/path/to/site-kubeconfig", "kubeconfig: "+e.kubeconfig,
				"name: REPLACE\n", "name: lon1\n",
				"nautobot-worker:namespace: nautobot\n", "nautobot-worker:namespace: nautobot-lon1\n",
				"globalStack: organization/nautobot-worker/global", "globalStack: organization/nautobot-worker/"+global,
				"      repo: https://nautobot.github.io/helm-charts/\n      name: nautobot\n      version: 3.1.2\n",
				"      path: tests/testdata/charts/nautobot-standin\n",
				"skipAwait: false", "skipAwait: true",
			).Replace(config)
			require.Contains(t, config, "path: tests/testdata/charts/nautobot-standin")
			return strings.ReplaceAll(config, "REPLACE", "lon1")
		})
		e.up(stack)
		require.True(t, e.exists("deployments.apps", "nautobot-lon1", "nautobot-worker-celery-lon1"))
		require.Len(t, e.names("externalsecrets.external-secrets.io", "nautobot-lon1"), 6)
		require.Equal(t, "lon1", e.outputs(stack)["queue"])
		require.Empty(t, e.previewSteps(stack))
	})
}
