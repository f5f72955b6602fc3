package mtls

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"nautobot-worker/internal/mocks"
	"nautobot-worker/internal/nautobotpod"
	"nautobot-worker/internal/realchart"
)

// TestRoleMapping is PostgreSQL 17 with the pg_hba and pg_ident the global stack declares, behind the SNI
// router, reached as a site reaches it: a certificate logs in as the application role only while the
// stack's role map lists its common name, and no CA-signed certificate logs in as any other role through
// the rules the stack controls. pg_stat_ssl tells the sites apart.
func TestRoleMapping(t *testing.T) {
	p := getPKI(t)
	pg := startPostgres(t, "pg17-roles", pg17BinDir(t), rulesOfTheStack(t))
	r := startRouter(t, pg.port, 0)
	login := func(set clientSet, user, database string) string {
		t.Helper()
		return pgxResult(t, libpqDSN(dbFQDN, r.portOf(t, dbFQDN), configFor(t, set, "direct").DatabaseOptions,
			map[string]string{"user": user, "dbname": database}))
	}
	failed := func(user, database, msg string) string {
		return fmt.Sprintf("ERROR: failed to connect to `user=%s database=%s`: 127.0.0.1:PORT (%s): server error: FATAL: %s (SQLSTATE 28000)",
			user, database, dbFQDN, msg)
	}
	rejected := func(user, database string) string {
		return failed(user, database, fmt.Sprintf(`pg_hba.conf rejects connection for host "127.0.0.1", user "%s", database "%s", SSL encryption`, user, database))
	}
	unmapped := `certificate authentication failed for user "app"`
	first, second := p.sites[0], p.sites[1]
	cases := []struct {
		name           string
		set            clientSet
		user, database string
		want           string
		serverLog      string
	}{
		{"the first site logs in as itself", setApp, "app", "app",
			"OK: true|TLSv1.3|/CN=" + nautobotpod.SiteIdentity(first), `connection authenticated: identity="CN=` + nautobotpod.SiteIdentity(first) + `" method=cert`},
		{"the second site logs in as itself", setSecondSite, "app", "app",
			"OK: true|TLSv1.3|/CN=" + nautobotpod.SiteIdentity(second), `connection authenticated: identity="CN=` + nautobotpod.SiteIdentity(second) + `" method=cert`},
		{"the global pods log in as themselves", setGlobal, "app", "app",
			"OK: true|TLSv1.3|/CN=" + nautobotpod.GlobalIdentity, `connection authenticated: identity="CN=` + nautobotpod.GlobalIdentity + `" method=cert`},
		// Under the seed's plain `cert` rule the common name is the role: this certificate is the superuser.
		{"CN postgres as the superuser", setCNPostgres, "postgres", "app", rejected("postgres", "app"), ""},
		{"CN postgres as the superuser into postgres", setCNPostgres, "postgres", "postgres", rejected("postgres", "postgres"), ""},
		{"CN postgres as the application role", setCNPostgres, "app", "app", failed("app", "app", unmapped),
			`no match in usermap "nautobot" for user "app" authenticated as "postgres"`},
		{"CN other as the application role", setCNOther, "app", "app", failed("app", "app", unmapped),
			`no match in usermap "nautobot" for user "app" authenticated as "other"`},
		{"CN streaming_replica into the application database", setReplica, "streaming_replica", "app", rejected("streaming_replica", "app"), ""},
		{"CN streaming_replica as the application role", setReplica, "app", "app", failed("app", "app", unmapped),
			`no match in usermap "nautobot" for user "app" authenticated as "streaming_replica"`},
		{"a site's certificate as the superuser", setApp, "postgres", "app", rejected("postgres", "app"), ""},
		{"a site's certificate into another database", setApp, "app", "postgres", rejected("app", "postgres"), ""},
		// CNPG's own rules come before every user rule and admit CN streaming_replica to the postgres and
		// replication databases from any address; no rule of the stack can refuse it. What keeps such a
		// certificate away is who may have the CA sign one (README, Security model).
		{"CNPG's fixed rule admits CN streaming_replica to postgres", setReplica, "streaming_replica", "postgres",
			"OK: true|TLSv1.3|/CN=streaming_replica", `connection authenticated: identity="CN=streaming_replica" method=cert`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			offset := pg.logOffset(t)
			check(t, login(c.set, c.user, c.database), c.want)
			if c.serverLog != "" {
				pg.logSince(t, offset, c.serverLog)
			}
		})
	}

	t.Run("a site removed from the global stack is refused at once", func(t *testing.T) {
		removed := globalRulesWithout(t, second)
		pg.setRules(t, removed)
		t.Cleanup(func() { pg.setRules(t, rulesOfTheStack(t)) })
		offset := pg.logOffset(t)
		// The certificate is valid and signed by the CA PostgreSQL trusts; only the map no longer lists it.
		check(t, login(setSecondSite, "app", "app"), failed("app", "app", unmapped))
		pg.logSince(t, offset, fmt.Sprintf(`no match in usermap "nautobot" for user "app" authenticated as "%s"`, nautobotpod.SiteIdentity(second)))
		check(t, login(setApp, "app", "app"), "OK: true|TLSv1.3|/CN="+nautobotpod.SiteIdentity(first))
	})
}

// globalRulesWithout is the CNPG Cluster's pg_hba and pg_ident that the global stack declares once site is
// removed from its sites.
func globalRulesWithout(t *testing.T, site string) pgRules {
	t.Helper()
	rules := globalStackWithout(t, site).pgRules()
	if slices.Contains(rules.ident, fmt.Sprintf("nautobot %s app", nautobotpod.SiteIdentity(site))) {
		t.Fatalf("the stack without site %s still maps it: %v", site, rules.ident)
	}
	return rules
}

// globalStackWithout is the global stack's run on the demo's config with site removed from its sites.
func globalStackWithout(t *testing.T, site string) *stackRun {
	t.Helper()
	root := repoRoot(t)
	cfg, err := mocks.StackFile(filepath.Join(root, realchart.DemoDir, "Pulumi.global.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const key = "nautobot-worker:sites"
	var sites []map[string]any
	if err := json.Unmarshal([]byte(cfg[key]), &sites); err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	listed := len(sites)
	kept := slices.DeleteFunc(sites, func(s map[string]any) bool { return s["name"] == site })
	if len(kept) != listed-1 {
		t.Fatalf("the demo's global stack does not list site %s once", site)
	}
	b, err := json.Marshal(kept)
	if err != nil {
		t.Fatal(err)
	}
	run, err := runGlobalStack(t, root, map[string]string{key: string(b)})
	if err != nil {
		t.Fatal(err)
	}
	return run
}
