// Package authority provides MTLSAuthority: the CA hierarchy that signs every mTLS certificate of the
// system (a root CA made by cert-manager, or by pulumi-tls and held in the stack's state, and the
// cert-manager CA Issuer that signs with it), and a Secret that carries only the CA's public certificate.
//
// Two layouts: the CA in the application namespace (authority.namespace equal to namespace, the default
// every existing stack has), or the CA in a namespace of its own, from which nothing in the application
// namespace can read the key pair: the Issuer, and the Certificates it signs, stay beside the CA, and a
// SecretStore there (whose account may write only the delivered Secrets of the application namespace)
// pushes ca.crt and each issued Secret into the application namespace.
package authority

import (
	"cmp"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi-tls/sdk/v5/go/tls"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"nautobot-worker/internal/component"
	"nautobot-worker/internal/kube"
	"nautobot-worker/internal/nautobotpod"
	"nautobot-worker/internal/validate"
)

// ConfigKey is the stack config key these arguments are read from.
const ConfigKey = "authority"

// The values of Args.Root: who makes the root CA's key and certificate.
const (
	// RootCertManager: a cert-manager Certificate issued by a self-signed Issuer; the key exists only in
	// the global cluster's Secret.
	RootCertManager = "cert-manager"
	// RootPulumiTLS: pulumi-tls PrivateKey and SelfSignedCert resources; the key is a Pulumi secret in the
	// stack's state, and the stack writes the CA key pair Secret and the ca.crt-only Secret itself.
	RootPulumiTLS = "pulumi-tls"
)

// ecdsaCurves maps each ECDSA key size cert-manager accepts to the tls provider's curve name.
var ecdsaCurves = map[int]string{256: "P256", 384: "P384", 521: "P521"}

// Args configures the CA hierarchy. Zero values take the defaults of the seed documentation.
type Args struct {
	// Provider is the Kubernetes provider of the global cluster (required).
	Provider *kubernetes.Provider `json:"-"`
	// Root is who makes the root CA: RootCertManager (default) or RootPulumiTLS.
	Root string `json:"root"`
	// Namespace holds the issuers, the CA and its secrets (default nautobot; the stack defaults it to its
	// namespace).
	Namespace string `json:"namespace"`
	// AppNamespace is the application namespace, where CNPG reads the ca.crt-only Secret (set by the stack
	// from its namespace; default Namespace). Different from Namespace, the CA has a namespace of its own.
	AppNamespace string `json:"-"`
	// IssuedSecrets are the Secrets of the certificates the Issuer signs (set by the stack): the CA's own
	// objects must not take their names, and with a separate CA namespace they are the only Secrets of the
	// application namespace the delivery account may update.
	IssuedSecrets []string `json:"-"`
	// SelfSignedIssuer bootstraps the root CA (default mtls-selfsigned).
	SelfSignedIssuer string `json:"selfSignedIssuer"`
	// CACertificate is the root CA Certificate (default mtls-ca).
	CACertificate string `json:"caCertificate"`
	// CommonName of the root CA (default understack-mtls-ca).
	CommonName string `json:"commonName"`
	// KeyAlgorithm of the CA key: ECDSA (default), RSA or Ed25519.
	KeyAlgorithm string `json:"keyAlgorithm"`
	// KeySize of the CA key (default 256 for ECDSA, 4096 for RSA; ignored for Ed25519).
	KeySize int `json:"keySize"`
	// Duration of the CA certificate (default 87600h, 10 years).
	Duration string `json:"duration"`
	// RenewBefore is how long before expiry cert-manager renews the CA (default 8760h, 1 year).
	RenewBefore string `json:"renewBefore"`
	// CASecret holds the CA key pair; it never leaves the global cluster (default mtls-ca-key-pair).
	CASecret string `json:"caSecret"`
	// Issuer signs every leaf certificate (default mtls-ca-issuer).
	Issuer string `json:"issuer"`
	// CAPublicSecret holds only ca.crt, for CNPG clientCASecret/serverCASecret (default mtls-ca-cert).
	CAPublicSecret string `json:"caPublicSecret"`
	// CAPublicRefreshInterval is how often the public secret is resynced from the CA secret, and, with a
	// separate CA namespace, how often each issued Secret is pushed again (default 1h).
	CAPublicRefreshInterval string `json:"caPublicRefreshInterval"`
	// CAPublicStore is how the External Secrets store behind the public secret (and the deliveries) reaches
	// the API server.
	CAPublicStore CAPublicStore `json:"caPublicStore"`
}

