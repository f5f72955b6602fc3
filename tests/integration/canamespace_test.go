package integration

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/doctor"
)

const (
	appNS = "nautobot-app"
	caNS  = "nautobot-ca"
)

// TestSeparateCANamespace runs a global stack whose CA has a namespace of its own (authority.namespace)
// against the real cert-manager and External Secrets controllers: cert-manager issues every certificate
// beside the CA, External Secrets pushes ca.crt and each issued Secret into the application namespace,
// and an ExternalSecret of the application namespace that asks for the CA's tls.key gets the controller's
// refusal and no Secret.
func TestSeparateCANamespace(t *testing.T) {
	e := newEnv(t)
	global := e.stack("global-ca", "global", func(config string) string {
		config = e.extraGlobal(appNS, "ca1", "keyEncoding: PKCS1")(config)
		return strings.Replace(config, "  nautobot-worker:authority:\n", "  nautobot-worker:authority:\n    namespace: "+caNS+"\n", 1)
	})
	e.up(global)

	start := time.Now()
	issued := []string{"nautobot-cluster-server-tls", "nautobot-redis-server-tls", "nautobot-cluster-replication",
		"nautobot-mtls-client", "nautobot-mtls-client-ca1"}
	require.ElementsMatch(t, append([]string{"mtls-ca"}, issued...), e.names("certificates.cert-manager.io", caNS))
	require.Empty(t, e.names("certificates.cert-manager.io", appNS), "no Certificate in the application namespace")
	for _, name := range e.names("certificates.cert-manager.io", caNS) {
		e.waitCondition("certificates.cert-manager.io", caNS, name, "Ready", 2*time.Minute)
	}
	for _, name := range append([]string{"mtls-ca-cert"}, issued...) {
		e.waitCondition("pushsecrets.external-secrets.io", caNS, name, "Ready", 2*time.Minute)
	}
	t.Logf("every certificate issued and pushed %s after pulumi up", time.Since(start).Round(time.Millisecond))

	ca := e.secret(caNS, "mtls-ca-key-pair")
	caCert := onlyCert(t, ca["tls.crt"])
	require.True(t, caCert.IsCA)

	t.Run("the ca.crt-only secret appears in the application namespace with only ca.crt", func(t *testing.T) {
		obj := e.object("secrets", appNS, "mtls-ca-cert")
		require.Equal(t, "Opaque", obj["type"])
		require.Equal(t, map[string]any{"cnpg.io/reload": "true"}, dig(obj, "metadata", "labels"))
		require.Nil(t, dig(obj, "metadata", "annotations"), "none of cert-manager's bookkeeping of the key pair")
		public := e.secret(appNS, "mtls-ca-cert")
		require.Equal(t, []string{"ca.crt"}, keys(public))
		require.Equal(t, caCert.Raw, onlyCert(t, public["ca.crt"]).Raw)
	})

	t.Run("every issued secret reaches the application namespace whole, and verifies against the CA", func(t *testing.T) {
		for _, name := range issued {
			obj := e.object("secrets", appNS, name)
			require.Equal(t, "kubernetes.io/tls", obj["type"], name)
			got, want := e.secret(appNS, name), e.secret(caNS, name)
			require.Equal(t, want, got, "%s: the pushed secret is cert-manager's, key for key", name)
			leaf := onlyCert(t, got["tls.crt"])
			requireKeyMatches(t, got["tls.key"], "EC PRIVATE KEY", leaf)
			require.Equal(t, caCert.Raw, onlyCert(t, got["ca.crt"]).Raw, name)
			usage := x509.ExtKeyUsageClientAuth
			if strings.HasSuffix(name, "-server-tls") {
				usage = x509.ExtKeyUsageServerAuth
			}
			verify(t, leaf, caCert, usage)
		}
		server := onlyCert(t, e.secret(appNS, "nautobot-cluster-server-tls")["tls.crt"])
		require.Contains(t, server.DNSNames, "nautobot-cluster-rw."+appNS+".svc", "the SANs name the application namespace's services")
	})

	t.Run("no secret of the application namespace holds the CA key", func(t *testing.T) {
		for name, data := range e.secrets(appNS) {
			require.NotEqual(t, "mtls-ca-key-pair", name)
			for k, v := range data {
				require.False(t, bytes.Contains(v, bytes.TrimSpace(ca["tls.key"])), "%s/%s holds the CA key", name, k)
			}
		}
	})

	// What an ExternalSecret of the application namespace can try: the CA namespace's own store (a
	// SecretStore is referenced in the ExternalSecret's namespace only), a store of its own with an account
	// of the application namespace, and a store that names the delivery account beside the CA.
	server := dig(e.object("secretstores.external-secrets.io", caNS, "mtls-ca-delivery"), "spec", "provider", "kubernetes", "server")
	require.NotNil(t, server)
	store := func(name string, account map[string]any) map[string]any {
		return map[string]any{"apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
			"metadata": map[string]any{"name": name, "namespace": appNS},
			"spec": map[string]any{"provider": map[string]any{"kubernetes": map[string]any{
				"remoteNamespace": caNS, "server": server, "auth": map[string]any{"serviceAccount": account}}}}}
	}
	stealKey := func(name, storeName string) map[string]any {
		return map[string]any{"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
			"metadata": map[string]any{"name": name, "namespace": appNS},
			"spec": map[string]any{
				"refreshInterval": "10s",
				"secretStoreRef":  map[string]any{"kind": "SecretStore", "name": storeName},
				"target":          map[string]any{"name": name},
				"data": []any{map[string]any{"secretKey": "tls.key",
					"remoteRef": map[string]any{"key": "mtls-ca-key-pair", "property": "tls.key"}}},
			}}
	}
	e.applyObjects(
		map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": "thief", "namespace": appNS}},
		store("thief", map[string]any{"name": "thief"}),
		store("borrowed", map[string]any{"name": "mtls-ca-delivery", "namespace": caNS}),
		stealKey("via-the-delivery-store", "mtls-ca-delivery"),
		stealKey("via-own-account", "thief"),
		stealKey("via-the-delivery-account", "borrowed"),
	)

	t.Run("an ExternalSecret asking for the CA's tls.key gets the controller's refusal and no Secret", func(t *testing.T) {
		// The stores first: the controller refuses to sync through a store that is not Ready (flood gate).
		for _, tc := range []struct{ name, event string }{
			// The kubernetes provider's validation: a rules review, then an access review, for get in nautobot-ca.
			{"thief", "client is not allowed to get secrets"},
			// A namespaced store takes its account from its own namespace, whatever namespace it names.
			{"borrowed", `cannot create service account token: "serviceaccounts \"mtls-ca-delivery\" not found"`},
		} {
			e.waitConditionStatus("secretstores.external-secrets.io", appNS, tc.name, "Ready", "False", 2*time.Minute)
			cond := condition(e.object("secretstores.external-secrets.io", appNS, tc.name), "Ready")
			t.Logf("store %s: %v", tc.name, cond)
			require.Equal(t, "InvalidProviderConfig", cond["reason"])
			e.waitEvent(appNS, "SecretStore", tc.name, tc.event)
		}
		for _, tc := range []struct{ name, event string }{
			{"via-the-delivery-store", `"mtls-ca-delivery" not found`},
			{"via-own-account", `"thief" is not ready`},
			{"via-the-delivery-account", `"borrowed" is not ready`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e.waitConditionStatus("externalsecrets.external-secrets.io", appNS, tc.name, "Ready", "False", 2*time.Minute)
				cond := condition(e.object("externalsecrets.external-secrets.io", appNS, tc.name), "Ready")
				t.Logf("%s: %v", tc.name, cond)
				require.Equal(t, "SecretSyncedError", cond["reason"])
				require.Equal(t, "could not get secret data from provider", cond["message"])
				e.waitEvent(appNS, "ExternalSecret", tc.name, tc.event)
				require.False(t, e.exists("secrets", appNS, tc.name), "no Secret %s", tc.name)
			})
		}
	})

	cl, err := doctor.ConnectCluster(e.kubeconfig, "")
	require.NoError(t, err)
	out := e.outputs(global)
	require.Equal(t, appNS, out["namespace"])
	require.Equal(t, caNS, out["caNamespace"])
	check := "CA key pair " + caNS + "/mtls-ca-key-pair"

	t.Run("doctor global: the certificates beside the CA, and nothing of the application namespace reads its key pair", func(t *testing.T) {
		r := doctor.Global(t.Context(), cl, doctor.GlobalOptions{Outputs: out, Now: time.Now()})
		requireCheck(t, r, "issuer mtls-ca-issuer", doctor.Pass, "Ready=True")
		requireCheck(t, r, "certificate mtls-ca", doctor.Pass, "Ready; expires in 3650 days")
		requireCheck(t, r, "certificate nautobot-mtls-client-ca1", doctor.Pass, "Ready")
		requireCheck(t, r, "ca.crt-only secret mtls-ca-cert", doctor.Pass, "ca.crt only")
		requireCheck(t, r, "controller External Secrets", doctor.Pass, "reconciles PushSecret "+caNS+"/mtls-ca-cert")
		requireCheck(t, r, "pushsecret "+caNS+"/mtls-ca-cert", doctor.Pass, "Ready=True")
		requireCheck(t, r, check, doctor.Pass, "in its own namespace", "serviceaccounts", "secretstores of "+appNS)
	})

	t.Run("doctor global: a Role that lets an account of the application namespace read the key pair fails", func(t *testing.T) {
		grant := map[string]any{"name": "thief-reads-ca", "namespace": caNS}
		e.applyObjects(
			map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": grant,
				"rules": []any{map[string]any{"apiGroups": []any{""}, "resources": []any{"secrets"},
					"resourceNames": []any{"mtls-ca-key-pair"}, "verbs": []any{"get"}}}},
			map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": grant,
				"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "thief-reads-ca"},
				"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": "thief", "namespace": appNS}}},
			map[string]any{"apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore", "metadata": map[string]any{"name": "thief-cluster"},
				"spec": map[string]any{"conditions": []any{map[string]any{"namespaces": []any{appNS}}},
					"provider": map[string]any{"kubernetes": map[string]any{"remoteNamespace": caNS, "server": server,
						"auth": map[string]any{"serviceAccount": map[string]any{"name": "thief", "namespace": appNS}}}}}},
		)
		r := doctor.Global(t.Context(), cl, doctor.GlobalOptions{Outputs: out, Now: time.Now()})
		requireCheck(t, r, check, doctor.Fail, "reachable from the application namespace "+appNS,
			"serviceaccount "+appNS+"/thief", "SecretStore thief (as thief: any ExternalSecret in "+appNS+" naming it can copy tls.key)",
			"ClusterSecretStore thief-cluster (as "+appNS+"/thief: any ExternalSecret in "+appNS+" naming it can copy tls.key)")
		require.Equal(t, 1, r.ExitCode())

		// The doctor's finding is real: the same ExternalSecret now copies the CA's key.
		e.forceSync("secretstores.external-secrets.io", appNS, "thief")
		e.waitCondition("secretstores.external-secrets.io", appNS, "thief", "Ready", 2*time.Minute)
		e.forceSync("externalsecrets.external-secrets.io", appNS, "via-own-account")
		e.waitCondition("externalsecrets.external-secrets.io", appNS, "via-own-account", "Ready", 2*time.Minute)
		require.Equal(t, ca["tls.key"], e.secret(appNS, "via-own-account")["tls.key"])
	})
}

// waitEvent polls until a controller has recorded an Event for the object whose message contains want
// (the controllers record their errors' own words as Events; the conditions carry a summary).
func (e *env) waitEvent(namespace, kind, name, want string) {
	e.t.Helper()
	var messages []string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		out := e.mustRun("kubectl", "--kubeconfig", e.kubeconfig, "get", "events", "-n", namespace, "-o", "json",
			"--field-selector", "involvedObject.kind="+kind+",involvedObject.name="+name)
		var list struct {
			Items []struct {
				Message string `json:"message"`
			} `json:"items"`
		}
		require.NoError(e.t, json.Unmarshal([]byte(out), &list), out)
		messages = messages[:0]
		for _, it := range list.Items {
			if strings.Contains(it.Message, want) {
				e.t.Logf("%s %s/%s: event %q", kind, namespace, name, it.Message)
				return
			}
			messages = append(messages, it.Message)
		}
	}
	e.t.Fatalf("%s %s/%s: no event with %q; events: %q", kind, namespace, name, want, messages)
}
