// Package database provides PostgresCluster: the CloudNativePG Cluster that accepts only TLS connections
// authenticated by a client certificate from the mTLS CA.
package database

import (
	"cmp"
	"errors"
	"regexp"
	"strconv"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"nautobot-worker/internal/component"
	"nautobot-worker/internal/kube"
	"nautobot-worker/internal/validate"
)

// ConfigKey is the stack config key these arguments are read from.
const ConfigKey = "database"

// Args configures the CNPG Cluster.
type Args struct {
	Provider *kubernetes.Provider `json:"-"`
	// Namespace of the cluster (set by the stack).
	Namespace string `json:"-"`
	// Name of the CNPG Cluster (default nautobot-cluster); its rw Service is <name>-rw.
	Name string `json:"name"`
	// Instances is the number of PostgreSQL instances (default 3).
	Instances int `json:"instances"`
	// StorageSize of each instance's volume (default 20Gi).
	StorageSize string `json:"storageSize"`
	// StorageClass of the volumes (default: the cluster default).
	StorageClass string `json:"storageClass"`
	// ImageName is the PostgreSQL operand image (default ghcr.io/cloudnative-pg/postgresql:17.9-system-bullseye).
	ImageName string `json:"imageName"`
	// MajorVersion overrides the major version read from the image tag (needed for digest-pinned images).
	MajorVersion int `json:"majorVersion"`
	// DirectTLS is true when clients connect through the TLS-passthrough gateway (sslnegotiation=direct),
	// which PostgreSQL supports from 17 on (default true).
	DirectTLS *bool `json:"directTls"`
	// Database and User are CNPG's initdb application database and owner (default app/app).
	Database string `json:"database"`
	User     string `json:"user"`
	// PodAntiAffinity is CNPG's podAntiAffinityType: required (default) or preferred.
	PodAntiAffinity string `json:"podAntiAffinity"`

	// Secrets wired into spec.certificates (set by the stack from the authority and certificates).
	ServerTLSSecret      string `json:"-"`
	CASecret             string `json:"-"`
	ReplicationTLSSecret string `json:"-"`
}

// Defaults returns args with every unset field filled in.
func (a Args) Defaults() Args {
	a.Name = cmp.Or(a.Name, "nautobot-cluster")
	a.StorageSize = cmp.Or(a.StorageSize, "20Gi")
	a.ImageName = cmp.Or(a.ImageName, "ghcr.io/cloudnative-pg/postgresql:17.9-system-bullseye")
	a.Database = cmp.Or(a.Database, "app")
	a.User = cmp.Or(a.User, "app")
	a.PodAntiAffinity = cmp.Or(a.PodAntiAffinity, "required")
	if a.Instances == 0 {
		a.Instances = 3
	}
	if a.DirectTLS == nil {
		direct := true
		a.DirectTLS = &direct
	}
	return a
}

// RWService is the Service CNPG creates for the primary: the gateway's backend and the global pods' host.
func (a Args) RWService() string { return a.Name + "-rw" }

// AppSecret is the Secret CNPG writes the application role's credentials (username, password) to.
func (a Args) AppSecret() string { return a.Name + "-app" }

// Services are the Services CNPG creates; the server certificate covers all of them.
func (a Args) Services() []string { return []string{a.Name + "-rw", a.Name + "-ro", a.Name + "-r"} }

