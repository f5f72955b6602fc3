package database

import (
	"maps"
	"slices"
	"strings"

	"github.com/robfig/cron/v3"

	"nautobot-worker/internal/kube"
	"nautobot-worker/internal/validate"
)

// Backup is CNPG's native object-store backup (spec.backup.barmanObjectStore of CNPG 1.28, the version the
// project pins) and the ScheduledBackup that takes base backups on a schedule. CNPG deprecates the native
// Barman Cloud integration from 1.26 in favour of the Barman Cloud plugin, which needs its own operator and
// ObjectStore CRD; the native fields are what the pinned Cluster CRD serves and its webhook checks. Setting
// DestinationPath turns backups on; credentials are only references to Secrets in the stack's namespace.
type Backup struct {
	// DestinationPath is the object-store folder: s3://bucket/path, gs://bucket/path, or an Azure
	// https://<account>.blob.core.windows.net/<container>/<path>.
	DestinationPath string `json:"destinationPath"`
	// EndpointURL is an S3-compatible endpoint (MinIO and the like); unset uses the provider's own.
	EndpointURL string `json:"endpointURL"`
	// EndpointCA is the CA bundle of an endpoint with a private CA.
	EndpointCA        *kube.SecretKeyRef `json:"endpointCA"`
	S3Credentials     *S3Credentials     `json:"s3Credentials"`
	AzureCredentials  *AzureCredentials  `json:"azureCredentials"`
	GoogleCredentials *GoogleCredentials `json:"googleCredentials"`
	WAL               WALBackup          `json:"wal"`
	Data              DataBackup         `json:"data"`
	// RetentionPolicy is a recovery window such as 30d, 4w or 3m; unset keeps every backup.
	RetentionPolicy string `json:"retentionPolicy"`
	// Target is where backups run: prefer-standby (CNPG's default) or primary.
	Target string `json:"target"`
	// Schedule is the ScheduledBackup's six-field cron (seconds first); unset creates no ScheduledBackup.
	Schedule string `json:"schedule"`
	// Immediate takes a backup as soon as the ScheduledBackup is created.
	Immediate bool `json:"immediate"`
}

// S3Credentials authenticate to S3 or an S3-compatible store: keys from a Secret, or the pod's IAM role.
type S3Credentials struct {
	AccessKeyID        *kube.SecretKeyRef `json:"accessKeyId"`
	SecretAccessKey    *kube.SecretKeyRef `json:"secretAccessKey"`
	Region             *kube.SecretKeyRef `json:"region"`
	SessionToken       *kube.SecretKeyRef `json:"sessionToken"`
	InheritFromIAMRole bool               `json:"inheritFromIAMRole"`
}

// AzureCredentials authenticate to Azure Blob Storage: a connection string, a storage account with its key
// or SAS token, or Azure AD workload identity.
type AzureCredentials struct {
	ConnectionString   *kube.SecretKeyRef `json:"connectionString"`
	StorageAccount     *kube.SecretKeyRef `json:"storageAccount"`
	StorageKey         *kube.SecretKeyRef `json:"storageKey"`
	StorageSasToken    *kube.SecretKeyRef `json:"storageSasToken"`
	InheritFromAzureAD bool               `json:"inheritFromAzureAD"`
}

// GoogleCredentials authenticate to Google Cloud Storage: a service-account key, or GKE workload identity.
type GoogleCredentials struct {
	ApplicationCredentials *kube.SecretKeyRef `json:"applicationCredentials"`
	GKEEnvironment         bool               `json:"gkeEnvironment"`
}

// WALBackup tunes WAL archiving.
type WALBackup struct {
	Compression string `json:"compression"`
	MaxParallel int    `json:"maxParallel"`
}

// DataBackup tunes base backups.
type DataBackup struct {
	Compression string `json:"compression"`
	Jobs        int    `json:"jobs"`
}

// Enabled reports whether backups are configured.
func (b Backup) Enabled() bool { return b.DestinationPath != "" }

