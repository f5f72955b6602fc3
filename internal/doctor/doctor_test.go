package doctor

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The log lines are the ones the real worker printed in make test-worker (README, "A real worker").
func TestDiagnoseLog(t *testing.T) {
	cases := []struct {
		name, log, diagnosis, fix string
	}{
		{"no tls.crt", "Traceback …\nFileNotFoundError: SSL certificate file required by NAUTOBOT_DB_SSLCERT not found: /etc/nautobot/mtls/tls.crt\n",
			"a certificate file is missing from /etc/nautobot/mtls", fixMissingFile},
		{"a certificate from another CA", "[2026-12-01 10:00:00,000: ERROR/MainProcess] consumer: Cannot connect to rediss://:**@nautobot-redis.demo.example.com:6379/0: Error 1 connecting to nautobot-redis.demo.example.com:6379. [SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca (_ssl.c:2578).\nTrying again in 2.00 seconds... (1/100)",
			"the server does not trust the client certificate's CA", fixPostgresUnknownCA},
		{"the client certificate in ca.crt", "consumer: Cannot connect to rediss://…: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate in certificate chain (_ssl.c:1006).",
			"the client cannot verify the server with ca.crt", fixCAIsClient},
		{"key and certificate swapped", "consumer: Cannot connect to rediss://…: Error 524297 connecting to nautobot-redis.demo.example.com:6379. [SSL] PEM lib (_ssl.c:3895).",
			"OpenSSL cannot read a PEM file (carriage returns, escaped line breaks, or key and certificate swapped)", fixCarriageReturn + "; " + fixKeyMatch},
		{"the wrong SNI name", "consumer: Cannot connect to rediss://…: Error while reading from nautobot-redis.demo.example.com:6379 : TLS/SSL connection has been closed (EOF) (_ssl.c:992)",
			"the gateway closed the connection after the ClientHello", fixSNI},
		{"PostgreSQL 15 behind the gateway", `django.db.utils.OperationalError: connection to server at "nautobot-db.demo.example.com" (127.0.0.1), port 5432 failed: SSL SYSCALL error: EOF detected`,
			"the gateway closed the connection after the ClientHello", fixSNI},
		{"a Redis presenting another certificate of the CA", "consumer: Cannot connect to rediss://:**@nautobot-redis.demo.example.com:6379/0: Error 1 connecting to nautobot-redis.demo.example.com:6379. [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch, certificate is not valid for 'nautobot-redis.demo.example.com'. (_ssl.c:1006)..",
			"the server certificate does not name the host the worker connects to", fixServerName},
		{"a PostgreSQL presenting another certificate of the CA", `django.db.utils.OperationalError: connection to server at "nautobot-db.demo.example.com" (10.0.0.5), port 5432 failed: server certificate for "nautobot-redis-master" (and 4 other names) does not match host name "nautobot-db.demo.example.com"`,
			"the server certificate does not name the host the worker connects to", fixServerName},
		{"CN the role map does not list", `FATAL:  certificate authentication failed for user "app"`, "PostgreSQL's role map does not list the certificate's CN for the user", fixCN},
		{"no pg_hba entry", `FATAL:  no pg_hba.conf entry for host "10.0.0.1", user "app", database "app", no encryption`, "PostgreSQL has no pg_hba rule for the connection", fixHBA},
		{"expired", "SSL error: sslv3 alert certificate expired", "a certificate in the handshake has expired", fixExpired},
		{"no client certificate at Redis", "remote error: tls: certificate required", "the server requires a client certificate and got none", fixNoClientCert},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			line, diagnosis, fix, ok := DiagnoseLog("[worker starting]\n" + tc.log + "\nmore\n")
			require.True(t, ok)
			require.Equal(t, tc.diagnosis, diagnosis)
			require.Equal(t, tc.fix, fix)
			require.NotContains(t, line, "\n")
			require.NotContains(t, line, "[worker starting]")
		})
	}
	t.Run("a healthy worker's log", func(t *testing.T) {
		_, _, _, ok := DiagnoseLog("[2026-12-01 10:00:00,000: INFO/MainProcess] Connected to rediss://:**@nautobot-redis.demo.example.com:6379/0\ncelery@worker ready.\n")
		require.False(t, ok)
	})
}

func TestCertOnly(t *testing.T) {
	fallsThrough := func(class string) string {
		return "no rule for every user, database and source ends " + class + " connections in cert or reject, so the ones the rules leave (IPv6 under 0.0.0.0/0, other users) reach CNPG's \"host all all all scram-sha-256\""
	}
	cases := []struct {
		name string
		hba  []string
		bad  string
	}{
		{"the stack's rules", []string{"hostssl all all all cert", "hostnossl all all all reject"}, ""},
		{"cert with an option", []string{"hostssl all all all cert clientcert=verify-full", "host all all all reject"}, ""},
		{"host cert closes both", []string{"host all all all cert"}, ""},
		{"the seed's rule: IPv6 and plaintext fall through", []string{"hostssl all all 0.0.0.0/0 cert"}, fallsThrough("TLS")},
		{"TLS closed, plaintext falls through", []string{"hostssl all all all cert"}, fallsThrough("plaintext")},
		{"one user only", []string{"hostssl app app all cert", "hostnossl all all all reject"}, fallsThrough("TLS")},
		{"address and mask", []string{"hostssl all all 10.0.0.0 255.0.0.0 cert", "hostnossl all all all reject"}, fallsThrough("TLS")},
		{"empty", nil, fallsThrough("TLS")},
		{"password over TLS", []string{"hostssl all all all scram-sha-256"}, `"hostssl all all all scram-sha-256" lets TLS connections in with scram-sha-256, not a client certificate`},
		{"plaintext allowed", []string{"hostssl all all all cert", "hostnossl all all all md5"}, `"hostnossl all all all md5" lets plaintext connections in with md5, not a client certificate`},
		{"hostnogssenc is TLS or plaintext", []string{"hostnogssenc all all all trust", "hostssl all all all cert"}, `"hostnogssenc all all all trust" lets TLS connections in with trust, not a client certificate`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.bad, certOnly(tc.hba))
		})
	}
}

