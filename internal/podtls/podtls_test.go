package podtls_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"nautobot-worker/assets"
	"nautobot-worker/internal/podtls"
)

func TestNautobotConfig(t *testing.T) {
	dir := t.TempDir()
	own := filepath.Join(dir, "own.py")
	empty := filepath.Join(dir, "empty.py")
	require.NoError(t, os.WriteFile(own, []byte("SECRET_KEY = 'x'\n"), 0o644))
	require.NoError(t, os.WriteFile(empty, []byte(" \n"), 0o644))

	text, err := podtls.NautobotConfig("")
	require.NoError(t, err)
	require.Equal(t, assets.NautobotConfig, text)
	require.Contains(t, text, "NAUTOBOT_DB_SSLMODE", "the project's own config carries the TLS logic")

	text, err = podtls.NautobotConfig(own)
	require.NoError(t, err)
	require.Equal(t, "SECRET_KEY = 'x'\n", text)

	_, err = podtls.NautobotConfig(empty)
	require.ErrorContains(t, err, "is empty; point it at a complete nautobot_config.py")
	_, err = podtls.NautobotConfig(filepath.Join(dir, "missing.py"))
	require.ErrorContains(t, err, "cannot be read")
}

func TestEnvPointsIntoTheMount(t *testing.T) {
	env := map[string]string{}
	for _, kv := range podtls.Env() {
		env[kv[0]] = kv[1]
	}
	require.Equal(t, "verify-ca", env["NAUTOBOT_DB_SSLMODE"])
	for _, key := range []string{"NAUTOBOT_REDIS_SSL_CA_CERTS", "NAUTOBOT_REDIS_SSL_CERTFILE", "NAUTOBOT_REDIS_SSL_KEYFILE"} {
		require.Equal(t, podtls.MountPath, filepath.Dir(env[key]), key)
	}
	require.Equal(t, podtls.MountPath, podtls.Mount()["mountPath"])
	require.Equal(t, 256, podtls.Volume("s")["secret"].(map[string]any)["defaultMode"])
}
