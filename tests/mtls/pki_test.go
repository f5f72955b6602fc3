package mtls

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"nautobot-worker/internal/mocks"
	"nautobot-worker/internal/realchart"
	"nautobot-worker/stacks/global"
)

// clientSet is one mounted nautobot-mtls-client Secret: a directory with tls.crt, tls.key and ca.crt.
type clientSet string

const (
	setApp        clientSet = "app"          // the first site's client certificate, as the stack declares it
	setSecondSite clientSet = "second-site"  // the second site's client certificate
	setGlobal     clientSet = "global"       // the global pods' client certificate
	setReplica    clientSet = "replica"      // CNPG's replicationTLSSecret (CN streaming_replica)
	setOtherCA    clientSet = "other-ca"     // the site's spec signed by another CA of the authority's spec
	setCNOther    clientSet = "cn-other"     // the site's spec with CN other, signed by the stack's CA
	setCNPostgres clientSet = "cn-postgres"  // the site's spec with CN postgres (the superuser), signed by the stack's CA
	setExpired    clientSet = "expired"      // the site's spec, signed by the stack's CA, expired an hour ago
	setClientAsCA clientSet = "client-as-ca" // valid cert and key, but ca.crt holds the client cert (seed gotcha)
	setCRLF       clientSet = "crlf"         // the valid files with \r\n line endings
	setEscaped    clientSet = "escaped"      // the valid files with line breaks stored as the text `\r\n`
)

func (s clientSet) file(name string) string { return filepath.Join(testPKI.dir, string(s), name) }
func (s clientSet) cert() string            { return s.file("tls.crt") }
func (s clientSet) key() string             { return s.file("tls.key") }
func (s clientSet) ca() string              { return s.file("ca.crt") }

// secretFiles is one Secret as cert-manager writes it: tls.crt, tls.key and ca.crt.
type secretFiles struct{ crt, key, ca []byte }

// stackPKI is the PKI of the global stack: the Certificates and Issuers it registers, read from a run
// of its program on Pulumi.global.yaml under mocks, issued the way cert-manager issues them (its own
// pki package: key generation and encoding, CSR, template, usages, validity, signing). So a change to a
// component's Certificate spec changes what the real servers below are tested with. With
// NAUTOBOT_ISSUED_PKI_DIR set, the secrets the real cert-manager issued on the local cluster replace
// the minted ones (the negative cases are still derived from the specs, signed by the issued CA key).
type stackPKI struct {
	dir    string
	source string

	dbFQDN, redisFQDN, wrongFQDN string
	// dbPort and redisPort are the gateway ports the stack gives the sites.
	dbPort, redisPort int
	// pgHBA and pgIdent are the CNPG Cluster's spec.postgresql.pg_hba and pg_ident as the stack sets them.
	pgHBA, pgIdent []string
	// sites are the sites the stack lists, sorted; setApp is the first's certificate, setSecondSite the
	// second's.
	sites []string
	// postgresServer and redisServer are the secrets CNPG and the Redis subchart are configured with.
	postgresServer, redisServer secretFiles
	// gateway is what the stack registers for the passthrough gateway (see translation).
	gateway stackGateway
	// globalRelease is the global Nautobot release as the stack registers it: the chart the provider
	// renders, the release name, namespace and values.
	globalRelease release
	// redisPasswords are the sites' Redis passwords (the Secrets the stack registers), by site.
	redisPasswords map[string]string
	// caPEM is the ca.crt-only secret's content: the CA certificate that CNPG and Redis trust.
	caPEM []byte
	// specs are the stack's Certificates and secrets what was issued for them, by secret name.
	specs   map[string]*cmapi.Certificate
	secrets map[string]secretFiles
}

var (
	pkiOnce sync.Once
	testPKI *stackPKI
	pkiErr  error
	// The gateway FQDNs of the global stack's TLS routes (and its servers' SANs), and a name it does not
	// route; set with the PKI.
	dbFQDN, redisFQDN, wrongFQDN string
)

