package global_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/mocks"
	"nautobot-worker/stacks/global"
)

func baseConfig() map[string]string {
	return map[string]string{
		"kubernetes": `{"kubeconfig":"/tmp/kubeconfig"}`,
		"sites":      `[{"name":"dfw1","egressCidrs":["10.10.0.0/16"]},{"name":"iad1"},{"name":"lon1","egressCidrs":["10.30.0.0/16","192.0.2.0/28"]}]`,
		"gateway":    `{"domain":"prod.example.com"}`,
	}
}

func with(c map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

type result struct {
	m       *mocks.Monitor
	outputs map[string]any
}

func build(t *testing.T, config map[string]string, secretKeys ...string) (result, error) {
	t.Helper()
	m := &mocks.Monitor{}
	var out map[string]pulumi.Input
	err := mocks.Run("global", config, m, func(ctx *pulumi.Context) error {
		var err error
		out, err = global.Build(ctx)
		return err
	}, func(info *pulumi.RunInfo) {
		for _, k := range secretKeys {
			info.ConfigSecretKeys = append(info.ConfigSecretKeys, mocks.Project+":"+k)
		}
	})
	res := result{m: m, outputs: map[string]any{}}
	if err != nil {
		return res, err
	}
	res.outputs, _ = mocks.AwaitAll(t, out)
	return res, nil
}

func spec(t *testing.T, m *mocks.Monitor, typ, name string) map[string]any {
	t.Helper()
	r, ok := m.Find(typ, name)
	require.True(t, ok, "missing %s %s", typ, name)
	return r.Plain()["spec"].(map[string]any)
}

const certificate = "kubernetes:cert-manager.io/v1:Certificate"

func TestServerCertificatesCoverServicesAndTheGatewayFQDNs(t *testing.T) {
	r, err := build(t, baseConfig())
	require.NoError(t, err)
	pg := spec(t, r.m, certificate, "certs-postgres-server")
	require.Equal(t, "nautobot-cluster-server-tls", pg["secretName"])
	require.Equal(t, "nautobot-cluster-rw.nautobot.svc", pg["commonName"])
	require.Equal(t, []any{
		"nautobot-cluster-rw", "nautobot-cluster-rw.nautobot", "nautobot-cluster-rw.nautobot.svc", "nautobot-cluster-rw.nautobot.svc.cluster.local",
		"nautobot-cluster-ro", "nautobot-cluster-ro.nautobot", "nautobot-cluster-ro.nautobot.svc", "nautobot-cluster-ro.nautobot.svc.cluster.local",
		"nautobot-cluster-r", "nautobot-cluster-r.nautobot", "nautobot-cluster-r.nautobot.svc", "nautobot-cluster-r.nautobot.svc.cluster.local",
		"nautobot-db.prod.example.com",
	}, pg["dnsNames"])
	redis := spec(t, r.m, certificate, "certs-redis-server")
	require.Equal(t, "nautobot-redis-server-tls", redis["secretName"])
	require.Equal(t, []any{
		"nautobot-redis-master", "nautobot-redis-master.nautobot", "nautobot-redis-master.nautobot.svc",
		"nautobot-redis-master.nautobot.svc.cluster.local", "nautobot-redis.prod.example.com",
	}, redis["dnsNames"])
	for _, s := range []map[string]any{pg, redis} {
		require.Equal(t, "8760h", s["duration"])
		require.Equal(t, map[string]any{"name": "mtls-ca-issuer", "kind": "Issuer", "group": "cert-manager.io"}, s["issuerRef"])
	}
}

func TestTheSNINameAndTheSANComeFromOneValue(t *testing.T) {
	r, err := build(t, with(baseConfig(), "gateway", `{"dbFqdn":"pg.dc.example.net","redisFqdn":"cache.dc.example.net","dbPort":15432}`))
	require.NoError(t, err)
	route := spec(t, r.m, "kubernetes:gateway.networking.k8s.io/v1:TLSRoute", "gateway-route-nautobot-db")
	require.Equal(t, []any{"pg.dc.example.net"}, route["hostnames"])
	require.Contains(t, spec(t, r.m, certificate, "certs-postgres-server")["dnsNames"], "pg.dc.example.net")
	require.Contains(t, spec(t, r.m, certificate, "certs-redis-server")["dnsNames"], "cache.dc.example.net")
	listeners := spec(t, r.m, "kubernetes:gateway.networking.k8s.io/v1:Gateway", "gateway-gateway")["listeners"].([]any)
	require.Equal(t, "pg.dc.example.net", listeners[0].(map[string]any)["hostname"])
	require.Equal(t, float64(15432), listeners[0].(map[string]any)["port"])
	require.Equal(t, "pg.dc.example.net", r.outputs["dbFqdn"])
	require.Equal(t, 15432, r.outputs["dbPort"])
	// Sites check their hosts against these at preview: the certificates' SANs, exported as issued.
	require.Equal(t, spec(t, r.m, certificate, "certs-postgres-server")["dnsNames"], toAnyList(r.outputs["dbServerNames"]))
	require.Equal(t, spec(t, r.m, certificate, "certs-redis-server")["dnsNames"], toAnyList(r.outputs["redisServerNames"]))
}

func toAnyList(v any) []any {
	var out []any
	for _, s := range v.([]string) {
		out = append(out, s)
	}
	return out
}

func TestClientCertificates(t *testing.T) {
	r, err := build(t, baseConfig())
	require.NoError(t, err)
	want := func(secret, cn string) map[string]any {
		return map[string]any{
			"secretName":  secret,
			"commonName":  cn,
			"duration":    "8760h",
			"renewBefore": "720h",
			"usages":      []any{"digital signature", "client auth"},
			"privateKey":  map[string]any{"algorithm": "ECDSA", "size": float64(256), "encoding": "PKCS1", "rotationPolicy": "Always"},
			"issuerRef":   map[string]any{"name": "mtls-ca-issuer", "kind": "Issuer", "group": "cert-manager.io"},
		}
	}
	require.Equal(t, want("nautobot-mtls-client", "nautobot-global"), spec(t, r.m, certificate, "certs-global-client"))
	require.Equal(t, want("nautobot-cluster-replication", "streaming_replica"), spec(t, r.m, certificate, "certs-replication"))
	for _, site := range []string{"dfw1", "iad1", "lon1"} {
		require.Equal(t, want("nautobot-mtls-client-"+site, "site-"+site), spec(t, r.m, certificate, "certs-site-"+site))
	}
	var names []string
	for _, c := range r.m.OfType(certificate) {
		names = append(names, c.Name)
	}
	require.Equal(t, []string{"certs-global-client", "certs-postgres-server", "certs-redis-server", "certs-replication",
		"certs-site-dfw1", "certs-site-iad1", "certs-site-lon1", "mtls-ca"}, names, "the CA, 2 servers, replication, the global client and one per site")
	require.Equal(t, map[string]string{"dfw1": "nautobot-mtls-client-dfw1", "iad1": "nautobot-mtls-client-iad1", "lon1": "nautobot-mtls-client-lon1"},
		r.outputs["siteClientSecrets"])
	require.Equal(t, "EC PRIVATE KEY", r.outputs["clientKeyPemType"])
}

func TestAddingASiteAddsExactlyOneCertificate(t *testing.T) {
	before, err := build(t, baseConfig())
	require.NoError(t, err)
	after, err := build(t, with(baseConfig(), "sites",
		`[{"name":"dfw1","egressCidrs":["10.10.0.0/16"]},{"name":"iad1"},{"name":"lon1","egressCidrs":["10.30.0.0/16","192.0.2.0/28"]},{"name":"syd1"}]`))
	require.NoError(t, err)
	added, removed := resourceDiff(before, after)
	require.Equal(t, []string{certificate + " certs-site-syd1"}, added)
	require.Empty(t, removed)
	require.Equal(t, "nautobot-mtls-client-syd1", spec(t, after.m, certificate, "certs-site-syd1")["secretName"])
	require.Equal(t, "nautobot-mtls-client-syd1", after.outputs["siteClientSecrets"].(map[string]string)["syd1"])
}

func TestCNPGCluster(t *testing.T) {
	r, err := build(t, baseConfig())
	require.NoError(t, err)
	cluster, ok := r.m.Find("kubernetes:postgresql.cnpg.io/v1:Cluster", "db-cluster")
	require.True(t, ok)
	require.True(t, cluster.Protect)
	require.True(t, cluster.RetainOnDelete)
	require.Equal(t, map[string]any{"name": "nautobot-cluster", "namespace": "nautobot"}, cluster.Plain()["metadata"])
	require.Equal(t, map[string]any{
		"instances": float64(3),
		"imageName": "ghcr.io/cloudnative-pg/postgresql:17.9-system-bullseye",
		"storage":   map[string]any{"size": "20Gi"},
		"bootstrap": map[string]any{"initdb": map[string]any{"database": "app", "owner": "app"}},
		"affinity":  map[string]any{"podAntiAffinityType": "required", "topologyKey": "kubernetes.io/hostname"},
		"certificates": map[string]any{
			"serverTLSSecret":      "nautobot-cluster-server-tls",
			"serverCASecret":       "mtls-ca-cert",
			"clientCASecret":       "mtls-ca-cert",
			"replicationTLSSecret": "nautobot-cluster-replication",
		},
		"postgresql": map[string]any{
			"pg_hba":   []any{"hostssl app app all cert map=nautobot", "hostssl all all all reject", "hostnossl all all all reject"},
			"pg_ident": []any{"nautobot nautobot-global app", "nautobot site-dfw1 app", "nautobot site-iad1 app", "nautobot site-lon1 app"},
		},
	}, cluster.Plain()["spec"])
}

// Removing a site from sites removes its certificate and, in the same up, its line of the role map: the
// site's issued certificate stops logging in without waiting for its expiry.
func TestRemovingASiteUnmapsItsIdentity(t *testing.T) {
	before, err := build(t, baseConfig())
	require.NoError(t, err)
	after, err := build(t, with(baseConfig(), "sites", `[{"name":"dfw1","egressCidrs":["10.10.0.0/16"]},{"name":"lon1","egressCidrs":["10.30.0.0/16","192.0.2.0/28"]}]`))
	require.NoError(t, err)
	added, removed := resourceDiff(before, after)
	require.Empty(t, added)
	require.Equal(t, []string{certificate + " certs-site-iad1"}, removed)
	ident := func(r result) any {
		return spec(t, r.m, "kubernetes:postgresql.cnpg.io/v1:Cluster", "db-cluster")["postgresql"].(map[string]any)["pg_ident"]
	}
	require.Contains(t, ident(before), "nautobot site-iad1 app")
	require.Equal(t, []any{"nautobot nautobot-global app", "nautobot site-dfw1 app", "nautobot site-lon1 app"}, ident(after))
}

func TestGatewayPassthroughRoutesAndKeepalive(t *testing.T) {
	r, err := build(t, baseConfig())
	require.NoError(t, err)
	gw, ok := r.m.Find("kubernetes:gateway.networking.k8s.io/v1:Gateway", "gateway-gateway")
	require.True(t, ok)
	require.Equal(t, map[string]any{"name": "nautobot-passthrough", "namespace": "envoy-gateway"}, gw.Plain()["metadata"])
	allowed := map[string]any{
		"namespaces": map[string]any{"from": "Selector", "selector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "nautobot"}}},
		"kinds":      []any{map[string]any{"group": "gateway.networking.k8s.io", "kind": "TLSRoute"}},
	}
	require.Equal(t, map[string]any{"gatewayClassName": "eg", "listeners": []any{
		map[string]any{"name": "nautobot-db", "protocol": "TLS", "port": float64(5432), "hostname": "nautobot-db.prod.example.com",
			"tls": map[string]any{"mode": "Passthrough"}, "allowedRoutes": allowed},
		map[string]any{"name": "nautobot-redis", "protocol": "TLS", "port": float64(6379), "hostname": "nautobot-redis.prod.example.com",
			"tls": map[string]any{"mode": "Passthrough"}, "allowedRoutes": allowed},
	}}, gw.Plain()["spec"])

	for name, backend := range map[string]map[string]any{
		"nautobot-db":    {"group": "", "kind": "Service", "name": "nautobot-cluster-rw", "port": float64(5432), "weight": float64(1)},
		"nautobot-redis": {"group": "", "kind": "Service", "name": "nautobot-redis-master", "port": float64(6379), "weight": float64(1)},
	} {
		route, ok := r.m.Find("kubernetes:gateway.networking.k8s.io/v1:TLSRoute", "gateway-route-"+name)
		require.True(t, ok)
		require.Equal(t, map[string]any{"name": name, "namespace": "nautobot"}, route.Plain()["metadata"])
		require.Equal(t, []any{map[string]any{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "nautobot-passthrough",
			"namespace": "envoy-gateway", "sectionName": name}},
			route.Plain()["spec"].(map[string]any)["parentRefs"])
		require.Equal(t, []any{map[string]any{"backendRefs": []any{backend}}}, route.Plain()["spec"].(map[string]any)["rules"])

		policy := spec(t, r.m, "kubernetes:gateway.envoyproxy.io/v1alpha1:ClientTrafficPolicy", "gateway-keepalive-"+name)
		require.Equal(t, map[string]any{
			"targetRefs":   []any{map[string]any{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "nautobot-passthrough", "sectionName": name}},
			"tcpKeepalive": map[string]any{"probes": float64(3), "idleTime": "60s", "interval": "10s"},
		}, policy)
	}
	require.Empty(t, r.m.OfType("kubernetes:gateway.networking.k8s.io/v1beta1:ReferenceGrant"), "routes live beside their backends")
}

func TestReferenceGrantWhenRoutesLiveElsewhere(t *testing.T) {
	r, err := build(t, with(baseConfig(), "gateway", `{"domain":"prod.example.com","routeNamespace":"envoy-gateway"}`))
	require.NoError(t, err)
	grant := spec(t, r.m, "kubernetes:gateway.networking.k8s.io/v1beta1:ReferenceGrant", "gateway-grant-nautobot")
	require.Equal(t, map[string]any{
		"from": []any{map[string]any{"group": "gateway.networking.k8s.io", "kind": "TLSRoute", "namespace": "envoy-gateway"}},
		"to":   []any{map[string]any{"group": "", "kind": "Service"}},
	}, grant)
	route := spec(t, r.m, "kubernetes:gateway.networking.k8s.io/v1:TLSRoute", "gateway-route-nautobot-db")
	require.Equal(t, []any{map[string]any{"backendRefs": []any{map[string]any{"group": "", "kind": "Service", "name": "nautobot-cluster-rw",
		"port": float64(5432), "namespace": "nautobot", "weight": float64(1)}}}}, route["rules"])
	listeners := spec(t, r.m, "kubernetes:gateway.networking.k8s.io/v1:Gateway", "gateway-gateway")["listeners"].([]any)
	require.Equal(t, map[string]any{"from": "Same"}, listeners[0].(map[string]any)["allowedRoutes"].(map[string]any)["namespaces"])
}

func TestOutputsForSites(t *testing.T) {
	r, err := build(t, with(baseConfig(), "gateway", `{"domain":"prod.example.com","address":"203.0.113.10"}`))
	require.NoError(t, err)
	require.Equal(t, "nautobot", r.outputs["namespace"])
	require.Equal(t, "mtls-ca-issuer", r.outputs["issuerName"])
	require.Equal(t, "mtls-ca-cert", r.outputs["caCertSecretName"])
	require.Equal(t, "nautobot-db.prod.example.com", r.outputs["dbFqdn"])
	require.Equal(t, 5432, r.outputs["dbPort"])
	require.Equal(t, "app", r.outputs["dbName"])
	require.Equal(t, "app", r.outputs["dbUser"])
	require.Equal(t, "nautobot-redis.prod.example.com", r.outputs["redisFqdn"])
	require.Equal(t, 6379, r.outputs["redisPort"])
	require.Equal(t, []string{"dfw1", "iad1", "lon1"}, r.outputs["sites"])
	require.Equal(t, "203.0.113.10", r.outputs["gatewayAddress"])
	require.Equal(t, true, r.outputs["databaseDirectTls"], "sites check it: they reach PostgreSQL only with direct TLS")
	rules := r.outputs["firewallRules"].(map[string]any)
	require.Equal(t, map[string]any{
		"sources":     []any{"10.30.0.0/16", "192.0.2.0/28"},
		"destination": "203.0.113.10",
		"protocol":    "TCP",
		"ports":       []any{5432, 6379},
		"handling":    "TLS/SSL passthrough (no interception; SNI nautobot-db.prod.example.com, nautobot-redis.prod.example.com)",
		"action":      "allow",
	}, rules["lon1"])
	encoded, err := json.Marshal(r.outputs)
	require.NoError(t, err)
	require.NotContains(t, string(encoded), "mtls-ca-key-pair", "the CA key pair is never exported")
}

// The base config registers exactly these Kubernetes objects, every one through the stack's explicit
// provider (the program disables the default one), so an object added or dropped by a change shows here.
func TestEveryKubernetesResourceHasTheExplicitProvider(t *testing.T) {
	r, err := build(t, baseConfig())
	require.NoError(t, err)
	var got []string
	for _, x := range r.m.Resources() {
		if strings.HasPrefix(x.Type, "kubernetes:") {
			got = append(got, x.Type+" "+x.Name)
			require.True(t, strings.HasPrefix(x.Provider, "urn:pulumi:global::nautobot-worker::pulumi:providers:kubernetes::global::"),
				"%s %s has provider %q", x.Type, x.Name, x.Provider)
		}
	}
	require.Equal(t, []string{
		certificate + " certs-global-client",
		certificate + " certs-postgres-server",
		certificate + " certs-redis-server",
		certificate + " certs-replication",
		certificate + " certs-site-dfw1",
		certificate + " certs-site-iad1",
		certificate + " certs-site-lon1",
		certificate + " mtls-ca",
		"kubernetes:cert-manager.io/v1:Issuer mtls-issuer",
		"kubernetes:cert-manager.io/v1:Issuer mtls-selfsigned",
		"kubernetes:core/v1:Namespace global-namespace",
		"kubernetes:core/v1:ServiceAccount mtls-ca-reader",
		"kubernetes:external-secrets.io/v1:ExternalSecret mtls-ca-public",
		"kubernetes:external-secrets.io/v1:SecretStore mtls-ca-store",
		"kubernetes:gateway.envoyproxy.io/v1alpha1:ClientTrafficPolicy gateway-keepalive-nautobot-db",
		"kubernetes:gateway.envoyproxy.io/v1alpha1:ClientTrafficPolicy gateway-keepalive-nautobot-redis",
		"kubernetes:gateway.networking.k8s.io/v1:Gateway gateway-gateway",
		"kubernetes:gateway.networking.k8s.io/v1:TLSRoute gateway-route-nautobot-db",
		"kubernetes:gateway.networking.k8s.io/v1:TLSRoute gateway-route-nautobot-redis",
		"kubernetes:helm.sh/v4:Chart nautobot",
		"kubernetes:postgresql.cnpg.io/v1:Cluster db-cluster",
		"kubernetes:rbac.authorization.k8s.io/v1:Role mtls-ca-reader",
		"kubernetes:rbac.authorization.k8s.io/v1:RoleBinding mtls-ca-reader",
	}, got)
	providers := r.m.OfType("pulumi:providers:kubernetes")
	require.Len(t, providers, 1, "one cluster, one provider")
	require.Equal(t, "global", providers[0].Name)
	ns, ok := r.m.Find("kubernetes:core/v1:Namespace", "global-namespace")
	require.True(t, ok)
	require.True(t, ns.Protect && ns.RetainOnDelete)
}

func TestInvalidConfigFailsBeforeAnyResourceIsRegistered(t *testing.T) {
	cases := []struct {
		name   string
		config map[string]string
		want   []string
	}{
		{"duplicate site", with(baseConfig(), "sites", `[{"name":"dfw1"},{"name":"dfw1"}]`),
			[]string{`config sites[1].name: "dfw1" is listed twice (also sites[0])`}},
		{"invalid site name", with(baseConfig(), "sites", `[{"name":"DFW_1"}]`),
			[]string{`config sites[0].name: "DFW_1" is not a site name`}},
		{"bad egress CIDR", with(baseConfig(), "sites", `[{"name":"dfw1","egressCidrs":["10.0.0.0"]}]`),
			[]string{`config sites[0].egressCidrs[0]: "10.0.0.0" is not a CIDR`}},
		{"invalid FQDN", with(baseConfig(), "gateway", `{"dbFqdn":"db_primary.example.com","redisFqdn":"redis"}`),
			[]string{`config gateway.dbFqdn: "db_primary.example.com" is not a valid DNS name`, `config gateway.redisFqdn: "redis" is not a valid DNS name`}},
		{"no domain", with(baseConfig(), "gateway", `{}`),
			[]string{"config gateway.domain: is not set; set gateway.domain"}},
		{"global pods named as CNPG's replicas", with(baseConfig(), "certificates", `{"clientCommonName":"streaming_replica"}`),
			[]string{`config certificates.clientCommonName: "streaming_replica" is the role CloudNativePG admits by certificate before any user rule`}},
		{"global pods named as a site", with(baseConfig(), "certificates", `{"clientCommonName":"site-iad1"}`),
			[]string{`config certificates.clientCommonName: "site-iad1" is the identity of site iad1 (sites[1])`}},
		{"a regular expression as an extra identity", with(baseConfig(), "database", `{"extraIdentities":["/site-.*"]}`),
			[]string{`config database.extraIdentities[0]: "/site-.*" is not a certificate common name PostgreSQL can map`}},
		{"PostgreSQL 16 with direct TLS", with(baseConfig(), "database", `{"imageName":"ghcr.io/cloudnative-pg/postgresql:16.4"}`),
			[]string{`config database.imageName: "ghcr.io/cloudnative-pg/postgresql:16.4" is PostgreSQL 16; direct TLS through the passthrough gateway`}},
		{"port out of range", with(baseConfig(), "gateway", `{"domain":"prod.example.com","dbPort":70000}`),
			[]string{"config gateway.dbPort: 70000 is not a TCP port; use 1-65535"}},
		{"same port twice", with(baseConfig(), "gateway", `{"domain":"prod.example.com","redisPort":5432}`),
			[]string{"config gateway.redisPort: 5432 is also the port of route nautobot-db"}},
		{"typo in a key", with(baseConfig(), "database", `{"instance":3}`),
			[]string{`config database: unknown key "instance"`}},
		{"bad authority duration", with(baseConfig(), "authority", `{"duration":"10y"}`),
			[]string{`config authority.duration: "10y" is not a valid duration`}},
		{"an sslmode that checks no server", with(baseConfig(), "nautobot", `{"databaseSslMode":"require"}`),
			[]string{`config nautobot.databaseSslMode: "require" is not supported; use one of verify-full, verify-ca`}},
		{"Redis sentinel, whose Service the certificate does not name", with(baseConfig(), "nautobot", `{"values":{"redis":{"sentinel":{"enabled":true}}}}`),
			[]string{"config nautobot.values.redis.sentinel: is owned by the stack", "a name the Redis server certificate does not carry"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := build(t, tc.config)
			r.m.RequireRejected(t, err, tc.want...)
			require.Empty(t, r.m.Resources(), "not even the provider registers when the config is invalid")
		})
	}
}

func TestNautobotElsewhereExportsTheValuesToApply(t *testing.T) {
	r, err := build(t, with(baseConfig(), "nautobot", `{"enabled":false}`))
	require.NoError(t, err)
	require.Empty(t, r.m.OfType("kubernetes:helm.sh/v4:Chart"))
	values := r.outputs["nautobotValues"].(map[string]any)
	require.Equal(t, true, values["redis"].(map[string]any)["tls"].(map[string]any)["authClients"])
	require.Equal(t, "nautobot-cluster-rw", values["nautobot"].(map[string]any)["db"].(map[string]any)["host"])

	enabled, err := build(t, baseConfig())
	require.NoError(t, err)
	require.NotContains(t, enabled.outputs, "nautobotValues")
	chart, ok := enabled.m.Find("kubernetes:helm.sh/v4:Chart", "nautobot")
	require.True(t, ok)
	require.Equal(t, "nautobot", chart.Plain()["namespace"])
}

func TestRedisServiceFollowsTheReleaseName(t *testing.T) {
	r, err := build(t, with(baseConfig(), "nautobot", `{"releaseName":"nb"}`))
	require.NoError(t, err)
	require.Contains(t, spec(t, r.m, certificate, "certs-redis-server")["dnsNames"], "nb-redis-master.nautobot.svc")
	route := spec(t, r.m, "kubernetes:gateway.networking.k8s.io/v1:TLSRoute", "gateway-route-nautobot-redis")
	require.Equal(t, "nb-redis-master", route["rules"].([]any)[0].(map[string]any)["backendRefs"].([]any)[0].(map[string]any)["name"])
}

func TestSecretValuesMustComeInPairs(t *testing.T) {
	_, err := build(t, with(baseConfig(), "djangoSecretKey", "abc"), "djangoSecretKey")
	require.ErrorContains(t, err, "config djangoSecretKey: set both djangoSecretKey and redisPassword")
}

func TestSecretValuesInPlainTextAreRefused(t *testing.T) {
	_, err := build(t, with(baseConfig(), "djangoSecretKey", "abc", "redisPassword", "def"), "djangoSecretKey")
	require.ErrorContains(t, err, "config redisPassword: is stored in plain text; set it with `pulumi config set --secret redisPassword`")
}

// Each config value lands, as a Pulumi secret, under the key the chart reads, in the Secret the chart
// names, in the stack's namespace; the name and namespace stay plain so a preview shows them.
func TestSecretValuesCreateTheSecrets(t *testing.T) {
	for _, namespace := range []string{"", "nautobot-eu"} {
		t.Run("namespace "+namespace, func(t *testing.T) {
			config := with(baseConfig(), "djangoSecretKey", "abc", "redisPassword", "def")
			want := "nautobot"
			if namespace != "" {
				config, want = with(config, "namespace", namespace), namespace
			}
			r, err := build(t, config, "djangoSecretKey", "redisPassword")
			require.NoError(t, err)
			values := r.m.MustFind(t, "kubernetes:helm.sh/v4:Chart", "nautobot").Plain()["values"].(map[string]any)
			django := values["nautobot"].(map[string]any)["django"].(map[string]any)
			redis := values["redis"].(map[string]any)["auth"].(map[string]any)
			for _, tc := range []struct {
				resource, key, value string
				// chartName and chartKey are where the chart's values name the secret and its key.
				chartName, chartKey any
			}{
				{"nautobot-django", "NAUTOBOT_SECRET_KEY", "abc", django["existingSecret"], django["existingSecretSecretKeyKey"]},
				{"nautobot-redis", "NAUTOBOT_REDIS_PASSWORD", "def", redis["existingSecret"], redis["existingSecretPasswordKey"]},
			} {
				s := r.m.MustFind(t, "kubernetes:core/v1:Secret", tc.resource)
				require.Equal(t, map[string]any{
					"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
					"metadata":   map[string]any{"name": tc.resource, "namespace": want},
					"stringData": map[string]any{tc.key: tc.value},
				}, s.Plain())
				require.True(t, s.IsSecret("stringData."+tc.key), "%s: the value must be a Pulumi secret", tc.resource)
				require.False(t, s.IsSecret("metadata"), tc.resource)
				require.Equal(t, []any{tc.resource, tc.key}, []any{tc.chartName, tc.chartKey}, "the chart reads this secret and key")
			}
		})
	}
}

func TestAMisspelledTopLevelKeyIsRefused(t *testing.T) {
	// mocks.Run hands the program its config in PULUMI_CONFIG as the language host does, so the check is on.
	r, err := build(t, with(baseConfig(), "createNamepace", "false"))
	require.ErrorContains(t, err, "config createNamepace: unknown key; a global stack reads only role, kubernetes, namespace, createNamespace")
	require.Empty(t, r.m.Resources())

	_, err = build(t, with(baseConfig(), "pulumi:disable-default-providers", `["kubernetes"]`, "role", "global", "namespace", "nautobot",
		"createNamespace", "true", "authority", `{}`, "certificates", `{}`, "database", `{}`, "nautobot", `{}`,
		"djangoSecretKey", "abc", "redisPassword", "def"), "djangoSecretKey", "redisPassword")
	require.NoError(t, err, "every key the stack documents is accepted, other namespaces are ignored")
}

// resourceDiff lists, as "type name", the resources one run registered that another did not, both ways.
func resourceDiff(before, after result) (added, removed []string) {
	refs := func(r result) map[string]bool {
		out := map[string]bool{}
		for _, x := range r.m.Resources() {
			out[x.Type+" "+x.Name] = true
		}
		return out
	}
	b, a := refs(before), refs(after)
	for ref := range a {
		if !b[ref] {
			added = append(added, ref)
		}
	}
	for ref := range b {
		if !a[ref] {
			removed = append(removed, ref)
		}
	}
	return added, removed
}