// CAPublicStore locates the API server for the in-cluster SecretStore that copies ca.crt. Unset, the
// store uses the in-cluster address kubernetes.default, which only resolves inside a pod.
type CAPublicStore struct {
	// ServerURL is the https:// URL External Secrets calls (default unset: kubernetes.default). Needed
	// where that name does not resolve for the controller: a controller outside the cluster (as in the
	// local demo), host networking without cluster DNS, or an API server reached through another endpoint.
	ServerURL string `json:"serverUrl"`
	// CABundle is the PEM of the CA that signed the serving certificate at ServerURL (default unset:
	// the ca.crt of the ConfigMap kube-root-ca.crt that kube-controller-manager publishes in every namespace).
	CABundle string `json:"caBundle"`
}

// Defaults returns args with every unset field filled in.
func (a Args) Defaults() Args {
	a.Root = cmp.Or(a.Root, RootCertManager)
	a.Namespace = cmp.Or(a.Namespace, "nautobot")
	a.AppNamespace = cmp.Or(a.AppNamespace, a.Namespace)
	a.SelfSignedIssuer = cmp.Or(a.SelfSignedIssuer, "mtls-selfsigned")
	a.CACertificate = cmp.Or(a.CACertificate, "mtls-ca")
	a.CommonName = cmp.Or(a.CommonName, "understack-mtls-ca")
	a.KeyAlgorithm = cmp.Or(a.KeyAlgorithm, "ECDSA")
	a.Duration = cmp.Or(a.Duration, "87600h")
	a.RenewBefore = cmp.Or(a.RenewBefore, "8760h")
	a.CASecret = cmp.Or(a.CASecret, "mtls-ca-key-pair")
	a.Issuer = cmp.Or(a.Issuer, "mtls-ca-issuer")
	a.CAPublicSecret = cmp.Or(a.CAPublicSecret, "mtls-ca-cert")
	a.CAPublicRefreshInterval = kube.ControllerDuration(cmp.Or(a.CAPublicRefreshInterval, "1h"))
	if a.KeySize == 0 {
		switch a.KeyAlgorithm {
		case "ECDSA":
			a.KeySize = 256
		case "RSA":
			a.KeySize = 4096
		}
	}
	return a
}

// Separate tells whether the CA has a namespace of its own, apart from the application namespace.
func (a Args) Separate() bool { return a.AppNamespace != "" && a.AppNamespace != a.Namespace }

// DeliveryStore is the SecretStore in the CA namespace that pushes into the application namespace, named
// after the CA Certificate; only a separate CA namespace has one.
func (a Args) DeliveryStore() string { return a.CACertificate + "-delivery" }

