// Package nautobotpod is the contract between the stacks and every Nautobot pod they configure, global and
// site: where the client certificate Secret is mounted and under which file names, the variables that switch
// nautobot_config.py's PostgreSQL and Redis TLS on (in the order the chart renders them), the database and
// Redis connection values, the keys the chart reads from existing secrets, the ports, and the Helm release
// that renders it all. Every package that needs one of these takes it from here.
package nautobotpod

import (
	"fmt"
	"os"
	"strings"

	"nautobot-worker/assets"
	"nautobot-worker/internal/validate"
)

const (
	// MountPath holds CertFile, KeyFile and CAFile; nautobot_config.py defaults to these paths.
	MountPath = "/etc/nautobot/mtls"
	// VolumeName is the pod volume of the client certificate Secret.
	VolumeName = "mtls-certs"
	// ConfigPath is where the chart mounts nautobot.config.
	ConfigPath = "/opt/nautobot/nautobot_config.py"

	// The files of a kubernetes.io/tls Secret as cert-manager writes it, which the site's Secret copies.
	CertFile = "tls.crt"
	KeyFile  = "tls.key"
	CAFile   = "ca.crt"

	// The ports PostgreSQL and Redis listen on in the global cluster.
	PostgresPort = 5432
	RedisPort    = 6379

	// DjangoSecretKey is the key of Django's SECRET_KEY in the Django secret, global and site.
	DjangoSecretKey = "NAUTOBOT_SECRET_KEY"
	// DBUsernameKey and DBPasswordKey are the keys of the database secret: CNPG's <cluster>-app secret on
	// the global cluster, and the site's copy of those credentials.
	DBUsernameKey = "username"
	DBPasswordKey = "password"
	// GlobalRedisPasswordKey is the key of the Redis password in the global release's Redis secret, which
	// the Redis subchart and the Nautobot pods both read.
	GlobalRedisPasswordKey = "NAUTOBOT_REDIS_PASSWORD"
	// SiteRedisPasswordKey is the key of the Redis password in a site's Redis secret.
	SiteRedisPasswordKey = "redis-password"

	// ClusterData is the site ConfigMap whose PartitionVar and SiteVar nautobot_config.py reads.
	ClusterData  = "cluster-data"
	PartitionVar = "UNDERSTACK_PARTITION"
	SiteVar      = "UNDERSTACK_SITE"

	// GlobalIdentity is the default common name of the global pods' client certificate.
	GlobalIdentity = "nautobot-global"
)

// SiteIdentity is the common name of a site's client certificate: PostgreSQL maps it to the application
// role only while the global stack lists the site, and pg_stat_ssl shows which site a connection is.
func SiteIdentity(site string) string { return "site-" + site }

// EnvVar is one environment variable of a Nautobot container.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Env are the variables every pod needs for verify-ca PostgreSQL and client-certificate Redis, in the order
// the chart renders them. A pod that reaches PostgreSQL through the TLS-passthrough gateway also negotiates
// TLS directly (sslnegotiation=direct, libpq and PostgreSQL 17+), which is what lets the gateway route it
// by SNI; a pod in the global cluster talks to CNPG's Service and keeps libpq's default negotiation.
func Env(throughGateway bool) []EnvVar {
	env := []EnvVar{
		{"NAUTOBOT_CONFIG", ConfigPath},
		{"NAUTOBOT_DB_SSLMODE", "verify-ca"},
	}
	if throughGateway {
		env = append(env, EnvVar{"NAUTOBOT_DB_SSLNEGOTIATION", "direct"})
	}
	return append(env,
		EnvVar{"NAUTOBOT_REDIS_SSL_CERT_REQS", "required"},
		EnvVar{"NAUTOBOT_REDIS_SSL_CA_CERTS", MountPath + "/" + CAFile},
		EnvVar{"NAUTOBOT_REDIS_SSL_CERTFILE", MountPath + "/" + CertFile},
		EnvVar{"NAUTOBOT_REDIS_SSL_KEYFILE", MountPath + "/" + KeyFile},
	)
}

// EnvValues are env as the chart's extraVars and extraEnvVars entries.
func EnvValues(env []EnvVar) []any {
	out := make([]any, len(env))
	for i, e := range env {
		out[i] = map[string]any{"name": e.Name, "value": e.Value}
	}
	return out
}

// Volume is the chart's extraVolumes entry for the client certificate Secret. 256 is 0400: YAML would
// read a written 0400 as octal, and JSON has no octal at all.
func Volume(secret string) map[string]any {
	return map[string]any{"name": VolumeName, "secret": map[string]any{"secretName": secret, "defaultMode": 256}}
}

// Mount is the chart's extraVolumeMounts entry for Volume.
func Mount() map[string]any {
	return map[string]any{"name": VolumeName, "mountPath": MountPath, "readOnly": true}
}

// Database is the PostgreSQL a pod connects to, with the secret holding its credentials.
type Database struct {
	Host   string
	Port   int
	Name   string
	User   string
	Secret string
}

// Values are the chart's nautobot.db values.
func (d Database) Values() map[string]any {
	return map[string]any{
		"engine":                    "django.db.backends.postgresql",
		"host":                      d.Host,
		"port":                      d.Port,
		"name":                      d.Name,
		"user":                      d.User,
		"existingSecret":            d.Secret,
		"existingSecretUsernameKey": DBUsernameKey,
		"existingSecretPasswordKey": DBPasswordKey,
	}
}

// Redis is the Redis a pod connects to; Host, Port and Secret are left to the chart when empty (the
// global release's own Redis subchart).
type Redis struct {
	Host        string
	Port        int
	Secret      string
	PasswordKey string
}

// Values are the chart's nautobot.redis values: always TLS (rediss://), which nautobot_config.py requires
// once the client certificate is mounted.
func (r Redis) Values() map[string]any {
	v := map[string]any{"ssl": true}
	if r.Host != "" {
		v["host"], v["port"] = r.Host, r.Port
	}
	if r.Secret != "" {
		v["existingSecret"], v["existingSecretPasswordKey"] = r.Secret, r.PasswordKey
	}
	return v
}

// Django are the chart's nautobot.django values for an existing secret holding DjangoSecretKey.
func Django(secret string) map[string]any {
	return map[string]any{"existingSecret": secret, "existingSecretSecretKeyKey": DjangoSecretKey}
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

// Image overrides the chart's Nautobot image (nautobot.image); unset fields keep the chart's defaults.
type Image struct {
	Registry   string `json:"registry"`
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
	PullPolicy string `json:"pullPolicy"`
}

// Values are the fields set, as the chart's nautobot.image takes them.
func (i Image) Values() map[string]any {
	out := map[string]any{}
	for key, v := range map[string]string{"registry": i.Registry, "repository": i.Repository, "tag": i.Tag, "pullPolicy": i.PullPolicy} {
		if v != "" {
			out[key] = v
		}
	}
	return out
}

// Validate checks the pull policy, the one field with a fixed set of values.
func (i Image) Validate(p *validate.Problems, key string) {
	if i.PullPolicy != "" {
		p.OneOf(key+".pullPolicy", i.PullPolicy, "Always", "IfNotPresent", "Never")
	}
}
