package mtls

import (
	"crypto/tls"
	"testing"
)

func goRedisResult(t *testing.T, port int, cfg *tls.Config, password string) string {
	got, err := redisPing(port, cfg, password)
	if err != nil {
		if isTimeout(err) {
			t.Fatalf("redis connection hung: %v", err)
		}
		return "ERROR: " + normalize(err.Error())
	}
	return "OK: " + got
}

// TestRedis is Redis 7 TLS-only with tls-auth-clients yes, reached directly and through the SNI router,
// with go-redis and with Python's ssl module set up as redis-py does, both from nautobot_config.py's
// Redis SSL kwargs.
func TestRedis(t *testing.T) {
	rs := startRedis(t)
	r := startRouter(t, map[string]int{redisFQDN: rs.port})
	goTLS := func(t *testing.T, set clientSet, serverName string) (*tls.Config, string) {
		cfg, err := redisTLSConfig(configFor(t, set, "").BrokerUseSSL, serverName)
		if err != nil {
			return nil, "ERROR: " + normalize(err.Error())
		}
		return cfg, ""
	}
	type redisCase struct {
		name               string
		set                clientSet
		wantGo, wantPython string
	}
	cases := []redisCase{
		{"valid app cert", setApp, "OK: PONG", "+PONG"},
		{"cert from another CA", setOtherCA, "?", "?"},
		{"CN other than app", setCNOther, "?", "?"},
		{"expired client cert", setExpired, "?", "?"},
		{"client cert as ca.crt", setClientAsCA, "?", "?"},
		{"PEM with CRLF line endings", setCRLF, "?", "?"},
		{"PEM with escaped line breaks", setEscaped, "?", "?"},
	}
	for _, c := range cases {
		for _, via := range []struct {
			name string
			port int
		}{{"direct", rs.port}, {"gateway", r.port}} {
			t.Run(c.name+" "+via.name, func(t *testing.T) {
				cfg, loadErr := goTLS(t, c.set, redisFQDN)
				got := loadErr
				if cfg != nil {
					got = goRedisResult(t, via.port, cfg, appPassword)
				}
				check(t, got, c.wantGo)
				check(t, "python: "+pythonRedisPing(t, c.set, via.port, redisFQDN), "python: "+c.wantPython)
			})
		}
	}
	t.Run("no client cert", func(t *testing.T) {
		cfg, _ := goTLS(t, setApp, redisFQDN)
		cfg.Certificates = nil
		check(t, goRedisResult(t, rs.port, cfg, appPassword), "?")
	})
	t.Run("no password", func(t *testing.T) {
		cfg, _ := goTLS(t, setApp, redisFQDN)
		check(t, goRedisResult(t, rs.port, cfg, ""), "?")
	})
	t.Run("plaintext", func(t *testing.T) {
		check(t, goRedisResult(t, rs.port, nil, appPassword), "?")
		check(t, goRedisResult(t, r.port, nil, appPassword), "?")
	})
	t.Run("wrong SNI through the gateway", func(t *testing.T) {
		cfg, _ := goTLS(t, setApp, wrongFQDN)
		check(t, goRedisResult(t, r.port, cfg, appPassword), "?")
		check(t, "python: "+pythonRedisPing(t, setApp, r.port, wrongFQDN), "python: ?")
	})
}
