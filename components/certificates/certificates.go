// Package certificates provides MTLSCertificates: every leaf certificate the CA issuer signs for the
// global cluster — PostgreSQL and Redis server certificates, CNPG's replication client certificate,
// the global pods' client certificate and one client certificate per site.
package certificates

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"nautobot-worker/internal/component"
	"nautobot-worker/internal/kube"
	"nautobot-worker/internal/nautobotpod"
	"nautobot-worker/internal/validate"
)

// ConfigKey is the stack config key these arguments are read from.
const ConfigKey = "certificates"

// ServerCert is a TLS server certificate whose SANs cover the in-cluster service and the gateway FQDN.
type ServerCert struct {
	// SecretName is both the Certificate and Secret name.
	SecretName string `json:"secretName"`
	// CommonName defaults to the first in-cluster DNS name.
	CommonName string `json:"commonName"`
	// ExtraDNSNames are added to the SANs.
	ExtraDNSNames []string `json:"extraDnsNames"`
	// Services are the in-cluster Service names the certificate covers (set by the stack).
	Services []string `json:"-"`
	// GatewayFQDN is the SNI name clients use through the gateway (set by the stack from the route config).
	GatewayFQDN string `json:"-"`
}

// Delivery is the authority's SecretStore beside the Issuer that writes into the application namespace.
type Delivery struct {
	// Store is the SecretStore's name.
	Store string
	// RefreshInterval is how often each Secret is pushed again: the controller does not watch its sources,
	// so a renewed certificate reaches the application namespace within this interval.
	RefreshInterval string
}

// Args configures the certificates.
type Args struct {
	Provider *kubernetes.Provider `json:"-"`
	// Namespace is the application namespace, whose Services the server certificates name and where the
	// issued Secrets are read (set by the stack).
	Namespace string `json:"-"`
	// Issuer is the CA Issuer that signs everything (set by the stack from the authority).
	Issuer string `json:"-"`
	// IssuerNamespace holds the Issuer, so the Certificates and the Secrets cert-manager writes (set by the
	// stack from authority.namespace; default Namespace).
	IssuerNamespace string `json:"-"`
	// Delivery pushes each issued Secret, whole, from IssuerNamespace into Namespace (set by the stack
	// when the two differ).
	Delivery Delivery `json:"-"`
	// ClientCommonName is the CN of the global pods' client certificate (default nautobot-global); each
	// site's is nautobotpod.SiteIdentity. PostgreSQL maps each of them to the application role.
	ClientCommonName string     `json:"clientCommonName"`
	Postgres         ServerCert `json:"postgres"`
	Redis            ServerCert `json:"redis"`
	// ReplicationSecret is CNPG's streaming-replication client certificate (CN streaming_replica).
	ReplicationSecret string `json:"replicationSecret"`
	// GlobalClientSecret is the client certificate the global Nautobot pods mount (default nautobot-mtls-client).
	GlobalClientSecret string `json:"globalClientSecret"`
	// SiteClientSecretPrefix names per-site client certificates <prefix>-<site> (default nautobot-mtls-client).
	SiteClientSecretPrefix string `json:"siteClientSecretPrefix"`
	// Sites gets one client certificate each (set by the stack from the `sites` list).
	Sites []string `json:"-"`

	// Distributed is true when the stack pushes each site's certificate to its secrets provider (set by the
	// stack from distribution.enabled); it shortens the client certificates' default lifetime.
	Distributed bool `json:"-"`

	ServerDuration    string `json:"serverDuration"`
	ServerRenewBefore string `json:"serverRenewBefore"`
	ClientDuration    string `json:"clientDuration"`
	ClientRenewBefore string `json:"clientRenewBefore"`
	// KeyAlgorithm of every leaf key: ECDSA (default, size 256), RSA or Ed25519.
	KeyAlgorithm string `json:"keyAlgorithm"`
	KeySize      int    `json:"keySize"`
	// KeyEncoding PKCS1 (default; ECDSA keys are "EC PRIVATE KEY" PEM) or PKCS8 ("PRIVATE KEY" PEM).
	// Site ExternalSecrets must filter the matching PEM block type.
	KeyEncoding string `json:"keyEncoding"`
}

