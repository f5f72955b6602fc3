package integration

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestControllers runs the global stack and site stacks against the real cert-manager and External
// Secrets controllers that scripts/cluster.sh starts: cert-manager issues every certificate, External
// Secrets copies the CA certificate into the ca.crt-only secret and syncs every site secret from the
// stand-in provider (ClusterSecretStore demo-secrets), in every shape the seed names.
func TestControllers(t *testing.T) {
	e := newEnv(t)
	global := e.stack("global", "global")
	// Two more global stacks, each in its own namespace, so cert-manager also issues PKCS#8 and RSA keys.
	pkcs8 := e.stack("global-pkcs8", "global", e.extraGlobal("nautobot-pkcs8", "pk8", "keyEncoding: PKCS8"))
	rsaGlobal := e.stack("global-rsa", "global", e.extraGlobal("nautobot-rsa", "rsa1", "keyAlgorithm: RSA"))
	for _, s := range []string{global, pkcs8, rsaGlobal} {
		e.up(s)
	}

	start := time.Now()
	for _, ns := range []string{"nautobot", "nautobot-pkcs8", "nautobot-rsa"} {
		for _, name := range e.names("certificates.cert-manager.io", ns) {
			e.waitCondition("certificates.cert-manager.io", ns, name, "Ready", 2*time.Minute)
		}
	}
	t.Logf("every certificate of the three global stacks Ready %s after the last pulumi up", time.Since(start).Round(time.Millisecond))

	ca := e.secret("nautobot", "mtls-ca-key-pair")
	caCert := onlyCert(t, ca["tls.crt"])
	require.True(t, caCert.IsCA)
	require.Equal(t, "understack-mtls-ca", caCert.Subject.CommonName)

	t.Run("cert-manager issued every certificate from the CA", func(t *testing.T) {
		e.waitCondition("issuers.cert-manager.io", "nautobot", "mtls-selfsigned", "Ready", time.Minute)
		e.waitCondition("issuers.cert-manager.io", "nautobot", "mtls-ca-issuer", "Ready", time.Minute)
		names := e.names("certificates.cert-manager.io", "nautobot")
		require.Len(t, names, 8)
		secrets := e.secrets("nautobot")
		for _, name := range names {
			if name == "mtls-ca" {
				continue
			}
			spec := dig(e.object("certificates.cert-manager.io", "nautobot", name), "spec").(map[string]any)
			s := secrets[spec["secretName"].(string)]
			leaf := onlyCert(t, s["tls.crt"])
			require.Equal(t, spec["commonName"], leaf.Subject.CommonName, name)
			require.Equal(t, caCert.Raw, onlyCert(t, s["ca.crt"]).Raw, "%s: ca.crt is the CA", name)
			requireKeyMatches(t, s["tls.key"], "EC PRIVATE KEY", leaf)
			usage := x509.ExtKeyUsageClientAuth
			if strings.HasSuffix(name, "-server-tls") {
				usage = x509.ExtKeyUsageServerAuth
			}
			verify(t, leaf, caCert, usage)
		}
		db := onlyCert(t, e.secret("nautobot", "nautobot-cluster-server-tls")["tls.crt"])
		require.Contains(t, db.DNSNames, "nautobot-db.demo.example.com")
		require.Contains(t, db.DNSNames, "nautobot-cluster-rw.nautobot.svc")
	})

	t.Run("the ca.crt-only secret is produced by the stack's SecretStore and ExternalSecret", func(t *testing.T) {
		e.waitCondition("secretstores.external-secrets.io", "nautobot", "mtls-ca-cert-reader", "Ready", time.Minute)
		e.waitCondition("externalsecrets.external-secrets.io", "nautobot", "mtls-ca-cert", "Ready", 2*time.Minute)
		obj := e.object("secrets", "nautobot", "mtls-ca-cert")
		require.Equal(t, "Opaque", obj["type"])
		require.Equal(t, "true", dig(obj, "metadata", "labels", "cnpg.io/reload"))
		public := e.secret("nautobot", "mtls-ca-cert")
		require.Equal(t, []string{"ca.crt"}, keys(public), "the public secret holds ca.crt and nothing else")
		require.Equal(t, caCert.Raw, onlyCert(t, public["ca.crt"]).Raw)
		require.NotContains(t, string(public["ca.crt"]), "PRIVATE KEY")
		if !bytes.Equal(public["ca.crt"], ca["tls.crt"]) {
			t.Logf("ca.crt differs from the CA's tls.crt byte for byte (same certificate): %q vs %q", tail(public["ca.crt"]), tail(ca["tls.crt"]))
		}
	})

	t.Run("the store's API server CA and service account token work against this API server", func(t *testing.T) {
		// kube-controller-manager publishes kube-root-ca.crt from its kubeconfig's CA (no --root-ca-file).
		root := e.object("configmaps", "nautobot", "kube-root-ca.crt")
		pool := x509.NewCertPool()
		require.True(t, pool.AppendCertsFromPEM([]byte(dig(root, "data", "ca.crt").(string))))
		u, err := url.Parse(e.serverURL())
		require.NoError(t, err)
		conn, err := tls.Dial("tcp", u.Host, &tls.Config{RootCAs: pool, ServerName: u.Hostname(), MinVersion: tls.VersionTLS12})
		require.NoError(t, err, "kube-root-ca.crt does not verify the API server at %s", u.Host)
		require.NoError(t, conn.Close())
		// What External Secrets does for serviceAccount auth: a TokenRequest, then reads with that token.
		token := strings.TrimSpace(e.mustRun("kubectl", "--kubeconfig", e.kubeconfig, "create", "token", "mtls-ca-cert-reader", "-n", "nautobot"))
		as := []string{"--kubeconfig", e.kubeconfig, "--token", token, "-n", "nautobot", "get", "secret"}
		e.mustRun("kubectl", append(as, "mtls-ca-key-pair")...)
		out, err := e.run("kubectl", append(as, "nautobot-mtls-client")...)
		require.Error(t, err, "the CA store's account may read the CA secret only")
		require.Contains(t, out, "Forbidden")
	})

	t.Run("the issued PKI is exported for the mTLS tests", func(t *testing.T) {
		dir := exportIssuedPKI(t, e, "nautobot")
		t.Logf("issued PKI written to %s", dir)
	})

	// The stand-in provider's items: the demo script fills the demo sites' items from the issued
	// certificates (as `make up` does); the test adds the shapes the demo does not use.
	e.mustRun("bash", "scripts/demo-secrets.sh")
	items := map[string]map[string]string{}
	issued := func(ns, secret string) (leaf, key string) {
		s := e.secret(ns, secret)
		return string(s["tls.crt"]), string(s["tls.key"])
	}
	crlf := func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }
	lonCert, lonKey := issued("nautobot", "nautobot-mtls-client-lon1")
	items["shape-lon1-client"] = map[string]string{"password": crlf(lonKey + lonCert)}
	items["shape-lon1-ca"] = map[string]string{"password": crlf(string(ca["tls.crt"]))}
	pk8Cert, pk8Key := issued("nautobot-pkcs8", "nautobot-mtls-client-pk8")
	items["shape-pk8-client"] = map[string]string{"password": pk8Cert + pk8Key}
	items["shape-pk8-ca"] = map[string]string{"password": string(e.secret("nautobot-pkcs8", "mtls-ca-key-pair")["tls.crt"])}
	rsaCert, rsaKey := issued("nautobot-rsa", "nautobot-mtls-client-rsa1")
	items["shape-rsa1-client"] = map[string]string{"cert": crlf(rsaCert), "key": crlf(rsaKey)}
	items["shape-rsa1-ca"] = map[string]string{"ca": crlf(string(e.secret("nautobot-rsa", "mtls-ca-key-pair")["tls.crt"]))}
	for name, fields := range items {
		e.putItem(name, fields)
	}

	refGlobal := func(g string) func(string) string {
		return func(config string) string {
			return strings.Replace(config, "config:\n", "config:\n  nautobot-worker:globalStack: organization/nautobot-worker/"+g+"\n", 1)
		}
	}
	type shape struct {
		site, ns, global, keyType, what string
		stack                           string
	}
	shapes := []shape{
		{site: "dfw1", ns: "nautobot-dfw1", global: "nautobot", keyType: "EC PRIVATE KEY",
			what: "certificate and key concatenated in one field, the demo's item"},
		{site: "iad1", ns: "nautobot-iad1", global: "nautobot", keyType: "EC PRIVATE KEY",
			what: "certificate, key and CA in separate fields, the demo's items"},
		{site: "lon1", ns: "shape-lon1", global: "nautobot", keyType: "EC PRIVATE KEY",
			what: "key before certificate in one field, CRLF line endings, CA with CRLF"},
		{site: "pk8", ns: "shape-pk8", global: "nautobot-pkcs8", keyType: "PRIVATE KEY",
			what: "certificate and PKCS#8 key concatenated in one field"},
		{site: "rsa1", ns: "shape-rsa1", global: "nautobot-rsa", keyType: "RSA PRIVATE KEY",
			what: "RSA certificate and key in separate fields, CRLF line endings"},
	}
	globals := map[string]string{"nautobot": global, "nautobot-pkcs8": pkcs8, "nautobot-rsa": rsaGlobal}
	for i, s := range shapes {
		switch s.site {
		case "dfw1", "iad1":
			shapes[i].stack = e.stack("site-"+s.site, "site-"+s.site, refGlobal(global))
		case "rsa1":
			shapes[i].stack = e.stack("shape-"+s.site, "site-dfw1", e.shapeSite(globals[s.global], s.site, s.ns,
				"clientCertProperty: cert\n      clientKeyProperty: key\n      caCertProperty: ca"))
		default:
			shapes[i].stack = e.stack("shape-"+s.site, "site-dfw1", e.shapeSite(globals[s.global], s.site, s.ns, ""))
		}
		e.up(shapes[i].stack)
	}

	for _, s := range shapes {
		t.Run(s.site+": "+s.what, func(t *testing.T) {
			for _, name := range e.names("externalsecrets.external-secrets.io", s.ns) {
				e.waitCondition("externalsecrets.external-secrets.io", s.ns, name, "Ready", 2*time.Minute)
			}
			es := e.object("externalsecrets.external-secrets.io", s.ns, "nautobot-mtls-client")
			require.Equal(t, "SecretSynced", condition(es, "Ready")["reason"])
			obj := e.object("secrets", s.ns, "nautobot-mtls-client")
			require.Equal(t, "kubernetes.io/tls", obj["type"])
			got := e.secret(s.ns, "nautobot-mtls-client")
			require.Equal(t, []string{"ca.crt", "tls.crt", "tls.key"}, keys(got))
			for k, v := range got {
				require.NotContains(t, string(v), "\r", "%s: filterPEM left a carriage return in %s", s.site, k)
			}
			want := e.secret(s.global, "nautobot-mtls-client-"+s.site)
			leaf := onlyCert(t, got["tls.crt"])
			require.Equal(t, onlyCert(t, want["tls.crt"]).Raw, leaf.Raw, "tls.crt is the issued leaf and nothing else")
			requireKeyMatches(t, got["tls.key"], s.keyType, leaf)
			require.Equal(t, pemBlocks(t, want["tls.key"])[0].Bytes, pemBlocks(t, got["tls.key"])[0].Bytes, "tls.key is the issued key")
			siteCA := onlyCert(t, got["ca.crt"])
			require.Equal(t, onlyCert(t, e.secret(s.global, "mtls-ca-key-pair")["tls.crt"]).Raw, siteCA.Raw, "ca.crt is the CA only")
			verify(t, leaf, siteCA, x509.ExtKeyUsageClientAuth)
		})
	}

	t.Run("the demo site's mTLS secret, as External Secrets wrote it, is exported for the worker test", func(t *testing.T) {
		dir := exportSiteSecret(t, e, "nautobot-dfw1", "nautobot-mtls-client", "dfw1")
		t.Logf("site dfw1's client certificate written to %s", dir)
	})

	t.Run("an item that loses its key fails the sync and the last good secret stays", func(t *testing.T) {
		// Without the template's guard, filterPEM yields "" and External Secrets reports SecretSynced for a
		// kubernetes.io/tls secret with an empty tls.key (measured with this controller).
		before := e.secret("shape-lon1", "nautobot-mtls-client")
		e.putItem("shape-lon1-client", map[string]string{"password": crlf(lonCert)})
		e.mustRun("kubectl", "--kubeconfig", e.kubeconfig, "-n", "shape-lon1", "annotate", "--overwrite",
			"externalsecrets.external-secrets.io", "nautobot-mtls-client", "force-sync="+time.Now().Format(time.RFC3339Nano))
		e.waitConditionStatus("externalsecrets.external-secrets.io", "shape-lon1", "nautobot-mtls-client", "Ready", "False", time.Minute)
		require.Equal(t, "SecretSyncedError", condition(e.object("externalsecrets.external-secrets.io", "shape-lon1", "nautobot-mtls-client"), "Ready")["reason"])
		events := e.mustRun("kubectl", "--kubeconfig", e.kubeconfig, "-n", "shape-lon1", "get", "events",
			"--field-selector", "involvedObject.kind=ExternalSecret,involvedObject.name=nautobot-mtls-client", "-o", "jsonpath={.items[*].message}")
		require.Contains(t, events, `field "password" of remote key "shape-lon1-client" (secrets.mtls.clientKey) holds no EC PRIVATE KEY block`)
		require.Equal(t, before, e.secret("shape-lon1", "nautobot-mtls-client"))
	})

	t.Run("the site's other secrets are the provider's items", func(t *testing.T) {
		item := e.secrets("demo-secrets-provider")
		for _, s := range shapes {
			got := e.secrets(s.ns)
			require.Equal(t, map[string][]byte{"NAUTOBOT_SECRET_KEY": item["nautobot-django"]["password"]}, got["nautobot-django"], s.site)
			require.Equal(t, item["nautobot-db"], got["nautobot-db"], s.site)
			require.Equal(t, map[string][]byte{"redis-password": item["nautobot-redis"]["password"]}, got["nautobot-worker-redis"], s.site)
			require.Equal(t, map[string][]byte{".dockerconfigjson": item["ghcr-pull-secret"]["password"]}, got["dockerconfigjson-github-com"], s.site)
			require.Equal(t, "kubernetes.io/dockerconfigjson", e.object("secrets", s.ns, "dockerconfigjson-github-com")["type"])
			require.Equal(t, item["nautobot-custom-env"], got["nautobot-custom-env"], s.site)
		}
	})

	// The seed's Troubleshooting as commands, on these real objects (tests/integration/doctor_test.go).
	doctorGlobal(t, e, global)
	doctorSite(t, e, shapes[0].stack, "nautobot-dfw1", badSiteSecrets(e, "nautobot-dfw1", "nautobot-rsa", "rsa1"))
}

