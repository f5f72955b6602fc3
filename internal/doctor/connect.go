package doctor

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"nautobot-worker/internal/nautobotpod"
)

// The fixes of the network path, worded after the seed's Troubleshooting and the README's Security model.
const (
	fixNoClientCert      = "the server refuses every connection without a client certificate (the pg_hba cert rule, Redis authClients): put tls.crt and tls.key of the site's nautobot-mtls-client secret in the directory (kubectl get externalsecret nautobot-mtls-client)"
	fixPostgresUnknownCA = "PostgreSQL's ssl_ca_file does not hold the CA that signed tls.crt. Either tls.crt comes from another CA (a rebuilt global cluster's: copy the site's certificate issued by the current CA into the secrets provider), or the CNPG Cluster lacks clientCASecret and trusts CNPG's own CA: `kubectl exec -n nautobot nautobot-cluster-1 -c postgres -- openssl x509 -noout -subject -in /controller/certificates/client-ca.crt` must show CN=understack-mtls-ca; set clientCASecret and replicationTLSSecret on the Cluster"
	fixRedisUnknownCA    = "Redis trusts only the CA in its server secret's ca.crt, and tls.crt was signed by another CA (a rebuilt global cluster's, say): copy the site's certificate issued by the current CA into the secrets provider"
	fixServerCA          = "ca.crt must be the CA that signed the PostgreSQL and Redis server certificates: update the CA credential in the secrets provider with ca.crt of the global cluster's mtls-ca-cert secret (`kubectl get secret mtls-ca-cert -n nautobot -o jsonpath='{.data.ca\\.crt}' | base64 -d | openssl x509 -noout -subject` shows CN=understack-mtls-ca)"
	fixServerExpired     = "the server's certificate is outside its validity window: check its Certificate on the global cluster (kubectl get certificate -n nautobot) and let cert-manager renew it"
	fixServerName        = "the workers check the name (worker.databaseSslMode verify-full and worker.redisCheckHostname true, the defaults): connect by a name the server certificate carries (the global stack's dbFqdn / redisFqdn outputs), or add this one to certificates.postgres.extraDnsNames / certificates.redis.extraDnsNames on the global stack. If the name is right, what answers is not that server: another certificate of the CA (another server's) is presented, so check where the gateway's TLSRoute for the name leads (kubectl get tlsroute -n nautobot -o yaml)"
	fixServerNameOff     = "the name is not checked here because it was switched off (--db-sslmode verify-ca, --redis-check-hostname=false), as the site can with worker.databaseSslMode: verify-ca / worker.redisCheckHostname: false; with the default checks the workers would refuse this server: connect by a name the certificate carries or add this one to certificates.*.extraDnsNames on the global stack"
	fixHBA               = "PostgreSQL found no pg_hba rule for this connection (seed: no TLS, a certificate CN that is not the user, or a source address outside every rule's CIDR): the global stack sets `hostssl all all all cert` and `hostnossl all all all reject` in the CNPG Cluster's spec.postgresql.pg_hba; through the gateway the source PostgreSQL sees is the gateway's, not the site's"
	fixDBPassword        = "with a client certificate PostgreSQL asks no password (pg_hba cert); a password check means the connection matched CNPG's catch-all password rule instead: check the Cluster's spec.postgresql.pg_hba and that the certificate reaches the server"
	fixRedisPassword     = "the Redis password is NAUTOBOT_REDIS_PASSWORD of the global nautobot-redis secret; the site's Redis password secret must hold the same value"
	fixDBRole            = "the user is the global stack's database.user (its dbUser output), the role its role map admits the sites' certificates as"
	fixDBName            = "the database is the global stack's database.database (its dbName output)"
	fixNoClientAuth      = "the server does not authenticate clients by certificate, so the path does not reach the mTLS servers of the global stack: check the host and port are the gateway's and its TLSRoute's backend is the CNPG rw Service or the Redis master (kubectl get tlsroute -n nautobot -o yaml)"
	fixTLSLogin          = "the handshake check above says why TLS failed; the login cannot pass before it does"
)

