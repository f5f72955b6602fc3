// Package worker provides CeleryWorker: the Nautobot Helm chart reduced to one Celery worker that consumes
// the site's queue and reaches the global PostgreSQL and Redis over mutual TLS, plus the cluster-data
// ConfigMap it reads UNDERSTACK_PARTITION and UNDERSTACK_SITE from.
package worker

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
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
const ConfigKey = "worker"

const (
	// DefaultReleaseName is the Helm release name understack uses for site workers.
	DefaultReleaseName = "nautobot-worker"
	// The chart's label is nautobot-celery-<site>, so a site name longer than this breaks the 63-character limit.
	maxSiteLength = 63 - len("nautobot-celery-")
)

// SecretNames are the site secrets the worker reads (SiteSecrets' targets, with SiteSecrets' keys).
type SecretNames struct {
	Django, DB, Redis, Registry, CustomEnv, MTLS string
}

// Probe tunes the timing of one of the chart's exec probes.
type Probe struct {
	InitialDelaySeconds int `json:"initialDelaySeconds"`
	PeriodSeconds       int `json:"periodSeconds"`
	TimeoutSeconds      int `json:"timeoutSeconds"`
}

// ReadinessProbe is the worker's readiness probe: the chart's, plus the database unless CheckDatabase is false.
type ReadinessProbe struct {
	Probe
	// CheckDatabase (default true) makes the worker unready while it cannot use the global database: the
	// chart's probe only sees the file Nautobot writes once the broker connection is up, so a worker whose
	// every task fails on the database would look healthy.
	CheckDatabase *bool `json:"checkDatabase"`
}

// DatabaseReadinessCommand is the readiness probe with CheckDatabase: the chart's readiness file, then
// Django's migrate --check --plan through the worker's own settings (mTLS through the gateway). --plan
// keeps it read-only: without it, a database with nothing to migrate gets a real no-op migrate, whose
// post_migrate handlers write. It fails when the database is unreachable, refuses the client certificate,
// or lacks a migration this worker's code has (a worker upgraded before the global side migrated).
// Liveness stays the chart's heartbeat file, so a database outage makes workers unready, not restarted.
const DatabaseReadinessCommand = `f="${NAUTOBOT_CELERY_WORKER_READINESS_FILE:-/tmp/nautobot_celery_worker_ready}"; ` +
	`[ -e "$f" ] || { echo "no $f: the Celery worker has not started consuming"; exit 1; }; ` +
	`exec nautobot-server migrate --check --plan --skip-checks`

// Image overrides the chart's Nautobot image; unset fields keep the chart's defaults.
type Image = nautobotpod.Image

// Args configures the worker.
type Args struct {
	// Provider is the site cluster's Kubernetes provider (required).
	Provider *kubernetes.Provider `json:"-"`
	// Namespace is the site namespace (required).
	Namespace string `json:"-"`
	// Site names the worker and is its Celery queue (config site.name, required).
	Site string `json:"-"`
	// Partition is UNDERSTACK_PARTITION (config site.partition).
	Partition string `json:"-"`
	// DB and Redis are the global PostgreSQL and Redis as the site reaches them (the global stack's
	// outputs); their secrets are the site's, from Secrets.
	DB    nautobotpod.Database `json:"-"`
	Redis nautobotpod.Redis    `json:"-"`
	// SecretValues says a global output used in the chart values is a Pulumi secret, so the values stay secret.
	SecretValues bool `json:"-"`
	// Secrets are the site secrets' names.
	Secrets SecretNames `json:"-"`
	// ChartCacheDir holds schema-less chart copies (empty: chart.DefaultCacheDir).
	ChartCacheDir string `json:"-"`
	// DBServerNames and RedisServerNames are the DNS names of the global server certificates (the global
	// stack's dbServerNames and redisServerNames outputs); nil for a global stack that predates them.
	DBServerNames, RedisServerNames []string `json:"-"`

	// ServerNames are the keys databaseSslMode (default verify-full) and redisCheckHostname (default true).
	nautobotpod.ServerNames

	// RedisSiteUser connects to Redis as the site's own user (site-<name>), which the global stack creates
	// with redisSiteKey; the site's secrets.redis item must then hold that user's password. False (the
	// default) is the seed's Redis default user and the fleet's shared password.
	RedisSiteUser bool `json:"redisSiteUser"`

	// ReleaseName is the Helm release name (default nautobot-worker).
	ReleaseName string `json:"releaseName"`
	// Chart is where the Nautobot chart comes from (default the public repository, version 3.1.2).
	Chart chart.Source `json:"chart"`
	// SkipAwait does not wait for the chart's objects to become ready (for API servers without nodes).
	SkipAwait bool `json:"skipAwait"`
	// NautobotConfig is a path to the nautobot_config.py to use (relative to the project directory);
	// empty uses the project's assets/nautobot_config.py.
	NautobotConfig string `json:"nautobotConfig"`
	Image          Image  `json:"image"`
	// Concurrency is the Celery worker concurrency (default 2; 0 lets Celery use the CPU count).
	Concurrency *int `json:"concurrency"`
	// Replicas of the worker Deployment (default 1).
	Replicas *int `json:"replicas"`
	// Resources are the worker container's requests and limits (default: the chart's).
	Resources      map[string]any `json:"resources"`
	LivenessProbe  Probe          `json:"livenessProbe"`
	ReadinessProbe ReadinessProbe `json:"readinessProbe"`
	// ExtraEnvVars are appended to the stack's own variables (names must differ from them).
	ExtraEnvVars []nautobotpod.EnvVar `json:"extraEnvVars"`
	// ExtraVolumes and ExtraVolumeMounts are appended to the mTLS volume and its mount.
	ExtraVolumes      []map[string]any `json:"extraVolumes"`
	ExtraVolumeMounts []map[string]any `json:"extraVolumeMounts"`
	// Values are extra chart values. They may only add keys: a value the stack sets itself is an error,
	// so they can never silently undo the worker-only layout or the mTLS wiring.
	Values map[string]any `json:"values"`
}

