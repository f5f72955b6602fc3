package mtls

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"nautobot-worker/internal/chartrender"
	"nautobot-worker/internal/nautobotpod"
)

// podTLSEnv is the TLS environment of a pod as the stack renders it (nautobotpod.Env: the same variables and
// values the chart gets, name checks included) with the client Secret `set` mounted, and where the pod
// connects to: dbHost and redisHost with their ports.
func podTLSEnv(set clientSet, throughGateway bool, names nautobotpod.ServerNames, dbHost string, dbPort int, redisHost string, redisPort int) []string {
	env := []string{
		"PATH=/usr/bin:/bin", "LC_ALL=C", "PYTHONDONTWRITEBYTECODE=1",
		"NAUTOBOT_DB_HOST=" + dbHost, "NAUTOBOT_DB_PORT=" + strconv.Itoa(dbPort), "NAUTOBOT_DB_USER=app", "NAUTOBOT_DB_NAME=app",
		"NAUTOBOT_DB_SSLCERT=" + set.cert(), "NAUTOBOT_DB_SSLKEY=" + set.key(), "NAUTOBOT_DB_SSLROOTCERT=" + set.ca(),
		"NAUTOBOT_REDIS_HOST=" + redisHost, "NAUTOBOT_REDIS_PORT=" + strconv.Itoa(redisPort), "NAUTOBOT_REDIS_PASSWORD=" + appPassword,
		"NAUTOBOT_REDIS_SSL=true",
	}
	for _, e := range nautobotpod.Env(throughGateway, names) {
		switch e.Name {
		case "NAUTOBOT_CONFIG":
		case "NAUTOBOT_REDIS_SSL_CA_CERTS":
			env = append(env, e.Name+"="+set.ca())
		case "NAUTOBOT_REDIS_SSL_CERTFILE":
			env = append(env, e.Name+"="+set.cert())
		case "NAUTOBOT_REDIS_SSL_KEYFILE":
			env = append(env, e.Name+"="+set.key())
		default:
			env = append(env, e.Name+"="+e.Value)
		}
	}
	return env
}

// serverNameClients runs testdata/servername_clients.py with Debian's /usr/bin/python3 and its psycopg2
// (on PostgreSQL 17's libpq, for direct TLS), kombu, redis-py and Celery.
//
// The clients must reach 127.0.0.1 while checking the server certificate against the pod's host names.
// libpq has hostaddr for that (host stays the name checked and sent as SNI), and Django passes it through
// DATABASES OPTIONS, so psycopg2 gets it and needs nothing else. redis-py connects to the name it checks,
// so for Redis the process runs in a private mount namespace (unshare --mount, which needs root, as CI
// has) where a hosts file of the test's own is bind-mounted over /etc/hosts: the libraries and the
// resolver run unchanged, and the machine's /etc/hosts is never touched.
func serverNameClients(t *testing.T, env []string, hosts []string, args ...string) string {
	t.Helper()
	python := "/usr/bin/python3"
	requireFile(t, python)
	lib := filepath.Join(filepath.Dir(pg17BinDir(t)), "lib")
	env = append(env, "LD_LIBRARY_PATH="+lib)
	script := filepath.Join("testdata", "servername_clients.py")
	argv := append([]string{python, script}, args...)
	if len(hosts) > 0 {
		requireCommand(t, "unshare")
		if os.Geteuid() != 0 {
			t.Skip("the Redis clients resolve the pod's host names through a private mount namespace, which needs root")
		}
		file := filepath.Join(tempDir(t, "mtls-hosts-"), "hosts")
		writeFile(t, file, "127.0.0.1 localhost\n127.0.0.1 "+strings.Join(hosts, " ")+"\n")
		if err := os.Chmod(file, 0o644); err != nil {
			t.Fatal(err)
		}
		argv = append([]string{"unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
			`mount --bind "$0" /etc/hosts && exec "$@"`, file}, argv...)
	}
	out, err := runCommand(t, 60*time.Second, nil, env, argv[0], argv[1:]...)
	if err != nil && strings.Contains(err.Error(), "timed out") {
		t.Fatalf("the clients hung: %v\n%s", err, out)
	}
	return normalize(out)
}

