package integration

import (
	"crypto/x509"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/doctor"
)

// TestMovingTheCAToItsOwnNamespace follows the README's steps on a global stack deployed with the default
// layout (the CA in the application namespace), against the real controllers: the CA and every issued
// certificate move to authority.namespace without a new key or a reissue, and the application namespace
// keeps its Secrets, now pushed, and loses the key pair and the store that read it.
func TestMovingTheCAToItsOwnNamespace(t *testing.T) {
	const app, ca = "nautobot-move", "nautobot-move-ca"
	e := newEnv(t)
	global := e.stack("global-move", "global", e.extraGlobal(app, "mv1", "keyEncoding: PKCS1"))
	e.up(global)
	issued := []string{"nautobot-cluster-server-tls", "nautobot-redis-server-tls", "nautobot-cluster-replication",
		"nautobot-mtls-client", "nautobot-mtls-client-mv1"}
	for _, name := range append([]string{"mtls-ca"}, issued...) {
		e.waitCondition("certificates.cert-manager.io", app, name, "Ready", 2*time.Minute)
	}
	e.waitCondition("externalsecrets.external-secrets.io", app, "mtls-ca-cert", "Ready", 2*time.Minute)
	before := map[string]map[string][]byte{}
	for _, name := range append([]string{"mtls-ca-key-pair", "mtls-ca-cert"}, issued...) {
		before[name] = e.secret(app, name)
	}

	// 1. Set authority.namespace and create only the CA namespace.
	e.rewrite(global, func(config string) string {
		return strings.Replace(config, "  nautobot-worker:authority:\n", "  nautobot-worker:authority:\n    namespace: "+ca+"\n", 1)
	})
	urns := e.urns(global)
	_, err := e.open(global).Up(t.Context(), optup.Target([]string{e.urnOf(urns, "kubernetes:core/v1:Namespace::global-ca-namespace", global)}),
		optup.SuppressProgress(), optup.Color("never"))
	require.NoError(t, err)
	// 2. Copy the CA key pair and every issued Secret, with cert-manager's annotations, beside the CA.
	var copies []any
	for _, name := range append([]string{"mtls-ca-key-pair"}, issued...) {
		obj := e.object("secrets", app, name)
		meta := obj["metadata"].(map[string]any)
		copies = append(copies, map[string]any{"apiVersion": "v1", "kind": "Secret", "type": obj["type"], "data": obj["data"],
			"metadata": map[string]any{"name": name, "namespace": ca, "labels": meta["labels"], "annotations": meta["annotations"]}})
	}
	e.applyObjects(copies...)
	// 3. Let the state drop the two protected objects of the old layout, then deploy the new one.
	for _, suffix := range []string{"kubernetes:cert-manager.io/v1:Certificate::mtls-ca", "kubernetes:external-secrets.io/v1:ExternalSecret::mtls-ca-public"} {
		e.mustRun("pulumi", "state", "unprotect", "--yes", "-s", "organization/nautobot-worker/"+global, e.urnOf(urns, suffix, global))
	}
	e.up(global)
	// 4. Remove what the state let go of: the old CA Certificate and its key pair, and the old ExternalSecret
	// without its Secret.
	e.mustRun("kubectl", "--kubeconfig", e.kubeconfig, "-n", app, "delete", "externalsecret", "mtls-ca-cert", "--cascade=orphan")
	e.mustRun("kubectl", "--kubeconfig", e.kubeconfig, "-n", app, "delete", "certificate", "mtls-ca")
	e.mustRun("kubectl", "--kubeconfig", e.kubeconfig, "-n", app, "delete", "secret", "mtls-ca-key-pair")

	for _, name := range append([]string{"mtls-ca"}, issued...) {
		e.waitCondition("certificates.cert-manager.io", ca, name, "Ready", 2*time.Minute)
	}
	for _, name := range append([]string{"mtls-ca-cert"}, issued...) {
		e.waitCondition("pushsecrets.external-secrets.io", ca, name, "Ready", 2*time.Minute)
	}

	t.Run("the CA keeps its key and certificate, and nothing was reissued", func(t *testing.T) {
		require.Equal(t, before["mtls-ca-key-pair"]["tls.key"], e.secret(ca, "mtls-ca-key-pair")["tls.key"])
		require.Equal(t, before["mtls-ca-key-pair"]["tls.crt"], e.secret(ca, "mtls-ca-key-pair")["tls.crt"])
		for _, name := range issued {
			require.Equal(t, before[name], e.secret(ca, name), "%s beside the CA is the one issued before the move", name)
			require.Equal(t, before[name], e.secret(app, name), "%s in the application namespace", name)
		}
		// The copy's template re-encoded the PEM; the push copies tls.crt as it is: the same certificate.
		public := e.secret(app, "mtls-ca-cert")
		require.Equal(t, []string{"ca.crt"}, keys(public))
		require.Equal(t, onlyCert(t, before["mtls-ca-cert"]["ca.crt"]).Raw, onlyCert(t, public["ca.crt"]).Raw)
		obj := e.object("secrets", app, "mtls-ca-cert")
		require.Nil(t, dig(obj, "metadata", "ownerReferences"), "the old ExternalSecret no longer owns it")
		leaf := onlyCert(t, e.secret(app, "nautobot-mtls-client-mv1")["tls.crt"])
		verify(t, leaf, onlyCert(t, e.secret(app, "mtls-ca-cert")["ca.crt"]), x509.ExtKeyUsageClientAuth)
	})

	t.Run("the application namespace keeps no key pair, Certificate or reader store", func(t *testing.T) {
		require.False(t, e.exists("secrets", app, "mtls-ca-key-pair"))
		require.Empty(t, e.names("certificates.cert-manager.io", app))
		require.Empty(t, e.names("secretstores.external-secrets.io", app))
		cl, err := doctor.ConnectCluster(e.kubeconfig, "")
		require.NoError(t, err)
		r := doctor.Global(t.Context(), cl, doctor.GlobalOptions{Outputs: e.outputs(global), Now: time.Now()})
		requireCheck(t, r, "CA key pair "+ca+"/mtls-ca-key-pair", doctor.Pass, "in its own namespace")
	})

	t.Run("a second preview plans nothing", func(t *testing.T) {
		require.Empty(t, e.previewSteps(global))
	})
}

// urns are the URNs of a stack's resources, from its exported state.
func (e *env) urns(stack string) []string {
	e.t.Helper()
	exported, err := e.open(stack).Export(e.t.Context())
	require.NoError(e.t, err)
	var deployment struct {
		Resources []struct {
			URN string `json:"urn"`
		} `json:"resources"`
	}
	require.NoError(e.t, json.Unmarshal(exported.Deployment, &deployment))
	var urns []string
	for _, r := range deployment.Resources {
		urns = append(urns, r.URN)
	}
	return urns
}

// urnOf is the URN ending in "<type>::<name>"; a resource not yet created gets the URN the program will
// give it (a top-level resource of the stack).
func (e *env) urnOf(urns []string, suffix, stack string) string {
	e.t.Helper()
	for _, u := range urns {
		if strings.HasSuffix(u, "$"+suffix) || strings.HasSuffix(u, "::"+suffix) {
			return u
		}
	}
	return "urn:pulumi:" + stack + "::nautobot-worker::" + suffix
}