// Defaults returns args with every unset field filled in.
func (a Args) Defaults() Args {
	a.ClientCommonName = cmp.Or(a.ClientCommonName, nautobotpod.GlobalIdentity)
	a.Postgres.SecretName = cmp.Or(a.Postgres.SecretName, "nautobot-cluster-server-tls")
	a.Redis.SecretName = cmp.Or(a.Redis.SecretName, "nautobot-redis-server-tls")
	a.ReplicationSecret = cmp.Or(a.ReplicationSecret, "nautobot-cluster-replication")
	a.GlobalClientSecret = cmp.Or(a.GlobalClientSecret, "nautobot-mtls-client")
	a.SiteClientSecretPrefix = cmp.Or(a.SiteClientSecretPrefix, "nautobot-mtls-client")
	a.ServerDuration = cmp.Or(a.ServerDuration, "8760h")
	a.ServerRenewBefore = cmp.Or(a.ServerRenewBefore, "720h")
	a.ClientDuration = cmp.Or(a.ClientDuration, a.defaultClientDuration())
	a.ClientRenewBefore = cmp.Or(a.ClientRenewBefore, "720h")
	a.KeyAlgorithm = cmp.Or(a.KeyAlgorithm, "ECDSA")
	a.KeyEncoding = cmp.Or(a.KeyEncoding, "PKCS1")
	a.IssuerNamespace = cmp.Or(a.IssuerNamespace, a.Namespace)
	if a.KeySize == 0 && a.KeyAlgorithm == "ECDSA" {
		a.KeySize = 256
	}
	if a.KeySize == 0 && a.KeyAlgorithm == "RSA" {
		a.KeySize = 2048
	}
	for _, s := range []*ServerCert{&a.Postgres, &a.Redis} {
		if s.CommonName == "" && len(s.Services) > 0 {
			s.CommonName = fmt.Sprintf("%s.%s.svc", s.Services[0], a.Namespace)
		}
	}
	return a
}

// defaultClientDuration bounds how long a removed site's certificate still opens Redis where the fleet
// shares one Redis password (per-site Redis users and PostgreSQL's role map drop it at once): 90 days when
// renewals reach the sites by themselves, as ACME certificates do; a year when each renewal is a hand copy
// into every site's secrets provider. clientRenewBefore (30 days) leaves a month to notice a renewal that did not arrive.
func (a Args) defaultClientDuration() string {
	if a.Distributed {
		return "2160h"
	}
	return "8760h"
}

// SecretNames are the issued Secrets, the servers', the replication and global clients' and the sites'.
func (a Args) SecretNames() []string {
	names := []string{a.Postgres.SecretName, a.Redis.SecretName, a.ReplicationSecret, a.GlobalClientSecret}
	for _, site := range a.Sites {
		names = append(names, a.SiteSecretName(site))
	}
	return names
}

// delivered tells whether the Certificates live apart from the application namespace.
func (a Args) delivered() bool { return a.IssuerNamespace != a.Namespace }

// SiteSecretName is the global secret that holds the client certificate of one site.
func (a Args) SiteSecretName(site string) string { return a.SiteClientSecretPrefix + "-" + site }

// PEMKeyType is the PEM block type of the issued private keys, which site ExternalSecrets must filter.
func (a Args) PEMKeyType() string {
	switch {
	case a.KeyEncoding == "PKCS8":
		return "PRIVATE KEY"
	case a.KeyAlgorithm == "RSA":
		return "RSA PRIVATE KEY"
	}
	return "EC PRIVATE KEY"
}

// Role says to whom a certificate's key is presented, which decides its extended key usages.
type Role struct{ Server, Client bool }