// Validate checks the plain values (not the provider); problems name keys relative to Args.
func (a Args) Validate() error {
	p := validate.New("")
	p.OneOf("root", a.Root, RootCertManager, RootPulumiTLS)
	p.DNSLabel("namespace", a.Namespace)
	// The issued certificates are Certificates named after their Secrets, beside the CA, and their Secrets
	// reach the application namespace: a shared name would have a leaf overwrite the CA key pair, two
	// Certificates of one name, or a leaf and ca.crt written to one Secret.
	for _, own := range []struct{ key, name string }{{"caSecret", a.CASecret}, {"caCertificate", a.CACertificate}, {"caPublicSecret", a.CAPublicSecret}} {
		if slices.Contains(a.IssuedSecrets, own.name) {
			p.Addf(own.key, "%q is also the name of an issued certificate's secret (certificates.*); name them apart", own.name)
		}
	}
	for key, name := range map[string]string{
		"selfSignedIssuer": a.SelfSignedIssuer, "caCertificate": a.CACertificate, "caSecret": a.CASecret,
		"issuer": a.Issuer, "caPublicSecret": a.CAPublicSecret,
	} {
		p.ObjectName(key, name)
	}
	if a.CASecret == a.CAPublicSecret {
		p.Addf("caPublicSecret", "must differ from caSecret (%q): the public secret must never hold the CA key", a.CASecret)
	}
	p.NonEmpty("commonName", a.CommonName)
	if p.OneOf("keyAlgorithm", a.KeyAlgorithm, "ECDSA", "RSA", "Ed25519") {
		switch a.KeyAlgorithm {
		case "ECDSA":
			if _, ok := ecdsaCurves[a.KeySize]; !ok {
				p.Addf("keySize", "%d is not an ECDSA curve size; use 256, 384 or 521", a.KeySize)
			}
		case "RSA":
			if a.KeySize < 2048 || a.KeySize > 8192 {
				p.Addf("keySize", "%d is not a supported RSA size; use 2048-8192", a.KeySize)
			}
		}
	}
	duration, okD := p.Duration("duration", a.Duration, time.Hour)
	renew, okR := p.Duration("renewBefore", a.RenewBefore, 5*time.Minute)
	if okD && okR && renew >= duration {
		p.Addf("renewBefore", "%s must be shorter than duration %s", a.RenewBefore, a.Duration)
	}
	p.Duration("caPublicRefreshInterval", a.CAPublicRefreshInterval, time.Minute)
	a.CAPublicStore.validate(p)
	if a.Root == RootPulumiTLS {
		a.validatePulumiTLS(p, duration, okD, renew, okR)
	}
	return p.Err()
}

// validatePulumiTLS refuses what the tls provider cannot express. Every key algorithm and size that
// cert-manager accepts has a provider equivalent (ECDSA curves P256/P384/P521, any RSA size, ED25519);
// the certificate's validity and early renewal are whole hours (validityPeriodHours, earlyRenewalHours).
func (a Args) validatePulumiTLS(p *validate.Problems, duration time.Duration, okD bool, renew time.Duration, okR bool) {
	for _, d := range []struct {
		key, value, field string
		d                 time.Duration
		ok                bool
	}{{"duration", a.Duration, "validityPeriodHours", duration, okD}, {"renewBefore", a.RenewBefore, "earlyRenewalHours", renew, okR}} {
		if d.ok && d.d%time.Hour != 0 {
			p.Addf(d.key, "%s is not a whole number of hours, which root: %s needs (the tls provider's %s); use e.g. %dh",
				d.value, RootPulumiTLS, d.field, max(1, int(d.d/time.Hour)))
		}
	}
	// With this root the stack writes the public secret itself: a store exists only to deliver the issued
	// Secrets out of a separate CA namespace.
	if a.CAPublicStore != (CAPublicStore{}) && !a.Separate() {
		p.Addf("caPublicStore", "is only used with root: %s (an External Secrets store copies ca.crt) or a separate authority.namespace (a store delivers the issued secrets); with root: %s in namespace %s the stack writes the ca.crt-only secret itself, so remove it",
			RootCertManager, RootPulumiTLS, a.Namespace)
	}
}

func (s CAPublicStore) validate(p *validate.Problems) {
	if s.ServerURL != "" {
		u, err := url.Parse(s.ServerURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
			strings.Trim(u.Path, "/") != "" {
			p.Addf("caPublicStore.serverUrl", "%q is not an API server URL; use https://<host>[:<port>] as External Secrets must reach it (or remove the key for the in-cluster kubernetes.default)", s.ServerURL)
		}
	}
	if s.CABundle != "" {
		if n, err := pemCertificates(s.CABundle); err != nil || n == 0 {
			p.Addf("caPublicStore.caBundle", "is not a PEM bundle of CA certificates (%v); paste the CA that signed the API server's serving certificate, or remove the key to use the ConfigMap kube-root-ca.crt", cmp.Or(err, errors.New("no CERTIFICATE block")))
		}
	}
}

// pemCertificates counts the certificates of a PEM bundle and fails on any other block or unparsable one,
// so a bundle that would not verify the API server is refused at preview rather than by the controller.
func pemCertificates(bundle string) (int, error) {
	rest := []byte(bundle)
	n := 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return n, fmt.Errorf("it holds a %s block", b.Type)
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return n, fmt.Errorf("certificate %d: %w", n+1, err)
		}
		n++
	}
	if strings.TrimSpace(string(rest)) != "" {
		return n, errors.New("text outside PEM blocks")
	}
	return n, nil
}

