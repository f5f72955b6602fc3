// Package nautobot provides GlobalNautobot: the global Nautobot release (web, default worker, beat) whose
// Redis subchart is TLS-only with client-certificate auth, and whose pods all mount the global client
// certificate, because Redis authClients and the cert-only pg_hba reject any pod without one.
package nautobot

import (
	"cmp"
	"errors"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"nautobot-worker/internal/chart"
	"nautobot-worker/internal/component"
	"nautobot-worker/internal/kube"
	"nautobot-worker/internal/nautobotpod"
	"nautobot-worker/internal/validate"
)

// ConfigKey is the stack config key these arguments are read from.
const ConfigKey = "nautobot"

// Args configures the global release.
type Args struct {
	Provider *kubernetes.Provider `json:"-"`
	// Enabled deploys the release (default true); when false the stack exports the values to apply elsewhere.
	Enabled *bool `json:"enabled"`
	// ReleaseName of the Helm release (default nautobot); Redis is then <release>-redis-master.
	ReleaseName string       `json:"releaseName"`
	Chart       chart.Source `json:"chart"`
	// NautobotConfig is a path to the nautobot_config.py to use (default: the project's own).
	NautobotConfig string `json:"nautobotConfig"`
	// DjangoSecret and RedisSecret are existing secrets (default nautobot-django with NAUTOBOT_SECRET_KEY,
	// nautobot-redis with NAUTOBOT_REDIS_PASSWORD, nautobotpod's keys); the stack creates them when the
	// secret config is set.
	DjangoSecret string `json:"djangoSecret"`
	RedisSecret  string `json:"redisSecret"`
	// SkipAwait does not wait for readiness (for API servers without nodes).
	SkipAwait bool `json:"skipAwait"`
	// Image overrides the chart's Nautobot image for every pod of the release.
	Image nautobotpod.Image `json:"image"`
	// Replicas of the web Deployment (default: the chart's, 2).
	Replicas *int `json:"replicas"`
	// Resources of the web container (default: the chart's); merged into the chart's requests and limits.
	Resources kube.Resources `json:"resources"`
	Redis     Redis          `json:"redis"`
	// ExtraValues are extra chart values. They may only add keys: a value the stack sets itself is an error,
	// so they can never silently undo the mTLS wiring (the rule of worker.values).
	ExtraValues map[string]any `json:"values"`

	// Set by the stack.
	Namespace          string              `json:"-"`
	DBService          string              `json:"-"`
	DBName             string              `json:"-"`
	DBUser             string              `json:"-"`
	DBSecret           string              `json:"-"`
	RedisServerSecret  string              `json:"-"`
	ClientSecret       string              `json:"-"`
	DjangoSecretKey    pulumi.StringOutput `json:"-"`
	RedisPasswordValue pulumi.StringOutput `json:"-"`
	CreateSecrets      bool                `json:"-"`
	ChartCacheDir      string              `json:"-"`
	// DBServerNames and RedisServerNames are the DNS names of the PostgreSQL and Redis server certificates.
	DBServerNames    []string `json:"-"`
	RedisServerNames []string `json:"-"`

	// ServerNames are the keys databaseSslMode (default verify-full) and redisCheckHostname (default true).
	nautobotpod.ServerNames
}

// Redis tunes the chart's Redis master (the Bitnami subchart's redis.master).
type Redis struct {
	Persistence RedisPersistence `json:"persistence"`
	// Resources of the Redis container (default: the subchart's, none).
	Resources kube.Resources `json:"resources"`
	// SiteUsers gives every site a Redis user and password of its own (default: on when the stack has
	// redisSiteKey); false keeps the seed's one password for the whole fleet.
	SiteUsers *bool `json:"siteUsers"`
	// ACL is the sites' users as lines of Redis's configuration, only password hashes (set by the stack).
	ACL string `json:"-"`
}

