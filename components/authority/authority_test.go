package authority_test

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"

	"nautobot-worker/components/authority"
	"nautobot-worker/internal/mocks"
)

func run(t *testing.T, args authority.Args) (*mocks.Monitor, error) {
	t.Helper()
	m := &mocks.Monitor{}
	err := mocks.RunWithProvider("global", m, func(ctx *pulumi.Context, p *kubernetes.Provider) error {
		args.Provider = p
		_, err := authority.NewMTLSAuthority(ctx, "mtls", &args)
		return err
	})
	return m, err
}

func spec(t *testing.T, m *mocks.Monitor, typ, name string) map[string]any {
	t.Helper()
	r, ok := m.Find(typ, name)
	require.True(t, ok, "missing %s %s", typ, name)
	return r.Plain()["spec"].(map[string]any)
}

func TestDefaultsMatchTheSeedHierarchy(t *testing.T) {
	m, err := run(t, authority.Args{})
	require.NoError(t, err)

	r, _ := m.Find("kubernetes:cert-manager.io/v1:Issuer", "mtls-selfsigned")
	require.Equal(t, map[string]any{"name": "mtls-selfsigned", "namespace": "nautobot"}, r.Plain()["metadata"])
	require.Equal(t, map[string]any{"selfSigned": map[string]any{}}, spec(t, m, "kubernetes:cert-manager.io/v1:Issuer", "mtls-selfsigned"))

	require.Equal(t, map[string]any{
		"isCA":        true,
		"commonName":  "understack-mtls-ca",
		"secretName":  "mtls-ca-key-pair",
		"duration":    "87600h",
		"renewBefore": "8760h",
		"privateKey":  map[string]any{"algorithm": "ECDSA", "size": float64(256), "rotationPolicy": "Never"},
		"usages":      []any{"cert sign", "crl sign"},
		"issuerRef":   map[string]any{"name": "mtls-selfsigned", "kind": "Issuer", "group": "cert-manager.io"},
	}, spec(t, m, "kubernetes:cert-manager.io/v1:Certificate", "mtls-ca"))

	require.Equal(t, map[string]any{"ca": map[string]any{"secretName": "mtls-ca-key-pair"}},
		spec(t, m, "kubernetes:cert-manager.io/v1:Issuer", "mtls-issuer"))

	public := spec(t, m, "kubernetes:external-secrets.io/v1:ExternalSecret", "mtls-ca-public")
	target := public["target"].(map[string]any)
	require.Equal(t, "mtls-ca-cert", target["name"])
	template := target["template"].(map[string]any)
	require.Equal(t, map[string]any{"labels": map[string]any{"cnpg.io/reload": "true"}}, template["metadata"])
	require.Equal(t, map[string]any{"ca.crt": `{{ .cacert | filterPEM "CERTIFICATE" }}`}, template["data"],
		"the public secret must hold ca.crt and nothing else")
	require.Equal(t, []any{map[string]any{
		"secretKey": "cacert", "remoteRef": map[string]any{"key": "mtls-ca-key-pair", "property": "tls.crt"},
	}}, public["data"], "only the certificate is read from the CA secret, never tls.key")

	rules := mustFind(t, m, "kubernetes:rbac.authorization.k8s.io/v1:Role", "mtls-ca-reader").Plain()["rules"]
	require.Equal(t, []any{map[string]any{
		"apiGroups": []any{""}, "resources": []any{"secrets"}, "resourceNames": []any{"mtls-ca-key-pair"},
		"verbs": []any{"get", "list", "watch"},
	}}, rules, "the store's service account may read the CA secret and nothing else")
}

func mustFind(t *testing.T, m *mocks.Monitor, typ, name string) mocks.Resource {
	t.Helper()
	r, ok := m.Find(typ, name)
	require.True(t, ok, "missing %s %s", typ, name)
	return r
}

func TestEveryKubernetesResourceHasTheExplicitProviderAndAParent(t *testing.T) {
	m, err := run(t, authority.Args{})
	require.NoError(t, err)
	require.Len(t, m.RequireComponentChildren(t, "nautobot:authority:MTLSAuthority", "mtls"), 8)
}

