// Package global is the program of the global stack: the mTLS CA hierarchy, the certificates it signs,
// the CNPG cluster, the gateway, and the outputs every site stack reads.
package global

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"nautobot-worker/components/authority"
	"nautobot-worker/components/certificates"
	"nautobot-worker/components/database"
	"nautobot-worker/components/distribution"
	"nautobot-worker/components/gateway"
	"nautobot-worker/components/nautobot"
	"nautobot-worker/components/redisusers"
	"nautobot-worker/components/worker"
	"nautobot-worker/internal/kube"
	"nautobot-worker/internal/nautobotpod"
	"nautobot-worker/internal/stackconfig"
	"nautobot-worker/internal/validate"
)

// Site is one entry of the `sites` list: adding one is the only global-side step to add a site.
type Site struct {
	Name string `json:"name"`
	// EgressCIDRs are the site workers' source addresses (node, pod or NAT ranges) for the firewall table.
	EgressCIDRs []string `json:"egressCidrs"`
	// RedisPasswordRotation counts the rotations of the site's Redis password (default 0): raise it to give
	// the site a new password, which drops the old one at the same `up`.
	RedisPasswordRotation int `json:"redisPasswordRotation"`
}

// Endpoints are the gateway names and ports of PostgreSQL and Redis. One value feeds both the TLS routes
// and the server certificates' SANs, so the SNI name and the SAN cannot drift apart.
type Endpoints struct {
	// Domain derives the FQDNs nautobot-db.<domain> and nautobot-redis.<domain>.
	Domain    string `json:"domain"`
	DBFQDN    string `json:"dbFqdn"`
	RedisFQDN string `json:"redisFqdn"`
	DBPort    int    `json:"dbPort"`
	RedisPort int    `json:"redisPort"`
	// Address is the gateway's load-balancer VIP, for the firewall table (default: the Gateway status).
	Address string `json:"address"`
}

// GatewayConfig is the `gateway` config key: the component's args plus the endpoints.
type GatewayConfig struct {
	gateway.Args
	Endpoints
	// Enabled creates the Gateway API objects (default true).
	Enabled *bool `json:"enabled"`
}

// Config is the global stack's configuration (Pulumi.global.yaml).
type Config struct {
	Kubernetes kube.ClusterConfig
	// Namespace of everything the global stack deploys (default nautobot).
	Namespace string
	// CreateNamespace registers the namespace (protected, retained on delete); false when it exists already.
	CreateNamespace bool
	// RedisService is the Redis master Service of the global Nautobot release.
	RedisService string
	Sites        []Site
	Authority    authority.Args
	Certificates certificates.Args
	Database     database.Args
	Gateway      GatewayConfig
	Nautobot     nautobot.Args
	// Distribution pushes the sites' certificates to their secrets provider (opt-in).
	Distribution distribution.Config
	// RedisUsers are the sites' Redis users, when nautobot.redis.siteUsers is on.
	RedisUsers redisusers.Args
}

// SiteUsers reports whether every site has a Redis user of its own (nautobot.redis.siteUsers).
func (c Config) SiteUsers() bool { return *c.Nautobot.Redis.SiteUsers }