// extraGlobal is a whole global stack config (the demo's is ignored) in its own namespace with one site,
// without the gateway and Nautobot (both would collide with the demo global's), plus a certificates key.
func (e *env) extraGlobal(namespace, site, certificates string) func(string) string {
	return func(string) string {
		return fmt.Sprintf(`config:
  pulumi:disable-default-providers: [kubernetes]
  nautobot-worker:role: global
  nautobot-worker:kubernetes:
    kubeconfig: %s
  nautobot-worker:namespace: %s
  nautobot-worker:sites:
    - name: %s
  nautobot-worker:authority:
    caPublicStore:
      serverUrl: %s
  nautobot-worker:certificates:
    %s
  nautobot-worker:gateway:
    enabled: false
    domain: %s.example.com
  nautobot-worker:nautobot:
    enabled: false
`, e.kubeconfig, namespace, site, e.serverURL(), certificates, namespace)
	}
}

// shapeSite turns the demo site dfw1's config into site `site` of global stack `global` in namespace ns,
// reading its mTLS items shape-<site>-client and shape-<site>-ca (fields: mtls, default password).
func (e *env) shapeSite(global, site, ns, mtls string) func(string) string {
	return func(config string) string {
		for old, repl := range map[string]string{
			"config:\n":        "config:\n  nautobot-worker:globalStack: organization/nautobot-worker/" + global + "\n",
			"    name: dfw1\n": "    name: " + site + "\n",
			"nautobot-worker:namespace: nautobot-dfw1": "nautobot-worker:namespace: " + ns,
			"clientKey: nautobot-mtls-client-dfw1":     "clientKey: shape-" + site + "-client",
			"caKey: nautobot-mtls-ca":                  "caKey: shape-" + site + "-ca",
		} {
			require.Contains(e.t, config, old, "Pulumi.site-dfw1.yaml changed: update shapeSite")
			config = strings.Replace(config, old, repl, 1)
		}
		if mtls != "" {
			config = strings.Replace(config, "caKey: shape-"+site+"-ca\n", "caKey: shape-"+site+"-ca\n      "+mtls+"\n", 1)
		}
		return config
	}
}