func TestRoleMapping(t *testing.T) {
	stack := []string{"hostssl app app all cert map=nautobot", "hostssl all all all reject", "hostnossl all all all reject"}
	ident := []string{"nautobot nautobot-global app", "nautobot site-dfw1 app"}
	cases := []struct {
		name              string
		hba, ident, wants []string
		bad               string
	}{
		{"the stack's rules and map", stack, ident, []string{"site-dfw1", "nautobot-global"}, ""},
		{"the identities unknown", stack, ident, nil, ""},
		{"the seed's plain cert", []string{"hostssl all all all cert", "hostnossl all all all reject"}, nil, nil,
			`"hostssl all all all cert" maps no common name: a certificate's CN is its role, so a CA-signed CN postgres logs in as the superuser`},
		{"a removed site still mapped", stack, append(ident, "nautobot site-iad1 app"), []string{"nautobot-global", "site-dfw1"},
			"map nautobot lists [nautobot-global site-dfw1 site-iad1], the stack declares [nautobot-global site-dfw1]"},
		{"no certificate rule", []string{"hostssl all all all scram-sha-256"}, nil, nil, "no rule admits a client certificate"},
		{"a listed site missing", stack, ident[:1], []string{"nautobot-global", "site-dfw1"},
			"map nautobot lists [nautobot-global], the stack declares [nautobot-global site-dfw1]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.bad, roleMapping(tc.hba, tc.ident, tc.wants))
		})
	}
}

func TestReportExitCodeAndJSON(t *testing.T) {
	cases := []struct {
		name   string
		fill   func(r *Report)
		exit   int
		counts [3]int
	}{
		{"all pass", func(r *Report) { r.Pass("a", "ok") }, 0, [3]int{1, 0, 0}},
		{"a warning", func(r *Report) { r.Pass("a", "ok"); r.Warn("b", "do x", "not checked") }, 3, [3]int{1, 1, 0}},
		{"a failure wins", func(r *Report) { r.Warn("b", "do x", "not checked"); r.Fail("c", "do y", "broken") }, 1, [3]int{0, 1, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Report{Command: "test"}
			tc.fill(&r)
			require.Equal(t, tc.exit, r.ExitCode())
			var buf bytes.Buffer
			require.NoError(t, r.WriteJSON(&buf))
			var got struct {
				Command                  string
				Checks                   []Check
				Passed, Warnings, Failed int
				ExitCode                 int
			}
			require.NoError(t, json.Unmarshal(buf.Bytes(), &got))
			require.Equal(t, "test", got.Command)
			require.Equal(t, r.Checks, got.Checks)
			require.Equal(t, tc.counts, [3]int{got.Passed, got.Warnings, got.Failed})
			require.Equal(t, tc.exit, got.ExitCode)
		})
	}
}

func TestCopyLag(t *testing.T) {
	held, renewed := selfSigned(t, false)[0], selfSigned(t, false)[0]
	require.Empty(t, copyLag(held, held))
	lag := copyLag(held, renewed)
	require.Contains(t, lag, "the site holds serial 1 issued "+held.NotBefore.UTC().Format(time.DateOnly))
	require.Contains(t, lag, "the renewal has not reached the site's secrets provider")
}

// External Secrets' rule for who may use a ClusterSecretStore, as the CA reach check applies it.
func TestUsableFrom(t *testing.T) {
	store := func(conditions ...any) map[string]any {
		if len(conditions) == 0 {
			return map[string]any{"spec": map[string]any{}}
		}
		return map[string]any{"spec": map[string]any{"conditions": conditions}}
	}
	labels := map[string]string{"kubernetes.io/metadata.name": "nautobot", "tier": "app"}
	cases := []struct {
		name   string
		store  map[string]any
		usable bool
	}{
		{"no conditions: every namespace", store(), true},
		{"named", store(map[string]any{"namespaces": []any{"other", "nautobot"}}), true},
		{"another name", store(map[string]any{"namespaces": []any{"other"}}), false},
		{"a selector that matches", store(map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"tier": "app"}}}), true},
		{"a selector that does not", store(map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"tier": "db"}}}), false},
		{"a selector by expression", store(map[string]any{"namespaceSelector": map[string]any{"matchExpressions": []any{
			map[string]any{"key": "tier", "operator": "In", "values": []any{"app", "web"}}}}}), true},
		{"a regular expression", store(map[string]any{"namespaceRegexes": []any{"^nauto"}}), true},
		{"a second condition", store(map[string]any{"namespaces": []any{"other"}}, map[string]any{"namespaceRegexes": []any{"bot$"}}), true},
		{"none of them", store(map[string]any{"namespaces": []any{"other"}}, map[string]any{"namespaceRegexes": []any{"^x"}}), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.usable, usableFrom(tc.store, "nautobot", labels))
		})
	}
}
