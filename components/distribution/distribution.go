// Package distribution provides CertificateDistribution: External Secrets PushSecrets that write each
// site's client certificate and key, and the CA certificate, from the global cluster into the secrets
// provider the site stacks read, in the layout their ExternalSecrets read. cert-manager re-keys a client
// certificate at every renewal (rotationPolicy Always), so without the push every renewal is a manual copy.
// With per-site Redis users, each site's Redis password is pushed too, so a rotation reaches the site alone.
package distribution

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"nautobot-worker/components/redisusers"
	"nautobot-worker/internal/component"
	"nautobot-worker/internal/kube"
	"nautobot-worker/internal/nautobotpod"
	"nautobot-worker/internal/validate"
)

// ConfigKey is the global stack config key this component is read from.
const ConfigKey = "distribution"

// Layouts of a site's client item, as the site's ExternalSecret reads it (secrets.mtls.clientCertProperty
// and clientKeyProperty of the site stack: one field for both, or two fields).
const (
	Concatenated = "concatenated"
	Separate     = "separate"
)

// SitePlaceholder is replaced by the site's name in ClientKey.
const SitePlaceholder = "{site}"

// bundleKey is the key the concatenated layout's template adds to the PushSecret's in-memory copy of the
// issued secret (never written to the cluster); it cannot collide with the keys cert-manager writes.
const bundleKey = "cert-and-key.pem"

// Store is the SecretStore or ClusterSecretStore on the global cluster that writes to the sites' provider.
type Store struct {
	// Kind is SecretStore or ClusterSecretStore (default ClusterSecretStore).
	Kind string `json:"kind"`
	// Name of the store (required).
	Name string `json:"name"`
}

// Site is one site whose issued client certificate is pushed.
type Site struct {
	// Name of the site; it replaces SitePlaceholder in ClientKey.
	Name string
	// Secret is the kubernetes.io/tls Secret cert-manager writes for the site (nautobot-mtls-client-<site>).
	Secret string
	// RedisSecret is the Secret holding the site's Redis user's password (nautobot-redis-site-<site>), ""
	// when the global stack has no per-site Redis users: then no Redis password is pushed.
	RedisSecret string
}

// Args configures the push. The item keys are those of the site stack's secrets.mtls, so a site stack
// file can take them as they are (SiteKeys).
type Args struct {
	// Provider is the global cluster's Kubernetes provider (required).
	Provider *kubernetes.Provider `json:"-"`
	// Namespace holds the sites' issued secrets, and their PushSecrets (set by the stack).
	Namespace string `json:"-"`
	// RedisNamespace holds the sites' Redis password Secrets (set by the stack with per-site Redis users).
	RedisNamespace string `json:"-"`
	// Sites are the sites whose certificates are pushed (set by the stack from `sites`).
	Sites []Site `json:"-"`
	// CANamespace and CASecret are the ca.crt-only Secret (set by the stack from the authority): the CA
	// key pair is never a source.
	CANamespace string `json:"-"`
	CASecret    string `json:"-"`

	Store Store `json:"store"`
	// RefreshInterval is how often each PushSecret writes its items again (default 1h). The controller
	// does not watch the source secrets, so a renewed certificate reaches the provider within this interval.
	RefreshInterval string `json:"refreshInterval"`
	// Layout of the client item: concatenated (default: certificate and key in one field, the seed's
	// shape) or separate.
	Layout string `json:"layout"`
	// ClientKey is the remote key of each site's client item, with {site} for the site's name (default
	// nautobot-mtls-client-{site}).
	ClientKey string `json:"clientKey"`
	// CAKey is the remote key of the CA item all sites share (default nautobot-mtls-ca).
	CAKey string `json:"caKey"`
	// ClientCertProperty is the client item's field holding the certificate (default password when
	// concatenated, tls.crt when separate).
	ClientCertProperty string `json:"clientCertProperty"`
	// ClientKeyProperty is the field holding the key: the certificate's field when concatenated (default
	// tls.key when separate).
	ClientKeyProperty string `json:"clientKeyProperty"`
	// CACertProperty is the CA item's field holding the CA certificate (default password, the site's default).
	CACertProperty string `json:"caCertProperty"`
	// RedisKey is the remote key of each site's Redis password item, with {site} for the site's name
	// (default nautobot-redis-{site}); the site stack's secrets.redis.key. Pushed only with per-site users.
	RedisKey string `json:"redisKey"`
	// RedisProperty is the Redis item's field holding the password (default password, the site's default
	// secrets.redis.property).
	RedisProperty string `json:"redisProperty"`
	// DeletionPolicy None (default) keeps the items when a PushSecret is deleted (a site removed from
	// `sites`, or a destroy); Delete removes the pushed fields, and makes every delete wait for the controller.
	DeletionPolicy string `json:"deletionPolicy"`
}

