package global_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/mocks"
)

const (
	roleType        = "kubernetes:rbac.authorization.k8s.io/v1:Role"
	roleBindingType = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
	accountType     = "kubernetes:core/v1:ServiceAccount"
)

// issued are the base config's issued secrets, in the order the certificates component lists them.
var issued = []string{"nautobot-cluster-server-tls", "nautobot-redis-server-tls", "nautobot-cluster-replication",
	"nautobot-mtls-client", "nautobot-mtls-client-dfw1", "nautobot-mtls-client-iad1", "nautobot-mtls-client-lon1"}

func separate(t *testing.T, authority string) result {
	t.Helper()
	r, err := build(t, with(baseConfig(), "authority", authority))
	require.NoError(t, err)
	return r
}

// readsCAKeyPair says whether a Role's rules let its subjects read the Secret name.
func readsCAKeyPair(role mocks.Resource, name string) bool {
	rules, _ := role.Plain()["rules"].([]any)
	for _, rule := range rules {
		m := rule.(map[string]any)
		names, _ := m["resourceNames"].([]any)
		verbs, _ := m["verbs"].([]any)
		resources, _ := m["resources"].([]any)
		reads := slices.ContainsFunc(verbs, func(v any) bool { return v == "get" || v == "list" || v == "watch" || v == "*" })
		if reads && slices.Contains(resources, any("secrets")) && (len(names) == 0 || slices.Contains(names, any(name))) {
			return true
		}
	}
	return false
}

