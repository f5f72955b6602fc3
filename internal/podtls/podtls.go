// Package podtls is how every Nautobot pod of the system (global and site) carries its client certificate:
// the Secret volume, its mount at the paths nautobot_config.py defaults to, the variables that switch the
// config's PostgreSQL and Redis TLS on, and the config file itself.
package podtls

import (
	"fmt"
	"os"
	"strings"

	"nautobot-worker/assets"
)

const (
	// MountPath holds tls.crt, tls.key and ca.crt.
	MountPath = "/etc/nautobot/mtls"
	// VolumeName is the pod volume of the client certificate Secret.
	VolumeName = "mtls-certs"
	// ConfigPath is where the chart mounts nautobot.config.
	ConfigPath = "/opt/nautobot/nautobot_config.py"
)

// Volume is the chart's extraVolumes entry for the client certificate Secret. 256 is 0400: YAML would
// read a written 0400 as octal, and JSON has no octal at all.
func Volume(secret string) map[string]any {
	return map[string]any{"name": VolumeName, "secret": map[string]any{"secretName": secret, "defaultMode": 256}}
}

// Mount is the chart's extraVolumeMounts entry for Volume.
func Mount() map[string]any {
	return map[string]any{"name": VolumeName, "mountPath": MountPath, "readOnly": true}
}

// Env are the variables every pod needs for verify-ca PostgreSQL and client-certificate Redis, in order.
func Env() [][2]string {
	return [][2]string{
		{"NAUTOBOT_CONFIG", ConfigPath},
		{"NAUTOBOT_DB_SSLMODE", "verify-ca"},
		{"NAUTOBOT_REDIS_SSL_CERT_REQS", "required"},
		{"NAUTOBOT_REDIS_SSL_CA_CERTS", MountPath + "/ca.crt"},
		{"NAUTOBOT_REDIS_SSL_CERTFILE", MountPath + "/tls.crt"},
		{"NAUTOBOT_REDIS_SSL_KEYFILE", MountPath + "/tls.key"},
	}
}

// NautobotConfig returns the text passed as nautobot.config: the project's assets/nautobot_config.py when
// path is empty, else that file, read now so a preview shows an edit as a diff and fails when it is missing.
func NautobotConfig(path string) (string, error) {
	if path == "" {
		return assets.NautobotConfig, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%q cannot be read (%v); relative paths start at the project directory, or remove the key to use the project's assets/nautobot_config.py", path, err)
	}
	if strings.TrimSpace(string(data)) == "" {
		return "", fmt.Errorf("%q is empty; point it at a complete nautobot_config.py", path)
	}
	return string(data), nil
}
