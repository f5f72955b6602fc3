package distribution_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
	"github.com/stretchr/testify/require"

	"nautobot-worker/components/distribution"
	"nautobot-worker/internal/mocks"
)

const (
	pushType      = "kubernetes:external-secrets.io/v1alpha1:PushSecret"
	componentType = "nautobot:distribution:CertificateDistribution"
	// The concatenated layout's template, as the controller gets it.
	bundleTemplate = "{{ index . \"tls.crt\" | trim }}\n{{ index . \"tls.key\" | trim }}\n"
)

// base is what the global stack passes, with the store the only value a user must set.
func base() distribution.Args {
	return distribution.Args{
		Namespace: "nautobot", CANamespace: "nautobot-ca", CASecret: "mtls-ca-cert",
		Sites: []distribution.Site{
			{Name: "dfw1", Secret: "nautobot-mtls-client-dfw1"},
			{Name: "iad1", Secret: "nautobot-mtls-client-iad1"},
		},
		Store: distribution.Store{Name: "fleet-secrets"},
	}
}

type run struct {
	m          *mocks.Monitor
	remoteKeys map[string]map[string]map[string]string
}

func build(t *testing.T, instances map[string]distribution.Args) (run, error) {
	t.Helper()
	m := &mocks.Monitor{}
	outputs := map[string]pulumi.StringMapMapOutput{}
	err := mocks.RunWithProvider("global", m, func(ctx *pulumi.Context, p *kubernetes.Provider) error {
		for name, a := range instances {
			a.Provider = p
			d, err := distribution.NewCertificateDistribution(ctx, name, &a)
			if err != nil {
				return err
			}
			outputs[name] = d.RemoteKeys
		}
		return nil
	})
	r := run{m: m, remoteKeys: map[string]map[string]map[string]string{}}
	for name, o := range outputs {
		v, err := internals.UnsafeAwaitOutput(t.Context(), o)
		require.NoError(t, err)
		r.remoteKeys[name] = v.Value.(map[string]map[string]string)
	}
	return r, err
}

func push(secretKey, remoteKey, property string) map[string]any {
	return map[string]any{"conversionStrategy": "None", "match": map[string]any{
		"secretKey": secretKey,
		"remoteRef": map[string]any{"remoteKey": remoteKey, "property": property},
	}}
}

// pushSecret is a whole PushSecret as the API server receives it.
func pushSecret(namespace, source string, template map[string]any, data ...any) map[string]any {
	return map[string]any{
		"apiVersion": "external-secrets.io/v1alpha1",
		"kind":       "PushSecret",
		"metadata":   map[string]any{"name": source, "namespace": namespace},
		"spec": map[string]any{
			"secretStoreRefs": []any{map[string]any{"kind": "ClusterSecretStore", "name": "fleet-secrets"}},
			"selector":        map[string]any{"secret": map[string]any{"name": source}},
			"template":        template,
			"data":            data,
			"refreshInterval": "1h0m0s",
			"updatePolicy":    "Replace",
			"deletionPolicy":  "None",
		},
	}
}

var opaque = map[string]any{"engineVersion": "v2", "type": "Opaque"}

func withData(data map[string]any) map[string]any {
	return map[string]any{"engineVersion": "v2", "type": "Opaque", "data": data}
}