// getPKI issues the stack's PKI once per test binary (its directory is removed when the run ends).
func getPKI(t testing.TB) *stackPKI {
	t.Helper()
	pkiOnce.Do(func() {
		testPKI, pkiErr = mintPKI(t, repoRoot(t))
		if pkiErr == nil {
			dbFQDN, redisFQDN, wrongFQDN = testPKI.dbFQDN, testPKI.redisFQDN, testPKI.wrongFQDN
			t.Logf("PKI %s", testPKI.source)
		}
	})
	if pkiErr != nil {
		t.Fatalf("the stack's PKI: %v", pkiErr)
	}
	return testPKI
}

// certSpec decodes a registered Certificate strictly into cert-manager's own type, so a field
// cert-manager does not know fails here as the API server would refuse it.
func certSpec(r mocks.Resource) (*cmapi.Certificate, error) {
	b, err := json.Marshal(r.Plain())
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var c cmapi.Certificate
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("Certificate %s: %w", r.Name, err)
	}
	return &c, nil
}

// issuedKeyPair is a signed certificate with its key, as cert-manager keeps it.
type issuedKeyPair struct {
	cert   *x509.Certificate
	signer crypto.Signer
	secretFiles
}

// issue mints crt the way cert-manager's certificates controller and its CA or SelfSigned issuer do:
// a key of the spec's algorithm and size, a CSR, the template cert-manager builds from it (duration,
// basic constraints, key usages), signed by signer, or by itself when signer is nil. validity, when
// set, moves the certificate's window (for the expired case).
func issue(crt *cmapi.Certificate, signer *issuedKeyPair, validity func(*x509.Certificate)) (*issuedKeyPair, error) {
	key, err := pki.GeneratePrivateKeyForCertificate(crt)
	if err != nil {
		return nil, err
	}
	csr, err := pki.GenerateCSR(crt)
	if err != nil {
		return nil, err
	}
	csrDER, err := pki.EncodeCSR(csr, key)
	if err != nil {
		return nil, err
	}
	duration := time.Duration(0)
	if crt.Spec.Duration != nil {
		duration = crt.Spec.Duration.Duration
	}
	if duration == 0 {
		duration = cmapi.DefaultCertificateDuration
	}
	ku, eku, err := pki.KeyUsagesForCertificateOrCertificateRequest(crt.Spec.Usages, crt.Spec.IsCA)
	if err != nil {
		return nil, fmt.Errorf("Certificate %s: %w", crt.Name, err)
	}
	tmpl, err := pki.CertificateTemplateFromCSRPEM(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER}),
		pki.CertificateTemplateOverrideDuration(duration),
		pki.CertificateTemplateValidateAndOverrideBasicConstraints(crt.Spec.IsCA, nil),
		pki.CertificateTemplateValidateAndOverrideKeyUsages(ku, eku))
	if err != nil {
		return nil, err
	}
	if validity != nil {
		validity(tmpl)
	}
	keyPEM, err := pki.EncodePrivateKey(key, crt.Spec.PrivateKey.Encoding)
	if err != nil {
		return nil, err
	}
	out := &issuedKeyPair{signer: key}
	if signer == nil {
		certPEM, cert, err := pki.SignCertificate(tmpl, tmpl, key.Public(), key)
		if err != nil {
			return nil, err
		}
		out.cert, out.secretFiles = cert, secretFiles{crt: certPEM, key: keyPEM, ca: certPEM}
		return out, nil
	}
	bundle, err := pki.SignCSRTemplate([]*x509.Certificate{signer.cert}, signer.signer, tmpl)
	if err != nil {
		return nil, err
	}
	out.cert, err = pki.DecodeX509CertificateBytes(bundle.ChainPEM)
	if err != nil {
		return nil, err
	}
	out.secretFiles = secretFiles{crt: bundle.ChainPEM, key: keyPEM, ca: bundle.CAPEM}
	return out, nil
}

// stackRun is what the global stack registers for the demo config.
type stackRun struct {
	certs   map[string]*cmapi.Certificate // by secretName
	issuers map[string]map[string]any     // Issuer spec by name
	cluster map[string]any                // the CNPG Cluster's spec
	release release
	outputs map[string]any
	gateway stackGateway
	// redisPasswords are the sites' Redis passwords, from the Secrets the stack registers, by site.
	redisPasswords map[string]string
}

