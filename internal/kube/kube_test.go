package kube_test

import (
	"context"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
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
		{"a site whose cluster is gone, retired", kube.ClusterConfig{Kubeconfig: "gone", DeleteUnreachable: true}, false, "nautobot-worker-global"},
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
			if tc.config.DeleteUnreachable {
				require.Equal(t, true, p.Plain()["deleteUnreachable"])
			} else {
				require.NotContains(t, p.Plain(), "deleteUnreachable", "off, and left to PULUMI_K8S_DELETE_UNREACHABLE")
			}
		})
	}
}

func TestControllerDuration(t *testing.T) {
	for in, want := range map[string]string{"1h": "1h0m0s", "15m": "15m0s", "90s": "1m30s", "1h0m0s": "1h0m0s", "1d": "1d", "": ""} {
		require.Equal(t, want, kube.ControllerDuration(in), in)
	}
}

func TestStableFieldManager(t *testing.T) {
	transform := kube.StableFieldManager("pulumi-nautobot-worker-site-dfw1")
	metadata := func(t *testing.T, res *pulumi.ResourceTransformResult) map[string]any {
		t.Helper()
		require.NotNil(t, res)
		out, err := internals.UnsafeAwaitOutput(context.Background(), pulumi.ToOutput(res.Props["metadata"]))
		require.NoError(t, err)
		return out.Value.(map[string]any)
	}
	cases := []struct {
		name  string
		args  pulumi.ResourceTransformArgs
		want  map[string]any // nil: the transform leaves the resource alone
		other string         // a metadata key the transform must keep
		plain bool           // the metadata stays a plain map, known in a preview whatever else is not
	}{
		{
			name: "a chart's Deployment gets the annotation beside its own",
			args: pulumi.ResourceTransformArgs{Custom: true, Type: "kubernetes:apps/v1:Deployment", Props: pulumi.Map{
				"metadata": pulumi.Map{"name": pulumi.String("nautobot-celery-dfw1"), "annotations": pulumi.StringMap{"a": pulumi.String("b")}},
			}},
			want:  map[string]any{"a": "b", kube.FieldManagerAnnotation: "pulumi-nautobot-worker-site-dfw1"},
			other: "name",
		},
		{
			name: "a custom resource without annotations",
			args: pulumi.ResourceTransformArgs{Custom: true, Type: "kubernetes:external-secrets.io/v1:ExternalSecret", Props: pulumi.Map{
				"metadata": pulumi.Map{"name": pulumi.String("secrets-redis"), "namespace": pulumi.String("nautobot-dfw1")},
			}},
			want:  map[string]any{kube.FieldManagerAnnotation: "pulumi-nautobot-worker-site-dfw1"},
			other: "namespace",
		},
		{
			name: "a field manager the program chose is kept",
			args: pulumi.ResourceTransformArgs{Custom: true, Type: "kubernetes:core/v1:Secret", Props: pulumi.Map{
				"metadata": pulumi.Map{"name": pulumi.String("s"), "annotations": pulumi.Map{kube.FieldManagerAnnotation: pulumi.String("mine")}},
			}},
			want: map[string]any{kube.FieldManagerAnnotation: "mine"},
		},
		{
			name: "metadata the engine hands over as plain values stays plain",
			args: pulumi.ResourceTransformArgs{Custom: true, Type: "kubernetes:core/v1:ConfigMap", Props: pulumi.Map{
				"metadata": pulumi.Map{"name": pulumi.String("cluster-data"), "annotations": pulumi.Map{"a": pulumi.String("b")}},
			}},
			want:  map[string]any{"a": "b", kube.FieldManagerAnnotation: "pulumi-nautobot-worker-site-dfw1"},
			other: "name",
			plain: true,
		},
		{
			name:  "an object without metadata",
			args:  pulumi.ResourceTransformArgs{Custom: true, Type: "kubernetes:core/v1:ConfigMap", Props: pulumi.Map{}},
			want:  map[string]any{kube.FieldManagerAnnotation: "pulumi-nautobot-worker-site-dfw1"},
			plain: true,
		},
		{name: "the provider", args: pulumi.ResourceTransformArgs{Custom: true, Type: "pulumi:providers:kubernetes", Props: pulumi.Map{}}},
		{name: "the Chart component", args: pulumi.ResourceTransformArgs{Type: "kubernetes:helm.sh/v4:Chart", Props: pulumi.Map{}}},
		{name: "another package", args: pulumi.ResourceTransformArgs{Custom: true, Type: "tls:index/privateKey:PrivateKey", Props: pulumi.Map{}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := transform(context.Background(), &tc.args)
			if tc.want == nil {
				require.Nil(t, res)
				return
			}
			if tc.plain {
				require.IsType(t, pulumi.Map{}, res.Props["metadata"])
			}
			got := metadata(t, res)
			require.Equal(t, tc.want, got["annotations"])
			if tc.other != "" {
				require.Contains(t, got, tc.other)
			}
		})
	}
}

func TestFieldManagerIsTheStacksAndFitsTheAPIServer(t *testing.T) {
	require.Equal(t, "pulumi-nautobot-worker-global", kube.FieldManager("nautobot-worker", "global"))
	require.NotEqual(t, kube.FieldManager("p", "site-dfw1"), kube.FieldManager("p", "site-iad1"))
	require.Len(t, kube.FieldManager("p", strings.Repeat("s", 200)), 128)
}
