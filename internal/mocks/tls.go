package mocks

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// The pulumi-tls resources the mocks compute outputs for. Echoing the inputs, as for every other type,
// would leave privateKeyPem and certPem empty; no tls provider plugin can run here, so the mocks make the
// key and the certificate the way the provider's documentation describes them, with Go's crypto, and
// refuse the input values its schema refuses, so a misspelt algorithm, curve or use fails a test.
const (
	tlsPrivateKeyType     = "tls:index/privateKey:PrivateKey"
	tlsSelfSignedCertType = "tls:index/selfSignedCert:SelfSignedCert"
)

// tlsOutputs returns the computed outputs of a pulumi-tls resource (nil for any other type).
func tlsOutputs(typ string, inputs resource.PropertyMap) (resource.PropertyMap, error) {
	switch typ {
	case tlsPrivateKeyType:
		return tlsPrivateKey(inputs)
	case tlsSelfSignedCertType:
		return tlsSelfSignedCert(inputs)
	}
	return nil, nil
}

// tlsPrivateKey generates the key: RSA (rsaBits, default 2048), ECDSA (ecdsaCurve P224, P256, P384 or
// P521, default P224) or ED25519. privateKeyPem is PKCS#1 for RSA, SEC 1 for ECDSA and PKCS#8 for ED25519,
// as the provider writes it.
func tlsPrivateKey(inputs resource.PropertyMap) (resource.PropertyMap, error) {
	in := plain(resource.NewObjectProperty(inputs)).(map[string]any)
	algorithm, _ := in["algorithm"].(string)
	out := resource.PropertyMap{}
	var key crypto.Signer
	var block *pem.Block
	switch algorithm {
	case "RSA":
		bits := 2048
		if b, ok := in["rsaBits"].(float64); ok {
			bits = int(b)
		}
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			return nil, fmt.Errorf("mocks: tls PrivateKey rsaBits %d: %w", bits, err)
		}
		key, block = k, &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
		out["rsaBits"] = resource.NewProperty(float64(bits))
	case "ECDSA":
		curveName := "P224"
		if c, ok := in["ecdsaCurve"].(string); ok {
			curveName = c
		}
		curve, ok := map[string]elliptic.Curve{"P224": elliptic.P224(), "P256": elliptic.P256(), "P384": elliptic.P384(), "P521": elliptic.P521()}[curveName]
		if !ok {
			return nil, fmt.Errorf("mocks: tls PrivateKey ecdsaCurve %q is not one of P224, P256, P384, P521", curveName)
		}
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return nil, err
		}
		key, block = k, &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
		out["ecdsaCurve"] = resource.NewProperty(curveName)
	case "ED25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, err
		}
		key, block = k, &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	default:
		return nil, fmt.Errorf("mocks: tls PrivateKey algorithm %q is not one of RSA, ECDSA, ED25519", algorithm)
	}
	public, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, err
	}
	out["privateKeyPem"] = resource.NewProperty(string(pem.EncodeToMemory(block)))
	out["publicKeyPem"] = resource.NewProperty(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: public})))
	return out, nil
}

// tlsKeyUsages are the provider's allowedUses names of X.509 key usages; tlsExtKeyUsages those of the
// extended key usages the mocks model (an unmodelled one is an error, not a silent omission).
var (
	tlsKeyUsages = map[string]x509.KeyUsage{
		"digital_signature": x509.KeyUsageDigitalSignature, "content_commitment": x509.KeyUsageContentCommitment,
		"key_encipherment": x509.KeyUsageKeyEncipherment, "data_encipherment": x509.KeyUsageDataEncipherment,
		"key_agreement": x509.KeyUsageKeyAgreement, "cert_signing": x509.KeyUsageCertSign,
		"crl_signing": x509.KeyUsageCRLSign, "encipher_only": x509.KeyUsageEncipherOnly,
		"decipher_only": x509.KeyUsageDecipherOnly,
	}
	tlsExtKeyUsages = map[string]x509.ExtKeyUsage{
		"any_extended": x509.ExtKeyUsageAny, "server_auth": x509.ExtKeyUsageServerAuth,
		"client_auth": x509.ExtKeyUsageClientAuth, "code_signing": x509.ExtKeyUsageCodeSigning,
		"email_protection": x509.ExtKeyUsageEmailProtection, "timestamping": x509.ExtKeyUsageTimeStamping,
		"ocsp_signing": x509.ExtKeyUsageOCSPSigning,
	}
)

// tlsSelfSignedCert signs a certificate with privateKeyPem for subject.commonName, valid from now for
// validityPeriodHours, with isCaCertificate and allowedUses.
func tlsSelfSignedCert(inputs resource.PropertyMap) (resource.PropertyMap, error) {
	in := plain(resource.NewObjectProperty(inputs)).(map[string]any)
	keyPEM, _ := in["privateKeyPem"].(string)
	block, _ := pem.Decode([]byte(keyPEM))
	if block == nil {
		return nil, errors.New("mocks: tls SelfSignedCert privateKeyPem holds no PEM block")
	}
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("mocks: tls SelfSignedCert privateKeyPem: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("mocks: tls SelfSignedCert privateKeyPem: %T cannot sign", key)
	}
	hours, _ := in["validityPeriodHours"].(float64)
	if hours <= 0 {
		return nil, fmt.Errorf("mocks: tls SelfSignedCert validityPeriodHours %v is not a positive number of hours", in["validityPeriodHours"])
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{SerialNumber: serial, NotBefore: now, NotAfter: now.Add(time.Duration(hours) * time.Hour)}
	if subject, ok := in["subject"].(map[string]any); ok {
		cn, _ := subject["commonName"].(string)
		tmpl.Subject = pkix.Name{CommonName: cn}
	}
	if isCA, _ := in["isCaCertificate"].(bool); isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	}
	uses, _ := in["allowedUses"].([]any)
	for _, u := range uses {
		name, _ := u.(string)
		if ku, ok := tlsKeyUsages[name]; ok {
			tmpl.KeyUsage |= ku
		} else if eku, ok := tlsExtKeyUsages[name]; ok {
			tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, eku)
		} else {
			return nil, fmt.Errorf("mocks: tls SelfSignedCert allowedUses %q is not a use the mocks know (the provider's names are snake_case, e.g. cert_signing)", name)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, signer.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("mocks: tls SelfSignedCert: %w", err)
	}
	return resource.PropertyMap{
		"certPem":           resource.NewProperty(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))),
		"validityStartTime": resource.NewProperty(tmpl.NotBefore.Format(time.RFC3339)),
		"validityEndTime":   resource.NewProperty(tmpl.NotAfter.Format(time.RFC3339)),
	}, nil
}