var (
	imageTag     = regexp.MustCompile(`:([0-9]+)(\.[0-9]+)*[^/:@]*(@sha256:[0-9a-f]+)?$`)
	quantity     = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$`)
	identifierRe = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
)

// Major returns the PostgreSQL major version from MajorVersion or the image tag, or 0 if unknown.
func (a Args) Major() int {
	if a.MajorVersion != 0 {
		return a.MajorVersion
	}
	if m := imageTag.FindStringSubmatch(a.ImageName); m != nil {
		v, _ := strconv.Atoi(m[1])
		return v
	}
	return 0
}

// Validate checks the plain values; problems name keys relative to Args.
func (a Args) Validate() error {
	p := validate.New("")
	if p.DNSLabel("name", a.Name) && len(a.Name) > 50 {
		p.Addf("name", "%q is too long; CNPG appends suffixes, keep it at most 50 characters", a.Name)
	}
	if a.Instances < 1 {
		p.Addf("instances", "%d must be at least 1", a.Instances)
	}
	if !quantity.MatchString(a.StorageSize) {
		p.Addf("storageSize", "%q is not a Kubernetes quantity such as 20Gi", a.StorageSize)
	}
	if a.StorageClass != "" {
		p.ObjectName("storageClass", a.StorageClass)
	}
	p.NonEmpty("imageName", a.ImageName)
	switch major := a.Major(); {
	case major == 0:
		p.Addf("majorVersion", "cannot read the PostgreSQL major version from image %q; set database.majorVersion", a.ImageName)
	case major < 17 && *a.DirectTLS:
		p.Addf("imageName", "%q is PostgreSQL %d; direct TLS through the passthrough gateway (sslnegotiation=direct) needs PostgreSQL 17 or newer — use a 17+ image or set database.directTls: false if no client connects through the gateway", a.ImageName, major)
	}
	for key, v := range map[string]string{"database": a.Database, "user": a.User} {
		if !identifierRe.MatchString(v) {
			p.Addf(key, "%q is not a plain PostgreSQL identifier (lower-case letters, digits, _)", v)
		}
	}
	p.OneOf("podAntiAffinity", a.PodAntiAffinity, "required", "preferred")
	return p.Err()
}

// Cluster returns the provider, once the stack has wired in the namespace and the certificate secrets.
func (a Args) Cluster() (*kubernetes.Provider, error) {
	if a.Provider == nil || a.Namespace == "" || a.ServerTLSSecret == "" || a.CASecret == "" || a.ReplicationTLSSecret == "" {
		return nil, errors.New("database: Args.Provider, Namespace and the three certificate secrets are required")
	}
	return a.Provider, nil
}

// PostgresCluster is the CNPG Cluster with the mTLS CA as its client CA and cert-only pg_hba.
type PostgresCluster struct {
	pulumi.ResourceState
	component.WithArgs[Args]
}

// HBA are the user pg_hba rules: TLS with a client certificate whose CN is the role, from any IPv4 or
// IPv6 address, and an explicit reject of everything unencrypted. CNPG appends its own
// `host all all all scram-sha-256` after user rules, so without the reject a plaintext client holding the
// app password gets in (measured against a real PostgreSQL by tests/mtls), and with an IPv4-only cert rule
// a TLS client over IPv6 would get in with the password alone.
var HBA = []string{"hostssl all all all cert", "hostnossl all all all reject"}

// NewPostgresCluster registers the CNPG Cluster, protected and retained on delete.
func NewPostgresCluster(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*PostgresCluster, error) {
	return component.New(ctx, "nautobot:database:PostgresCluster", name, args, &PostgresCluster{}, opts,
		func(c *PostgresCluster, children []pulumi.ResourceOption) (pulumi.Map, error) {
			a := c.Args
			storage := map[string]any{"size": a.StorageSize}
			if a.StorageClass != "" {
				storage["storageClass"] = a.StorageClass
			}
			hba := make([]any, len(HBA))
			for i, rule := range HBA {
				hba[i] = rule
			}
			_, err := kube.NewCustomResource(ctx, name+"-cluster", "postgresql.cnpg.io/v1", "Cluster",
				kube.Object{Namespace: a.Namespace, Name: a.Name},
				map[string]any{"spec": map[string]any{
					"instances": a.Instances,
					"imageName": a.ImageName,
					"storage":   storage,
					"bootstrap": map[string]any{"initdb": map[string]any{"database": a.Database, "owner": a.User}},
					"affinity": map[string]any{
						"podAntiAffinityType": a.PodAntiAffinity,
						"topologyKey":         "kubernetes.io/hostname",
					},
					"certificates": map[string]any{
						"serverTLSSecret": a.ServerTLSSecret,
						"serverCASecret":  a.CASecret,
						// clientCASecret becomes ssl_ca_file, which verifies client certificates; with
						// replicationTLSSecret set CNPG needs no ca.key, so the secret holds ca.crt only.
						"clientCASecret":       a.CASecret,
						"replicationTLSSecret": a.ReplicationTLSSecret,
					},
					"postgresql": map[string]any{"pg_hba": hba},
				}},
				append(children, pulumi.Protect(true), pulumi.RetainOnDelete(true))...)
			if err != nil {
				return nil, err
			}
			return pulumi.Map{}, nil
		})
}
