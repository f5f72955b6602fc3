package integration

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// productionSettings sets the global side's production keys on the demo global stack; everything but
// database.monitoring, whose PodMonitor needs the Prometheus Operator's CRDs, which this cluster does not
// load (components/database checks it against that CRD offline).
func productionSettings(config string) string {
	config = strings.Replace(config, "  nautobot-worker:database:\n", `  nautobot-worker:database:
    storageClass: fast-ssd
    walStorage: {size: 10Gi, storageClass: fast-ssd}
    resources:
      requests: {cpu: 1, memory: 4Gi}
      limits: {cpu: 2, memory: 4Gi}
    topologyKey: topology.kubernetes.io/zone
    nodeSelector: {node-role.kubernetes.io/db: ""}
    tolerations:
      - {key: dedicated, operator: Equal, value: db, effect: NoSchedule}
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 300}
    backup:
      destinationPath: s3://nautobot-backups/global
      endpointURL: https://minio.example.com:9000
      endpointCA: {name: minio-ca, key: ca.crt}
      s3Credentials:
        accessKeyId: {name: backup-s3, key: ACCESS_KEY_ID}
        secretAccessKey: {name: backup-s3, key: ACCESS_SECRET_KEY}
      wal: {compression: zstd, maxParallel: 4}
      data: {compression: gzip, jobs: 2}
      retentionPolicy: 30d
      target: prefer-standby
      schedule: "0 0 2 * * *"
      immediate: true
`, 1)
	return strings.Replace(config, "    skipAwait: true\n", `    skipAwait: true
    image: {registry: ghcr.io, repository: acme/nautobot, tag: 3.0.4-py3.12, pullPolicy: IfNotPresent}
    replicas: 3
    resources:
      requests: {cpu: 500m, memory: 2Gi}
      limits: {cpu: 2, memory: 4Gi}
    redis:
      persistence: {size: 16Gi, storageClass: fast-ssd}
      resources:
        requests: {memory: 512Mi}
        limits: {memory: 1Gi}
    values:
      nautobot: {podLabels: {team: netops}}
      celery: {resources: {requests: {cpu: 1}}}
`, 1)
}

// TestGlobalProductionSettings renders the global stack with its production settings and submits every
// object to the real API server with a server-side dry run and strict field validation: the Cluster and
// the ScheduledBackup against the CNPG CRDs (OpenAPI schema and CEL rules), and what the real chart renders
// with the release's production values.
func TestGlobalProductionSettings(t *testing.T) {
	e := newEnv(t)
	stack := e.stack("production", "global", productionSettings)
	// A dry run creates nothing, the rendered Namespace included, so the objects' namespace is made first.
	e.mustRun("kubectl", "--kubeconfig", e.kubeconfig, "create", "namespace", "nautobot")
	out := e.strictDryRun(stack)
	for _, object := range []string{
		"cluster.postgresql.cnpg.io/nautobot-cluster", "scheduledbackup.postgresql.cnpg.io/nautobot-cluster-backup",
		"deployment.apps/nautobot-default", "statefulset.apps/nautobot-redis-master",
	} {
		require.Contains(t, out, object, "the production render has %s", object)
	}
}
