// Package site is the program of a site stack: the site's secrets, the cluster-data ConfigMap and one
// Celery worker on the site's queue, wired to the global PostgreSQL and Redis named by the global stack.
package site

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"nautobot-worker/components/authority"
	"nautobot-worker/components/sitesecrets"
	"nautobot-worker/components/worker"
	"nautobot-worker/internal/kube"
	"nautobot-worker/internal/nautobotpod"
	"nautobot-worker/internal/stackconfig"
	"nautobot-worker/internal/validate"
)

// DefaultGlobalStack is the global stack of the project in the site stack's own organization: on Pulumi
// Cloud the site's organization, on a self-managed (file or object store) backend "organization", so the
// default follows the backend in use.
func DefaultGlobalStack(ctx *pulumi.Context) string {
	return ctx.Organization() + "/" + ctx.Project() + "/global"
}

// PreviewBeforeGlobalKey is set to true only by the fleet runner, in the copy of a site's stack file it
// previews in its sandbox: a site the backend does not have yet (a pull request's new site) may preview
// before the global stack lists it. A site that exists is refused, as by its up: global no longer lists it.
const PreviewBeforeGlobalKey = "previewBeforeGlobal"

// SiteConfig is the `site` config key.
type SiteConfig struct {
	// Name is the site (required): the worker's name, its Celery queue and UNDERSTACK_SITE.
	Name string `json:"name"`
	// Enabled deploys the site (default true); false deploys nothing.
	Enabled *bool `json:"enabled"`
	// Partition is UNDERSTACK_PARTITION (default empty).
	Partition string `json:"partition"`
}

// Config is a site stack's configuration (Pulumi.site-<name>.yaml).
type Config struct {
	Kubernetes kube.ClusterConfig
	Site       SiteConfig
	// GlobalStack is the fully qualified name of the global stack (default DefaultGlobalStack).
	GlobalStack string
	// Namespace of the site's objects (default nautobot).
	Namespace string
	// CreateNamespace registers the namespace (default true; not protected: a site is disposable).
	CreateNamespace bool
	// Secrets and Worker are defaulted, with the site's namespace and names filled in.
	Secrets sitesecrets.Args
	Worker  worker.Args
	// PreviewBeforeGlobal is a preview the fleet runner's sandbox runs of a site it does not have yet.
	PreviewBeforeGlobal bool
	// privateKeyTypeSet records whether secrets.mtls.privateKeyType was configured, so the global stack's
	// key type fills it only when it was not.
	privateKeyTypeSet bool
}

// Enabled reports whether the site deploys anything.
func (c Config) Enabled() bool { return c.Site.Enabled == nil || *c.Site.Enabled }

