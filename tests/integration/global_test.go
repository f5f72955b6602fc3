package integration

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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
		require.Equal(t, "app", dig(site, "spec", "commonName"))
		require.Equal(t, []any{"client auth", "digital signature", "key encipherment"}, dig(site, "spec", "usages"))
		require.Contains(t, dig(e.object("certificates.cert-manager.io", "nautobot", "nautobot-cluster-server-tls"), "spec", "dnsNames"),
			"nautobot-db.demo.example.com")
	})

	t.Run("CNPG cluster with the CA as client CA and cert-only pg_hba", func(t *testing.T) {
		c := e.object("clusters.postgresql.cnpg.io", "nautobot", "nautobot-cluster")
		require.Equal(t, map[string]any{
			"serverTLSSecret": "nautobot-cluster-server-tls", "serverCASecret": "mtls-ca-cert",
			"clientCASecret": "mtls-ca-cert", "replicationTLSSecret": "nautobot-cluster-replication",
		}, dig(c, "spec", "certificates"))
		require.Equal(t, []any{"hostssl all all all cert", "hostnossl all all all reject"}, dig(c, "spec", "postgresql", "pg_hba"))
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

	t.Run("outputs for sites", func(t *testing.T) {
		out := e.outputs(global)
		require.Equal(t, "nautobot-db.demo.example.com", out["dbFqdn"])
		require.Equal(t, []any{"dfw1", "iad1", "lon1"}, out["sites"])
		require.NotContains(t, strings.Join(strings.Fields(e.mustRun("pulumi", "stack", "output", "--stack", global, "--json", "--show-secrets")), ""),
			"mtls-ca-key-pair")
	})

	t.Run("every object passes the API server's strict field validation", func(t *testing.T) {
		e.strictDryRun(global)
	})

	t.Run("a second preview reports no changes", func(t *testing.T) {
		require.Empty(t, e.previewSteps(global))
	})

	t.Run("adding a fourth site adds exactly one certificate", func(t *testing.T) {
		e.rewrite(global, addSite("syd1"))
		require.Equal(t, []string{"create kubernetes:cert-manager.io/v1:Certificate certs-site-syd1"}, e.previewSteps(global))
		e.up(global)
		require.Equal(t, "nautobot-mtls-client-syd1", e.outputs(global)["siteClientSecrets"].(map[string]any)["syd1"])
		require.True(t, e.exists("certificates.cert-manager.io", "nautobot", "nautobot-mtls-client-syd1"))
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