// putItem writes one item of the stand-in secrets provider.
func (e *env) putItem(name string, fields map[string]string) {
	e.t.Helper()
	data := map[string]string{}
	for k, v := range fields {
		data[k] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	manifest, err := json.Marshal(map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": name, "namespace": "demo-secrets-provider"},
		"data":     data,
	})
	require.NoError(e.t, err)
	file := filepath.Join(e.t.TempDir(), name+".json")
	require.NoError(e.t, os.WriteFile(file, manifest, 0o600))
	e.mustRun("kubectl", "--kubeconfig", e.kubeconfig, "apply", "-f", file)
}

// secret is a Secret's decoded data.
func (e *env) secret(namespace, name string) map[string][]byte {
	e.t.Helper()
	out := map[string][]byte{}
	data, _ := dig(e.object("secrets", namespace, name), "data").(map[string]any)
	for k, v := range data {
		b, err := base64.StdEncoding.DecodeString(v.(string))
		require.NoError(e.t, err)
		out[k] = b
	}
	return out
}

// secrets is every Secret of a namespace, decoded, in one API call.
func (e *env) secrets(namespace string) map[string]map[string][]byte {
	e.t.Helper()
	out := e.mustRun("kubectl", "--kubeconfig", e.kubeconfig, "get", "secrets", "-n", namespace, "-o", "json")
	var list struct {
		Items []struct {
			Metadata struct{ Name string } `json:"metadata"`
			Data     map[string][]byte     `json:"data"`
		} `json:"items"`
	}
	require.NoError(e.t, json.Unmarshal([]byte(out), &list))
	all := map[string]map[string][]byte{}
	for _, it := range list.Items {
		all[it.Metadata.Name] = it.Data
	}
	return all
}

