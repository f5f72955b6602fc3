// Package sitesecrets provides SiteSecrets: the External Secrets that pull a site worker's credentials and
// its mTLS client certificate from the site's secrets provider into the site namespace.
package sitesecrets

import (
	"bytes"
	"cmp"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"nautobot-worker/internal/component"
	"nautobot-worker/internal/kube"
	"nautobot-worker/internal/nautobotpod"
	"nautobot-worker/internal/validate"
)

// ConfigKey is the stack config key these arguments are read from.
const ConfigKey = "secrets"

// The keys the chart and the pods read from the target secrets are nautobotpod's.
const (
	dockerConfigKey   = ".dockerconfigjson"
	clientPrefix      = "client_"
	caPrefix          = "ca_"
	defaultPrivateKey = "EC PRIVATE KEY"
)

// DefaultProperty is the field of an item a site reads when its config names none.
const DefaultProperty = "password"

// The values of MTLS.CAFrom: where ca.crt comes from.
const (
	// CAFromProvider reads the CA certificate from the secrets provider item MTLS.CAKey.
	CAFromProvider = "provider"
	// CAFromGlobalStack writes MTLS.CACertPEM, the global stack's caCertPem output (a global stack with
	// authority.root pulumi-tls exports it).
	CAFromGlobalStack = "globalStack"
)

// Store is the (Cluster)SecretStore every ExternalSecret reads from.
type Store struct {
	// Kind is SecretStore or ClusterSecretStore (default ClusterSecretStore).
	Kind string `json:"kind"`
	// Name of the store (required).
	Name string `json:"name"`
}

// Item is one provider item copied into one key of a target secret.
type Item struct {
	// Key is the item's remote key in the provider (required).
	Key string `json:"key"`
	// Property is the field inside the item that holds the value (default password).
	Property string `json:"property"`
	// Target is the Kubernetes secret written in the site namespace.
	Target string `json:"target"`
}

// DBItem holds the PostgreSQL credentials of the CNPG app user.
type DBItem struct {
	// Key is the item's remote key in the provider (required).
	Key string `json:"key"`
	// UsernameProperty is the field holding the user name (default username).
	UsernameProperty string `json:"usernameProperty"`
	// PasswordProperty is the field holding the password (default password).
	PasswordProperty string `json:"passwordProperty"`
	// Target is the secret name (default nautobot-db).
	Target string `json:"target"`
}

// EnvItem is a provider item whose every field becomes an environment variable.
type EnvItem struct {
	// Key is the item's remote key in the provider (required).
	Key string `json:"key"`
	// Target is the secret name (default nautobot-custom-env).
	Target string `json:"target"`
}

// MTLS combines the per-site client certificate item and the shared CA item into one kubernetes.io/tls secret.
type MTLS struct {
	// CAFrom is where ca.crt comes from: CAFromProvider (default) or CAFromGlobalStack.
	CAFrom string `json:"caFrom"`
	// CACertPEM is the CA certificate with CAFrom globalStack. Not config: the site stack sets it from the
	// global stack's output.
	CACertPEM string `json:"-"`
	// ClientKey is the remote key of this site's client certificate + key item (required); its source is
	// the global secret nautobot-mtls-client-<site>.
	ClientKey string `json:"clientKey"`
	// CAKey is the remote key of the shared CA certificate item (required with CAFrom provider, refused
	// with globalStack), copied from the global ca.crt-only secret.
	CAKey string `json:"caKey"`
	// ClientCertProperty is the client item's field holding the certificate PEM (default password).
	ClientCertProperty string `json:"clientCertProperty"`
	// ClientKeyProperty is the client item's field holding the private key PEM (default password: the
	// seed stores certificate and key concatenated in one field).
	ClientKeyProperty string `json:"clientKeyProperty"`
	// CACertProperty is the CA item's field holding the CA certificate PEM (default password).
	CACertProperty string `json:"caCertProperty"`
	// PrivateKeyType is the PEM block type of the key: EC PRIVATE KEY (cert-manager ECDSA, default),
	// PRIVATE KEY (privateKey.encoding PKCS8) or RSA PRIVATE KEY (RSA, PKCS1).
	PrivateKeyType string `json:"privateKeyType"`
	// Target is the secret name (default nautobot-mtls-client).
	Target string `json:"target"`
}