// Defaults returns args with every unset field filled in.
func (a Args) Defaults() Args {
	if a.ReleaseName == "" {
		a.ReleaseName = DefaultReleaseName
	}
	a.Chart = a.Chart.Defaults()
	a.ServerNames = a.ServerNames.Defaults()
	if a.Concurrency == nil {
		a.Concurrency = new(2)
	}
	if a.Replicas == nil {
		a.Replicas = new(1)
	}
	a.LivenessProbe = a.LivenessProbe.defaults()
	a.ReadinessProbe.Probe = a.ReadinessProbe.Probe.defaults()
	if a.ReadinessProbe.CheckDatabase == nil {
		a.ReadinessProbe.CheckDatabase = new(true)
	}
	return a
}

// defaults are understack's: the chart's 10s/60s probes restart busy workers.
func (p Probe) defaults() Probe {
	if p.InitialDelaySeconds == 0 {
		p.InitialDelaySeconds = 60
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = 120
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = 60
	}
	return p
}

var (
	envName       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	overrideHints = []struct{ path, hint string }{
		{"nautobot.config", "set worker.nautobotConfig to a file instead"},
		{"nautobot.image", "use worker.image"},
		{"nautobot.db", "it comes from the global stack's outputs"},
		{"nautobot.redis", "it comes from the global stack's outputs"},
		{"celery.concurrency", "use worker.concurrency"},
		{"celery.replicaCount", "use worker.replicas"},
		{"celery.resources", "use worker.resources"},
		{"celery.livenessProbe", "use worker.livenessProbe"},
		{"celery.readinessProbe", "use worker.readinessProbe"},
		{"celery.extraEnvVars", "add variables with worker.extraEnvVars"},
		{"celery.extraVolumes", "add volumes with worker.extraVolumes"},
		{"celery.extraVolumeMounts", "add mounts with worker.extraVolumeMounts"},
	}
)

// SiteName checks a site name at key: it names the worker Deployment, its label and the Celery queue, and
// the global stack's client certificate of the site, so both stacks hold site names to this one rule.
func SiteName(p *validate.Problems, key, site string) bool {
	switch {
	case site == "":
		p.Addf(key, "is required: it names the worker and its Celery queue, and there is no fallback to the global default queue; set it to this site's entry in the global stack's sites")
	case len(site) > maxSiteLength || !validate.IsDNSLabel(site):
		p.Addf(key, "%q is not a site name: it must be a DNS label of at most %d characters (it names the worker Deployment, its label and the Celery queue)", site, maxSiteLength)
	case site == "default" || site == "beat":
		p.Addf(key, "%q is reserved: the chart's %s worker is disabled on sites; name the site after its location", site, site)
	default:
		return true
	}
	return false
}

