package mtls

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// appPassword is the app role's password (CNPG creates app with one). Some cases use it as a leaked password.
const appPassword = "leaked-app-password"

// pgRules are a CNPG Cluster's spec.postgresql pg_hba and pg_ident lines.
type pgRules struct{ hba, ident []string }

// rulesAsDocumented is the single pg_hba rule the seed documents for the CNPG cluster.
var rulesAsDocumented = pgRules{hba: []string{"hostssl all all 0.0.0.0/0 cert"}}

// rulesOfTheStack are the rules the global stack sets in the CNPG Cluster (read from its registration):
// the application role's certificate rule through the role map, the rejects CNPG needs for everything else
// to be refused (see cnpgHBA), and the map of the identities the stack lists.
func rulesOfTheStack(t testing.TB) pgRules { p := getPKI(t); return pgRules{p.pgHBA, p.pgIdent} }

// cnpgHBA renders pg_hba.conf the way CNPG 1.28 does: its fixed rules, then spec.postgresql.pg_hba, then
// its catch-all password rule. Only the first line differs: CNPG maps local peers (`peer map=local`);
// here the test connects over the Unix socket as the bootstrap superuser to create roles.
func cnpgHBA(r pgRules) string {
	return strings.Join([]string{
		"local all all trust",
		"hostssl postgres streaming_replica all cert map=cnpg_streaming_replica",
		"hostssl replication streaming_replica all cert map=cnpg_streaming_replica",
		"hostssl all cnpg_pooler_pgbouncer all cert map=cnpg_pooler_pgbouncer",
		strings.Join(r.hba, "\n"),
		"host all all all scram-sha-256",
		"",
	}, "\n")
}

// cnpgIdent renders pg_ident.conf the way CNPG 1.28 does: its fixed maps, then spec.postgresql.pg_ident.
func cnpgIdent(r pgRules) string {
	return strings.Join(append([]string{
		"local postgres postgres",
		"cnpg_streaming_replica streaming_replica streaming_replica",
		"cnpg_pooler_pgbouncer cnpg_pooler_pgbouncer cnpg_pooler_pgbouncer",
	}, append(r.ident, "")...), "\n")
}

type pgServer struct {
	*server
	label string
	port  int
	dir   string // holds data/, the Unix socket and the server's certificates
}

// startPostgres initialises and starts a PostgreSQL cluster configured as CNPG configures it for mTLS:
// ssl on with TLS 1.3 only, ssl_ca_file = the mTLS CA (clientCASecret), and CNPG's pg_hba and pg_ident
// with rules.
// It creates the roles app (with a password, as CNPG does) and streaming_replica, and the database app.
func startPostgres(t *testing.T, label, binDir string, rules pgRules) *pgServer {
	t.Helper()
	return startPostgresIn(t, nil, label, binDir, rules)
}

// startPostgresIn starts it in a pod sandbox's network namespace (nil: on this machine's loopback).
func startPostgresIn(t *testing.T, sb *podSandbox, label, binDir string, rules pgRules) *pgServer {
	t.Helper()
	return startPostgresServing(t, sb, label, binDir, rules, getPKI(t).postgresServer)
}

