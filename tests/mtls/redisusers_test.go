package mtls

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"nautobot-worker/internal/nautobotpod"
)

// redisACL is the sites' users as the global stack puts them into the Redis subchart's master.conf.
func redisACL(t *testing.T, values map[string]any) string {
	t.Helper()
	acl, _ := values["redis"].(map[string]any)["master"].(map[string]any)["configuration"].(string)
	if !strings.Contains(acl, "user ") {
		t.Fatalf("the global stack sets no Redis users in redis.master.configuration: %q", acl)
	}
	return acl
}

// redisAs connects through the SNI router with set's client certificate as user and runs each command on
// the one connection, returning the last reply or the first error as Redis or the client words it.
func redisAs(t *testing.T, port int, set clientSet, user, password string, commands ...[]any) string {
	t.Helper()
	cfg, err := redisTLSConfig(configFor(t, set, "").BrokerUseSSL, redisFQDN)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(&redis.Options{
		Addr: fmt.Sprintf("127.0.0.1:%d", port), Username: user, Password: password, TLSConfig: cfg,
		Protocol: 2, DisableIdentity: true, MaxRetries: -1, DialerRetries: 1, PoolSize: 1,
		DialTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
	})
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var reply any
	for _, c := range commands {
		if reply, err = client.Do(ctx, c...).Result(); err != nil {
			if isTimeout(err) {
				t.Fatalf("redis connection hung: %v", err)
			}
			return "ERROR: " + err.Error()
		}
	}
	return fmt.Sprintf("OK: %v", reply)
}

func cmd(args ...any) []any { return args }