// LoadConfig reads, completes and validates the stack config; it registers nothing.
func LoadConfig(ctx *pulumi.Context) (Config, error) {
	r := stackconfig.New(ctx)
	if err := r.CheckKeys("role", "kubernetes", "namespace", "createNamespace", "sites", authority.ConfigKey,
		certificates.ConfigKey, database.ConfigKey, gateway.ConfigKey, nautobot.ConfigKey, "djangoSecretKey",
		"redisPassword", "redisSiteKey", distribution.ConfigKey); err != nil {
		return Config{}, err
	}
	namespace, errNamespace := r.String("namespace", "nautobot")
	createNamespace, errCreate := r.String("createNamespace", "true")
	if err := errors.Join(errNamespace, errCreate); err != nil {
		return Config{}, err
	}
	c := Config{Namespace: namespace}
	c.CreateNamespace = createNamespace == "true"
	errs := []error{
		r.Object("kubernetes", &c.Kubernetes),
		r.Object("sites", &c.Sites),
		r.Object(authority.ConfigKey, &c.Authority),
		r.Object(certificates.ConfigKey, &c.Certificates),
		r.Object(database.ConfigKey, &c.Database),
		r.Object(gateway.ConfigKey, &c.Gateway),
		r.Object(nautobot.ConfigKey, &c.Nautobot),
		r.Object(distribution.ConfigKey, &c.Distribution),
	}
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	p := validate.New("")
	p.DNSLabel("namespace", c.Namespace)
	if c.Kubernetes.DeleteUnreachable {
		p.Addf("kubernetes.deleteUnreachable", "is refused on the global stack: a refresh while its cluster is unreachable would drop the CA, the database and the namespace from the state; remove the key (it is for retiring a site whose cluster is gone)")
	}
	if createNamespace != "true" && createNamespace != "false" {
		p.Addf("createNamespace", "%q is not a boolean; use true or false", createNamespace)
	}
	origins := c.complete()
	djangoKey, hasDjango, errDjango := r.Secret("djangoSecretKey")
	redisPassword, hasRedis, errRedis := r.Secret("redisPassword")
	if err := errors.Join(errDjango, errRedis); err != nil {
		return c, err
	}
	if hasDjango != hasRedis {
		p.Addf("djangoSecretKey", "set both djangoSecretKey and redisPassword (pulumi config set --secret) to have the stack create the secrets, or neither to use existing ones")
	}
	c.Nautobot.CreateSecrets = hasDjango && hasRedis
	c.Nautobot.DjangoSecretKey, c.Nautobot.RedisPasswordValue = djangoKey, redisPassword
	siteKey, hasSiteKey, err := r.SecretValue("redisSiteKey")
	if err != nil {
		return c, err
	}
	redisUsers := c.completeRedisUsers(p, siteKey, hasSiteKey)
	c.validateSites(p)
	c.validateEndpoints(p)
	c.validateIdentities(p)
	return c, validate.Join(
		validate.InConfig("", nil, redisUsers),
		validate.InConfig("", nil, p.Err()),
		validate.InConfig(authority.ConfigKey, origins, c.Authority.Validate()),
		validate.InConfig(certificates.ConfigKey, origins, c.Certificates.Validate()),
		validate.InConfig(database.ConfigKey, origins, c.Database.Validate()),
		validate.InConfig(gateway.ConfigKey, origins, c.gatewayArgs().Validate()),
		validate.InConfig(nautobot.ConfigKey, origins, c.Nautobot.Validate()),
		validate.InConfig(distribution.ConfigKey, origins, c.validateDistribution()))
}

// completeRedisUsers turns the sites' Redis users on where the stack has a key to derive their passwords
// from, unless nautobot.redis.siteUsers says otherwise, and puts their ACL into the Redis configuration.
// It returns the users' problems.
func (c *Config) completeRedisUsers(p *validate.Problems, key string, hasKey bool) error {
	r := &c.Nautobot.Redis
	if r.SiteUsers == nil {
		r.SiteUsers = &hasKey
	}
	if !*r.SiteUsers {
		return nil
	}
	if !hasKey {
		p.Addf("nautobot.redis.siteUsers", "is true, but redisSiteKey, from which every site's Redis password is derived, is not set; "+
			"set it with `pulumi config set --secret redisSiteKey \"$(openssl rand -hex 32)\"`, or set nautobot.redis.siteUsers: false to keep one Redis password for the whole fleet")
		return nil
	}
	c.RedisUsers = redisusers.Args{Namespace: c.Namespace, Key: key}
	for _, s := range c.Sites {
		c.RedisUsers.Sites = append(c.RedisUsers.Sites, redisusers.Site{Name: s.Name, Rotation: s.RedisPasswordRotation})
	}
	r.ACL = redisusers.ACL(c.RedisUsers.Users())
	return c.RedisUsers.Validate()
}

// distributionArgs are the push's arguments: the config's, with the issued secrets it pushes.
func (c *Config) distributionArgs() distribution.Args {
	a := c.Distribution.Args.Defaults()
	a.Namespace = c.Certificates.Namespace
	// The ca.crt-only Secret is in the application namespace whichever namespace the CA has.
	a.CANamespace, a.CASecret = c.Namespace, c.Authority.CAPublicSecret
	siteUsers := c.SiteUsers()
	if siteUsers {
		a.RedisNamespace = c.RedisUsers.Namespace
	}
	for _, s := range c.Sites {
		site := distribution.Site{Name: s.Name, Secret: c.Certificates.SiteSecretName(s.Name)}
		if siteUsers {
			site.RedisSecret = redisusers.SecretName(s.Name)
		}
		a.Sites = append(a.Sites, site)
	}
	return a
}

// validateDistribution checks the push only when it is on: a disabled one may keep settings for later.
func (c *Config) validateDistribution() error {
	if !c.Distribution.Enabled {
		return nil
	}
	return c.distributionArgs().Validate()
}