// startPostgresServing starts it presenting the given server secret instead of CNPG's serverTLSSecret.
func startPostgresServing(t *testing.T, sb *podSandbox, label, binDir string, rules pgRules, serverSecret secretFiles) *pgServer {
	t.Helper()
	for _, bin := range []string{"initdb", "postgres"} {
		requireFile(t, filepath.Join(binDir, bin))
	}
	p := getPKI(t)
	cred := serverCredential(t)
	if out, err := runCommand(t, 30*time.Second, cred, nil, filepath.Join(binDir, "postgres"), "--version"); err != nil {
		// E.g. NAUTOBOT_PG17_DIR under /root (mode 0700) while PostgreSQL runs as user postgres.
		t.Fatalf("%s/postgres cannot run as the PostgreSQL user: %v\n%s\nput it where that user can read it: %s",
			binDir, err, out, depsHint)
	}
	dir := tempDir(t, "mtls-"+label+"-")
	p.writeServerFiles(t, dir, serverSecret)
	chownTree(t, cred, dir)
	env := []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "HOME=" + dir}

	data := filepath.Join(dir, "data")
	out, err := runCommand(t, 2*time.Minute, cred, env, filepath.Join(binDir, "initdb"),
		"-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "--locale=C", "--encoding=UTF8")
	if err != nil {
		t.Fatalf("initdb %s: %v\n%s", label, err, out)
	}
	port := freePort(t)
	conf := fmt.Sprintf(`
listen_addresses = '127.0.0.1,::1'
port = %d
unix_socket_directories = '%s'
max_connections = 20
fsync = off
ssl = on
ssl_cert_file = '%[2]s/server.crt'
ssl_key_file = '%[2]s/server.key'
ssl_ca_file = '%[2]s/ca.crt'
ssl_min_protocol_version = 'TLSv1.3'
ssl_max_protocol_version = 'TLSv1.3'
log_connections = on
`, port, dir)
	appendFile(t, filepath.Join(data, "postgresql.conf"), conf)
	writeFile(t, filepath.Join(data, "pg_hba.conf"), cnpgHBA(rules))
	writeFile(t, filepath.Join(data, "pg_ident.conf"), cnpgIdent(rules))
	chownTree(t, cred, dir)

	bin, args := sb.inNet(cred, filepath.Join(binDir, "postgres"), "-D", data)
	if sb != nil {
		cred = nil // nsenter joins the namespace as root, then becomes the PostgreSQL user
	}
	srv := startServer(t, "postgres "+label, cred, syscall.SIGINT, filepath.Join(dir, "server.log"), env, bin, args...)
	pg := &pgServer{server: srv, label: label, port: port, dir: dir}
	// postmaster.pid's 8th line turns to "ready" once connections are accepted.
	waitFor(t, srv, 60*time.Second, label+" ready", func() error {
		b, err := os.ReadFile(filepath.Join(data, "postmaster.pid"))
		if err != nil {
			return err
		}
		if lines := strings.Split(string(b), "\n"); len(lines) > 7 && strings.TrimSpace(lines[7]) == "ready" {
			return nil
		}
		return fmt.Errorf("not ready")
	})
	pg.superuserExec(t,
		fmt.Sprintf("CREATE ROLE app LOGIN PASSWORD '%s'", appPassword),
		"CREATE DATABASE app OWNER app",
		"CREATE ROLE streaming_replica LOGIN REPLICATION",
	)
	return pg
}

// superuser connects to database as the bootstrap superuser over the Unix socket (no TLS, no psql needed).
func (pg *pgServer) superuser(t *testing.T, ctx context.Context, database string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%d user=postgres dbname=%s sslmode=disable", pg.dir, pg.port, database))
	if err != nil {
		t.Fatalf("%s: superuser connection: %v", pg.label, err)
	}
	return conn
}

// superuserExec runs statements as the bootstrap superuser.
func (pg *pgServer) superuserExec(t *testing.T, statements ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := pg.superuser(t, ctx, "postgres")
	defer conn.Close(ctx)
	for _, sql := range statements {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %s: %v", pg.label, sql, err)
		}
	}
}

// setRules rewrites pg_hba.conf and pg_ident.conf and reloads them (SIGHUP), as CNPG does when
// spec.postgresql changes.
func (pg *pgServer) setRules(t *testing.T, rules pgRules) {
	t.Helper()
	for file, content := range map[string]string{"pg_hba.conf": cnpgHBA(rules), "pg_ident.conf": cnpgIdent(rules)} {
		path := filepath.Join(pg.dir, "data", file)
		writeFile(t, path, content)
		chownTree(t, serverCredential(t), path)
	}
	before := strings.Count(pg.log(t), "received SIGHUP, reloading configuration files")
	if err := syscall.Kill(pg.cmd.Process.Pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// The postmaster writes this line to its stderr, then loads both files before it accepts another
	// connection (PostgreSQL 15 in the signal handler, 17 in its main loop), and backends inherit what it
	// loaded: a connection made after the line is judged by the new rules.
	waitFor(t, pg.server, 30*time.Second, pg.label+" reload", func() error {
		if strings.Count(pg.log(t), "received SIGHUP, reloading configuration files") > before {
			return nil
		}
		return fmt.Errorf("no reload logged yet")
	})
}

type redisServer struct {
	*server
	port int
}

// startRedis starts Redis 7 TLS-only with client certificates required, as the Bitnami chart runs it with
// tls.enabled and authClients: `--port 0 --tls-port ... --tls-auth-clients yes`, plus a password.
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	return startRedisIn(t, nil)
}

