package global_test

import (
	"slices"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"nautobot-worker/internal/mocks"
	"nautobot-worker/internal/validate"
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
		{"authority", `{"root":"pulumi-tls","keyAlgorithm":"Ed25519"}`},
		{"namespace", "Not_A_Namespace"},
		{"createNamespace", "maybe"},
		{"kubernetes", `{"kubeconfig":""}`},
		{"nautobot", `{"enabled":"yes"}`},
		{"nautobot", `{"replicas":0,"resources":{"limits":{"cpu":"x"}},"redis":{"persistence":{"enabled":false,"size":"1Gi"}},"values":{"redis":{"tls":{"enabled":false}}}}`},
		{"database", `{"backup":{"destinationPath":"s3://b/p","schedule":"0 2 * * *","s3Credentials":{"accessKeyId":{"name":"s","key":"k"}}},"tolerations":[{"operator":"In"}]}`},
		{"database", `{"walStorage":{"storageClass":"fast"},"resources":{"requests":{"memory":"2Gi"},"limits":{"memory":"1Gi"}},"monitoring":{"podMonitorLabels":{"a":"b"}}}`},
		{"role", "global"},
		{"distribution", `{"enabled":true,"store":{"name":"fleet-secrets"},"clientKey":"one-item"}`},
	} {
		f.Add(seed.key, seed.value)
	}
	keys := []string{"role", "kubernetes", "namespace", "createNamespace", "sites", "authority", "certificates",
		"database", "redis", "gateway", "nautobot", "distribution"}
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
		if lines := validate.UnkeyedLines(err); len(lines) > 0 {
			t.Fatalf("config %s = %q: refusal lines name no config key: %q\nwhole error: %v", key, value, lines, err)
		}
	})
}
