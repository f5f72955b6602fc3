package authority_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"

	"nautobot-worker/components/authority"
	"nautobot-worker/internal/mocks"
)

const (
	privateKeyType = "tls:index/privateKey:PrivateKey"
	selfSignedType = "tls:index/selfSignedCert:SelfSignedCert"
	secretType     = "kubernetes:core/v1:Secret"
)

// runPulumiTLS runs the component with root pulumi-tls and returns the monitor and the CA certificate
// output as the program sees it (value, and whether it is a secret).
func runPulumiTLS(t *testing.T, args authority.Args) (m *mocks.Monitor, caCertPEM string, caCertSecret bool) {
	t.Helper()
	args.Root = authority.RootPulumiTLS
	m = &mocks.Monitor{}
	var ca *authority.MTLSAuthority
	require.NoError(t, mocks.RunWithProvider("global", m, func(ctx *pulumi.Context, p *kubernetes.Provider) error {
		args.Provider = p
		var err error
		ca, err = authority.NewMTLSAuthority(ctx, "mtls", &args)
		return err
	}))
	values, secret := mocks.AwaitAll(t, map[string]pulumi.Input{"caCertPem": ca.CACertPEM})
	caCertPEM, _ = values["caCertPem"].(string)
	return m, caCertPEM, secret["caCertPem"]
}

func parseCertificate(t *testing.T, certPEM string) *x509.Certificate {
	t.Helper()
	b, rest := pem.Decode([]byte(certPEM))
	require.NotNil(t, b, "no PEM block in %q", certPEM)
	require.Equal(t, "CERTIFICATE", b.Type)
	require.Empty(t, strings.TrimSpace(string(rest)), "one certificate only")
	c, err := x509.ParseCertificate(b.Bytes)
	require.NoError(t, err)
	return c
}

// With root pulumi-tls the root CA is a PrivateKey and a SelfSignedCert in the state, written to the key
// pair Secret the CA Issuer reads and to the ca.crt-only Secret; nothing of the cert-manager bootstrap
// (self-signed Issuer, CA Certificate) nor of the External Secrets copy (store, reader, ExternalSecret).
func TestPulumiTLSRootRegistersTheCAInTheStateAndWritesBothSecrets(t *testing.T) {
	m, _, _ := runPulumiTLS(t, authority.Args{})
	var got []string
	for _, r := range m.Resources() {
		if r.Type != "pulumi:providers:kubernetes" && r.Type != "nautobot:authority:MTLSAuthority" && r.Type != "pulumi:pulumi:Stack" {
			got = append(got, r.Type+" "+r.Name)
		}
	}
	require.Equal(t, []string{
		"kubernetes:cert-manager.io/v1:Issuer mtls-issuer",
		secretType + " mtls-ca-key-pair",
		secretType + " mtls-ca-public",
		privateKeyType + " mtls-ca-key",
		selfSignedType + " mtls-ca-cert",
	}, got)
	children := m.RequireComponentChildren(t, "nautobot:authority:MTLSAuthority", "mtls")
	require.Len(t, children, 3, "the Issuer and the two Secrets, through the cluster's provider")
	for _, r := range []mocks.Resource{m.MustFind(t, privateKeyType, "mtls-ca-key"), m.MustFind(t, selfSignedType, "mtls-ca-cert")} {
		require.True(t, strings.HasSuffix(r.Parent, "::nautobot:authority:MTLSAuthority::mtls"), "%s has parent %q", r.Name, r.Parent)
		require.NotContains(t, r.Provider, "pulumi:providers:kubernetes", "%s is not a Kubernetes object", r.Name)
	}
}