// Validate checks defaulted args' plain values (not the provider), reads the selected nautobot_config.py
// and checks that a local chart exists, so a bad value fails the preview before anything is registered.
// Problems name keys relative to Args.
func (a Args) Validate() error {
	p := validate.New("")
	SiteName(p, "site", a.Site)
	p.DNSLabel("namespace", a.Namespace)
	if len(a.ReleaseName) > 53 || !validate.IsDNSLabel(a.ReleaseName) {
		p.Addf("releaseName", "%q is not a Helm release name (a DNS label of at most 53 characters)", a.ReleaseName)
	}
	a.Chart.Validate(p, "chart")
	text, err := nautobotpod.NautobotConfig(a.NautobotConfig)
	if err != nil {
		p.Addf("nautobotConfig", "%v", err)
	}
	a.Image.Validate(p, "image")
	if *a.Concurrency < 0 {
		p.Addf("concurrency", "%d is negative; use 0 (Celery's default: one process per CPU) or more", *a.Concurrency)
	}
	if *a.Replicas < 0 {
		p.Addf("replicas", "%d is negative", *a.Replicas)
	}
	for _, key := range slices.Sorted(maps.Keys(a.Resources)) {
		if key != "requests" && key != "limits" {
			p.Addf("resources."+key, "is not a container resources field; use requests and limits")
		}
	}
	for _, probe := range []struct {
		key string
		Probe
	}{{"livenessProbe", a.LivenessProbe}, {"readinessProbe", a.ReadinessProbe.Probe}} {
		if probe.InitialDelaySeconds < 1 || probe.PeriodSeconds < 1 || probe.TimeoutSeconds < 1 {
			p.Addf(probe.key, "initialDelaySeconds, periodSeconds and timeoutSeconds must be at least 1 second")
		}
	}
	a.validateExtras(p)
	a.ServerNames.Validate(p)
	a.checkHosts(p)
	if err == nil {
		_, conflicts := a.values(text)
		chart.ReportOwned(p, ConfigKey, conflicts, hint)
	}
	return p.Err()
}

// Cluster returns the provider of the site cluster.
func (a Args) Cluster() (*kubernetes.Provider, error) {
	if a.Provider == nil {
		return nil, errors.New("worker: Args.Provider is required (the site cluster's Kubernetes provider)")
	}
	return a.Provider, nil
}

func hint(path string) string {
	switch path {
	case "fullnameOverride", "nameOverride":
		return "the stack derives the worker's Deployment name from worker.releaseName, set that instead"
	}
	for _, r := range overrideHints {
		if path == r.path || strings.HasPrefix(path, r.path+".") {
			return r.hint
		}
	}
	return "it keeps the release worker-only and wired for mTLS (see the README, section Site stack config)"
}

// checkHosts checks the hosts the worker connects to, the global stack's gateway FQDNs unless
// extraEnvVars override them, against the names the global server certificates carry.
func (a Args) checkHosts(p *validate.Problems) {
	db := nautobotpod.Host{Key: "databaseSslMode", Host: a.DB.Host, Names: a.DBServerNames,
		AddName: "the global stack's certificates.postgres.extraDnsNames"}
	redis := nautobotpod.Host{Key: "redisCheckHostname", Host: a.Redis.Host, Names: a.RedisServerNames,
		AddName: "the global stack's certificates.redis.extraDnsNames"}
	// The chart's env entries win over its ConfigMap's NAUTOBOT_DB_HOST and NAUTOBOT_REDIS_HOST.
	for i, e := range a.ExtraEnvVars {
		switch e.Name {
		case "NAUTOBOT_DB_HOST":
			db.Key, db.Host = fmt.Sprintf("extraEnvVars[%d].value", i), e.Value
		case "NAUTOBOT_REDIS_HOST":
			redis.Key, redis.Host = fmt.Sprintf("extraEnvVars[%d].value", i), e.Value
		}
	}
	a.ServerNames.CheckHosts(p, ConfigKey, db, redis)
}