var (
	// PostgresServerRole: CNPG presents it to every client; replicas log in with the replication
	// certificate, never with this one.
	PostgresServerRole = Role{Server: true}
	// RedisServerRole: Redis presents it to its clients, and presents it back to Redis as a client too:
	// the Bitnami chart's probes run redis-cli with the server's own tls.crt, and tls-replication makes a
	// replica connect to its master with it. Redis with tls-auth-clients refuses a client certificate
	// whose only extended key usage is serverAuth, so without clientAuth the pod never becomes Ready.
	RedisServerRole = Role{Server: true, Client: true}
	// ClientRole: the global pods' and every site's certificate, and CNPG's streaming_replica
	// certificate, are only ever presented to PostgreSQL and Redis.
	ClientRole = Role{Client: true}
)

// Usages are the cert-manager usages of a leaf in role r. A digital signature is what every TLS 1.3
// key does; key encipherment only means something for RSA keys (TLS 1.2 RSA key exchange).
func (a Args) Usages(r Role) []string {
	u := []string{"digital signature"}
	if a.KeyAlgorithm == "RSA" {
		u = append(u, "key encipherment")
	}
	if r.Server {
		u = append(u, "server auth")
	}
	if r.Client {
		u = append(u, "client auth")
	}
	return u
}

// Validate checks the plain values; problems name keys relative to Args.
func (a Args) Validate() error {
	p := validate.New("")
	p.NonEmpty("clientCommonName", a.ClientCommonName)
	names := map[string]string{
		"postgres.secretName": a.Postgres.SecretName, "redis.secretName": a.Redis.SecretName,
		"replicationSecret": a.ReplicationSecret, "globalClientSecret": a.GlobalClientSecret,
	}
	p.ObjectName("siteClientSecretPrefix", a.SiteClientSecretPrefix)
	seen := map[string]string{}
	for _, key := range slices.Sorted(maps.Keys(names)) {
		if p.ObjectName(key, names[key]) {
			if other, dup := seen[names[key]]; dup {
				p.Addf(key, "%q is also used by %s; every certificate needs its own secret", names[key], other)
			}
			seen[names[key]] = key
		}
	}
	for _, site := range a.Sites {
		if other, dup := seen[a.SiteSecretName(site)]; dup {
			p.Addf("siteClientSecretPrefix", "site %q's secret %q collides with %s", site, a.SiteSecretName(site), other)
		}
	}
	for key, s := range map[string]ServerCert{"postgres": a.Postgres, "redis": a.Redis} {
		for i, n := range s.ExtraDNSNames {
			p.ObjectName(fmt.Sprintf("%s.extraDnsNames[%d]", key, i), n)
		}
	}
	checkPair := func(durKey, dur, renewKey, renew string) {
		d, okD := p.Duration(durKey, dur, time.Hour)
		r, okR := p.Duration(renewKey, renew, 5*time.Minute)
		if okD && okR && r >= d {
			p.Addf(renewKey, "%s must be shorter than %s %s", renew, durKey, dur)
		}
	}
	checkPair("serverDuration", a.ServerDuration, "serverRenewBefore", a.ServerRenewBefore)
	checkPair("clientDuration", a.ClientDuration, "clientRenewBefore", a.ClientRenewBefore)
	a.validateDelivery(p)
	if p.OneOf("keyAlgorithm", a.KeyAlgorithm, "ECDSA", "RSA", "Ed25519") {
		if a.KeyAlgorithm == "ECDSA" && a.KeySize != 256 && a.KeySize != 384 && a.KeySize != 521 {
			p.Addf("keySize", "%d is not an ECDSA curve size; use 256, 384 or 521", a.KeySize)
		}
		if a.KeyAlgorithm == "RSA" && (a.KeySize < 2048 || a.KeySize > 8192) {
			p.Addf("keySize", "%d is not a supported RSA size; use 2048-8192", a.KeySize)
		}
	}
	if p.OneOf("keyEncoding", a.KeyEncoding, "PKCS1", "PKCS8") && a.KeyAlgorithm == "Ed25519" && a.KeyEncoding != "PKCS8" {
		p.Addf("keyEncoding", "Ed25519 keys are always PKCS8; set keyEncoding: PKCS8")
	}
	return p.Err()
}