func TestStatefulResourcesAreProtectedAndRetained(t *testing.T) {
	m, err := run(t, authority.Args{})
	require.NoError(t, err)
	stateful := map[string]bool{"mtls-ca": true, "mtls-ca-public": true}
	for _, r := range m.Resources() {
		if !strings.HasPrefix(r.Type, "kubernetes:") {
			continue
		}
		require.Equal(t, stateful[r.Name], r.Protect, "protect of %s", r.Name)
		require.Equal(t, stateful[r.Name], r.RetainOnDelete, "retainOnDelete of %s", r.Name)
	}
}

func TestOverridesReachTheResources(t *testing.T) {
	m, err := run(t, authority.Args{
		Namespace: "pki", CommonName: "corp-root", KeyAlgorithm: "RSA", Duration: "43800h", RenewBefore: "4380h",
		CASecret: "root-pair", Issuer: "root-issuer", CAPublicSecret: "root-public", SelfSignedIssuer: "boot", CACertificate: "root",
	})
	require.NoError(t, err)
	ca := spec(t, m, "kubernetes:cert-manager.io/v1:Certificate", "mtls-ca")
	require.Equal(t, "corp-root", ca["commonName"])
	require.Equal(t, map[string]any{"algorithm": "RSA", "size": float64(4096), "rotationPolicy": "Never"}, ca["privateKey"])
	require.Equal(t, "root-pair", ca["secretName"])
	require.Equal(t, "boot", ca["issuerRef"].(map[string]any)["name"])
	r := mustFind(t, m, "kubernetes:cert-manager.io/v1:Certificate", "mtls-ca")
	require.Equal(t, map[string]any{"name": "root", "namespace": "pki"}, r.Plain()["metadata"])
	require.Equal(t, "root-public", spec(t, m, "kubernetes:external-secrets.io/v1:ExternalSecret", "mtls-ca-public")["target"].(map[string]any)["name"])
}

func TestTwoAuthoritiesDoNotCollide(t *testing.T) {
	m := &mocks.Monitor{}
	err := mocks.RunWithProvider("global", m, func(ctx *pulumi.Context, p *kubernetes.Provider) error {
		if _, err := authority.NewMTLSAuthority(ctx, "a", &authority.Args{Provider: p, Namespace: "one"}); err != nil {
			return err
		}
		_, err := authority.NewMTLSAuthority(ctx, "b", &authority.Args{Provider: p, Namespace: "two"})
		return err
	})
	require.NoError(t, err)
	require.Len(t, m.OfType("kubernetes:cert-manager.io/v1:Certificate"), 2)
}

func TestInvalidArgsFailBeforeAnyResourceIsRegistered(t *testing.T) {
	cases := []struct {
		name string
		args authority.Args
		want []string
	}{
		{"duration in years", authority.Args{Duration: "10y"},
			[]string{`config authority.duration: "10y" is not a valid duration; use hours, minutes or seconds such as 87600h`}},
		{"renewBefore longer than duration", authority.Args{Duration: "8760h", RenewBefore: "9000h"},
			[]string{"config authority.renewBefore: 9000h must be shorter than duration 8760h"}},
		{"unknown key algorithm", authority.Args{KeyAlgorithm: "DSA"},
			[]string{`config authority.keyAlgorithm: "DSA" is not supported; use one of ECDSA, RSA, Ed25519`}},
		{"bad ECDSA size", authority.Args{KeySize: 2048},
			[]string{"config authority.keySize: 2048 is not an ECDSA curve size; use 256, 384 or 521"}},
		{"empty common name", authority.Args{CommonName: " "},
			[]string{"config authority.commonName: must not be empty"}},
		{"invalid names", authority.Args{Namespace: "Nautobot", Issuer: "mtls_ca"},
			[]string{`config authority.namespace: "Nautobot" is not a valid DNS label`, `config authority.issuer: "mtls_ca" is not a valid Kubernetes object name`}},
		{"public secret equals CA secret", authority.Args{CAPublicSecret: "mtls-ca-key-pair"},
			[]string{`config authority.caPublicSecret: must differ from caSecret ("mtls-ca-key-pair")`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := run(t, tc.args)
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			m.RequireNothingRegistered(t)
		})
	}
}
