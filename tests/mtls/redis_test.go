package mtls

import (
	"context"
	"crypto/tls"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

var quietRedis sync.Once

// nopLogger drops go-redis's internal pool logging; the tests assert the returned errors instead.
type nopLogger struct{}

func (nopLogger) Printf(context.Context, string, ...interface{}) {}

func goRedisResult(t *testing.T, port int, cfg *tls.Config, password string) string {
	t.Helper()
	quietRedis.Do(func() { redis.SetLogger(nopLogger{}) })
	got, err := redisPing(port, cfg, password)
	if err != nil {
		if isTimeout(err) {
			t.Fatalf("redis connection hung: %v", err)
		}
		return "ERROR: " + normalize(err.Error())
	}
	return "OK: " + got
}

// Redis server-log lines (the "Error accepting a client connection: <OpenSSL error>" it logs per refusal).
const (
	redisNoCert        = "SSL routines::peer did not return a certificate"
	redisVerifyFailed  = "SSL routines::certificate verify failed"
	redisBadCert       = "SSL routines::sslv3 alert bad certificate"
	redisUnknownCA     = "SSL routines::tlsv1 alert unknown ca"
	redisWrongVersion  = "SSL routines::wrong version number"
	pyUnknownCA        = "SSLError: [SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca (_ssl.c:N)"
	pyExpired          = "SSLError: [SSL: SSLV3_ALERT_CERTIFICATE_EXPIRED] sslv3 alert certificate expired (_ssl.c:N)"
	pySelfSignedChain  = "SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate in certificate chain (_ssl.c:N)"
	pyPEMLib           = "SSLError: [SSL] PEM lib (_ssl.c:N)"
	pyUnexpectedEOF    = "SSLEOFError: [SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in violation of protocol (_ssl.c:N)"
	goUnknownAuthority = "ERROR: x509: certificate signed by unknown authority"
)

// TestRedis is Redis 7 TLS-only with tls-auth-clients yes and a password, reached directly and through the
// SNI router, by go-redis and by Python's ssl module set up as redis-py sets it up, both from the Redis SSL
// kwargs nautobot_config.py produces (cache pool, Celery broker and result backend get the same ones).
func TestRedis(t *testing.T) {
	requireCommand(t, "python3")
	rs := startRedis(t)
	r := startRouter(t, 0, rs.port)
	gwPort := r.portOf(t, redisFQDN)
	goTLS := func(t *testing.T, set clientSet, serverName string) (*tls.Config, string) {
		cfg, err := redisTLSConfig(configFor(t, set, "").BrokerUseSSL, serverName)
		if err != nil {
			return nil, "ERROR: " + normalize(err.Error())
		}
		return cfg, ""
	}
	type redisCase struct {
		name                   string
		set                    clientSet
		wantGo, wantPython     string
		serverGo, serverPython string // Redis log line for each client's attempt ("" when none is expected)
	}
	cases := []redisCase{
		{"valid app cert", setApp, "OK: PONG", "+PONG", "", ""},
		{"cert from another CA", setOtherCA, "ERROR: remote error: tls: unknown certificate authority", pyUnknownCA,
			redisVerifyFailed, redisVerifyFailed},
		// Redis checks the chain only; the CN is not an identity there (the password is the second factor).
		{"CN other than app", setCNOther, "OK: PONG", "+PONG", "", ""},
		{"expired client cert", setExpired, "ERROR: remote error: tls: expired certificate", pyExpired,
			redisVerifyFailed, redisVerifyFailed},
		{"client cert as ca.crt", setClientAsCA, goUnknownAuthority, pySelfSignedChain, redisBadCert, redisUnknownCA},
		{"PEM with CRLF line endings", setCRLF, "OK: PONG", "+PONG", "", ""},
		{"PEM with escaped line breaks", setEscaped, "ERROR: tls: failed to find any PEM data in certificate input",
			pyPEMLib, "", ""},
	}
	for _, c := range cases {
		for _, via := range []struct {
			name string
			port int
		}{{"direct", rs.port}, {"through the gateway", gwPort}} {
			t.Run(c.name+" "+via.name, func(t *testing.T) {
				offset := rs.logOffset(t)
				cfg, got := goTLS(t, c.set, redisFQDN)
				if cfg != nil {
					got = goRedisResult(t, via.port, cfg, appPassword)
				}
				check(t, got, c.wantGo)
				if c.serverGo != "" {
					rs.logSince(t, offset, c.serverGo)
				}
				offset = rs.logOffset(t)
				check(t, "python: "+normalize(pythonRedisPing(t, c.set, via.port, redisFQDN)), "python: "+c.wantPython)
				if c.serverPython != "" {
					rs.logSince(t, offset, c.serverPython)
				}
			})
		}
	}
	t.Run("no client cert", func(t *testing.T) {
		offset := rs.logOffset(t)
		cfg, _ := goTLS(t, setApp, redisFQDN)
		cfg.Certificates = nil
		check(t, goRedisResult(t, rs.port, cfg, appPassword), "ERROR: remote error: tls: certificate required")
		rs.logSince(t, offset, redisNoCert)
	})
	t.Run("no password", func(t *testing.T) {
		cfg, _ := goTLS(t, setApp, redisFQDN)
		check(t, goRedisResult(t, rs.port, cfg, ""), "ERROR: NOAUTH Authentication required.")
	})
	t.Run("plaintext direct", func(t *testing.T) {
		offset := rs.logOffset(t)
		check(t, goRedisResult(t, rs.port, nil, appPassword), "ERROR: read: connection reset by peer")
		rs.logSince(t, offset, redisWrongVersion)
	})
	t.Run("plaintext through the gateway", func(t *testing.T) {
		seen := len(r.accessLines(t))
		check(t, goRedisResult(t, gwPort, nil, appPassword), "ERROR: EOF")
		r.expectAccess(t, seen, `127.0.0.1 sni="-" alpn="-" upstream="unix:TMP"`)
	})
	t.Run("wrong SNI through the gateway", func(t *testing.T) {
		seen := len(r.accessLines(t))
		cfg, _ := goTLS(t, setApp, wrongFQDN)
		check(t, goRedisResult(t, gwPort, cfg, appPassword), "ERROR: EOF")
		r.expectAccess(t, seen, `127.0.0.1 sni="`+wrongFQDN+`" alpn="" upstream="unix:TMP"`)
		check(t, "python: "+normalize(pythonRedisPing(t, setApp, gwPort, wrongFQDN)), "python: "+pyUnexpectedEOF)
	})
	t.Run("valid app cert routed by SNI", func(t *testing.T) {
		seen := len(r.accessLines(t))
		cfg, _ := goTLS(t, setApp, redisFQDN)
		check(t, goRedisResult(t, gwPort, cfg, appPassword), "OK: PONG")
		r.expectAccess(t, seen, `127.0.0.1 sni="`+redisFQDN+`" alpn="" upstream="127.0.0.1:PORT"`)
	})
}
