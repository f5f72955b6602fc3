package global_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/mocks"
)

// The engine creates resources in parallel unless a registration waits for another (mocks.DependsOn has
// the Pulumi Go SDK's rules). These tests pin the orderings without which a first `pulumi up` creates an
// object before what it needs exists: cert-manager and External Secrets retry, but CNPG and the chart's pods
// then start against missing secrets, and `pulumi up` may time out waiting on them.

const (
	issuerType    = "kubernetes:cert-manager.io/v1:Issuer"
	esType        = "kubernetes:external-secrets.io/v1:ExternalSecret"
	storeType     = "kubernetes:external-secrets.io/v1:SecretStore"
	chartType     = "kubernetes:helm.sh/v4:Chart"
	namespaceType = "kubernetes:core/v1:Namespace"
)

// ref names a resource by type and Pulumi name.
type ref struct{ typ, name string }

func (r ref) String() string { return r.typ + " " + r.name }

// withSecrets is the base config plus the two secret values, so the stack creates the chart's secrets too.
func withSecrets(t *testing.T) result {
	t.Helper()
	r, err := build(t, with(baseConfig(), "djangoSecretKey", "abc", "redisPassword", "def"), "djangoSecretKey", "redisPassword")
	require.NoError(t, err)
	return r
}

func TestTheCAHierarchyIsCreatedInOrder(t *testing.T) {
	r := withSecrets(t)
	cases := []struct {
		name           string
		later, earlier ref
	}{
		{"the root CA is issued by the self-signed Issuer", ref{certificate, "mtls-ca"}, ref{issuerType, "mtls-selfsigned"}},
		{"the CA Issuer signs with the root CA's secret", ref{issuerType, "mtls-issuer"}, ref{certificate, "mtls-ca"}},
		{"the ca.crt copy reads through its store", ref{esType, "mtls-ca-public"}, ref{storeType, "mtls-ca-store"}},
		{"the store authenticates as the reader", ref{esType, "mtls-ca-public"}, ref{"kubernetes:core/v1:ServiceAccount", "mtls-ca-reader"}},
		{"the reader may read the CA secret", ref{esType, "mtls-ca-public"}, ref{"kubernetes:rbac.authorization.k8s.io/v1:Role", "mtls-ca-reader"}},
		{"the reader is bound to its Role", ref{esType, "mtls-ca-public"}, ref{"kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "mtls-ca-reader"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r.m.RequireAfter(t, r.m.MustFind(t, tc.later.typ, tc.later.name), r.m.MustFind(t, tc.earlier.typ, tc.earlier.name))
		})
	}
}

// Every Certificate waits for the Issuer its issuerRef names, and every Issuer of type ca for the
// Certificate that writes its key pair: read from the inputs, so a renamed issuer or secret is followed.
func TestEveryCertificateWaitsForItsIssuer(t *testing.T) {
	r := withSecrets(t)
	writers := r.m.SecretWriters()
	issuers := map[string]mocks.Resource{}
	for _, i := range r.m.OfType(issuerType) {
		issuers[i.Namespace()+"/"+i.Plain()["metadata"].(map[string]any)["name"].(string)] = i
	}
	got := map[string]string{}
	for _, c := range r.m.OfType(certificate) {
		ref := c.Plain()["spec"].(map[string]any)["issuerRef"].(map[string]any)
		require.Equal(t, "Issuer", ref["kind"], c.Name)
		issuer, ok := issuers[c.Namespace()+"/"+ref["name"].(string)]
		require.True(t, ok, "%s names issuer %s, which the stack does not create", c.Name, ref["name"])
		got[c.Name] = issuer.Name
		r.m.RequireAfter(t, c, issuer)
	}
	require.Equal(t, map[string]string{
		"mtls-ca":               "mtls-selfsigned",
		"certs-postgres-server": "mtls-issuer", "certs-redis-server": "mtls-issuer", "certs-replication": "mtls-issuer",
		"certs-global-client": "mtls-issuer", "certs-site-dfw1": "mtls-issuer", "certs-site-iad1": "mtls-issuer", "certs-site-lon1": "mtls-issuer",
	}, got)

	ca := r.m.MustFind(t, issuerType, "mtls-issuer")
	keyPair := ca.Plain()["spec"].(map[string]any)["ca"].(map[string]any)["secretName"].(string)
	w, ok := writers[ca.Namespace()+"/"+keyPair]
	require.True(t, ok, "nothing writes the CA key pair %s", keyPair)
	require.Equal(t, "mtls-ca", w.Name)
	r.m.RequireAfter(t, ca, w)
}

