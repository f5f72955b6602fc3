package doctor

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The seed's fixes, quoted where the seed words them, so an operator finds the same advice in both.
const (
	fixMissingFile    = "the nautobot-mtls-client secret must hold tls.crt, tls.key and ca.crt: check the ExternalSecret syncs (kubectl get externalsecret nautobot-mtls-client) and that the source certificate is issued on the global cluster (kubectl get certificate | grep mtls-client)"
	fixCarriageReturn = "some secrets providers store text with \\r\\n line endings and OpenSSL fails with [SSL] PEM lib: extract the PEM blocks with the filterPEM template function (the site stack's ExternalSecret does), not regexFind + replace"
	fixCAIsClient     = "ca.crt must be the mTLS CA certificate (CN=understack-mtls-ca), not the client certificate: update the CA credential in your secrets provider with ca.crt of the global cluster's mtls-ca-cert secret"
	fixChain          = "the client certificate must be signed by the CA that PostgreSQL and Redis trust: compare `openssl x509 -noout -issuer` of tls.crt with the subject of the global mtls-ca-cert's ca.crt, and copy the site's certificate issued by the current CA into the secrets provider"
	fixCN             = "the client certificate must be the one the global stack issued for this site (CN site-<name>, secret nautobot-mtls-client-<name>): PostgreSQL maps only the common names of the sites the global stack lists (its databaseIdentities output) to the database user, so another site's certificate, one of a removed site, or one issued before each site had its own (CN app, unless database.extraIdentities lists it) is refused; copy the site's own certificate into the secrets provider"
	fixUsage          = "client certificates need the client auth extended key usage: keep the global stack's certificate usages (certificates.Usages) and let cert-manager re-issue"
	fixKeyMatch       = "tls.key must be the key of tls.crt: the item in the secrets provider pairs a certificate with another certificate's key (a renewal re-keys; copy both from the same issued secret)"
	fixExpired        = "the certificate is outside its validity window: copy the renewed certificate from the global cluster into the secrets provider (cert-manager renews renewBefore ahead), or force a sync of the ExternalSecret"
	fixRenewal        = "the certificate is inside its renewal window, so the global cluster has (or soon will have) a renewed one: make sure it reaches this site's secrets provider item before the old one expires"
)

// Material is a client's certificate directory or secret: tls.crt, tls.key and ca.crt as mounted at
// /etc/nautobot/mtls.
type Material map[string][]byte

// MaterialOptions tune CheckMaterial.
type MaterialOptions struct {
	// Identity is the common name the global stack gives this client's certificate (site-<name>), the one
	// PostgreSQL maps to the database user; empty, the name is not checked.
	Identity string
	// RenewBefore is the renewal window of the client certificates (the global stack's
	// certificates.clientRenewBefore, 720h by default): inside it the site should already hold the renewal.
	RenewBefore time.Duration
	// Now is the time validity is judged at.
	Now time.Time
}

