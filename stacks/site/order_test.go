package site_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The worker's pods read the cluster-data ConfigMap and the six secrets the ExternalSecrets write; a chart
// created before them starts pods that fail on missing references, and `pulumi up` may time out waiting.
// mocks.DependsOn has the Pulumi Go SDK's rules for what a registration waits for.

func TestTheWorkerChartWaitsForItsConfigMapAndEverySecret(t *testing.T) {
	res, err := build(t, "site-dfw1", baseConfig(), globalOutputs())
	require.NoError(t, err)
	chart := res.m.MustFind(t, chartType, "worker")
	// What the chart's values name, and what in the stack writes it.
	got := res.m.RequireAfterSecretWriters(t, chart)
	require.Equal(t, map[string]string{
		"nautobot-django":             esType + " secrets-django",
		"nautobot-db":                 esType + " secrets-db",
		"nautobot-worker-redis":       esType + " secrets-redis",
		"dockerconfigjson-github-com": esType + " secrets-registry",
		"nautobot-custom-env":         esType + " secrets-custom-env",
		"nautobot-mtls-client":        esType + " secrets-mtls-client",
	}, got)

	cm := res.m.MustFind(t, "kubernetes:core/v1:ConfigMap", "worker-cluster-data")
	require.Contains(t, chart.Strings(), cm.Plain()["metadata"].(map[string]any)["name"], "the chart's values name the ConfigMap")
	res.m.RequireAfter(t, chart, cm)
}

func TestEverythingWaitsForTheSiteNamespace(t *testing.T) {
	res, err := build(t, "site-dfw1", baseConfig(), globalOutputs())
	require.NoError(t, err)
	ns := res.m.MustFind(t, "kubernetes:core/v1:Namespace", "site-namespace")
	var names []string
	for _, r := range res.m.Resources() {
		if strings.HasPrefix(r.Type, "kubernetes:") && r.Namespace() == "nautobot" {
			names = append(names, r.Name)
			res.m.RequireAfter(t, r, ns)
		}
	}
	require.ElementsMatch(t, []string{"secrets-django", "secrets-db", "secrets-redis", "secrets-registry", "secrets-custom-env",
		"secrets-mtls-client", "worker-cluster-data", "worker"}, names)
}
