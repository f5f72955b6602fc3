package certificates_test

import (
	"testing"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"

	"nautobot-worker/components/certificates"
	"nautobot-worker/internal/mocks"
)

func base() certificates.Args {
	return certificates.Args{
		Namespace: "nautobot", Issuer: "mtls-ca-issuer", Sites: []string{"dfw1"},
		Postgres: certificates.ServerCert{Services: []string{"db-rw"}, GatewayFQDN: "db.example.com"},
		Redis:    certificates.ServerCert{Services: []string{"redis"}, GatewayFQDN: "redis.example.com"},
	}
}

func run(t *testing.T, instances map[string]certificates.Args) (*mocks.Monitor, error) {
	t.Helper()
	m := &mocks.Monitor{}
	err := mocks.RunWithProvider("global", m, func(ctx *pulumi.Context, p *kubernetes.Provider) error {
		for name, a := range instances {
			a.Provider = p
			if _, err := certificates.NewMTLSCertificates(ctx, name, &a); err != nil {
				return err
			}
		}
		return nil
	})
	return m, err
}

func TestChildrenHaveProviderParentAndDistinctNames(t *testing.T) {
	a := base()
	b := base()
	b.Namespace = "other"
	m, err := run(t, map[string]certificates.Args{"one": a, "two": b})
	require.NoError(t, err)
	certs := m.OfType("kubernetes:cert-manager.io/v1:Certificate")
	// Five certificates per instance, named from the instance, each in the instance's namespace.
	got := map[string]string{}
	for _, c := range certs {
		got[c.Name] = c.Namespace()
	}
	require.Equal(t, map[string]string{
		"one-postgres-server": "nautobot", "one-redis-server": "nautobot", "one-replication": "nautobot", "one-global-client": "nautobot", "one-site-dfw1": "nautobot",
		"two-postgres-server": "other", "two-redis-server": "other", "two-replication": "other", "two-global-client": "other", "two-site-dfw1": "other",
	}, got)
	for _, c := range certs {
		require.Contains(t, c.Provider, "pulumi:providers:kubernetes::k8s::")
		require.Contains(t, c.Parent, "nautobot:certificates:MTLSCertificates::")
		require.False(t, c.Protect, "leaf certificates are re-issued by cert-manager; they need no protection")
	}
}

func TestPKCS8EncodingChangesTheSitePEMType(t *testing.T) {
	a := base()
	a.KeyEncoding = "PKCS8"
	require.Equal(t, "PRIVATE KEY", a.Defaults().PEMKeyType())
	require.Equal(t, "EC PRIVATE KEY", base().Defaults().PEMKeyType())
	m, err := run(t, map[string]certificates.Args{"c": a})
	require.NoError(t, err)
	r, ok := m.Find("kubernetes:cert-manager.io/v1:Certificate", "c-site-dfw1")
	require.True(t, ok)
	require.Equal(t, "PKCS8", r.Plain()["spec"].(map[string]any)["privateKey"].(map[string]any)["encoding"])
}

