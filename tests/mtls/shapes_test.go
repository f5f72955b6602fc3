package mtls

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"slices"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
)

// TestEveryUsageIsOneCertManagerKnows: cert-manager refuses to issue a Certificate with a usage it does
// not know, so a typo in a component would leave that certificate unissued in production.
func TestEveryUsageIsOneCertManagerKnows(t *testing.T) {
	p := getPKI(t)
	for _, name := range sortedKeys(p.specs) {
		spec := p.specs[name]
		if _, _, err := pki.KeyUsagesForCertificateOrCertificateRequest(spec.Spec.Usages, spec.Spec.IsCA); err != nil {
			t.Errorf("Certificate %s (secret %s): %v", spec.Name, name, err)
		}
	}
	// The check itself tells a wrong spelling from a right one.
	if _, _, err := pki.KeyUsagesForCertificateOrCertificateRequest([]cmapi.KeyUsage{"server-auth"}, false); err == nil {
		t.Fatal("an unknown usage was accepted")
	}
}

// TestCertificatesHaveTheShapeTheStackDeclares reads every secret back as a client library would and
// compares it with its Certificate: subject, SANs, CA flag, key usage and extended key usage, key type,
// size and PEM encoding, validity, and that the key is the certificate's. With NAUTOBOT_ISSUED_PKI_DIR it
// checks what the real cert-manager issued on the local cluster.
func TestCertificatesHaveTheShapeTheStackDeclares(t *testing.T) {
	p := getPKI(t)
	t.Logf("PKI %s", p.source)
	for _, name := range sortedKeys(p.specs) {
		spec, files := p.specs[name].Spec, p.secrets[name]
		t.Run(name, func(t *testing.T) {
			cert, err := pki.DecodeX509CertificateBytes(files.crt)
			if err != nil {
				t.Fatal(err)
			}
			if cert.Subject.CommonName != spec.CommonName {
				t.Errorf("CN %q, spec %q", cert.Subject.CommonName, spec.CommonName)
			}
			if !slices.Equal(cert.DNSNames, spec.DNSNames) {
				t.Errorf("DNS names %v, spec %v", cert.DNSNames, spec.DNSNames)
			}
			if cert.IsCA != spec.IsCA {
				t.Errorf("IsCA %v, spec %v", cert.IsCA, spec.IsCA)
			}
			ku, eku, err := pki.KeyUsagesForCertificateOrCertificateRequest(spec.Usages, spec.IsCA)
			if err != nil {
				t.Fatal(err)
			}
			if cert.KeyUsage != ku || !slices.Equal(cert.ExtKeyUsage, eku) {
				t.Errorf("key usage %b / %v, spec %v means %b / %v", cert.KeyUsage, cert.ExtKeyUsage, spec.Usages, ku, eku)
			}
			if got, want := cert.NotAfter.Sub(cert.NotBefore), spec.Duration.Duration; got != want {
				t.Errorf("valid for %s, spec duration %s", got, want)
			}
			block, _ := pem.Decode(files.key)
			if block == nil {
				t.Fatal("tls.key holds no PEM block")
			}
			if want := pemKeyType(spec.PrivateKey); block.Type != want {
				t.Errorf("tls.key is %q PEM, spec %s/%s means %q", block.Type, spec.PrivateKey.Algorithm, spec.PrivateKey.Encoding, want)
			}
			key, err := pki.DecodePrivateKeyBytes(files.key)
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := pki.PublicKeyMatchesCertificate(key.Public(), cert); err != nil || !ok {
				t.Errorf("tls.key is not the certificate's key (%v)", err)
			}
			checkKeyType(t, cert, spec.PrivateKey)
			if !spec.IsCA {
				roots := x509.NewCertPool()
				roots.AppendCertsFromPEM(p.caPEM)
				if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}, CurrentTime: time.Now()}); err != nil {
					t.Errorf("does not chain to the CA the servers trust: %v", err)
				}
			}
		})
	}
}

// pemKeyType is the PEM block cert-manager writes for a key of this algorithm and encoding.
func pemKeyType(k *cmapi.CertificatePrivateKey) string {
	switch {
	case k.Encoding == cmapi.PKCS8 || k.Algorithm == cmapi.Ed25519KeyAlgorithm:
		return "PRIVATE KEY"
	case k.Algorithm == cmapi.RSAKeyAlgorithm:
		return "RSA PRIVATE KEY"
	}
	return "EC PRIVATE KEY"
}

func checkKeyType(t *testing.T, cert *x509.Certificate, k *cmapi.CertificatePrivateKey) {
	t.Helper()
	switch pub := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if k.Algorithm != cmapi.ECDSAKeyAlgorithm || pub.Curve.Params().BitSize != k.Size {
			t.Errorf("ECDSA P-%d key, spec %s %d", pub.Curve.Params().BitSize, k.Algorithm, k.Size)
		}
	case *rsa.PublicKey:
		if k.Algorithm != cmapi.RSAKeyAlgorithm || pub.N.BitLen() != k.Size {
			t.Errorf("RSA %d key, spec %s %d", pub.N.BitLen(), k.Algorithm, k.Size)
		}
	case ed25519.PublicKey:
		if k.Algorithm != cmapi.Ed25519KeyAlgorithm {
			t.Errorf("Ed25519 key, spec %s", k.Algorithm)
		}
	default:
		t.Errorf("key type %T", pub)
	}
}
