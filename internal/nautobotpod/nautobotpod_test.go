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
		"NAUTOBOT_DB_SSLMODE":          regexp.MustCompile(`_db_sslmodes_with_client_cert = \(([^)]*)\)`),
		"NAUTOBOT_DB_SSLNEGOTIATION":   regexp.MustCompile(`_choice\("NAUTOBOT_DB_SSLNEGOTIATION", \(([^)]*)\)\)`),
		"NAUTOBOT_REDIS_SSL_CERT_REQS": regexp.MustCompile(`(?s)_redis_cert_reqs = \{(.*?)\}`),
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

	for _, throughGateway := range []bool{false, true} {
		env := nautobotpod.Env(throughGateway)
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
	for _, e := range nautobotpod.Env(true) {
		names = append(names, e.Name)
	}
	require.Equal(t, []string{
		"NAUTOBOT_CONFIG", "NAUTOBOT_DB_SSLMODE", "NAUTOBOT_DB_SSLNEGOTIATION", "NAUTOBOT_REDIS_SSL_CERT_REQS",
		"NAUTOBOT_REDIS_SSL_CA_CERTS", "NAUTOBOT_REDIS_SSL_CERTFILE", "NAUTOBOT_REDIS_SSL_KEYFILE",
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