// Args configures the site secrets.
type Args struct {
	// Provider is the site cluster's Kubernetes provider (required).
	Provider *kubernetes.Provider `json:"-"`
	// Namespace is the site namespace the secrets are written to (required).
	Namespace string `json:"-"`

	Store Store `json:"store"`
	// RefreshInterval is how often each secret is resynced from the provider (default 1h).
	RefreshInterval string `json:"refreshInterval"`
	// Django holds NAUTOBOT_SECRET_KEY; it must match the global instance (target default nautobot-django).
	Django Item   `json:"django"`
	DB     DBItem `json:"db"`
	// Redis holds the Redis password, key redis-password (target default nautobot-worker-redis).
	Redis Item `json:"redis"`
	// Registry holds the image pull credentials, key .dockerconfigjson (target default dockerconfigjson-github-com).
	Registry  Item    `json:"registry"`
	CustomEnv EnvItem `json:"customEnv"`
	MTLS      MTLS    `json:"mtls"`
}

// Defaults returns args with every unset field filled in.
func (a Args) Defaults() Args {
	a.Store.Kind = cmp.Or(a.Store.Kind, "ClusterSecretStore")
	a.RefreshInterval = kube.ControllerDuration(cmp.Or(a.RefreshInterval, "1h"))
	for _, it := range []struct {
		item   *Item
		target string
	}{
		{&a.Django, "nautobot-django"}, {&a.Redis, "nautobot-worker-redis"}, {&a.Registry, "dockerconfigjson-github-com"},
	} {
		it.item.Property = cmp.Or(it.item.Property, DefaultProperty)
		it.item.Target = cmp.Or(it.item.Target, it.target)
	}
	a.DB.UsernameProperty = cmp.Or(a.DB.UsernameProperty, nautobotpod.DBUsernameKey)
	a.DB.PasswordProperty = cmp.Or(a.DB.PasswordProperty, DefaultProperty)
	a.DB.Target = cmp.Or(a.DB.Target, "nautobot-db")
	a.CustomEnv.Target = cmp.Or(a.CustomEnv.Target, "nautobot-custom-env")
	a.MTLS.CAFrom = cmp.Or(a.MTLS.CAFrom, CAFromProvider)
	a.MTLS.ClientCertProperty = cmp.Or(a.MTLS.ClientCertProperty, DefaultProperty)
	a.MTLS.ClientKeyProperty = cmp.Or(a.MTLS.ClientKeyProperty, DefaultProperty)
	a.MTLS.CACertProperty = cmp.Or(a.MTLS.CACertProperty, DefaultProperty)
	a.MTLS.PrivateKeyType = cmp.Or(a.MTLS.PrivateKeyType, defaultPrivateKey)
	a.MTLS.Target = cmp.Or(a.MTLS.Target, "nautobot-mtls-client")
	return a
}

// Targets are the names of the secrets SiteSecrets writes.
type Targets struct {
	Django, DB, Redis, Registry, CustomEnv, MTLS string
}

// Targets returns the target secret names (call on defaulted args).
func (a Args) Targets() Targets {
	return Targets{Django: a.Django.Target, DB: a.DB.Target, Redis: a.Redis.Target, Registry: a.Registry.Target,
		CustomEnv: a.CustomEnv.Target, MTLS: a.MTLS.Target}
}

type field struct{ key, value string }

// secretKey is the ESO rule for keys of fetched data (extracted properties become such keys).
var secretKey = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)