// testRedisSiteKey is the global stack's redisSiteKey in these runs, set as a secret as an operator sets it.
const testRedisSiteKey = "0f3c5d9e1a7b2c4d6e8f0a1b3c5d7e9f1a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d"

// withRedisSiteKey is the config option that sets testRedisSiteKey as a secret config value.
func withRedisSiteKey(info *pulumi.RunInfo) {
	const key = "nautobot-worker:redisSiteKey"
	info.Config[key] = testRedisSiteKey
	info.ConfigSecretKeys = append(info.ConfigSecretKeys, key)
}

// release is a helm/v4 Chart registration.
type release struct {
	chart, name, namespace string
	values                 map[string]any
}

// runGlobalStack runs the global stack's program on the demo's Pulumi.global.yaml under mocks, from the
// repository root, the program's directory (the stack's relative paths are the program's). set replaces
// config values (full keys, such as nautobot-worker:sites).
func runGlobalStack(t testing.TB, root string, set map[string]string) (*stackRun, error) {
	cfg, err := mocks.StackFile(filepath.Join(root, realchart.DemoDir, "Pulumi.global.yaml"))
	if err != nil {
		return nil, err
	}
	for k, v := range cfg {
		cfg[k] = realchart.Rewrite(v)
	}
	for k, v := range set {
		if _, ok := cfg[k]; !ok {
			return nil, fmt.Errorf("the demo's Pulumi.global.yaml has no %s to replace", k)
		}
		cfg[k] = v
	}
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	if err := os.Chdir(root); err != nil {
		return nil, err
	}
	defer os.Chdir(wd)
	m := &mocks.Monitor{}
	var out map[string]pulumi.Input
	if err := mocks.Run("global", cfg, m, func(ctx *pulumi.Context) error {
		var err error
		out, err = global.Build(ctx)
		return err
	}, mocks.DryRun, withRedisSiteKey); err != nil {
		return nil, fmt.Errorf("global stack on Pulumi.global.yaml: %w", err)
	}
	run := &stackRun{certs: map[string]*cmapi.Certificate{}, issuers: map[string]map[string]any{}, redisPasswords: map[string]string{}}
	run.outputs, _ = mocks.AwaitAll(t, out)
	users, _ := run.outputs["redisUsers"].(map[string]string)
	for _, r := range m.OfType("kubernetes:core/v1:Secret") {
		p := r.Plain()
		data, _ := p["stringData"].(map[string]any)
		for site, user := range users {
			if data["username"] == user {
				run.redisPasswords[site], _ = data["password"].(string)
			}
		}
	}
	for _, r := range m.OfType("kubernetes:cert-manager.io/v1:Certificate") {
		c, err := certSpec(r)
		if err != nil {
			return nil, err
		}
		run.certs[c.Spec.SecretName] = c
	}
	for _, r := range m.OfType("kubernetes:cert-manager.io/v1:Issuer") {
		p := r.Plain()
		run.issuers[p["metadata"].(map[string]any)["name"].(string)] = p["spec"].(map[string]any)
	}
	clusters := m.OfType("kubernetes:postgresql.cnpg.io/v1:Cluster")
	charts := m.OfType("kubernetes:helm.sh/v4:Chart")
	if len(clusters) != 1 || len(charts) != 1 {
		return nil, fmt.Errorf("the global stack registered %d CNPG Clusters and %d charts; the test expects one of each", len(clusters), len(charts))
	}
	run.cluster = clusters[0].Plain()["spec"].(map[string]any)
	run.gateway.clusterNamespace = clusters[0].Namespace()
	run.gateway.clusterName = clusters[0].Plain()["metadata"].(map[string]any)["name"].(string)
	for _, r := range m.Resources() {
		if strings.HasPrefix(r.Type, "kubernetes:gateway.networking.k8s.io/") || strings.HasPrefix(r.Type, "kubernetes:gateway.envoyproxy.io/") {
			run.gateway.objects = append(run.gateway.objects, r.Plain())
		}
	}
	if gw, ok := cfg["nautobot-worker:gateway"]; ok {
		if err := json.Unmarshal([]byte(gw), &run.gateway.config); err != nil {
			return nil, fmt.Errorf("the demo's nautobot-worker:gateway: %w", err)
		}
	}
	run.gateway.config = run.gateway.config.Defaults()
	chart := charts[0].Plain()
	run.release = release{chart: chart["chart"].(string), name: chart["name"].(string), namespace: chart["namespace"].(string),
		values: chart["values"].(map[string]any)}
	if !filepath.IsAbs(run.release.chart) {
		run.release.chart = filepath.Join(root, run.release.chart)
	}
	return run, nil
}

