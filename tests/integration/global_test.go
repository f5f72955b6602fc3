package integration

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"nautobot-worker/assets"
)

func addSite(name string) func(string) string {
	return func(config string) string {
		return strings.Replace(config, "  nautobot-worker:sites:\n", "  nautobot-worker:sites:\n    - name: "+name+"\n", 1)
	}
}

// TestGlobalStack runs the committed global demo stack (3 sites) against a real API server.
func TestGlobalStack(t *testing.T) {
	e := newEnv(t)
	global := e.stack("global", "global")
	e.up(global)

	t.Run("CA hierarchy accepted by the cert-manager CRDs", func(t *testing.T) {
		require.Equal(t, map[string]any{}, dig(e.object("issuers.cert-manager.io", "nautobot", "mtls-selfsigned"), "spec", "selfSigned"))
		ca := e.object("certificates.cert-manager.io", "nautobot", "mtls-ca")
		require.Equal(t, true, dig(ca, "spec", "isCA"))
		require.Equal(t, "understack-mtls-ca", dig(ca, "spec", "commonName"))
		require.Equal(t, "mtls-ca-key-pair", dig(ca, "spec", "secretName"))
		require.Equal(t, "87600h", dig(ca, "spec", "duration"))
		require.Equal(t, "8760h", dig(ca, "spec", "renewBefore"))
		require.Equal(t, map[string]any{"algorithm": "ECDSA", "size": float64(256), "rotationPolicy": "Never"}, dig(ca, "spec", "privateKey"))
		require.Equal(t, "mtls-ca-key-pair", dig(e.object("issuers.cert-manager.io", "nautobot", "mtls-ca-issuer"), "spec", "ca", "secretName"))
		public := e.object("externalsecrets.external-secrets.io", "nautobot", "mtls-ca-cert")
		require.Equal(t, map[string]any{"cnpg.io/reload": "true"}, dig(public, "spec", "target", "template", "metadata", "labels"))
		require.Equal(t, map[string]any{"ca.crt": `{{ .cacert | filterPEM "CERTIFICATE" }}`}, dig(public, "spec", "target", "template", "data"))
	})

	t.Run("certificates for servers, replication, global pods and every site", func(t *testing.T) {
		names := e.names("certificates.cert-manager.io", "nautobot")
		require.ElementsMatch(t, []string{
			"mtls-ca", "nautobot-cluster-server-tls", "nautobot-redis-server-tls", "nautobot-cluster-replication",
			"nautobot-mtls-client", "nautobot-mtls-client-dfw1", "nautobot-mtls-client-iad1", "nautobot-mtls-client-lon1",
		}, names)
		site := e.object("certificates.cert-manager.io", "nautobot", "nautobot-mtls-client-iad1")
		require.Equal(t, "site-iad1", dig(site, "spec", "commonName"))
		require.Equal(t, "nautobot-global", dig(e.object("certificates.cert-manager.io", "nautobot", "nautobot-mtls-client"), "spec", "commonName"))
		require.Equal(t, []any{"digital signature", "client auth"}, dig(site, "spec", "usages"))
		require.Equal(t, []any{"digital signature", "server auth", "client auth"},
			dig(e.object("certificates.cert-manager.io", "nautobot", "nautobot-redis-server-tls"), "spec", "usages"),
			"the Redis pod is a client of itself: the chart's probes present the server certificate")
		require.Contains(t, dig(e.object("certificates.cert-manager.io", "nautobot", "nautobot-cluster-server-tls"), "spec", "dnsNames"),
			"nautobot-db.demo.example.com")
	})

	t.Run("CNPG cluster with the CA as client CA, cert-only pg_hba and the role map", func(t *testing.T) {
		c := e.object("clusters.postgresql.cnpg.io", "nautobot", "nautobot-cluster")
		require.Equal(t, map[string]any{
			"serverTLSSecret": "nautobot-cluster-server-tls", "serverCASecret": "mtls-ca-cert",
			"clientCASecret": "mtls-ca-cert", "replicationTLSSecret": "nautobot-cluster-replication",
		}, dig(c, "spec", "certificates"))
		require.Equal(t, []any{"hostssl app app all cert map=nautobot", "hostssl all all all reject", "hostnossl all all all reject"},
			dig(c, "spec", "postgresql", "pg_hba"))
		require.Equal(t, []any{"nautobot nautobot-global app", "nautobot site-dfw1 app", "nautobot site-iad1 app", "nautobot site-lon1 app"},
			dig(c, "spec", "postgresql", "pg_ident"), "the CRD's schema keeps pg_ident")
	})

	t.Run("passthrough gateway, TLS routes and keepalive", func(t *testing.T) {
		gw := e.object("gateways.gateway.networking.k8s.io", "envoy-gateway", "nautobot-passthrough")
		listeners := dig(gw, "spec", "listeners").([]any)
		require.Len(t, listeners, 2)
		require.Equal(t, "Passthrough", dig(listeners[0].(map[string]any), "tls", "mode"))
		route := e.object("tlsroutes.gateway.networking.k8s.io", "nautobot", "nautobot-redis")
		require.Equal(t, []any{"nautobot-redis.demo.example.com"}, dig(route, "spec", "hostnames"))
		policy := e.object("clienttrafficpolicies.gateway.envoyproxy.io", "envoy-gateway", "nautobot-db-client-traffic")
		require.Equal(t, float64(3), dig(policy, "spec", "tcpKeepalive", "probes"))
	})

	t.Run("the real chart: web, Celery and beat carry the client certificate and TLS settings", func(t *testing.T) {
		r := e.release(global, "nautobot")
		require.Equal(t, []string{
			"ConfigMap nautobot-config", "ConfigMap nautobot-env", "ConfigMap nautobot-nginx-config",
			"ConfigMap nautobot-redis-configuration", "ConfigMap nautobot-redis-health", "ConfigMap nautobot-redis-scripts",
			"Deployment nautobot-celery-beat", "Deployment nautobot-celery-default", "Deployment nautobot-default",
			"NetworkPolicy nautobot-redis", "Secret nautobot-env", "Service nautobot-default", "Service nautobot-redis-headless",
			"Service nautobot-redis-master", "ServiceAccount nautobot", "ServiceAccount nautobot-redis-master",
			"StatefulSet nautobot-redis-master",
		}, r.objects, "no bundled PostgreSQL, no ingress, no init Job, no PVC")
		// From the archive the chart's `helm test` pod is a hook; the schema-less copy is a directory, so its
		// .helmignore applies, whose tests/ also drops templates/tests/.
		require.Empty(t, e.renderOffline(r), "no hook that Chart v4 would drop")

		env := dig(e.object("configmaps", "nautobot", "nautobot-env"), "data").(map[string]any)
		for k, v := range map[string]string{
			"NAUTOBOT_CONFIG": "/opt/nautobot/nautobot_config.py", "NAUTOBOT_DB_HOST": "nautobot-cluster-rw", "NAUTOBOT_DB_NAME": "app",
			"NAUTOBOT_DB_SSLMODE": "verify-full", "NAUTOBOT_REDIS_HOST": "nautobot-redis-master", "NAUTOBOT_REDIS_PORT": "6379",
			"NAUTOBOT_REDIS_SSL": "True", "NAUTOBOT_REDIS_SSL_CERT_REQS": "required", "NAUTOBOT_REDIS_SSL_CHECK_HOSTNAME": "true",
			"NAUTOBOT_REDIS_SSL_CA_CERTS": "/etc/nautobot/mtls/ca.crt", "NAUTOBOT_REDIS_SSL_CERTFILE": "/etc/nautobot/mtls/tls.crt",
			"NAUTOBOT_REDIS_SSL_KEYFILE": "/etc/nautobot/mtls/tls.key", "NAUTOBOT_CREATE_SUPERUSER": "false",
		} {
			require.Equal(t, v, env[k], k)
		}
		require.Equal(t, assets.NautobotConfig, dig(e.object("configmaps", "nautobot", "nautobot-config"), "data", "nautobot_config.py"))

		for _, name := range []string{"nautobot-default", "nautobot-celery-default", "nautobot-celery-beat"} {
			d := e.object("deployments.apps", "nautobot", name)
			require.Equal(t, map[string]any{"name": "mtls-certs", "secret": map[string]any{"secretName": "nautobot-mtls-client", "defaultMode": float64(256)}},
				volume(d, "mtls-certs"), name)
			for _, c := range allContainers(d) {
				where := name + "/" + c["name"].(string)
				require.Equal(t, "mtls-certs:ro", mounts(c)["/etc/nautobot/mtls"], where)
				require.Equal(t, "nautobot-config", mounts(c)["/opt/nautobot/nautobot_config.py"], where)
				require.Contains(t, envFromOf(c), "configMap:nautobot-env", where)
				vars := envOf(c)
				require.Equal(t, "secret:nautobot-cluster-app/username", vars["NAUTOBOT_DB_USER"], where)
				require.Equal(t, "secret:nautobot-cluster-app/password", vars["NAUTOBOT_DB_PASSWORD"], where)
				require.Equal(t, "secret:nautobot-redis/NAUTOBOT_REDIS_PASSWORD", vars["NAUTOBOT_REDIS_PASSWORD"], where)
			}
		}
		web := container(e.object("deployments.apps", "nautobot", "nautobot-default"), "nautobot")
		require.Equal(t, "secret:nautobot-django/NAUTOBOT_SECRET_KEY", envOf(web)["NAUTOBOT_SECRET_KEY"])
		worker := container(e.object("deployments.apps", "nautobot", "nautobot-celery-default"), "nautobot-celery")
		require.Equal(t, "default", envOf(worker)["CELERY_TASK_QUEUES"])
		beat := container(e.object("deployments.apps", "nautobot", "nautobot-celery-beat"), "nautobot-celery")
		require.Equal(t, []any{"nautobot-server", "celery", "beat", "--loglevel", "$(NAUTOBOT_LOG_LEVEL)"}, beat["command"])
		for _, c := range []map[string]any{worker, beat} {
			require.Contains(t, envFromOf(c), "secret:nautobot-django", "the celery template reads no django.existingSecret")
		}
	})

	t.Run("the real chart's Redis: TLS only, client certificates required", func(t *testing.T) {
		sts := e.object("statefulsets.apps", "nautobot", "nautobot-redis-master")
		redis := container(sts, "redis")
		env := envOf(redis)
		for k, v := range map[string]string{
			"REDIS_TLS_ENABLED": "yes", "REDIS_TLS_PORT": "6379", "REDIS_TLS_AUTH_CLIENTS": "yes",
			"REDIS_TLS_CERT_FILE": "/opt/bitnami/redis/certs/tls.crt", "REDIS_TLS_KEY_FILE": "/opt/bitnami/redis/certs/tls.key",
			"REDIS_TLS_CA_FILE": "/opt/bitnami/redis/certs/ca.crt", "REDIS_PASSWORD": "secret:nautobot-redis/NAUTOBOT_REDIS_PASSWORD",
		} {
			require.Equal(t, v, env[k], k)
		}
		require.Equal(t, []any{"-c", "/opt/bitnami/scripts/start-scripts/start-master.sh"}, redis["args"])
		require.Len(t, redis["ports"], 1)
		require.Equal(t, float64(6379), dig(redis["ports"].([]any)[0].(map[string]any), "containerPort"))
		require.Equal(t, map[string]any{"secretName": "nautobot-redis-server-tls", "defaultMode": float64(256)}, volume(sts, "redis-certificates")["secret"])
		require.Equal(t, "redis-certificates:ro", mounts(redis)["/opt/bitnami/redis/certs"])
		require.Equal(t, "nautobot-redis-scripts", dig(volume(sts, "start-scripts"), "configMap", "name"))

		// The subchart passes the TLS settings as variables; its start script turns them into the flags.
		script := dig(e.object("configmaps", "nautobot", "nautobot-redis-scripts"), "data", "start-master.sh").(string)
		for _, arg := range []string{`ARGS=("--port" "0")`, `ARGS+=("--tls-port" "${REDIS_TLS_PORT}")`,
			`ARGS+=("--tls-auth-clients" "${REDIS_TLS_AUTH_CLIENTS}")`, `ARGS+=("--tls-ca-cert-file" "${REDIS_TLS_CA_FILE}")`} {
			require.Contains(t, script, arg)
		}
		// Its probes authenticate with the server's own certificate, so that one needs client auth too.
		probe := dig(e.object("configmaps", "nautobot", "nautobot-redis-health"), "data", "ping_readiness_local.sh").(string)
		require.Contains(t, probe, "--cert /opt/bitnami/redis/certs/tls.crt")
		svc := e.object("services", "nautobot", "nautobot-redis-master")
		require.Equal(t, []any{map[string]any{"name": "tcp-redis", "port": float64(6379), "protocol": "TCP", "targetPort": "redis"}}, dig(svc, "spec", "ports"))
	})

	t.Run("outputs for sites", func(t *testing.T) {
		out := e.outputs(global)
		require.Equal(t, "nautobot-db.demo.example.com", out["dbFqdn"])
		require.Equal(t, []any{"dfw1", "iad1", "lon1"}, out["sites"])
		revealed, err := e.open(global).Outputs(t.Context()) // secrets in plain text
		require.NoError(t, err)
		text, err := json.Marshal(revealed)
		require.NoError(t, err)
		require.NotContains(t, string(text), "mtls-ca-key-pair")
	})

	t.Run("every object passes the API server's strict field validation", func(t *testing.T) {
		e.strictDryRun(global)
	})

	t.Run("a second preview reports no changes", func(t *testing.T) {
		require.Empty(t, e.previewSteps(global))
	})

	t.Run("adding a fourth site adds exactly one certificate and its line of the role map", func(t *testing.T) {
		e.rewrite(global, addSite("syd1"))
		require.Equal(t, []string{
			"create kubernetes:cert-manager.io/v1:Certificate certs-site-syd1",
			"update kubernetes:postgresql.cnpg.io/v1:Cluster db-cluster",
		}, e.previewSteps(global))
		e.up(global)
		require.Equal(t, "nautobot-mtls-client-syd1", e.outputs(global)["siteClientSecrets"].(map[string]any)["syd1"])
		require.True(t, e.exists("certificates.cert-manager.io", "nautobot", "nautobot-mtls-client-syd1"))
		require.Contains(t, dig(e.object("clusters.postgresql.cnpg.io", "nautobot", "nautobot-cluster"), "spec", "postgresql", "pg_ident"),
			"nautobot site-syd1 app")
		require.Empty(t, e.previewSteps(global))
	})

	t.Run("a misspelled top-level key fails the preview", func(t *testing.T) {
		e.rewrite(global, func(config string) string {
			return strings.Replace(config, "config:\n", "config:\n  nautobot-worker:createNamepace: false\n", 1)
		})
		out, err := e.run("pulumi", "preview", "--stack", global, "--suppress-progress", "--color", "never")
		require.Error(t, err, out)
		require.Contains(t, out, "config createNamepace: unknown key; a "+global+" stack reads only role, kubernetes")
	})
}