// Validate checks the plain values (not the provider); problems name keys relative to Args.
func (a Args) Validate() error {
	p := validate.New("")
	p.DNSLabel("namespace", a.Namespace)
	p.OneOf("store.kind", a.Store.Kind, "SecretStore", "ClusterSecretStore")
	if a.Store.Name == "" {
		p.Addf("store.name", "is required: the name of the %s that reaches this site's secrets provider", a.Store.Kind)
	} else {
		p.ObjectName("store.name", a.Store.Name)
	}
	p.RefreshInterval("refreshInterval", a.RefreshInterval)
	required := func(key, value, what string) {
		if value == "" {
			p.Addf(key, "is required: the remote key of the provider item holding %s", what)
		}
	}
	required("django.key", a.Django.Key, "Django's SECRET_KEY (the global instance's)")
	required("db.key", a.DB.Key, "the CNPG app user's name and password")
	required("redis.key", a.Redis.Key, "the Redis password")
	required("registry.key", a.Registry.Key, "the image registry's .dockerconfigjson")
	required("customEnv.key", a.CustomEnv.Key, "the deployment-specific environment (nautobot-custom-env)")
	required("mtls.clientKey", a.MTLS.ClientKey, "this site's client certificate and key (from the global secret nautobot-mtls-client-<site>)")
	a.validateCASource(p, required)
	for _, f := range []field{
		{"django.property", a.Django.Property}, {"db.usernameProperty", a.DB.UsernameProperty},
		{"db.passwordProperty", a.DB.PasswordProperty}, {"redis.property", a.Redis.Property},
		{"registry.property", a.Registry.Property},
	} {
		p.NonEmpty(f.key, f.value)
	}
	for _, f := range []field{
		{"mtls.clientCertProperty", a.MTLS.ClientCertProperty}, {"mtls.clientKeyProperty", a.MTLS.ClientKeyProperty},
		{"mtls.caCertProperty", a.MTLS.CACertProperty},
	} {
		if !secretKey.MatchString(f.value) {
			p.Addf(f.key, "%q is not a field name External Secrets can extract (letters, digits, '-', '.', '_')", f.value)
		}
	}
	if a.MTLS.ClientKey == a.MTLS.CAKey && a.MTLS.ClientCertProperty == a.MTLS.CACertProperty && a.MTLS.CAKey != "" {
		p.Addf("mtls.caKey", "reads the same field as the client certificate (%s of %q), so ca.crt would hold the client certificate; point it at the CA certificate item", a.MTLS.CACertProperty, a.MTLS.CAKey)
	}
	p.OneOf("mtls.privateKeyType", a.MTLS.PrivateKeyType, "EC PRIVATE KEY", "PRIVATE KEY", "RSA PRIVATE KEY")
	a.validateTargets(p)
	return p.Err()
}

func (a Args) validateCASource(p *validate.Problems, required func(key, value, what string)) {
	if !p.OneOf("mtls.caFrom", a.MTLS.CAFrom, CAFromProvider, CAFromGlobalStack) {
		return
	}
	if a.MTLS.CAFrom == CAFromProvider {
		required("mtls.caKey", a.MTLS.CAKey, "the mTLS CA certificate (from the global ca.crt-only secret)")
		return
	}
	if a.MTLS.CAKey != "" {
		p.Addf("mtls.caKey", "is not read with mtls.caFrom: %s (ca.crt comes from the global stack's caCertPem output); remove it, or set mtls.caFrom: %s",
			CAFromGlobalStack, CAFromProvider)
	}
	// Empty until the site stack has read the global stack; Cluster requires it before registration.
	if a.MTLS.CACertPEM != "" {
		if _, err := caCertificates(a.MTLS.CACertPEM); err != nil {
			p.Addf("mtls.caFrom", "%s: the global stack's caCertPem output is not a PEM bundle of CA certificates (%v); run `pulumi up` on the global stack, or set mtls.caFrom: %s",
				CAFromGlobalStack, err, CAFromProvider)
		}
	}
}

// caCertificates parses a bundle of CA certificates and returns it re-encoded: only CERTIFICATE blocks
// without headers, each a CA (a leaf here would repeat the seed's "ca.crt holds the client certificate").
func caCertificates(bundle string) (string, error) {
	var out bytes.Buffer
	rest := []byte(bundle)
	for n := 1; ; n++ {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		switch {
		case b.Type != "CERTIFICATE":
			return "", fmt.Errorf("block %d is a %s block", n, b.Type)
		case len(b.Headers) > 0:
			return "", fmt.Errorf("block %d has PEM headers", n)
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return "", fmt.Errorf("certificate %d: %w", n, err)
		}
		if !cert.IsCA {
			return "", fmt.Errorf("%q is not a CA certificate", cert.Subject.CommonName)
		}
		if err := pem.Encode(&out, &pem.Block{Type: b.Type, Bytes: b.Bytes}); err != nil {
			return "", err
		}
	}
	switch {
	case strings.TrimSpace(string(rest)) != "":
		return "", errors.New("text outside PEM blocks")
	case out.Len() == 0:
		return "", errors.New("no CERTIFICATE block")
	}
	return out.String(), nil
}

// Cluster returns the provider of the site cluster, and requires the CA certificate the site stack takes
// from the global stack when ca.crt comes from there.
func (a Args) Cluster() (*kubernetes.Provider, error) {
	if a.Provider == nil {
		return nil, errors.New("sitesecrets: Args.Provider is required (the site cluster's Kubernetes provider)")
	}
	if a.MTLS.CAFrom == CAFromGlobalStack && a.MTLS.CACertPEM == "" {
		return nil, errors.New("sitesecrets: Args.MTLS.CACertPEM is required with mtls.caFrom: globalStack (the global stack's caCertPem output)")
	}
	return a.Provider, nil
}

