package authority_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"

	"nautobot-worker/components/authority"
	"nautobot-worker/internal/mocks"
)

func run(t *testing.T, args authority.Args) (*mocks.Monitor, error) {
	t.Helper()
	return mocks.Component("global", "mtls", args, authority.NewMTLSAuthority)
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
	require.Equal(t, "1h0m0s", public["refreshInterval"], "the spelling the External Secrets controller writes back, or a refresh makes the next up conflict")
	target := public["target"].(map[string]any)
	require.Equal(t, "mtls-ca-cert", target["name"])
	template := target["template"].(map[string]any)
	require.Equal(t, map[string]any{"labels": map[string]any{"cnpg.io/reload": "true"}}, template["metadata"])
	require.Equal(t, map[string]any{"ca.crt": `{{ .cacert | filterPEM "CERTIFICATE" }}`}, template["data"],
		"the public secret must hold ca.crt and nothing else")
	require.Equal(t, []any{map[string]any{
		"secretKey": "cacert", "remoteRef": map[string]any{"key": "mtls-ca-key-pair", "property": "tls.crt",
			"conversionStrategy": "Default", "decodingStrategy": "None", "metadataPolicy": "None"},
	}}, public["data"], "only the certificate is read from the CA secret, never tls.key")

	rules := mustFind(t, m, "kubernetes:rbac.authorization.k8s.io/v1:Role", "mtls-ca-reader").Plain()["rules"]
	require.Equal(t, []any{map[string]any{
		"apiGroups": []any{""}, "resources": []any{"secrets"}, "resourceNames": []any{"mtls-ca-key-pair"},
		"verbs": []any{"get"},
	}}, rules, "the store's service account may get the CA secret and nothing else: no list, no watch")
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
	require.Equal(t, []string{
		"kubernetes:cert-manager.io/v1:Certificate mtls-ca",
		"kubernetes:cert-manager.io/v1:Issuer mtls-issuer",
		"kubernetes:cert-manager.io/v1:Issuer mtls-selfsigned",
		"kubernetes:core/v1:ServiceAccount mtls-ca-reader",
		"kubernetes:external-secrets.io/v1:ExternalSecret mtls-ca-public",
		"kubernetes:external-secrets.io/v1:SecretStore mtls-ca-store",
		"kubernetes:rbac.authorization.k8s.io/v1:Role mtls-ca-reader",
		"kubernetes:rbac.authorization.k8s.io/v1:RoleBinding mtls-ca-reader",
	}, mocks.Refs(m.RequireComponentChildren(t, "nautobot:authority:MTLSAuthority", "mtls")))
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
	// Each instance's objects carry its own Pulumi names and land in its own namespace.
	got := map[string]string{}
	for _, r := range m.Resources() {
		if strings.HasPrefix(r.Type, "kubernetes:") {
			got[r.Type+" "+r.Name] = r.Namespace()
		}
	}
	want := map[string]string{}
	for instance, namespace := range map[string]string{"a": "one", "b": "two"} {
		for _, child := range []string{
			"cert-manager.io/v1:Certificate -ca", "cert-manager.io/v1:Issuer -issuer", "cert-manager.io/v1:Issuer -selfsigned",
			"core/v1:ServiceAccount -ca-reader", "external-secrets.io/v1:ExternalSecret -ca-public",
			"external-secrets.io/v1:SecretStore -ca-store", "rbac.authorization.k8s.io/v1:Role -ca-reader",
			"rbac.authorization.k8s.io/v1:RoleBinding -ca-reader",
		} {
			want["kubernetes:"+strings.Replace(child, " -", " "+instance+"-", 1)] = namespace
		}
	}
	require.Equal(t, want, got)
}

// keyPEM is a key block, which must never pass as a CA bundle.
func keyPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
}