// Config is the global stack's `distribution` key: the push is opt-in.
type Config struct {
	// Enabled creates the PushSecrets (default false: certificates are copied into the provider by hand).
	Enabled bool `json:"enabled"`
	Args
}

// Defaults returns args with every unset field filled in.
func (a Args) Defaults() Args {
	a.Store.Kind = cmp.Or(a.Store.Kind, "ClusterSecretStore")
	a.RefreshInterval = kube.ControllerDuration(cmp.Or(a.RefreshInterval, "1h"))
	a.Layout = cmp.Or(a.Layout, Concatenated)
	a.ClientKey = cmp.Or(a.ClientKey, "nautobot-mtls-client-"+SitePlaceholder)
	a.CAKey = cmp.Or(a.CAKey, "nautobot-mtls-ca")
	if a.Layout == Separate {
		a.ClientCertProperty = cmp.Or(a.ClientCertProperty, nautobotpod.CertFile)
		a.ClientKeyProperty = cmp.Or(a.ClientKeyProperty, nautobotpod.KeyFile)
	} else {
		a.ClientCertProperty = cmp.Or(a.ClientCertProperty, "password")
		a.ClientKeyProperty = cmp.Or(a.ClientKeyProperty, a.ClientCertProperty)
	}
	a.CACertProperty = cmp.Or(a.CACertProperty, "password")
	a.RedisKey = cmp.Or(a.RedisKey, "nautobot-redis-"+SitePlaceholder)
	a.RedisProperty = cmp.Or(a.RedisProperty, "password")
	a.DeletionPolicy = cmp.Or(a.DeletionPolicy, "None")
	return a
}

// SiteKeys are where one site's items are pushed, under the names of the site stack's secrets.mtls keys,
// and its Redis password item (secrets.redis.key and .property), pushed only with per-site Redis users.
type SiteKeys struct {
	ClientKey, CAKey                                      string
	ClientCertProperty, ClientKeyProperty, CACertProperty string
	RedisKey, RedisProperty                               string
}

// SiteKeys returns where site's items go (call on defaulted args).
func (a Args) SiteKeys(site string) SiteKeys {
	return SiteKeys{
		ClientKey: strings.ReplaceAll(a.ClientKey, SitePlaceholder, site), CAKey: a.CAKey,
		ClientCertProperty: a.ClientCertProperty, ClientKeyProperty: a.ClientKeyProperty, CACertProperty: a.CACertProperty,
		RedisKey: strings.ReplaceAll(a.RedisKey, SitePlaceholder, site), RedisProperty: a.RedisProperty,
	}
}

// fieldName is what External Secrets can extract from an item as a key (the site's rule for these fields).
var fieldName = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)