func condition(obj map[string]any, typ string) map[string]any {
	conditions, _ := dig(obj, "status", "conditions").([]any)
	for _, c := range conditions {
		if m, ok := c.(map[string]any); ok && m["type"] == typ {
			return m
		}
	}
	return nil
}

// waitCondition polls until the object's condition typ is True; on timeout it fails with the object's
// conditions and the end of the controllers' logs.
func (e *env) waitCondition(kind, namespace, name, typ string, timeout time.Duration) {
	e.t.Helper()
	e.waitConditionStatus(kind, namespace, name, typ, "True", timeout)
}

func (e *env) waitConditionStatus(kind, namespace, name, typ, status string, timeout time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	var last map[string]any
	for time.Now().Before(deadline) {
		out, err := e.run("kubectl", "--kubeconfig", e.kubeconfig, "get", kind, name, "-n", namespace, "-o", "json")
		if err == nil {
			var obj map[string]any
			require.NoError(e.t, json.Unmarshal([]byte(out), &obj), out)
			if last = condition(obj, typ); last != nil && last["status"] == status {
				return
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	e.t.Fatalf("%s %s/%s: condition %s not %s after %s; last: %v%s", kind, namespace, name, typ, status, timeout, last, e.controllerLogs())
}

// waitFor polls check until it holds and returns its last value; on timeout it fails with that value and the
// end of the controllers' logs.
func (e *env) waitFor(t *testing.T, what string, timeout time.Duration, check func() (bool, any)) any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, last := check()
		if ok {
			return last
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s; last: %v%s", what, timeout, last, e.controllerLogs())
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func (e *env) controllerLogs() string {
	logs := ""
	for _, c := range []string{"cert-manager-controller", "external-secrets", "envoy-gateway"} {
		text, _ := os.ReadFile(filepath.Join(filepath.Dir(e.kubeconfig), "logs", c+".log"))
		lines := strings.Split(strings.TrimSpace(string(text)), "\n")
		logs += fmt.Sprintf("\n--- %s (last lines)\n%s", c, strings.Join(lines[max(0, len(lines)-15):], "\n"))
	}
	return logs
}

func keys[V any](m map[string]V) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	slices.Sort(k)
	return k
}

func tail(b []byte) []byte { return b[max(0, len(b)-40):] }

func pemBlocks(t *testing.T, data []byte) []*pem.Block {
	t.Helper()
	var blocks []*pem.Block
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			require.Empty(t, strings.TrimSpace(string(rest)), "text outside PEM blocks")
			return blocks
		}
		blocks = append(blocks, b)
	}
}

// onlyCert parses data that must hold exactly one CERTIFICATE block.
func onlyCert(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	blocks := pemBlocks(t, data)
	require.Len(t, blocks, 1, "want exactly one PEM block:\n%s", data)
	require.Equal(t, "CERTIFICATE", blocks[0].Type)
	c, err := x509.ParseCertificate(blocks[0].Bytes)
	require.NoError(t, err)
	return c
}

// requireKeyMatches checks that data is exactly one key block of type blockType whose public key is the
// certificate's.
func requireKeyMatches(t *testing.T, data []byte, blockType string, cert *x509.Certificate) {
	t.Helper()
	blocks := pemBlocks(t, data)
	require.Len(t, blocks, 1, "want exactly one PEM block in the key")
	require.Equal(t, blockType, blocks[0].Type)
	var key crypto.Signer
	var err error
	switch blockType {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(blocks[0].Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(blocks[0].Bytes)
	case "PRIVATE KEY":
		var k any
		if k, err = x509.ParsePKCS8PrivateKey(blocks[0].Bytes); err == nil {
			key = k.(crypto.Signer)
		}
	}
	require.NoError(t, err)
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	require.True(t, ok)
	require.True(t, pub.Equal(cert.PublicKey), "the key does not belong to the certificate %s", cert.Subject)
	switch key.(type) {
	case *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey:
	default:
		t.Fatalf("unexpected key type %T", key)
	}
}

func verify(t *testing.T, leaf, ca *x509.Certificate, usage x509.ExtKeyUsage) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	_, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{usage}})
	require.NoError(t, err, "%s does not verify against the CA for %v", leaf.Subject, usage)
}