func (a Args) validateExtras(p *validate.Problems) {
	reserved := map[string]bool{"CELERY_TASK_QUEUES": true, "NAUTOBOT_DB_USER": true, "NAUTOBOT_DB_PASSWORD": true, "NAUTOBOT_REDIS_PASSWORD": true}
	for _, e := range nautobotpod.Env(true, nautobotpod.ServerNames{}) {
		reserved[e.Name] = true
	}
	seen := map[string]bool{}
	for i, e := range a.ExtraEnvVars {
		key := fmt.Sprintf("extraEnvVars[%d].name", i)
		switch {
		case !envName.MatchString(e.Name):
			p.Addf(key, "%q is not an environment variable name", e.Name)
		case reserved[e.Name]:
			p.Addf(key, "%s is set by the stack (mTLS and queue wiring); remove it", e.Name)
		case seen[e.Name]:
			p.Addf(key, "%s is listed twice", e.Name)
		}
		seen[e.Name] = true
	}
	for i, v := range a.ExtraVolumes {
		if name, _ := v["name"].(string); !validate.IsDNSLabel(name) || name == nautobotpod.VolumeName {
			p.Addf(fmt.Sprintf("extraVolumes[%d].name", i), "%q must be a DNS label other than %s (the stack's mTLS volume)", name, nautobotpod.VolumeName)
		}
	}
	for i, m := range a.ExtraVolumeMounts {
		name, _ := m["name"].(string)
		path, _ := m["mountPath"].(string)
		if name == "" || name == nautobotpod.VolumeName || !strings.HasPrefix(path, "/") {
			p.Addf(fmt.Sprintf("extraVolumeMounts[%d]", i), "needs a name other than %s and an absolute mountPath", nautobotpod.VolumeName)
		} else if path == nautobotpod.MountPath || strings.HasPrefix(path, nautobotpod.MountPath+"/") {
			p.Addf(fmt.Sprintf("extraVolumeMounts[%d].mountPath", i), "%s would hide or change the mTLS certificate mount; use another path", path)
		}
	}
}

// values returns the chart values (the stack's, plus Args.Values where they add keys) and the paths of
// Args.Values that collide with the stack's.
func (a Args) values(config string) (map[string]any, []string) {
	image := a.Image.Values()
	image["pullSecrets"] = []any{a.Secrets.Registry}
	env := nautobotpod.EnvValues(append(nautobotpod.Env(true, a.ServerNames), a.ExtraEnvVars...))
	volumes := []any{nautobotpod.Volume(a.Secrets.MTLS)}
	mounts := []any{nautobotpod.Mount()}
	for _, v := range a.ExtraVolumes {
		volumes = append(volumes, v)
	}
	for _, m := range a.ExtraVolumeMounts {
		mounts = append(mounts, m)
	}
	db, redis := a.DB, a.Redis
	db.Secret = a.Secrets.DB
	redis.Secret, redis.PasswordKey = a.Secrets.Redis, nautobotpod.SiteRedisPasswordKey
	celery := map[string]any{
		"concurrency":        *a.Concurrency,
		"replicaCount":       *a.Replicas,
		"livenessProbe":      a.LivenessProbe.values(),
		"readinessProbe":     a.ReadinessProbe.values(),
		"extraEnvVarsCM":     []any{nautobotpod.ClusterData},
		"extraEnvVarsSecret": []any{a.Secrets.Django, a.Secrets.CustomEnv},
		"extraEnvVars":       env,
		"extraVolumes":       volumes,
		"extraVolumeMounts":  mounts,
	}
	if len(a.Resources) > 0 {
		celery["resources"] = chart.CloneValue(a.Resources)
	}
	ours := map[string]any{
		"nautobot": map[string]any{
			// nautobot.enabled alone keeps the web Deployment (nautobots.default wins the merge); it still
			// gates the chart's media PVC.
			"enabled":    false,
			"singleInit": false, // its init Job is a Helm hook, which Chart v4 would silently drop
			"superUser":  map[string]any{"enabled": false},
			"config":     config,
			"image":      image,
			"db":         db.Values(),
			"django":     nautobotpod.Django(a.Secrets.Django),
			"redis":      redis.Values(),
		},
		// initNautobot: false as well, because chart 3.1.1 renders the web server's nginx ConfigMap for every
		// nautobots entry that has it, enabled or not.
		"nautobots": map[string]any{"default": map[string]any{"enabled": false, "initNautobot": false}},
		"celery":    celery,
		"workers": map[string]any{
			"default": map[string]any{"enabled": false},
			"beat":    map[string]any{"enabled": false},
			a.Site:    map[string]any{"enabled": true, "taskQueues": a.Site},
		},
		"redis":      map[string]any{"enabled": false},
		"postgresql": map[string]any{"enabled": false},
		"ingress":    map[string]any{"enabled": false},
	}
	var conflicts []string
	owned := []string{"fullnameOverride", "nameOverride", "nautobots", "celery.enabled", "celery.command",
		"celery.args", "celery.taskQueues", "celery.type", "workers." + a.Site + ".command", "workers." + a.Site + ".args",
		"workers." + a.Site + ".type"}
	if extra, ok := a.Values["workers"].(map[string]any); ok {
		for _, key := range slices.Sorted(maps.Keys(extra)) {
			if _, known := ours["workers"].(map[string]any)[key]; !known {
				owned = append(owned, "workers."+key)
			}
		}
	}
	// Paths worker.values may not even add: another worker (possibly on the global default queue), a web
	// server, or a command, args, queues or type that change what the site's worker consumes (chart 3.1.1
	// turns a worker of type kubernetes into Job manifests for beat, with no Deployment at all).
	for _, path := range owned {
		if chart.HasValue(a.Values, path) {
			conflicts = append(conflicts, path)
		}
	}
	conflicts = append(conflicts, chart.AddValues(ours, a.Values)...)
	return ours, conflicts
}

