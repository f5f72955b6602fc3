// Package global is the program of the global stack: the mTLS CA hierarchy, the certificates it signs,
// the CNPG cluster, the gateway, and the outputs every site stack reads.
package global

import (
	"cmp"
	"errors"
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"nautobot-worker/components/authority"
	"nautobot-worker/components/certificates"
	"nautobot-worker/components/database"
	"nautobot-worker/components/gateway"
	"nautobot-worker/components/nautobot"
	"nautobot-worker/internal/kube"
	"nautobot-worker/internal/stackconfig"
	"nautobot-worker/internal/validate"
)

// Site is one entry of the `sites` list: adding one is the only global-side step to add a site.
type Site struct {
	Name string `json:"name"`
	// EgressCIDRs are the site workers' source addresses (node, pod or NAT ranges) for the firewall table.
	EgressCIDRs []string `json:"egressCidrs"`
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
}

// LoadConfig reads, completes and validates the stack config; it registers nothing.
func LoadConfig(ctx *pulumi.Context) (Config, error) {
	r := stackconfig.New(ctx)
	if err := r.CheckKeys("role", "kubernetes", "namespace", "createNamespace", "sites", authority.ConfigKey,
		certificates.ConfigKey, database.ConfigKey, gateway.ConfigKey, nautobot.ConfigKey, "djangoSecretKey",
		"redisPassword"); err != nil {
		return Config{}, err
	}
	c := Config{Namespace: r.String("namespace", "nautobot")}
	createNamespace := r.String("createNamespace", "true")
	c.CreateNamespace = createNamespace == "true"
	errs := []error{
		r.Object("kubernetes", &c.Kubernetes),
		r.Object("sites", &c.Sites),
		r.Object(authority.ConfigKey, &c.Authority),
		r.Object(certificates.ConfigKey, &c.Certificates),
		r.Object(database.ConfigKey, &c.Database),
		r.Object(gateway.ConfigKey, &c.Gateway),
		r.Object(nautobot.ConfigKey, &c.Nautobot),
	}
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	p := validate.New("")
	p.DNSLabel("namespace", c.Namespace)
	if createNamespace != "true" && createNamespace != "false" {
		p.Addf("createNamespace", "%q is not a boolean; use true or false", createNamespace)
	}
	c.complete()
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
	c.validateSites(p)
	c.validateEndpoints(p)
	if c.Certificates.ClientCommonName != c.Database.User {
		p.Addf("certificates.clientCommonName", "%q differs from database.user %q; pg_hba cert maps the certificate CN to the role, so they must be equal",
			c.Certificates.ClientCommonName, c.Database.User)
	}
	return c, errors.Join(p.Err(), c.Authority.Validate(), c.Certificates.Validate(), c.Database.Validate(),
		c.gatewayArgs().Validate(), c.Nautobot.Validate())
}

// complete fills defaults and wires the values one component takes from another.
func (c *Config) complete() {
	if c.Authority.Namespace == "" {
		c.Authority.Namespace = c.Namespace
	}
	c.Authority = c.Authority.Defaults()
	c.Database.Namespace = c.Namespace
	c.Database = c.Database.Defaults()
	c.Nautobot = c.Nautobot.Defaults()
	c.RedisService = c.Nautobot.RedisService()
	if c.Certificates.ClientCommonName == "" {
		c.Certificates.ClientCommonName = c.Database.User
	}
	e := &c.Gateway.Endpoints
	if e.Domain != "" {
		e.DBFQDN = cmp.Or(e.DBFQDN, "nautobot-db."+e.Domain)
		e.RedisFQDN = cmp.Or(e.RedisFQDN, "nautobot-redis."+e.Domain)
	}
	if e.DBPort == 0 {
		e.DBPort = 5432
	}
	if e.RedisPort == 0 {
		e.RedisPort = 6379
	}
	if c.Gateway.Enabled == nil {
		on := true
		c.Gateway.Enabled = &on
	}
	cert := &c.Certificates
	cert.Namespace = c.Namespace
	cert.Issuer = c.Authority.Issuer
	cert.Postgres.Services = c.Database.Services()
	cert.Postgres.GatewayFQDN = e.DBFQDN
	cert.Redis.Services = []string{c.RedisService}
	cert.Redis.GatewayFQDN = e.RedisFQDN
	for _, s := range c.Sites {
		cert.Sites = append(cert.Sites, s.Name)
	}
	*cert = cert.Defaults()
	c.Database.CASecret = c.Authority.CAPublicSecret
	c.Database.ReplicationTLSSecret = cert.ReplicationSecret
	c.Database.ServerTLSSecret = cert.Postgres.SecretName
	n := &c.Nautobot
	n.Namespace = c.Namespace
	n.DBService = c.Database.RWService()
	n.DBName, n.DBUser = c.Database.Database, c.Database.User
	// CNPG writes the application role's credentials (username, password) to <cluster>-app.
	n.DBSecret = c.Database.Name + "-app"
	n.RedisServerSecret = cert.Redis.SecretName
	n.ClientSecret = cert.GlobalClientSecret
}