// caPEM is a freshly minted self-signed CA certificate.
func caPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "api-server-ca"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestCAPublicStoreReachesTheAPIServer(t *testing.T) {
	bundle := caPEM(t) + caPEM(t)
	kubeRootCA := map[string]any{"type": "ConfigMap", "name": "kube-root-ca.crt", "key": "ca.crt"}
	cases := []struct {
		name  string
		store authority.CAPublicStore
		want  map[string]any
	}{
		{"default: in-cluster address and the cluster's own CA", authority.CAPublicStore{},
			map[string]any{"caProvider": kubeRootCA}},
		{"a URL for a controller outside the cluster keeps the cluster's CA",
			authority.CAPublicStore{ServerURL: "https://127.0.0.1:26443"},
			map[string]any{"url": "https://127.0.0.1:26443", "caProvider": kubeRootCA}},
		{"a CA bundle replaces the ConfigMap",
			authority.CAPublicStore{ServerURL: "https://api.global.example.com:6443/", CABundle: bundle},
			map[string]any{"url": "https://api.global.example.com:6443/", "caBundle": base64.StdEncoding.EncodeToString([]byte(bundle))}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := run(t, authority.Args{CAPublicStore: tc.store})
			require.NoError(t, err)
			k8s := spec(t, m, "kubernetes:external-secrets.io/v1:SecretStore", "mtls-ca-store")["provider"].(map[string]any)["kubernetes"].(map[string]any)
			require.Equal(t, tc.want, k8s["server"])
			require.Equal(t, "nautobot", k8s["remoteNamespace"])
			require.Equal(t, map[string]any{"serviceAccount": map[string]any{"name": "mtls-ca-cert-reader"}}, k8s["auth"])
		})
	}
}

func TestInvalidArgsFailBeforeAnyResourceIsRegistered(t *testing.T) {
	cases := []struct {
		name string
		args authority.Args
		want []string
	}{
		{"duration in years", authority.Args{Duration: "10y"},
			[]string{`duration: "10y" is not a valid duration; use hours, minutes or seconds such as 87600h`}},
		{"renewBefore longer than duration", authority.Args{Duration: "8760h", RenewBefore: "9000h"},
			[]string{"renewBefore: 9000h must be shorter than duration 8760h"}},
		{"unknown key algorithm", authority.Args{KeyAlgorithm: "DSA"},
			[]string{`keyAlgorithm: "DSA" is not supported; use one of ECDSA, RSA, Ed25519`}},
		{"bad ECDSA size", authority.Args{KeySize: 2048},
			[]string{"keySize: 2048 is not an ECDSA curve size; use 256, 384 or 521"}},
		{"empty common name", authority.Args{CommonName: " "},
			[]string{"commonName: must not be empty"}},
		{"invalid names", authority.Args{Namespace: "Nautobot", Issuer: "mtls_ca"},
			[]string{`namespace: "Nautobot" is not a valid DNS label`, `issuer: "mtls_ca" is not a valid Kubernetes object name`}},
		{"public secret equals CA secret", authority.Args{CAPublicSecret: "mtls-ca-key-pair"},
			[]string{`caPublicSecret: must differ from caSecret ("mtls-ca-key-pair")`}},
		{"store server URL without https", authority.Args{CAPublicStore: authority.CAPublicStore{ServerURL: "http://127.0.0.1:6443"}},
			[]string{`caPublicStore.serverUrl: "http://127.0.0.1:6443" is not an API server URL; use https://<host>[:<port>]`}},
		{"store server URL that is a bare host", authority.Args{CAPublicStore: authority.CAPublicStore{ServerURL: "kubernetes.default"}},
			[]string{`caPublicStore.serverUrl: "kubernetes.default" is not an API server URL`}},
		{"store server URL with a path", authority.Args{CAPublicStore: authority.CAPublicStore{ServerURL: "https://api.example.com/api/v1"}},
			[]string{`caPublicStore.serverUrl: "https://api.example.com/api/v1" is not an API server URL`}},
		{"store CA bundle that is not PEM", authority.Args{CAPublicStore: authority.CAPublicStore{CABundle: "LS0tLS1CRUdJTi..."}},
			[]string{"caPublicStore.caBundle: is not a PEM bundle of CA certificates (text outside PEM blocks)"}},
		{"store CA bundle of blank lines", authority.Args{CAPublicStore: authority.CAPublicStore{CABundle: "\n \n"}},
			[]string{"caPublicStore.caBundle: is not a PEM bundle of CA certificates (no CERTIFICATE block)"}},
		{"store CA bundle holding a key", authority.Args{CAPublicStore: authority.CAPublicStore{CABundle: caPEM(t) + keyPEM(t)}},
			[]string{"caPublicStore.caBundle: is not a PEM bundle of CA certificates (it holds a EC PRIVATE KEY block)"}},
		{"store CA bundle with a corrupt certificate", authority.Args{CAPublicStore: authority.CAPublicStore{
			CABundle: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}},
			[]string{"caPublicStore.caBundle: is not a PEM bundle of CA certificates (certificate 1: x509: "}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := run(t, tc.args)
			m.RequireRejected(t, err, tc.want...)
		})
	}
}

