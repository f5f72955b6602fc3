package database_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"nautobot-worker/components/database"
	"nautobot-worker/internal/kube"
	"nautobot-worker/internal/mocks"
)

func ref(name, key string) *kube.SecretKeyRef { return &kube.SecretKeyRef{Name: name, Key: key} }

// production is every production setting of the database at once, as a team would set them.
func production() database.Args {
	a := base()
	seconds := int64(300)
	a.Instances = 5
	a.StorageClass = "fast-ssd"
	a.TopologyKey = "topology.kubernetes.io/zone"
	a.NodeSelector = map[string]string{"node-role.kubernetes.io/db": ""}
	a.Tolerations = []kube.Toleration{
		{Key: "dedicated", Operator: "Equal", Value: "db", Effect: "NoSchedule"},
		{Key: "node.kubernetes.io/unreachable", Operator: "Exists", Effect: "NoExecute", TolerationSeconds: &seconds},
	}
	a.WALStorage = database.Storage{Size: "10Gi", StorageClass: "fast-ssd"}
	a.Resources = kube.Resources{
		Requests: map[string]kube.Quantity{"cpu": "1", "memory": "4Gi"},
		Limits:   map[string]kube.Quantity{"cpu": "2", "memory": "4Gi"},
	}
	a.Backup = database.Backup{
		DestinationPath: "s3://nautobot-backups/global",
		EndpointURL:     "https://minio.example.com:9000",
		EndpointCA:      ref("minio-ca", "ca.crt"),
		S3Credentials:   &database.S3Credentials{AccessKeyID: ref("backup-s3", "ACCESS_KEY_ID"), SecretAccessKey: ref("backup-s3", "ACCESS_SECRET_KEY")},
		WAL:             database.WALBackup{Compression: "zstd", MaxParallel: 4},
		Data:            database.DataBackup{Compression: "gzip", Jobs: 2},
		RetentionPolicy: "30d",
		Target:          "prefer-standby",
		Schedule:        "0 0 2 * * *",
		Immediate:       true,
	}
	a.Monitoring = database.Monitoring{PodMonitor: true, PodMonitorLabels: map[string]string{"release": "prometheus"}}
	return a
}