func (a Args) validateTargets(p *validate.Problems) {
	targets := map[string]string{}
	for _, f := range []field{
		{"django.target", a.Django.Target}, {"db.target", a.DB.Target}, {"redis.target", a.Redis.Target},
		{"registry.target", a.Registry.Target}, {"customEnv.target", a.CustomEnv.Target}, {"mtls.target", a.MTLS.Target},
	} {
		if p.ObjectName(f.key, f.value) {
			if other, dup := targets[f.value]; dup {
				p.Addf(f.key, "%q is also the target of %s; every secret needs its own name", f.value, other)
			}
			targets[f.value] = f.key
		}
	}
}

// SiteSecrets is the set of ExternalSecrets a site worker needs.
type SiteSecrets struct {
	pulumi.ResourceState
	component.WithArgs[Args]

	// ExternalSecrets are the six ExternalSecrets, for dependencies: a DependsOn on the component itself
	// does not wait for them (see mocks.Monitor.DependsOn).
	ExternalSecrets []pulumi.Resource

	// Secret names in the site namespace.
	Django    pulumi.StringOutput `pulumi:"django"`
	DB        pulumi.StringOutput `pulumi:"db"`
	Redis     pulumi.StringOutput `pulumi:"redis"`
	Registry  pulumi.StringOutput `pulumi:"registry"`
	CustomEnv pulumi.StringOutput `pulumi:"customEnv"`
	MTLS      pulumi.StringOutput `pulumi:"mtls"`
}

// NewSiteSecrets registers the six ExternalSecrets. None is protected: a site is disposable, and every
// target secret is re-created from the provider. deletionPolicy Retain keeps a target secret when its
// provider item disappears, so a provider outage does not take the worker's credentials with it.
func NewSiteSecrets(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*SiteSecrets, error) {
	return component.New(ctx, "nautobot:sitesecrets:SiteSecrets", name, args, &SiteSecrets{}, opts,
		func(c *SiteSecrets, k8s []pulumi.ResourceOption) (pulumi.Map, error) {
			a := c.Args
			for _, es := range a.externalSecrets() {
				r, err := kube.NewCustomResource(ctx, name+"-"+es.suffix, "external-secrets.io/v1", "ExternalSecret",
					kube.Object{Namespace: a.Namespace, Name: es.target}, map[string]any{"spec": a.spec(es)}, k8s...)
				if err != nil {
					return nil, fmt.Errorf("ExternalSecret %s: %w", es.target, err)
				}
				c.ExternalSecrets = append(c.ExternalSecrets, r)
			}

			t := a.Targets()
			c.Django = pulumi.String(t.Django).ToStringOutput()
			c.DB = pulumi.String(t.DB).ToStringOutput()
			c.Redis = pulumi.String(t.Redis).ToStringOutput()
			c.Registry = pulumi.String(t.Registry).ToStringOutput()
			c.CustomEnv = pulumi.String(t.CustomEnv).ToStringOutput()
			c.MTLS = pulumi.String(t.MTLS).ToStringOutput()
			return pulumi.Map{
				"django": c.Django, "db": c.DB, "redis": c.Redis, "registry": c.Registry, "customEnv": c.CustomEnv, "mtls": c.MTLS,
			}, nil
		})
}

type externalSecret struct {
	suffix, target string
	// template is spec.target.template (nil: the fetched data is written as is, type Opaque).
	template map[string]any
	data     []any
	dataFrom []any
}

func (a Args) externalSecrets() []externalSecret {
	return []externalSecret{
		{suffix: "django", target: a.Django.Target,
			data: []any{kube.ExternalSecretData(nautobotpod.DjangoSecretKey, a.Django.Key, a.Django.Property)}},
		{suffix: "db", target: a.DB.Target, data: []any{
			kube.ExternalSecretData(nautobotpod.DBUsernameKey, a.DB.Key, a.DB.UsernameProperty),
			kube.ExternalSecretData(nautobotpod.DBPasswordKey, a.DB.Key, a.DB.PasswordProperty),
		}},
		{suffix: "redis", target: a.Redis.Target,
			data: []any{kube.ExternalSecretData(nautobotpod.SiteRedisPasswordKey, a.Redis.Key, a.Redis.Property)}},
		{suffix: "registry", target: a.Registry.Target,
			template: map[string]any{"engineVersion": "v2", "type": "kubernetes.io/dockerconfigjson"},
			data:     []any{kube.ExternalSecretData(dockerConfigKey, a.Registry.Key, a.Registry.Property)}},
		{suffix: "custom-env", target: a.CustomEnv.Target,
			dataFrom: []any{map[string]any{"extract": kube.ExternalSecretExtract(a.CustomEnv.Key)}}},
		a.mtlsClient(),
	}
}

