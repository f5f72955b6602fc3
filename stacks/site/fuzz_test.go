package site_test

import (
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/mocks"
	"nautobot-worker/internal/realchart"
	"nautobot-worker/internal/validate"
	"nautobot-worker/stacks/site"
)

// siteKeys are the site stack's config keys (LoadConfig's CheckKeys).
var siteKeys = []string{"role", "kubernetes", "site", "globalStack", "namespace", "createNamespace", "secrets", "worker"}

// FuzzConfig sets one of the site stack's config keys to any value on top of the base config, against a
// global stack with a cert-manager or a pulumi-tls root: the program must not panic, and a refusal must
// name a config key in each of its lines. The seeds are every key of the demo's site stack files and the
// template (run from the program's directory, the repository, as the CLI runs the program, so their relative paths resolve) and the
// values that reach each check; `go test` runs them, `make test-fuzz` fuzzes beyond them.
func FuzzConfig(f *testing.F) {
	f.Chdir(filepath.Join("..", ".."))
	files, err := filepath.Glob(filepath.Join("demo", "Pulumi.site-*.yaml"))
	require.NoError(f, err)
	require.NotEmpty(f, files)
	files = append(files, "Pulumi.site-example.yaml")
	// Schema-less chart copies go to a cache of the run's own, not the user's.
	f.Setenv("XDG_CACHE_HOME", f.TempDir())
	for _, file := range files {
		config, err := mocks.StackFile(file)
		require.NoError(f, err)
		for _, k := range slices.Sorted(maps.Keys(config)) {
			if key, ok := strings.CutPrefix(k, mocks.Project+":"); ok {
				f.Add(key, realchart.Rewrite(config[k]), false)
			}
		}
	}
	caFrom := strings.Replace(baseConfig()["secrets"], `"caKey":"mtls/ca"`, `"caFrom":"globalStack"`, 1)
	for _, seed := range []struct {
		key, value string
		pulumiTLS  bool
	}{
		{"secrets", caFrom, true},
		{"secrets", caFrom, false},
		{"secrets", strings.Replace(caFrom, `"caFrom"`, `"caKey":"mtls/ca","caFrom"`, 1), true},
		{"secrets", strings.Replace(baseConfig()["secrets"], `"caKey":"mtls/ca"`, `"caKey":"mtls/ca","privateKeyType":"PRIVATE KEY"`, 1), false},
		{"site", `{"name":"ord1"}`, false},
		{"site", `{"name":"dfw1","enabled":false}`, false},
		{"globalStack", "global", false},
		{"createNamespace", "maybe", true},
		{"worker", `{"chart":{"version":"3.1.3"}}`, false},
		{"kubernetes", `{"kubeconfig":""}`, true},
	} {
		f.Add(seed.key, seed.value, seed.pulumiTLS)
	}
	cert := mintCertificate(f, true)
	f.Fuzz(func(t *testing.T, key, value string, pulumiTLS bool) {
		if !slices.Contains(siteKeys, key) {
			key = siteKeys[len(key)%len(siteKeys)]
		}
		outputs := globalOutputs()
		if pulumiTLS {
			outputs["caSource"], outputs["caCertPem"] = "pulumi-tls", cert
		}
		m := &mocks.Monitor{StackOutputs: map[string]map[string]any{defaultGlobalStack: outputs}}
		err := mocks.Run("site-dfw1", with(baseConfig(), key, value), m, func(ctx *pulumi.Context) error {
			_, err := site.Build(ctx)
			return err
		})
		if err == nil {
			return
		}
		if lines := validate.UnkeyedLines(err); len(lines) > 0 {
			t.Fatalf("config %s = %q: refusal lines name no config key: %q\nwhole error: %v", key, value, lines, err)
		}
	})
}
