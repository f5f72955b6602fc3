// Package database provides PostgresCluster: the CloudNativePG Cluster that accepts only TLS connections
// authenticated by a client certificate from the mTLS CA.
package database

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"

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
	// TopologyKey is the node label the anti-affinity spreads instances over (default kubernetes.io/hostname;
	// topology.kubernetes.io/zone spreads them over zones).
	TopologyKey string `json:"topologyKey"`
	// NodeSelector and Tolerations place the instances (spec.affinity).
	NodeSelector map[string]string `json:"nodeSelector"`
	Tolerations  []kube.Toleration `json:"tolerations"`
	// WALStorage gives the write-ahead log its own volumes (spec.walStorage); without a size the WAL shares
	// the data volume.
	WALStorage Storage `json:"walStorage"`
	// Resources are the PostgreSQL container's requests and limits (default: none, CNPG's).
	Resources  kube.Resources `json:"resources"`
	Backup     Backup         `json:"backup"`
	Monitoring Monitoring     `json:"monitoring"`

	// Identities are the client certificate common names that log in as User (set by the stack: the global
	// pods' and each listed site's); every other certificate is refused.
	Identities []string `json:"-"`
	// ExtraIdentities are further common names mapped to User, for a migration: certificates issued before
	// each site had its own identity carry CN app, and a site whose secrets provider still holds one needs
	// it mapped until the reissued certificate is copied there.
	ExtraIdentities []string `json:"extraIdentities"`

	// Secrets wired into spec.certificates (set by the stack from the authority and certificates).
	ServerTLSSecret      string `json:"-"`
	CASecret             string `json:"-"`
	ReplicationTLSSecret string `json:"-"`
}

// Storage is a volume CNPG creates for each instance.
type Storage struct {
	Size         string `json:"size"`
	StorageClass string `json:"storageClass"`
}

func (s Storage) spec() map[string]any {
	out := map[string]any{"size": s.Size}
	if s.StorageClass != "" {
		out["storageClass"] = s.StorageClass
	}
	return out
}

