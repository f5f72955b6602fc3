package mtls

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nautobot-worker/internal/doctor"
	"nautobot-worker/internal/nautobotpod"
)

// expectCheck is one line of a doctor report: its status, and text its Detail and its Fix must carry.
type expectCheck struct {
	name   string
	status doctor.Status
	detail string
	fix    string
}

// TestDoctorConnect runs `doctor connect`'s checks against the real servers of this package: PostgreSQL 17
// and Redis 7 behind the nginx SNI router (the Envoy TLS-passthrough listener), PostgreSQL 15 behind a
// second router and on its own, with the client sets of the stack's PKI. The rows are the failures of the
// README's Security model table, plus the network failures doctor exists to tell apart.
//
// Not rows, because doctor always speaks TLS with its certificate: plaintext (refused or unroutable),
// startup-negotiated TLS through the gateway (doctor uses direct TLS, the only kind the gateway routes),
// TLS over IPv6 without a certificate (a pg_hba rule for password clients), and libpq 15 rejecting the
// sslnegotiation keyword (a client library's version, not the path). `no pg_hba.conf entry` cannot happen
// under CNPG's pg_hba, whose catch-all password rule matches every connection the user rules do not; its
// diagnosis is unit-tested in internal/doctor.
func TestDoctorConnect(t *testing.T) {
	siteCN := nautobotpod.SiteIdentity(getPKI(t).sites[0])
	pg17 := startPostgres(t, "pg17", pg17BinDir(t), rulesOfTheStack(t))
	pg15 := startPostgres(t, "pg15", pg15BinDir, rulesOfTheStack(t))
	rs := startRedis(t)
	// Routes for names the server certificates do not carry: the gateway routes them, verify-ca accepts them.
	aliases := routeAliases(getPKI(t))
	dbAlias, redisAlias := aliases[dbFQDN], aliases[redisFQDN]
	gw := startRouterFor(t, nil, translation(t, secondRouteNames), stackBackends(t, pg17.port, rs.port), false)
	gw15 := startRouter(t, pg15.port, rs.port)
	// Servers presenting the other server's certificate (the CA's, for server auth) under the real names.
	p := getPKI(t)
	pgImpostor := startPostgresServing(t, nil, "pg17-impostor", pg17BinDir(t), rulesOfTheStack(t), p.redisServer)
	rsImpostor := startRedisServing(t, nil, p.postgresServer)
	gwImpostor := startRouter(t, pgImpostor.port, rsImpostor.port)
	chainOnly := func(o doctor.ConnectOptions) doctor.ConnectOptions {
		off := false
		o.ServerNames = nautobotpod.ServerNames{DatabaseSSLMode: nautobotpod.VerifyCA, RedisCheckHostname: &off}
		return o
	}

	// A site's directory with ca.crt only: the secret synced without the client certificate and key.
	noClientCert := tempDir(t, "mtls-doctor-ca-only-")
	ca, err := os.ReadFile(setApp.ca())
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(noClientCert, "ca.crt"), string(ca))

	site := func(dir string) doctor.ConnectOptions {
		return doctor.ConnectOptions{
			DBHost: dbFQDN, DBPort: gw.portOf(t, dbFQDN), DBAddress: "127.0.0.1",
			RedisHost: redisFQDN, RedisPort: gw.portOf(t, redisFQDN), RedisAddress: "127.0.0.1",
			CertDir: dir, DBUser: "app", Identity: siteCN, Login: true, RedisPassword: appPassword, Timeout: 5 * time.Second,
		}
	}
	dirOf := func(s clientSet) string { return filepath.Dir(s.cert()) }
	notChecked := func(name string) expectCheck {
		return expectCheck{name: name, status: doctor.Warn, detail: "not checked"}
	}
	const (
		gatewayEOF = "the connection closed right after the ClientHello"
		firewall   = "firewallRules"
	)

	cases := []struct {
		name   string
		opts   doctor.ConnectOptions
		expect []expectCheck
		// exit is the command's exit code: 0 only when every check passed.
		exit int
		// serverLog, when set, must appear in the log of that server for the run.
		serverLog map[*server]string
		// access, when set, is a session the router logs for the run.
		access map[*router]string
	}{
		{name: "valid app cert", opts: site(dirOf(setApp)), exit: 0,
			expect: []expectCheck{
				{name: "postgres: tls", status: doctor.Pass, detail: "direct TLS 1.3 with SNI " + dbFQDN + ", ALPN postgresql; the server accepted the client certificate CN=" + siteCN},
				{name: "postgres: server chain", status: doctor.Pass, detail: "verified against ca.crt (CN=understack-mtls-ca)"},
				{name: "postgres: server name", status: doctor.Pass, detail: dbFQDN},
				{name: "postgres: login", status: doctor.Pass, detail: "logged in as app to app over TLSv1.3, client DN /CN=" + siteCN + ", PostgreSQL 17"},
				{name: "redis: tls", status: doctor.Pass, detail: "CN=" + siteCN},
				{name: "redis: server name", status: doctor.Pass, detail: redisFQDN},
				{name: "redis: login", status: doctor.Pass, detail: "PING PONG"},
			},
			serverLog: map[*server]string{pg17.server: `connection authenticated: identity="CN=` + siteCN + `" method=cert`},
			access:    map[*router]string{gw: `127.0.0.1 sni="` + dbFQDN + `" alpn="postgresql" upstream="127.0.0.1:PORT"`}},
		{name: "no client cert", opts: site(noClientCert), exit: 1,
			expect: []expectCheck{
				{name: "cert-dir: files present", status: doctor.Fail, detail: "tls.crt, tls.key missing"},
				// PostgreSQL's TLS layer asks for a certificate without requiring one; pg_hba's cert rule refuses.
				{name: "postgres: tls", status: doctor.Warn, detail: "no client certificate presented"},
				{name: "postgres: login", status: doctor.Fail, detail: "FATAL: connection requires a valid client certificate", fix: "put tls.crt and tls.key"},
				{name: "redis: tls", status: doctor.Fail, detail: "the server got no client certificate: remote error: tls: certificate required", fix: "put tls.crt and tls.key"},
				{name: "redis: login", status: doctor.Warn, detail: "not checked: the TLS handshake failed"},
			},
			serverLog: map[*server]string{pg17.server: "FATAL:  connection requires a valid client certificate", rs.server: redisNoCert}},
		{name: "cert from another CA", opts: site(dirOf(setOtherCA)), exit: 1,
			expect: []expectCheck{
				{name: "cert-dir: tls.crt chains to ca.crt", status: doctor.Fail, detail: "x509: certificate signed by unknown authority"},
				{name: "postgres: tls", status: doctor.Fail, detail: "remote error: tls: unknown certificate authority", fix: "clientCASecret"},
				{name: "postgres: login", status: doctor.Warn, detail: "not checked: the TLS handshake failed"},
				{name: "redis: tls", status: doctor.Fail, detail: "remote error: tls: unknown certificate authority", fix: "issued by the current CA"},
			},
			serverLog: map[*server]string{pg17.server: "Client certificate verification failed at depth 0: unable to get local issuer certificate.",
				rs.server: redisVerifyFailed}},
		{name: "CN other than the site's", opts: site(dirOf(setCNOther)), exit: 1,
			expect: []expectCheck{
				{name: "cert-dir: CN is the site's identity", status: doctor.Fail, detail: `CN="other", want "` + siteCN + `"`},
				{name: "postgres: tls", status: doctor.Pass, detail: "CN=other"},
				{name: "postgres: login", status: doctor.Fail, detail: `FATAL: certificate authentication failed for user "app"`, fix: "copy the site's own certificate"},
				// Redis checks the chain only; the password is the second factor.
				{name: "redis: login", status: doctor.Pass, detail: "PONG"},
			},
			serverLog: map[*server]string{pg17.server: `no match in usermap "nautobot" for user "app" authenticated as "other"`}},
		{name: "expired client cert", opts: site(dirOf(setExpired)), exit: 1,
			expect: []expectCheck{
				{name: "cert-dir: validity", status: doctor.Fail, detail: "expired"},
				{name: "postgres: tls", status: doctor.Fail, detail: "remote error: tls: expired certificate", fix: "copy the renewed certificate"},
				{name: "redis: tls", status: doctor.Fail, detail: "remote error: tls: expired certificate", fix: "copy the renewed certificate"},
			},
			serverLog: map[*server]string{pg17.server: "Client certificate verification failed at depth 0: certificate has expired."}},
		{name: "client cert as ca.crt", opts: site(dirOf(setClientAsCA)), exit: 1,
			expect: []expectCheck{
				{name: "cert-dir: ca.crt is the CA", status: doctor.Fail, detail: "holds the client certificate itself"},
				// The servers accept the certificate; the worker refuses the servers.
				{name: "postgres: tls", status: doctor.Pass, detail: "CN=" + siteCN},
				{name: "postgres: server chain", status: doctor.Fail, detail: "x509: certificate signed by unknown authority", fix: "not the client certificate"},
				{name: "postgres: login", status: doctor.Fail, detail: "x509: certificate signed by unknown authority", fix: "not the client certificate"},
				{name: "redis: server chain", status: doctor.Fail, detail: "x509: certificate signed by unknown authority", fix: "not the client certificate"},
				{name: "redis: login", status: doctor.Fail, detail: "x509: certificate signed by unknown authority", fix: "not the client certificate"},
			}},
		// Every client the README tests connects with \r\n line endings; the seed's gotcha is OpenSSL's
		// [SSL] PEM lib on stray \r, which the cert-dir check reports.
		{name: "PEM with CRLF line endings", opts: site(dirOf(setCRLF)), exit: 3,
			expect: []expectCheck{
				{name: "cert-dir: no carriage return in PEM", status: doctor.Warn, detail: "tls.crt, tls.key, ca.crt hold carriage returns", fix: "filterPEM"},
				{name: "postgres: login", status: doctor.Pass, detail: "/CN=" + siteCN},
				{name: "redis: login", status: doctor.Pass, detail: "PONG"},
			}},
		{name: "PEM with escaped line breaks", opts: site(dirOf(setEscaped)), exit: 1,
			expect: []expectCheck{
				{name: "cert-dir: no carriage return in PEM", status: doctor.Fail, detail: "escaped line breaks", fix: "filterPEM"},
				{name: "postgres: tls", status: doctor.Warn, detail: "tls.crt and tls.key do not load"},
				{name: "postgres: server chain", status: doctor.Fail, detail: "ca.crt holds no certificate", fix: "filterPEM"},
				{name: "postgres: login", status: doctor.Fail, detail: "failed to configure TLS (unable to add CA to cert pool)", fix: "filterPEM"},
				{name: "redis: tls", status: doctor.Fail, detail: "remote error: tls: certificate required"},
			}},
		{name: "closed port", opts: func() doctor.ConnectOptions { o := site(dirOf(setApp)); o.DBPort = freePort(t); return o }(), exit: 1,
			expect: []expectCheck{
				{name: "postgres: tcp", status: doctor.Fail, detail: "connection refused", fix: firewall},
				notChecked("postgres: tls"), notChecked("postgres: server chain"), notChecked("postgres: login"),
				{name: "redis: login", status: doctor.Pass, detail: "PONG"},
			}},
		{name: "wrong SNI through the gateway", opts: func() doctor.ConnectOptions {
			o := site(dirOf(setApp))
			o.DBHost, o.RedisHost = wrongFQDN, wrongFQDN
			return o
		}(), exit: 1,
			expect: []expectCheck{
				{name: "postgres: tcp", status: doctor.Pass},
				{name: "postgres: tls", status: doctor.Fail, detail: gatewayEOF + `: nothing behind the gateway took TLS for SNI "` + wrongFQDN + `": EOF`, fix: "tlsroute"},
				{name: "redis: tls", status: doctor.Fail, detail: gatewayEOF, fix: "redisFqdn output"},
			},
			access: map[*router]string{gw: `127.0.0.1 sni="` + wrongFQDN + `" alpn="postgresql" upstream="unix:TMP"`}},
		{name: "PostgreSQL 15 behind the gateway", opts: func() doctor.ConnectOptions { o := site(dirOf(setApp)); o.DBPort = gw15.portOf(t, dbFQDN); return o }(), exit: 1,
			expect: []expectCheck{
				{name: "postgres: tls", status: doctor.Fail, detail: gatewayEOF, fix: "older than 17 and takes no direct TLS"},
				{name: "redis: login", status: doctor.Pass, detail: "PONG"},
			},
			serverLog: map[*server]string{pg15.server: "invalid length of startup packet"},
			access:    map[*router]string{gw15: `127.0.0.1 sni="` + dbFQDN + `" alpn="postgresql" upstream="127.0.0.1:PORT"`}},
		{name: "PostgreSQL 15 without the gateway", opts: func() doctor.ConnectOptions { o := site(dirOf(setApp)); o.DBPort = pg15.port; return o }(), exit: 1,
			expect: []expectCheck{
				{name: "postgres: tls", status: doctor.Fail, detail: gatewayEOF, fix: "older than 17 and takes no direct TLS"},
			},
			serverLog: map[*server]string{pg15.server: "invalid length of startup packet"}},
		{name: "a routed name the server certificates lack", opts: func() doctor.ConnectOptions {
			o := site(dirOf(setApp))
			o.DBHost, o.RedisHost = dbAlias, redisAlias
			return o
		}(), exit: 1, // the workers check the names, as doctor does by default
			expect: []expectCheck{
				{name: "postgres: server chain", status: doctor.Pass},
				{name: "postgres: server name", status: doctor.Fail, detail: "the workers refuse this server: x509: certificate is valid for", fix: "extraDnsNames"},
				{name: "postgres: login", status: doctor.Fail, detail: "x509: certificate is valid for", fix: "extraDnsNames"},
				{name: "redis: server name", status: doctor.Fail, detail: "not " + redisAlias, fix: "extraDnsNames"},
				{name: "redis: login", status: doctor.Fail, detail: "not " + redisAlias, fix: "extraDnsNames"},
			}},
		{name: "a routed name the server certificates lack, checked chain-only as a site may set", opts: func() doctor.ConnectOptions {
			o := chainOnly(site(dirOf(setApp)))
			o.DBHost, o.RedisHost = dbAlias, redisAlias
			return o
		}(), exit: 3, // verify-ca connects; the default checks would not
			expect: []expectCheck{
				{name: "postgres: server name", status: doctor.Warn, detail: "x509: certificate is valid for", fix: "with the default checks the workers would refuse"},
				{name: "postgres: login", status: doctor.Pass, detail: "/CN=" + siteCN},
				{name: "redis: server name", status: doctor.Warn, detail: "not " + redisAlias, fix: "extraDnsNames"},
				{name: "redis: login", status: doctor.Pass, detail: "PONG"},
			}},
		{name: "servers presenting each other's certificate under the gateway names", opts: func() doctor.ConnectOptions {
			o := site(dirOf(setApp))
			o.DBPort, o.RedisPort = gwImpostor.portOf(t, dbFQDN), gwImpostor.portOf(t, redisFQDN)
			return o
		}(), exit: 1,
			expect: []expectCheck{
				// The CA signed both, so the chain passes; only the name tells them apart.
				{name: "postgres: server chain", status: doctor.Pass},
				{name: "postgres: server name", status: doctor.Fail, detail: "not " + dbFQDN, fix: "check where the gateway's TLSRoute for the name leads"},
				{name: "postgres: login", status: doctor.Fail, detail: "not " + dbFQDN, fix: "tlsroute"},
				{name: "redis: server chain", status: doctor.Pass},
				{name: "redis: server name", status: doctor.Fail, detail: "not " + redisFQDN, fix: "tlsroute"},
				{name: "redis: login", status: doctor.Fail, detail: "not " + redisFQDN, fix: "tlsroute"},
			},
			access: map[*router]string{gwImpostor: `127.0.0.1 sni="` + dbFQDN + `" alpn="postgresql" upstream="127.0.0.1:PORT"`}},
		{name: "no credentials", opts: func() doctor.ConnectOptions {
			o := site(dirOf(setApp))
			o.Login, o.RedisPassword = false, ""
			return o
		}(), exit: 3, // nothing failed, two checks could not be made
			expect: []expectCheck{
				{name: "cert-dir: CN is the site's identity", status: doctor.Pass, detail: "CN=" + siteCN},
				{name: "postgres: login", status: doctor.Warn, detail: "not checked: login not asked for"},
				{name: "redis: login", status: doctor.Warn, detail: "not checked: no Redis password given"},
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			offsets := map[*server]int{}
			for s := range c.serverLog {
				offsets[s] = s.logOffset(t)
			}
			seen := map[*router]int{}
			for r := range c.access {
				seen[r] = len(r.accessLines(t))
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			report := doctor.Connect(ctx, c.opts)
			var text strings.Builder
			_ = report.WriteText(&text)
			t.Logf("doctor connect:\n%s", normalize(text.String()))

			for _, want := range c.expect {
				got, ok := report.Find(want.name)
				if !ok {
					t.Errorf("no check %q in the report", want.name)
					continue
				}
				if got.Status != want.status || !strings.Contains(got.Detail, want.detail) ||
					!strings.Contains(strings.ToLower(got.Fix), strings.ToLower(want.fix)) {
					t.Errorf("%s:\ngot:  %s %s (fix: %s)\nwant: %s …%s… (fix: …%s…)", want.name,
						got.Status, got.Detail, got.Fix, want.status, want.detail, want.fix)
				}
			}
			if got := report.ExitCode(); got != c.exit {
				t.Errorf("exit code %d, want %d", got, c.exit)
			}
			for s, line := range c.serverLog {
				s.logSince(t, offsets[s], line)
			}
			for r, line := range c.access {
				r.expectAccess(t, seen[r], line)
			}
		})
	}
}