// server is the store's spec.provider.kubernetes.server.
func (s CAPublicStore) server() map[string]any {
	server := map[string]any{}
	if s.ServerURL != "" {
		server["url"] = s.ServerURL
	}
	if s.CABundle != "" {
		server["caBundle"] = base64.StdEncoding.EncodeToString([]byte(s.CABundle))
	} else {
		server["caProvider"] = map[string]any{"type": "ConfigMap", "name": "kube-root-ca.crt", "key": "ca.crt"}
	}
	return server
}

// MTLSAuthority is the CA hierarchy: a root CA (with root cert-manager, a self-signed bootstrap Issuer and
// a root CA Certificate; with root pulumi-tls, a PrivateKey and a SelfSignedCert in the stack's state) whose
// key pair Secret a CA Issuer signs with, plus a Secret holding only the CA's public certificate.
type MTLSAuthority struct {
	pulumi.ResourceState
	component.WithArgs[Args]

	// Issuer is the CA Issuer, CAPublic what writes the ca.crt-only secret (an ExternalSecret, a PushSecret,
	// or the Secret itself with root pulumi-tls) and Delivery the store that pushes out of a separate CA
	// namespace (nil in the application namespace), for dependencies: a DependsOn on the component itself
	// does not wait for them (see mocks.Monitor.DependsOn).
	Issuer, CAPublic, Delivery pulumi.Resource

	// Namespace of the issuers, the CA and the certificates they sign.
	Namespace pulumi.StringOutput `pulumi:"namespace"`
	// IssuerName is the namespaced CA Issuer that signs leaf certificates.
	IssuerName pulumi.StringOutput `pulumi:"issuerName"`
	// CAPublicSecretName holds only ca.crt.
	CAPublicSecretName pulumi.StringOutput `pulumi:"caPublicSecretName"`
	// CACertPEM is the root CA certificate, set with root pulumi-tls only (cert-manager makes it in the
	// cluster, out of the program's sight). Public, so not a secret.
	CACertPEM pulumi.StringOutput `pulumi:"caCertPem"`
}

// Cluster returns the provider of the global cluster.
func (a Args) Cluster() (*kubernetes.Provider, error) {
	if a.Provider == nil {
		return nil, errors.New("authority: Args.Provider is required (the global cluster's Kubernetes provider)")
	}
	return a.Provider, nil
}

// NewMTLSAuthority registers the CA hierarchy. The root CA (its Certificate, or its PrivateKey,
// SelfSignedCert and key pair Secret) and the public-cert writer are protected and retained on delete:
// losing them would invalidate every client certificate of the fleet.
func NewMTLSAuthority(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*MTLSAuthority, error) {
	return component.New(ctx, "nautobot:authority:MTLSAuthority", name, args, &MTLSAuthority{}, opts,
		func(c *MTLSAuthority, k8s []pulumi.ResourceOption) (pulumi.Map, error) {
			a := c.Args
			stateful := append(append([]pulumi.ResourceOption{}, k8s...), pulumi.Protect(true), pulumi.RetainOnDelete(true))
			outputs := pulumi.Map{}
			var keyPair pulumi.Resource
			var err error
			if a.Root == RootPulumiTLS {
				if keyPair, err = c.pulumiTLSRoot(ctx, name, a, stateful); err != nil {
					return nil, err
				}
				outputs["caCertPem"] = c.CACertPEM
			} else if keyPair, err = certManagerRoot(ctx, name, a, k8s, stateful); err != nil {
				return nil, err
			}
			if c.Issuer, err = kube.NewCustomResource(ctx, name+"-issuer", "cert-manager.io/v1", "Issuer",
				kube.Object{Namespace: a.Namespace, Name: a.Issuer},
				map[string]any{"spec": map[string]any{"ca": map[string]any{"secretName": a.CASecret}}},
				append(k8s, pulumi.DependsOn([]pulumi.Resource{keyPair}))...); err != nil {
				return nil, err
			}
			if a.Separate() {
				if err := c.delivery(ctx, name, a, k8s); err != nil {
					return nil, err
				}
				if a.Root == RootCertManager {
					if err := c.pushPublicCert(ctx, name, a, k8s, keyPair); err != nil {
						return nil, err
					}
				}
			} else if a.Root == RootCertManager {
				if err := c.publicCertSecret(ctx, name, a, k8s, stateful); err != nil {
					return nil, err
				}
			}

			c.Namespace = pulumi.String(a.Namespace).ToStringOutput()
			c.IssuerName = pulumi.String(a.Issuer).ToStringOutput()
			c.CAPublicSecretName = pulumi.String(a.CAPublicSecret).ToStringOutput()
			outputs["namespace"], outputs["issuerName"], outputs["caPublicSecretName"] = c.Namespace, c.IssuerName, c.CAPublicSecretName
			return outputs, nil
		})
}

