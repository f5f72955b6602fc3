// Package nautobot provides GlobalNautobot: the global Nautobot release (web, default worker, beat) whose
// Redis subchart is TLS-only with client-certificate auth, and whose pods all mount the global client
// certificate, because Redis authClients and the cert-only pg_hba reject any pod without one.
package nautobot

import (
	"cmp"
	"errors"

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
	if _, err := nautobotpod.NautobotConfig(a.NautobotConfig); err != nil {
		p.Addf("nautobotConfig", "%v", err)
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
	volumes := []any{nautobotpod.Volume(a.ClientSecret)}
	mounts := []any{nautobotpod.Mount()}
	// Upstream's fix for 3.x no longer writing NAUTOBOT_DB_USER into the env ConfigMap. Chart 3.1.1 also sets
	// it on every container from the DB secret's username key, which wins over the ConfigMap; both say app.
	// The global pods reach CNPG's Service inside the cluster, not through the gateway.
	env := nautobotpod.EnvValues(append([]nautobotpod.EnvVar{{Name: "NAUTOBOT_DB_USER", Value: a.DBUser}},
		nautobotpod.Env(false)...))
	return map[string]any{
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
	}, nil
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