// LoadConfig reads and validates the stack config; it registers nothing. A disabled site needs only its name.
func LoadConfig(ctx *pulumi.Context) (Config, error) {
	r := stackconfig.New(ctx)
	if err := r.CheckKeys("role", "kubernetes", "site", "globalStack", "namespace", "createNamespace",
		sitesecrets.ConfigKey, worker.ConfigKey, PreviewBeforeGlobalKey); err != nil {
		return Config{}, err
	}
	globalStack, errGlobal := r.String("globalStack", DefaultGlobalStack(ctx))
	beforeGlobal, errBefore := r.String(PreviewBeforeGlobalKey, "false")
	namespace, errNamespace := r.String("namespace", "nautobot")
	createNamespace, errCreate := r.String("createNamespace", "true")
	if err := errors.Join(errGlobal, errNamespace, errCreate, errBefore); err != nil {
		return Config{}, err
	}
	c := Config{GlobalStack: globalStack, Namespace: namespace, PreviewBeforeGlobal: beforeGlobal == "true" && ctx.DryRun()}
	for _, o := range []struct {
		key string
		v   any
	}{{"kubernetes", &c.Kubernetes}, {"site", &c.Site}, {sitesecrets.ConfigKey, &c.Secrets}, {worker.ConfigKey, &c.Worker}} {
		if err := r.Object(o.key, o.v); err != nil {
			return c, err
		}
	}
	p := validate.New("")
	worker.SiteName(p, "site.name", c.Site.Name)
	if createNamespace != "true" && createNamespace != "false" {
		p.Addf("createNamespace", "%q is not a boolean; use true or false", createNamespace)
	}
	c.CreateNamespace = createNamespace == "true"
	if parts := strings.Split(c.GlobalStack, "/"); len(parts) != 3 || slices.Contains(parts, "") || strings.ContainsAny(c.GlobalStack, " \t") {
		p.Addf("globalStack", "%q is not a fully qualified stack name; use <org>/<project>/<stack> such as %s", c.GlobalStack, DefaultGlobalStack(ctx))
	}
	own := validate.InConfig("", nil, p.Err())
	if !c.Enabled() {
		return c, own
	}

	c.privateKeyTypeSet = c.Secrets.MTLS.PrivateKeyType != ""
	c.Secrets.Namespace = c.Namespace
	c.Secrets = c.Secrets.Defaults()
	t := c.Secrets.Targets()
	c.Worker.Namespace, c.Worker.Site, c.Worker.Partition = c.Namespace, c.Site.Name, c.Site.Partition
	c.Worker.Secrets = worker.SecretNames{
		Django: t.Django, DB: t.DB, Redis: t.Redis, Registry: t.Registry, CustomEnv: t.CustomEnv, MTLS: t.MTLS,
	}
	c.Worker = c.Worker.Defaults()
	// Every component's plain args are validated before the first registration, so a bad value anywhere
	// fails the preview with nothing registered.
	return c, validate.Join(own,
		validate.InConfig(sitesecrets.ConfigKey, origins, c.Secrets.Validate()),
		validate.InConfig(worker.ConfigKey, origins, c.Worker.Validate()))
}

// origins are the component args the site stack fills from its own keys (see validate.InConfig).
var origins = map[string]string{
	sitesecrets.ConfigKey + ".namespace": "namespace",
	worker.ConfigKey + ".namespace":      "namespace",
	worker.ConfigKey + ".site":           "site.name",
}

// Global is what a site takes from the global stack's outputs.
type Global struct {
	// Namespace of the global objects, where the sources of the site's certificates live.
	Namespace string
	DB        nautobotpod.Database
	Redis     nautobotpod.Redis
	Sites     []string
	// ClientSecret is the global secret holding this site's client certificate (siteClientSecrets[site]).
	ClientSecret string
	// CASecret is the global secret holding only ca.crt.
	CASecret string
	// ClientKeyPEMType is the PEM type of the issued keys, when the global stack exports it.
	ClientKeyPEMType string
	// DatabaseDirectTLS is whether PostgreSQL accepts direct TLS, when the global stack exports it.
	DatabaseDirectTLS *bool
	// DBServerNames and RedisServerNames are the server certificates' DNS names, when the global stack
	// exports them.
	DBServerNames, RedisServerNames []string
	// CASource is who makes the global root CA (authority.root), and CACertPEM its certificate, which only
	// a pulumi-tls root exports; both empty for a global stack deployed before them.
	CASource, CACertPEM string
	// RedisUser is the Redis user the global stack gives this site (its redisUsers output), empty when it
	// gives none.
	RedisUser string
	// Secret names the outputs the global stack marks secret.
	Secret map[string]bool
	// WaitsForGlobal is a preview of a site that the global stack does not list yet.
	WaitsForGlobal bool
}