// mtlsClient extracts the client and CA items with prefixed keys (both usually name their field password)
// and templates the three files of a kubernetes.io/tls secret. filterPEM picks blocks by type and strips
// the carriage returns some providers store, so a field may hold certificate and key concatenated.
//
// With caFrom globalStack there is no CA item: ca.crt is the CA certificate itself, as literal text of
// the template, so the one ExternalSecret still writes all three files of the one secret the worker
// mounts (a second writer of ca.crt would fight the ExternalSecret, which owns the secret, and two
// secrets would need a projected volume the chart does not make). The literal is the bundle re-encoded
// from its parsed blocks, base64 between BEGIN and END lines, so it can hold no template action; a new
// CA certificate changes the ExternalSecret's spec, which the controller syncs at once.
func (a Args) mtlsClient() externalSecret {
	m := a.MTLS
	extract := func(key, prefix string) map[string]any {
		return map[string]any{
			"extract": kube.ExternalSecretExtract(key),
			"rewrite": []any{map[string]any{"regexp": map[string]any{"source": "(.*)", "target": prefix + "$1"}}},
		}
	}
	data := map[string]any{
		nautobotpod.CertFile: pemTemplate(clientPrefix+m.ClientCertProperty, "CERTIFICATE",
			fmt.Sprintf("field %q of remote key %q (secrets.mtls.clientKey) holds no CERTIFICATE block", m.ClientCertProperty, m.ClientKey)),
		nautobotpod.KeyFile: pemTemplate(clientPrefix+m.ClientKeyProperty, m.PrivateKeyType,
			fmt.Sprintf("field %q of remote key %q (secrets.mtls.clientKey) holds no %s block; secrets.mtls.privateKeyType must name the key's PEM type", m.ClientKeyProperty, m.ClientKey, m.PrivateKeyType)),
	}
	dataFrom := []any{extract(m.ClientKey, clientPrefix)}
	if m.CAFrom == CAFromGlobalStack {
		// Validate has parsed the bundle.
		data[nautobotpod.CAFile], _ = caCertificates(m.CACertPEM)
	} else {
		data[nautobotpod.CAFile] = pemTemplate(caPrefix+m.CACertProperty, "CERTIFICATE",
			fmt.Sprintf("field %q of remote key %q (secrets.mtls.caKey) holds no CERTIFICATE block", m.CACertProperty, m.CAKey))
		dataFrom = append(dataFrom, extract(m.CAKey, caPrefix))
	}
	return externalSecret{
		suffix: "mtls-client", target: m.Target,
		template: map[string]any{"engineVersion": "v2", "type": "kubernetes.io/tls", "data": data},
		dataFrom: dataFrom,
	}
}

var templateField = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// pemTemplate selects one PEM block type from a fetched key, and fails the sync with missing when there is
// none: filterPEM returns an empty string then, and External Secrets would report SecretSynced for a
// kubernetes.io/tls secret whose tls.key is empty (measured with the real controller), e.g. after an item
// was re-encoded to PKCS#8 while the site still selects EC PRIVATE KEY. Keys such as client_tls.crt are not
// template field names, so they are looked up with index.
func pemTemplate(key, blockType, missing string) string {
	value := fmt.Sprintf(`index . %q`, key)
	if templateField.MatchString(key) {
		value = "." + key
	}
	return fmt.Sprintf(`{{ $pem := %s | filterPEM %q }}{{ if not $pem }}{{ fail %q }}{{ end }}{{ $pem }}`, value, blockType, missing)
}

func (a Args) spec(es externalSecret) map[string]any {
	target := map[string]any{"name": es.target, "creationPolicy": "Owner", "deletionPolicy": "Retain"}
	if es.template != nil {
		target["template"] = es.template
	}
	spec := map[string]any{
		"refreshInterval": a.RefreshInterval,
		"secretStoreRef":  map[string]any{"kind": a.Store.Kind, "name": a.Store.Name},
		"target":          target,
	}
	if es.data != nil {
		spec["data"] = es.data
	}
	if es.dataFrom != nil {
		spec["dataFrom"] = es.dataFrom
	}
	return spec
}
