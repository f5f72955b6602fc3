package realchart_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/realchart"
)

func TestPath(t *testing.T) {
	project := filepath.Join(t.TempDir(), "project")
	shared := filepath.Join(filepath.Dir(project), "shared", "charts")
	require.NoError(t, os.MkdirAll(shared, 0o755))

	t.Setenv(realchart.EnvVar, "")
	_, err := realchart.Path(project)
	require.ErrorContains(t, err, "the demo stacks' chart path")
	require.ErrorContains(t, err, "put ../shared beside the repository or set NAUTOBOT_CHART_TGZ")

	require.NoError(t, os.WriteFile(filepath.Join(shared, "nautobot-3.1.1.tgz"), nil, 0o644))
	p, err := realchart.Path(project)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(shared, "nautobot-3.1.1.tgz"), p)

	elsewhere := filepath.Join(t.TempDir(), "chart.tgz")
	t.Setenv(realchart.EnvVar, elsewhere)
	_, err = realchart.Path(project)
	require.ErrorContains(t, err, "(NAUTOBOT_CHART_TGZ) cannot be read", "the variable wins over ../shared")
	require.NoError(t, os.WriteFile(elsewhere, nil, 0o644))
	p, err = realchart.Path(project)
	require.NoError(t, err)
	require.Equal(t, elsewhere, p)
}

func TestAbsolute(t *testing.T) {
	root := filepath.Join(t.TempDir(), "project")
	chart := filepath.Join(filepath.Dir(root), "shared", "charts", "nautobot-3.1.1.tgz")
	require.NoError(t, os.MkdirAll(filepath.Dir(chart), 0o755))
	require.NoError(t, os.WriteFile(chart, nil, 0o644))
	t.Setenv(realchart.EnvVar, "")
	got, err := realchart.Absolute("chart:\n  path: "+realchart.DemoPath+"\n", root)
	require.NoError(t, err)
	require.Equal(t, "chart:\n  path: "+chart+"\n", got)
}

func TestRewrite(t *testing.T) {
	config := "chart:\n  path: ../shared/charts/nautobot-3.1.1.tgz\n"
	t.Setenv(realchart.EnvVar, "")
	require.Equal(t, config, realchart.Rewrite(config))
	t.Setenv(realchart.EnvVar, "/srv/charts/nautobot.tgz")
	require.Equal(t, "chart:\n  path: /srv/charts/nautobot.tgz\n", realchart.Rewrite(config))
}