// ConnectOptions tune Connect.
type ConnectOptions struct {
	// DBHost and RedisHost are the gateway FQDNs (the global stack's dbFqdn and redisFqdn outputs): the TLS
	// server name (SNI) the gateway routes on and the name the server certificates carry.
	DBHost    string
	DBPort    int // default 5432
	RedisHost string
	RedisPort int // default 6379
	// DBAddress and RedisAddress, when set, are dialled instead of what the host resolves to (the gateway
	// VIP before DNS names it); the host stays the server name. A port in them (host:port) replaces
	// DBPort or RedisPort.
	DBAddress, RedisAddress string
	// CertDir holds tls.crt, tls.key and ca.crt, as mounted at /etc/nautobot/mtls.
	CertDir string
	// DBUser is the login's user (default "app").
	DBUser string
	// Identity is the common name the client certificate must carry (site-<name>); empty, not checked.
	Identity string
	// Login asks for the PostgreSQL login check (the client certificate is the credential, DBPassword is
	// only sent if the server asks).
	Login bool
	// DBName is the database to log in to (default "app").
	DBName     string
	DBPassword string
	// RedisPassword asks for the Redis login check (AUTH, then PING) when set.
	RedisPassword string
	// ServerNames are the site's name checks (worker.databaseSslMode, worker.redisCheckHostname); the
	// defaults, verify-full and ssl_check_hostname, make a server certificate without the host a FAIL.
	ServerNames nautobotpod.ServerNames
	// RenewBefore is the client certificates' renewal window (default 720h, the global stack's
	// certificates.clientRenewBefore).
	RenewBefore time.Duration
	// Timeout bounds each connection attempt (default 5s).
	Timeout time.Duration
	// Now is the time certificates are judged at (default: the current time).
	Now time.Time
}

const (
	defaultDBUser      = "app"
	defaultDBName      = "app"
	defaultDBPort      = 5432
	defaultRedisPort   = 6379
	defaultRenewBefore = 720 * time.Hour
	defaultTimeout     = 5 * time.Second
	// minVerdictWait is the least time a client waits, after its TLS 1.3 handshake, for the server's verdict
	// on its certificate (see handshake).
	minVerdictWait = 500 * time.Millisecond
)

// Connect checks the path from a site to the global PostgreSQL and Redis as a worker takes it: the client
// files of CertDir, TCP to each gateway port (the firewall rule), a TLS handshake with the gateway FQDN as
// SNI and the client certificate (direct TLS with ALPN "postgresql" for PostgreSQL, as
// sslnegotiation=direct does), the server chain verified against ca.crt and, apart, the server
// certificate's names (a failure where the workers check them, as by default), and a login when
// credentials are given, checking as the workers do. Every failure carries the error the
// server or the client library gave, what it means and the seed's fix.
func Connect(ctx context.Context, o ConnectOptions) Report {
	r := Report{Command: "connect"}
	dbLogin := o.Login
	o = o.withDefaults()

	files, readErrs := readCertDir(o.CertDir)
	for _, err := range readErrs {
		r.Fail("cert-dir: readable", fixMissingFile, "%v", err)
	}
	r.Merge("cert-dir", CheckMaterial(files, MaterialOptions{Identity: o.Identity, RenewBefore: o.RenewBefore, Now: o.Now}))

	c := &connector{o: o, client: loadClient(files)}
	pg := endpoint{service: "PostgreSQL", prefix: "postgres", host: o.DBHost, port: o.DBPort, address: o.DBAddress,
		alpn: []string{"postgresql"}, hostOutput: "dbFqdn", checkName: o.ServerNames.DatabaseSSLMode == nautobotpod.VerifyFull}
	redis := endpoint{service: "Redis", prefix: "redis", host: o.RedisHost, port: o.RedisPort, address: o.RedisAddress,
		hostOutput: "redisFqdn", checkName: *o.ServerNames.RedisCheckHostname}

	var pgLogin, redisLogin loginFunc
	if dbLogin {
		pgLogin = c.postgresLogin
	}
	if o.RedisPassword != "" {
		redisLogin = c.redisLogin
	}
	c.check(ctx, &r, pg, pgLogin, "login not asked for: --login logs in as the database user (the global stack's dbUser output) with the client certificate")
	c.check(ctx, &r, redis, redisLogin, "no Redis password given: set it (NAUTOBOT_REDIS_PASSWORD of the global nautobot-redis secret) to AUTH and PING")
	return r
}