// complete fills defaults and wires the values one component takes from another. It returns where each
// copied value came from (component key -> config key), so a problem with it is reported where it was set.
func (c *Config) complete() map[string]string {
	origins := map[string]string{}
	if c.Authority.Namespace == "" {
		c.Authority.Namespace = c.Namespace
		origins["authority.namespace"] = "namespace"
	}
	c.Authority.AppNamespace = c.Namespace
	c.Authority = c.Authority.Defaults()
	c.Database.Namespace = c.Namespace
	c.Database = c.Database.Defaults()
	c.Nautobot = c.Nautobot.Defaults()
	c.RedisService = c.Nautobot.RedisService()
	e := &c.Gateway.Endpoints
	for _, ep := range []struct {
		route, fqdnKey, portKey string
		fqdn                    *string
		port                    *int
		defaultPort             int
	}{
		{dbRoute, "dbFqdn", "dbPort", &e.DBFQDN, &e.DBPort, nautobotpod.PostgresPort},
		{redisRoute, "redisFqdn", "redisPort", &e.RedisFQDN, &e.RedisPort, nautobotpod.RedisPort},
	} {
		fqdnOrigin := "gateway." + ep.fqdnKey
		if *ep.fqdn == "" {
			// Derived from the domain, or missing because the domain is: either way, the domain's problem.
			fqdnOrigin = "gateway.domain"
			if e.Domain != "" {
				*ep.fqdn = ep.route + "." + e.Domain
			}
		}
		*ep.port = cmp.Or(*ep.port, ep.defaultPort)
		origins["gateway.routes."+ep.route+".fqdn"] = fqdnOrigin
		origins["gateway.routes."+ep.route+".port"] = "gateway." + ep.portKey
	}
	if c.Gateway.RouteNamespace == "" {
		origins["gateway.routeNamespace"] = "namespace"
	}
	if c.Gateway.Enabled == nil {
		on := true
		c.Gateway.Enabled = &on
	}
	cert := &c.Certificates
	cert.Namespace = c.Namespace
	cert.Issuer = c.Authority.Issuer
	cert.IssuerNamespace = c.Authority.Namespace
	if c.Authority.Separate() {
		cert.Delivery = certificates.Delivery{Store: c.Authority.DeliveryStore(), RefreshInterval: c.Authority.CAPublicRefreshInterval}
	}
	cert.Postgres.Services = c.Database.Services()
	cert.Postgres.GatewayFQDN = e.DBFQDN
	cert.Redis.Services = []string{c.RedisService}
	cert.Redis.GatewayFQDN = e.RedisFQDN
	for _, s := range c.Sites {
		cert.Sites = append(cert.Sites, s.Name)
	}
	cert.Distributed = c.Distribution.Enabled
	*cert = cert.Defaults()
	c.Database.Identities = []string{cert.ClientCommonName}
	for _, s := range c.Sites {
		c.Database.Identities = append(c.Database.Identities, nautobotpod.SiteIdentity(s.Name))
	}
	c.Authority.IssuedSecrets = cert.SecretNames()
	c.Database.CASecret = c.Authority.CAPublicSecret
	c.Database.ReplicationTLSSecret = cert.ReplicationSecret
	c.Database.ServerTLSSecret = cert.Postgres.SecretName
	n := &c.Nautobot
	n.Namespace = c.Namespace
	n.DBService = c.Database.RWService()
	n.DBName, n.DBUser = c.Database.Database, c.Database.User
	// CNPG writes the application role's credentials (username, password) to <cluster>-app.
	n.DBSecret = c.Database.AppSecret()
	n.RedisServerSecret = cert.Redis.SecretName
	n.ClientSecret = cert.GlobalClientSecret
	n.DBServerNames, n.RedisServerNames = cert.DNSNames(cert.Postgres), cert.DNSNames(cert.Redis)
	return origins
}

// The gateway's routes, which name its listeners and TLSRoutes; the default FQDNs are <route>.<domain>.
const (
	dbRoute    = "nautobot-db"
	redisRoute = "nautobot-redis"
)

func (c *Config) gatewayArgs() gateway.Args {
	a := c.Gateway.Args
	a.Routes = []gateway.Route{
		{Name: dbRoute, FQDN: c.Gateway.DBFQDN, Port: c.Gateway.DBPort,
			Service: c.Database.RWService(), ServicePort: nautobotpod.PostgresPort, ServiceNamespace: c.Namespace},
		{Name: redisRoute, FQDN: c.Gateway.RedisFQDN, Port: c.Gateway.RedisPort,
			Service: c.RedisService, ServicePort: nautobotpod.RedisPort, ServiceNamespace: c.Namespace},
	}
	return a.Defaults()
}