func TestPulumiTLSRootInputs(t *testing.T) {
	m, caCertPEM, _ := runPulumiTLS(t, authority.Args{})
	require.Equal(t, map[string]any{"algorithm": "ECDSA", "ecdsaCurve": "P256"}, m.MustFind(t, privateKeyType, "mtls-ca-key").Plain())

	cert := m.MustFind(t, selfSignedType, "mtls-ca-cert")
	inputs := cert.Plain()
	require.True(t, cert.IsSecret("privateKeyPem"), "the CA key reaches the certificate as a secret")
	require.True(t, strings.HasPrefix(inputs["privateKeyPem"].(string), "-----BEGIN EC PRIVATE KEY-----"))
	delete(inputs, "privateKeyPem")
	require.Equal(t, map[string]any{
		"subject":             map[string]any{"commonName": "understack-mtls-ca"},
		"isCaCertificate":     true,
		"setSubjectKeyId":     true,
		"validityPeriodHours": float64(87600),
		"earlyRenewalHours":   float64(8760),
		"allowedUses":         []any{"cert_signing", "crl_signing"},
	}, inputs)

	// The mocks sign the certificate from those inputs: the stack hands on what the provider made.
	ca := parseCertificate(t, caCertPEM)
	require.True(t, ca.IsCA)
	require.Equal(t, "understack-mtls-ca", ca.Subject.CommonName)
	require.Equal(t, x509.KeyUsageCertSign|x509.KeyUsageCRLSign, ca.KeyUsage)
	require.Equal(t, 87600*time.Hour, ca.NotAfter.Sub(ca.NotBefore))
}

// The CA key pair Secret holds what cert-manager's CA Issuer reads (type kubernetes.io/tls, tls.crt and
// tls.key, plus ca.crt), with the key as a Pulumi secret; the public Secret holds ca.crt and nothing else.
func TestPulumiTLSRootSecrets(t *testing.T) {
	m, caCertPEM, _ := runPulumiTLS(t, authority.Args{})
	pair := m.MustFind(t, secretType, "mtls-ca-key-pair")
	p := pair.Plain()
	require.Equal(t, "kubernetes.io/tls", p["type"])
	require.Equal(t, map[string]any{"name": "mtls-ca-key-pair", "namespace": "nautobot"}, p["metadata"])
	data := p["stringData"].(map[string]any)
	require.Equal(t, []string{"ca.crt", "tls.crt", "tls.key"}, slices.Sorted(maps.Keys(data)))
	require.Equal(t, caCertPEM, data["tls.crt"])
	require.Equal(t, caCertPEM, data["ca.crt"])
	require.True(t, pair.IsSecret("stringData.tls.key"), "the CA key stays a Pulumi secret")
	require.False(t, pair.IsSecret("metadata"))
	_, err := tls.X509KeyPair([]byte(data["tls.crt"].(string)), []byte(data["tls.key"].(string)))
	require.NoError(t, err, "tls.key is the key of tls.crt")

	issuer := m.MustFind(t, "kubernetes:cert-manager.io/v1:Issuer", "mtls-issuer")
	require.Equal(t, map[string]any{"ca": map[string]any{"secretName": "mtls-ca-key-pair"}}, issuer.Plain()["spec"])
	m.RequireAfter(t, issuer, pair)

	public := m.MustFind(t, secretType, "mtls-ca-public").Plain()
	require.Equal(t, map[string]any{
		"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
		"metadata":   map[string]any{"name": "mtls-ca-cert", "namespace": "nautobot", "labels": map[string]any{"cnpg.io/reload": "true"}},
		"stringData": map[string]any{"ca.crt": caCertPEM},
	}, public, "ca.crt only, labelled for CNPG to reload it")
	require.NotContains(t, caCertPEM, "PRIVATE KEY")
}

func TestPulumiTLSRootCertificateIsAPlainOutput(t *testing.T) {
	_, caCertPEM, secret := runPulumiTLS(t, authority.Args{})
	require.NotEmpty(t, caCertPEM)
	require.False(t, secret, "the CA certificate is public: sites read it from the stack reference")
}

func TestPulumiTLSRootIsProtectedAndRetained(t *testing.T) {
	m, _, _ := runPulumiTLS(t, authority.Args{})
	stateful := map[string]bool{"mtls-ca-key": true, "mtls-ca-cert": true, "mtls-ca-key-pair": true, "mtls-ca-public": true, "mtls-issuer": false}
	for _, r := range m.Resources() {
		want, ok := stateful[r.Name]
		if !ok {
			continue
		}
		require.Equal(t, want, r.Protect, "protect of %s", r.Name)
		require.Equal(t, want, r.RetainOnDelete, "retainOnDelete of %s", r.Name)
		delete(stateful, r.Name)
	}
	require.Empty(t, stateful, "not registered")
}