// TestEveryPushSecret: one PushSecret per site, whose source is the site's issued secret, and one for
// the CA, whose source is the ca.crt-only secret; each maps the source's keys to the fields the site's
// ExternalSecret reads, in each layout.
func TestEveryPushSecret(t *testing.T) {
	ca := func(property string) map[string]any {
		return pushSecret("nautobot-ca", "mtls-ca-cert", opaque, push("ca.crt", "nautobot-mtls-ca", property))
	}
	for _, tc := range []struct {
		name  string
		edit  func(*distribution.Args)
		want  map[string]map[string]any    // Pulumi name -> the object
		items map[string]map[string]string // the remoteKeys output
	}{
		{
			name: "defaults: certificate and key concatenated in field password, as the seed stores them",
			edit: func(*distribution.Args) {},
			want: map[string]map[string]any{
				"push-ca": ca("password"),
				"push-site-dfw1": pushSecret("nautobot", "nautobot-mtls-client-dfw1", withData(map[string]any{"cert-and-key.pem": bundleTemplate}),
					push("cert-and-key.pem", "nautobot-mtls-client-dfw1", "password")),
				"push-site-iad1": pushSecret("nautobot", "nautobot-mtls-client-iad1", withData(map[string]any{"cert-and-key.pem": bundleTemplate}),
					push("cert-and-key.pem", "nautobot-mtls-client-iad1", "password")),
			},
			items: map[string]map[string]string{
				"dfw1": {"clientKey": "nautobot-mtls-client-dfw1", "caKey": "nautobot-mtls-ca",
					"clientCertProperty": "password", "clientKeyProperty": "password", "caCertProperty": "password"},
				"iad1": {"clientKey": "nautobot-mtls-client-iad1", "caKey": "nautobot-mtls-ca",
					"clientCertProperty": "password", "clientKeyProperty": "password", "caCertProperty": "password"},
			},
		},
		{
			name: "separate fields, default names tls.crt and tls.key",
			edit: func(a *distribution.Args) { a.Layout = distribution.Separate },
			want: map[string]map[string]any{
				"push-ca": ca("password"),
				"push-site-dfw1": pushSecret("nautobot", "nautobot-mtls-client-dfw1", opaque,
					push("tls.crt", "nautobot-mtls-client-dfw1", "tls.crt"), push("tls.key", "nautobot-mtls-client-dfw1", "tls.key")),
				"push-site-iad1": pushSecret("nautobot", "nautobot-mtls-client-iad1", opaque,
					push("tls.crt", "nautobot-mtls-client-iad1", "tls.crt"), push("tls.key", "nautobot-mtls-client-iad1", "tls.key")),
			},
			items: map[string]map[string]string{
				"dfw1": {"clientKey": "nautobot-mtls-client-dfw1", "caKey": "nautobot-mtls-ca",
					"clientCertProperty": "tls.crt", "clientKeyProperty": "tls.key", "caCertProperty": "password"},
				"iad1": {"clientKey": "nautobot-mtls-client-iad1", "caKey": "nautobot-mtls-ca",
					"clientCertProperty": "tls.crt", "clientKeyProperty": "tls.key", "caCertProperty": "password"},
			},
		},
		{
			name: "separate fields with their own names, remote keys under a path",
			edit: func(a *distribution.Args) {
				a.Layout, a.ClientCertProperty, a.ClientKeyProperty, a.CACertProperty = distribution.Separate, "cert", "key", "ca"
				a.ClientKey, a.CAKey = "nautobot/{site}/mtls-client", "nautobot/mtls-ca"
				a.Sites = a.Sites[:1]
			},
			want: map[string]map[string]any{
				"push-ca": pushSecret("nautobot-ca", "mtls-ca-cert", opaque, push("ca.crt", "nautobot/mtls-ca", "ca")),
				"push-site-dfw1": pushSecret("nautobot", "nautobot-mtls-client-dfw1", opaque,
					push("tls.crt", "nautobot/dfw1/mtls-client", "cert"), push("tls.key", "nautobot/dfw1/mtls-client", "key")),
			},
			items: map[string]map[string]string{
				"dfw1": {"clientKey": "nautobot/dfw1/mtls-client", "caKey": "nautobot/mtls-ca",
					"clientCertProperty": "cert", "clientKeyProperty": "key", "caCertProperty": "ca"},
			},
		},
		{
			name: "per-site Redis users: each site's password pushed from its Secret to the site's secrets.redis item",
			edit: func(a *distribution.Args) {
				a.RedisNamespace = "nautobot-app"
				a.Sites[0].RedisSecret, a.Sites[1].RedisSecret = "nautobot-redis-site-dfw1", "nautobot-redis-site-iad1"
			},
			want: map[string]map[string]any{
				"push-ca": ca("password"),
				"push-site-dfw1": pushSecret("nautobot", "nautobot-mtls-client-dfw1", withData(map[string]any{"cert-and-key.pem": bundleTemplate}),
					push("cert-and-key.pem", "nautobot-mtls-client-dfw1", "password")),
				"push-site-iad1": pushSecret("nautobot", "nautobot-mtls-client-iad1", withData(map[string]any{"cert-and-key.pem": bundleTemplate}),
					push("cert-and-key.pem", "nautobot-mtls-client-iad1", "password")),
				// Only the password: the user name is the site's identity, not a secret.
				"push-redis-dfw1": pushSecret("nautobot-app", "nautobot-redis-site-dfw1", opaque, push("password", "nautobot-redis-dfw1", "password")),
				"push-redis-iad1": pushSecret("nautobot-app", "nautobot-redis-site-iad1", opaque, push("password", "nautobot-redis-iad1", "password")),
			},
			items: map[string]map[string]string{
				"dfw1": {"clientKey": "nautobot-mtls-client-dfw1", "caKey": "nautobot-mtls-ca",
					"clientCertProperty": "password", "clientKeyProperty": "password", "caCertProperty": "password",
					"redisKey": "nautobot-redis-dfw1", "redisProperty": "password"},
				"iad1": {"clientKey": "nautobot-mtls-client-iad1", "caKey": "nautobot-mtls-ca",
					"clientCertProperty": "password", "clientKeyProperty": "password", "caCertProperty": "password",
					"redisKey": "nautobot-redis-iad1", "redisProperty": "password"},
			},
		},
		{
			name: "a Redis item under a path, in a field of its own name",
			edit: func(a *distribution.Args) {
				a.RedisNamespace, a.RedisKey, a.RedisProperty = "nautobot", "nautobot/{site}/redis", "redis-password"
				a.Sites = a.Sites[:1]
				a.Sites[0].RedisSecret = "nautobot-redis-site-dfw1"
			},
			want: map[string]map[string]any{
				"push-ca": ca("password"),
				"push-site-dfw1": pushSecret("nautobot", "nautobot-mtls-client-dfw1", withData(map[string]any{"cert-and-key.pem": bundleTemplate}),
					push("cert-and-key.pem", "nautobot-mtls-client-dfw1", "password")),
				"push-redis-dfw1": pushSecret("nautobot", "nautobot-redis-site-dfw1", opaque, push("password", "nautobot/dfw1/redis", "redis-password")),
			},
			items: map[string]map[string]string{
				"dfw1": {"clientKey": "nautobot-mtls-client-dfw1", "caKey": "nautobot-mtls-ca",
					"clientCertProperty": "password", "clientKeyProperty": "password", "caCertProperty": "password",
					"redisKey": "nautobot/dfw1/redis", "redisProperty": "redis-password"},
			},
		},
		{
			name:  "concatenated in a field of its own name; no site yet pushes the CA alone",
			edit:  func(a *distribution.Args) { a.ClientCertProperty, a.Sites = "pem", nil },
			want:  map[string]map[string]any{"push-ca": ca("password")},
			items: map[string]map[string]string{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := base()
			tc.edit(&a)
			r, err := build(t, map[string]distribution.Args{"push": a})
			require.NoError(t, err)
			got := map[string]map[string]any{}
			for _, p := range r.m.OfType(pushType) {
				got[p.Name] = p.Plain()
			}
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.items, r.remoteKeys["push"])
		})
	}
}