// Monitoring is the Prometheus Operator PodMonitor of the cluster's instances. CNPG 1.28 deprecates the
// operator-managed PodMonitor (spec.monitoring.enablePodMonitor) and documents a user-managed one, which
// the stack creates; it needs the monitoring.coreos.com CRDs on the cluster, so it is opt-in.
type Monitoring struct {
	PodMonitor bool `json:"podMonitor"`
	// PodMonitorLabels select the PodMonitor for a Prometheus (its podMonitorSelector, such as release: prometheus).
	PodMonitorLabels map[string]string `json:"podMonitorLabels"`
}

// The compressions CNPG 1.28's Cluster CRD accepts for WAL files and for base backups.
var (
	walCompressions  = []string{"bzip2", "gzip", "lz4", "snappy", "xz", "zstd"}
	dataCompressions = []string{"bzip2", "gzip", "snappy"}
	// cnpgCron is the parser CNPG's ScheduledBackup webhook uses (robfig/cron's default: seconds first,
	// day of week optional, descriptors such as @daily).
	cnpgCron = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.DowOptional | cron.Descriptor)
)

func (b Backup) validate(p *validate.Problems) {
	if !b.Enabled() {
		if b != (Backup{}) {
			p.Addf("backup.destinationPath", "is not set, but other backup settings are; set it (such as s3://bucket/nautobot) or remove database.backup")
		}
		return
	}
	switch {
	case strings.HasPrefix(b.DestinationPath, "s3://"), strings.HasPrefix(b.DestinationPath, "gs://"):
		p.URL("backup.destinationPath", b.DestinationPath, "s3", "gs")
	default:
		p.URL("backup.destinationPath", b.DestinationPath, "s3", "gs", "https", "http")
	}
	if b.EndpointURL != "" {
		p.URL("backup.endpointURL", b.EndpointURL, "https", "http")
	}
	if b.EndpointCA != nil {
		b.EndpointCA.Validate(p, "backup.endpointCA")
	}
	b.validateCredentials(p)
	if b.WAL.Compression != "" {
		p.OneOf("backup.wal.compression", b.WAL.Compression, walCompressions...)
	}
	if b.Data.Compression != "" {
		p.OneOf("backup.data.compression", b.Data.Compression, dataCompressions...)
	}
	if b.WAL.MaxParallel < 0 {
		p.Addf("backup.wal.maxParallel", "%d is negative; use 1 or more WAL files archived at once", b.WAL.MaxParallel)
	}
	if b.Data.Jobs < 0 {
		p.Addf("backup.data.jobs", "%d is negative; use 1 or more parallel upload jobs", b.Data.Jobs)
	}
	if b.RetentionPolicy != "" && !retentionPolicy.MatchString(b.RetentionPolicy) {
		p.Addf("backup.retentionPolicy", "%q is not a recovery window; use a number of days, weeks or months such as 30d, 4w or 3m", b.RetentionPolicy)
	}
	if b.Target != "" {
		p.OneOf("backup.target", b.Target, "prefer-standby", "primary")
	}
	if b.Schedule == "" {
		if b.Immediate {
			p.Addf("backup.immediate", "needs backup.schedule: it starts the ScheduledBackup's first backup at once")
		}
		return
	}
	if _, err := cnpgCron.Parse(b.Schedule); err != nil || len(strings.Fields(b.Schedule)) != 6 {
		p.Addf("backup.schedule", "%q is not a six-field cron schedule; CNPG's fields are seconds minutes hours day-of-month month day-of-week, such as \"0 0 0 * * *\" for every day at midnight", b.Schedule)
	}
}