// Defaults returns args with every unset field filled in.
func (a Args) Defaults() Args {
	a.Name = cmp.Or(a.Name, "nautobot-cluster")
	a.StorageSize = cmp.Or(a.StorageSize, "20Gi")
	a.ImageName = cmp.Or(a.ImageName, "ghcr.io/cloudnative-pg/postgresql:17.9-system-bullseye")
	a.Database = cmp.Or(a.Database, "app")
	a.User = cmp.Or(a.User, "app")
	a.PodAntiAffinity = cmp.Or(a.PodAntiAffinity, "required")
	a.TopologyKey = cmp.Or(a.TopologyKey, "kubernetes.io/hostname")
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
	// identityRe is a certificate common name pg_ident.conf takes as a plain token: no whitespace, quote
	// or comment, and no leading / (a regular expression) or + (a group).
	identityRe   = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}$`)
	imageTag     = regexp.MustCompile(`:([0-9]+)(\.[0-9]+)*[^/:@]*(@sha256:[0-9a-f]+)?$`)
	identifierRe = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
	// retentionPolicy is the pattern of CNPG's spec.backup.retentionPolicy.
	retentionPolicy = regexp.MustCompile(`^[1-9][0-9]*[dwm]$`)
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
	p.Quantity("storageSize", a.StorageSize)
	if a.StorageClass != "" {
		p.ObjectName("storageClass", a.StorageClass)
	}
	if a.WALStorage.Size != "" {
		p.Quantity("walStorage.size", a.WALStorage.Size)
	}
	if a.WALStorage.StorageClass != "" {
		if a.WALStorage.Size == "" {
			p.Addf("walStorage.size", "is not set, but walStorage.storageClass is; set the size of the WAL volume (such as 10Gi) or remove database.walStorage")
		}
		p.ObjectName("walStorage.storageClass", a.WALStorage.StorageClass)
	}
	a.Resources.Validate(p, "resources")
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
	if errs := k8svalidation.IsQualifiedName(a.TopologyKey); len(errs) > 0 {
		p.Addf("topologyKey", "%q is not a node label key (such as topology.kubernetes.io/zone): %s", a.TopologyKey, strings.Join(errs, "; "))
	}
	p.Labels("nodeSelector", a.NodeSelector)
	for i, t := range a.Tolerations {
		t.Validate(p, fmt.Sprintf("tolerations[%d]", i))
	}
	for i, id := range a.ExtraIdentities {
		ValidIdentity(p, fmt.Sprintf("extraIdentities[%d]", i), id)
	}
	a.Backup.validate(p)
	if a.Monitoring.PodMonitor {
		p.Labels("monitoring.podMonitorLabels", a.Monitoring.PodMonitorLabels)
	} else if len(a.Monitoring.PodMonitorLabels) > 0 {
		p.Addf("monitoring.podMonitorLabels", "are set but monitoring.podMonitor is not; set database.monitoring.podMonitor: true (the cluster needs the monitoring.coreos.com CRDs) or remove them")
	}
	return p.Err()
}

// cnpgRoles are the roles CNPG's own pg_hba rules admit by certificate ahead of the user rules (its
// replicas' and its pooler's): a client certificate with one of these common names gets that role.
var cnpgRoles = []string{"streaming_replica", "cnpg_pooler_pgbouncer"}

// ValidIdentity reports whether id can be a client certificate's common name that PostgreSQL maps to the
// application role, adding the problem under key if not.
func ValidIdentity(p *validate.Problems, key, id string) bool {
	switch {
	case !identityRe.MatchString(id):
		p.Addf(key, "%q is not a certificate common name PostgreSQL can map: use letters, digits, _ . @ - (at most 64, not starting with . @ -)", id)
	case slices.Contains(cnpgRoles, id):
		p.Addf(key, "%q is the role CloudNativePG admits by certificate before any user rule: a certificate with this common name logs in as %s, not as the application; choose another name", id, id)
	default:
		return true
	}
	return false
}

// Cluster returns the provider, once the stack has wired in the namespace, the certificate secrets and the
// identities.
func (a Args) Cluster() (*kubernetes.Provider, error) {
	if a.Provider == nil || a.Namespace == "" || a.ServerTLSSecret == "" || a.CASecret == "" || a.ReplicationTLSSecret == "" {
		return nil, errors.New("database: Args.Provider, Namespace and the three certificate secrets are required")
	}
	if len(a.Identities) == 0 {
		return nil, errors.New("database: Args.Identities is required (the client certificates' common names)")
	}
	return a.Provider, nil
}

// PostgresCluster is the CNPG Cluster with the mTLS CA as its client CA and cert-only pg_hba.
type PostgresCluster struct {
	pulumi.ResourceState
	component.WithArgs[Args]
}

// IdentMap is the pg_ident map that names which certificates log in as the application role.
const IdentMap = "nautobot"

// HBA are the user pg_hba rules, after CNPG's own (local peers, its replicas' and its pooler's
// certificates): TLS with a client certificate into the application database as the application role,
// from any IPv4 or IPv6 address, only for the common names IdentMap lists; then an explicit reject of every
// other TLS and every unencrypted connection. CNPG appends `host all all all scram-sha-256` after user
// rules, so without the rejects a client holding the app password gets in (measured against a real
// PostgreSQL by tests/mtls), and with plain `cert` (the seed's rule) a certificate's common name is the
// role: CN postgres logs in as the superuser.
func (a Args) HBA() []string {
	return []string{
		fmt.Sprintf("hostssl %s %s all cert map=%s", a.Database, a.User, IdentMap),
		"hostssl all all all reject",
		"hostnossl all all all reject",
	}
}

// Ident are the pg_ident lines of IdentMap: each identity, then each extra one, as the application role.
// Removing a site from the global stack's sites removes its line, and CNPG reloads PostgreSQL, so the
// site's certificate stops logging in at once, whatever its expiry.
func (a Args) Ident() []string {
	var lines []string
	for _, id := range slices.Concat(a.Identities, a.ExtraIdentities) {
		lines = append(lines, fmt.Sprintf("%s %s %s", IdentMap, id, a.User))
	}
	return lines
}

// NewPostgresCluster registers the CNPG Cluster, protected and retained on delete.
func NewPostgresCluster(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*PostgresCluster, error) {
	return component.New(ctx, "nautobot:database:PostgresCluster", name, args, &PostgresCluster{}, opts,
		func(c *PostgresCluster, children []pulumi.ResourceOption) (pulumi.Map, error) {
			a := c.Args
			_, err := kube.NewCustomResource(ctx, name+"-cluster", "postgresql.cnpg.io/v1", "Cluster",
				kube.Object{Namespace: a.Namespace, Name: a.Name}, map[string]any{"spec": a.clusterSpec()},
				append(children, pulumi.Protect(true), pulumi.RetainOnDelete(true))...)
			if err != nil {
				return nil, err
			}
			if a.Backup.Schedule != "" {
				if _, err := kube.NewCustomResource(ctx, name+"-scheduled-backup", "postgresql.cnpg.io/v1", "ScheduledBackup",
					kube.Object{Namespace: a.Namespace, Name: a.scheduledBackupName()}, map[string]any{"spec": a.scheduledBackupSpec()},
					children...); err != nil {
					return nil, err
				}
			}
			if a.Monitoring.PodMonitor {
				if _, err := kube.NewCustomResource(ctx, name+"-pod-monitor", "monitoring.coreos.com/v1", "PodMonitor",
					kube.Object{Namespace: a.Namespace, Name: a.Name, Labels: a.Monitoring.PodMonitorLabels},
					map[string]any{"spec": a.podMonitorSpec()}, children...); err != nil {
					return nil, err
				}
			}
			return pulumi.Map{}, nil
		})
}

// clusterSpec is the CNPG Cluster's spec. Production settings left unset add nothing, so the operator's
// defaults apply.
func (a Args) clusterSpec() map[string]any {
	affinity := map[string]any{"podAntiAffinityType": a.PodAntiAffinity, "topologyKey": a.TopologyKey}
	if len(a.NodeSelector) > 0 {
		selector := map[string]any{}
		for k, v := range a.NodeSelector {
			selector[k] = v
		}
		affinity["nodeSelector"] = selector
	}
	if len(a.Tolerations) > 0 {
		tolerations := make([]any, len(a.Tolerations))
		for i, t := range a.Tolerations {
			tolerations[i] = t.Values()
		}
		affinity["tolerations"] = tolerations
	}
	spec := map[string]any{
		"instances": a.Instances,
		"imageName": a.ImageName,
		"storage":   Storage{Size: a.StorageSize, StorageClass: a.StorageClass}.spec(),
		"bootstrap": map[string]any{"initdb": map[string]any{"database": a.Database, "owner": a.User}},
		"affinity":  affinity,
		"certificates": map[string]any{
			"serverTLSSecret": a.ServerTLSSecret,
			"serverCASecret":  a.CASecret,
			// clientCASecret becomes ssl_ca_file, which verifies client certificates; with
			// replicationTLSSecret set CNPG needs no ca.key, so the secret holds ca.crt only.
			"clientCASecret":       a.CASecret,
			"replicationTLSSecret": a.ReplicationTLSSecret,
		},
		"postgresql": map[string]any{"pg_hba": kube.Strings(a.HBA()), "pg_ident": kube.Strings(a.Ident())},
	}
	if a.WALStorage.Size != "" {
		spec["walStorage"] = a.WALStorage.spec()
	}
	if !a.Resources.IsZero() {
		spec["resources"] = a.Resources.Values()
	}
	if a.Backup.Enabled() {
		spec["backup"] = a.Backup.spec()
	}
	return spec
}

// scheduledBackupName is the ScheduledBackup's name, <cluster>-backup.
func (a Args) scheduledBackupName() string { return a.Name + "-backup" }

// scheduledBackupSpec takes base backups of the cluster to its object store on the configured schedule;
// the Backups it creates belong to the ScheduledBackup, so removing the schedule removes their objects (not
// the backups in the store, which the retention policy governs).
func (a Args) scheduledBackupSpec() map[string]any {
	spec := map[string]any{
		"schedule":             a.Backup.Schedule,
		"cluster":              map[string]any{"name": a.Name},
		"method":               "barmanObjectStore",
		"backupOwnerReference": "self",
	}
	if a.Backup.Immediate {
		spec["immediate"] = true
	}
	return spec
}

// podMonitorSpec scrapes the metrics port of every instance of the cluster, as CNPG documents it.
func (a Args) podMonitorSpec() map[string]any {
	return map[string]any{
		"selector":            map[string]any{"matchLabels": map[string]any{"cnpg.io/cluster": a.Name}},
		"podMetricsEndpoints": []any{map[string]any{"port": "metrics"}},
	}
}