func (c *Config) validateSites(p *validate.Problems) {
	seen := map[string]int{}
	for i, s := range c.Sites {
		key := fmt.Sprintf("sites[%d]", i)
		if worker.SiteName(p, key+".name", s.Name) {
			if j, dup := seen[s.Name]; dup {
				p.Addf(key+".name", "%q is listed twice (also sites[%d]); each site gets one client certificate", s.Name, j)
			}
			seen[s.Name] = i
		}
		for j, cidr := range s.EgressCIDRs {
			p.CIDR(fmt.Sprintf("%s.egressCidrs[%d]", key, j), cidr)
		}
	}
}

// validateIdentities checks the global pods' certificate name, which PostgreSQL maps to the application
// role beside the sites' own.
func (c *Config) validateIdentities(p *validate.Problems) {
	global := c.Certificates.ClientCommonName
	if !database.ValidIdentity(p, "certificates.clientCommonName", global) {
		return
	}
	for i, s := range c.Sites {
		if global == nautobotpod.SiteIdentity(s.Name) {
			p.Addf("certificates.clientCommonName", "%q is the identity of site %s (sites[%d]): the global pods need a name of their own, so that removing the site revokes only the site", global, s.Name, i)
		}
	}
}

func (c *Config) validateEndpoints(p *validate.Problems) {
	e := c.Gateway.Endpoints
	if e.Domain != "" {
		p.FQDN("gateway.domain", e.Domain)
	}
	// The FQDNs and ports themselves are the gateway's routes, which it checks.
	if e.DBFQDN == "" || e.RedisFQDN == "" {
		p.Addf("gateway.domain", "is not set; set gateway.domain (e.g. prod.example.com) or both gateway.dbFqdn and gateway.redisFqdn")
	}
}