// Usages follow who presents each key to whom (README "Certificate usages"): the Redis server's key is
// also a Redis client (the chart's probes, tls-replication), so it needs clientAuth as well.
func TestUsagesFollowWhoPresentsTheKey(t *testing.T) {
	ecdsa := map[string][]any{
		"c-postgres-server": {"digital signature", "server auth"},
		"c-redis-server":    {"digital signature", "server auth", "client auth"},
		"c-replication":     {"digital signature", "client auth"},
		"c-global-client":   {"digital signature", "client auth"},
		"c-site-dfw1":       {"digital signature", "client auth"},
	}
	rsa := map[string][]any{}
	for name, u := range ecdsa {
		rsa[name] = append([]any{"digital signature", "key encipherment"}, u[1:]...)
	}
	for _, tc := range []struct {
		algorithm string
		want      map[string][]any
	}{{"ECDSA", ecdsa}, {"RSA", rsa}, {"Ed25519", ecdsa}} {
		t.Run(tc.algorithm, func(t *testing.T) {
			a := base()
			a.KeyAlgorithm = tc.algorithm
			if tc.algorithm == "Ed25519" {
				a.KeyEncoding = "PKCS8"
			}
			m, err := run(t, map[string]certificates.Args{"c": a})
			require.NoError(t, err)
			got := map[string][]any{}
			for _, r := range m.OfType("kubernetes:cert-manager.io/v1:Certificate") {
				got[r.Name] = r.Plain()["spec"].(map[string]any)["usages"].([]any)
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func TestValidation(t *testing.T) {
	cases := []struct {
		name string
		edit func(*certificates.Args)
		want string
	}{
		{"secret reused", func(a *certificates.Args) { a.Redis.SecretName = "nautobot-cluster-server-tls" },
			`redis.secretName: "nautobot-cluster-server-tls" is also used by postgres.secretName`},
		{"site secret collides", func(a *certificates.Args) { a.GlobalClientSecret = "nautobot-mtls-client-dfw1" },
			`siteClientSecretPrefix: site "dfw1"'s secret "nautobot-mtls-client-dfw1" collides with globalClientSecret`},
		{"renew after expiry", func(a *certificates.Args) { a.ClientRenewBefore = "30000h" },
			"clientRenewBefore: 30000h must be shorter than clientDuration 8760h"},
		{"days are not durations", func(a *certificates.Args) { a.ServerDuration = "365d" },
			`serverDuration: "365d" is not a valid duration`},
		{"unknown encoding", func(a *certificates.Args) { a.KeyEncoding = "DER" },
			`keyEncoding: "DER" is not supported; use one of PKCS1, PKCS8`},
		{"Ed25519 needs PKCS8", func(a *certificates.Args) { a.KeyAlgorithm = "Ed25519" },
			"keyEncoding: Ed25519 keys are always PKCS8"},
		{"bad extra SAN", func(a *certificates.Args) { a.Postgres.ExtraDNSNames = []string{"Bad_Name"} },
			`postgres.extraDnsNames[0]: "Bad_Name" is not a valid Kubernetes object name`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := base()
			tc.edit(&a)
			m, err := run(t, map[string]certificates.Args{"c": a})
			require.ErrorContains(t, err, tc.want)
			m.RequireNothingRegistered(t)
		})
	}
}

func TestCertificatesBesideASeparateIssuerAreDelivered(t *testing.T) {
	a := base()
	a.IssuerNamespace = "pki"
	a.Delivery = certificates.Delivery{Store: "mtls-ca-delivery", RefreshInterval: "1h0m0s"}
	m, err := run(t, map[string]certificates.Args{"certs": a})
	require.NoError(t, err)
	certs := m.OfType("kubernetes:cert-manager.io/v1:Certificate")
	require.Len(t, certs, 5)
	for _, c := range certs {
		require.Equal(t, "pki", c.Namespace(), "%s is beside its Issuer", c.Name)
		secret := c.Plain()["spec"].(map[string]any)["secretName"].(string)
		push := m.MustFind(t, "kubernetes:external-secrets.io/v1alpha1:PushSecret", c.Name+"-delivery")
		require.Equal(t, "pki", push.Namespace())
		spec := push.Plain()["spec"].(map[string]any)
		require.Equal(t, []any{map[string]any{"kind": "SecretStore", "name": "mtls-ca-delivery"}}, spec["secretStoreRefs"])
		require.Equal(t, map[string]any{"secret": map[string]any{"name": secret}}, spec["selector"])
		require.Equal(t, "1h0m0s", spec["refreshInterval"])
		require.Equal(t, "None", spec["deletionPolicy"], "the Secret outlives its PushSecret")
		m.RequireAfter(t, push, c)
	}
	dns := m.MustFind(t, "kubernetes:cert-manager.io/v1:Certificate", "certs-postgres-server").Plain()["spec"].(map[string]any)["dnsNames"]
	require.Contains(t, dns, "db-rw.nautobot.svc", "the SANs name the application namespace's services, not the Issuer's")
}

func TestCertificatesApartFromTheApplicationNamespaceNeedAStore(t *testing.T) {
	a := base()
	a.IssuerNamespace = "pki"
	m, err := run(t, map[string]certificates.Args{"certs": a})
	m.RequireRejected(t, err, "certificates: Args.Delivery.Store is required: the Certificates are in pki, apart from nautobot")
}

func TestNoDeliveryBesideTheApplication(t *testing.T) {
	m, err := run(t, map[string]certificates.Args{"certs": base()})
	require.NoError(t, err)
	require.Empty(t, m.OfType("kubernetes:external-secrets.io/v1alpha1:PushSecret"))
}
