package nautobotpod_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"nautobot-worker/assets"
	"nautobot-worker/internal/nautobotpod"
	"nautobot-worker/internal/validate"
)

func TestNautobotConfig(t *testing.T) {
	dir := t.TempDir()
	own := filepath.Join(dir, "own.py")
	empty := filepath.Join(dir, "empty.py")
	require.NoError(t, os.WriteFile(own, []byte("SECRET_KEY = 'x'\n"), 0o644))
	require.NoError(t, os.WriteFile(empty, []byte(" \n"), 0o644))

	text, err := nautobotpod.NautobotConfig("")
	require.NoError(t, err)
	require.Equal(t, assets.NautobotConfig, text)

	text, err = nautobotpod.NautobotConfig(own)
	require.NoError(t, err)
	require.Equal(t, "SECRET_KEY = 'x'\n", text)

	_, err = nautobotpod.NautobotConfig(empty)
	require.ErrorContains(t, err, "is empty; point it at a complete nautobot_config.py")
	_, err = nautobotpod.NautobotConfig(filepath.Join(dir, "missing.py"))
	require.ErrorContains(t, err, "cannot be read")
}

// The pods are configured by variables and a mount that assets/nautobot_config.py reads; a rename on
// either side must fail here, not in a pod.
var (
	configMountDir = regexp.MustCompile(`(?m)^_mtls_dir = "([^"]+)"$`)
	configReads    = regexp.MustCompile(`(?:_env|_required_file|_choice|os\.environ\.get)\("([A-Z_]+)"`)
	configFiles    = regexp.MustCompile(`f"\{_mtls_dir\}/([^"]+)"`)
	configFileVars = regexp.MustCompile(`_required_file\("([A-Z_]+)", f"\{_mtls_dir\}/([^"]+)"\)`)
	configChoices  = map[string]*regexp.Regexp{
		"NAUTOBOT_DB_SSLMODE":               regexp.MustCompile(`_db_sslmodes_with_client_cert = \(([^)]*)\)`),
		"NAUTOBOT_DB_SSLNEGOTIATION":        regexp.MustCompile(`_choice\("NAUTOBOT_DB_SSLNEGOTIATION", \(([^)]*)\)\)`),
		"NAUTOBOT_REDIS_SSL_CERT_REQS":      regexp.MustCompile(`(?s)_redis_cert_reqs = \{(.*?)\}`),
		"NAUTOBOT_REDIS_SSL_CHECK_HOSTNAME": regexp.MustCompile(`(?s)_redis_check_hostname = \{(.*?)\}`),
	}
)

func TestThePodContractIsWhatNautobotConfigReads(t *testing.T) {
	config := assets.NautobotConfig
	dir := configMountDir.FindStringSubmatch(config)
	require.NotNil(t, dir, "nautobot_config.py no longer sets _mtls_dir")
	require.Equal(t, nautobotpod.MountPath, dir[1], "the mount and the config's default directory")
	require.Equal(t, nautobotpod.MountPath, nautobotpod.Mount()["mountPath"])

	var reads []string
	for _, m := range configReads.FindAllStringSubmatch(config, -1) {
		reads = append(reads, m[1])
	}
	var files []string
	for _, m := range configFiles.FindAllStringSubmatch(config, -1) {
		files = append(files, m[1])
	}
	defaults := map[string]string{}
	for _, m := range configFileVars.FindAllStringSubmatch(config, -1) {
		defaults[m[1]] = nautobotpod.MountPath + "/" + m[2]
	}
	for _, f := range []string{nautobotpod.CertFile, nautobotpod.KeyFile, nautobotpod.CAFile} {
		require.Contains(t, files, f, "nautobot_config.py does not default to %s/%s", nautobotpod.MountPath, f)
	}
	require.Contains(t, reads, nautobotpod.PartitionVar)
	require.Contains(t, reads, nautobotpod.SiteVar)

	off := false
	for _, c := range []struct {
		throughGateway bool
		names          nautobotpod.ServerNames
	}{
		{false, nautobotpod.ServerNames{}}, {true, nautobotpod.ServerNames{}},
		{true, nautobotpod.ServerNames{DatabaseSSLMode: nautobotpod.VerifyCA, RedisCheckHostname: &off}},
	} {
		throughGateway := c.throughGateway
		env := nautobotpod.Env(throughGateway, c.names)
		for _, e := range env {
			switch {
			case e.Name == "NAUTOBOT_CONFIG":
				// Nautobot itself reads it to find the config file, at the path the chart mounts it.
				require.Equal(t, nautobotpod.ConfigPath, e.Value)
			case configChoices[e.Name] != nil:
				require.Contains(t, reads, e.Name)
				allowed := configChoices[e.Name].FindStringSubmatch(config)
				require.NotNil(t, allowed, "nautobot_config.py no longer lists the values of %s", e.Name)
				require.Contains(t, allowed[1], `"`+e.Value+`"`, "%s=%s is not a value nautobot_config.py accepts", e.Name, e.Value)
			default:
				require.Contains(t, reads, e.Name, "nautobot_config.py does not read %s", e.Name)
				if want, ok := defaults[e.Name]; ok {
					require.Equal(t, want, e.Value, "%s differs from the config's own default", e.Name)
				}
				require.Equal(t, nautobotpod.MountPath, filepath.Dir(e.Value), "%s points outside the mount", e.Name)
			}
		}
		require.Equal(t, throughGateway, slices.Contains(env, nautobotpod.EnvVar{Name: "NAUTOBOT_DB_SSLNEGOTIATION", Value: "direct"}))
	}
}

