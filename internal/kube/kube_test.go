package kube_test

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/kube"
	"nautobot-worker/internal/mocks"
)

func TestProvider(t *testing.T) {
	cases := []struct {
		name       string
		config     kube.ClusterConfig
		secret     bool
		identifier string
	}{
		{"path", kube.ClusterConfig{Kubeconfig: ".cluster/kubeconfig"}, false, "nautobot-worker-global"},
		{"inline content", kube.ClusterConfig{Kubeconfig: "apiVersion: v1\nkind: Config\n", ClusterIdentifier: "prod-eu"}, true, "prod-eu"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := &mocks.Monitor{}
			require.NoError(t, mocks.Run("global", nil, m, func(ctx *pulumi.Context) error {
				_, err := kube.NewProvider(ctx, "k8s", tc.config)
				return err
			}))
			p, ok := m.Find("pulumi:providers:kubernetes", "k8s")
			require.True(t, ok)
			require.Equal(t, tc.secret, p.IsSecret("kubeconfig"), "kubeconfig secretness")
			require.Equal(t, tc.config.Kubeconfig, p.Plain()["kubeconfig"])
			require.Equal(t, tc.identifier, p.Plain()["clusterIdentifier"])
			require.Equal(t, true, p.Plain()["deleteUnreachable"])
		})
	}
}

func TestControllerDuration(t *testing.T) {
	for in, want := range map[string]string{"1h": "1h0m0s", "15m": "15m0s", "90s": "1m30s", "1h0m0s": "1h0m0s", "1d": "1d", "": ""} {
		require.Equal(t, want, kube.ControllerDuration(in), in)
	}
}