func TestProductionSettingsReachTheClusterScheduledBackupAndPodMonitor(t *testing.T) {
	m, err := run(t, production())
	require.NoError(t, err)
	spec := m.MustFind(t, "kubernetes:postgresql.cnpg.io/v1:Cluster", "db-cluster").Plain()["spec"].(map[string]any)
	require.Equal(t, float64(5), spec["instances"])
	require.Equal(t, map[string]any{"size": "20Gi", "storageClass": "fast-ssd"}, spec["storage"])
	require.Equal(t, map[string]any{"size": "10Gi", "storageClass": "fast-ssd"}, spec["walStorage"])
	require.Equal(t, map[string]any{
		"requests": map[string]any{"cpu": "1", "memory": "4Gi"}, "limits": map[string]any{"cpu": "2", "memory": "4Gi"},
	}, spec["resources"])
	require.Equal(t, map[string]any{
		"podAntiAffinityType": "required",
		"topologyKey":         "topology.kubernetes.io/zone",
		"nodeSelector":        map[string]any{"node-role.kubernetes.io/db": ""},
		"tolerations": []any{
			map[string]any{"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"},
			map[string]any{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": float64(300)},
		},
	}, spec["affinity"])
	require.Equal(t, map[string]any{
		"barmanObjectStore": map[string]any{
			"destinationPath": "s3://nautobot-backups/global",
			"endpointURL":     "https://minio.example.com:9000",
			"endpointCA":      map[string]any{"name": "minio-ca", "key": "ca.crt"},
			"s3Credentials": map[string]any{
				"accessKeyId":     map[string]any{"name": "backup-s3", "key": "ACCESS_KEY_ID"},
				"secretAccessKey": map[string]any{"name": "backup-s3", "key": "ACCESS_SECRET_KEY"},
			},
			"wal":  map[string]any{"compression": "zstd", "maxParallel": float64(4)},
			"data": map[string]any{"compression": "gzip", "jobs": float64(2)},
		},
		"retentionPolicy": "30d",
		"target":          "prefer-standby",
	}, spec["backup"])
	require.NotContains(t, spec, "monitoring", "CNPG 1.28 deprecates the operator's PodMonitor; the stack creates its own")

	sb := m.MustFind(t, "kubernetes:postgresql.cnpg.io/v1:ScheduledBackup", "db-scheduled-backup")
	require.Equal(t, map[string]any{
		"apiVersion": "postgresql.cnpg.io/v1", "kind": "ScheduledBackup",
		"metadata": map[string]any{"name": "nautobot-cluster-backup", "namespace": "nautobot"},
		"spec": map[string]any{
			"schedule": "0 0 2 * * *", "cluster": map[string]any{"name": "nautobot-cluster"}, "method": "barmanObjectStore",
			"backupOwnerReference": "self", "immediate": true,
		},
	}, sb.Plain())
	pm := m.MustFind(t, "kubernetes:monitoring.coreos.com/v1:PodMonitor", "db-pod-monitor")
	require.Equal(t, map[string]any{
		"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor",
		"metadata": map[string]any{"name": "nautobot-cluster", "namespace": "nautobot", "labels": map[string]any{"release": "prometheus"}},
		"spec": map[string]any{
			"selector":            map[string]any{"matchLabels": map[string]any{"cnpg.io/cluster": "nautobot-cluster"}},
			"podMetricsEndpoints": []any{map[string]any{"port": "metrics"}},
		},
	}, pm.Plain())
	for _, r := range []mocks.Resource{sb, pm} {
		require.Contains(t, r.Provider, "pulumi:providers:kubernetes::k8s::")
		require.Contains(t, r.Parent, "nautobot:database:PostgresCluster::db")
	}
}

func TestUnsetProductionSettingsAddNothing(t *testing.T) {
	m, err := run(t, base())
	require.NoError(t, err)
	spec := m.MustFind(t, "kubernetes:postgresql.cnpg.io/v1:Cluster", "db-cluster").Plain()["spec"].(map[string]any)
	for _, key := range []string{"walStorage", "resources", "backup", "monitoring"} {
		require.NotContains(t, spec, key)
	}
	require.Equal(t, map[string]any{"podAntiAffinityType": "required", "topologyKey": "kubernetes.io/hostname"}, spec["affinity"])
	require.Empty(t, m.OfType("kubernetes:postgresql.cnpg.io/v1:ScheduledBackup"))
	require.Empty(t, m.OfType("kubernetes:monitoring.coreos.com/v1:PodMonitor"))
}

func TestBackupWithoutScheduleArchivesWithoutScheduledBackup(t *testing.T) {
	a := base()
	a.Backup = database.Backup{DestinationPath: "gs://bucket/nautobot", GoogleCredentials: &database.GoogleCredentials{GKEEnvironment: true}}
	m, err := run(t, a)
	require.NoError(t, err)
	spec := m.MustFind(t, "kubernetes:postgresql.cnpg.io/v1:Cluster", "db-cluster").Plain()["spec"].(map[string]any)
	require.Equal(t, map[string]any{"barmanObjectStore": map[string]any{
		"destinationPath": "gs://bucket/nautobot", "googleCredentials": map[string]any{"gkeEnvironment": true},
	}}, spec["backup"])
	require.Empty(t, m.OfType("kubernetes:postgresql.cnpg.io/v1:ScheduledBackup"))
}

func TestProductionSettingsValidation(t *testing.T) {
	cases := []struct {
		name string
		edit func(*database.Args)
		want []string
	}{
		{"WAL storage size", func(a *database.Args) { a.WALStorage.Size = "ten gigs" }, []string{`walStorage.size: "ten gigs" is not a Kubernetes quantity`}},
		{"WAL storage class without size", func(a *database.Args) { a.WALStorage = database.Storage{StorageClass: "fast"} },
			[]string{"walStorage.size: is not set, but walStorage.storageClass is"}},
		{"resources", func(a *database.Args) { a.Resources.Requests["memory"] = "8Gi" },
			[]string{"resources.requests.memory: 8Gi is more than the limit 4Gi"}},
		{"topology key", func(a *database.Args) { a.TopologyKey = "zone!" }, []string{`topologyKey: "zone!" is not a node label key`}},
		{"node selector", func(a *database.Args) { a.NodeSelector = map[string]string{"tier": "db fast"} }, []string{`nodeSelector.tier: "db fast" is not a label value`}},
		{"toleration", func(a *database.Args) { a.Tolerations[0].Operator = "In" }, []string{`tolerations[0].operator: "In" is not supported`}},
		{"backup settings without a destination", func(a *database.Args) { a.Backup.DestinationPath = "" },
			[]string{"backup.destinationPath: is not set, but other backup settings are"}},
		{"destination path", func(a *database.Args) { a.Backup.DestinationPath = "nautobot-backups" }, []string{`backup.destinationPath: "nautobot-backups" is not a URL`}},
		{"endpoint URL", func(a *database.Args) { a.Backup.EndpointURL = "minio:9000" }, []string{`backup.endpointURL: "minio:9000" is not a URL`}},
		{"no credentials", func(a *database.Args) { a.Backup.S3Credentials = nil },
			[]string{"backup: needs exactly one of s3Credentials, azureCredentials and googleCredentials"}},
		{"two providers' credentials", func(a *database.Args) { a.Backup.GoogleCredentials = &database.GoogleCredentials{GKEEnvironment: true} },
			[]string{"backup: needs exactly one of s3Credentials, azureCredentials and googleCredentials"}},
		{"S3 key without secret", func(a *database.Args) { a.Backup.S3Credentials.SecretAccessKey = nil },
			[]string{"backup.s3Credentials: needs accessKeyId and secretAccessKey"}},
		{"Secret reference", func(a *database.Args) { a.Backup.S3Credentials.AccessKeyID = ref("", "ACCESS_KEY_ID") },
			[]string{`backup.s3Credentials.accessKeyId.name: "" is not a valid Kubernetes object name`}},
		{"Azure without a usable credential", func(a *database.Args) {
			a.Backup.S3Credentials = nil
			a.Backup.AzureCredentials = &database.AzureCredentials{StorageAccount: ref("azure", "ACCOUNT")}
		}, []string{"backup.azureCredentials: needs connectionString, storageAccount with storageKey or storageSasToken"}},
		{"Google without a usable credential", func(a *database.Args) {
			a.Backup.S3Credentials = nil
			a.Backup.GoogleCredentials = &database.GoogleCredentials{}
		}, []string{"backup.googleCredentials: needs applicationCredentials"}},
		{"compressions", func(a *database.Args) { a.Backup.WAL.Compression, a.Backup.Data.Compression = "zip", "zstd" },
			[]string{`backup.wal.compression: "zip" is not supported`, `backup.data.compression: "zstd" is not supported; use one of bzip2, gzip, snappy`}},
		{"retention", func(a *database.Args) { a.Backup.RetentionPolicy = "30 days" }, []string{`backup.retentionPolicy: "30 days" is not a recovery window`}},
		{"target", func(a *database.Args) { a.Backup.Target = "standby" }, []string{`backup.target: "standby" is not supported`}},
		{"five-field crontab", func(a *database.Args) { a.Backup.Schedule = "0 2 * * *" }, []string{`backup.schedule: "0 2 * * *" is not a six-field cron schedule`}},
		{"bad cron field", func(a *database.Args) { a.Backup.Schedule = "0 0 25 * * *" }, []string{`backup.schedule: "0 0 25 * * *" is not a six-field cron schedule`}},
		{"immediate without schedule", func(a *database.Args) { a.Backup.Schedule = "" }, []string{"backup.immediate: needs backup.schedule"}},
		{"pod monitor labels", func(a *database.Args) {
			a.Monitoring.PodMonitorLabels = map[string]string{"release": "prometheus stack"}
		},
			[]string{`monitoring.podMonitorLabels.release: "prometheus stack" is not a label value`}},
		{"labels without a pod monitor", func(a *database.Args) { a.Monitoring.PodMonitor = false },
			[]string{"monitoring.podMonitorLabels: are set but monitoring.podMonitor is not"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := production()
			tc.edit(&a)
			m, err := run(t, a)
			m.RequireRejected(t, err, tc.want...)
		})
	}
}