// ReadGlobal reads the global stack's outputs and checks each one the site needs, and that the site is
// one of the global stack's sites (the fleet runner's preview of a new site only notes that it is not:
// WaitsForGlobal). Go has no RequireOutput, so a missing output would otherwise be empty.
func ReadGlobal(ctx *pulumi.Context, stack, site string, beforeGlobal bool) (Global, error) {
	ref, err := pulumi.NewStackReference(ctx, "global", &pulumi.StackReferenceArgs{Name: pulumi.String(stack)})
	if err != nil {
		return Global{}, fmt.Errorf("global stack %q (config globalStack): %w", stack, err)
	}
	g := Global{Secret: map[string]bool{}}
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("global stack %q (config globalStack): "+format, append([]any{stack}, args...)...))
	}
	get := func(name string) (any, bool) {
		d, err := ref.GetOutputDetails(name)
		if err != nil {
			fail("reading output %q: %v", name, err)
			return nil, false
		}
		v := d.Value
		if d.SecretValue != nil {
			v, g.Secret[name] = d.SecretValue, true
		}
		if v == nil {
			fail("has no output %q; run `pulumi up` on the global stack first, or point globalStack at the right stack", name)
			return nil, false
		}
		return v, true
	}
	str := func(name string) string {
		v, ok := get(name)
		if !ok {
			return ""
		}
		s, _ := v.(string)
		if s == "" {
			fail("output %q is %v, want a non-empty string", name, v)
		}
		return s
	}
	port := func(name string) int {
		v, ok := get(name)
		if !ok {
			return 0
		}
		f, _ := v.(float64)
		if f < 1 || f > 65535 || f != math.Trunc(f) {
			fail("output %q is %v, want a TCP port", name, v)
			return 0
		}
		return int(f)
	}

	g.Namespace = str("namespace")
	g.DB = nautobotpod.Database{Host: str("dbFqdn"), Port: port("dbPort"), Name: str("dbName"), User: str("dbUser")}
	g.Redis = nautobotpod.Redis{Host: str("redisFqdn"), Port: port("redisPort")}
	g.CASecret = str("caCertSecretName")
	if v, ok := get("sites"); ok {
		list, _ := v.([]any)
		for _, s := range list {
			if name, ok := s.(string); ok {
				g.Sites = append(g.Sites, name)
			}
		}
		switch {
		case slices.Contains(g.Sites, site):
		case beforeGlobal:
			// A pull request that adds a site previews it before global's up lists it: the plan is the
			// site's own; only where its certificate comes from is unknown until then.
			g.WaitsForGlobal = true
		default:
			errs = append(errs, fmt.Errorf("config site.name: site %q is not in the sites output of the global stack %q (%s); add it to the global stack's sites config and run `pulumi up` there first",
				site, stack, strings.Join(g.Sites, ", ")))
		}
	}
	if v, ok := get("siteClientSecrets"); ok {
		m, _ := v.(map[string]any)
		g.ClientSecret, _ = m[site].(string)
		if g.ClientSecret == "" && slices.Contains(g.Sites, site) {
			fail("output siteClientSecrets has no secret for site %q; run `pulumi up` on the global stack so it issues the site's client certificate", site)
		}
	}
	// Optional: older global stacks do not export it, and the site's own setting (or default) applies.
	if d, err := ref.GetOutputDetails("clientKeyPemType"); err == nil {
		g.ClientKeyPEMType, _ = d.Value.(string)
	}
	if d, err := ref.GetOutputDetails("databaseDirectTls"); err == nil {
		if direct, ok := d.Value.(bool); ok {
			g.DatabaseDirectTLS = &direct
		}
	}
	for name, names := range map[string]*[]string{"dbServerNames": &g.DBServerNames, "redisServerNames": &g.RedisServerNames} {
		if d, err := ref.GetOutputDetails(name); err == nil {
			list, _ := d.Value.([]any)
			for _, n := range list {
				if s, ok := n.(string); ok {
					*names = append(*names, s)
				}
			}
		}
	}
	// Optional: a global stack without nautobot.redis.siteUsers exports none.
	if d, err := ref.GetOutputDetails("redisUsers"); err == nil {
		users, _ := d.Value.(map[string]any)
		g.RedisUser, _ = users[site].(string)
	}
	if d, err := ref.GetOutputDetails("caSource"); err == nil {
		g.CASource, _ = d.Value.(string)
	}
	// The global stack exports the certificate in plain text; were it marked secret, a certificate is still
	// public, and the site writes it into the ExternalSecret's spec either way.
	if d, err := ref.GetOutputDetails("caCertPem"); err == nil {
		v := d.Value
		if d.SecretValue != nil {
			v = d.SecretValue
		}
		g.CACertPEM, _ = v.(string)
	}
	return g, errors.Join(errs...)
}