// certManagerRoot registers the self-signed bootstrap Issuer and the root CA Certificate, which writes the
// CA key pair Secret; it returns the Certificate.
func certManagerRoot(ctx *pulumi.Context, name string, a Args, k8s, stateful []pulumi.ResourceOption) (pulumi.Resource, error) {
	obj := func(n string) kube.Object { return kube.Object{Namespace: a.Namespace, Name: n} }
	selfSigned, err := kube.NewCustomResource(ctx, name+"-selfsigned", "cert-manager.io/v1", "Issuer", obj(a.SelfSignedIssuer),
		map[string]any{"spec": map[string]any{"selfSigned": map[string]any{}}}, k8s...)
	if err != nil {
		return nil, err
	}
	privateKey := map[string]any{"algorithm": a.KeyAlgorithm, "rotationPolicy": "Never"}
	if a.KeyAlgorithm != "Ed25519" {
		privateKey["size"] = a.KeySize
	}
	return kube.NewCustomResource(ctx, name+"-ca", "cert-manager.io/v1", "Certificate", obj(a.CACertificate),
		map[string]any{"spec": map[string]any{
			"isCA":        true,
			"commonName":  a.CommonName,
			"secretName":  a.CASecret,
			"duration":    a.Duration,
			"renewBefore": a.RenewBefore,
			// A renewed CA keeps its key, so certificates it already signed stay valid during rollover.
			"privateKey": privateKey,
			"usages":     []any{"cert sign", "crl sign"},
			"issuerRef":  map[string]any{"name": a.SelfSignedIssuer, "kind": "Issuer", "group": "cert-manager.io"},
		}}, append(stateful, pulumi.DependsOn([]pulumi.Resource{selfSigned}))...)
}

// tlsPrivateKeyArgs maps the CA key settings to the tls provider's names (Validate has refused the rest).
func (a Args) tlsPrivateKeyArgs() *tls.PrivateKeyArgs {
	switch a.KeyAlgorithm {
	case "RSA":
		return &tls.PrivateKeyArgs{Algorithm: pulumi.String("RSA"), RsaBits: pulumi.IntPtr(a.KeySize)}
	case "Ed25519":
		return &tls.PrivateKeyArgs{Algorithm: pulumi.String("ED25519")}
	default:
		return &tls.PrivateKeyArgs{Algorithm: pulumi.String("ECDSA"), EcdsaCurve: pulumi.StringPtr(ecdsaCurves[a.KeySize])}
	}
}

// wholeHours is a duration Validate has checked, in the hours the tls provider counts in.
func wholeHours(d string) int {
	parsed, _ := time.ParseDuration(d)
	return int(parsed / time.Hour)
}