// RedisPersistence is the master's volume (default: the subchart's, enabled, 8Gi, the cluster's default class).
type RedisPersistence struct {
	Enabled      *bool  `json:"enabled"`
	Size         string `json:"size"`
	StorageClass string `json:"storageClass"`
}

func (r Redis) values() map[string]any {
	master := map[string]any{}
	persistence := map[string]any{}
	if r.Persistence.Enabled != nil {
		persistence["enabled"] = *r.Persistence.Enabled
	}
	if r.Persistence.Size != "" {
		persistence["size"] = r.Persistence.Size
	}
	if r.Persistence.StorageClass != "" {
		persistence["storageClass"] = r.Persistence.StorageClass
	}
	if len(persistence) > 0 {
		master["persistence"] = persistence
	}
	if !r.Resources.IsZero() {
		master["resources"] = r.Resources.Values()
	}
	// Appended to the chart's master.conf, whose checksum annotation rolls the master pod when it changes:
	// Redis reads its users only at start, so a removed site's user is gone once the new pod runs.
	if r.ACL != "" {
		master["configuration"] = r.ACL
	}
	return master
}

func (r Redis) validate(p *validate.Problems) {
	persistence := r.Persistence
	if persistence.Enabled != nil && !*persistence.Enabled && (persistence.Size != "" || persistence.StorageClass != "") {
		p.Addf("redis.persistence.enabled", "is false, but redis.persistence.size or storageClass is set; remove them or enable persistence")
	}
	if persistence.Size != "" {
		p.Quantity("redis.persistence.size", persistence.Size)
	}
	if persistence.StorageClass != "" {
		p.ObjectName("redis.persistence.storageClass", persistence.StorageClass)
	}
	r.Resources.Validate(p, "redis.resources")
}

// Defaults returns args with every unset field filled in.
func (a Args) Defaults() Args {
	if a.Enabled == nil {
		on := true
		a.Enabled = &on
	}
	a.ReleaseName = cmp.Or(a.ReleaseName, "nautobot")
	a.DjangoSecret = cmp.Or(a.DjangoSecret, "nautobot-django")
	a.RedisSecret = cmp.Or(a.RedisSecret, "nautobot-redis")
	a.Chart = a.Chart.Defaults()
	a.ServerNames = a.ServerNames.Defaults()
	return a
}

// RedisService is the master Service of the Redis subchart: the gateway's backend and the SAN of the
// Redis server certificate.
func (a Args) RedisService() string { return a.ReleaseName + "-redis-master" }

// Validate checks the plain values; problems name keys relative to Args.
func (a Args) Validate() error {
	p := validate.New("")
	p.DNSLabel("releaseName", a.ReleaseName)
	p.ObjectName("djangoSecret", a.DjangoSecret)
	p.ObjectName("redisSecret", a.RedisSecret)
	if *a.Enabled {
		a.Chart.Validate(p, "chart")
	}
	a.Image.Validate(p, "image")
	if a.Replicas != nil && *a.Replicas < 1 {
		p.Addf("replicas", "%d is less than 1; the global release serves the web UI and API (set nautobot.enabled: false to run none)", *a.Replicas)
	}
	a.Resources.Validate(p, "resources")
	a.Redis.validate(p)
	a.ServerNames.Validate(p)
	// The pods reach CNPG's rw Service and the Redis master Service by their short names.
	a.ServerNames.CheckHosts(p, ConfigKey,
		nautobotpod.Host{Key: "databaseSslMode", Host: a.DBService, Names: a.DBServerNames, AddName: "certificates.postgres.extraDnsNames"},
		nautobotpod.Host{Key: "redisCheckHostname", Host: a.RedisService(), Names: a.RedisServerNames, AddName: "certificates.redis.extraDnsNames"})
	if config, err := nautobotpod.NautobotConfig(a.NautobotConfig); err != nil {
		p.Addf("nautobotConfig", "%v", err)
	} else {
		_, conflicts := a.values(config)
		chart.ReportOwned(p, ConfigKey, conflicts, hint)
	}
	return p.Err()
}