// CheckMaterial checks a client's mTLS files as the seed's gotchas describe them: every file present, no
// carriage return, ca.crt a CA and not the client certificate, tls.crt chaining to it for client auth, its
// CN the client's identity, the key matching, and the validity window.
func CheckMaterial(m Material, o MaterialOptions) Report {
	r := Report{Command: "material"}
	missing := []string{}
	for _, name := range []string{"tls.crt", "tls.key", "ca.crt"} {
		if len(bytes.TrimSpace(m[name])) == 0 {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		r.Fail("files present", fixMissingFile, "%s missing or empty: the worker exits with FileNotFoundError: SSL certificate file required by NAUTOBOT_DB_SSL… not found", strings.Join(missing, ", "))
		return r
	}
	r.Pass("files present", "tls.crt, tls.key, ca.crt")

	var escaped, withCR []string
	for _, name := range []string{"tls.crt", "tls.key", "ca.crt"} {
		switch {
		case bytes.Contains(m[name], []byte(`\n`)):
			escaped = append(escaped, name)
		case bytes.ContainsRune(m[name], '\r'):
			withCR = append(withCR, name)
		}
	}
	switch {
	case len(escaped) > 0:
		r.Fail("no carriage return in PEM", fixCarriageReturn, "%s hold escaped line breaks (the text \\n): no PEM parser reads them", strings.Join(escaped, ", "))
	case len(withCR) > 0:
		// Measured (make test-mtls): libpq, pgx and go-redis read \r\n PEM; the seed saw
		// [SSL] PEM lib from other builds, so this is a risk, not a failure.
		r.Warn("no carriage return in PEM", fixCarriageReturn, "%s hold carriage returns: the clients tested here read them, the seed reports [SSL] PEM lib", strings.Join(withCR, ", "))
	default:
		r.Pass("no carriage return in PEM", "every file has plain \\n line endings")
	}

	cas, caErr := certificates(m["ca.crt"])
	leaves, leafErr := certificates(m["tls.crt"])
	if leafErr != nil {
		r.Fail("tls.crt parses", fixCarriageReturn, "%v", leafErr)
	}
	if caErr != nil {
		r.Fail("ca.crt parses", fixCAIsClient, "%v", caErr)
	}
	if leafErr != nil || caErr != nil {
		return r
	}
	leaf := leaves[0]

	switch ca := cas[0]; {
	case bytes.Equal(ca.Raw, leaf.Raw):
		r.Fail("ca.crt is the CA", fixCAIsClient, "ca.crt holds the client certificate itself (CN=%s): the worker fails with [SSL: CERTIFICATE_VERIFY_FAILED] self-signed certificate in certificate chain", ca.Subject.CommonName)
	case !ca.BasicConstraintsValid || !ca.IsCA:
		r.Fail("ca.crt is the CA", fixCAIsClient, "ca.crt (CN=%s) is not a CA certificate", ca.Subject.CommonName)
	default:
		r.Pass("ca.crt is the CA", "CN=%s, CA, expires %s", ca.Subject.CommonName, ca.NotAfter.UTC().Format(time.DateOnly))
	}

	roots := x509.NewCertPool()
	for _, c := range cas {
		roots.AddCert(c)
	}
	intermediates := x509.NewCertPool()
	for _, c := range leaves[1:] {
		intermediates.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: intermediates, CurrentTime: o.Now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		r.Fail("tls.crt chains to ca.crt", fixChain, "issuer %q, CA %q: %v", leaf.Issuer.CommonName, cas[0].Subject.CommonName, err)
	} else {
		r.Pass("tls.crt chains to ca.crt", "issuer CN=%s", leaf.Issuer.CommonName)
	}

	if o.Identity != "" {
		if leaf.Subject.CommonName != o.Identity {
			r.Fail("CN is the site's identity", fixCN, "CN=%q, want %q: PostgreSQL answers certificate authentication failed for user, as for any name its role map does not list", leaf.Subject.CommonName, o.Identity)
		} else {
			r.Pass("CN is the site's identity", "CN=%s", leaf.Subject.CommonName)
		}
	}

	if slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) || slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
		r.Pass("client auth usage", "extended key usage includes client auth")
	} else {
		r.Fail("client auth usage", fixUsage, "extended key usage %v has no client auth: PostgreSQL and Redis refuse the certificate", leaf.ExtKeyUsage)
	}

	if _, err := tls.X509KeyPair(m["tls.crt"], m["tls.key"]); err != nil {
		r.Fail("tls.key matches tls.crt", fixKeyMatch, "%v", err)
	} else {
		r.Pass("tls.key matches tls.crt", "%s key", pemTypes(m["tls.key"]))
	}

	left := leaf.NotAfter.Sub(o.Now)
	switch {
	case o.Now.Before(leaf.NotBefore):
		r.Fail("validity", fixExpired, "not valid before %s", leaf.NotBefore.UTC().Format(time.RFC3339))
	case left <= 0:
		r.Fail("validity", fixExpired, "expired %s: the servers answer certificate expired", leaf.NotAfter.UTC().Format(time.RFC3339))
	case o.RenewBefore > 0 && left <= o.RenewBefore:
		r.Warn("validity", fixRenewal, "expires in %s, inside the %s renewal window", days(left), o.RenewBefore)
	default:
		r.Pass("validity", "expires in %s (%s)", days(left), leaf.NotAfter.UTC().Format(time.DateOnly))
	}
	return r
}

// certificates parses every CERTIFICATE block; anything else in the data, or no certificate, is an error.
func certificates(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("holds a %s block; only certificates belong here", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no PEM certificate found (OpenSSL: [SSL] PEM lib / no certificate or crl found)")
	}
	return out, nil
}

func pemTypes(data []byte) string {
	var types []string
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return strings.Join(types, "+")
		}
		types = append(types, block.Type)
	}
}

func days(d time.Duration) string {
	return fmt.Sprintf("%.0f days", d.Hours()/24)
}
