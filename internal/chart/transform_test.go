package chart_test

import (
	"context"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/chart"
)

func TestDropEmptySecretData(t *testing.T) {
	meta := pulumi.Map{"name": pulumi.String("nautobot-env")}
	cases := []struct {
		name    string
		typ     string
		data    pulumi.Input
		dropped bool
	}{
		{"empty data as the chart renders it", "kubernetes:core/v1:Secret", pulumi.Map{}, true},
		{"empty data already marked secret", "kubernetes:core/v1:Secret", pulumi.ToSecret(pulumi.Map{}), true},
		{"a Secret with a key", "kubernetes:core/v1:Secret", pulumi.ToSecret(pulumi.Map{"k": pulumi.String("dg==")}), false},
		{"a Secret without data", "kubernetes:core/v1:Secret", nil, false},
		{"data not known yet", "kubernetes:core/v1:Secret", pulumi.UnsafeUnknownOutput(nil), false},
		{"a ConfigMap with empty data", "kubernetes:core/v1:ConfigMap", pulumi.Map{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			props := pulumi.Map{"apiVersion": pulumi.String("v1"), "metadata": meta, "type": pulumi.String("Opaque")}
			if tc.data != nil {
				props["data"] = tc.data
			}
			opts := pulumi.ResourceOptions{IgnoreChanges: []string{"x"}}
			res := chart.DropEmptySecretData(context.Background(), &pulumi.ResourceTransformArgs{Custom: true, Type: tc.typ, Name: "nautobot:nautobot/nautobot-env", Props: props, Opts: opts})
			if !tc.dropped {
				require.Nil(t, res, "the object is left as rendered")
				return
			}
			require.NotNil(t, res)
			require.Equal(t, pulumi.Map{"apiVersion": pulumi.String("v1"), "metadata": meta, "type": pulumi.String("Opaque")}, res.Props)
			require.Equal(t, opts, res.Opts)
			require.Contains(t, props, "data", "the transform does not modify the props it is given")
		})
	}
}
