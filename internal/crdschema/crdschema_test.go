package crdschema_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/crdschema"
)

func TestLoadTakesTheServedVersionAndModuleFilesNamesWhatIsMissing(t *testing.T) {
	files, err := crdschema.ModuleFiles("github.com/cloudnative-pg/cloudnative-pg", "v1.28.0", "config/crd/bases/postgresql.cnpg.io_scheduledbackups.yaml")
	require.NoError(t, err)
	require.Len(t, files, 1)
	crd, err := crdschema.Load(files[0], "v1")
	require.NoError(t, err)
	require.Equal(t, []string{"postgresql.cnpg.io", "v1", "ScheduledBackup"}, []string{crd.Group, crd.Version, crd.Kind})
	valid := map[string]any{
		"apiVersion": "postgresql.cnpg.io/v1", "kind": "ScheduledBackup", "metadata": map[string]any{"name": "b"},
		"spec": map[string]any{"schedule": "0 0 0 * * *", "cluster": map[string]any{"name": "c"}},
	}
	require.Empty(t, crd.Validate(valid))
	valid["spec"].(map[string]any)["method"] = "tape"
	valid["spec"].(map[string]any)["retention"] = "30d"
	require.Equal(t, []string{
		`spec.method: Unsupported value: "tape": supported values: "barmanObjectStore", "volumeSnapshot", "plugin"`,
		"unknown field spec.retention",
	}, crd.Validate(valid))

	_, err = crdschema.Load(files[0], "v2")
	require.ErrorContains(t, err, "serves no version v2 with a schema")
	_, err = crdschema.ModuleFiles("github.com/cloudnative-pg/cloudnative-pg", "v1.28.0", "config/crd/bases/*.json")
	require.ErrorContains(t, err, "no file of github.com/cloudnative-pg/cloudnative-pg@v1.28.0 matches config/crd/bases/*.json")
}