// TestRedisSiteUsers is Redis 7 with the users the global stack declares (only their password hashes in
// its configuration), reached through the SNI router with each site's certificate and the password the
// stack derives for it: Redis tells the sites apart, refuses one site's password for another, refuses what
// a worker must not do, and, restarted with the configuration of the stack without a site (as the chart's
// checksum rolls the pod), refuses that site's still-valid certificate and password.
func TestRedisSiteUsers(t *testing.T) {
	p := getPKI(t)
	first, second := p.sites[0], p.sites[1]
	firstUser, secondUser := nautobotpod.SiteIdentity(first), nautobotpod.SiteIdentity(second)
	firstPassword, secondPassword := p.redisPasswords[first], p.redisPasswords[second]
	if firstPassword == "" || secondPassword == "" || firstPassword == secondPassword {
		t.Fatalf("the stack's Secrets give the sites no passwords of their own: %v", p.redisPasswords)
	}
	acl := redisACL(t, p.globalRelease.values)
	for _, password := range []string{firstPassword, secondPassword, testRedisSiteKey} {
		if strings.Contains(acl, password) {
			t.Fatal("Redis's configuration (a ConfigMap) holds a password in clear text")
		}
	}
	rs := startRedisConfigured(t, nil, p.redisServer, acl)
	r := startRouter(t, 0, rs.port)
	wrongPass := "ERROR: WRONGPASS invalid username-password pair or user is disabled."
	noPerm := func(command string) string {
		return fmt.Sprintf("ERROR: NOPERM this user has no permissions to run the '%s' command", command)
	}

	cases := []struct {
		name     string
		set      clientSet
		user     string
		password string
		commands [][]any
		want     string
	}{
		{"the first site is its own user", setApp, firstUser, firstPassword, [][]any{cmd("ACL", "WHOAMI")}, "OK: " + firstUser},
		{"the second site is its own user", setSecondSite, secondUser, secondPassword, [][]any{cmd("ACL", "WHOAMI")}, "OK: " + secondUser},
		{"the global pods are the default user", setGlobal, "", appPassword, [][]any{cmd("ACL", "WHOAMI")}, "OK: default"},
		{"another site's password", setApp, firstUser, secondPassword, [][]any{cmd("PING")}, wrongPass},
		{"the fleet's password for a site's user", setApp, firstUser, appPassword, [][]any{cmd("PING")}, wrongPass},
		{"a site's password for the default user", setApp, "", firstPassword, [][]any{cmd("PING")}, wrongPass},
		// What a worker does: kombu's queues and bindings, Celery's results and events, Django's cache.
		{"a site queues, consumes and publishes", setApp, firstUser, firstPassword, [][]any{
			cmd("LPUSH", "celery-site-users-test", "task"), cmd("SADD", "_kombu.binding.test", "q"),
			cmd("SET", "celery-task-meta-test", "{}", "EX", "60"), cmd("PUBLISH", "celeryev", "event"),
			cmd("SCAN", "0", "MATCH", "celery-*"), cmd("RPOP", "celery-site-users-test")}, "OK: task"},
		{"a site cannot read the configuration", setApp, firstUser, firstPassword, [][]any{cmd("CONFIG", "GET", "requirepass")}, noPerm("config|get")},
		{"a site cannot list the users", setApp, firstUser, firstPassword, [][]any{cmd("ACL", "LIST")}, noPerm("acl|list")},
		{"a site cannot flush", setApp, firstUser, firstPassword, [][]any{cmd("FLUSHALL")}, noPerm("flushall")},
		// Redis 7 refuses DEBUG to every client before any ACL (enable-debug-command no).
		{"a site cannot debug", setApp, firstUser, firstPassword, [][]any{cmd("DEBUG", "SLEEP", "0")},
			`ERROR: ERR DEBUG command not allowed. If the enable-debug-command option is set to "local", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.`},
		{"a site cannot make Redis a replica", setApp, firstUser, firstPassword, [][]any{cmd("REPLICAOF", "NO", "ONE")}, noPerm("replicaof")},
		{"a site cannot shut Redis down", setApp, firstUser, firstPassword, [][]any{cmd("SHUTDOWN")}, noPerm("shutdown")},
		{"a site cannot watch every command", setApp, firstUser, firstPassword, [][]any{cmd("MONITOR")}, noPerm("monitor")},
		{"a site cannot end other clients", setApp, firstUser, firstPassword, [][]any{cmd("CLIENT", "KILL", "USER", secondUser)}, noPerm("client|kill")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			check(t, redisAs(t, r.portOf(t, redisFQDN), c.set, c.user, c.password, c.commands...), c.want)
		})
	}

	t.Run("CLIENT LIST and ACL LOG name the site", func(t *testing.T) {
		// The first site's refused CONFIG GET above is in the log under its user.
		got := redisAs(t, r.portOf(t, redisFQDN), setGlobal, "", appPassword, cmd("ACL", "LOG", "1"))
		if !strings.Contains(got, "username "+firstUser) {
			t.Errorf("ACL LOG does not name %s: %s", firstUser, got)
		}
		cfg, err := redisTLSConfig(configFor(t, setApp, "").BrokerUseSSL, redisFQDN)
		if err != nil {
			t.Fatal(err)
		}
		site := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.portOf(t, redisFQDN)), Username: firstUser, Password: firstPassword,
			TLSConfig: cfg, Protocol: 2, DisableIdentity: true, PoolSize: 1})
		defer site.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := site.Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		list := redisAs(t, r.portOf(t, redisFQDN), setGlobal, "", appPassword, cmd("CLIENT", "LIST"))
		if !strings.Contains(list, "user="+firstUser+" ") {
			t.Errorf("CLIENT LIST shows no connection of user %s: %s", firstUser, list)
		}
	})

	t.Run("a site removed from the global stack is refused once Redis restarts with its configuration", func(t *testing.T) {
		without := globalStackWithout(t, second)
		aclWithout := redisACL(t, without.release.values)
		if strings.Contains(aclWithout, "user "+secondUser+" ") {
			t.Fatalf("the stack without site %s still declares its user: %q", second, aclWithout)
		}
		if without.redisPasswords[first] != firstPassword {
			t.Fatalf("removing %s changed %s's password", second, first)
		}
		restarted := startRedisConfigured(t, nil, p.redisServer, aclWithout)
		rr := startRouter(t, 0, restarted.port)
		// The certificate is valid and signed by the CA Redis trusts, the password is the one the site holds.
		check(t, redisAs(t, rr.portOf(t, redisFQDN), setSecondSite, secondUser, secondPassword, cmd("PING")), wrongPass)
		check(t, redisAs(t, rr.portOf(t, redisFQDN), setApp, firstUser, firstPassword, cmd("ACL", "WHOAMI")), "OK: "+firstUser)
	})
}
