// Package mocksbench times the global stack's program under the Pulumi mocks the unit tests use
// (internal/mocks), at 3, 50 and 200 sites: `make bench-mocks`, or
// go test -run '^$' -bench GlobalStackMocks ./bench/mocks
package mocksbench

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/mocks"
	"nautobot-worker/stacks/global"
)

// config is the stack tests' global config with n sites: the three demo sites, then site4 ... site<n>, as
// scripts/bench-preview.sh writes them.
func config(n int) map[string]string {
	sites := []map[string]any{
		{"name": "dfw1", "egressCidrs": []string{"10.10.0.0/16"}},
		{"name": "iad1", "egressCidrs": []string{"10.20.0.0/16"}},
		{"name": "lon1", "egressCidrs": []string{"10.30.0.0/16", "192.0.2.0/28"}},
	}
	for i := 4; i <= n; i++ {
		sites = append(sites, map[string]any{"name": fmt.Sprintf("site%d", i)})
	}
	list, err := json.Marshal(sites[:min(n, len(sites))])
	if err != nil {
		panic(err)
	}
	return map[string]string{
		"kubernetes": `{"kubeconfig":"/tmp/kubeconfig"}`,
		"sites":      string(list),
		"gateway":    `{"domain":"prod.example.com"}`,
	}
}

func run(n int) (*mocks.Monitor, error) {
	m := &mocks.Monitor{}
	err := mocks.Run("global", config(n), m, func(ctx *pulumi.Context) error {
		_, err := global.Build(ctx)
		return err
	})
	return m, err
}

func BenchmarkGlobalStackMocks(b *testing.B) {
	for _, n := range []int{3, 50, 200} {
		b.Run(fmt.Sprintf("sites=%d", n), func(b *testing.B) {
			count := 0
			for b.Loop() {
				m, err := run(n)
				if err != nil {
					b.Fatal(err)
				}
				count = len(m.Resources())
			}
			b.ReportMetric(float64(count), "resources")
		})
	}
}

// TestTheBenchmarkRegistersOneCertificatePerSite keeps the benchmark honest: its config is valid and each
// site adds its client certificate (no timing here).
func TestTheBenchmarkRegistersOneCertificatePerSite(t *testing.T) {
	few, err := run(3)
	require.NoError(t, err)
	many, err := run(200)
	require.NoError(t, err)
	const certificate = "kubernetes:cert-manager.io/v1:Certificate"
	require.Len(t, many.OfType(certificate), len(few.OfType(certificate))+197, "one client certificate per added site")
	require.Len(t, many.Resources(), len(few.Resources())+197, "nothing else grows with the sites")
}