// Validate checks the plain values (not what the stack sets); problems name keys relative to Args.
func (a Args) Validate() error {
	p := validate.New("")
	p.OneOf("store.kind", a.Store.Kind, "SecretStore", "ClusterSecretStore")
	if a.Store.Name == "" {
		p.Addf("store.name", "is required: the %s on the global cluster that writes to the sites' secrets provider", a.Store.Kind)
	} else {
		p.ObjectName("store.name", a.Store.Name)
	}
	p.RefreshInterval("refreshInterval", a.RefreshInterval)
	p.OneOf("deletionPolicy", a.DeletionPolicy, "None", "Delete")
	if !strings.Contains(a.ClientKey, SitePlaceholder) {
		p.Addf("clientKey", "%q does not contain %s: every site would push to the same item; use a pattern such as nautobot-mtls-client-%s", a.ClientKey, SitePlaceholder, SitePlaceholder)
	} else {
		remoteKey(p, "clientKey", a.ClientKey)
	}
	remoteKey(p, "caKey", a.CAKey)
	for _, f := range []struct{ key, value string }{
		{"clientCertProperty", a.ClientCertProperty}, {"clientKeyProperty", a.ClientKeyProperty}, {"caCertProperty", a.CACertProperty},
		{"redisProperty", a.RedisProperty},
	} {
		if !fieldName.MatchString(f.value) {
			p.Addf(f.key, "%q is not a field name a site's External Secrets can extract (letters, digits, '-', '.', '_')", f.value)
		}
	}
	if p.OneOf("layout", a.Layout, Concatenated, Separate) {
		same := a.ClientCertProperty == a.ClientKeyProperty
		if a.Layout == Concatenated && !same {
			p.Addf("clientKeyProperty", "%q differs from clientCertProperty %q, but layout %s writes certificate and key to one field; remove clientKeyProperty, or set layout: %s",
				a.ClientKeyProperty, a.ClientCertProperty, Concatenated, Separate)
		}
		if a.Layout == Separate && same {
			p.Addf("clientKeyProperty", "%q is also clientCertProperty, but layout %s writes certificate and key to two fields; name two fields, or set layout: %s",
				a.ClientKeyProperty, Separate, Concatenated)
		}
	}
	if !strings.Contains(a.RedisKey, SitePlaceholder) {
		p.Addf("redisKey", "%q does not contain %s: every site would push its Redis password to the same item; use a pattern such as nautobot-redis-%s", a.RedisKey, SitePlaceholder, SitePlaceholder)
	} else {
		remoteKey(p, "redisKey", a.RedisKey)
	}
	for _, s := range a.Sites {
		k := a.SiteKeys(s.Name)
		if k.ClientKey == a.CAKey {
			p.Addf("caKey", "%q is also site %s's client item (clientKey); the CA item is shared by every site, give it its own key", a.CAKey, s.Name)
		}
		if s.RedisSecret == "" {
			continue
		}
		// The Redis password must not overwrite a field the site reads its certificate, key or CA from.
		if (k.RedisKey == k.ClientKey && (k.RedisProperty == k.ClientCertProperty || k.RedisProperty == k.ClientKeyProperty)) ||
			(k.RedisKey == k.CAKey && k.RedisProperty == k.CACertProperty) {
			p.Addf("redisKey", "%q field %q is also where site %s's certificate items are pushed; give the Redis password its own item (or redisProperty)", k.RedisKey, k.RedisProperty, s.Name)
		}
	}
	return p.Err()
}

// remoteKey requires a remote key a provider can hold: providers differ (a Kubernetes Secret name, a Vault
// path with '/'), so only what none accepts is refused.
func remoteKey(p *validate.Problems, key, value string) {
	if strings.TrimSpace(value) == "" || strings.IndexFunc(value, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		p.Addf(key, "%q is not a remote key: it must not be empty nor hold spaces or control characters", value)
	}
}

// Cluster returns the provider, once the stack has set where the issued secrets are.
func (a Args) Cluster() (*kubernetes.Provider, error) {
	if a.Provider == nil || a.Namespace == "" || a.CANamespace == "" || a.CASecret == "" {
		return nil, errors.New("distribution: Args.Provider, Namespace, CANamespace and CASecret are required")
	}
	for _, s := range a.Sites {
		if s.RedisSecret != "" && a.RedisNamespace == "" {
			return nil, errors.New("distribution: Args.RedisNamespace is required with a site's RedisSecret")
		}
	}
	return a.Provider, nil
}

// CertificateDistribution is one PushSecret per site and one for the CA certificate, and one per site for
// its Redis password when the sites have Redis users of their own.
type CertificateDistribution struct {
	pulumi.ResourceState
	component.WithArgs[Args]

	// PushSecrets are the registered PushSecrets, the CA's first.
	PushSecrets []pulumi.Resource
	// RemoteKeys maps each site to where its items are pushed, under the site stack's secrets.mtls keys,
	// plus redisKey and redisProperty (its secrets.redis.key and .property) when its Redis password is.
	RemoteKeys pulumi.StringMapMapOutput `pulumi:"remoteKeys"`
}