// globalPodHosts are the hosts the global release's pods connect to, as the real chart renders its
// environment ConfigMap from the global stack's values: CNPG's rw Service and the Redis master Service.
func globalPodHosts(t *testing.T) (db, redis string) {
	t.Helper()
	rel := getPKI(t).globalRelease
	objs, err := chartrender.Render(rel.chart, rel.name, rel.namespace, rel.values)
	if err != nil {
		t.Fatalf("rendering %s with the global stack's values: %v", rel.chart, err)
	}
	env := findObject(t, objs, "ConfigMap", rel.name+"-env")
	db, redis = field[string](env, "data", "NAUTOBOT_DB_HOST"), field[string](env, "data", "NAUTOBOT_REDIS_HOST")
	if db == "" || redis == "" {
		t.Fatalf("the global release's env ConfigMap names no database or Redis host: %v", field[map[string]any](env, "data"))
	}
	return db, redis
}

// TestServerNames shows what checking the server names buys: every server certificate is signed by the
// same CA for server auth, so a pod that checks only the chain (the seed's verify-ca, redis-py's default)
// takes any of them for either server. Here "impostors" present the other server's genuine certificate
// (the Redis certificate on a PostgreSQL, the PostgreSQL certificate on a Redis), routed under the real
// gateway names. With the stack's defaults (verify-full, ssl_check_hostname) the real libraries refuse
// them with their own messages, and accept the genuine servers through the SNI router by the gateway FQDN
// (the site workers) and directly by the Service names (the global pods), both as the stack declares them.
func TestServerNames(t *testing.T) {
	p := getPKI(t)
	pg := startPostgres(t, "pg17-genuine", pg17BinDir(t), rulesOfTheStack(t))
	pgImpostor := startPostgresServing(t, nil, "pg17-impostor", pg17BinDir(t), rulesOfTheStack(t), p.redisServer)
	rs := startRedis(t)
	rsImpostor := startRedisServing(t, nil, p.postgresServer)
	gw := startRouter(t, pg.port, rs.port)
	gwImpostor := startRouter(t, pgImpostor.port, rsImpostor.port)
	dbService, redisService := globalPodHosts(t)
	siteCN := nautobotpod.SiteIdentity(p.sites[0])

	var (
		defaults  = nautobotpod.ServerNames{}
		off       = false
		chainOnly = nautobotpod.ServerNames{DatabaseSSLMode: nautobotpod.VerifyCA, RedisCheckHostname: &off}
		// What each library says of the impostor: libpq names the certificate's first name and counts the others.
		libpqMismatch = func(port int) string {
			names := p.specs[secretOf(t, p.redisServer)].Spec.DNSNames
			return fmt.Sprintf(`psycopg2: OperationalError: connection to server at "127.0.0.1", port %d failed: `+
				`server certificate for "%s" (and %d other names) does not match host name "%s"`, port, names[0], len(names)-1, dbFQDN)
		}
		pyMismatch = "certificate verify failed: Hostname mismatch, certificate is not valid for '" + redisFQDN + "'. (_ssl.c:N)"
	)
	redisOK := "kombu: True\ncache: True\nresult backend: True"

	t.Run("verify-full refuses a PostgreSQL presenting another certificate of the CA", func(t *testing.T) {
		env := podTLSEnv(setApp, true, defaults, dbFQDN, gwImpostor.portOf(t, dbFQDN), redisFQDN, gwImpostor.portOf(t, redisFQDN))
		got := serverNameClients(t, env, nil, "postgres", "127.0.0.1")
		check(t, got, normalize(libpqMismatch(gwImpostor.portOf(t, dbFQDN))))
	})
	t.Run("verify-full connects to the genuine PostgreSQL through the gateway by its FQDN", func(t *testing.T) {
		seen := len(gw.accessLines(t))
		env := podTLSEnv(setApp, true, defaults, dbFQDN, gw.portOf(t, dbFQDN), redisFQDN, gw.portOf(t, redisFQDN))
		check(t, serverNameClients(t, env, nil, "postgres", "127.0.0.1"), "psycopg2: True|TLSv1.3|/CN="+siteCN)
		gw.expectAccess(t, seen, `127.0.0.1 sni="`+dbFQDN+`" alpn="postgresql" upstream="127.0.0.1:PORT"`)
	})
	t.Run("verify-full connects to the genuine PostgreSQL directly by its Service name", func(t *testing.T) {
		env := podTLSEnv(setGlobal, false, defaults, dbService, pg.port, redisService, rs.port)
		check(t, serverNameClients(t, env, nil, "postgres", "127.0.0.1"), "psycopg2: True|TLSv1.3|/CN="+nautobotpod.GlobalIdentity)
	})
	t.Run("the seed's verify-ca, set explicitly, takes the impostor", func(t *testing.T) {
		offset := pgImpostor.logOffset(t)
		env := podTLSEnv(setApp, true, chainOnly, dbFQDN, gwImpostor.portOf(t, dbFQDN), redisFQDN, gwImpostor.portOf(t, redisFQDN))
		check(t, serverNameClients(t, env, nil, "postgres", "127.0.0.1"), "psycopg2: True|TLSv1.3|/CN="+siteCN)
		pgImpostor.logSince(t, offset, `connection authenticated: identity="CN=`+siteCN+`" method=cert`)
	})

	t.Run("the Redis clients refuse a Redis presenting another certificate of the CA", func(t *testing.T) {
		env := podTLSEnv(setApp, true, defaults, dbFQDN, gwImpostor.portOf(t, dbFQDN), redisFQDN, gwImpostor.portOf(t, redisFQDN))
		got := serverNameClients(t, env, []string{redisFQDN}, "redis")
		want := fmt.Sprintf("kombu: OperationalError: Error 1 connecting to %[1]s:%[2]d. [SSL: CERTIFICATE_VERIFY_FAILED] %[3]s.\n"+
			"cache: ConnectionError: Error 1 connecting to %[1]s:%[2]d. [SSL: CERTIFICATE_VERIFY_FAILED] %[3]s.\n"+
			"result backend: ConnectionError: Error 1 connecting to %[1]s:%[2]d. [SSL: CERTIFICATE_VERIFY_FAILED] %[3]s.",
			redisFQDN, gwImpostor.portOf(t, redisFQDN), pyMismatch)
		check(t, got, normalize(want))
	})
	t.Run("the Redis clients connect to the genuine Redis through the gateway by its FQDN", func(t *testing.T) {
		seen := len(gw.accessLines(t))
		env := podTLSEnv(setApp, true, defaults, dbFQDN, gw.portOf(t, dbFQDN), redisFQDN, gw.portOf(t, redisFQDN))
		check(t, serverNameClients(t, env, []string{redisFQDN}, "redis"), redisOK)
		gw.expectAccess(t, seen, `127.0.0.1 sni="`+redisFQDN+`" alpn="" upstream="127.0.0.1:PORT"`)
	})
	t.Run("the Redis clients connect to the genuine Redis directly by its Service name", func(t *testing.T) {
		env := podTLSEnv(setGlobal, false, defaults, dbService, pg.port, redisService, rs.port)
		check(t, serverNameClients(t, env, []string{redisService}, "redis"), redisOK)
	})
	t.Run("with the name check switched off explicitly, the Redis clients take the impostor", func(t *testing.T) {
		env := podTLSEnv(setApp, true, chainOnly, dbFQDN, gwImpostor.portOf(t, dbFQDN), redisFQDN, gwImpostor.portOf(t, redisFQDN))
		check(t, serverNameClients(t, env, []string{redisFQDN}, "redis"), redisOK)
	})
}

// secretOf is the name of the stack's secret holding these files.
func secretOf(t *testing.T, files secretFiles) string {
	t.Helper()
	for name, f := range getPKI(t).secrets {
		if string(f.crt) == string(files.crt) {
			return name
		}
	}
	t.Fatal("no secret of the stack holds these files")
	return ""
}
