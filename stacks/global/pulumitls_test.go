package global_test

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/mocks"
	"nautobot-worker/stacks/global"
)

const (
	secretType     = "kubernetes:core/v1:Secret"
	privateKeyType = "tls:index/privateKey:PrivateKey"
	selfSignedType = "tls:index/selfSignedCert:SelfSignedCert"
)

// buildWithSecretness is build, keeping which outputs are secret.
func buildWithSecretness(t *testing.T, config map[string]string) (result, map[string]bool) {
	t.Helper()
	m := &mocks.Monitor{}
	var out map[string]pulumi.Input
	require.NoError(t, mocks.Run("global", config, m, func(ctx *pulumi.Context) error {
		var err error
		out, err = global.Build(ctx)
		return err
	}))
	outputs, secret := mocks.AwaitAll(t, out)
	return result{m: m, outputs: outputs}, secret
}

func pulumiTLSConfig() map[string]string {
	return with(baseConfig(), "authority", `{"root":"pulumi-tls"}`)
}

// With authority.root pulumi-tls the stack holds the root CA (PrivateKey, SelfSignedCert) and writes its
// two Secrets; the cert-manager bootstrap and the External Secrets copy of ca.crt are gone, the rest of
// the stack is the same.
func TestPulumiTLSRootReplacesTheBootstrapAndTheCopy(t *testing.T) {
	def, err := build(t, baseConfig())
	require.NoError(t, err)
	tlsRoot, _ := buildWithSecretness(t, pulumiTLSConfig())
	added, removed := resourceDiff(def, tlsRoot)
	require.ElementsMatch(t, []string{
		privateKeyType + " mtls-ca-key", selfSignedType + " mtls-ca-cert",
		secretType + " mtls-ca-key-pair", secretType + " mtls-ca-public",
	}, added)
	require.ElementsMatch(t, []string{
		"kubernetes:cert-manager.io/v1:Issuer mtls-selfsigned", certificate + " mtls-ca",
		"kubernetes:core/v1:ServiceAccount mtls-ca-reader", "kubernetes:rbac.authorization.k8s.io/v1:Role mtls-ca-reader",
		"kubernetes:rbac.authorization.k8s.io/v1:RoleBinding mtls-ca-reader",
		"kubernetes:external-secrets.io/v1:SecretStore mtls-ca-store", "kubernetes:external-secrets.io/v1:ExternalSecret mtls-ca-public",
	}, removed)
	for _, x := range tlsRoot.m.Resources() {
		if strings.HasPrefix(x.Type, "kubernetes:") {
			require.True(t, strings.HasPrefix(x.Provider, "urn:pulumi:global::nautobot-worker::pulumi:providers:kubernetes::global::"),
				"%s %s has provider %q", x.Type, x.Name, x.Provider)
		}
	}
	for _, name := range []string{"mtls-ca-key-pair", "mtls-ca-public"} {
		s := tlsRoot.m.MustFind(t, secretType, name)
		require.True(t, s.Protect && s.RetainOnDelete, "%s is stateful", name)
		require.Equal(t, "nautobot", s.Namespace())
	}
	require.True(t, tlsRoot.m.MustFind(t, secretType, "mtls-ca-key-pair").IsSecret("stringData.tls.key"))
}

// caCertPem is the CA certificate in plain text, for the site stacks; caSource says which root made it.
// No output carries the key.
func TestPulumiTLSRootExportsTheCACertificate(t *testing.T) {
	r, secret := buildWithSecretness(t, pulumiTLSConfig())
	require.Equal(t, "pulumi-tls", r.outputs["caSource"])
	require.False(t, secret["caCertPem"], "a certificate is public; sites read it from the stack reference")
	caPEM := r.outputs["caCertPem"].(string)
	b, rest := pem.Decode([]byte(caPEM))
	require.NotNil(t, b)
	require.Empty(t, strings.TrimSpace(string(rest)))
	ca, err := x509.ParseCertificate(b.Bytes)
	require.NoError(t, err)
	require.True(t, ca.IsCA)
	require.Equal(t, "understack-mtls-ca", ca.Subject.CommonName)
	// The same certificate the CA Issuer signs with and CNPG trusts.
	require.Equal(t, caPEM, r.m.MustFind(t, secretType, "mtls-ca-key-pair").Plain()["stringData"].(map[string]any)["tls.crt"])
	require.Equal(t, map[string]any{"ca.crt": caPEM}, r.m.MustFind(t, secretType, "mtls-ca-public").Plain()["stringData"])

	encoded, err := json.Marshal(r.outputs)
	require.NoError(t, err)
	require.NotContains(t, string(encoded), "PRIVATE KEY-----", "the CA key is never exported")
}

func TestCertManagerRootExportsItsSourceAndNoCertificate(t *testing.T) {
	r, err := build(t, baseConfig())
	require.NoError(t, err)
	require.Equal(t, "cert-manager", r.outputs["caSource"])
	require.NotContains(t, r.outputs, "caCertPem", "the certificate exists only in the global cluster")
}

// The orderings of the cert-manager root hold with the Secrets as the writers: the CA Issuer waits for the
// key pair it signs with, every certificate for its Issuer, the database for the ca.crt-only Secret.
func TestPulumiTLSRootIsCreatedInOrder(t *testing.T) {
	r, _ := buildWithSecretness(t, pulumiTLSConfig())
	writers := r.m.SecretWriters()
	issuer := r.m.MustFind(t, issuerType, "mtls-issuer")
	pair := writers["nautobot/mtls-ca-key-pair"]
	require.Equal(t, secretType+" mtls-ca-key-pair", pair.Type+" "+pair.Name)
	r.m.RequireAfter(t, issuer, pair)
	for _, c := range r.m.OfType(certificate) {
		r.m.RequireAfter(t, c, issuer)
	}
	cluster := r.m.MustFind(t, "kubernetes:postgresql.cnpg.io/v1:Cluster", "db-cluster")
	public := writers["nautobot/mtls-ca-cert"]
	require.Equal(t, secretType+" mtls-ca-public", public.Type+" "+public.Name)
	r.m.RequireAfter(t, cluster, public)
	// The key pair Secret is written from the certificate, which is signed with the key.
	r.m.RequireAfter(t, pair, r.m.MustFind(t, selfSignedType, "mtls-ca-cert"), r.m.MustFind(t, privateKeyType, "mtls-ca-key"))
}

func TestAuthorityRootIsChecked(t *testing.T) {
	cases := []struct {
		name   string
		config map[string]string
		want   []string
	}{
		{"unknown root", with(baseConfig(), "authority", `{"root":"tls"}`),
			[]string{`config authority.root: "tls" is not supported; use one of cert-manager, pulumi-tls`}},
		{"validity in minutes", with(baseConfig(), "authority", `{"root":"pulumi-tls","duration":"100h30m","renewBefore":"10h"}`),
			[]string{"config authority.duration: 100h30m is not a whole number of hours, which root: pulumi-tls needs"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := build(t, tc.config)
			r.m.RequireRejected(t, err, tc.want...)
		})
	}
}