// validateCredentials applies CNPG's rule (one and only one provider's credentials) and each provider's.
func (b Backup) validateCredentials(p *validate.Problems) {
	count := 0
	if c := b.S3Credentials; c != nil {
		count++
		if !c.InheritFromIAMRole && (c.AccessKeyID == nil || c.SecretAccessKey == nil) {
			p.Addf("backup.s3Credentials", "needs accessKeyId and secretAccessKey (Secret references: name and key), or inheritFromIAMRole: true")
		}
		validateRefs(p, "backup.s3Credentials", map[string]*kube.SecretKeyRef{
			"accessKeyId": c.AccessKeyID, "secretAccessKey": c.SecretAccessKey, "region": c.Region, "sessionToken": c.SessionToken,
		})
	}
	if c := b.AzureCredentials; c != nil {
		count++
		withAccount := c.StorageAccount != nil && (c.StorageKey != nil || c.StorageSasToken != nil)
		if !c.InheritFromAzureAD && c.ConnectionString == nil && !withAccount {
			p.Addf("backup.azureCredentials", "needs connectionString, storageAccount with storageKey or storageSasToken (Secret references: name and key), or inheritFromAzureAD: true")
		}
		validateRefs(p, "backup.azureCredentials", map[string]*kube.SecretKeyRef{
			"connectionString": c.ConnectionString, "storageAccount": c.StorageAccount, "storageKey": c.StorageKey, "storageSasToken": c.StorageSasToken,
		})
	}
	if c := b.GoogleCredentials; c != nil {
		count++
		if !c.GKEEnvironment && c.ApplicationCredentials == nil {
			p.Addf("backup.googleCredentials", "needs applicationCredentials (a Secret reference: name and key) or gkeEnvironment: true")
		}
		validateRefs(p, "backup.googleCredentials", map[string]*kube.SecretKeyRef{"applicationCredentials": c.ApplicationCredentials})
	}
	if count != 1 {
		p.Addf("backup", "needs exactly one of s3Credentials, azureCredentials and googleCredentials (CNPG refuses the Cluster otherwise)")
	}
}

func validateRefs(p *validate.Problems, key string, refs map[string]*kube.SecretKeyRef) {
	for _, name := range slices.Sorted(maps.Keys(refs)) {
		if ref := refs[name]; ref != nil {
			ref.Validate(p, key+"."+name)
		}
	}
}

// spec is spec.backup of the Cluster.
func (b Backup) spec() map[string]any {
	store := map[string]any{"destinationPath": b.DestinationPath}
	if b.EndpointURL != "" {
		store["endpointURL"] = b.EndpointURL
	}
	if b.EndpointCA != nil {
		store["endpointCA"] = b.EndpointCA.Values()
	}
	if c := b.S3Credentials; c != nil {
		store["s3Credentials"] = credentials(c.InheritFromIAMRole, "inheritFromIAMRole", map[string]*kube.SecretKeyRef{
			"accessKeyId": c.AccessKeyID, "secretAccessKey": c.SecretAccessKey, "region": c.Region, "sessionToken": c.SessionToken,
		})
	}
	if c := b.AzureCredentials; c != nil {
		store["azureCredentials"] = credentials(c.InheritFromAzureAD, "inheritFromAzureAD", map[string]*kube.SecretKeyRef{
			"connectionString": c.ConnectionString, "storageAccount": c.StorageAccount, "storageKey": c.StorageKey, "storageSasToken": c.StorageSasToken,
		})
	}
	if c := b.GoogleCredentials; c != nil {
		store["googleCredentials"] = credentials(c.GKEEnvironment, "gkeEnvironment", map[string]*kube.SecretKeyRef{
			"applicationCredentials": c.ApplicationCredentials,
		})
	}
	if wal := tuning(b.WAL.Compression, "maxParallel", b.WAL.MaxParallel); len(wal) > 0 {
		store["wal"] = wal
	}
	if data := tuning(b.Data.Compression, "jobs", b.Data.Jobs); len(data) > 0 {
		store["data"] = data
	}
	spec := map[string]any{"barmanObjectStore": store}
	if b.RetentionPolicy != "" {
		spec["retentionPolicy"] = b.RetentionPolicy
	}
	if b.Target != "" {
		spec["target"] = b.Target
	}
	return spec
}

func credentials(inherit bool, inheritKey string, refs map[string]*kube.SecretKeyRef) map[string]any {
	out := map[string]any{}
	if inherit {
		out[inheritKey] = true
	}
	for name, ref := range refs {
		if ref != nil {
			out[name] = ref.Values()
		}
	}
	return out
}

func tuning(compression, countKey string, count int) map[string]any {
	out := map[string]any{}
	if compression != "" {
		out["compression"] = compression
	}
	if count > 0 {
		out[countKey] = count
	}
	return out
}