// NewCertificateDistribution registers the PushSecrets. Each is named after its source secret, in that
// secret's namespace (a PushSecret reads secrets of its own namespace only).
func NewCertificateDistribution(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*CertificateDistribution, error) {
	return component.New(ctx, "nautobot:distribution:CertificateDistribution", name, args, &CertificateDistribution{}, opts,
		func(c *CertificateDistribution, k8s []pulumi.ResourceOption) (pulumi.Map, error) {
			a := c.Args
			push := func(suffix, namespace, secret string, p pushSpec) error {
				r, err := kube.NewCustomResource(ctx, name+"-"+suffix, "external-secrets.io/v1alpha1", "PushSecret",
					kube.Object{Namespace: namespace, Name: secret}, map[string]any{"spec": a.spec(secret, p)}, k8s...)
				if err != nil {
					return fmt.Errorf("PushSecret %s: %w", secret, err)
				}
				c.PushSecrets = append(c.PushSecrets, r)
				return nil
			}
			if err := push("ca", a.CANamespace, a.CASecret, pushSpec{
				data: []any{kube.PushSecretData(nautobotpod.CAFile, a.CAKey, a.CACertProperty)},
			}); err != nil {
				return nil, err
			}
			keys := pulumi.StringMapMap{}
			for _, s := range a.Sites {
				k := a.SiteKeys(s.Name)
				if err := push("site-"+s.Name, a.Namespace, s.Secret, a.clientSpec(k.ClientKey)); err != nil {
					return nil, err
				}
				site := pulumi.StringMap{
					"clientKey": pulumi.String(k.ClientKey), "caKey": pulumi.String(k.CAKey),
					"clientCertProperty": pulumi.String(k.ClientCertProperty), "clientKeyProperty": pulumi.String(k.ClientKeyProperty),
					"caCertProperty": pulumi.String(k.CACertProperty),
				}
				if s.RedisSecret != "" {
					// Only the password: the user name is the site's identity, which the site stack takes
					// from the global stack's redisUsers output.
					if err := push("redis-"+s.Name, a.RedisNamespace, s.RedisSecret, pushSpec{
						data: []any{kube.PushSecretData(redisusers.PasswordKey, k.RedisKey, k.RedisProperty)},
					}); err != nil {
						return nil, err
					}
					site["redisKey"], site["redisProperty"] = pulumi.String(k.RedisKey), pulumi.String(k.RedisProperty)
				}
				keys[s.Name] = site
			}
			c.RemoteKeys = keys.ToStringMapMapOutput()
			return pulumi.Map{"remoteKeys": c.RemoteKeys}, nil
		})
}

// pushSpec is what differs between PushSecrets: the source keys pushed to which fields, and the keys the
// template adds to the controller's in-memory copy of the source before the push.
type pushSpec struct {
	data         []any
	templateData map[string]any
}

// clientSpec maps the issued secret's tls.crt and tls.key to the client item. A PushSecret pushes keys of
// its source secret, one per remote field, and cert-manager writes certificate and key to two keys; for
// the concatenated layout the PushSecret's own template (spec.template, which the v0.20 controller applies
// to its in-memory copy of the source before the push) adds a key holding both, so no second Secret with
// the private key exists on the global cluster and nothing else has to keep one in step with renewals.
func (a Args) clientSpec(remote string) pushSpec {
	if a.Layout == Separate {
		return pushSpec{data: []any{
			kube.PushSecretData(nautobotpod.CertFile, remote, a.ClientCertProperty),
			kube.PushSecretData(nautobotpod.KeyFile, remote, a.ClientKeyProperty),
		}}
	}
	return pushSpec{
		// Trimmed and newline-terminated, so the key's block starts on a line of its own whatever the
		// issuer's PEM ends with; the site's filterPEM splits the field again.
		templateData: map[string]any{
			bundleKey: fmt.Sprintf(`{{ index . %q | trim }}`+"\n"+`{{ index . %q | trim }}`+"\n", nautobotpod.CertFile, nautobotpod.KeyFile),
		},
		data: []any{kube.PushSecretData(bundleKey, remote, a.ClientCertProperty)},
	}
}

func (a Args) spec(secret string, p pushSpec) map[string]any {
	// The kubernetes provider writes an item with its source's Secret type, and a Secret's type is
	// immutable: an issued kubernetes.io/tls secret would make an item that must hold tls.crt and tls.key
	// (the concatenated layout's one field is refused) and could never update an Opaque item written by
	// hand before the push. Other providers ignore the type.
	template := map[string]any{"engineVersion": "v2", "type": "Opaque"}
	if p.templateData != nil {
		template["data"] = p.templateData
	}
	return map[string]any{
		"secretStoreRefs": []any{map[string]any{"kind": a.Store.Kind, "name": a.Store.Name}},
		"selector":        map[string]any{"secret": map[string]any{"name": secret}},
		"template":        template,
		"data":            p.data,
		"refreshInterval": a.RefreshInterval,
		// Replace: a renewal must overwrite the previous certificate (IfNotExists would push it once).
		"updatePolicy":   "Replace",
		"deletionPolicy": a.DeletionPolicy,
	}
}