func (o ConnectOptions) withDefaults() ConnectOptions {
	if o.DBUser == "" {
		o.DBUser = defaultDBUser
	}
	if o.DBName == "" {
		o.DBName = defaultDBName
	}
	o.DBAddress, o.DBPort = splitAddress(o.DBAddress, o.DBPort, defaultDBPort)
	o.RedisAddress, o.RedisPort = splitAddress(o.RedisAddress, o.RedisPort, defaultRedisPort)
	if o.RenewBefore == 0 {
		o.RenewBefore = defaultRenewBefore
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	o.ServerNames = o.ServerNames.Defaults()
	return o
}

// splitAddress takes the port out of a host:port address; without one the port given, else the default.
func splitAddress(address string, port, def int) (string, int) {
	if host, p, err := net.SplitHostPort(address); err == nil {
		if n, err := strconv.Atoi(p); err == nil {
			return host, n
		}
	}
	if port == 0 {
		port = def
	}
	return strings.TrimSuffix(strings.TrimPrefix(address, "["), "]"), port
}

// readCertDir reads the three files; a missing one stays empty (CheckMaterial reports it), any other read
// error is returned.
func readCertDir(dir string) (Material, []error) {
	m := Material{}
	var errs []error
	for _, name := range []string{"tls.crt", "tls.key", "ca.crt"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		switch {
		case err == nil:
			m[name] = data
		case !errors.Is(err, fs.ErrNotExist):
			errs = append(errs, err)
		}
	}
	return m, errs
}

// clientFiles is the cert dir as the TLS stack takes it.
type clientFiles struct {
	cert    *tls.Certificate // nil when tls.crt and tls.key do not load
	certErr error
	cas     []*x509.Certificate // empty when ca.crt holds no certificate
	caErr   error
	caFix   string // the fix for caErr: a missing file, or one that does not parse
}

func loadClient(m Material) clientFiles {
	var c clientFiles
	if len(m["tls.crt"]) == 0 || len(m["tls.key"]) == 0 {
		c.certErr = errors.New("tls.crt or tls.key is missing")
	} else if cert, err := tls.X509KeyPair(m["tls.crt"], m["tls.key"]); err != nil {
		c.certErr = fmt.Errorf("tls.crt and tls.key do not load: %w", err)
	} else {
		c.cert = &cert
	}
	c.cas, c.caErr = certificates(m["ca.crt"])
	c.caFix = fixCarriageReturn
	if len(m["ca.crt"]) == 0 {
		c.caFix = fixMissingFile
	}
	return c
}

// verifyServer is verify-ca: the server's chain must lead to ca.crt; with a host, verify-full: the leaf
// must also name it.
func (c clientFiles) verifyServer(chain []*x509.Certificate, now time.Time, host string) error {
	if len(chain) == 0 {
		return errors.New("the server sent no certificate")
	}
	if c.caErr != nil {
		return fmt.Errorf("ca.crt: %w", c.caErr)
	}
	opts := x509.VerifyOptions{Roots: x509.NewCertPool(), Intermediates: x509.NewCertPool(), CurrentTime: now}
	for _, ca := range c.cas {
		opts.Roots.AddCert(ca)
	}
	for _, ic := range chain[1:] {
		opts.Intermediates.AddCert(ic)
	}
	if _, err := chain[0].Verify(opts); err != nil {
		return err
	}
	if host != "" {
		return chain[0].VerifyHostname(host)
	}
	return nil
}

// diagnose is the diagnosis of an error on this client's path: when ca.crt is not a CA at all, a server
// it cannot verify is the seed's gotcha of the client certificate copied into ca.crt.
func (c *connector) diagnose(e endpoint, err error) diagnosis {
	d := diagnose(e, err)
	if d.fix == fixServerCA && len(c.client.cas) > 0 && !c.client.cas[0].IsCA {
		d.fix = fixCAIsClient
	}
	return d
}

type endpoint struct {
	service    string // "PostgreSQL" or "Redis"
	prefix     string // of its checks' names
	host       string
	port       int
	address    string
	alpn       []string
	hostOutput string // the global stack output the host must equal
	checkName  bool   // the workers check that the server certificate names host
}

func (e endpoint) dialAddress() string {
	host := e.host
	if e.address != "" {
		host = e.address
	}
	return net.JoinHostPort(host, strconv.Itoa(e.port))
}

func (e endpoint) target() string {
	if e.address != "" {
		return fmt.Sprintf("%s:%d (dialled at %s)", e.host, e.port, e.dialAddress())
	}
	return fmt.Sprintf("%s:%d", e.host, e.port)
}

type connector struct {
	o      ConnectOptions
	client clientFiles
}

// loginFunc logs in over the endpoint and says as whom.
type loginFunc func(ctx context.Context, e endpoint) (string, error)

// check reports one endpoint: tcp, tls, server chain, server name and login, one line each; a check that
// cannot run because an earlier one failed is a WARN that says which.
func (c *connector) check(ctx context.Context, r *Report, e endpoint, login loginFunc, noLogin string) {
	name := func(check string) string { return e.prefix + ": " + check }
	if e.host == "" {
		for _, check := range []string{"tcp", "tls", "server chain", "server name", "login"} {
			r.Warn(name(check), "", "not checked: no %s host given (the global stack's %s output)", e.service, e.hostOutput)
		}
		return
	}

	if err := c.dialTCP(ctx, e); err != nil {
		d := c.diagnose(e, err)
		r.Fail(name("tcp"), d.fix, "%s: %s: %v", e.target(), d.what, err)
		for _, check := range []string{"tls", "server chain", "server name", "login"} {
			r.Warn(name(check), "", "not checked: no TCP connection")
		}
		return
	}
	r.Pass(name("tcp"), "%s accepts connections", e.target())

	conn, hs := c.handshake(ctx, e, false)
	if conn != nil {
		conn.Close()
	}
	noCert := ""
	if c.client.cert == nil {
		noCert = fmt.Sprintf(" (no client certificate presented: %v)", c.client.certErr)
	}
	tlsFailed := hs.err != nil
	switch {
	case tlsFailed:
		d := c.diagnose(e, hs.err)
		r.Fail(name("tls"), d.fix, "SNI %s: %s: %v%s", e.host, d.what, hs.err, noCert)
	case !hs.asked:
		r.Warn(name("tls"), fixNoClientAuth, "%s: the server asked for no client certificate", handshakeSummary(e, hs.state))
	case !hs.presented:
		r.Warn(name("tls"), fixNoClientCert, "%s: the server accepted the handshake%s, so whether it accepts this site's certificate is not known", handshakeSummary(e, hs.state), noCert)
	default:
		r.Pass(name("tls"), "%s; the server accepted the client certificate CN=%s", handshakeSummary(e, hs.state), c.client.cert.Leaf.Subject.CommonName)
	}

	if len(hs.peer) == 0 {
		r.Warn(name("server chain"), "", "not checked: the server sent no certificate")
		r.Warn(name("server name"), "", "not checked: the server sent no certificate")
	} else {
		leaf := hs.peer[0]
		if err := c.client.verifyServer(hs.peer, c.o.Now, ""); err != nil {
			d := c.diagnose(e, err)
			if c.client.caErr != nil {
				d = diagnosis{"ca.crt holds no certificate to verify the server with", c.client.caFix}
			}
			r.Fail(name("server chain"), d.fix, "server certificate CN=%s issued by CN=%s: %s: %v", leaf.Subject.CommonName, leaf.Issuer.CommonName, d.what, err)
		} else {
			r.Pass(name("server chain"), "server certificate CN=%s verified against ca.crt (CN=%s)", leaf.Subject.CommonName, c.client.cas[0].Subject.CommonName)
		}
		switch err := leaf.VerifyHostname(e.host); {
		case err != nil && e.checkName:
			r.Fail(name("server name"), fixServerName, "the workers refuse this server: %v", err)
		case err != nil:
			r.Warn(name("server name"), fixServerNameOff, "%v", err)
		default:
			r.Pass(name("server name"), "the server certificate names %s", e.host)
		}
	}

	switch {
	case login == nil:
		r.Warn(name("login"), "", "not checked: %s", noLogin)
	case tlsFailed:
		r.Warn(name("login"), fixTLSLogin, "not checked: the TLS handshake failed")
	default:
		who, err := login(ctx, e)
		if err != nil {
			d := c.diagnose(e, err)
			r.Fail(name("login"), d.fix, "%s: %v", d.what, err)
		} else {
			r.Pass(name("login"), "%s", who)
		}
	}
}

func handshakeSummary(e endpoint, cs tls.ConnectionState) string {
	s := fmt.Sprintf("%s with SNI %s", tls.VersionName(cs.Version), e.host)
	if len(e.alpn) > 0 {
		alpn := cs.NegotiatedProtocol
		if alpn == "" {
			alpn = "none"
		}
		s = "direct " + s + ", ALPN " + alpn
	}
	return s
}

func (c *connector) dialTCP(ctx context.Context, e endpoint) error {
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", e.dialAddress())
	if err != nil {
		return err
	}
	return conn.Close()
}

type handshakeResult struct {
	state     tls.ConnectionState
	peer      []*x509.Certificate // the server's chain, also when the handshake failed after it arrived
	asked     bool                // the server asked for a client certificate
	presented bool                // the client sent one
	err       error               // the handshake's error or the server's verdict
}

// handshake opens a TLS connection the way a worker does: TLS from the first byte (the gateway routes on
// the ClientHello's SNI), the endpoint's ALPN, the client certificate. With verify, the server is checked
// as the worker checks it (the chain against ca.crt, and the name where the endpoint checks it); without,
// the chain is only recorded, so the server's verdict on the client certificate and the client's verdict
// on the server are reported apart.
func (c *connector) handshake(ctx context.Context, e endpoint, verify bool) (*tls.Conn, handshakeResult) {
	var res handshakeResult
	cfg := &tls.Config{
		NextProtos: e.alpn,
		MinVersion: tls.VersionTLS12,
		// The server is checked in VerifyConnection, the name apart from the chain.
		InsecureSkipVerify: true,
		// Present the certificate whatever CA names the server asks for, as the workers' OpenSSL does (Go's
		// default sends none when its issuer is not among them, which hides the server's own verdict).
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			res.asked = true
			if c.client.cert == nil {
				return &tls.Certificate{}, nil
			}
			res.presented = true
			return c.client.cert, nil
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			res.peer = cs.PeerCertificates
			if verify {
				host := ""
				if e.checkName {
					host = e.host
				}
				return c.client.verifyServer(cs.PeerCertificates, c.o.Now, host)
			}
			return nil
		},
	}
	if net.ParseIP(e.host) == nil {
		cfg.ServerName = e.host
	}
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	raw, err := (&net.Dialer{}).DialContext(ctx, "tcp", e.dialAddress())
	if err != nil {
		res.err = err
		return nil, res
	}
	conn := tls.Client(raw, cfg)
	start := time.Now()
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		res.err = err
		return nil, res
	}
	res.state = conn.ConnectionState()
	// In TLS 1.3 the client's handshake ends before the server has checked the client certificate: its
	// verdict, an alert, follows about a round trip later. Neither server sends anything before the client
	// speaks, so a read that times out means the certificate was accepted. The wait scales with the
	// handshake's own round trips, for gateways far away.
	wait := min(max(minVerdictWait, 2*time.Since(start)), c.o.Timeout)
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	n, err := conn.Read(make([]byte, 1))
	switch {
	case n > 0:
		err = errors.New("the server sent data before the client spoke")
	case err != nil && isTimeout(err):
		err = nil
	}
	if err != nil {
		raw.Close()
		res.err = err
		return nil, res
	}
	_ = conn.SetReadDeadline(time.Time{})
	return conn, res
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// postgresLogin connects with pgx as the worker's libpq settings do (its sslmode, sslnegotiation=direct,
// the cert dir's files by path) and reads its own pg_stat_ssl row.
func (c *connector) postgresLogin(ctx context.Context, e endpoint) (string, error) {
	settings := [][2]string{
		{"host", e.host}, {"port", strconv.Itoa(e.port)}, {"user", c.o.DBUser}, {"dbname", c.o.DBName},
		{"sslmode", c.o.ServerNames.DatabaseSSLMode}, {"sslnegotiation", "direct"},
		{"sslrootcert", filepath.Join(c.o.CertDir, "ca.crt")},
	}
	if c.client.cert != nil {
		settings = append(settings, [2]string{"sslcert", filepath.Join(c.o.CertDir, "tls.crt")},
			[2]string{"sslkey", filepath.Join(c.o.CertDir, "tls.key")})
	}
	var dsn []string
	for _, kv := range settings {
		dsn = append(dsn, kv[0]+"='"+strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(kv[1])+"'")
	}
	cfg, err := pgx.ParseConfig(strings.Join(dsn, " "))
	if err != nil {
		return "", err
	}
	if c.o.DBPassword != "" {
		cfg.Password = c.o.DBPassword
	}
	cfg.ConnectTimeout = c.o.Timeout
	if e.address != "" {
		cfg.LookupFunc = func(context.Context, string) ([]string, error) { return []string{e.address}, nil }
	}
	// pgx's default sends a CancelRequest on a new plain connection when the context ends, one more session
	// the gateway cannot route; deadlines alone end a hung attempt.
	cfg.BuildContextWatcherHandler = func(pgConn *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: pgConn.Conn()}
	}
	if cfg.TLSConfig != nil && len(cfg.TLSConfig.Certificates) > 0 {
		cert := cfg.TLSConfig.Certificates[0]
		cfg.TLSConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	}
	ctx, cancel := context.WithTimeout(ctx, 3*c.o.Timeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var user, version string
	var dn *string
	err = conn.QueryRow(ctx, "SELECT current_user, s.version, s.client_dn FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()").
		Scan(&user, &version, &dn)
	if err != nil {
		return "", err
	}
	clientDN := "none"
	if dn != nil {
		clientDN = *dn
	}
	return fmt.Sprintf("logged in as %s to %s over %s, client DN %s, PostgreSQL %s", user, c.o.DBName, version, clientDN,
		conn.PgConn().ParameterStatus("server_version")), nil
}