// pulumiTLSRoot registers the root CA's key and self-signed certificate in the stack's state, and writes
// them as the CA key pair Secret (kubernetes.io/tls, which the CA Issuer reads: tls.crt and tls.key, plus
// ca.crt as cert-manager writes it for a self-signed root) and as the ca.crt-only Secret. With the
// certificate known to the program, no External Secrets store is needed to copy it. It returns the key
// pair Secret.
//
// The tls resources take no Kubernetes provider, so they get the parent and the stateful options only.
// A `pulumi up` in the last renewBefore of the certificate's validity plans its replacement (the
// provider's earlyRenewalHours), which protect refuses: the renewal is the deliberate step the README
// describes, and it keeps the key, so the certificates the CA signed stay valid.
func (c *MTLSAuthority) pulumiTLSRoot(ctx *pulumi.Context, name string, a Args, stateful []pulumi.ResourceOption) (pulumi.Resource, error) {
	inState := []pulumi.ResourceOption{pulumi.Parent(c), pulumi.Protect(true), pulumi.RetainOnDelete(true)}
	key, err := tls.NewPrivateKey(ctx, name+"-ca-key", a.tlsPrivateKeyArgs(), inState...)
	if err != nil {
		return nil, err
	}
	cert, err := tls.NewSelfSignedCert(ctx, name+"-ca-cert", &tls.SelfSignedCertArgs{
		PrivateKeyPem:       key.PrivateKeyPem,
		Subject:             &tls.SelfSignedCertSubjectArgs{CommonName: pulumi.String(a.CommonName)},
		IsCaCertificate:     pulumi.Bool(true),
		SetSubjectKeyId:     pulumi.Bool(true),
		ValidityPeriodHours: pulumi.Int(wholeHours(a.Duration)),
		EarlyRenewalHours:   pulumi.Int(wholeHours(a.RenewBefore)),
		AllowedUses:         pulumi.ToStringArray([]string{"cert_signing", "crl_signing"}),
	}, inState...)
	if err != nil {
		return nil, err
	}
	c.CACertPEM = cert.CertPem
	keyPair, err := corev1.NewSecret(ctx, name+"-ca-key-pair", &corev1.SecretArgs{
		Metadata: kube.Metadata(kube.Object{Namespace: a.Namespace, Name: a.CASecret}),
		Type:     pulumi.String("kubernetes.io/tls"),
		StringData: pulumi.StringMap{
			nautobotpod.CertFile: cert.CertPem,
			nautobotpod.KeyFile:  pulumi.ToSecret(key.PrivateKeyPem).(pulumi.StringOutput),
			nautobotpod.CAFile:   cert.CertPem,
		},
	}, stateful...)
	if err != nil {
		return nil, fmt.Errorf("CA key pair secret: %w", err)
	}
	if c.CAPublic, err = corev1.NewSecret(ctx, name+"-ca-public", &corev1.SecretArgs{
		// CNPG reloads its CA when a secret with this label changes, i.e. after a renewal.
		Metadata: kube.Metadata(kube.Object{Namespace: a.AppNamespace, Name: a.CAPublicSecret,
			Labels: map[string]string{"cnpg.io/reload": "true"}}),
		Type:       pulumi.String("Opaque"),
		StringData: pulumi.StringMap{nautobotpod.CAFile: cert.CertPem},
	}, stateful...); err != nil {
		return nil, fmt.Errorf("CA public secret: %w", err)
	}
	return keyPair, nil
}

