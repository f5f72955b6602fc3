package mtls

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"nautobot-worker/internal/nautobotpod"
)

const sslQuery = "SELECT ssl, version, client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()"

// pgCase is one connection attempt. want is "OK: <ssl|version|client_dn from pg_stat_ssl>" or
// "ERROR: <the client's error, normalized>"; serverLog, if set, must appear in the server log for it.
type pgCase struct {
	name      string
	set       clientSet
	override  map[string]string // libpq options replacing the config's ("" removes one)
	want      string
	serverLog string
	access    string // the SNI router's access-log line for the connection ("" when none is made)
}

func psqlResult(t *testing.T, dsn, password string) string {
	t.Helper()
	out, err := psql(t, dsn, password, sslQuery)
	if err != nil {
		if strings.Contains(err.Error(), "timed out") {
			t.Fatalf("psql hung: %v", err)
		}
		return "ERROR: " + normalize(out)
	}
	return "OK: " + out
}

func pgxResult(t *testing.T, dsn string) string {
	t.Helper()
	conn, err := pgxConnect(t, dsn)
	if err != nil {
		if isTimeout(err) {
			t.Fatalf("pgx connection hung: %v", err)
		}
		return "ERROR: " + normalize(err.Error())
	}
	defer conn.Close(context.Background())
	return "OK: " + sslStatus(t, conn)
}

func check(t *testing.T, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("\ngot:  %s\nwant: %s", got, want)
	}
}