func TestEnvOrderIsStable(t *testing.T) {
	var names []string
	for _, e := range nautobotpod.Env(true, nautobotpod.ServerNames{}) {
		names = append(names, e.Name)
	}
	require.Equal(t, []string{
		"NAUTOBOT_CONFIG", "NAUTOBOT_DB_SSLMODE", "NAUTOBOT_DB_SSLNEGOTIATION", "NAUTOBOT_REDIS_SSL_CERT_REQS",
		"NAUTOBOT_REDIS_SSL_CHECK_HOSTNAME", "NAUTOBOT_REDIS_SSL_CA_CERTS", "NAUTOBOT_REDIS_SSL_CERTFILE", "NAUTOBOT_REDIS_SSL_KEYFILE",
	}, names, "a new order is a diff on every pod of the fleet")
	require.Equal(t, []any{map[string]any{"name": "A", "value": "1"}}, nautobotpod.EnvValues([]nautobotpod.EnvVar{{Name: "A", Value: "1"}}))
}

func TestValues(t *testing.T) {
	require.Equal(t, map[string]any{
		"engine": "django.db.backends.postgresql", "host": "db", "port": 5432, "name": "app", "user": "app",
		"existingSecret": "creds", "existingSecretUsernameKey": "username", "existingSecretPasswordKey": "password",
	}, nautobotpod.Database{Host: "db", Port: 5432, Name: "app", User: "app", Secret: "creds"}.Values())
	require.Equal(t, map[string]any{"ssl": true}, nautobotpod.Redis{}.Values(), "the release's own Redis subchart")
	require.Equal(t, map[string]any{
		"ssl": true, "host": "redis.example.com", "port": 6379, "existingSecret": "r", "existingSecretPasswordKey": "redis-password",
	}, nautobotpod.Redis{Host: "redis.example.com", Port: 6379, Secret: "r", PasswordKey: nautobotpod.SiteRedisPasswordKey}.Values())
	require.Equal(t, map[string]any{"existingSecret": "d", "existingSecretSecretKeyKey": "NAUTOBOT_SECRET_KEY"}, nautobotpod.Django("d"))
	require.Equal(t, map[string]any{"name": "mtls-certs", "secret": map[string]any{"secretName": "s", "defaultMode": 256}}, nautobotpod.Volume("s"))
}