// startRedisIn starts it in a pod sandbox's network namespace (nil: on this machine's loopback).
func startRedisIn(t *testing.T, sb *podSandbox) *redisServer {
	t.Helper()
	return startRedisServing(t, sb, getPKI(t).redisServer)
}

// startRedisServing starts it presenting the given server secret instead of the chart's tls.existingSecret.
func startRedisServing(t *testing.T, sb *podSandbox, serverSecret secretFiles) *redisServer {
	t.Helper()
	return startRedisConfigured(t, sb, serverSecret, "")
}

// startRedisConfigured starts it with extra lines of configuration (the sites' users, say).
func startRedisConfigured(t *testing.T, sb *podSandbox, serverSecret secretFiles, extra string) *redisServer {
	t.Helper()
	bin := requireCommand(t, "redis-server")
	p := getPKI(t)
	dir := tempDir(t, "mtls-redis-")
	p.writeServerFiles(t, dir, serverSecret)
	port := freePort(t)
	conf := fmt.Sprintf(`bind 127.0.0.1
protected-mode yes
port 0
tls-port %d
tls-cert-file %[2]s/server.crt
tls-key-file %[2]s/server.key
tls-ca-cert-file %[2]s/ca.crt
tls-auth-clients yes
requirepass %[3]s
dir %[2]s
save ""
appendonly no
daemonize no
loglevel verbose
logfile ""
`, port, dir, appPassword) + extra
	writeFile(t, filepath.Join(dir, "redis.conf"), conf)
	bin, args := sb.inNet(nil, bin, filepath.Join(dir, "redis.conf"))
	srv := startServer(t, "redis", nil, syscall.SIGTERM, filepath.Join(dir, "redis.log"), []string{"PATH=/usr/bin:/bin"},
		bin, args...)
	if sb != nil {
		sb.waitForTCP(t, srv, port)
	} else {
		waitForTCP(t, srv, port)
	}
	return &redisServer{server: srv, port: port}
}

type router struct {
	*server
	// ports are the ports it listens on, by the server name that the listener routes.
	ports     map[string]int
	accessLog string
}

// portOf is the port of the listener that routes name (a test connecting with another name connects there).
func (r *router) portOf(t testing.TB, name string) int {
	t.Helper()
	port, ok := r.ports[name]
	if !ok {
		t.Fatalf("the router has no listener for %s (it routes %v)", name, sortedKeys(r.ports))
	}
	return port
}

// stackTranslation is Envoy Gateway's translation of the gateway objects the global stack registers.
func stackTranslation(t testing.TB) *gatewayTranslation {
	t.Helper()
	return translation(t, stackObjects)
}

// startRouter starts the SNI router for the stack's gateway on this machine's loopback, with the
// PostgreSQL and the Redis server standing in for the Services the stack's routes lead to (0: none runs).
func startRouter(t *testing.T, postgresPort, redisPort int) *router {
	t.Helper()
	return startRouterFor(t, nil, stackTranslation(t), stackBackends(t, postgresPort, redisPort), false)
}

// stackBackends are the ports of the servers standing in for the stack's PostgreSQL and Redis Services.
func stackBackends(t testing.TB, postgresPort, redisPort int) map[serviceRef]int {
	t.Helper()
	p := getPKI(t)
	b := map[serviceRef]int{}
	if postgresPort != 0 {
		b[p.postgresService()] = postgresPort
	}
	if redisPort != 0 {
		b[p.redisService(t)] = redisPort
	}
	return b
}