// publicCertSecret keeps a Secret with only ca.crt in sync with the CA secret. cert-manager cannot write
// a secret without a private key, and trust-manager is not available everywhere, so an in-cluster
// External Secrets store reads the one CA secret (a Role limited to that name) and the ExternalSecret
// copies just the certificate, labelled for CNPG to reload on CA renewal.
func (c *MTLSAuthority) publicCertSecret(ctx *pulumi.Context, name string, a Args, k8s, stateful []pulumi.ResourceOption) error {
	reader := a.CAPublicSecret + "-reader"
	sa, err := corev1.NewServiceAccount(ctx, name+"-ca-reader", &corev1.ServiceAccountArgs{
		Metadata: kube.Metadata(kube.Object{Namespace: a.Namespace, Name: reader}),
	}, k8s...)
	if err != nil {
		return err
	}
	role, err := rbacv1.NewRole(ctx, name+"-ca-reader", &rbacv1.RoleArgs{
		Metadata: kube.Metadata(kube.Object{Namespace: a.Namespace, Name: reader}),
		Rules: rbacv1.PolicyRuleArray{rbacv1.PolicyRuleArgs{
			ApiGroups:     pulumi.StringArray{pulumi.String("")},
			Resources:     pulumi.StringArray{pulumi.String("secrets")},
			ResourceNames: pulumi.StringArray{pulumi.String(a.CASecret)},
			// get is all External Secrets' kubernetes provider calls to read one key and to validate the
			// store (a rules review for get): no list or watch.
			Verbs: pulumi.ToStringArray([]string{"get"}),
		}},
	}, k8s...)
	if err != nil {
		return err
	}
	binding, err := rbacv1.NewRoleBinding(ctx, name+"-ca-reader", &rbacv1.RoleBindingArgs{
		Metadata: kube.Metadata(kube.Object{Namespace: a.Namespace, Name: reader}),
		RoleRef: rbacv1.RoleRefArgs{
			ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("Role"), Name: pulumi.String(reader),
		},
		Subjects: rbacv1.SubjectArray{rbacv1.SubjectArgs{
			Kind: pulumi.String("ServiceAccount"), Name: pulumi.String(reader), Namespace: pulumi.String(a.Namespace),
		}},
	}, append(k8s, pulumi.DependsOn([]pulumi.Resource{sa, role}))...)
	if err != nil {
		return err
	}
	store, err := kube.NewCustomResource(ctx, name+"-ca-store", "external-secrets.io/v1", "SecretStore",
		kube.Object{Namespace: a.Namespace, Name: reader},
		map[string]any{"spec": map[string]any{"provider": map[string]any{"kubernetes": map[string]any{
			"remoteNamespace": a.Namespace,
			"server":          a.CAPublicStore.server(),
			"auth":            map[string]any{"serviceAccount": map[string]any{"name": reader}},
		}}}}, append(k8s, pulumi.DependsOn([]pulumi.Resource{binding}))...)
	if err != nil {
		return err
	}
	c.CAPublic, err = kube.NewCustomResource(ctx, name+"-ca-public", "external-secrets.io/v1", "ExternalSecret",
		kube.Object{Namespace: a.Namespace, Name: a.CAPublicSecret},
		map[string]any{"spec": map[string]any{
			"refreshInterval": a.CAPublicRefreshInterval,
			"secretStoreRef":  map[string]any{"kind": "SecretStore", "name": reader},
			"target": map[string]any{
				"name":           a.CAPublicSecret,
				"creationPolicy": "Owner",
				"deletionPolicy": "Retain",
				"template": map[string]any{
					"engineVersion": "v2",
					"type":          "Opaque",
					"metadata":      map[string]any{"labels": map[string]any{"cnpg.io/reload": "true"}},
					"data":          map[string]any{nautobotpod.CAFile: `{{ .cacert | filterPEM "CERTIFICATE" }}`},
				},
			},
			// tls.crt of a self-signed root is the CA certificate itself; the key is never copied.
			"data": []any{kube.ExternalSecretData("cacert", a.CASecret, nautobotpod.CertFile)},
		}}, append(stateful, pulumi.DependsOn([]pulumi.Resource{store}))...)
	if err != nil {
		return fmt.Errorf("CA public secret: %w", err)
	}
	return nil
}