// redisLogin sends AUTH and PING over a TLS connection that verifies the server as redis-py with
// ssl_cert_reqs=required does, the name too unless the check is off (ssl_check_hostname).
func (c *connector) redisLogin(ctx context.Context, e endpoint) (string, error) {
	conn, hs := c.handshake(ctx, e, true)
	if hs.err != nil {
		return "", hs.err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(c.o.Timeout))
	rd := bufio.NewReader(conn)
	if reply, err := redisCommand(conn, rd, "AUTH", c.o.RedisPassword); err != nil {
		return "", fmt.Errorf("AUTH: %w", err)
	} else if reply != "OK" {
		return "", fmt.Errorf("AUTH: unexpected reply %q", reply)
	}
	reply, err := redisCommand(conn, rd, "PING")
	if err != nil {
		return "", fmt.Errorf("PING: %w", err)
	}
	if reply != "PONG" {
		return "", fmt.Errorf("PING: unexpected reply %q", reply)
	}
	return "AUTH OK, PING " + reply, nil
}

// redisCommand sends one command in RESP and reads a one-line reply: a simple string, or a Redis error.
func redisCommand(w io.Writer, r *bufio.Reader, args ...string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return "", err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case strings.HasPrefix(line, "-"):
		return "", errors.New(line[1:])
	case strings.HasPrefix(line, "+"):
		return line[1:], nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}