func TestASeparateNamespaceDeliversAndReadsNothing(t *testing.T) {
	for _, tc := range []struct {
		root     string
		children []string
	}{
		{authority.RootCertManager, []string{
			"kubernetes:cert-manager.io/v1:Certificate mtls-ca",
			"kubernetes:cert-manager.io/v1:Issuer mtls-issuer",
			"kubernetes:cert-manager.io/v1:Issuer mtls-selfsigned",
			"kubernetes:core/v1:ServiceAccount mtls-delivery",
			"kubernetes:external-secrets.io/v1:SecretStore mtls-delivery",
			"kubernetes:external-secrets.io/v1alpha1:PushSecret mtls-ca-public",
			"kubernetes:rbac.authorization.k8s.io/v1:Role mtls-delivery",
			"kubernetes:rbac.authorization.k8s.io/v1:RoleBinding mtls-delivery",
		}},
		{authority.RootPulumiTLS, []string{
			"kubernetes:cert-manager.io/v1:Issuer mtls-issuer",
			"kubernetes:core/v1:Secret mtls-ca-key-pair",
			"kubernetes:core/v1:Secret mtls-ca-public",
			"kubernetes:core/v1:ServiceAccount mtls-delivery",
			"kubernetes:external-secrets.io/v1:SecretStore mtls-delivery",
			"kubernetes:rbac.authorization.k8s.io/v1:Role mtls-delivery",
			"kubernetes:rbac.authorization.k8s.io/v1:RoleBinding mtls-delivery",
		}},
	} {
		t.Run(tc.root, func(t *testing.T) {
			m, err := run(t, authority.Args{Root: tc.root, Namespace: "pki", AppNamespace: "nautobot", IssuedSecrets: []string{"server-tls"}})
			require.NoError(t, err)
			require.ElementsMatch(t, tc.children, mocks.Refs(m.RequireComponentChildren(t, "nautobot:authority:MTLSAuthority", "mtls")))
			namespaces := map[string]string{}
			for _, r := range m.Resources() {
				if strings.HasPrefix(r.Type, "kubernetes:") {
					namespaces[r.Type+" "+r.Name] = r.Namespace()
				}
			}
			for ref, ns := range namespaces {
				switch {
				case strings.Contains(ref, ":Role") || ref == "kubernetes:core/v1:Secret mtls-ca-public":
					require.Equal(t, "nautobot", ns, "%s writes or grants in the application namespace", ref)
				default:
					require.Equal(t, "pki", ns, ref)
				}
			}
			verbs := map[string]bool{}
			for _, rule := range mustFind(t, m, "kubernetes:rbac.authorization.k8s.io/v1:Role", "mtls-delivery").Plain()["rules"].([]any) {
				for _, v := range rule.(map[string]any)["verbs"].([]any) {
					verbs[v.(string)] = true
				}
			}
			require.Equal(t, map[string]bool{"get": true, "update": true, "create": true}, verbs, "no list, watch or delete")
		})
	}
}

func TestIssuedSecretsMustNotTakeTheCAsNames(t *testing.T) {
	m, err := run(t, authority.Args{IssuedSecrets: []string{"mtls-ca-key-pair", "mtls-ca", "mtls-ca-cert"}})
	m.RequireRejected(t, err,
		`caSecret: "mtls-ca-key-pair" is also the name of an issued certificate's secret`,
		`caCertificate: "mtls-ca" is also the name of an issued certificate's secret`,
		`caPublicSecret: "mtls-ca-cert" is also the name of an issued certificate's secret`)
}
