package sitesecrets_test

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"text/template"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"

	"nautobot-worker/components/sitesecrets"
	"nautobot-worker/internal/mocks"
)

const esType = "kubernetes:external-secrets.io/v1:ExternalSecret"

// minimal is the smallest valid configuration: the store and every remote key.
func minimal() sitesecrets.Args {
	return sitesecrets.Args{
		Namespace: "nautobot",
		Store:     sitesecrets.Store{Name: "vault"},
		Django:    sitesecrets.Item{Key: "nautobot/django"},
		DB:        sitesecrets.DBItem{Key: "nautobot/db"},
		Redis:     sitesecrets.Item{Key: "nautobot/redis"},
		Registry:  sitesecrets.Item{Key: "ghcr/pull"},
		CustomEnv: sitesecrets.EnvItem{Key: "nautobot/custom-env"},
		MTLS:      sitesecrets.MTLS{ClientKey: "mtls/client-dfw1", CAKey: "mtls/ca"},
	}
}

func run(t *testing.T, args sitesecrets.Args) (*mocks.Monitor, error) {
	t.Helper()
	return mocks.Component("site-dfw1", "secrets", args, sitesecrets.NewSiteSecrets)
}

func external(t *testing.T, m *mocks.Monitor, name string) (metadata, spec map[string]any) {
	t.Helper()
	r, ok := m.Find(esType, name)
	require.True(t, ok, "missing ExternalSecret %s", name)
	plain := r.Plain()
	require.Equal(t, "external-secrets.io/v1", plain["apiVersion"])
	require.Equal(t, "ExternalSecret", plain["kind"])
	return plain["metadata"].(map[string]any), plain["spec"].(map[string]any)
}

func ref(secretKey, key, property string) map[string]any {
	return map[string]any{"secretKey": secretKey, "remoteRef": map[string]any{"key": key, "property": property,
		"conversionStrategy": "Default", "decodingStrategy": "None", "metadataPolicy": "None"}}
}

func TestDefaultsMatchTheSeedExternalSecrets(t *testing.T) {
	m, err := run(t, minimal())
	require.NoError(t, err)

	store := map[string]any{"kind": "ClusterSecretStore", "name": "vault"}
	target := func(name string, template map[string]any) map[string]any {
		tg := map[string]any{"name": name, "creationPolicy": "Owner", "deletionPolicy": "Retain"}
		if template != nil {
			tg["template"] = template
		}
		return tg
	}
	rewrite := func(prefix string) []any {
		return []any{map[string]any{"regexp": map[string]any{"source": "(.*)", "target": prefix + "$1"}}}
	}
	want := map[string]struct {
		target string
		spec   map[string]any
	}{
		"secrets-django": {"nautobot-django", map[string]any{
			"refreshInterval": "1h0m0s", "secretStoreRef": store, "target": target("nautobot-django", nil),
			"data": []any{ref("NAUTOBOT_SECRET_KEY", "nautobot/django", "password")},
		}},
		"secrets-db": {"nautobot-db", map[string]any{
			"refreshInterval": "1h0m0s", "secretStoreRef": store, "target": target("nautobot-db", nil),
			"data": []any{ref("username", "nautobot/db", "username"), ref("password", "nautobot/db", "password")},
		}},
		"secrets-redis": {"nautobot-worker-redis", map[string]any{
			"refreshInterval": "1h0m0s", "secretStoreRef": store, "target": target("nautobot-worker-redis", nil),
			"data": []any{ref("redis-password", "nautobot/redis", "password")},
		}},
		"secrets-registry": {"dockerconfigjson-github-com", map[string]any{
			"refreshInterval": "1h0m0s", "secretStoreRef": store,
			"target": target("dockerconfigjson-github-com", map[string]any{"engineVersion": "v2", "type": "kubernetes.io/dockerconfigjson"}),
			"data":   []any{ref(".dockerconfigjson", "ghcr/pull", "password")},
		}},
		"secrets-custom-env": {"nautobot-custom-env", map[string]any{
			"refreshInterval": "1h0m0s", "secretStoreRef": store, "target": target("nautobot-custom-env", nil),
			"dataFrom": []any{map[string]any{"extract": extract("nautobot/custom-env")}},
		}},
		"secrets-mtls-client": {"nautobot-mtls-client", map[string]any{
			"refreshInterval": "1h0m0s", "secretStoreRef": store,
			"target": target("nautobot-mtls-client", map[string]any{
				"engineVersion": "v2",
				"type":          "kubernetes.io/tls",
				"data": map[string]any{
					"tls.crt": `{{ $pem := .client_password | filterPEM "CERTIFICATE" }}{{ if not $pem }}{{ fail "field \"password\" of remote key \"mtls/client-dfw1\" (secrets.mtls.clientKey) holds no CERTIFICATE block" }}{{ end }}{{ $pem }}`,
					"tls.key": `{{ $pem := .client_password | filterPEM "EC PRIVATE KEY" }}{{ if not $pem }}{{ fail "field \"password\" of remote key \"mtls/client-dfw1\" (secrets.mtls.clientKey) holds no EC PRIVATE KEY block; secrets.mtls.privateKeyType must name the key's PEM type" }}{{ end }}{{ $pem }}`,
					"ca.crt":  `{{ $pem := .ca_password | filterPEM "CERTIFICATE" }}{{ if not $pem }}{{ fail "field \"password\" of remote key \"mtls/ca\" (secrets.mtls.caKey) holds no CERTIFICATE block" }}{{ end }}{{ $pem }}`,
				},
			}),
			"dataFrom": []any{
				map[string]any{"extract": extract("mtls/client-dfw1"), "rewrite": rewrite("client_")},
				map[string]any{"extract": extract("mtls/ca"), "rewrite": rewrite("ca_")},
			},
		}},
	}
	require.ElementsMatch(t, slices.Collect(maps.Keys(want)), mocks.Names(m.OfType(esType)), "exactly these six")
	for name, w := range want {
		metadata, spec := external(t, m, name)
		require.Equal(t, map[string]any{"name": w.target, "namespace": "nautobot"}, metadata, name)
		require.Equal(t, w.spec, spec, name)
	}
}