// validateDelivery refuses a renewal window a delivered Secret could miss: a certificate renewed less than
// one push interval before it expires may expire in the application namespace before its successor is
// pushed there.
func (a Args) validateDelivery(p *validate.Problems) {
	if !a.delivered() {
		return
	}
	refresh, err := time.ParseDuration(a.Delivery.RefreshInterval)
	if err != nil {
		return // the authority's key; its own validation names it
	}
	for _, r := range []struct{ key, value string }{{"serverRenewBefore", a.ServerRenewBefore}, {"clientRenewBefore", a.ClientRenewBefore}} {
		if renew, err := time.ParseDuration(r.value); err == nil && renew <= 2*refresh {
			p.Addf(r.key, "%s is not more than twice authority.caPublicRefreshInterval (%s): with the CA in its own namespace (authority.namespace %s) a renewed certificate reaches namespace %s only at the next push, so renew earlier or push more often",
				r.value, a.Delivery.RefreshInterval, a.IssuerNamespace, a.Namespace)
		}
	}
}

// Cluster returns the provider, once the stack has wired in the namespace, the issuer and, for Certificates
// apart from the application namespace, the store that delivers their Secrets.
func (a Args) Cluster() (*kubernetes.Provider, error) {
	if a.Provider == nil || a.Namespace == "" || a.Issuer == "" {
		return nil, errors.New("certificates: Args.Provider, Namespace and Issuer are required")
	}
	if a.delivered() && a.Delivery.Store == "" {
		return nil, fmt.Errorf("certificates: Args.Delivery.Store is required: the Certificates are in %s, apart from %s", a.IssuerNamespace, a.Namespace)
	}
	return a.Provider, nil
}

// MTLSCertificates holds the leaf certificates of the global cluster.
type MTLSCertificates struct {
	pulumi.ResourceState
	component.WithArgs[Args]

	// SiteClientSecrets maps each site to the global secret holding its client certificate.
	SiteClientSecrets pulumi.StringMapOutput `pulumi:"siteClientSecrets"`
	// Certificates are the registered Certificate resources and, apart from the application namespace, the
	// PushSecrets that deliver their Secrets, for dependencies.
	Certificates []pulumi.Resource
}

