package doctor

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The error texts are those the real servers, Go's TLS stack, pgx and libpq gave in tests/mtls
// (TestDoctorConnect, TestPostgres15/17, TestRedis) and the seed's Troubleshooting quotes. The network path
// itself is tested against the real servers in tests/mtls.
func TestDiagnoseConnectError(t *testing.T) {
	pg := endpoint{service: "PostgreSQL", host: "nautobot-db.demo.example.com", port: 5432, hostOutput: "dbFqdn"}
	redis := endpoint{service: "Redis", host: "nautobot-redis.demo.example.com", port: 6379, hostOutput: "redisFqdn"}
	cases := []struct {
		name string
		e    endpoint
		err  string
		fix  string
	}{
		{"CN other than the user", pg, "failed to connect to `user=app database=app`: 127.0.0.1:5432 (nautobot-db.demo.example.com): server error: FATAL: certificate authentication failed for user \"app\" (SQLSTATE 28000)", fixCN},
		{"PostgreSQL without a client certificate", pg, "server error: FATAL: connection requires a valid client certificate (SQLSTATE 28000)", fixNoClientCert},
		{"Redis without a client certificate", redis, "remote error: tls: certificate required", fixNoClientCert},
		{"PostgreSQL, client certificate from another CA", pg, "failed to receive message: remote error: tls: unknown certificate authority", fixPostgresUnknownCA},
		{"libpq's words for it", pg, "SSL error: tlsv1 alert unknown ca", fixPostgresUnknownCA},
		{"Redis, client certificate from another CA", redis, "remote error: tls: unknown certificate authority", fixRedisUnknownCA},
		{"expired client certificate", redis, "remote error: tls: expired certificate", fixExpired},
		{"libpq, expired client certificate", pg, "SSL error: sslv3 alert certificate expired", fixExpired},
		{"server not verified by ca.crt", pg, "failed to write startup message: write failed: x509: certificate signed by unknown authority", fixServerCA},
		{"libpq, server not verified", pg, "SSL error: certificate verify failed", fixServerCA},
		{"expired server certificate", redis, "x509: certificate has expired or is not yet valid: current time 2030-01-01T00:00:00Z is after 2029-12-01T00:00:00Z", fixServerExpired},
		{"client certificate without client auth", pg, "remote error: tls: unsupported certificate", fixUsage},
		{"client certificate refused", pg, "remote error: tls: bad certificate", fixChain},
		{"no pg_hba entry", pg, `FATAL:  no pg_hba.conf entry for host "10.0.0.1", user "app", database "app", no encryption`, fixHBA},
		{"wrong Redis password", redis, "AUTH: WRONGPASS invalid username-password pair or user is disabled.", fixRedisPassword},
		{"PostgreSQL asks a password", pg, "failed SASL auth: FATAL: password authentication failed for user \"app\"", fixDBPassword},
		{"unknown role", pg, `server error: FATAL: role "nautobot" does not exist (SQLSTATE 28000)`, fixDBRole},
		{"unknown database", pg, `server error: FATAL: database "nautobot" does not exist (SQLSTATE 3D000)`, fixDBName},
		{"escaped line breaks in ca.crt", pg, "cannot parse `DSN`: failed to configure TLS (unable to add CA to cert pool)", fixCarriageReturn},
		{"missing ca.crt", pg, "cannot parse `DSN`: failed to configure TLS (unable to read CA file: open /etc/nautobot/mtls/ca.crt: no such file or directory)", fixMissingFile},
		{"closed port", pg, "dial tcp 10.0.0.5:5432: connect: connection refused", fixFirewall(pg)},
		{"dropped packets", redis, "dial tcp 10.0.0.5:6379: i/o timeout", fixFirewall(redis)},
		{"EOF after the ClientHello, PostgreSQL", pg, "failed to write startup message: write failed: EOF", fixGatewayEOF(pg)},
		{"EOF after the ClientHello, Redis", redis, "EOF", fixGatewayEOF(redis)},
		{"reset after the ClientHello", redis, "read tcp 10.0.0.9:41000->10.0.0.5:6379: read: connection reset by peer", fixGatewayEOF(redis)},
		// Another certificate of the CA (here the Redis server's) presented for the PostgreSQL name: the chain
		// passes, the name does not (tests/mtls TestDoctorConnect, TestServerNames).
		{"pgx, verify-full, a certificate for other names", pg, "failed to connect to `user=app database=app`: 127.0.0.1:5432 (nautobot-db.demo.example.com): failed to write startup message: write failed: tls: failed to verify certificate: x509: certificate is valid for nautobot-redis-master, nautobot-redis.demo.example.com, not nautobot-db.demo.example.com", fixServerName},
		{"libpq, verify-full, a certificate for other names", pg, `connection to server at "127.0.0.1", port 5432 failed: server certificate for "nautobot-redis-master" (and 4 other names) does not match host name "nautobot-db.demo.example.com"`, fixServerName},
		{"redis-py, ssl_check_hostname, a certificate for other names", redis, "Error 1 connecting to nautobot-redis.demo.example.com:6379. [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch, certificate is not valid for 'nautobot-redis.demo.example.com'. (_ssl.c:1006).", fixServerName},
		{"unexpected", pg, "something else entirely", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.fix, diagnose(c.e, errors.New(c.err)).fix)
		})
	}
	// Only PostgreSQL's EOF can mean a server too old for direct TLS; Redis has no such mode.
	require.Contains(t, fixGatewayEOF(pg), "older than 17")
	require.NotContains(t, fixGatewayEOF(redis), "older than 17")
	require.Contains(t, diagnose(pg, errors.New("dial tcp: lookup nautobot-db.demo.example.com: no such host")).fix, "gatewayAddress")
	require.Contains(t, diagnose(pg, errors.New("tls: first record does not look like a TLS handshake")).fix, "TLS-passthrough listener")
}