// TestPostgres15 is the CNPG cluster's PostgreSQL configuration on PostgreSQL 15, reached with libpq 15
// (psql; psycopg uses libpq) and startup-negotiated TLS (SSLRequest first). The libpq options are those
// nautobot_config.py produces for NAUTOBOT_DB_SSLMODE=verify-ca with the client Secret of each case.
func TestPostgres15(t *testing.T) {
	requireCommand(t, "psql")
	pg := startPostgres(t, "pg15", pg15BinDir, rulesOfTheStack(t))
	siteCN := nautobotpod.SiteIdentity(getPKI(t).sites[0])
	failed := func(msg string) string {
		return `ERROR: psql: error: connection to server at "127.0.0.1", port PORT failed: ` + msg
	}
	cases := []pgCase{
		{name: "valid app cert connects", set: setApp, want: "OK: t|TLSv1.3|/CN=" + siteCN,
			serverLog: `connection authenticated: identity="CN=` + siteCN + `" method=cert`},
		{name: "no client cert", set: setApp, override: map[string]string{"sslcert": "", "sslkey": ""},
			want:      failed("FATAL:  connection requires a valid client certificate"),
			serverLog: "FATAL:  connection requires a valid client certificate"},
		{name: "cert from another CA", set: setOtherCA,
			want:      failed("SSL error: tlsv1 alert unknown ca"),
			serverLog: "could not accept SSL connection: certificate verify failed"},
		{name: "CN the role map does not list", set: setCNOther,
			want:      failed(`FATAL:  certificate authentication failed for user "app"`),
			serverLog: `no match in usermap "nautobot" for user "app" authenticated as "other"`},
		{name: "expired client cert", set: setExpired,
			want:      failed("SSL error: sslv3 alert certificate expired"),
			serverLog: "could not accept SSL connection: certificate verify failed"},
		{name: "client cert as ca.crt", set: setClientAsCA,
			want:      failed("SSL error: certificate verify failed"),
			serverLog: "could not accept SSL connection: tlsv1 alert unknown ca"},
		{name: "PEM with CRLF line endings", set: setCRLF, want: "OK: t|TLSv1.3|/CN=" + siteCN},
		{name: "PEM with escaped line breaks", set: setEscaped,
			want: failed(`could not read root certificate file "TMP": no certificate or crl found`)},
		{name: "replication cert as streaming_replica", set: setReplica,
			override: map[string]string{"user": "streaming_replica", "dbname": "postgres"},
			want:     "OK: t|TLSv1.3|/CN=streaming_replica"},
		{name: "replication cert as app", set: setReplica,
			want:      failed(`FATAL:  certificate authentication failed for user "app"`),
			serverLog: `no match in usermap "nautobot" for user "app" authenticated as "streaming_replica"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			offset := pg.logOffset(t)
			cfg := configFor(t, c.set, "")
			check(t, psqlResult(t, libpqDSN("127.0.0.1", pg.port, cfg.DatabaseOptions, c.override), ""), c.want)
			if c.serverLog != "" {
				pg.logSince(t, offset, c.serverLog)
			}
		})
	}
	t.Run("libpq 15 rejects the direct setting", func(t *testing.T) {
		// What a Nautobot image with libpq < 17 does with NAUTOBOT_DB_SSLNEGOTIATION=direct.
		cfg := configFor(t, setApp, "direct")
		check(t, psqlResult(t, libpqDSN("127.0.0.1", pg.port, cfg.DatabaseOptions, nil), ""),
			`ERROR: psql: error: invalid connection option "sslnegotiation"`)
	})
	t.Run("direct TLS to a PostgreSQL 15 server fails", func(t *testing.T) {
		cfg := configFor(t, setApp, "direct")
		check(t, pgxResult(t, libpqDSN(dbFQDN, pg.port, cfg.DatabaseOptions, nil)),
			"ERROR: failed to connect to `user=app database=app`: 127.0.0.1:PORT ("+dbFQDN+
				"): failed to write startup message: write failed: EOF")
	})
	t.Run("startup-negotiated TLS through the SNI router fails", func(t *testing.T) {
		// The SSLRequest comes before any ClientHello, so the router sees no SNI and has nowhere to send it.
		r := startRouter(t, pg.port, 0)
		cfg := configFor(t, setApp, "")
		seen := len(r.accessLines(t))
		dsn := libpqDSN(dbFQDN, r.portOf(t, dbFQDN), cfg.DatabaseOptions, map[string]string{"hostaddr": "127.0.0.1"})
		check(t, psqlResult(t, dsn, ""), failed("server closed the connection unexpectedly\n"+
			"\tThis probably means the server terminated abnormally\n\tbefore or while processing the request."))
		r.expectAccess(t, seen, `127.0.0.1 sni="-" alpn="-" upstream="unix:TMP"`)
	})
	// Plaintext and password clients, in order: under the seed's documented rule, then the stack's.
	pg.setRules(t, rulesAsDocumented)
	plaintext := libpqDSN("127.0.0.1", pg.port, configFor(t, setApp, "").DatabaseOptions,
		map[string]string{"sslmode": "disable", "sslcert": "", "sslkey": "", "sslrootcert": ""})
	t.Run("plaintext without password", func(t *testing.T) {
		check(t, psqlResult(t, plaintext, ""), failed("fe_sendauth: no password supplied"))
	})
	t.Run("plaintext with the app password gets in under the CNPG catch-all rule", func(t *testing.T) {
		// CNPG appends `host all all all scram-sha-256` after spec.postgresql.pg_hba. With only the documented
		// hostssl rule, a client with neither TLS nor a certificate, but with the app password, gets in.
		offset := pg.logOffset(t)
		check(t, psqlResult(t, plaintext, appPassword), "OK: f||")
		pg.logSince(t, offset, `connection authenticated: identity="app" method=scram-sha-256`)
	})
	// TLS over IPv6 with the app password and no certificate: the documented rule covers IPv4 only.
	tlsOverIPv6 := libpqDSN("::1", pg.port, configFor(t, setApp, "").DatabaseOptions,
		map[string]string{"sslmode": "require", "sslcert": "", "sslkey": "", "sslrootcert": ""})
	t.Run("TLS over IPv6 with the app password gets in under the documented IPv4-only rule", func(t *testing.T) {
		check(t, psqlResult(t, tlsOverIPv6, appPassword), "OK: t|TLSv1.3|")
	})
	t.Run("plaintext with the app password refused by a hostnossl reject rule", func(t *testing.T) {
		pg.setRules(t, rulesOfTheStack(t))
		check(t, psqlResult(t, plaintext, appPassword), failed(
			`FATAL:  pg_hba.conf rejects connection for host "127.0.0.1", user "app", database "app", no encryption`))
		// ...while the mTLS client is unaffected.
		check(t, psqlResult(t, libpqDSN("127.0.0.1", pg.port, configFor(t, setApp, "").DatabaseOptions, nil), ""),
			"OK: t|TLSv1.3|/CN="+siteCN)
	})
	t.Run("TLS over IPv6 without a certificate refused by the project's all-address cert rule", func(t *testing.T) {
		check(t, psqlResult(t, tlsOverIPv6, appPassword), strings.Replace(
			failed("FATAL:  connection requires a valid client certificate"), `"127.0.0.1"`, `"::1"`, 1))
	})
}

// TestPostgres17 is PostgreSQL 17 behind the SNI router (standing in for the Envoy TLS-passthrough
// listener), reached with pgx and direct TLS. The options are those nautobot_config.py produces for
// NAUTOBOT_DB_SSLMODE=verify-ca and NAUTOBOT_DB_SSLNEGOTIATION=direct; the host is the gateway FQDN, so the
// ClientHello's SNI carries it, and every name resolves to 127.0.0.1.
func TestPostgres17(t *testing.T) {
	pg := startPostgres(t, "pg17", pg17BinDir(t), rulesOfTheStack(t))
	siteCN := nautobotpod.SiteIdentity(getPKI(t).sites[0])
	r := startRouter(t, pg.port, 0)
	failed := func(host, msg string) string {
		return fmt.Sprintf("ERROR: failed to connect to `user=app database=app`: 127.0.0.1:PORT (%s): %s", host, msg)
	}
	var (
		routed   = `127.0.0.1 sni="` + dbFQDN + `" alpn="postgresql" upstream="127.0.0.1:PORT"`
		noSNI    = `127.0.0.1 sni="-" alpn="-" upstream="unix:TMP"`
		wrongSNI = `127.0.0.1 sni="` + wrongFQDN + `" alpn="postgresql" upstream="unix:TMP"`
	)
	t.Run("valid app cert connects through the gateway", func(t *testing.T) {
		seen := len(r.accessLines(t))
		dsn := libpqDSN(dbFQDN, r.portOf(t, dbFQDN), configFor(t, setApp, "direct").DatabaseOptions, nil)
		check(t, pgxResult(t, dsn), "OK: true|TLSv1.3|/CN="+siteCN)
		r.expectAccess(t, seen, routed)
	})
	t.Run("valid app cert connects to the server directly", func(t *testing.T) {
		dsn := libpqDSN(dbFQDN, pg.port, configFor(t, setApp, "direct").DatabaseOptions, nil)
		check(t, pgxResult(t, dsn), "OK: true|TLSv1.3|/CN="+siteCN)
	})
	cases := []pgCase{
		{name: "no client cert", set: setApp, override: map[string]string{"sslcert": "", "sslkey": ""},
			want:      failed(dbFQDN, "server error: FATAL: connection requires a valid client certificate (SQLSTATE 28000)"),
			serverLog: "FATAL:  connection requires a valid client certificate", access: routed},
		// The other CA has the stack CA's name, so it matches the CA list PostgreSQL sends in its
		// CertificateRequest and Go's TLS client presents the certificate (a CA of another name would make
		// it send none); the server's chain check then refuses it.
		{name: "cert from another CA", set: setOtherCA,
			want:      failed(dbFQDN, "failed to receive message: remote error: tls: unknown certificate authority"),
			serverLog: "Client certificate verification failed at depth 0: unable to get local issuer certificate.", access: routed},
		{name: "CN the role map does not list", set: setCNOther,
			want:      failed(dbFQDN, `server error: FATAL: certificate authentication failed for user "app" (SQLSTATE 28000)`),
			serverLog: `no match in usermap "nautobot" for user "app" authenticated as "other"`, access: routed},
		{name: "expired client cert", set: setExpired,
			want:      failed(dbFQDN, "failed to receive message: remote error: tls: expired certificate"),
			serverLog: "Client certificate verification failed at depth 0: certificate has expired.", access: routed},
		{name: "client cert as ca.crt", set: setClientAsCA,
			want:      failed(dbFQDN, "failed to write startup message: write failed: x509: certificate signed by unknown authority"),
			serverLog: "could not accept SSL connection: sslv3 alert bad certificate", access: routed},
		{name: "PEM with CRLF line endings", set: setCRLF, want: "OK: true|TLSv1.3|/CN=" + siteCN, access: routed},
		{name: "PEM with escaped line breaks", set: setEscaped,
			want: "ERROR: cannot parse `DSN`: failed to configure TLS (unable to add CA to cert pool)"},
		{name: "plaintext", set: setApp, override: map[string]string{"sslmode": "disable", "sslnegotiation": ""},
			want: failed(dbFQDN, "failed to receive message: unexpected EOF"), access: noSNI},
		{name: "wrong SNI", set: setApp, override: map[string]string{"host": wrongFQDN},
			want: failed(wrongFQDN, "failed to write startup message: write failed: EOF"), access: wrongSNI},
		{name: "startup-negotiated TLS", set: setApp, override: map[string]string{"sslnegotiation": "postgres"},
			want: failed(dbFQDN, "tls error: EOF"), access: noSNI},
	}
	for _, c := range cases {
		t.Run(c.name+" through the gateway", func(t *testing.T) {
			offset, seen := pg.logOffset(t), len(r.accessLines(t))
			dsn := libpqDSN(dbFQDN, r.portOf(t, dbFQDN), configFor(t, c.set, "direct").DatabaseOptions, c.override)
			check(t, pgxResult(t, dsn), c.want)
			if c.serverLog != "" {
				pg.logSince(t, offset, c.serverLog)
			}
			if c.access != "" {
				r.expectAccess(t, seen, c.access)
			}
		})
	}
}