// delivery registers the store that writes into the application namespace from the CA namespace: a
// ServiceAccount beside the CA, and in the application namespace a Role that lets it update only the
// delivered Secrets (and create Secrets, which RBAC cannot limit by name). The account can read nothing of
// the CA namespace: a PushSecret's source is read by the External Secrets controller itself, in the
// PushSecret's own namespace, so only who may create PushSecrets beside the CA can push its key.
func (c *MTLSAuthority) delivery(ctx *pulumi.Context, name string, a Args, k8s []pulumi.ResourceOption) error {
	writer := a.DeliveryStore()
	sa, err := corev1.NewServiceAccount(ctx, name+"-delivery", &corev1.ServiceAccountArgs{
		Metadata: kube.Metadata(kube.Object{Namespace: a.Namespace, Name: writer}),
	}, k8s...)
	if err != nil {
		return err
	}
	delivered := slices.Clone(a.IssuedSecrets)
	if a.Root == RootCertManager {
		delivered = append([]string{a.CAPublicSecret}, delivered...)
	}
	role, err := rbacv1.NewRole(ctx, name+"-delivery", &rbacv1.RoleArgs{
		Metadata: kube.Metadata(kube.Object{Namespace: a.AppNamespace, Name: writer}),
		Rules: rbacv1.PolicyRuleArray{
			rbacv1.PolicyRuleArgs{
				ApiGroups:     pulumi.StringArray{pulumi.String("")},
				Resources:     pulumi.StringArray{pulumi.String("secrets")},
				ResourceNames: pulumi.ToStringArray(delivered),
				// The kubernetes provider reads the target before it writes, and the store's validation
				// reviews the account's rules for get.
				Verbs: pulumi.ToStringArray([]string{"get", "update"}),
			},
			rbacv1.PolicyRuleArgs{
				ApiGroups: pulumi.StringArray{pulumi.String("")},
				Resources: pulumi.StringArray{pulumi.String("secrets")},
				Verbs:     pulumi.ToStringArray([]string{"create"}),
			},
		},
	}, k8s...)
	if err != nil {
		return err
	}
	binding, err := rbacv1.NewRoleBinding(ctx, name+"-delivery", &rbacv1.RoleBindingArgs{
		Metadata: kube.Metadata(kube.Object{Namespace: a.AppNamespace, Name: writer}),
		RoleRef: rbacv1.RoleRefArgs{
			ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("Role"), Name: pulumi.String(writer),
		},
		Subjects: rbacv1.SubjectArray{rbacv1.SubjectArgs{
			Kind: pulumi.String("ServiceAccount"), Name: pulumi.String(writer), Namespace: pulumi.String(a.Namespace),
		}},
	}, append(k8s, pulumi.DependsOn([]pulumi.Resource{sa, role}))...)
	if err != nil {
		return err
	}
	c.Delivery, err = kube.NewCustomResource(ctx, name+"-delivery", "external-secrets.io/v1", "SecretStore",
		kube.Object{Namespace: a.Namespace, Name: writer},
		map[string]any{"spec": map[string]any{"provider": map[string]any{"kubernetes": map[string]any{
			"remoteNamespace": a.AppNamespace,
			"server":          a.CAPublicStore.server(),
			"auth":            map[string]any{"serviceAccount": map[string]any{"name": writer}},
		}}}}, append(k8s, pulumi.DependsOn([]pulumi.Resource{binding}))...)
	return err
}

// pushPublicCert pushes the CA certificate, and nothing else of the key pair, into the ca.crt-only Secret of
// the application namespace, labelled for CNPG to reload on CA renewal.
func (c *MTLSAuthority) pushPublicCert(ctx *pulumi.Context, name string, a Args, k8s []pulumi.ResourceOption, keyPair pulumi.Resource) error {
	data := kube.PushSecretData(nautobotpod.CertFile, a.CAPublicSecret, nautobotpod.CAFile)
	// Replace: the target gets these labels, not the key pair's (cert-manager's bookkeeping).
	data["metadata"] = kube.PushSecretMetadata(map[string]any{"cnpg.io/reload": "true"})
	var err error
	c.CAPublic, err = kube.NewCustomResource(ctx, name+"-ca-public", "external-secrets.io/v1alpha1", "PushSecret",
		kube.Object{Namespace: a.Namespace, Name: a.CAPublicSecret},
		map[string]any{"spec": map[string]any{
			"secretStoreRefs": []any{map[string]any{"kind": "SecretStore", "name": a.DeliveryStore()}},
			"selector":        map[string]any{"secret": map[string]any{"name": a.CASecret}},
			// The kubernetes provider gives the target its source's type: kubernetes.io/tls would refuse a
			// Secret without tls.key.
			"template":        map[string]any{"engineVersion": "v2", "type": "Opaque"},
			"data":            []any{data},
			"refreshInterval": a.CAPublicRefreshInterval,
			"updatePolicy":    "Replace",
			// The Secret outlives its PushSecret: CNPG must keep its CA if the PushSecret goes.
			"deletionPolicy": "None",
		}}, append(k8s, pulumi.DependsOn([]pulumi.Resource{keyPair, c.Delivery}))...)
	if err != nil {
		return fmt.Errorf("CA public secret: %w", err)
	}
	return nil
}