func TestOtherStoresAndPolicies(t *testing.T) {
	a := base()
	a.Store = distribution.Store{Kind: "SecretStore", Name: "vault"}
	a.RefreshInterval, a.DeletionPolicy = "15m", "Delete"
	r, err := build(t, map[string]distribution.Args{"push": a})
	require.NoError(t, err)
	pushes := r.m.OfType(pushType)
	require.Len(t, pushes, 3)
	for _, p := range pushes {
		spec := p.Plain()["spec"].(map[string]any)
		require.Equal(t, []any{map[string]any{"kind": "SecretStore", "name": "vault"}}, spec["secretStoreRefs"], p.Name)
		require.Equal(t, "15m0s", spec["refreshInterval"], "in the form the controller writes back")
		require.Equal(t, "Delete", spec["deletionPolicy"])
		require.Equal(t, "Replace", spec["updatePolicy"])
	}
}

func TestChildrenHaveProviderParentAndDistinctNames(t *testing.T) {
	r, err := build(t, map[string]distribution.Args{"one": base()})
	require.NoError(t, err)
	require.Len(t, r.m.RequireComponentChildren(t, componentType, "one"), 3)

	other := base()
	other.Namespace, other.CANamespace = "other", "other"
	r, err = build(t, map[string]distribution.Args{"one": base(), "two": other})
	require.NoError(t, err)
	require.Equal(t, []string{"one-ca", "one-site-dfw1", "one-site-iad1", "two-ca", "two-site-dfw1", "two-site-iad1"},
		mocks.Names(r.m.OfType(pushType)))
}

// TestTheConcatenatedFieldHoldsTheCertificateThenTheKey renders the template as the controller's v2 engine
// does (Go text/template over the source secret's keys; trim is sprig's strings.TrimSpace) on a certificate
// and key as cert-manager writes them and on PEM without a final newline: the field holds exactly the
// certificate block, then the key block, which is what the site's filterPEM reads.
func TestTheConcatenatedFieldHoldsTheCertificateThenTheKey(t *testing.T) {
	certPEM, keyPEM := issue(t)
	tpl, err := template.New("bundle").Option("missingkey=error").
		Funcs(template.FuncMap{"trim": strings.TrimSpace}).Parse(bundleTemplate)
	require.NoError(t, err)
	for name, source := range map[string]map[string]string{
		"as cert-manager writes them": {"tls.crt": certPEM, "tls.key": keyPEM, "ca.crt": certPEM},
		"without final newlines":      {"tls.crt": strings.TrimSuffix(certPEM, "\n"), "tls.key": strings.TrimSuffix(keyPEM, "\n")},
	} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			require.NoError(t, tpl.Execute(&out, source))
			require.Equal(t, certPEM+keyPEM, out.String())
			cert, rest := pem.Decode(out.Bytes())
			require.Equal(t, "CERTIFICATE", cert.Type)
			key, rest := pem.Decode(rest)
			require.Equal(t, "EC PRIVATE KEY", key.Type)
			require.Empty(t, rest)
		})
	}
}

