package mtls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/redis/go-redis/v9"
)

// The client side of every case comes from what assets/nautobot_config.py produces, read through
// assets/tests/dump_settings.py with the environment a site worker sets (see the seed's values.yaml).

type sslKwargs struct {
	CertReqs      string `json:"ssl_cert_reqs"`
	CheckHostname bool   `json:"ssl_check_hostname"`
	CACerts       string `json:"ssl_ca_certs"`
	CertFile      string `json:"ssl_certfile"`
	KeyFile       string `json:"ssl_keyfile"`
}

type nautobotTLS struct {
	DatabaseOptions    map[string]string `json:"database_options"`
	CachePoolKwargs    *sslKwargs        `json:"cache_connection_pool_kwargs"`
	BrokerUseSSL       *sslKwargs        `json:"celery_broker_use_ssl"`
	RedisBackendUseSSL *sslKwargs        `json:"celery_redis_backend_use_ssl"`
}

// workerEnv is a site worker's environment with the client Secret `set` mounted, and the given
// NAUTOBOT_DB_SSLNEGOTIATION ("direct" for PostgreSQL 17 behind the gateway, "" for startup negotiation).
// It checks the server chain only, the seed's verify-ca and redis-py's default, set explicitly as a site
// may (worker.databaseSslMode, worker.redisCheckHostname): the cases here are about the client certificate
// and the path; TestServerNames is about the server names, with the stack's defaults.
func workerEnv(set clientSet, negotiation string) []string {
	return []string{
		"PATH=/usr/bin:/bin",
		"LC_ALL=C",
		"NAUTOBOT_DB_SSLMODE=verify-ca",
		"NAUTOBOT_REDIS_SSL_CHECK_HOSTNAME=false",
		"NAUTOBOT_DB_SSLNEGOTIATION=" + negotiation,
		"NAUTOBOT_DB_SSLCERT=" + set.cert(),
		"NAUTOBOT_DB_SSLKEY=" + set.key(),
		"NAUTOBOT_DB_SSLROOTCERT=" + set.ca(),
		"NAUTOBOT_REDIS_SSL=true",
		"NAUTOBOT_REDIS_SSL_CERT_REQS=required",
		"NAUTOBOT_REDIS_SSL_CA_CERTS=" + set.ca(),
		"NAUTOBOT_REDIS_SSL_CERTFILE=" + set.cert(),
		"NAUTOBOT_REDIS_SSL_KEYFILE=" + set.key(),
	}
}

var (
	dumpMu    sync.Mutex
	dumpCache = map[string]nautobotTLS{}
)

// configFor runs dump_settings.py for a client Secret and negotiation mode (cached per pair).
func configFor(t *testing.T, set clientSet, negotiation string) nautobotTLS {
	t.Helper()
	getPKI(t)
	key := string(set) + "/" + negotiation
	dumpMu.Lock()
	defer dumpMu.Unlock()
	if c, ok := dumpCache[key]; ok {
		return c
	}
	python := requireCommand(t, "python3")
	script := filepath.Join(repoRoot(t), "assets", "tests", "dump_settings.py")
	out, err := runCommand(t, 30*time.Second, nil, workerEnv(set, negotiation), python, script)
	if err != nil {
		t.Fatalf("dump_settings.py for %s: %v\n%s", key, err, out)
	}
	var c nautobotTLS
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("dump_settings.py output: %v\n%s", err, out)
	}
	if c.CachePoolKwargs == nil || !reflect.DeepEqual(c.CachePoolKwargs, c.BrokerUseSSL) ||
		!reflect.DeepEqual(c.CachePoolKwargs, c.RedisBackendUseSSL) {
		t.Fatalf("cache, broker and result-backend Redis SSL settings differ or are missing: %s", out)
	}
	dumpCache[key] = c
	return c
}

// libpqDSN is a libpq keyword/value connection string for user and database app with the config's
// DATABASES OPTIONS; `override` replaces options, and an empty value removes one.
func libpqDSN(host string, port int, options, override map[string]string) string {
	kv := map[string]string{"host": host, "port": fmt.Sprint(port), "user": "app", "dbname": "app", "connect_timeout": "5"}
	for k, v := range options {
		kv[k] = v
	}
	for k, v := range override {
		if v == "" {
			delete(kv, k)
		} else {
			kv[k] = v
		}
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(kv[k])
		parts = append(parts, fmt.Sprintf("%s='%s'", k, v))
	}
	return strings.Join(parts, " ")
}

// psql runs one query through libpq 15 (the library psycopg uses) and returns its trimmed output.
func psql(t *testing.T, dsn, password, query string) (string, error) {
	t.Helper()
	env := []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "HOME=" + tempDir(t, "mtls-home-"), "PGCONNECT_TIMEOUT=5"}
	if password != "" {
		env = append(env, "PGPASSWORD="+password)
	}
	out, err := runCommand(t, 30*time.Second, nil, env, requireCommand(t, "psql"),
		"-X", "-A", "-t", "-w", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", query)
	return strings.TrimSpace(out), err
}