// Cluster returns the provider, once the stack has wired in the namespace, the database and the secrets.
func (a Args) Cluster() (*kubernetes.Provider, error) {
	if a.Provider == nil || a.Namespace == "" || a.DBService == "" || a.ClientSecret == "" || a.RedisServerSecret == "" {
		return nil, errors.New("nautobot: Args.Provider, Namespace, DBService, ClientSecret and RedisServerSecret are required")
	}
	return a.Provider, nil
}

// Values are the chart values: secrets by existingSecret only, so every render is the same.
func (a Args) Values() (map[string]any, error) {
	config, err := nautobotpod.NautobotConfig(a.NautobotConfig)
	if err != nil {
		return nil, err
	}
	values, _ := a.values(config)
	return values, nil
}

// ownedHints are paths nautobot.values may not even add, because a key of their own sets them or because
// they rename what the certificates' SANs and the gateway's routes name.
var ownedHints = []struct{ path, hint string }{
	{"fullnameOverride", "it renames the Redis Service that the Redis certificate and the gateway name; set nautobot.releaseName instead"},
	{"nameOverride", "it renames the Redis Service that the Redis certificate and the gateway name; set nautobot.releaseName instead"},
	{"redis.fullnameOverride", "it renames the Redis Service that the Redis certificate and the gateway name"},
	{"redis.nameOverride", "it renames the Redis Service that the Redis certificate and the gateway name"},
	{"redis.sentinel", "the chart then points the pods at <release>-redis-headless, a name the Redis server certificate does not carry"},
	{"nautobot.image", "use nautobot.image"},
	{"nautobot.replicaCount", "use nautobot.replicas"},
	{"nautobot.resources", "use nautobot.resources"},
	{"redis.master.persistence", "use nautobot.redis.persistence"},
	{"redis.master.resources", "use nautobot.redis.resources"},
}

func hint(path string) string {
	for _, o := range ownedHints {
		if path == o.path || strings.HasPrefix(path, o.path+".") {
			return o.hint
		}
	}
	return "it keeps the release wired for mTLS (see the README, section Global stack config)"
}

