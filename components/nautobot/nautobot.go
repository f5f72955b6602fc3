// Package nautobot provides GlobalNautobot: the global Nautobot release (web, default worker, beat) whose
// Redis subchart is TLS-only with client-certificate auth, and whose pods all mount the global client
// certificate, because Redis authClients and the cert-only pg_hba reject any pod without one.
package nautobot

import (
	"cmp"
	"errors"
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"nautobot-worker/internal/chart"
	"nautobot-worker/internal/kube"
	"nautobot-worker/internal/podtls"
	"nautobot-worker/internal/validate"
)

// ConfigKey is the stack config key these arguments are read from.
const ConfigKey = "nautobot"

const (
	redisPassword = "NAUTOBOT_REDIS_PASSWORD"
	djangoKey     = "NAUTOBOT_SECRET_KEY"
)

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
	// nautobot-redis with NAUTOBOT_REDIS_PASSWORD); the stack creates them when the secret config is set.
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

// RedisService is the master Service of the Redis subchart.
func (a Args) RedisService() string { return a.ReleaseName + "-redis-master" }

// Validate checks the plain values; errors name the config key under ConfigKey.
func (a Args) Validate() error {
	p := validate.New(ConfigKey)
	p.DNSLabel("releaseName", a.ReleaseName)
	p.ObjectName("djangoSecret", a.DjangoSecret)
	p.ObjectName("redisSecret", a.RedisSecret)
	if *a.Enabled {
		a.Chart.Validate(p, "chart")
	}
	if _, err := podtls.NautobotConfig(a.NautobotConfig); err != nil {
		p.Addf("nautobotConfig", "%v", err)
	}
	return p.Err()
}

// Values are the chart values: secrets by existingSecret only, so every render is the same.
func (a Args) Values() (map[string]any, error) {
	config, err := podtls.NautobotConfig(a.NautobotConfig)
	if err != nil {
		return nil, err
	}
	volumes := []any{podtls.Volume(a.ClientSecret)}
	mounts := []any{podtls.Mount()}
	// Upstream's fix for 3.x no longer writing NAUTOBOT_DB_USER into the env ConfigMap. Chart 3.1.1 also sets
	// it on every container from the DB secret's username key, which wins over the ConfigMap; both say app.
	env := []any{map[string]any{"name": "NAUTOBOT_DB_USER", "value": a.DBUser}}
	for _, kv := range podtls.Env() {
		env = append(env, map[string]any{"name": kv[0], "value": kv[1]})
	}
	return map[string]any{
		"nautobot": map[string]any{
			"config":     config,
			"singleInit": false,
			"superUser":  map[string]any{"enabled": false},
			"db": map[string]any{
				"engine":                    "django.db.backends.postgresql",
				"host":                      a.DBService,
				"port":                      5432,
				"name":                      a.DBName,
				"user":                      a.DBUser,
				"existingSecret":            a.DBSecret,
				"existingSecretPasswordKey": "password",
			},
			"django":            map[string]any{"existingSecret": a.DjangoSecret, "existingSecretSecretKeyKey": djangoKey},
			"redis":             map[string]any{"ssl": true},
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
			"auth":         map[string]any{"enabled": true, "existingSecret": a.RedisSecret, "existingSecretPasswordKey": redisPassword},
			"tls": map[string]any{
				"enabled":         true,
				"authClients":     true,
				"existingSecret":  a.RedisServerSecret,
				"certFilename":    "tls.crt",
				"certKeyFilename": "tls.key",
				"certCAFilename":  "ca.crt",
			},
		},
		"postgresql": map[string]any{"enabled": false},
	}, nil
}

// GlobalNautobot is the global Nautobot release.
type GlobalNautobot struct {
	pulumi.ResourceState

	RedisService pulumi.StringOutput `pulumi:"redisService"`
	Chart        *helmv4.Chart

	Args Args
}

// NewGlobalNautobot registers the release (and its secrets when their values are in the stack config).
func NewGlobalNautobot(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*GlobalNautobot, error) {
	if args == nil {
		args = &Args{}
	}
	a := args.Defaults()
	if err := a.Validate(); err != nil {
		return nil, err
	}
	if a.Provider == nil || a.Namespace == "" || a.DBService == "" || a.ClientSecret == "" || a.RedisServerSecret == "" {
		return nil, errors.New("nautobot: Args.Provider, Namespace, DBService, ClientSecret and RedisServerSecret are required")
	}
	values, err := a.Values()
	if err != nil {
		return nil, err
	}
	location, err := a.Chart.Locate(a.ChartCacheDir)
	if err != nil {
		return nil, fmt.Errorf("config nautobot.chart: %w", err)
	}
	c := &GlobalNautobot{Args: a}
	if err := ctx.RegisterComponentResource("nautobot:nautobot:GlobalNautobot", name, c, opts...); err != nil {
		return nil, err
	}
	k8s := []pulumi.ResourceOption{pulumi.Parent(c), pulumi.Provider(a.Provider)}
	var deps []pulumi.Resource
	if a.CreateSecrets {
		for _, s := range []struct {
			suffix, secret, key string
			value               pulumi.StringOutput
		}{{"django", a.DjangoSecret, djangoKey, a.DjangoSecretKey}, {"redis", a.RedisSecret, redisPassword, a.RedisPasswordValue}} {
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
	chartArgs := location.ChartArgs()
	chartArgs.Name = pulumi.StringPtr(a.ReleaseName)
	chartArgs.Namespace = pulumi.StringPtr(a.Namespace)
	chartArgs.SkipAwait = pulumi.BoolPtr(a.SkipAwait)
	chartArgs.Values = pulumi.ToMap(values)
	c.Chart, err = helmv4.NewChart(ctx, name, &chartArgs, append(k8s, pulumi.DependsOn(deps),
		pulumi.Transforms([]pulumi.ResourceTransform{chart.DropEmptySecretData}))...)
	if err != nil {
		return nil, err
	}
	c.RedisService = pulumi.String(a.RedisService()).ToStringOutput()
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"redisService": c.RedisService}); err != nil {
		return nil, err
	}
	return c, nil
}