// Build validates the config and the global stack's outputs, then registers the site's resources; it
// returns the stack outputs.
func Build(ctx *pulumi.Context) (map[string]pulumi.Input, error) {
	c, err := LoadConfig(ctx)
	if err != nil {
		return nil, err
	}
	if !c.Enabled() {
		if err := ctx.Log.Info(fmt.Sprintf("site %s is disabled (site.enabled: false): nothing is deployed", c.Site.Name), nil); err != nil {
			return nil, err
		}
		return map[string]pulumi.Input{
			"site": pulumi.String(c.Site.Name), "enabled": pulumi.Bool(false),
		}, nil
	}
	g, err := ReadGlobal(ctx, c.GlobalStack, c.Site.Name, c.PreviewBeforeGlobal)
	if err != nil {
		return nil, err
	}
	if err := c.applyGlobal(g); err != nil {
		return nil, err
	}
	if g.RedisUser != "" && !c.Worker.RedisSiteUser {
		if err := ctx.Log.Warn(fmt.Sprintf("the global stack gives this site the Redis user %s, but the worker still uses the fleet's shared Redis password: put the password of %s into the item of secrets.redis.key and set worker.redisSiteUser: true (README, Security model)", g.RedisUser, g.RedisUser), nil); err != nil {
			return nil, err
		}
	}

	target, err := kube.NewTarget(ctx, "site", c.Kubernetes, c.Namespace, c.CreateNamespace)
	if err != nil {
		return nil, err
	}
	provider, deps := target.Provider, target.InNamespace
	secretsArgs := c.Secrets
	secretsArgs.Provider = provider
	secrets, err := sitesecrets.NewSiteSecrets(ctx, "secrets", &secretsArgs, pulumi.DependsOn(deps))
	if err != nil {
		return nil, err
	}
	workerArgs := c.Worker
	workerArgs.Provider = provider
	w, err := worker.NewCeleryWorker(ctx, "worker", &workerArgs, pulumi.DependsOn(append(deps, secrets.ExternalSecrets...)))
	if err != nil {
		return nil, err
	}

	source := func(output, secret string) pulumi.Input {
		v := pulumi.ToMap(map[string]any{"stack": c.GlobalStack, "namespace": g.Namespace, "secret": secret})
		if g.Secret[output] || g.Secret["namespace"] {
			return pulumi.ToSecret(v)
		}
		return v
	}
	clientCertSource := source("siteClientSecrets", g.ClientSecret)
	if g.WaitsForGlobal {
		clientCertSource = pulumi.UnsafeUnknownOutput(nil)
		if err := ctx.Log.Warn(fmt.Sprintf("waits for global: the global stack %s does not list site %s yet, so its client certificate does not exist; this preview shows the site's plan, and its up is refused until global's up lists the site", c.GlobalStack, c.Site.Name), nil); err != nil {
			return nil, err
		}
	}
	return map[string]pulumi.Input{
		"site":             pulumi.String(c.Site.Name),
		"enabled":          pulumi.Bool(true),
		"queue":            w.Queue,
		"namespace":        pulumi.String(c.Namespace),
		"releaseName":      w.ReleaseName,
		"workerDeployment": w.Deployment,
		"secrets": pulumi.Map{
			"django": secrets.Django, "db": secrets.DB, "redis": secrets.Redis, "registry": secrets.Registry,
			"customEnv": secrets.CustomEnv, "mtlsClient": secrets.MTLS,
		},
		// Where the items behind secrets.mtls.clientKey and secrets.mtls.caKey come from on the global cluster.
		"clientCertSource": clientCertSource,
		"caCertSource":     c.caCertSource(g, source),
	}, nil
}

// caCertSource is where ca.crt comes from: the global secret behind secrets.mtls.caKey, or the global
// stack's output itself.
func (c *Config) caCertSource(g Global, source func(output, secret string) pulumi.Input) pulumi.Input {
	if c.Secrets.MTLS.CAFrom == sitesecrets.CAFromGlobalStack {
		return pulumi.ToMap(map[string]any{"stack": c.GlobalStack, "output": "caCertPem"})
	}
	return source("caCertSecretName", g.CASecret)
}