// pgRules are the CNPG Cluster's pg_hba and pg_ident as the run registered them.
func (run *stackRun) pgRules() pgRules {
	var r pgRules
	postgresql := run.cluster["postgresql"].(map[string]any)
	for _, rule := range postgresql["pg_hba"].([]any) {
		r.hba = append(r.hba, rule.(string))
	}
	if ident, ok := postgresql["pg_ident"].([]any); ok {
		for _, line := range ident {
			r.ident = append(r.ident, line.(string))
		}
	}
	return r
}

// signerOf is the key pair that signs crt: nil for a SelfSigned issuer, else the CA issuer's secret.
func (run *stackRun) signerOf(crt *cmapi.Certificate, issued map[string]*issuedKeyPair) (*issuedKeyPair, error) {
	issuer, ok := run.issuers[crt.Spec.IssuerRef.Name]
	if !ok {
		return nil, fmt.Errorf("Certificate %s: issuer %q is not registered by the stack", crt.Name, crt.Spec.IssuerRef.Name)
	}
	if _, ok := issuer["selfSigned"]; ok {
		return nil, nil
	}
	ca, ok := issuer["ca"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("issuer %q is neither selfSigned nor ca", crt.Spec.IssuerRef.Name)
	}
	secret := ca["secretName"].(string)
	if kp, ok := issued[secret]; ok {
		return kp, nil
	}
	caCrt, ok := run.certs[secret]
	if !ok {
		return nil, fmt.Errorf("issuer %q signs with secret %q, which no Certificate of the stack writes", crt.Spec.IssuerRef.Name, secret)
	}
	return run.issueInto(caCrt, issued)
}

// issueInto issues crt (and, first, whatever signs it) unless issued already holds its secret.
func (run *stackRun) issueInto(crt *cmapi.Certificate, issued map[string]*issuedKeyPair) (*issuedKeyPair, error) {
	if kp, ok := issued[crt.Spec.SecretName]; ok {
		return kp, nil
	}
	signer, err := run.signerOf(crt, issued)
	if err != nil {
		return nil, err
	}
	kp, err := issue(crt, signer, nil)
	if err != nil {
		return nil, err
	}
	issued[crt.Spec.SecretName] = kp
	return kp, nil
}

// readIssued loads the secrets the local cluster's cert-manager issued, one directory per secret of the
// stack's Certificates (names), and the ca.crt of the ca.crt-only secret caPublic.
func readIssued(dir string, names []string, caPublic string) (map[string]*issuedKeyPair, []byte, error) {
	out := map[string]*issuedKeyPair{}
	for _, name := range names {
		var f secretFiles
		for file, dst := range map[string]*[]byte{"tls.crt": &f.crt, "tls.key": &f.key, "ca.crt": &f.ca} {
			var err error
			if *dst, err = os.ReadFile(filepath.Join(dir, name, file)); err != nil {
				return nil, nil, fmt.Errorf("NAUTOBOT_ISSUED_PKI_DIR has no issued secret %s: %w", name, err)
			}
		}
		cert, err := pki.DecodeX509CertificateBytes(f.crt)
		if err != nil {
			return nil, nil, fmt.Errorf("%s/tls.crt: %w", name, err)
		}
		key, err := pki.DecodePrivateKeyBytes(f.key)
		if err != nil {
			return nil, nil, fmt.Errorf("%s/tls.key: %w", name, err)
		}
		out[name] = &issuedKeyPair{cert: cert, signer: key, secretFiles: f}
	}
	ca, err := os.ReadFile(filepath.Join(dir, caPublic, "ca.crt"))
	if err != nil {
		return nil, nil, fmt.Errorf("NAUTOBOT_ISSUED_PKI_DIR has no ca.crt-only secret: %w", err)
	}
	return out, ca, nil
}