// TestASeparateCANamespace: with authority.namespace apart from namespace, the CA, its Issuer and every
// Certificate it signs are beside the CA; nothing of the application namespace can read the key pair; the
// CA namespace's own store pushes ca.crt and each issued Secret there.
func TestASeparateCANamespace(t *testing.T) {
	r := separate(t, `{"namespace":"nautobot-ca"}`)

	t.Run("the CA, its Issuer and every Certificate are in the CA namespace", func(t *testing.T) {
		for _, typ := range []string{issuerType, certificate} {
			for _, res := range r.m.OfType(typ) {
				require.Equal(t, "nautobot-ca", res.Namespace(), "%s %s", typ, res.Name)
			}
		}
		require.Len(t, r.m.OfType(certificate), 1+len(issued))
	})

	t.Run("nothing in the application namespace reaches the CA key pair", func(t *testing.T) {
		for _, res := range r.m.Resources() {
			if res.Namespace() != "nautobot" {
				continue
			}
			meta, _ := res.Plain()["metadata"].(map[string]any)
			require.False(t, res.Type == secretType && meta["name"] == "mtls-ca-key-pair", "the key pair Secret is in the application namespace")
			require.NotEqual(t, storeType, res.Type, "a SecretStore in the application namespace: %s", res.Name)
			require.NotEqual(t, accountType, res.Type, "a ServiceAccount in the application namespace: %s", res.Name)
			require.NotEqual(t, esType, res.Type, "the ca.crt-only secret is pushed, not pulled: %s", res.Name)
			if res.Type == roleType {
				require.False(t, readsCAKeyPair(res, "mtls-ca-key-pair"), "Role %s", res.Name)
			}
		}
		for _, role := range r.m.OfType(roleType) {
			require.False(t, readsCAKeyPair(role, "mtls-ca-key-pair"), "no Role anywhere reads the key pair: %s in %s", role.Name, role.Namespace())
		}
	})

	t.Run("the delivery account may update only the delivered secrets of the application namespace", func(t *testing.T) {
		role := r.m.MustFind(t, roleType, "mtls-delivery")
		require.Equal(t, "nautobot", role.Namespace())
		require.Equal(t, []any{
			map[string]any{"apiGroups": []any{""}, "resources": []any{"secrets"},
				"resourceNames": toAny(append([]string{"mtls-ca-cert"}, issued...)), "verbs": []any{"get", "update"}},
			map[string]any{"apiGroups": []any{""}, "resources": []any{"secrets"}, "verbs": []any{"create"}},
		}, role.Plain()["rules"])
		binding := r.m.MustFind(t, roleBindingType, "mtls-delivery")
		require.Equal(t, "nautobot", binding.Namespace())
		require.Equal(t, []any{map[string]any{"kind": "ServiceAccount", "name": "mtls-ca-delivery", "namespace": "nautobot-ca"}},
			binding.Plain()["subjects"], "the account lives beside the CA: nothing in the application namespace can take its token")
		require.Equal(t, "nautobot-ca", r.m.MustFind(t, accountType, "mtls-delivery").Namespace())
		store := r.m.MustFind(t, storeType, "mtls-delivery")
		require.Equal(t, "nautobot-ca", store.Namespace())
		k8s := store.Plain()["spec"].(map[string]any)["provider"].(map[string]any)["kubernetes"].(map[string]any)
		require.Equal(t, "nautobot", k8s["remoteNamespace"])
		require.Equal(t, map[string]any{"serviceAccount": map[string]any{"name": "mtls-ca-delivery"}}, k8s["auth"])
	})

	t.Run("ca.crt alone is pushed into the ca.crt-only secret", func(t *testing.T) {
		push := r.m.MustFind(t, pushSecretType, "mtls-ca-public")
		require.Equal(t, "nautobot-ca", push.Namespace())
		require.Equal(t, map[string]any{
			"secretStoreRefs": []any{map[string]any{"kind": "SecretStore", "name": "mtls-ca-delivery"}},
			"selector":        map[string]any{"secret": map[string]any{"name": "mtls-ca-key-pair"}},
			"template":        map[string]any{"engineVersion": "v2", "type": "Opaque"},
			"data": []any{map[string]any{"conversionStrategy": "None",
				"match": map[string]any{"secretKey": "tls.crt", "remoteRef": map[string]any{"remoteKey": "mtls-ca-cert", "property": "ca.crt"}},
				"metadata": map[string]any{"apiVersion": "kubernetes.external-secrets.io/v1alpha1", "kind": "PushSecretMetadata",
					"spec": map[string]any{"sourceMergePolicy": "Replace", "labels": map[string]any{"cnpg.io/reload": "true"}}}}},
			"refreshInterval": "1h0m0s",
			"updatePolicy":    "Replace",
			"deletionPolicy":  "None",
		}, push.Plain()["spec"])
	})

	t.Run("each issued secret is pushed whole into the application namespace, after its Certificate", func(t *testing.T) {
		writers := r.m.SecretWriters()
		var delivered []string
		for _, name := range issued {
			w, ok := writers["nautobot/"+name]
			require.True(t, ok, "nothing writes %s into the application namespace", name)
			require.Equal(t, pushSecretType, w.Type)
			require.Equal(t, "nautobot-ca", w.Namespace())
			spec := w.Plain()["spec"].(map[string]any)
			require.Equal(t, map[string]any{"secret": map[string]any{"name": name}}, spec["selector"])
			require.Equal(t, []any{map[string]any{"conversionStrategy": "None",
				"match":    map[string]any{"remoteRef": map[string]any{"remoteKey": name}},
				"metadata": map[string]any{"apiVersion": "kubernetes.external-secrets.io/v1alpha1", "kind": "PushSecretMetadata", "spec": map[string]any{"sourceMergePolicy": "Replace"}}}},
				spec["data"], "no secretKey and no property: every key, and the type kubernetes.io/tls")
			require.NotContains(t, spec, "template", "a template type would make the Secret Opaque")
			r.m.RequireAfter(t, w, writers["nautobot-ca/"+name], r.m.MustFind(t, storeType, "mtls-delivery"))
			delivered = append(delivered, name)
		}
		require.ElementsMatch(t, issued, delivered)
	})

	t.Run("CNPG waits for the delivered secrets and the pushed ca.crt", func(t *testing.T) {
		cluster := r.m.MustFind(t, "kubernetes:postgresql.cnpg.io/v1:Cluster", "db-cluster")
		require.Equal(t, "nautobot", cluster.Namespace())
		require.Equal(t, map[string]string{
			"mtls-ca-cert":                 pushSecretType + " mtls-ca-public",
			"nautobot-cluster-server-tls":  pushSecretType + " certs-postgres-server-delivery",
			"nautobot-cluster-replication": pushSecretType + " certs-replication-delivery",
		}, r.m.RequireAfterSecretWriters(t, cluster))
	})

	t.Run("the stack creates the CA namespace, protected and retained, before the CA", func(t *testing.T) {
		ns := r.m.MustFind(t, namespaceType, "global-ca-namespace")
		require.Equal(t, "nautobot-ca", ns.Plain()["metadata"].(map[string]any)["name"])
		require.True(t, ns.Protect)
		require.True(t, ns.RetainOnDelete)
		r.m.RequireAfter(t, r.m.MustFind(t, certificate, "mtls-ca"), ns)
		r.m.RequireAfter(t, r.m.MustFind(t, certificate, "certs-site-dfw1"), ns)
	})

	t.Run("outputs: the application namespace for the sites, the CA's for the doctor", func(t *testing.T) {
		require.Equal(t, "nautobot", r.outputs["namespace"])
		require.Equal(t, "nautobot-ca", r.outputs["caNamespace"])
		require.Equal(t, "mtls-ca-cert", r.outputs["caCertSecretName"])
	})
}

