package mtls

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"nautobot-worker/internal/chartrender"
	"nautobot-worker/internal/nautobotpod"
)

// TestRedisAsTheChartRunsIt runs the global Redis from what the real Nautobot chart's Bitnami redis
// subchart renders for the values the global stack registers: the master StatefulSet's command, env and
// volumes, its start script and configuration, and the stack's own Redis server certificate as
// tls.existingSecret. Then the kubelet's part: the chart's readiness and liveness probes, which run
// redis-cli with the server's own certificate as a client certificate, must pass, or the pod never becomes
// Ready. Last, the clients: the global pods' certificate and a site's, through the SNI router.
func TestRedisAsTheChartRunsIt(t *testing.T) {
	requireCommand(t, "redis-server")
	requireCommand(t, "redis-cli")
	p := getPKI(t)
	rel := p.globalRelease
	objs, err := chartrender.Render(rel.chart, rel.name, rel.namespace, rel.values)
	if err != nil {
		t.Fatalf("rendering %s with the global stack's values: %v", rel.chart, err)
	}
	sts := findObject(t, objs, "StatefulSet", rel.name+"-redis-master")
	ctr := container(t, sts, "redis")
	redisValues := field[map[string]any](rel.values, "redis")
	passwordSecret := field[string](redisValues, "auth", "existingSecret")
	passwordKey := field[string](redisValues, "auth", "existingSecretPasswordKey")
	secrets := map[string]map[string][]byte{
		passwordSecret: {passwordKey: []byte(appPassword)},
		field[string](redisValues, "tls", "existingSecret"): {
			"tls.crt": p.redisServer.crt, "tls.key": p.redisServer.key, "ca.crt": p.redisServer.ca,
		},
	}
	sb := newPodSandbox(t, "redis", objs, sts, ctr, secrets)
	env := containerEnv(t, ctr, secrets)
	tlsPort := envValue(t, env, "REDIS_TLS_PORT")
	redis := sb.start(t, "redis (as the chart runs it)", env, append(asStrings(field[[]any](ctr, "command")), asStrings(field[[]any](ctr, "args"))...)...)

	for _, which := range []string{"readinessProbe", "livenessProbe"} {
		t.Run("the chart's "+which+" passes", func(t *testing.T) {
			// As the kubelet does, probe until the first success; Redis needs a moment to listen.
			deadline := time.Now().Add(20 * time.Second)
			for {
				out, code := sb.probe(t, ctr, which, env)
				if code == 0 {
					return
				}
				if time.Now().After(deadline) || redis.exited() {
					t.Fatalf("%s %v exits %d: %q\nRedis log:\n%s", which, field[[]any](ctr, which, "exec", "command"), code, out, lastLines(redis.log(t), 15))
				}
				time.Sleep(500 * time.Millisecond)
			}
		})
	}

	// What Redis really runs with, asked over the probe's own TLS connection.
	cli := func(set clientSet, host, port, sni string, args ...string) (string, int) {
		argv := []string{"redis-cli", "-h", host, "-p", port, "--tls", "--sni", sni,
			"--cacert", set.ca(), "--cert", set.cert(), "--key", set.key()}
		return sb.run(t, 15*time.Second, []string{"REDISCLI_AUTH=" + appPassword}, append(argv, args...)...)
	}
	t.Run("TLS only, client certificates required", func(t *testing.T) {
		for param, want := range map[string]string{"port": "0", "tls-port": tlsPort, "tls-auth-clients": "yes"} {
			out, code := cli(setGlobal, "localhost", tlsPort, redisFQDN, "--no-raw", "CONFIG", "GET", param)
			if code != 0 || !strings.Contains(out, fmt.Sprintf("%q", want)) {
				t.Errorf("CONFIG GET %s: exit %d, %q; want %q", param, code, out, want)
			}
		}
	})

	t.Run("the sites' users, from the chart's master.conf", func(t *testing.T) {
		out, code := cli(setGlobal, "localhost", tlsPort, redisFQDN, "ACL", "USERS")
		for _, site := range p.sites {
			if code != 0 || !strings.Contains(out, nautobotpod.SiteIdentity(site)+"\n") {
				t.Errorf("ACL USERS: exit %d, %q; want user %s", code, out, nautobotpod.SiteIdentity(site))
			}
		}
	})

	var port int
	if _, err := fmt.Sscan(tlsPort, &port); err != nil {
		t.Fatalf("REDIS_TLS_PORT %q: %v", tlsPort, err)
	}
	router := startRouterFor(t, sb, stackTranslation(t), stackBackends(t, 0, port), false)
	for _, c := range []struct {
		name string
		set  clientSet
	}{{"the global pods' certificate", setGlobal}, {"a site's certificate", setApp}} {
		t.Run(c.name+" through the SNI router", func(t *testing.T) {
			seen := len(router.accessLines(t))
			out, code := cli(c.set, "127.0.0.1", fmt.Sprint(router.portOf(t, redisFQDN)), redisFQDN, "PING")
			if code != 0 || strings.TrimSpace(out) != "PONG" {
				t.Fatalf("redis-cli PING: exit %d, %q\nRedis log:\n%s", code, out, lastLines(redis.log(t), 10))
			}
			router.expectAccess(t, seen, fmt.Sprintf(`127.0.0.1 sni="%s" alpn="" upstream="127.0.0.1:PORT"`, redisFQDN))
		})
	}
}

// envValue is a variable of a resolved container environment.
func envValue(t testing.TB, env []string, name string) string {
	t.Helper()
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	t.Fatalf("the container sets no %s", name)
	return ""
}