func TestServerNamesAreCheckedUnlessTurnedOffByName(t *testing.T) {
	value := func(env []nautobotpod.EnvVar, name string) string {
		for _, e := range env {
			if e.Name == name {
				return e.Value
			}
		}
		return "<unset>"
	}
	off := false
	for _, c := range []struct {
		names               nautobotpod.ServerNames
		sslmode, checkHosts string
	}{
		{nautobotpod.ServerNames{}, "verify-full", "true"},
		{nautobotpod.ServerNames{DatabaseSSLMode: nautobotpod.VerifyCA}, "verify-ca", "true"},
		{nautobotpod.ServerNames{RedisCheckHostname: &off}, "verify-full", "false"},
	} {
		for _, throughGateway := range []bool{false, true} {
			env := nautobotpod.Env(throughGateway, c.names)
			require.Equal(t, c.sslmode, value(env, "NAUTOBOT_DB_SSLMODE"))
			require.Equal(t, c.checkHosts, value(env, "NAUTOBOT_REDIS_SSL_CHECK_HOSTNAME"))
		}
	}
}

func TestServerNamesValidation(t *testing.T) {
	problems := func(s nautobotpod.ServerNames, db, redis nautobotpod.Host) string {
		p := validate.New("")
		s = s.Defaults()
		s.Validate(p)
		s.CheckHosts(p, "worker", db, redis)
		if err := p.Err(); err != nil {
			return err.Error()
		}
		return ""
	}
	dbNames := []string{"nautobot-cluster-rw", "nautobot-cluster-rw.nautobot.svc", "nautobot-db.example.com"}
	redisNames := []string{"nautobot-redis-master", "nautobot-redis.example.com"}
	db := func(host string, names []string) nautobotpod.Host {
		return nautobotpod.Host{Key: "databaseSslMode", Host: host, Names: names, AddName: "certificates.postgres.extraDnsNames"}
	}
	redis := func(host string, names []string) nautobotpod.Host {
		return nautobotpod.Host{Key: "redisCheckHostname", Host: host, Names: names, AddName: "certificates.redis.extraDnsNames"}
	}
	off := false
	for _, c := range []struct {
		name      string
		names     nautobotpod.ServerNames
		db, redis nautobotpod.Host
		want      string
	}{
		{"the gateway FQDNs", nautobotpod.ServerNames{}, db("nautobot-db.example.com", dbNames), redis("nautobot-redis.example.com", redisNames), ""},
		{"the Service names", nautobotpod.ServerNames{}, db("nautobot-cluster-rw", dbNames), redis("nautobot-redis-master", redisNames), ""},
		// libpq and OpenSSL compare DNS names without regard to case.
		{"another case", nautobotpod.ServerNames{}, db("Nautobot-DB.example.com", dbNames), redis("NAUTOBOT-REDIS-MASTER", redisNames), ""},
		{"names unknown (an older global stack)", nautobotpod.ServerNames{}, db("10.0.0.5", nil), redis("10.0.0.6", nil), ""},
		{"a host outside the PostgreSQL names", nautobotpod.ServerNames{}, db("10.0.0.5", dbNames), redis("nautobot-redis.example.com", redisNames),
			`databaseSslMode: the pods connect to PostgreSQL as "10.0.0.5", a name the PostgreSQL server certificate does not carry ` +
				`(nautobot-cluster-rw, nautobot-cluster-rw.nautobot.svc, nautobot-db.example.com), so they would refuse the server; connect by ` +
				`one of those names, add "10.0.0.5" to certificates.postgres.extraDnsNames, or set worker.databaseSslMode: verify-ca to check the chain only`},
		{"a host outside the Redis names", nautobotpod.ServerNames{}, db("nautobot-db.example.com", dbNames), redis("redis.other.example.com", redisNames),
			`redisCheckHostname: the pods connect to Redis as "redis.other.example.com", a name the Redis server certificate does not carry ` +
				`(nautobot-redis-master, nautobot-redis.example.com), so they would refuse the server; connect by one of those names, add ` +
				`"redis.other.example.com" to certificates.redis.extraDnsNames, or set worker.redisCheckHostname: false to check the chain only`},
		{"checks turned off by name", nautobotpod.ServerNames{DatabaseSSLMode: "verify-ca", RedisCheckHostname: &off},
			db("10.0.0.5", dbNames), redis("10.0.0.6", redisNames), ""},
		{"an sslmode that presents no certificate", nautobotpod.ServerNames{DatabaseSSLMode: "require"}, db("nautobot-db.example.com", dbNames),
			redis("nautobot-redis.example.com", redisNames), `databaseSslMode: "require" is not supported; use one of verify-full, verify-ca`},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, problems(c.names, c.db, c.redis))
		})
	}
}
