package mocks_test

import (
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/pulumi/pulumi-tls/sdk/v5/go/tls"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/mocks"
)

// The mocks compute the tls resources' outputs (inputs alone would leave them empty), and mark secret the
// outputs a registration lists in additionalSecretOutputs, as the engine does: the tls SDK lists the
// private key PEMs.
func TestTLSResourcesGetComputedOutputsWithTheirSecretness(t *testing.T) {
	var key *tls.PrivateKey
	var cert *tls.SelfSignedCert
	err := mocks.Run("test", nil, &mocks.Monitor{}, func(ctx *pulumi.Context) error {
		var err error
		if key, err = tls.NewPrivateKey(ctx, "key", &tls.PrivateKeyArgs{Algorithm: pulumi.String("ECDSA"), EcdsaCurve: pulumi.String("P384")}); err != nil {
			return err
		}
		cert, err = tls.NewSelfSignedCert(ctx, "cert", &tls.SelfSignedCertArgs{
			PrivateKeyPem: key.PrivateKeyPem, Subject: &tls.SelfSignedCertSubjectArgs{CommonName: pulumi.String("root")},
			IsCaCertificate: pulumi.Bool(true), ValidityPeriodHours: pulumi.Int(48),
			AllowedUses: pulumi.ToStringArray([]string{"cert_signing", "digital_signature", "client_auth"}),
		})
		return err
	})
	require.NoError(t, err)
	values, secret := mocks.AwaitAll(t, map[string]pulumi.Input{
		"privateKeyPem": key.PrivateKeyPem, "publicKeyPem": key.PublicKeyPem, "certPem": cert.CertPem,
	})
	require.Equal(t, map[string]bool{"privateKeyPem": true, "publicKeyPem": false, "certPem": false}, secret)

	b, _ := pem.Decode([]byte(values["privateKeyPem"].(string)))
	require.Equal(t, "EC PRIVATE KEY", b.Type)
	k, err := x509.ParseECPrivateKey(b.Bytes)
	require.NoError(t, err)
	require.Equal(t, "P-384", k.Curve.Params().Name)

	b, _ = pem.Decode([]byte(values["certPem"].(string)))
	c, err := x509.ParseCertificate(b.Bytes)
	require.NoError(t, err)
	require.True(t, c.IsCA)
	require.Equal(t, "root", c.Subject.CommonName)
	require.Equal(t, 48*time.Hour, c.NotAfter.Sub(c.NotBefore))
	require.Equal(t, x509.KeyUsageCertSign|x509.KeyUsageDigitalSignature, c.KeyUsage)
	require.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, c.ExtKeyUsage)
	require.True(t, k.PublicKey.Equal(c.PublicKey), "signed with the key it was given")
}

// What the provider's schema refuses fails the run, so a test catches a misspelt value.
func TestTLSInputsTheProviderRefusesFailTheRun(t *testing.T) {
	cases := []struct {
		name string
		body func(ctx *pulumi.Context) error
		want string
	}{
		{"algorithm", func(ctx *pulumi.Context) error {
			_, err := tls.NewPrivateKey(ctx, "key", &tls.PrivateKeyArgs{Algorithm: pulumi.String("Ed25519")})
			return err
		}, `tls PrivateKey algorithm "Ed25519" is not one of RSA, ECDSA, ED25519`},
		{"curve", func(ctx *pulumi.Context) error {
			_, err := tls.NewPrivateKey(ctx, "key", &tls.PrivateKeyArgs{Algorithm: pulumi.String("ECDSA"), EcdsaCurve: pulumi.String("P-256")})
			return err
		}, `tls PrivateKey ecdsaCurve "P-256" is not one of P224, P256, P384, P521`},
		{"allowed use", func(ctx *pulumi.Context) error {
			key, err := tls.NewPrivateKey(ctx, "key", &tls.PrivateKeyArgs{Algorithm: pulumi.String("ED25519")})
			if err != nil {
				return err
			}
			_, err = tls.NewSelfSignedCert(ctx, "cert", &tls.SelfSignedCertArgs{
				PrivateKeyPem: key.PrivateKeyPem, ValidityPeriodHours: pulumi.Int(1),
				AllowedUses: pulumi.ToStringArray([]string{"certSigning"}),
			})
			return err
		}, `tls SelfSignedCert allowedUses "certSigning" is not a use the mocks know`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := mocks.Run("test", nil, &mocks.Monitor{}, tc.body)
			require.ErrorContains(t, err, tc.want)
		})
	}
}
