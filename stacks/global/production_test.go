package global_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The production keys of Pulumi.global.yaml, as a team writes them: numbers where YAML gives numbers.
var productionConfig = map[string]string{
	"database": `{"instances": 3, "storageClass": "fast-ssd", "walStorage": {"size": "10Gi"},
		"resources": {"requests": {"cpu": 1, "memory": "4Gi"}, "limits": {"memory": "4Gi"}},
		"topologyKey": "topology.kubernetes.io/zone", "tolerations": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}],
		"backup": {"destinationPath": "s3://nautobot-backups/global", "retentionPolicy": "30d", "schedule": "0 0 2 * * *",
			"s3Credentials": {"accessKeyId": {"name": "backup-s3", "key": "ACCESS_KEY_ID"}, "secretAccessKey": {"name": "backup-s3", "key": "ACCESS_SECRET_KEY"}}},
		"monitoring": {"podMonitor": true}}`,
	"nautobot": `{"image": {"tag": "3.0.4-py3.12"}, "replicas": 3, "resources": {"requests": {"cpu": "500m"}},
		"redis": {"persistence": {"size": "16Gi"}, "resources": {"limits": {"memory": "1Gi"}}},
		"values": {"ingress": {"enabled": true}}}`,
}

func TestProductionKeysReachTheirObjects(t *testing.T) {
	config := baseConfig()
	for k, v := range productionConfig {
		config[k] = v
	}
	r, err := build(t, config)
	require.NoError(t, err)
	spec := r.m.MustFind(t, "kubernetes:postgresql.cnpg.io/v1:Cluster", "db-cluster").Plain()["spec"].(map[string]any)
	require.Equal(t, map[string]any{"size": "10Gi"}, spec["walStorage"])
	require.Equal(t, map[string]any{"requests": map[string]any{"cpu": "1", "memory": "4Gi"}, "limits": map[string]any{"memory": "4Gi"}}, spec["resources"])
	require.Equal(t, "s3://nautobot-backups/global", spec["backup"].(map[string]any)["barmanObjectStore"].(map[string]any)["destinationPath"])
	sb := r.m.MustFind(t, "kubernetes:postgresql.cnpg.io/v1:ScheduledBackup", "db-scheduled-backup").Plain()
	require.Equal(t, "nautobot", sb["metadata"].(map[string]any)["namespace"], "the ScheduledBackup lives beside its Cluster")
	r.m.MustFind(t, "kubernetes:monitoring.coreos.com/v1:PodMonitor", "db-pod-monitor")
	values := r.m.MustFind(t, "kubernetes:helm.sh/v4:Chart", "nautobot").Plain()["values"].(map[string]any)
	require.Equal(t, float64(3), values["nautobot"].(map[string]any)["replicaCount"])
	require.Equal(t, map[string]any{"enabled": true}, values["ingress"])
	require.Equal(t, map[string]any{"size": "16Gi"}, values["redis"].(map[string]any)["master"].(map[string]any)["persistence"])
}

func TestProductionKeyProblemsNameTheConfigKey(t *testing.T) {
	cases := []struct {
		name, key, value string
		want             []string
	}{
		{"schedule", "database", `{"backup": {"destinationPath": "s3://b/p", "schedule": "0 2 * * *", "s3Credentials": {"inheritFromIAMRole": true}}}`,
			[]string{`config database.backup.schedule: "0 2 * * *" is not a six-field cron schedule`}},
		{"credentials in plain text", "database", `{"backup": {"destinationPath": "s3://b/p", "s3Credentials": {"accessKeyId": "AKIA..."}}}`,
			[]string{"config database: cannot unmarshal string into Go struct field S3Credentials.backup.s3Credentials.accessKeyId of type kube.SecretKeyRef"}},
		{"quantity", "database", `{"resources": {"requests": {"memory": "4 GB"}}}`,
			[]string{`config database.resources.requests.memory: "4 GB" is not a Kubernetes quantity`}},
		{"unknown key", "nautobot", `{"redis": {"persistance": {"size": "8Gi"}}}`,
			[]string{`config nautobot: unknown key "persistance"`}},
		{"values override", "nautobot", `{"values": {"redis": {"tls": {"enabled": false}}}}`,
			[]string{"config nautobot.values.redis.tls.enabled: is owned by the stack; nautobot.values cannot set or override it"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := build(t, with(baseConfig(), tc.key, tc.value))
			r.m.RequireRejected(t, err, tc.want...)
		})
	}
}