// Each key cert-manager accepts maps to the tls provider's names, and the mocks, which refuse what the
// provider's schema refuses, make a key of that kind.
func TestPulumiTLSRootKeyFollowsTheAuthoritySettings(t *testing.T) {
	cases := []struct {
		name      string
		algorithm string
		size      int
		inputs    map[string]any
		pemType   string
		check     func(t *testing.T, key any)
	}{
		{"ECDSA P-384", "ECDSA", 384, map[string]any{"algorithm": "ECDSA", "ecdsaCurve": "P384"}, "EC PRIVATE KEY",
			func(t *testing.T, key any) { require.Equal(t, "P-384", key.(*ecdsa.PublicKey).Curve.Params().Name) }},
		{"ECDSA P-521", "ECDSA", 521, map[string]any{"algorithm": "ECDSA", "ecdsaCurve": "P521"}, "EC PRIVATE KEY",
			func(t *testing.T, key any) { require.Equal(t, "P-521", key.(*ecdsa.PublicKey).Curve.Params().Name) }},
		{"RSA 2048", "RSA", 2048, map[string]any{"algorithm": "RSA", "rsaBits": float64(2048)}, "RSA PRIVATE KEY",
			func(t *testing.T, key any) { require.Equal(t, 2048, key.(*rsa.PublicKey).N.BitLen()) }},
		{"Ed25519", "Ed25519", 0, map[string]any{"algorithm": "ED25519"}, "PRIVATE KEY",
			func(t *testing.T, key any) { require.IsType(t, ed25519.PublicKey{}, key) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, caCertPEM, _ := runPulumiTLS(t, authority.Args{KeyAlgorithm: tc.algorithm, KeySize: tc.size, CommonName: "corp-root",
				Duration: "43800h", RenewBefore: "4380h"})
			require.Equal(t, tc.inputs, m.MustFind(t, privateKeyType, "mtls-ca-key").Plain())
			cert := m.MustFind(t, selfSignedType, "mtls-ca-cert").Plain()
			require.Equal(t, float64(43800), cert["validityPeriodHours"])
			require.Equal(t, float64(4380), cert["earlyRenewalHours"])
			require.Equal(t, map[string]any{"commonName": "corp-root"}, cert["subject"])
			key := m.MustFind(t, secretType, "mtls-ca-key-pair").Plain()["stringData"].(map[string]any)["tls.key"].(string)
			require.True(t, strings.HasPrefix(key, "-----BEGIN "+tc.pemType+"-----"), key[:40])
			tc.check(t, parseCertificate(t, caCertPEM).PublicKey)
		})
	}
}

func TestPulumiTLSRootRefusesWhatTheProviderCannotExpress(t *testing.T) {
	cases := []struct {
		name string
		args authority.Args
		want []string
	}{
		{"unknown root", authority.Args{Root: "vault"},
			[]string{`root: "vault" is not supported; use one of cert-manager, pulumi-tls`}},
		{"validity not in whole hours", authority.Args{Root: authority.RootPulumiTLS, Duration: "87600h30m"},
			[]string{"duration: 87600h30m is not a whole number of hours, which root: pulumi-tls needs (the tls provider's validityPeriodHours); use e.g. 87600h"}},
		{"early renewal under an hour", authority.Args{Root: authority.RootPulumiTLS, RenewBefore: "30m"},
			[]string{"renewBefore: 30m is not a whole number of hours, which root: pulumi-tls needs (the tls provider's earlyRenewalHours); use e.g. 1h"}},
		{"an External Secrets store that is not created", authority.Args{Root: authority.RootPulumiTLS,
			CAPublicStore: authority.CAPublicStore{ServerURL: "https://127.0.0.1:26443"}},
			[]string{"caPublicStore: is only used with root: cert-manager"}},
		{"a size the curve table lacks", authority.Args{Root: authority.RootPulumiTLS, KeySize: 224},
			[]string{"keySize: 224 is not an ECDSA curve size; use 256, 384 or 521"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := run(t, tc.args)
			m.RequireRejected(t, err, tc.want...)
		})
	}
}

// The whole-hours rule is the tls provider's: cert-manager takes any Go duration.
func TestCertManagerRootTakesDurationsInMinutes(t *testing.T) {
	m, err := run(t, authority.Args{Duration: "87600h30m", RenewBefore: "30m"})
	require.NoError(t, err)
	require.Equal(t, "87600h30m", spec(t, m, "kubernetes:cert-manager.io/v1:Certificate", "mtls-ca")["duration"])
	require.Empty(t, m.OfType(privateKeyType))
	require.Empty(t, m.OfType(selfSignedType))
}