// issuedPKIDir is $NAUTOBOT_ISSUED_PKI_DIR (relative to the repository), default <repo>/.cluster/issued-pki.
func issuedPKIDir() string {
	dir := os.Getenv("NAUTOBOT_ISSUED_PKI_DIR")
	if dir == "" {
		return filepath.Join(root, ".cluster", "issued-pki")
	}
	if !filepath.IsAbs(dir) {
		return filepath.Join(root, dir)
	}
	return dir
}

// exportSiteSecret writes a site's mTLS client secret as the site cluster holds it (issued by cert-manager on
// the global cluster, copied by External Secrets through the secrets provider) to
// <issued PKI dir>/sites/<site>/{tls.crt,tls.key,ca.crt}, for the Celery worker test to mount where the
// site's pod mounts it. Called after exportIssuedPKI, which replaces the directory as a whole.
func exportSiteSecret(t *testing.T, e *env, namespace, secret, site string) string {
	t.Helper()
	dir := issuedPKIDir()
	sites := filepath.Join(dir, "sites")
	require.NoError(t, os.MkdirAll(sites, 0o700))
	tmp, err := os.MkdirTemp(sites, "."+site+"-")
	require.NoError(t, err)
	defer os.RemoveAll(tmp)
	got := e.secret(namespace, secret)
	require.Equal(t, []string{"ca.crt", "tls.crt", "tls.key"}, keys(got))
	for name, data := range got {
		require.NoError(t, os.WriteFile(filepath.Join(tmp, name), data, 0o600))
	}
	target := filepath.Join(sites, site)
	require.NoError(t, os.RemoveAll(target))
	require.NoError(t, os.Rename(tmp, target))
	return target
}

