package mtls

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Names the certificates are issued for: the gateway FQDNs of the global stack's TLS routes.
const (
	dbFQDN    = "nautobot-db.e2e.example.com"
	redisFQDN = "nautobot-redis.e2e.example.com"
	wrongFQDN = "wrong.e2e.example.com"
)

// clientSet is one mounted nautobot-mtls-client Secret: a directory with tls.crt, tls.key and ca.crt.
type clientSet string

const (
	setApp        clientSet = "app"          // valid: CN app, clientAuth, signed by the mTLS CA
	setOtherCA    clientSet = "other-ca"     // CN app, signed by a second CA (a forged or foreign cert)
	setCNOther    clientSet = "cn-other"     // CN other, signed by the mTLS CA (cert of another identity)
	setExpired    clientSet = "expired"      // CN app, signed by the mTLS CA, expired an hour ago
	setClientAsCA clientSet = "client-as-ca" // valid cert and key, but ca.crt holds the client cert (seed gotcha)
	setCRLF       clientSet = "crlf"         // the valid files with \r\n line endings
	setEscaped    clientSet = "escaped"      // the valid files with line breaks stored as the text `\r\n`
	setReplica    clientSet = "replica"      // CN streaming_replica, as CNPG's replicationTLSSecret
)

func (s clientSet) file(name string) string { return filepath.Join(testPKI.dir, string(s), name) }
func (s clientSet) cert() string            { return s.file("tls.crt") }
func (s clientSet) key() string             { return s.file("tls.key") }
func (s clientSet) ca() string              { return s.file("ca.crt") }

// pki holds what the global cluster's cert-manager would issue: the mTLS CA, server certificates and
// client Secrets. ECDSA P-256 everywhere, keys as SEC1 "EC PRIVATE KEY" PEM, like cert-manager's default
// PKCS#1 encoding for ECDSA.
type pki struct {
	dir       string
	caPEM     []byte
	serverCrt []byte
	serverKey []byte
}

var (
	pkiOnce sync.Once
	testPKI *pki
	pkiErr  error
)

// getPKI mints the PKI once per test binary (its directory is removed when the run ends).
func getPKI(t testing.TB) *pki {
	t.Helper()
	pkiOnce.Do(func() { testPKI, pkiErr = mintPKI() })
	if pkiErr != nil {
		t.Fatalf("minting test PKI: %v", pkiErr)
	}
	return testPKI
}

type issuer struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newKey() (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

// newCA is a self-signed CA like cert-manager's `isCA: true` Certificate from a selfSigned issuer.
func newCA(cn string) (*issuer, error) {
	key, _, err := newKey()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &issuer{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// leaf issues a certificate; it returns cert PEM and key PEM.
func (ca *issuer) leaf(tmpl *x509.Certificate) ([]byte, []byte, error) {
	key, keyPEM, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	tmpl.SerialNumber = serial()
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
		tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

// client is a cert-manager Certificate with `usages: [client auth]`: EKU clientAuth and no key-usage bits.
func (ca *issuer) client(cn string, notBefore, notAfter time.Time) ([]byte, []byte, error) {
	return ca.leaf(&x509.Certificate{
		Subject:     pkix.Name{CommonName: cn},
		NotBefore:   notBefore,
		NotAfter:    notAfter,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

func mintPKI() (*pki, error) {
	dir, err := os.MkdirTemp("", "mtls-pki-")
	if err != nil {
		return nil, err
	}
	trackDir(dir) // removed when the run ends
	ca, err := newCA("understack-mtls-ca")
	if err != nil {
		return nil, err
	}
	rogue, err := newCA("some-other-ca")
	if err != nil {
		return nil, err
	}
	// Server certificate as for nautobot-cluster-server-tls / nautobot-redis-server-tls: no `usages`, so
	// cert-manager's defaults (digital signature, key encipherment), with the gateway FQDNs as DNS names.
	serverCrt, serverKey, err := ca.leaf(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "nautobot-cluster-rw.nautobot.svc"},
		DNSNames:    []string{dbFQDN, redisFQDN, "nautobot-cluster-rw.nautobot.svc", "localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	})
	if err != nil {
		return nil, err
	}
	now := time.Now()
	valid := func(ca *issuer, cn string) ([]byte, []byte, error) {
		return ca.client(cn, now.Add(-time.Hour), now.Add(24*time.Hour))
	}
	appCrt, appKey, err := valid(ca, "app")
	if err != nil {
		return nil, err
	}
	type files struct{ crt, key, ca []byte }
	sets := map[clientSet]files{
		setApp:        {appCrt, appKey, ca.pem},
		setClientAsCA: {appCrt, appKey, appCrt},
		setCRLF:       {crlf(appCrt), crlf(appKey), crlf(ca.pem)},
		setEscaped:    {escaped(appCrt), escaped(appKey), escaped(ca.pem)},
	}
	for set, mint := range map[clientSet]func() ([]byte, []byte, error){
		setOtherCA: func() ([]byte, []byte, error) { return valid(rogue, "app") },
		setCNOther: func() ([]byte, []byte, error) { return valid(ca, "other") },
		setExpired: func() ([]byte, []byte, error) {
			return ca.client("app", now.Add(-48*time.Hour), now.Add(-time.Hour))
		},
		setReplica: func() ([]byte, []byte, error) { return valid(ca, "streaming_replica") },
	} {
		crt, key, err := mint()
		if err != nil {
			return nil, err
		}
		sets[set] = files{crt, key, ca.pem}
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
	return &pki{dir: dir, caPEM: ca.pem, serverCrt: serverCrt, serverKey: serverKey}, nil
}

// crlf is what a secrets provider that stores Windows line endings hands back.
func crlf(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")) }

// escaped is a PEM whose line breaks were stored as the four characters `\r\n` (a JSON-escaped value
// copied verbatim), all on one line.
func escaped(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte(`\r\n`)) }

// writeServerFiles puts server.crt, server.key and ca.crt into dir, as CNPG and the Redis chart mount them.
func (p *pki) writeServerFiles(t testing.TB, dir string) {
	t.Helper()
	for name, data := range map[string][]byte{"server.crt": p.serverCrt, "server.key": p.serverKey, "ca.crt": p.caPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
