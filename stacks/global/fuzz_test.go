package global_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"nautobot-worker/internal/mocks"
	"nautobot-worker/stacks/global"
)

// FuzzConfig sets one of the global stack's config keys to any value on top of the base config: the program
// must not panic, and a refusal must name a config key in each of its lines. `make test` runs the seeds and
// a short fuzzing run (see the Makefile's test-fuzz); `go test -fuzz FuzzConfig ./stacks/global` runs longer.
func FuzzConfig(f *testing.F) {
	for _, seed := range []struct{ key, value string }{
		{"sites", baseConfig()["sites"]},
		{"sites", `[{"name":"DFW1"}]`},
		{"sites", `[{"name":"dfw1","egressCidrs":["10.0.0.0/33"]}]`},
		{"gateway", `{"domain":"prod.example.com","dbPort":0}`},
		{"database", `{"directTls":false,"imageName":"postgres:16"}`},
		{"database", `{"instances":-1}`},
		{"certificates", `{"keyEncoding":"PKCS9"}`},
		{"authority", `{"duration":"1h"}`},
		{"namespace", "Not_A_Namespace"},
		{"createNamespace", "maybe"},
		{"kubernetes", `{"kubeconfig":""}`},
		{"nautobot", `{"enabled":"yes"}`},
		{"role", "global"},
	} {
		f.Add(seed.key, seed.value)
	}
	keys := []string{"role", "kubernetes", "namespace", "createNamespace", "sites", "authority", "certificates",
		"database", "redis", "gateway", "nautobot"}
	f.Fuzz(func(t *testing.T, key, value string) {
		if !slices.Contains(keys, key) {
			key = keys[len(key)%len(keys)]
		}
		config := with(baseConfig(), key, value)
		err := mocks.Run("global", config, &mocks.Monitor{}, func(ctx *pulumi.Context) error {
			_, err := global.Build(ctx)
			return err
		})
		if err == nil {
			return
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			// The SDK heads a program's error with its count ("1 error occurred:").
			if line = strings.TrimSpace(line); line == "" || errorCount.MatchString(line) {
				continue
			}
			if !strings.Contains(line, "config ") {
				t.Fatalf("config %s = %q: a refusal line names no config key: %q\nwhole error: %v", key, value, line, err)
			}
		}
	})
}

var errorCount = regexp.MustCompile(`^\d+ errors? occurred:$`)