// pgxConnect connects with pgx (the caller closes the connection), resolving every host name to 127.0.0.1 so that the TLS server name (SNI)
// stays the gateway FQDN while the connection goes to the local router or server.
func pgxConnect(t *testing.T, dsn string) (*pgx.Conn, error) {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.LookupFunc = func(context.Context, string) ([]string, error) { return []string{"127.0.0.1"}, nil }
	cfg.ConnectTimeout = 5 * time.Second
	// pgx's default handler sends a CancelRequest on a new (non-TLS) connection when the context ends during
	// an operation, which would show up as extra unroutable sessions at the SNI router; use deadlines only.
	cfg.BuildContextWatcherHandler = func(pgConn *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: pgConn.Conn()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return pgx.ConnectConfig(ctx, cfg)
}

// sslStatus is this session's row in pg_stat_ssl: "ssl|version|client_dn".
func sslStatus(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var ssl bool
	var version, dn *string
	err := conn.QueryRow(ctx, "SELECT ssl, version, client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl, &version, &dn)
	if err != nil {
		t.Fatal(err)
	}
	str := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	return fmt.Sprintf("%t|%s|%s", ssl, str(version), str(dn))
}

// redisTLSConfig turns the config's redis-py SSL kwargs into a Go TLS client config that behaves like
// redis-py's: CA and client certificate from the files, ssl_cert_reqs deciding whether the server chain is
// verified, ssl_check_hostname whether the leaf must name serverName, SNI = the URL's host.
func redisTLSConfig(k *sslKwargs, serverName string) (*tls.Config, error) {
	// Same order as redis-py: the client certificate chain first, then the CA.
	cert, err := tls.LoadX509KeyPair(k.CertFile, k.KeyFile)
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(k.CACerts)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("no certificates in %s", filepath.Base(k.CACerts))
	}
	cfg := &tls.Config{
		ServerName:         serverName,
		Certificates:       []tls.Certificate{cert},
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // the chain is verified below, without the host name
	}
	switch k.CertReqs {
	case "CERT_REQUIRED", "CERT_OPTIONAL":
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
				return err
			}
			if k.CheckHostname {
				return cs.PeerCertificates[0].VerifyHostname(serverName)
			}
			return nil
		}
	case "CERT_NONE":
	default:
		return nil, fmt.Errorf("unexpected ssl_cert_reqs %q", k.CertReqs)
	}
	return cfg, nil
}

// redisPing sends AUTH (if password) and PING with go-redis over `tlsCfg` (nil: plaintext).
func redisPing(port int, tlsCfg *tls.Config, password string) (string, error) {
	client := redis.NewClient(&redis.Options{
		Addr:            fmt.Sprintf("127.0.0.1:%d", port),
		Password:        password,
		TLSConfig:       tlsCfg,
		Protocol:        2, // RESP2 with AUTH, as redis-py speaks by default
		DisableIdentity: true,
		DialTimeout:     5 * time.Second,
		ReadTimeout:     5 * time.Second,
		WriteTimeout:    5 * time.Second,
		MaxRetries:      -1,
		DialerRetries:   1, // one dial: the error of that attempt, one server-log line
		PoolSize:        1,
		Dialer:          verdictDialer(tlsCfg),
	})
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return client.Ping(ctx).Result()
}

// verdictWait is how long a client waits after its TLS 1.3 handshake for the server's verdict on its
// certificate. In TLS 1.3 the client finishes first and the server checks the client certificate afterwards;
// a client that writes at once (as redis-py and go-redis do) then sees its connection reset, or an EOF,
// rather than the server's alert, depending on timing. Waiting makes the reported error the alert.
const verdictWait = 500 * time.Millisecond

// verdictDialer dials TLS like go-redis does, then waits verdictWait for a rejection alert.
func verdictDialer(cfg *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		raw, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
		if err != nil || cfg == nil {
			return raw, err
		}
		conn := tls.Client(raw, cfg)
		if err := conn.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		// Redis sends nothing before a command, so a read either times out (accepted) or fails (rejected).
		_ = conn.SetReadDeadline(time.Now().Add(verdictWait))
		if n, err := conn.Read(make([]byte, 1)); n > 0 || (err != nil && !isTimeout(err)) {
			raw.Close()
			if err == nil {
				err = errors.New("unexpected data from Redis before any command")
			}
			return nil, err
		}
		_ = conn.SetReadDeadline(time.Time{})
		return conn, nil
	}
}

// pythonRedisPing runs testdata/redis_tls_ping.py: the Python/OpenSSL TLS stack of a Nautobot pod, with the
// kwargs nautobot_config.py computes for the worker environment of `set`.
func pythonRedisPing(t *testing.T, set clientSet, port int, serverName string) string {
	t.Helper()
	env := append(workerEnv(set, ""), "REDIS_PASSWORD="+appPassword)
	out, _ := runCommand(t, 30*time.Second, nil, env, requireCommand(t, "python3"),
		filepath.Join("testdata", "redis_tls_ping.py"), fmt.Sprintf("127.0.0.1:%d", port), serverName)
	return strings.TrimSpace(out)
}

var (
	reDSNPort = regexp.MustCompile(`port \d+`)
	reAddr    = regexp.MustCompile(`127\.0\.0\.1:\d+`)
	reSSLLine = regexp.MustCompile(`\(_ssl\.c:\d+\)`)
	reTmpPath = regexp.MustCompile(`/tmp/[^\s"':]+`)
	reDSN     = regexp.MustCompile("cannot parse `[^`]*`")
)

// normalize replaces the parts of an error that change from run to run (ports, temporary paths, the line
// number in CPython's _ssl.c), so that the rest can be compared exactly.
func normalize(s string) string {
	s = reDSN.ReplaceAllString(s, "cannot parse `DSN`")
	s = reDSNPort.ReplaceAllString(s, "port PORT")
	s = reAddr.ReplaceAllString(s, "127.0.0.1:PORT")
	s = reSSLLine.ReplaceAllString(s, "(_ssl.c:N)")
	s = reTmpPath.ReplaceAllString(s, "TMP")
	return strings.TrimSpace(s)
}