// diagnosis is what an error means and the fix for it.
type diagnosis struct{ what, fix string }

// diagnose maps an error of the network path to the seed's diagnosis. The error texts are those the
// servers, Go's TLS stack and pgx give (the README's Security model table has them, with the libpq and
// OpenSSL equivalents quoted in the seed).
func diagnose(e endpoint, err error) diagnosis {
	msg := strings.ToLower(err.Error())
	has := func(parts ...string) bool {
		for _, p := range parts {
			if strings.Contains(msg, p) {
				return true
			}
		}
		return false
	}
	switch {
	// Go, libpq and Python's ssl on a server certificate that does not name the host: before the chain
	// cases, as Python says it after "certificate verify failed".
	case has("certificate is valid for", "certificate is not valid for any names", "does not match host name", "hostname mismatch"):
		return diagnosis{"the server certificate does not name " + e.host + " (the name check of verify-full and ssl_check_hostname)", fixServerName}
	case has("certificate authentication failed for user"):
		return diagnosis{"PostgreSQL's role map does not list the client certificate's CN for the database user", fixCN}
	case has("connection requires a valid client certificate", "certificate required"):
		return diagnosis{"the server got no client certificate", fixNoClientCert}
	case has("x509: certificate has expired or is not yet valid"):
		return diagnosis{"the server's certificate is outside its validity window", fixServerExpired}
	case has("x509: certificate signed by unknown authority", "certificate verify failed", "self-signed certificate in certificate chain"):
		return diagnosis{"ca.crt does not verify the server's certificate (certificate verify failed)", fixServerCA}
	case has("unknown certificate authority", "unknown ca"):
		fix := fixRedisUnknownCA
		if e.service == "PostgreSQL" {
			fix = fixPostgresUnknownCA
		}
		return diagnosis{e.service + " does not trust the CA that signed tls.crt (OpenSSL clients: tlsv1 alert unknown ca)", fix}
	case has("expired certificate", "certificate expired"):
		return diagnosis{e.service + " refused tls.crt as expired", fixExpired}
	case has("unsupported certificate"):
		return diagnosis{e.service + " refused tls.crt for its key usage", fixUsage}
	case has("bad certificate"):
		return diagnosis{e.service + " refused tls.crt (certificate verify failed)", fixChain}
	case has("no pg_hba.conf entry"):
		return diagnosis{"no pg_hba rule matches this connection", fixHBA}
	case has("wrongpass", "invalid password", "invalid username-password"):
		return diagnosis{"Redis refused the password", fixRedisPassword}
	case has("password authentication failed", "no password supplied", "failed sasl auth"):
		return diagnosis{"PostgreSQL asked for a password", fixDBPassword}
	case has("role") && has("does not exist"):
		return diagnosis{"the database user does not exist", fixDBRole}
	case has("database") && has("does not exist"):
		return diagnosis{"the database does not exist", fixDBName}
	case has("unable to add ca to cert pool", "failed to find any pem data", "no certificate or crl found", "failed to decode sslkey", "pem lib", "no pem certificate found"):
		return diagnosis{"a PEM file of the cert dir does not parse", fixCarriageReturn}
	case has("no such file or directory"):
		return diagnosis{"a file of the cert dir is missing", fixMissingFile}
	case has("first record does not look like a tls handshake"):
		return diagnosis{"the port answered without TLS", fmt.Sprintf(
			"the port is not the gateway's TLS-passthrough listener: connect to the gateway VIP on its %s port (gateway.dbPort / gateway.redisPort of the global stack)", e.service)}
	case has("no such host", "server misbehaving"):
		return diagnosis{"the host name does not resolve", fmt.Sprintf(
			"%s must resolve to the gateway VIP (the global stack's gatewayAddress output): add its DNS record, or give the VIP as the address to dial", e.host)}
	case has("connection refused"):
		return diagnosis{"the connection was refused: nothing listens there, or a firewall rejects it", fixFirewall(e)}
	case isTimeout(err) || has("i/o timeout", "deadline exceeded", "no route to host", "network is unreachable"):
		return diagnosis{"no answer: a firewall drops the packets, or the address is not the gateway", fixFirewall(e)}
	case has("eof", "connection reset by peer", "broken pipe"):
		return diagnosis{fmt.Sprintf("the connection closed right after the ClientHello: nothing behind the gateway took TLS for SNI %q", e.host), fixGatewayEOF(e)}
	}
	return diagnosis{"unexpected error", ""}
}

func fixFirewall(e endpoint) string {
	return fmt.Sprintf("the site's egress must reach the gateway VIP on TCP %d: the global stack's firewallRules output has the rule for each site (sources = sites[].egressCidrs, destination = gatewayAddress, TCP 5432 and 6379, TLS passthrough); check that %s resolves to that VIP and that the Gateway lists the port (kubectl get gateway -n envoy-gateway -o yaml)", e.port, e.host)
}

func fixGatewayEOF(e endpoint) string {
	fix := fmt.Sprintf("the gateway routes on the TLS server name: %s must be the global stack's %s output, the hostname of its TLSRoute (kubectl get tlsroute -n nautobot -o yaml)", e.host, e.hostOutput)
	if e.service == "PostgreSQL" {
		fix += "; if it is, the PostgreSQL behind the route is older than 17 and takes no direct TLS (sslnegotiation=direct; its log shows `invalid length of startup packet`, pgx says `write failed: EOF`): run PostgreSQL 17 or later (database.imageName), as database.directTls requires"
	}
	return fix
}
