// Package nautobotpod is the contract between the stacks and every Nautobot pod they configure, global and
// site: where the client certificate Secret is mounted and under which file names, the variables that switch
// nautobot_config.py's PostgreSQL and Redis TLS on (in the order the chart renders them), the database and
// Redis connection values, the keys the chart reads from existing secrets, the ports, and the Helm release
// that renders it all. Every package that needs one of these takes it from here.
package nautobotpod

import (
	"fmt"
	"os"
	"slices"
	"strconv"
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

// The libpq sslmodes a pod may use: both present the client certificate and verify the server's chain;
// only VerifyFull also checks that the server certificate names the host the pod connects to.
const (
	VerifyFull = "verify-full"
	VerifyCA   = "verify-ca"
)

// ServerNames is whether a pod checks that the server certificates name the hosts it connects to: the keys
// databaseSslMode and redisCheckHostname of the worker and nautobot config. Every server certificate is
// signed by the same CA for server auth, so a check of the chain alone lets any of them (the Redis
// server's, say) pass for PostgreSQL or Redis; the defaults check the name too.
type ServerNames struct {
	// DatabaseSSLMode is libpq's sslmode: VerifyFull (default) or VerifyCA, the seed's, which checks the
	// chain only.
	DatabaseSSLMode string `json:"databaseSslMode"`
	// RedisCheckHostname is redis-py's ssl_check_hostname for the Celery broker, the result backend and the
	// cache (default true; false checks the chain only).
	RedisCheckHostname *bool `json:"redisCheckHostname"`
}

// Defaults returns s with the name checks on where unset.
func (s ServerNames) Defaults() ServerNames {
	if s.DatabaseSSLMode == "" {
		s.DatabaseSSLMode = VerifyFull
	}
	if s.RedisCheckHostname == nil {
		on := true
		s.RedisCheckHostname = &on
	}
	return s
}

// Validate checks the sslmode of defaulted s; problems name the keys relative to the component's.
func (s ServerNames) Validate(p *validate.Problems) {
	p.OneOf("databaseSslMode", s.DatabaseSSLMode, VerifyFull, VerifyCA)
}

// Host is a host a pod connects to, with the names the server certificate behind it carries.
type Host struct {
	// Key is the config key that sets the host, or that the host follows from.
	Key  string
	Host string
	// Names are the server certificate's DNS names; nil when unknown (nothing is checked).
	Names []string
	// AddName says where the certificate gets another name.
	AddName string
}

// CheckHosts adds a problem for each host that a server certificate with those names cannot match under
// the name checks of defaulted s: verify-full and ssl_check_hostname compare the host the client
// connects to (case aside) with the certificate's DNS names, and an IP address with none of them.
// configKey is the component's config key, which holds s.
func (s ServerNames) CheckHosts(p *validate.Problems, configKey string, db, redis Host) {
	checks := []struct {
		Host
		on             bool
		server, offKey string
		off            string
	}{
		{db, s.DatabaseSSLMode == VerifyFull, "PostgreSQL", "databaseSslMode", VerifyCA},
		{redis, *s.RedisCheckHostname, "Redis", "redisCheckHostname", "false"},
	}
	for _, c := range checks {
		if !c.on || c.Names == nil || slices.ContainsFunc(c.Names, func(n string) bool { return strings.EqualFold(n, c.Host.Host) }) {
			continue
		}
		p.Addf(c.Key, "the pods connect to %s as %q, a name the %s server certificate does not carry (%s), so they would refuse the server; "+
			"connect by one of those names, add %q to %s, or set %s.%s: %s to check the chain only",
			c.server, c.Host.Host, c.server, strings.Join(c.Names, ", "), c.Host.Host, c.AddName, configKey, c.offKey, c.off)
	}
}

// Env are the variables every pod needs for PostgreSQL and Redis with client certificates, checking the
// server names as defaulted s says, in the order the chart renders them. A pod that reaches PostgreSQL
// through the TLS-passthrough gateway also negotiates TLS directly (sslnegotiation=direct, libpq and
// PostgreSQL 17+), which is what lets the gateway route it by SNI; a pod in the global cluster talks to
// CNPG's Service and keeps libpq's default negotiation.
func Env(throughGateway bool, s ServerNames) []EnvVar {
	s = s.Defaults()
	env := []EnvVar{
		{"NAUTOBOT_CONFIG", ConfigPath},
		{"NAUTOBOT_DB_SSLMODE", s.DatabaseSSLMode},
	}
	if throughGateway {
		env = append(env, EnvVar{"NAUTOBOT_DB_SSLNEGOTIATION", "direct"})
	}
	return append(env,
		EnvVar{"NAUTOBOT_REDIS_SSL_CERT_REQS", "required"},
		EnvVar{"NAUTOBOT_REDIS_SSL_CHECK_HOSTNAME", strconv.FormatBool(*s.RedisCheckHostname)},
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
	// Username is the Redis ACL user; empty is Redis's default user, whose password the global pods use.
	Username string
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
	if r.Username != "" {
		v["username"] = r.Username
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