// values returns the chart values (the stack's, plus ExtraValues where they add keys) and the paths of
// ExtraValues that collide with the stack's or set a path in ownedHints.
func (a Args) values(config string) (map[string]any, []string) {
	volumes := []any{nautobotpod.Volume(a.ClientSecret)}
	mounts := []any{nautobotpod.Mount()}
	// Upstream's fix for 3.x no longer writing NAUTOBOT_DB_USER into the env ConfigMap. Chart 3.1.1 also sets
	// it on every container from the DB secret's username key, which wins over the ConfigMap; both say app.
	// The global pods reach CNPG's Service inside the cluster, not through the gateway.
	env := nautobotpod.EnvValues(append([]nautobotpod.EnvVar{{Name: "NAUTOBOT_DB_USER", Value: a.DBUser}},
		nautobotpod.Env(false, a.ServerNames)...))
	ours := map[string]any{
		"nautobot": map[string]any{
			"config":     config,
			"singleInit": false,
			"superUser":  map[string]any{"enabled": false},
			"db": nautobotpod.Database{
				Host: a.DBService, Port: nautobotpod.PostgresPort, Name: a.DBName, User: a.DBUser, Secret: a.DBSecret,
			}.Values(),
			"django":            nautobotpod.Django(a.DjangoSecret),
			"redis":             nautobotpod.Redis{}.Values(),
			"extraVars":         env,
			"extraVolumes":      volumes,
			"extraVolumeMounts": mounts,
		},
		"celery": map[string]any{
			// The celery template does not read django.existingSecret; the key must reach it as env.
			"extraEnvVarsSecret": []any{a.DjangoSecret},
			"extraVolumes":       volumes,
			"extraVolumeMounts":  mounts,
		},
		"workers": map[string]any{
			"default": map[string]any{"enabled": true, "taskQueues": "default"},
			"beat":    map[string]any{"enabled": true},
		},
		"redis": map[string]any{
			"enabled":      true,
			"architecture": "standalone",
			"auth": map[string]any{
				"enabled": true, "existingSecret": a.RedisSecret, "existingSecretPasswordKey": nautobotpod.GlobalRedisPasswordKey,
			},
			"tls": map[string]any{
				"enabled":         true,
				"authClients":     true,
				"existingSecret":  a.RedisServerSecret,
				"certFilename":    nautobotpod.CertFile,
				"certKeyFilename": nautobotpod.KeyFile,
				"certCAFilename":  nautobotpod.CAFile,
			},
		},
		"postgresql": map[string]any{"enabled": false},
	}
	web := ours["nautobot"].(map[string]any)
	if image := a.Image.Values(); len(image) > 0 {
		web["image"] = image
	}
	if a.Replicas != nil {
		web["replicaCount"] = *a.Replicas
	}
	if !a.Resources.IsZero() {
		web["resources"] = a.Resources.Values()
	}
	if master := a.Redis.values(); len(master) > 0 {
		ours["redis"].(map[string]any)["master"] = master
	}
	var owned []string
	for _, o := range ownedHints {
		if chart.HasValue(a.ExtraValues, o.path) {
			owned = append(owned, o.path)
		}
	}
	conflicts := owned
	// A path under an owned one is reported once, as the owned path.
	for _, c := range chart.AddValues(ours, a.ExtraValues) {
		if !slices.ContainsFunc(owned, func(o string) bool { return c == o || strings.HasPrefix(c, o+".") }) {
			conflicts = append(conflicts, c)
		}
	}
	return ours, conflicts
}

// GlobalNautobot is the global Nautobot release.
type GlobalNautobot struct {
	pulumi.ResourceState
	component.WithArgs[Args]

	Chart *helmv4.Chart
}

// NewGlobalNautobot registers the release (and its secrets when their values are in the stack config).
func NewGlobalNautobot(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*GlobalNautobot, error) {
	return component.New(ctx, "nautobot:nautobot:GlobalNautobot", name, args, &GlobalNautobot{}, opts,
		func(c *GlobalNautobot, k8s []pulumi.ResourceOption) (pulumi.Map, error) {
			a := c.Args
			values, err := a.Values()
			if err != nil {
				return nil, err
			}
			var deps []pulumi.Resource
			if a.CreateSecrets {
				for _, s := range []struct {
					suffix, secret, key string
					value               pulumi.StringOutput
				}{
					{"django", a.DjangoSecret, nautobotpod.DjangoSecretKey, a.DjangoSecretKey},
					{"redis", a.RedisSecret, nautobotpod.GlobalRedisPasswordKey, a.RedisPasswordValue},
				} {
					sec, err := corev1.NewSecret(ctx, name+"-"+s.suffix, &corev1.SecretArgs{
						Metadata:   kube.Metadata(kube.Object{Namespace: a.Namespace, Name: s.secret}),
						Type:       pulumi.String("Opaque"),
						StringData: pulumi.StringMap{s.key: pulumi.ToSecret(s.value).(pulumi.StringOutput)},
					}, k8s...)
					if err != nil {
						return nil, err
					}
					deps = append(deps, sec)
				}
			}
			c.Chart, err = nautobotpod.NewRelease(ctx, name, nautobotpod.Release{
				Chart: a.Chart, ChartKey: ConfigKey + ".chart", CacheDir: a.ChartCacheDir,
				Name: a.ReleaseName, Namespace: a.Namespace, SkipAwait: a.SkipAwait, Values: values,
			}, append(k8s, pulumi.DependsOn(deps))...)
			if err != nil {
				return nil, err
			}
			return pulumi.Map{}, nil
		})
}