func TestProviderFieldNamesAndKeyEncodingAreConfigurable(t *testing.T) {
	args := minimal()
	args.Store = sitesecrets.Store{Kind: "SecretStore", Name: "local-vault"}
	args.RefreshInterval = "15m"
	args.Django.Property = "secret_key"
	args.DB = sitesecrets.DBItem{Key: "db", UsernameProperty: "user", PasswordProperty: "pass", Target: "pg"}
	args.MTLS = sitesecrets.MTLS{
		ClientKey: "client", CAKey: "ca", ClientCertProperty: "tls.crt", ClientKeyProperty: "tls.key",
		CACertProperty: "ca.crt", PrivateKeyType: "PRIVATE KEY", Target: "worker-mtls",
	}
	m, err := run(t, args)
	require.NoError(t, err)

	_, spec := external(t, m, "secrets-mtls-client")
	target := spec["target"].(map[string]any)
	require.Equal(t, "worker-mtls", target["name"])
	data := target["template"].(map[string]any)["data"].(map[string]any)
	require.Equal(t, []string{"ca.crt", "tls.crt", "tls.key"}, slices.Sorted(maps.Keys(data)))
	require.True(t, strings.HasPrefix(data["tls.crt"].(string), `{{ $pem := index . "client_tls.crt" | filterPEM "CERTIFICATE" }}`), data["tls.crt"])
	require.True(t, strings.HasPrefix(data["tls.key"].(string), `{{ $pem := index . "client_tls.key" | filterPEM "PRIVATE KEY" }}`), data["tls.key"])
	require.Contains(t, data["tls.key"], `holds no PRIVATE KEY block`)
	require.True(t, strings.HasPrefix(data["ca.crt"].(string), `{{ $pem := index . "ca_ca.crt" | filterPEM "CERTIFICATE" }}`), data["ca.crt"])
	require.Equal(t, map[string]any{"kind": "SecretStore", "name": "local-vault"}, spec["secretStoreRef"])
	require.Equal(t, "15m0s", spec["refreshInterval"], "in the form the controller writes back, so re-applying it never conflicts")

	_, spec = external(t, m, "secrets-db")
	require.Equal(t, []any{ref("username", "db", "user"), ref("password", "db", "pass")}, spec["data"])
	require.Equal(t, "pg", spec["target"].(map[string]any)["name"])
	_, spec = external(t, m, "secrets-django")
	require.Equal(t, []any{ref("NAUTOBOT_SECRET_KEY", "nautobot/django", "secret_key")}, spec["data"])
}