// startRouterFor starts nginx's stream module as the SNI router of a translation: for every xDS listener a
// server that reads the TLS ClientHello's server name without terminating TLS (ssl_preread) and forwards
// the raw connection, for each server name of the listener's filter chains, to the test server standing in
// for the Service the chain's cluster leads to (backends, by Service), with the listener's TCP keepalive,
// like the Envoy Gateway TLS listener in Passthrough mode. A name the listener does not route, a missing
// SNI, or a Service no test server stands in for goes nowhere and is closed. Each listener gets a free
// port, or with translatedPorts (in a sandbox's network namespace) the port of the xDS listener itself.
func startRouterFor(t *testing.T, sb *podSandbox, tr *gatewayTranslation, backends map[serviceRef]int, translatedPorts bool) *router {
	t.Helper()
	bin := requireCommand(t, "nginx")
	requireFile(t, nginxStreamModule)
	dir := tempDir(t, "mtls-router-")
	noRoute := "unix:" + dir + "/no-route.sock"
	rt := &router{ports: map[string]int{}, accessLog: filepath.Join(dir, "access.log")}
	var servers strings.Builder
	var ports []int
	for i, l := range tr.listeners {
		port := l.port
		if !translatedPorts {
			port = freePort(t)
		}
		ports = append(ports, port)
		fmt.Fprintf(&servers, "  map $ssl_preread_server_name $backend_%d {\n", i)
		for _, name := range sortedKeys(l.routes) {
			rt.ports[name] = port
			upstream := noRoute
			if backend, ok := backends[l.routes[name]]; ok {
				upstream = fmt.Sprintf("127.0.0.1:%d", backend)
			}
			fmt.Fprintf(&servers, "    %s %s;\n", name, upstream)
		}
		for _, name := range l.unrouted {
			rt.ports[name] = port
		}
		listenOpts := ""
		if ka := l.keepalive; ka != nil {
			// nginx sets these on the listening socket, as Envoy sets the listener's socket options; the
			// accepted connections inherit them.
			listenOpts = fmt.Sprintf(" so_keepalive=%d:%d:%d", ka.idle, ka.interval, ka.probes)
		}
		fmt.Fprintf(&servers, `    default %[1]s;
  }
  server {
    # xDS listener %[2]s
    listen 127.0.0.1:%[3]d%[4]s;
    ssl_preread on;
    proxy_connect_timeout 5s;
    proxy_pass $backend_%[5]d;
  }
`, noRoute, l.name, port, listenOpts, i)
	}
	if len(ports) == 0 {
		t.Fatal("the translation has no listener to route")
	}
	// On the translated ports the log names the port as well.
	logFormat := `$remote_addr sni="$ssl_preread_server_name" alpn="$ssl_preread_alpn_protocols" upstream="$upstream_addr"`
	if translatedPorts {
		logFormat = `$remote_addr:$server_port sni="$ssl_preread_server_name" alpn="$ssl_preread_alpn_protocols" upstream="$upstream_addr"`
	}
	conf := fmt.Sprintf(`load_module %s;
daemon off;
# One process, the test's child: with a master and workers, a worker would outlive a killed test binary.
master_process off;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log info;
events { worker_connections 64; }
stream {
  log_format sni '%[3]s';
  access_log %[4]s sni;
%[5]s}
`, nginxStreamModule, dir, logFormat, rt.accessLog, servers.String())
	writeFile(t, filepath.Join(dir, "nginx.conf"), conf)
	args := []string{"-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", filepath.Join(dir, "nginx.conf")}
	if sb == nil {
		rt.server = startServer(t, "nginx", nil, syscall.SIGTERM, filepath.Join(dir, "nginx.out"), []string{"PATH=/usr/sbin:/usr/bin:/bin"}, bin, args...)
		for _, port := range ports {
			waitForTCP(t, rt.server, port)
		}
	} else {
		rt.server = sb.start(t, "nginx", nil, append([]string{bin}, args...)...)
		for _, port := range ports {
			sb.waitForTCP(t, rt.server, port)
		}
	}
	for i := range ports {
		rt.accessAfter(t, i) // the readiness probes' lines, so that later counts are stable
	}
	return rt
}

func (r *router) accessLines(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(r.accessLog)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if s := strings.TrimSpace(string(b)); s != "" {
		return strings.Split(s, "\n")
	}
	return nil
}

// accessAfter waits for the access-log line of the connection made after `seen` lines were logged
// (nginx logs a stream session when it closes).
func (r *router) accessAfter(t *testing.T, seen int) string {
	t.Helper()
	var line string
	waitFor(t, r.server, 5*time.Second, "router access log", func() error {
		if lines := r.accessLines(t); len(lines) > seen {
			line = lines[seen]
			return nil
		}
		return fmt.Errorf("no new access-log line")
	})
	return line
}

// expectAccess waits for a session logged after `seen` lines whose normalized line is `want`. Other new
// lines are allowed: pgx follows a failed connection with a CancelRequest on a new plain connection, which
// the router logs as a session without SNI.
func (r *router) expectAccess(t *testing.T, seen int, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		lines := r.accessLines(t)
		for _, l := range lines[min(seen, len(lines)):] {
			if normalize(l) == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Errorf("router logged no session %q; new lines:\n%s", want, strings.Join(lines[min(seen, len(lines)):], "\n"))
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t testing.TB, path, content string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
}