// exportIssuedPKI writes the certificates cert-manager issued in namespace, for the mTLS tests to run the
// real servers with: <dir>/<secret>/{tls.crt,tls.key,ca.crt} (mode 0600) for every Certificate's secret,
// and <dir>/mtls-ca-cert/ca.crt. That includes this throwaway test cluster's CA key pair: the mTLS tests
// sign their negative cases (another CN, an expired certificate) with the CA the servers trust; a real
// global cluster's CA key never leaves it. The directory is
// $NAUTOBOT_ISSUED_PKI_DIR (relative to the repository), default <repo>/.cluster/issued-pki; it is
// replaced as a whole, so a reader never sees a mix of two runs.
func exportIssuedPKI(t *testing.T, e *env, namespace string) string {
	t.Helper()
	dir := issuedPKIDir()
	require.NoError(t, os.MkdirAll(filepath.Dir(dir), 0o755))
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".issued-pki-")
	require.NoError(t, err)
	defer os.RemoveAll(tmp)
	write := func(secret string, files map[string][]byte) {
		require.NoError(t, os.Mkdir(filepath.Join(tmp, secret), 0o700))
		for name, data := range files {
			require.NotEmpty(t, data, "%s/%s", secret, name)
			require.NoError(t, os.WriteFile(filepath.Join(tmp, secret, name), data, 0o600))
		}
	}
	var exported []string
	secrets := e.secrets(namespace)
	var certs struct {
		Items []struct {
			Spec struct {
				SecretName string `json:"secretName"`
			} `json:"spec"`
		} `json:"items"`
	}
	out := e.mustRun("kubectl", "--kubeconfig", e.kubeconfig, "get", "certificates.cert-manager.io", "-n", namespace, "-o", "json")
	require.NoError(t, json.Unmarshal([]byte(out), &certs))
	for _, c := range certs.Items {
		secret := c.Spec.SecretName
		s := secrets[secret]
		write(secret, map[string][]byte{"tls.crt": s["tls.crt"], "tls.key": s["tls.key"], "ca.crt": s["ca.crt"]})
		exported = append(exported, secret)
	}
	write("mtls-ca-cert", map[string][]byte{"ca.crt": secrets["mtls-ca-cert"]["ca.crt"]})
	slices.Sort(exported)
	require.Equal(t, []string{
		"mtls-ca-key-pair", "nautobot-cluster-replication", "nautobot-cluster-server-tls", "nautobot-mtls-client",
		"nautobot-mtls-client-dfw1", "nautobot-mtls-client-iad1", "nautobot-mtls-client-lon1", "nautobot-redis-server-tls",
	}, exported)
	require.NoError(t, os.RemoveAll(dir))
	require.NoError(t, os.Rename(tmp, dir))
	return dir
}