// Build validates the whole config, then registers the global resources; it returns the stack outputs.
func Build(ctx *pulumi.Context) (map[string]pulumi.Input, error) {
	c, err := LoadConfig(ctx)
	if err != nil {
		return nil, err
	}
	target, err := kube.NewTarget(ctx, "global", c.Kubernetes, c.Namespace, c.CreateNamespace,
		pulumi.Protect(true), pulumi.RetainOnDelete(true))
	if err != nil {
		return nil, err
	}
	provider, after := target.Provider, pulumi.DependsOn(target.InNamespace)

	caAfter := after
	if c.Authority.Separate() && c.CreateNamespace {
		// The CA's own namespace is as stateful as the application's: it holds the CA key pair.
		caNamespace, err := corev1.NewNamespace(ctx, "global-ca-namespace", &corev1.NamespaceArgs{
			Metadata: kube.Metadata(kube.Object{Name: c.Authority.Namespace}),
		}, pulumi.Provider(provider), pulumi.Protect(true), pulumi.RetainOnDelete(true))
		if err != nil {
			return nil, err
		}
		caAfter = pulumi.DependsOn(append(slices.Clone(target.InNamespace), caNamespace))
	}
	authorityArgs := c.Authority
	authorityArgs.Provider = provider
	ca, err := authority.NewMTLSAuthority(ctx, "mtls", &authorityArgs, caAfter)
	if err != nil {
		return nil, err
	}
	issuedAfter := []pulumi.Resource{ca.Issuer, ca.CAPublic}
	if ca.Delivery != nil {
		issuedAfter = append(issuedAfter, ca.Delivery)
	}
	certArgs := c.Certificates
	certArgs.Provider = provider
	certs, err := certificates.NewMTLSCertificates(ctx, "certs", &certArgs, caAfter, pulumi.DependsOn(issuedAfter))
	if err != nil {
		return nil, err
	}
	dbArgs := c.Database
	dbArgs.Provider = provider
	if _, err := database.NewPostgresCluster(ctx, "db", &dbArgs, after, pulumi.DependsOn(certs.Certificates)); err != nil {
		return nil, err
	}

	values := map[string]pulumi.Input{}
	// What the PushSecrets read: the certificates, the ca.crt-only Secret and the sites' Redis Secrets.
	pushSources := append([]pulumi.Resource{ca.CAPublic}, certs.Certificates...)
	if c.SiteUsers() {
		usersArgs := c.RedisUsers
		usersArgs.Provider = provider
		users, err := redisusers.NewRedisSiteUsers(ctx, "redis-users", &usersArgs, after)
		if err != nil {
			return nil, err
		}
		// Per site, its Redis user, which the site's worker connects as (worker.redisSiteUser), and the
		// Secret on this cluster holding the user's password for the site's secrets provider.
		values["redisUsers"] = users.Users
		values["siteRedisSecrets"] = users.Secrets
		pushSources = append(pushSources, users.SecretResources...)
	}
	if c.Distribution.Enabled {
		pushArgs := c.distributionArgs()
		pushArgs.Provider = provider
		push, err := distribution.NewCertificateDistribution(ctx, "push", &pushArgs, after, pulumi.DependsOn(pushSources))
		if err != nil {
			return nil, err
		}
		// Per site, the secrets.mtls keys of its stack file, and its secrets.redis key and property.
		values["pushedRemoteKeys"] = push.RemoteKeys
	}
	if *c.Nautobot.Enabled {
		nbArgs := c.Nautobot
		nbArgs.Provider = provider
		if _, err := nautobot.NewGlobalNautobot(ctx, "nautobot", &nbArgs, after, pulumi.DependsOn(certs.Certificates)); err != nil {
			return nil, err
		}
	} else {
		// Operators who run Nautobot elsewhere apply exactly these values to their release.
		v, err := c.Nautobot.Values()
		if err != nil {
			return nil, err
		}
		values["nautobotValues"] = pulumi.ToMap(v)
	}

	address := pulumi.String(c.Gateway.Address).ToStringOutput()
	if *c.Gateway.Enabled {
		gwArgs := c.gatewayArgs()
		gwArgs.Provider = provider
		gw, err := gateway.NewPassthroughGateway(ctx, "gateway", &gwArgs, after)
		if err != nil {
			return nil, err
		}
		if c.Gateway.Address == "" {
			address = gw.Address
		}
	}

	sites := pulumi.StringArray{}
	firewall := pulumi.Map{}
	for _, s := range c.Sites {
		sites = append(sites, pulumi.String(s.Name))
		firewall[s.Name] = address.ApplyT(func(addr string) map[string]any {
			return firewallRule(s, addr, c.Gateway.Endpoints)
		}).(pulumi.MapOutput)
	}
	for k, v := range map[string]pulumi.Input{
		"namespace":        pulumi.String(c.Namespace),
		"caNamespace":      ca.Namespace,
		"issuerName":       ca.IssuerName,
		"caCertSecretName": ca.CAPublicSecretName,
		"dbFqdn":           pulumi.String(c.Gateway.DBFQDN),
		"dbPort":           pulumi.Int(c.Gateway.DBPort),
		"dbName":           pulumi.String(c.Database.Database),
		"dbUser":           pulumi.String(c.Database.User),
		// The client certificate names PostgreSQL maps to dbUser, which the doctor checks the Cluster against.
		"databaseIdentities": pulumi.ToStringArray(slices.Concat(c.Database.Identities, c.Database.ExtraIdentities)),
		"redisFqdn":          pulumi.String(c.Gateway.RedisFQDN),
		"redisPort":          pulumi.Int(c.Gateway.RedisPort),
		"dbServerNames":      pulumi.ToStringArray(c.Certificates.DNSNames(c.Certificates.Postgres)),
		"redisServerNames":   pulumi.ToStringArray(c.Certificates.DNSNames(c.Certificates.Redis)),
		"sites":              sites,
		"siteClientSecrets":  certs.SiteClientSecrets,
		"clientKeyPemType":   pulumi.String(c.Certificates.PEMKeyType()),
		"databaseDirectTls":  pulumi.Bool(*c.Database.DirectTLS),
		"gatewayAddress":     address,
		"firewallRules":      firewall,
		// Sites check it: only a pulumi-tls root has its certificate in the state to export as caCertPem.
		"caSource": pulumi.String(c.Authority.Root),
	} {
		values[k] = v
	}
	if c.Authority.Root == authority.RootPulumiTLS {
		values["caCertPem"] = ca.CACertPEM
	}
	return values, nil
}

func firewallRule(s Site, address string, e Endpoints) map[string]any {
	dest := address
	if dest == "" {
		dest = fmt.Sprintf("the gateway VIP that %s and %s resolve to", e.DBFQDN, e.RedisFQDN)
	}
	sources := []any{}
	for _, c := range s.EgressCIDRs {
		sources = append(sources, c)
	}
	return map[string]any{
		"sources":     sources,
		"destination": dest,
		"protocol":    "TCP",
		"ports":       []any{e.DBPort, e.RedisPort},
		"handling":    "TLS/SSL passthrough (no interception; SNI " + e.DBFQDN + ", " + e.RedisFQDN + ")",
		"action":      "allow",
	}
}