func TestTheDatabaseWaitsForEverySecretItNames(t *testing.T) {
	r := withSecrets(t)
	writers := r.m.SecretWriters()
	cluster := r.m.MustFind(t, "kubernetes:postgresql.cnpg.io/v1:Cluster", "db-cluster")
	got := map[string]string{}
	for field, secret := range cluster.Plain()["spec"].(map[string]any)["certificates"].(map[string]any) {
		w, ok := writers[cluster.Namespace()+"/"+secret.(string)]
		require.True(t, ok, "nothing in the stack writes %s (certificates.%s)", secret, field)
		got[field] = w.Type + " " + w.Name
		t.Run(field, func(t *testing.T) { r.m.RequireAfter(t, cluster, w) })
	}
	require.Equal(t, map[string]string{
		"serverTLSSecret":      certificate + " certs-postgres-server",
		"replicationTLSSecret": certificate + " certs-replication",
		"serverCASecret":       esType + " mtls-ca-public",
		"clientCASecret":       esType + " mtls-ca-public",
	}, got)
}

// The chart waits for every secret its values name that the stack writes: the two it creates from the
// config and the certificates it mounts. (<cluster>-app is CNPG's, not the stack's.)
func TestTheNautobotChartWaitsForItsSecretsAndCertificates(t *testing.T) {
	r := withSecrets(t)
	chart := r.m.MustFind(t, chartType, "nautobot")
	// What the chart's values name, and what in the stack writes it.
	got := r.m.RequireAfterSecretWriters(t, chart)
	require.Equal(t, map[string]string{
		"nautobot-django":           "kubernetes:core/v1:Secret nautobot-django",
		"nautobot-redis":            "kubernetes:core/v1:Secret nautobot-redis",
		"nautobot-mtls-client":      certificate + " certs-global-client",
		"nautobot-redis-server-tls": certificate + " certs-redis-server",
	}, got)
}

func TestGatewayRoutesAndPoliciesWaitForTheGateway(t *testing.T) {
	r := withSecrets(t)
	gw := r.m.MustFind(t, "kubernetes:gateway.networking.k8s.io/v1:Gateway", "gateway-gateway")
	var names []string
	for _, typ := range []string{"kubernetes:gateway.networking.k8s.io/v1:TLSRoute", "kubernetes:gateway.envoyproxy.io/v1alpha1:ClientTrafficPolicy"} {
		for _, x := range r.m.OfType(typ) {
			names = append(names, x.Name)
			r.m.RequireAfter(t, x, gw)
		}
	}
	require.ElementsMatch(t, []string{"gateway-route-nautobot-db", "gateway-route-nautobot-redis",
		"gateway-keepalive-nautobot-db", "gateway-keepalive-nautobot-redis"}, names)
}

func TestEverythingInTheNamespaceWaitsForIt(t *testing.T) {
	r := withSecrets(t)
	ns := r.m.MustFind(t, namespaceType, "global-namespace")
	n := 0
	for _, x := range r.m.Resources() {
		if !strings.HasPrefix(x.Type, "kubernetes:") || x.Namespace() != "nautobot" {
			continue
		}
		n++
		r.m.RequireAfter(t, x, ns)
	}
	// 8 authority objects, 7 certificates, the Cluster, 2 secrets and the chart, 2 TLSRoutes.
	require.Equal(t, 8+7+1+2+1+2, n)
}
