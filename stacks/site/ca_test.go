package site_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/mocks"
	"nautobot-worker/stacks/global"
	"nautobot-worker/stacks/site"
)

// caFromGlobalStack is the base config with ca.crt from the global stack instead of a provider item.
func caFromGlobalStack() map[string]string {
	return with(baseConfig(), "secrets", strings.Replace(baseConfig()["secrets"], `"caKey":"mtls/ca"`, `"caFrom":"globalStack"`, 1))
}

// pulumiTLSGlobalOutputs runs the global program with authority.root pulumi-tls under mocks (which sign
// the CA as the tls provider would) and returns what it exports.
func pulumiTLSGlobalOutputs(t *testing.T) map[string]any {
	t.Helper()
	var out map[string]pulumi.Input
	require.NoError(t, mocks.Run("global", map[string]string{
		"kubernetes": `{"kubeconfig":"/tmp/kubeconfig"}`,
		"sites":      `[{"name":"dfw1"},{"name":"iad1"},{"name":"lon1"}]`,
		"gateway":    `{"domain":"prod.example.com"}`,
		"authority":  `{"root":"pulumi-tls"}`,
	}, &mocks.Monitor{}, func(ctx *pulumi.Context) error {
		var err error
		out, err = global.Build(ctx)
		return err
	}))
	outputs, _ := mocks.AwaitAll(t, out)
	return outputs
}

// mintCertificate is a self-signed certificate, a CA or not.
func mintCertificate(t testing.TB, isCA bool) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "app"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IsCA: isCA, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// The site writes ca.crt from the global stack's caCertPem: the global program's own output, fed through
// the stack reference, lands in the template of the one kubernetes.io/tls secret the worker mounts.
func TestASiteWritesTheCAFromTheGlobalStack(t *testing.T) {
	outputs := pulumiTLSGlobalOutputs(t)
	ca, ok := outputs["caCertPem"].(string)
	require.True(t, ok, "the global stack exports caCertPem: %v", outputs)
	res, err := build(t, "site-dfw1", caFromGlobalStack(), outputs)
	require.NoError(t, err)

	es := res.m.MustFind(t, esType, "secrets-mtls-client")
	spec := es.Plain()["spec"].(map[string]any)
	template := spec["target"].(map[string]any)["template"].(map[string]any)
	require.Equal(t, "kubernetes.io/tls", template["type"])
	data := template["data"].(map[string]any)
	require.Equal(t, ca, data["ca.crt"])
	require.Contains(t, data["tls.crt"], "client_password", "the client certificate still comes from its item")
	require.Contains(t, data["tls.key"], "client_password")
	require.Len(t, spec["dataFrom"], 1, "no CA item is read")
	require.False(t, es.IsSecret("spec"))
	require.Equal(t, map[string]any{"stack": defaultGlobalStack, "output": "caCertPem"}, res.outputs["caCertSource"])
	require.Equal(t, "nautobot-mtls-client", res.outputs["secrets"].(map[string]any)["mtlsClient"], "the same secret the worker mounts")
}

// A provider-mode site is served by a pulumi-tls global stack as by any other.
func TestAProviderModeSiteIgnoresTheGlobalCACertificate(t *testing.T) {
	res, err := build(t, "site-dfw1", baseConfig(), pulumiTLSGlobalOutputs(t))
	require.NoError(t, err)
	data := res.m.MustFind(t, esType, "secrets-mtls-client").Plain()["spec"].(map[string]any)["target"].(map[string]any)["template"].(map[string]any)["data"].(map[string]any)
	require.True(t, strings.HasPrefix(data["ca.crt"].(string), `{{ $pem := .ca_password | filterPEM "CERTIFICATE" }}`))
	require.Equal(t, map[string]any{"stack": defaultGlobalStack, "namespace": "nautobot", "secret": "mtls-ca-cert"}, res.outputs["caCertSource"])
}

// Cross-stack check (issue 13): caFrom globalStack needs a global stack whose root is pulumi-tls, the only
// one that can export its certificate; the refusal names the key to change on each side, at preview too.
func TestTheCASourceMustBeOneTheGlobalStackServes(t *testing.T) {
	withOutputs := func(kv ...any) map[string]any {
		o := globalOutputs()
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(o, kv[i].(string))
				continue
			}
			o[kv[i].(string)] = kv[i+1]
		}
		return o
	}
	ca, leaf := mintCertificate(t, true), mintCertificate(t, false)
	const fix = "set authority.root: pulumi-tls on the global stack and run `pulumi up` there first, or set secrets.mtls.caFrom: provider with secrets.mtls.caKey"
	cases := []struct {
		name    string
		config  map[string]string
		outputs map[string]any
		want    []string
	}{
		{"a cert-manager root", caFromGlobalStack(), withOutputs("caSource", "cert-manager"),
			[]string{"config secrets.mtls.caFrom: globalStack reads ca.crt from the global stack's caCertPem output, which a global stack exports only with authority.root: pulumi-tls, and this one exports caSource \"cert-manager\"; " + fix}},
		{"a global stack older than caSource", caFromGlobalStack(), globalOutputs(),
			[]string{"this one exports no caSource (it predates authority.root, so its root is cert-manager's); " + fix}},
		{"a pulumi-tls root without the certificate", caFromGlobalStack(), withOutputs("caSource", "pulumi-tls"),
			[]string{`this one exports caSource "pulumi-tls" but no caCertPem; ` + fix}},
		{"a leaf certificate", caFromGlobalStack(), withOutputs("caSource", "pulumi-tls", "caCertPem", leaf),
			[]string{`config secrets.mtls.caFrom: globalStack: the global stack's caCertPem output is not a PEM bundle of CA certificates ("app" is not a CA certificate)`}},
		{"a CA item as well", with(caFromGlobalStack(), "secrets", strings.Replace(caFromGlobalStack()["secrets"], `"caFrom"`, `"caKey":"mtls/ca","caFrom"`, 1)),
			withOutputs("caSource", "pulumi-tls", "caCertPem", ca),
			[]string{"config secrets.mtls.caKey: is not read with mtls.caFrom: globalStack"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, dryRun := range []bool{false, true} {
				m := &mocks.Monitor{StackOutputs: map[string]map[string]any{defaultGlobalStack: tc.outputs}}
				var opts []pulumi.RunOption
				if dryRun {
					opts = append(opts, mocks.DryRun)
				}
				err := mocks.Run("site-dfw1", tc.config, m, func(ctx *pulumi.Context) error { _, err := site.Build(ctx); return err }, opts...)
				require.Error(t, err, "dry run %v", dryRun)
				for _, w := range tc.want {
					require.Contains(t, err.Error(), w, "dry run %v", dryRun)
				}
				for _, r := range m.Resources() {
					require.Equal(t, mocks.StackReferenceType, r.Type, "registered %s %s before the check failed", r.Type, r.Name)
				}
			}
		})
	}
	t.Run("a pulumi-tls root with its certificate passes", func(t *testing.T) {
		res, err := build(t, "site-dfw1", caFromGlobalStack(), withOutputs("caSource", "pulumi-tls", "caCertPem", ca))
		require.NoError(t, err)
		require.Equal(t, ca, res.m.MustFind(t, esType, "secrets-mtls-client").Plain()["spec"].(map[string]any)["target"].(map[string]any)["template"].(map[string]any)["data"].(map[string]any)["ca.crt"])
	})
}