func (c *Config) gatewayArgs() gateway.Args {
	a := c.Gateway.Args
	a.Routes = []gateway.Route{
		{Name: "nautobot-db", FQDN: c.Gateway.DBFQDN, Port: c.Gateway.DBPort,
			Service: c.Database.RWService(), ServicePort: 5432, ServiceNamespace: c.Namespace},
		{Name: "nautobot-redis", FQDN: c.Gateway.RedisFQDN, Port: c.Gateway.RedisPort,
			Service: c.RedisService, ServicePort: 6379, ServiceNamespace: c.Namespace},
	}
	return a.Defaults()
}

func (c *Config) validateSites(p *validate.Problems) {
	seen := map[string]int{}
	for i, s := range c.Sites {
		key := fmt.Sprintf("sites[%d]", i)
		if p.DNSLabel(key+".name", s.Name) {
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

func (c *Config) validateEndpoints(p *validate.Problems) {
	e := c.Gateway.Endpoints
	if e.Domain != "" {
		p.FQDN("gateway.domain", e.Domain)
	}
	if e.DBFQDN == "" || e.RedisFQDN == "" {
		p.Addf("gateway.domain", "is not set; set gateway.domain (e.g. prod.example.com) or both gateway.dbFqdn and gateway.redisFqdn")
		return
	}
	p.FQDN("gateway.dbFqdn", e.DBFQDN)
	p.FQDN("gateway.redisFqdn", e.RedisFQDN)
	p.Port("gateway.dbPort", e.DBPort)
	p.Port("gateway.redisPort", e.RedisPort)
}

// Build validates the whole config, then registers the global resources; it returns the stack outputs.
func Build(ctx *pulumi.Context) (map[string]pulumi.Input, error) {
	c, err := LoadConfig(ctx)
	if err != nil {
		return nil, err
	}
	provider, err := kube.NewProvider(ctx, "global", c.Kubernetes)
	if err != nil {
		return nil, err
	}
	var deps []pulumi.Resource
	if c.CreateNamespace {
		ns, err := corev1.NewNamespace(ctx, "global-namespace", &corev1.NamespaceArgs{
			Metadata: kube.Metadata(kube.Object{Name: c.Namespace}),
		}, pulumi.Provider(provider), pulumi.Protect(true), pulumi.RetainOnDelete(true))
		if err != nil {
			return nil, err
		}
		deps = append(deps, ns)
	}
	after := pulumi.DependsOn(deps)

	authorityArgs := c.Authority
	authorityArgs.Provider = provider
	ca, err := authority.NewMTLSAuthority(ctx, "mtls", &authorityArgs, after)
	if err != nil {
		return nil, err
	}
	certArgs := c.Certificates
	certArgs.Provider = provider
	certs, err := certificates.NewMTLSCertificates(ctx, "certs", &certArgs, after, pulumi.DependsOn([]pulumi.Resource{ca}))
	if err != nil {
		return nil, err
	}
	dbArgs := c.Database
	dbArgs.Provider = provider
	if _, err := database.NewPostgresCluster(ctx, "db", &dbArgs, after, pulumi.DependsOn([]pulumi.Resource{certs})); err != nil {
		return nil, err
	}

	values := map[string]pulumi.Input{}
	if *c.Nautobot.Enabled {
		nbArgs := c.Nautobot
		nbArgs.Provider = provider
		if _, err := nautobot.NewGlobalNautobot(ctx, "nautobot", &nbArgs, after, pulumi.DependsOn([]pulumi.Resource{certs})); err != nil {
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
		"namespace":         ca.Namespace,
		"issuerName":        ca.IssuerName,
		"caCertSecretName":  ca.CAPublicSecretName,
		"dbFqdn":            pulumi.String(c.Gateway.DBFQDN),
		"dbPort":            pulumi.Int(c.Gateway.DBPort),
		"dbName":            pulumi.String(c.Database.Database),
		"dbUser":            pulumi.String(c.Database.User),
		"redisFqdn":         pulumi.String(c.Gateway.RedisFQDN),
		"redisPort":         pulumi.Int(c.Gateway.RedisPort),
		"sites":             sites,
		"siteClientSecrets": certs.SiteClientSecrets,
		"clientKeyPemType":  pulumi.String(c.Certificates.PEMKeyType()),
		"gatewayAddress":    address,
		"firewallRules":     firewall,
	} {
		values[k] = v
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