// applyGlobal puts the global stack's endpoints into the worker args and checks what the site must agree
// with: direct TLS, the CA source and the key type.
func (c *Config) applyGlobal(g Global) error {
	c.Worker.DB, c.Worker.Redis = g.DB, g.Redis
	for _, name := range []string{"dbFqdn", "dbPort", "dbName", "dbUser", "redisFqdn", "redisPort"} {
		c.Worker.SecretValues = c.Worker.SecretValues || g.Secret[name]
	}
	// A site has no setting for this: it reaches PostgreSQL only through the passthrough gateway, which
	// routes by SNI, so it must open TLS first (sslnegotiation=direct).
	if g.DatabaseDirectTLS != nil && !*g.DatabaseDirectTLS {
		return errors.New("config globalStack: the global stack exports databaseDirectTls: false (its config database.directTls), " +
			"but a site reaches PostgreSQL only through the TLS-passthrough gateway, which routes by SNI and so needs direct TLS " +
			"(sslnegotiation=direct): every site would fail with `write failed: EOF`; set database.directTls: true on the global stack " +
			"(PostgreSQL 17 or newer) and run `pulumi up` there first")
	}
	if err := c.applyGlobalCA(g); err != nil {
		return err
	}
	if c.Worker.RedisSiteUser {
		if g.RedisUser == "" {
			return fmt.Errorf("config worker.redisSiteUser: the global stack %s gives site %s no Redis user (no redisUsers output for it), so Redis would refuse the worker; "+
				"set redisSiteKey on the global stack (nautobot.redis.siteUsers) and run `pulumi up` there first, or remove worker.redisSiteUser to use the fleet's shared password",
				c.GlobalStack, c.Site.Name)
		}
		c.Worker.Redis.Username = g.RedisUser
	}
	// Now that the hosts and the names the server certificates carry are known, the worker checks them.
	c.Worker.DBServerNames, c.Worker.RedisServerNames = g.DBServerNames, g.RedisServerNames
	if err := validate.InConfig(worker.ConfigKey, origins, c.Worker.Validate()); err != nil {
		return err
	}
	switch {
	case g.ClientKeyPEMType == "" || g.ClientKeyPEMType == c.Secrets.MTLS.PrivateKeyType:
	case !c.privateKeyTypeSet:
		c.Secrets.MTLS.PrivateKeyType = g.ClientKeyPEMType
		return validate.InConfig(sitesecrets.ConfigKey, origins, c.Secrets.Validate())
	default:
		return fmt.Errorf("config secrets.mtls.privateKeyType: %q does not match the keys the global stack issues (clientKeyPemType %q), so tls.key would be empty; remove the key or set it to %q",
			c.Secrets.MTLS.PrivateKeyType, g.ClientKeyPEMType, g.ClientKeyPEMType)
	}
	return nil
}

// applyGlobalCA hands the global stack's CA certificate to the site secrets when ca.crt comes from there,
// which only a global stack with a pulumi-tls root can serve: a cert-manager root's certificate exists only
// in the global cluster. A global stack deployed before caSource serves provider-mode sites as before.
func (c *Config) applyGlobalCA(g Global) error {
	if c.Secrets.MTLS.CAFrom != sitesecrets.CAFromGlobalStack {
		return nil
	}
	var found string
	switch {
	case g.CASource == "":
		found = "no caSource (it predates authority.root, so its root is cert-manager's)"
	case g.CASource != authority.RootPulumiTLS:
		found = fmt.Sprintf("caSource %q", g.CASource)
	case g.CACertPEM == "":
		found = fmt.Sprintf("caSource %q but no caCertPem", g.CASource)
	default:
		c.Secrets.MTLS.CACertPEM = g.CACertPEM
		return validate.InConfig(sitesecrets.ConfigKey, origins, c.Secrets.Validate())
	}
	return fmt.Errorf("config secrets.mtls.caFrom: %s reads ca.crt from the global stack's caCertPem output, which a global stack exports only with authority.root: %s, and this one exports %s; "+
		"set authority.root: %s on the global stack and run `pulumi up` there first, or set secrets.mtls.caFrom: %s with secrets.mtls.caKey",
		sitesecrets.CAFromGlobalStack, authority.RootPulumiTLS, found, authority.RootPulumiTLS, sitesecrets.CAFromProvider)
}