// mintPKI issues the stack's certificates (or takes the issued ones) and lays out the client sets.
func mintPKI(t testing.TB, root string) (*stackPKI, error) {
	run, err := runGlobalStack(t, root, nil)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mtls-pki-")
	if err != nil {
		return nil, err
	}
	trackDir(dir) // removed when the run ends
	p := &stackPKI{dir: dir, source: "minted from the global stack's Certificate specs (cert-manager's pki package)"}
	p.dbFQDN, _ = run.outputs["dbFqdn"].(string)
	p.redisFQDN, _ = run.outputs["redisFqdn"].(string)
	if p.dbFQDN == "" || p.redisFQDN == "" {
		return nil, fmt.Errorf("the global stack exported no dbFqdn/redisFqdn: %v", run.outputs)
	}
	p.wrongFQDN = "wrong." + strings.SplitN(p.dbFQDN, ".", 2)[1]
	p.dbPort, p.redisPort = int(toFloat(run.outputs["dbPort"])), int(toFloat(run.outputs["redisPort"]))
	if p.dbPort == 0 || p.redisPort == 0 {
		return nil, fmt.Errorf("the global stack exported no dbPort/redisPort: %v", run.outputs)
	}
	p.pgHBA, p.pgIdent = run.pgRules().hba, run.pgRules().ident
	p.globalRelease = run.release
	p.redisPasswords = run.redisPasswords
	p.gateway = run.gateway

	issued := map[string]*issuedKeyPair{}
	var issuedCA []byte
	if src := os.Getenv("NAUTOBOT_ISSUED_PKI_DIR"); src != "" {
		caPublic, _ := run.outputs["caCertSecretName"].(string)
		if issued, issuedCA, err = readIssued(src, slices.Sorted(maps.Keys(run.certs)), caPublic); err != nil {
			return nil, err
		}
		p.source = "issued by cert-manager on the local cluster (" + src + ")"
	}
	for _, name := range slices.Sorted(maps.Keys(run.certs)) {
		if _, err := run.issueInto(run.certs[name], issued); err != nil {
			return nil, err
		}
	}

	p.specs, p.secrets = run.certs, map[string]secretFiles{}
	for name := range run.certs {
		p.secrets[name] = issued[name].secretFiles
	}
	certs := run.cluster["certificates"].(map[string]any)
	tlsValues := run.release.values["redis"].(map[string]any)["tls"].(map[string]any)
	siteSecrets := run.outputs["siteClientSecrets"].(map[string]string)
	sites := slices.Sorted(maps.Keys(siteSecrets))
	if len(sites) < 2 {
		return nil, fmt.Errorf("the demo's global stack lists %v; the tests need two sites", sites)
	}
	p.sites = sites
	secretOf := func(what, name string) (*issuedKeyPair, error) {
		if kp, ok := issued[name]; ok {
			return kp, nil
		}
		return nil, fmt.Errorf("%s %q is not a secret the stack's Certificates write", what, name)
	}
	pg, err := secretOf("CNPG serverTLSSecret", certs["serverTLSSecret"].(string))
	if err != nil {
		return nil, err
	}
	redis, err := secretOf("Redis tls.existingSecret", tlsValues["existingSecret"].(string))
	if err != nil {
		return nil, err
	}
	replica, err := secretOf("CNPG replicationTLSSecret", certs["replicationTLSSecret"].(string))
	if err != nil {
		return nil, err
	}
	site, err := secretOf("site "+sites[0]+" client secret", siteSecrets[sites[0]])
	if err != nil {
		return nil, err
	}
	secondSite, err := secretOf("site "+sites[1]+" client secret", siteSecrets[sites[1]])
	if err != nil {
		return nil, err
	}
	globalClient, err := secretOf("global client secret", globalClientSecret(run.release.values))
	if err != nil {
		return nil, err
	}
	// What the ca.crt-only secret holds: the CA certificate, copied by External Secrets on the cluster.
	p.postgresServer, p.redisServer, p.caPEM = pg.secretFiles, redis.secretFiles, pg.ca
	if issuedCA != nil {
		p.caPEM = issuedCA
	}

	// The negative cases start from the site's own spec.
	siteSpec := run.certs[siteSecrets[sites[0]]]
	stackCA, err := run.signerOf(siteSpec, issued)
	if err != nil {
		return nil, err
	}
	var caSpec *cmapi.Certificate
	for _, c := range run.certs {
		if c.Spec.IsCA {
			caSpec = c
		}
	}
	if caSpec == nil {
		return nil, fmt.Errorf("the global stack registers no CA Certificate")
	}
	rogue, err := issue(caSpec, nil, nil)
	if err != nil {
		return nil, err
	}
	otherCA, err := issue(siteSpec, rogue, nil)
	if err != nil {
		return nil, err
	}
	otherCN := siteSpec.DeepCopy()
	otherCN.Spec.CommonName = "other"
	cnOther, err := issue(otherCN, stackCA, nil)
	if err != nil {
		return nil, err
	}
	postgresCN := siteSpec.DeepCopy()
	postgresCN.Spec.CommonName = "postgres"
	cnPostgres, err := issue(postgresCN, stackCA, nil)
	if err != nil {
		return nil, err
	}
	expired, err := issue(siteSpec, stackCA, func(c *x509.Certificate) {
		c.NotBefore, c.NotAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour)
	})
	if err != nil {
		return nil, err
	}
	app := site.secretFiles
	sets := map[clientSet]secretFiles{
		setApp:        app,
		setSecondSite: secondSite.secretFiles,
		setGlobal:     globalClient.secretFiles,
		setReplica:    replica.secretFiles,
		// Signed by a CA of the same spec and name but another key (a rebuilt global cluster's); the
		// site's ca.crt is still the right one.
		setOtherCA:    {otherCA.crt, otherCA.key, app.ca},
		setCNOther:    cnOther.secretFiles,
		setCNPostgres: cnPostgres.secretFiles,
		setExpired:    expired.secretFiles,
		setClientAsCA: {app.crt, app.key, app.crt},
		setCRLF:       {crlf(app.crt), crlf(app.key), crlf(app.ca)},
		setEscaped:    {escaped(app.crt), escaped(app.key), escaped(app.ca)},
	}
	for set, f := range sets {
		d := filepath.Join(dir, string(set))
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
		// Mode 0600 like the Secret volume's defaultMode 256; libpq refuses group/world-readable keys.
		for name, data := range map[string][]byte{"tls.crt": f.crt, "tls.key": f.key, "ca.crt": f.ca} {
			if err := os.WriteFile(filepath.Join(d, name), data, 0o600); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// globalClientSecret is the secret the global release mounts at the mTLS path.
func globalClientSecret(values map[string]any) string {
	for _, v := range values["nautobot"].(map[string]any)["extraVolumes"].([]any) {
		if s, ok := v.(map[string]any)["secret"].(map[string]any); ok {
			return s["secretName"].(string)
		}
	}
	return ""
}

// crlf is what a secrets provider that stores Windows line endings hands back.
func crlf(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")) }

// escaped is a PEM whose line breaks were stored as the four characters `\r\n` (a JSON-escaped value
// copied verbatim), all on one line.
func escaped(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte(`\r\n`)) }

// writeServerFiles puts a server secret's files into dir as server.crt, server.key and ca.crt, the CA
// being the ca.crt-only secret that CNPG (serverCASecret/clientCASecret) and Redis trust.
func (p *stackPKI) writeServerFiles(t testing.TB, dir string, server secretFiles) {
	t.Helper()
	for name, data := range map[string][]byte{"server.crt": server.crt, "server.key": server.key, "ca.crt": p.caPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
