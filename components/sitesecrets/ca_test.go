package sitesecrets_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"maps"
	"math/big"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/stretchr/testify/require"

	"nautobot-worker/components/sitesecrets"
)

// certificatePEM mints a self-signed certificate, a CA or a leaf.
func certificatePEM(t *testing.T, cn string, isCA bool) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IsCA: isCA, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// fromGlobalStack is the minimal config with ca.crt from the global stack's CA certificate.
func fromGlobalStack(caPEM string) sitesecrets.Args {
	a := minimal()
	a.MTLS.CAKey, a.MTLS.CAFrom, a.MTLS.CACertPEM = "", sitesecrets.CAFromGlobalStack, caPEM
	return a
}

// With caFrom globalStack the one ExternalSecret still writes the three files of the one kubernetes.io/tls
// secret: the client's two from its item, ca.crt as the CA certificate itself; no CA item is read.
func TestCAFromTheGlobalStackIsWrittenIntoTheTemplate(t *testing.T) {
	ca := certificatePEM(t, "understack-mtls-ca", true)
	m, err := run(t, fromGlobalStack(ca))
	require.NoError(t, err)
	_, spec := external(t, m, "secrets-mtls-client")
	template := spec["target"].(map[string]any)["template"].(map[string]any)
	require.Equal(t, "kubernetes.io/tls", template["type"])
	data := template["data"].(map[string]any)
	require.Equal(t, []string{"ca.crt", "tls.crt", "tls.key"}, slices.Sorted(maps.Keys(data)))
	require.Equal(t, ca, data["ca.crt"])
	require.True(t, strings.HasPrefix(data["tls.crt"].(string), `{{ $pem := .client_password | filterPEM "CERTIFICATE" }}`))
	require.Equal(t, []any{map[string]any{
		"extract": extract("mtls/client-dfw1"),
		"rewrite": []any{map[string]any{"regexp": map[string]any{"source": "(.*)", "target": "client_$1"}}},
	}}, spec["dataFrom"], "only the client item is read")

	b, err := json.Marshal(spec)
	require.NoError(t, err)
	require.NotContains(t, string(b), "PRIVATE KEY-----", "a certificate, never key material")
}

// The literal renders as itself through External Secrets' template engine (Go text/template, with
// filterPEM standing in as in TestMTLSTemplatesFailOnAMissingBlockInsteadOfWritingAnEmptyFile), and a
// bundle with carriage returns or several CAs is re-encoded block by block.
func TestTheCALiteralRendersAsTheCertificate(t *testing.T) {
	one, two := certificatePEM(t, "root-1", true), certificatePEM(t, "root-2", true)
	for _, tc := range []struct{ name, bundle, want string }{
		{"one CA", one, one},
		{"carriage returns", strings.ReplaceAll(one, "\n", "\r\n"), one},
		{"two CAs during a rollover", one + "\n" + two, one + two},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := run(t, fromGlobalStack(tc.bundle))
			require.NoError(t, err)
			_, spec := external(t, m, "secrets-mtls-client")
			literal := spec["target"].(map[string]any)["template"].(map[string]any)["data"].(map[string]any)["ca.crt"].(string)
			tpl, err := template.New("ca.crt").Funcs(template.FuncMap{
				"filterPEM": filterPEM, "fail": func(msg string) (string, error) { return "", errors.New(msg) },
			}).Parse(literal)
			require.NoError(t, err)
			var out bytes.Buffer
			require.NoError(t, tpl.Execute(&out, map[string]string{}))
			require.Equal(t, tc.want, out.String())
		})
	}
}

func TestCASourceIsChecked(t *testing.T) {
	leaf := certificatePEM(t, "app", false)
	ca := certificatePEM(t, "understack-mtls-ca", true)
	with := func(f func(*sitesecrets.Args)) sitesecrets.Args {
		a := fromGlobalStack(ca)
		f(&a)
		return a
	}
	cases := []struct {
		name string
		args sitesecrets.Args
		want []string
	}{
		{"unknown source", with(func(a *sitesecrets.Args) { a.MTLS.CAFrom = "vault" }),
			[]string{`mtls.caFrom: "vault" is not supported; use one of provider, globalStack`}},
		{"a CA item as well", with(func(a *sitesecrets.Args) { a.MTLS.CAKey = "mtls/ca" }),
			[]string{"mtls.caKey: is not read with mtls.caFrom: globalStack (ca.crt comes from the global stack's caCertPem output); remove it, or set mtls.caFrom: provider"}},
		{"a leaf instead of the CA", with(func(a *sitesecrets.Args) { a.MTLS.CACertPEM = leaf }),
			[]string{`mtls.caFrom: globalStack: the global stack's caCertPem output is not a PEM bundle of CA certificates ("app" is not a CA certificate)`}},
		{"a key in the bundle", with(func(a *sitesecrets.Args) {
			a.MTLS.CACertPEM = ca + string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte("k")}))
		}), []string{"mtls.caFrom: globalStack: the global stack's caCertPem output is not a PEM bundle of CA certificates (block 2 is a EC PRIVATE KEY block)"}},
		{"a template action outside the blocks", with(func(a *sitesecrets.Args) { a.MTLS.CACertPEM = ca + `{{ fail "x" }}` }),
			[]string{"(text outside PEM blocks)"}},
		{"headers, where text could hide", with(func(a *sitesecrets.Args) {
			b, _ := pem.Decode([]byte(ca))
			b.Headers = map[string]string{"Comment": "{{ .client_password }}"}
			a.MTLS.CACertPEM = string(pem.EncodeToMemory(b))
		}), []string{"(block 1 has PEM headers)"}},
		{"no certificate read from the global stack", with(func(a *sitesecrets.Args) { a.MTLS.CACertPEM = "" }),
			[]string{"sitesecrets: Args.MTLS.CACertPEM is required with mtls.caFrom: globalStack (the global stack's caCertPem output)"}},
		{"no CA item in provider mode", with(func(a *sitesecrets.Args) { a.MTLS.CAFrom, a.MTLS.CACertPEM = "", "" }),
			[]string{"mtls.caKey: is required"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := run(t, tc.args)
			m.RequireRejected(t, err, tc.want...)
		})
	}
}