// The client certificate copied into ca.crt is the seed's gotcha: a server ca.crt cannot verify then gets
// that fix rather than the general one.
func TestDiagnoseClientCertAsCA(t *testing.T) {
	pg := endpoint{service: "PostgreSQL", host: "nautobot-db.demo.example.com", port: 5432}
	unknownAuthority := errors.New("x509: certificate signed by unknown authority")
	caCert, clientCert := selfSigned(t, true), selfSigned(t, false)
	require.Equal(t, fixServerCA, (&connector{client: clientFiles{cas: caCert}}).diagnose(pg, unknownAuthority).fix)
	require.Equal(t, fixCAIsClient, (&connector{client: clientFiles{cas: clientCert}}).diagnose(pg, unknownAuthority).fix)
}

// selfSigned is one certificate, a CA or a client's leaf.
func selfSigned(t *testing.T, isCA bool) []*x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "app"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true, IsCA: isCA}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return []*x509.Certificate{cert}
}

func TestAddressWithPort(t *testing.T) {
	o := ConnectOptions{DBAddress: "10.0.0.5:15432", RedisAddress: "[fd00::5]", RedisPort: 16379}.withDefaults()
	require.Equal(t, "10.0.0.5", o.DBAddress)
	require.Equal(t, 15432, o.DBPort)
	require.Equal(t, "fd00::5", o.RedisAddress)
	require.Equal(t, 16379, o.RedisPort)
	o = ConnectOptions{DBAddress: "fd00::5"}.withDefaults()
	require.Equal(t, "fd00::5", o.DBAddress)
	require.Equal(t, 5432, o.DBPort)
}

// With no host given no connection is tried, and every check of that service says why it was not made.
func TestConnectWithoutHosts(t *testing.T) {
	r := Connect(t.Context(), ConnectOptions{CertDir: t.TempDir()})
	for _, name := range []string{"postgres: tcp", "postgres: login", "redis: tcp", "redis: login"} {
		c, ok := r.Find(name)
		require.True(t, ok, name)
		require.Equal(t, Warn, c.Status, name)
		require.Contains(t, c.Detail, "not checked: no", name)
	}
	require.Equal(t, 1, r.ExitCode(), "the empty cert dir fails")
}