// NewMTLSCertificates registers the certificates.
func NewMTLSCertificates(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*MTLSCertificates, error) {
	return component.New(ctx, "nautobot:certificates:MTLSCertificates", name, args, &MTLSCertificates{}, opts,
		func(c *MTLSCertificates, k8s []pulumi.ResourceOption) (pulumi.Map, error) {
			a := c.Args

			add := func(suffix, secret string, spec map[string]any) error {
				spec["secretName"] = secret
				spec["privateKey"] = a.privateKey()
				spec["issuerRef"] = map[string]any{"name": a.Issuer, "kind": "Issuer", "group": "cert-manager.io"}
				r, err := kube.NewCustomResource(ctx, name+"-"+suffix, "cert-manager.io/v1", "Certificate",
					kube.Object{Namespace: a.IssuerNamespace, Name: secret}, map[string]any{"spec": spec}, k8s...)
				if err != nil {
					return err
				}
				c.Certificates = append(c.Certificates, r)
				if !a.delivered() {
					return nil
				}
				push, err := kube.NewCustomResource(ctx, name+"-"+suffix+"-delivery", "external-secrets.io/v1alpha1", "PushSecret",
					kube.Object{Namespace: a.IssuerNamespace, Name: secret}, map[string]any{"spec": a.deliverySpec(secret)},
					append(k8s, pulumi.DependsOn([]pulumi.Resource{r}))...)
				if err != nil {
					return err
				}
				c.Certificates = append(c.Certificates, push)
				return nil
			}
			for _, s := range []struct {
				suffix string
				cert   ServerCert
				role   Role
			}{{"postgres-server", a.Postgres, PostgresServerRole}, {"redis-server", a.Redis, RedisServerRole}} {
				if err := add(s.suffix, s.cert.SecretName, map[string]any{
					"commonName":  s.cert.CommonName,
					"dnsNames":    kube.Strings(a.DNSNames(s.cert)),
					"duration":    a.ServerDuration,
					"renewBefore": a.ServerRenewBefore,
					"usages":      kube.Strings(a.Usages(s.role)),
				}); err != nil {
					return nil, err
				}
			}
			client := func(cn string) map[string]any {
				return map[string]any{
					"commonName":  cn,
					"duration":    a.ClientDuration,
					"renewBefore": a.ClientRenewBefore,
					"usages":      kube.Strings(a.Usages(ClientRole)),
				}
			}
			// CNPG connects replicas as streaming_replica; pg_hba cert maps the CN to that role.
			if err := add("replication", a.ReplicationSecret, client("streaming_replica")); err != nil {
				return nil, err
			}
			if err := add("global-client", a.GlobalClientSecret, client(a.ClientCommonName)); err != nil {
				return nil, err
			}
			siteSecrets := pulumi.StringMap{}
			for _, site := range a.Sites {
				if err := add("site-"+site, a.SiteSecretName(site), client(nautobotpod.SiteIdentity(site))); err != nil {
					return nil, err
				}
				siteSecrets[site] = pulumi.String(a.SiteSecretName(site))
			}
			c.SiteClientSecrets = siteSecrets.ToStringMapOutput()
			return pulumi.Map{"siteClientSecrets": c.SiteClientSecrets}, nil
		})
}

// deliverySpec pushes the whole issued Secret (no secretKey, no property: every key, and its type
// kubernetes.io/tls) to the Secret of the same name in the application namespace.
func (a Args) deliverySpec(secret string) map[string]any {
	return map[string]any{
		"secretStoreRefs": []any{map[string]any{"kind": "SecretStore", "name": a.Delivery.Store}},
		"selector":        map[string]any{"secret": map[string]any{"name": secret}},
		"data": []any{map[string]any{
			"conversionStrategy": "None",
			"match":              map[string]any{"remoteRef": map[string]any{"remoteKey": secret}},
			"metadata":           kube.PushSecretMetadata(nil),
		}},
		"refreshInterval": a.Delivery.RefreshInterval,
		// Replace: a renewal must overwrite the previous certificate.
		"updatePolicy": "Replace",
		// The Secret outlives its PushSecret, as cert-manager's outlive their Certificates.
		"deletionPolicy": "None",
	}
}

func (a Args) privateKey() map[string]any {
	k := map[string]any{"algorithm": a.KeyAlgorithm, "encoding": a.KeyEncoding, "rotationPolicy": "Always"}
	if a.KeyAlgorithm != "Ed25519" {
		k["size"] = a.KeySize
	}
	return k
}

// DNSNames are the SANs of a server certificate: every in-cluster name of the services, then the gateway
// FQDN and the extras, without repeats. The hosts the pods connect to must be among them.
func (a Args) DNSNames(s ServerCert) []string {
	var names []string
	seen := map[string]bool{}
	push := func(n string) {
		if n != "" && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	for _, svc := range s.Services {
		push(svc)
		push(svc + "." + a.Namespace)
		push(svc + "." + a.Namespace + ".svc")
		push(svc + "." + a.Namespace + ".svc.cluster.local")
	}
	push(s.GatewayFQDN)
	for _, n := range s.ExtraDNSNames {
		push(n)
	}
	return names
}
