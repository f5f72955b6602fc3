package database_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"nautobot-worker/components/database"
	"nautobot-worker/internal/crdschema"
)

// The CRDs the objects are checked against: CNPG's at the version scripts/cluster.sh loads into the local
// API server (the test reads it from there, so the two cannot drift), and the Prometheus Operator's
// PodMonitor, which that cluster does not load (a PodMonitor is opt-in for that reason).
const (
	cnpgModule        = "github.com/cloudnative-pg/cloudnative-pg"
	prometheusModule  = "github.com/prometheus-operator/prometheus-operator"
	prometheusVersion = "v0.85.0"
)

func cnpgVersion(t *testing.T) string {
	t.Helper()
	script, err := os.ReadFile(filepath.Join("..", "..", "scripts", "cluster.sh"))
	require.NoError(t, err)
	m := regexp.MustCompile(`"` + regexp.QuoteMeta(cnpgModule) + `@(v[0-9.]+) config/crd/bases/\*\.yaml"`).FindSubmatch(script)
	require.NotNil(t, m, "scripts/cluster.sh no longer loads CNPG's CRDs from %s", cnpgModule)
	return string(m[1])
}

func loadCRD(t *testing.T, module, version, file string) *crdschema.CRD {
	t.Helper()
	files, err := crdschema.ModuleFiles(module, version, file)
	require.NoError(t, err)
	crd, err := crdschema.Load(files[0], "v1")
	require.NoError(t, err)
	return crd
}

// Every object the database registers, with every production setting and with each credential provider,
// is one the real CRD schemas accept; and the check itself refuses what the API server would refuse.
func TestObjectsPassTheRealCRDSchemas(t *testing.T) {
	version := cnpgVersion(t)
	crds := map[string]*crdschema.CRD{
		"kubernetes:postgresql.cnpg.io/v1:Cluster":         loadCRD(t, cnpgModule, version, "config/crd/bases/postgresql.cnpg.io_clusters.yaml"),
		"kubernetes:postgresql.cnpg.io/v1:ScheduledBackup": loadCRD(t, cnpgModule, version, "config/crd/bases/postgresql.cnpg.io_scheduledbackups.yaml"),
		"kubernetes:monitoring.coreos.com/v1:PodMonitor":   loadCRD(t, prometheusModule, prometheusVersion, "example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml"),
	}
	objects := func(t *testing.T, a database.Args) map[string]map[string]any {
		t.Helper()
		m, err := run(t, a)
		require.NoError(t, err)
		out := map[string]map[string]any{}
		for typ := range crds {
			for _, r := range m.OfType(typ) {
				out[typ] = r.Plain()
			}
		}
		return out
	}
	azure, google := production(), production()
	azure.Backup.S3Credentials = nil
	azure.Backup.DestinationPath = "https://nautobot.blob.core.windows.net/backups/global"
	azure.Backup.AzureCredentials = &database.AzureCredentials{StorageAccount: ref("azure", "AZURE_STORAGE_ACCOUNT"), StorageSasToken: ref("azure", "AZURE_STORAGE_SAS_TOKEN")}
	google.Backup.S3Credentials = nil
	google.Backup.DestinationPath = "gs://nautobot-backups/global"
	google.Backup.GoogleCredentials = &database.GoogleCredentials{ApplicationCredentials: ref("gcs", "gcsCredentials")}
	iam := production()
	iam.Backup.S3Credentials = &database.S3Credentials{InheritFromIAMRole: true, Region: ref("backup-s3", "REGION")}
	for name, a := range map[string]database.Args{
		"defaults": base(), "production, S3": production(), "Azure": azure, "Google": google, "S3 through the IAM role": iam,
	} {
		t.Run(name, func(t *testing.T) {
			objs := objects(t, a)
			require.Contains(t, objs, "kubernetes:postgresql.cnpg.io/v1:Cluster")
			for typ, obj := range objs {
				require.Empty(t, crds[typ].Validate(obj), "%s", typ)
			}
		})
	}
	require.Len(t, objects(t, production()), 3, "production settings register a Cluster, a ScheduledBackup and a PodMonitor")

	t.Run("the check refuses what the API server refuses", func(t *testing.T) {
		objs := objects(t, production())
		cluster := objs["kubernetes:postgresql.cnpg.io/v1:Cluster"]
		spec := cluster["spec"].(map[string]any)
		spec["backup"].(map[string]any)["barmanObjectStore"].(map[string]any)["wal"].(map[string]any)["compression"] = "zip"
		spec["backup"].(map[string]any)["schedule"] = "0 0 0 * * *"
		spec["walStorage"].(map[string]any)["size"] = 10
		problems := crds["kubernetes:postgresql.cnpg.io/v1:Cluster"].Validate(cluster)
		require.Len(t, problems, 3, "%q", problems)
		require.Contains(t, problems[0]+problems[1]+problems[2], `spec.backup.barmanObjectStore.wal.compression: Unsupported value: "zip"`)
		require.Contains(t, problems, "unknown field spec.backup.schedule")

		scheduled := objs["kubernetes:postgresql.cnpg.io/v1:ScheduledBackup"]
		delete(scheduled["spec"].(map[string]any), "cluster")
		require.Equal(t, []string{"spec.cluster: Required value"}, crds["kubernetes:postgresql.cnpg.io/v1:ScheduledBackup"].Validate(scheduled))

		monitor := objs["kubernetes:monitoring.coreos.com/v1:PodMonitor"]
		monitor["apiVersion"] = "monitoring.coreos.com/v1alpha1"
		require.Len(t, crds["kubernetes:monitoring.coreos.com/v1:PodMonitor"].Validate(monitor), 1)
	})
}
