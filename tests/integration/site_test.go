package integration

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/realchart"
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

	// Pulumi.site-iad1.yaml sets worker.concurrency; dfw1 keeps the default.
	concurrency := map[string]any{"dfw1": "2", "iad1": "4"}
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
			require.Equal(t, "nautobot-mtls-client-"+site, dig(from[0].(map[string]any), "extract", "key"))
		})
		t.Run(site+": the real chart renders one worker on the site's queue, with the mTLS wiring", func(t *testing.T) {
			r := e.release(stack, "worker")
			require.Equal(t, []string{
				"ConfigMap nautobot-worker-config", "ConfigMap nautobot-worker-env", "Deployment nautobot-worker-celery-" + site,
				"Secret nautobot-worker-env", "ServiceAccount nautobot-worker",
			}, r.objects, "no web Deployment or Service, no default worker, no beat, no nginx config")
			require.Empty(t, e.renderOffline(r), "no Job or other hook that Chart v4 would silently drop")
			require.Equal(t, []string{"nautobot-worker-celery-" + site}, e.names("deployments.apps", ns))
			require.Empty(t, e.names("services", ns))
			require.Empty(t, e.names("jobs.batch", ns))

			d := e.object("deployments.apps", ns, "nautobot-worker-celery-"+site)
			require.Equal(t, "nautobot-celery-"+site, dig(d, "spec", "template", "metadata", "labels", "app.kubernetes.io/component"))
			require.Equal(t, []any{map[string]any{"name": "dockerconfigjson-github-com"}}, dig(d, "spec", "template", "spec", "imagePullSecrets"))
			require.Len(t, allContainers(d), 1)
			c := container(d, "nautobot-celery")
			command := c["command"].([]any)
			require.Equal(t, []any{"--queues", "$(CELERY_TASK_QUEUES)"}, command[5:7])
			require.Equal(t, []any{"--concurrency", concurrency[site]}, command[len(command)-2:])
			vars := envOf(c)
			for k, v := range map[string]string{
				"CELERY_TASK_QUEUES": site, "NAUTOBOT_K8S_COMPONENT": "nautobot-celery-" + site,
				"NAUTOBOT_CONFIG": "/opt/nautobot/nautobot_config.py", "NAUTOBOT_DB_SSLMODE": "verify-full", "NAUTOBOT_DB_SSLNEGOTIATION": "direct",
				"NAUTOBOT_REDIS_SSL_CERT_REQS": "required", "NAUTOBOT_REDIS_SSL_CHECK_HOSTNAME": "true", "NAUTOBOT_REDIS_SSL_CA_CERTS": "/etc/nautobot/mtls/ca.crt",
				"NAUTOBOT_REDIS_SSL_CERTFILE": "/etc/nautobot/mtls/tls.crt", "NAUTOBOT_REDIS_SSL_KEYFILE": "/etc/nautobot/mtls/tls.key",
				"NAUTOBOT_DB_USER": "secret:nautobot-db/username", "NAUTOBOT_DB_PASSWORD": "secret:nautobot-db/password",
				"NAUTOBOT_REDIS_PASSWORD": "secret:nautobot-worker-redis/redis-password",
			} {
				require.Equal(t, v, vars[k], k)
			}
			require.Equal(t, []string{"configMap:nautobot-worker-env", "secret:nautobot-worker-env", "configMap:cluster-data",
				"secret:nautobot-django", "secret:nautobot-custom-env"}, envFromOf(c))
			require.Equal(t, map[string]any{"name": "mtls-certs", "secret": map[string]any{"secretName": "nautobot-mtls-client", "defaultMode": float64(256)}},
				volume(d, "mtls-certs"))
			require.Equal(t, "mtls-certs:ro", mounts(c)["/etc/nautobot/mtls"])
			require.Equal(t, "nautobot-config", mounts(c)["/opt/nautobot/nautobot_config.py"])

			require.Equal(t, site, dig(e.object("configmaps", ns, "cluster-data"), "data", "UNDERSTACK_SITE"))
			envCM := dig(e.object("configmaps", ns, "nautobot-worker-env"), "data").(map[string]any)
			for k, v := range map[string]string{
				"NAUTOBOT_DB_HOST": "nautobot-db.demo.example.com", "NAUTOBOT_DB_PORT": "5432", "NAUTOBOT_DB_NAME": "app",
				"NAUTOBOT_REDIS_HOST": "nautobot-redis.demo.example.com", "NAUTOBOT_REDIS_PORT": "6379", "NAUTOBOT_REDIS_SSL": "True",
			} {
				require.Equal(t, v, envCM[k], k)
			}
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
		// Every placeholder filled in, the chart switched to the air-gapped path the template documents (the
		// public chart cannot be downloaded here), lon1 being one of the global stack's sites.
		chartPath, err := realchart.Path(root)
		require.NoError(t, err)
		stack := e.stack("site-lon1", "site-example", func(config string) string {
			config = strings.NewReplacer(
				"  # nautobot-worker:kubernetes:\n  #   kubeconfig: path/to/site-kubeconfig\n",
				"  nautobot-worker:kubernetes:\n    kubeconfig: "+e.kubeconfig+"\n",
				"name: REPLACE\n", "name: lon1\n",
				"nautobot-worker:namespace: nautobot\n", "nautobot-worker:namespace: nautobot-lon1\n",
				"  # nautobot-worker:globalStack: my-org/nautobot-worker/global", "  nautobot-worker:globalStack: organization/nautobot-worker/"+global,
				"      repo: https://nautobot.github.io/helm-charts/\n      name: nautobot\n      version: 3.1.2\n",
				"      path: "+chartPath+"\n      skipSchemaValidation: true\n",
				"skipAwait: false", "skipAwait: true",
			).Replace(config)
			require.Contains(t, config, "path: "+chartPath)
			require.Contains(t, config, "kubeconfig: "+e.kubeconfig)
			require.Contains(t, config, "globalStack: organization/nautobot-worker/"+global)
			return strings.ReplaceAll(config, "REPLACE", "lon1")
		})
		e.up(stack)
		require.True(t, e.exists("deployments.apps", "nautobot-lon1", "nautobot-worker-celery-lon1"))
		require.Len(t, e.names("externalsecrets.external-secrets.io", "nautobot-lon1"), 6)
		require.Equal(t, "lon1", e.outputs(stack)["queue"])
		require.Empty(t, e.previewSteps(stack))
	})
}