func issue(t *testing.T) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "app"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
}

func TestValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*distribution.Args)
		want string
	}{
		{"no store", func(a *distribution.Args) { a.Store.Name = "" },
			"store.name: is required: the ClusterSecretStore on the global cluster that writes to the sites' secrets provider"},
		{"a store name Kubernetes refuses", func(a *distribution.Args) { a.Store.Name = "Vault" },
			`store.name: "Vault" is not a valid Kubernetes object name`},
		{"an unknown store kind", func(a *distribution.Args) { a.Store.Kind = "ClusterStore" },
			`store.kind: "ClusterStore" is not supported; use one of SecretStore, ClusterSecretStore`},
		{"a refresh under a minute", func(a *distribution.Args) { a.RefreshInterval = "30s" },
			`refreshInterval: "30s" is not a refresh interval of at least 1m`},
		{"a refresh in days", func(a *distribution.Args) { a.RefreshInterval = "1d" },
			`refreshInterval: "1d" is not a refresh interval of at least 1m`},
		{"an unknown layout", func(a *distribution.Args) { a.Layout = "pkcs12" },
			`layout: "pkcs12" is not supported; use one of concatenated, separate`},
		{"an unknown deletion policy", func(a *distribution.Args) { a.DeletionPolicy = "Retain" },
			`deletionPolicy: "Retain" is not supported; use one of None, Delete`},
		{"one client item for every site", func(a *distribution.Args) { a.ClientKey = "nautobot-mtls-client" },
			`clientKey: "nautobot-mtls-client" does not contain {site}: every site would push to the same item`},
		{"a client key with a space", func(a *distribution.Args) { a.ClientKey = "mtls client {site}" },
			`clientKey: "mtls client {site}" is not a remote key`},
		{"a CA key with a newline", func(a *distribution.Args) { a.CAKey = "mtls-ca\n" },
			`caKey: "mtls-ca\n" is not a remote key`},
		{"the CA item is a site's client item", func(a *distribution.Args) { a.CAKey = "nautobot-mtls-client-iad1" },
			`caKey: "nautobot-mtls-client-iad1" is also site iad1's client item (clientKey)`},
		{"a field External Secrets cannot extract", func(a *distribution.Args) { a.CACertProperty = "ca cert" },
			`caCertProperty: "ca cert" is not a field name a site's External Secrets can extract`},
		{"concatenated into two fields", func(a *distribution.Args) { a.ClientKeyProperty = "key" },
			`clientKeyProperty: "key" differs from clientCertProperty "password", but layout concatenated writes certificate and key to one field`},
		{"separate into one field", func(a *distribution.Args) {
			a.Layout, a.ClientCertProperty, a.ClientKeyProperty = distribution.Separate, "pem", "pem"
		}, `clientKeyProperty: "pem" is also clientCertProperty, but layout separate writes certificate and key to two fields`},
		{"one Redis item for every site", func(a *distribution.Args) { a.RedisKey = "nautobot-redis" },
			`redisKey: "nautobot-redis" does not contain {site}: every site would push its Redis password to the same item`},
		{"a Redis field External Secrets cannot extract", func(a *distribution.Args) { a.RedisProperty = "redis password" },
			`redisProperty: "redis password" is not a field name a site's External Secrets can extract`},
		{"the Redis password over the site's certificate", func(a *distribution.Args) {
			a.RedisNamespace, a.RedisKey = "nautobot", "nautobot-mtls-client-{site}"
			a.Sites[1].RedisSecret = "nautobot-redis-site-iad1"
		}, `redisKey: "nautobot-mtls-client-iad1" field "password" is also where site iad1's certificate items are pushed`},
		{"the Redis password over the CA certificate", func(a *distribution.Args) {
			a.RedisNamespace, a.CAKey, a.RedisKey = "nautobot", "shared-dfw1", "shared-{site}"
			a.Sites[0].RedisSecret = "nautobot-redis-site-dfw1"
		}, `redisKey: "shared-dfw1" field "password" is also where site dfw1's certificate items are pushed`},
		{"a Redis Secret without its namespace", func(a *distribution.Args) { a.Sites[0].RedisSecret = "nautobot-redis-site-dfw1" },
			"distribution: Args.RedisNamespace is required with a site's RedisSecret"},
		{"no source for the CA", func(a *distribution.Args) { a.CASecret = "" },
			"distribution: Args.Provider, Namespace, CANamespace and CASecret are required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := base()
			tc.edit(&a)
			r, err := build(t, map[string]distribution.Args{"push": a})
			r.m.RequireRejected(t, err, tc.want)
		})
	}
}
