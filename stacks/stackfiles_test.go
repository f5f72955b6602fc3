package stacks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/mocks"
)

// TestTheUnfilledProductionFilesNameEveryKeyToFill: the stack files a team edits (the repository's top
// level, not the demo's) hold a placeholder for every value only the team can choose, and a preview of
// them as committed fails naming each one, before anything registers.
func TestTheUnfilledProductionFilesNameEveryKeyToFill(t *testing.T) {
	cases := []struct {
		file, stack string
		keys        []string
	}{
		{"Pulumi.global.yaml", "global", []string{"gateway.domain", "gateway.className"}},
		{"Pulumi.site-example.yaml", "site-example", []string{
			"site.name", "site.partition", "secrets.store.name", "secrets.django.key", "secrets.db.key", "secrets.redis.key",
			"secrets.registry.key", "secrets.customEnv.key", "secrets.mtls.clientKey", "secrets.mtls.caKey",
			"worker.image.repository", "worker.image.tag",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			config, err := mocks.StackFile(filepath.Join("..", tc.file))
			require.NoError(t, err)
			text, err := os.ReadFile(filepath.Join("..", tc.file))
			require.NoError(t, err)
			for k, v := range config {
				require.NotContains(t, v, "demo", "%s: %s holds a demo value", tc.file, k)
				require.NotContains(t, v, "127.0.0.1", "%s: %s holds a loopback address", tc.file, k)
				require.NotContains(t, v, "shared/", "%s: %s holds the lab's chart path", tc.file, k)
			}
			require.NotContains(t, config, "nautobot-worker:kubernetes", "the kubeconfig comes from the runner (--kubeconfig-dir)")
			for _, stackKey := range []string{"encryptionsalt", "secretsprovider", "encryptedkey"} {
				require.NotContains(t, string(text), "\n"+stackKey+":", "no secrets provider state is committed")
			}
			for _, opts := range [][]pulumi.RunOption{{mocks.DryRun}, nil} {
				m := &mocks.Monitor{}
				err := mocks.Run(tc.stack, config, m, Program, opts...)
				require.Error(t, err)
				require.Equal(t, len(tc.keys), strings.Count(err.Error(), "still holds the placeholder"), "one line per value to fill: %v", err)
				for i, key := range tc.keys {
					require.Contains(t, err.Error(), "config "+key+": still holds the placeholder REPLACE", "line %d", i)
				}
				require.Empty(t, m.Resources(), "nothing registers before the values are filled")
			}
		})
	}
}
