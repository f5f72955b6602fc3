package kube_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/kube"
	"nautobot-worker/internal/stackconfig"
	"nautobot-worker/internal/validate"
)

func problemsOf(err error) []string {
	var out []string
	if list, ok := err.(validate.List); ok {
		for _, p := range list {
			out = append(out, p.Error())
		}
	}
	return out
}

func TestResourcesDecodeNumbersAndStrings(t *testing.T) {
	var r kube.Resources
	require.NoError(t, stackconfig.Decode("database.resources", `{"requests": {"cpu": 1, "memory": "2Gi"}, "limits": {"cpu": 2.5}}`, &r))
	require.Equal(t, map[string]any{
		"requests": map[string]any{"cpu": "1", "memory": "2Gi"},
		"limits":   map[string]any{"cpu": "2.5"},
	}, r.Values())
	require.ErrorContains(t, stackconfig.Decode("database.resources", `{"requests": {"cpu": true}}`, &r), "config database.resources:")
	require.ErrorContains(t, stackconfig.Decode("database.resources", `{"request": {"cpu": 1}}`, &r), `unknown key "request"`)
	require.True(t, kube.Resources{}.IsZero())
	require.Empty(t, kube.Resources{}.Values())
}

func TestPodSettingsValidation(t *testing.T) {
	seconds := int64(30)
	cases := []struct {
		name  string
		check func(p *validate.Problems)
		want  []string
	}{
		{"valid resources", func(p *validate.Problems) {
			kube.Resources{Requests: map[string]kube.Quantity{"cpu": "500m", "memory": "1Gi", "nvidia.com/gpu": "1"},
				Limits: map[string]kube.Quantity{"cpu": "1", "memory": "1Gi"}}.Validate(p, "resources")
		}, nil},
		{"bad quantity and name", func(p *validate.Problems) {
			kube.Resources{Requests: map[string]kube.Quantity{"cpu": "fast", "gpu": "1"}}.Validate(p, "resources")
		}, []string{
			`resources.requests.cpu: "fast" is not a Kubernetes quantity such as 500m, 2 or 20Gi`,
			`resources.requests: "gpu" is not a resource name; use cpu, memory, ephemeral-storage, hugepages-<size> or an extended resource such as nvidia.com/gpu`,
		}},
		{"request above limit", func(p *validate.Problems) {
			kube.Resources{Requests: map[string]kube.Quantity{"memory": "2Gi"}, Limits: map[string]kube.Quantity{"memory": "1Gi"}}.Validate(p, "resources")
		}, []string{"resources.requests.memory: 2Gi is more than the limit 1Gi; lower the request or raise resources.limits.memory"}},
		{"valid tolerations", func(p *validate.Problems) {
			kube.Toleration{Key: "dedicated", Value: "db", Effect: "NoSchedule"}.Validate(p, "tolerations[0]")
			kube.Toleration{Operator: "Exists"}.Validate(p, "tolerations[1]")
			kube.Toleration{Key: "node.kubernetes.io/unreachable", Operator: "Exists", Effect: "NoExecute", TolerationSeconds: &seconds}.Validate(p, "tolerations[2]")
		}, nil},
		{"empty key needs Exists", func(p *validate.Problems) { kube.Toleration{Value: "x"}.Validate(p, "t") },
			[]string{"t.operator: must be Exists when key is empty (a toleration of every taint)"}},
		{"Exists with a value", func(p *validate.Problems) { kube.Toleration{Key: "k", Operator: "Exists", Value: "v"}.Validate(p, "t") },
			[]string{"t.value: must be empty with operator Exists; remove it or use operator Equal"}},
		{"bad operator and effect", func(p *validate.Problems) {
			kube.Toleration{Key: "k", Operator: "In", Effect: "NoRun"}.Validate(p, "t")
		},
			[]string{`t.operator: "In" is not supported; use one of Equal, Exists`, `t.effect: "NoRun" is not supported; use one of NoSchedule, PreferNoSchedule, NoExecute`}},
		{"seconds without NoExecute", func(p *validate.Problems) {
			kube.Toleration{Key: "k", Operator: "Exists", TolerationSeconds: &seconds}.Validate(p, "t")
		}, []string{"t.tolerationSeconds: applies only to effect NoExecute; set effect: NoExecute or remove it"}},
		{"secret reference", func(p *validate.Problems) { kube.SecretKeyRef{Name: "S3_Creds", Key: "ACCESS KEY"}.Validate(p, "ref") },
			[]string{`ref.name: "S3_Creds" is not a valid Kubernetes object name`, `ref.key: "ACCESS KEY" is not a Secret key`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := validate.New("")
			tc.check(p)
			got := problemsOf(p.Err())
			require.Len(t, got, len(tc.want), "%q", got)
			for i, w := range tc.want {
				require.Contains(t, got[i], w)
			}
		})
	}
}

func TestTolerationValuesHoldOnlyTheFieldsSet(t *testing.T) {
	seconds := int64(30)
	got, err := json.Marshal(kube.Toleration{Key: "k", Operator: "Exists", Effect: "NoExecute", TolerationSeconds: &seconds}.Values())
	require.NoError(t, err)
	require.JSONEq(t, `{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}`, string(got))
}
