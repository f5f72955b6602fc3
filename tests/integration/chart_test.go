package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// nautobotChart is the chart of Pulumi.global.yaml's nautobot key: a local chart without its schemas.
var nautobotChart = regexp.MustCompile(`(?m)^      path: .*\n      skipSchemaValidation: true\n`)

// TestAirGappedChartSchema shows how the pinned provider's helm/v4 Chart treats a local chart whose
// values.schema.json $refs a remote schema (as the Nautobot chart's does, to Bitnami's and to Kubernetes'
// JSON schemas): rendering fails, because helm fetches the reference, on any machine, since the fixture's
// URL cannot resolve; skipSchemaValidation renders a copy without the schemas. The real chart's
// skipSchemaValidation path is what TestGlobalStack and TestSiteStacks deploy.
func TestAirGappedChartSchema(t *testing.T) {
	e := newPulumiEnv(t)
	render := t.TempDir()
	stack := e.stack("schema", "global", func(config string) string {
		config = strings.Replace(config, "kubeconfig: "+e.kubeconfig, "renderDir: "+render, 1)
		replaced := nautobotChart.ReplaceAllString(config, "      path: tests/testdata/charts/remote-schema\n")
		require.NotEqual(t, config, replaced, "Pulumi.global.yaml no longer sets nautobot.chart")
		return replaced
	})

	out, err := e.run("pulumi", "preview", "--stack", stack, "--suppress-progress", "--color", "never")
	require.Error(t, err, out)
	require.Contains(t, out, "https://schemas.example.invalid/remote-schema/values.schema.json", out)

	e.rewrite(stack, func(config string) string {
		return strings.Replace(config, "path: tests/testdata/charts/remote-schema", "path: tests/testdata/charts/remote-schema\n      skipSchemaValidation: true", 1)
	})
	e.up(stack)
	rendered, err := filepath.Glob(filepath.Join(render, "1-manifest", "*configmap*"))
	require.NoError(t, err)
	var names []string
	for _, f := range rendered {
		names = append(names, filepath.Base(f))
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NotEmpty(t, data)
	}
	require.NotEmpty(t, names, "the chart rendered nothing")
}