func TestEveryKubernetesResourceHasTheExplicitProviderAndAParent(t *testing.T) {
	m, err := run(t, minimal())
	require.NoError(t, err)
	children := m.RequireComponentChildren(t, "nautobot:sitesecrets:SiteSecrets", "secrets")
	require.Equal(t, []string{"secrets-custom-env", "secrets-db", "secrets-django", "secrets-mtls-client", "secrets-redis", "secrets-registry"},
		mocks.Names(children))
	for _, r := range children {
		require.False(t, r.Protect, "a site is disposable: %s must not be protected", r.Name)
	}
}

func TestTwoInstancesDoNotCollide(t *testing.T) {
	m := &mocks.Monitor{}
	err := mocks.RunWithProvider("site-dfw1", m, func(ctx *pulumi.Context, p *kubernetes.Provider) error {
		for _, ns := range []string{"one", "two"} {
			args := minimal()
			args.Provider, args.Namespace = p, ns
			if _, err := sitesecrets.NewSiteSecrets(ctx, ns, &args); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
	// Each instance's six carry its own Pulumi names and land in its own namespace, under the same targets.
	got := map[string]string{}
	for _, r := range m.OfType(esType) {
		got[r.Name] = r.Namespace() + "/" + r.Plain()["metadata"].(map[string]any)["name"].(string)
	}
	want := map[string]string{}
	for _, ns := range []string{"one", "two"} {
		for suffix, target := range map[string]string{"django": "nautobot-django", "db": "nautobot-db", "redis": "nautobot-worker-redis",
			"registry": "dockerconfigjson-github-com", "custom-env": "nautobot-custom-env", "mtls-client": "nautobot-mtls-client"} {
			want[ns+"-"+suffix] = ns + "/" + target
		}
	}
	require.Equal(t, want, got)
}

func TestNothingIsSecretOrCarriesKeyMaterial(t *testing.T) {
	m, err := run(t, minimal())
	require.NoError(t, err)
	for _, r := range m.OfType(esType) {
		require.False(t, r.IsSecret("spec"), "%s holds only references, never credentials", r.Name)
		spec, err := json.Marshal(r.Plain()["spec"])
		require.NoError(t, err)
		require.NotContains(t, string(spec), "-----BEGIN", "%s carries PEM material", r.Name)
	}
}

func TestInvalidArgsFailBeforeAnyResourceIsRegistered(t *testing.T) {
	with := func(f func(*sitesecrets.Args)) sitesecrets.Args {
		a := minimal()
		f(&a)
		return a
	}
	cases := []struct {
		name string
		args sitesecrets.Args
		want []string
	}{
		{"bad store kind", with(func(a *sitesecrets.Args) { a.Store.Kind = "VaultStore" }),
			[]string{`store.kind: "VaultStore" is not supported; use one of SecretStore, ClusterSecretStore`}},
		{"missing store name", with(func(a *sitesecrets.Args) { a.Store.Name = "" }),
			[]string{"store.name: is required: the name of the ClusterSecretStore"}},
		{"bad store name", with(func(a *sitesecrets.Args) { a.Store.Name = "Vault_1" }),
			[]string{`store.name: "Vault_1" is not a valid Kubernetes object name`}},
		{"missing keys", sitesecrets.Args{Namespace: "nautobot", Store: sitesecrets.Store{Name: "vault"}}, []string{
			"django.key: is required", "db.key: is required", "redis.key: is required",
			"registry.key: is required", "customEnv.key: is required",
			"mtls.clientKey: is required", "mtls.caKey: is required",
		}},
		{"bad filterPEM type", with(func(a *sitesecrets.Args) { a.MTLS.PrivateKeyType = "CERTIFICATE" }),
			[]string{`mtls.privateKeyType: "CERTIFICATE" is not supported; use one of EC PRIVATE KEY, PRIVATE KEY, RSA PRIVATE KEY`}},
		{"bad field name", with(func(a *sitesecrets.Args) { a.MTLS.ClientCertProperty = "tls crt" }),
			[]string{`mtls.clientCertProperty: "tls crt" is not a field name External Secrets can extract`}},
		{"ca.crt from the client item", with(func(a *sitesecrets.Args) { a.MTLS.CAKey = a.MTLS.ClientKey }),
			[]string{"mtls.caKey: reads the same field as the client certificate", "ca.crt would hold the client certificate"}},
		{"refresh too short", with(func(a *sitesecrets.Args) { a.RefreshInterval = "10s" }),
			[]string{`refreshInterval: "10s" is not a refresh interval of at least 1m`}},
		{"refresh in days", with(func(a *sitesecrets.Args) { a.RefreshInterval = "1d" }),
			[]string{`refreshInterval: "1d" is not a refresh interval`}},
		{"duplicate targets", with(func(a *sitesecrets.Args) { a.Redis.Target = "nautobot-db" }),
			[]string{`redis.target: "nautobot-db" is also the target of db.target`}},
		{"bad target", with(func(a *sitesecrets.Args) { a.Django.Target = "Nautobot" }),
			[]string{`django.target: "Nautobot" is not a valid Kubernetes object name`}},
		{"bad namespace", with(func(a *sitesecrets.Args) { a.Namespace = "Nautobot" }),
			[]string{`namespace: "Nautobot" is not a valid DNS label`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := run(t, tc.args)
			m.RequireRejected(t, err, tc.want...)
		})
	}
}

// filterPEM behaves as External Secrets' template function of that name (pkg/template/v2/pem.go): the
// blocks of one type re-encoded, an empty string when there is none. The real controller runs these
// templates in tests/integration (TestControllers).
func filterPEM(blockType, input string) (string, error) {
	var out bytes.Buffer
	for rest := []byte(input); ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return out.String(), nil
		}
		if b.Type == blockType {
			if err := pem.Encode(&out, b); err != nil {
				return "", err
			}
		}
	}
}

func TestMTLSTemplatesFailOnAMissingBlockInsteadOfWritingAnEmptyFile(t *testing.T) {
	args := minimal()
	args.MTLS.ClientCertProperty, args.MTLS.ClientKeyProperty = "tls.crt", "tls.key"
	m, err := run(t, args)
	require.NoError(t, err)
	_, spec := external(t, m, "secrets-mtls-client")
	data := spec["target"].(map[string]any)["template"].(map[string]any)["data"].(map[string]any)

	cert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("leaf")}))
	ecKey := string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte("ec")}))
	pkcs8Key := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("pkcs8")}))
	execute := func(file string, fetched map[string]string) (string, error) {
		tpl, err := template.New(file).Funcs(template.FuncMap{
			"filterPEM": filterPEM, "fail": func(msg string) (string, error) { return "", errors.New(msg) },
		}).Parse(data[file].(string))
		require.NoError(t, err, "%s is not a valid template", file)
		var out bytes.Buffer
		err = tpl.Execute(&out, fetched)
		return out.String(), err
	}
	cases := []struct {
		name, file string
		fetched    map[string]string
		want       string
		wantErr    string
	}{
		{"the key block is selected", "tls.key", map[string]string{"client_tls.key": cert + ecKey}, ecKey, ""},
		{"a missing key fails", "tls.key", map[string]string{"client_tls.key": cert}, "",
			`field "tls.key" of remote key "mtls/client-dfw1" (secrets.mtls.clientKey) holds no EC PRIVATE KEY block; secrets.mtls.privateKeyType must name the key's PEM type`},
		{"a key of another type fails", "tls.key", map[string]string{"client_tls.key": pkcs8Key}, "", "holds no EC PRIVATE KEY block"},
		{"the certificate block is selected", "tls.crt", map[string]string{"client_tls.crt": ecKey + cert}, cert, ""},
		{"a missing certificate fails", "tls.crt", map[string]string{"client_tls.crt": ecKey},
			"", `field "tls.crt" of remote key "mtls/client-dfw1" (secrets.mtls.clientKey) holds no CERTIFICATE block`},
		{"a missing CA fails", "ca.crt", map[string]string{"ca_password": ""},
			"", `field "password" of remote key "mtls/ca" (secrets.mtls.caKey) holds no CERTIFICATE block`},
		{"the CA is selected", "ca.crt", map[string]string{"ca_password": cert}, cert, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := execute(tc.file, tc.fetched)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, out)
		})
	}
}

// extract is a dataFrom item's extract as the API server stores it (kube.ExternalSecretExtract).
func extract(key string) map[string]any {
	return map[string]any{"key": key, "conversionStrategy": "Default", "decodingStrategy": "None", "metadataPolicy": "None"}
}