func TestTheDefaultLayoutKeepsTheCAInTheApplicationNamespace(t *testing.T) {
	r, err := build(t, baseConfig())
	require.NoError(t, err)
	require.Equal(t, "nautobot", r.outputs["caNamespace"])
	_, ok := r.m.Find(namespaceType, "global-ca-namespace")
	require.False(t, ok)
	require.Empty(t, r.m.OfType(pushSecretType), "no delivery: cert-manager writes every Secret where it is read")
	for _, c := range r.m.OfType(certificate) {
		require.Equal(t, "nautobot", c.Namespace(), c.Name)
	}
	require.True(t, readsCAKeyPair(r.m.MustFind(t, roleType, "mtls-ca-reader"), "mtls-ca-key-pair"),
		"the layout the doctor flags: a store in the application namespace reads the key pair")
}

func TestAPulumiTLSRootInASeparateNamespace(t *testing.T) {
	r := separate(t, `{"namespace":"nautobot-ca","root":"pulumi-tls","caPublicStore":{"serverUrl":"https://127.0.0.1:26443"}}`)
	keyPair := r.m.MustFind(t, secretType, "mtls-ca-key-pair")
	require.Equal(t, "nautobot-ca", keyPair.Namespace())
	public := r.m.MustFind(t, secretType, "mtls-ca-public")
	require.Equal(t, "nautobot", public.Namespace(), "the stack writes ca.crt straight into the application namespace")
	_, ok := r.m.Find(pushSecretType, "mtls-ca-public")
	require.False(t, ok)
	role := r.m.MustFind(t, roleType, "mtls-delivery")
	require.Equal(t, toAny(issued), role.Plain()["rules"].([]any)[0].(map[string]any)["resourceNames"],
		"the store delivers the issued secrets only: the stack writes the ca.crt-only secret")
	k8s := r.m.MustFind(t, storeType, "mtls-delivery").Plain()["spec"].(map[string]any)["provider"].(map[string]any)["kubernetes"].(map[string]any)
	require.Equal(t, "https://127.0.0.1:26443", k8s["server"].(map[string]any)["url"], "caPublicStore reaches the delivery store")
}

func TestASeparateCANamespaceWithoutCreatingNamespaces(t *testing.T) {
	r, err := build(t, with(baseConfig(), "authority", `{"namespace":"nautobot-ca"}`, "createNamespace", "false"))
	require.NoError(t, err)
	require.Empty(t, r.m.OfType(namespaceType))
}

// Misconfigurations knowable from the config alone, refused at preview.
func TestCANamespaceMisconfigurationsAreRefused(t *testing.T) {
	cases := []struct {
		name   string
		config map[string]string
		want   []string
	}{
		{"a renewal window a push could miss", with(baseConfig(), "authority", `{"namespace":"nautobot-ca"}`, "certificates", `{"serverRenewBefore":"90m"}`),
			[]string{"config certificates.serverRenewBefore: 90m is not more than twice authority.caPublicRefreshInterval (1h0m0s): with the CA in its own namespace (authority.namespace nautobot-ca) a renewed certificate reaches namespace nautobot only at the next push"}},
		{"a slower push than the client renewal", with(baseConfig(), "authority", `{"namespace":"nautobot-ca","caPublicRefreshInterval":"400h"}`),
			[]string{"config certificates.clientRenewBefore: 720h is not more than twice authority.caPublicRefreshInterval (400h0m0s)",
				"config certificates.serverRenewBefore: 720h is not more than twice"}},
		{"the CA key pair named as an issued secret", with(baseConfig(), "authority", `{"caSecret":"nautobot-cluster-server-tls"}`),
			[]string{`config authority.caSecret: "nautobot-cluster-server-tls" is also the name of an issued certificate's secret`}},
		{"the CA Certificate named as an issued secret", with(baseConfig(), "authority", `{"namespace":"nautobot-ca","caCertificate":"nautobot-mtls-client-dfw1"}`),
			[]string{`config authority.caCertificate: "nautobot-mtls-client-dfw1" is also the name of an issued certificate's secret`}},
		{"the ca.crt-only secret named as an issued secret", with(baseConfig(), "authority", `{"namespace":"nautobot-ca","caPublicSecret":"nautobot-mtls-client"}`),
			[]string{`config authority.caPublicSecret: "nautobot-mtls-client" is also the name of an issued certificate's secret`}},
		{"a store for a pulumi-tls root in the application namespace", with(baseConfig(), "authority", `{"root":"pulumi-tls","caPublicStore":{"serverUrl":"https://127.0.0.1:26443"}}`),
			[]string{"config authority.caPublicStore: is only used with root: cert-manager (an External Secrets store copies ca.crt) or a separate authority.namespace"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := build(t, tc.config)
			r.m.RequireRejected(t, err, tc.want...)
			require.Empty(t, r.m.Resources(), "not even the provider registers when the config is invalid")
		})
	}
	t.Run("the same window is fine where cert-manager writes the Secrets in place", func(t *testing.T) {
		_, err := build(t, with(baseConfig(), "certificates", `{"serverRenewBefore":"90m"}`))
		require.NoError(t, err)
	})
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