func (p Probe) values() map[string]any {
	return map[string]any{
		"initialDelaySeconds": p.InitialDelaySeconds, "periodSeconds": p.PeriodSeconds, "timeoutSeconds": p.TimeoutSeconds,
	}
}

func (p ReadinessProbe) values() map[string]any {
	v := p.Probe.values()
	if *p.CheckDatabase {
		v["exec"] = map[string]any{"command": []any{"bash", "-c", DatabaseReadinessCommand}}
	}
	return v
}

// CeleryWorker is one site's worker release and the ConfigMap it reads.
type CeleryWorker struct {
	pulumi.ResourceState
	component.WithArgs[Args]

	// ReleaseName is the Helm release.
	ReleaseName pulumi.StringOutput `pulumi:"releaseName"`
	// Deployment is the worker Deployment's name, <fullname>-celery-<site>.
	Deployment pulumi.StringOutput `pulumi:"deployment"`
	// Queue is the Celery queue the worker consumes (the site name).
	Queue pulumi.StringOutput `pulumi:"queue"`

	// Chart is the helm/v4 Chart.
	Chart *helmv4.Chart
}

// DeploymentName is the chart's worker Deployment name: the chart's fullname (the release name when it
// contains the chart name, else <release>-nautobot) followed by -celery-<site>.
func (a Args) DeploymentName() string {
	full := a.ReleaseName
	if !strings.Contains(full, "nautobot") {
		full += "-nautobot"
	}
	return full + "-celery-" + a.Site
}

// NewCeleryWorker registers the cluster-data ConfigMap and the chart. The chart values are plain values
// known at preview, so a preview shows the real diff of every rendered object.
func NewCeleryWorker(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*CeleryWorker, error) {
	return component.New(ctx, "nautobot:worker:CeleryWorker", name, args, &CeleryWorker{}, opts,
		func(c *CeleryWorker, k8s []pulumi.ResourceOption) (pulumi.Map, error) {
			a := c.Args
			config, err := nautobotpod.NautobotConfig(a.NautobotConfig)
			if err != nil {
				return nil, fmt.Errorf("config %s.nautobotConfig: %w", ConfigKey, err)
			}
			values, _ := a.values(config)
			clusterData, err := corev1.NewConfigMap(ctx, name+"-cluster-data", &corev1.ConfigMapArgs{
				Metadata: kube.Metadata(kube.Object{Namespace: a.Namespace, Name: nautobotpod.ClusterData}),
				Data: pulumi.StringMap{
					nautobotpod.PartitionVar: pulumi.String(a.Partition), nautobotpod.SiteVar: pulumi.String(a.Site),
				},
			}, k8s...)
			if err != nil {
				return nil, err
			}
			c.Chart, err = nautobotpod.NewRelease(ctx, name, nautobotpod.Release{
				Chart: a.Chart, ChartKey: ConfigKey + ".chart", CacheDir: a.ChartCacheDir,
				Name: a.ReleaseName, Namespace: a.Namespace, SkipAwait: a.SkipAwait, Values: values, SecretValues: a.SecretValues,
			}, append(k8s, pulumi.DependsOn([]pulumi.Resource{clusterData}))...)
			if err != nil {
				return nil, err
			}

			c.ReleaseName = pulumi.String(a.ReleaseName).ToStringOutput()
			c.Deployment = pulumi.String(a.DeploymentName()).ToStringOutput()
			c.Queue = pulumi.String(a.Site).ToStringOutput()
			return pulumi.Map{
				"releaseName": c.ReleaseName, "deployment": c.Deployment, "queue": c.Queue,
			}, nil
		})
}
