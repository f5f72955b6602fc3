package stacks

import (
	"context"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/kube"
	"nautobot-worker/internal/mocks"
)

func TestRoleSelection(t *testing.T) {
	cases := []struct {
		stack  string
		config map[string]string
		want   string
	}{
		{"prod", nil, `config nautobot-worker:role: "" is not a stack role; set it to global or site`},
		{"prod", map[string]string{"role": "worker"}, `config nautobot-worker:role: "worker" is not a stack role`},
		// The global program runs and fails on its own config, which shows it was the one selected.
		{"global", nil, "config gateway.domain: is not set"},
		{"eu", map[string]string{"role": "global"}, "config gateway.domain: is not set"},
		{"site-dfw1", nil, "config site.name"},
		{"anything", map[string]string{"role": "site"}, "config site.name"},
	}
	for _, tc := range cases {
		t.Run(tc.stack, func(t *testing.T) {
			m := &mocks.Monitor{}
			err := mocks.Run(tc.stack, tc.config, m, Program)
			require.ErrorContains(t, err, tc.want)
			require.Empty(t, m.Resources())
		})
	}
}

// Every object a stack registers is applied by one field manager, the same in every run (kube.FieldManager):
// the program registers the transform before anything else, whichever role it runs.
func TestEveryStackAppliesWithItsOwnFieldManager(t *testing.T) {
	for _, stack := range []string{"global", "site-dfw1"} {
		t.Run(stack, func(t *testing.T) {
			m := &mocks.Monitor{}
			_ = mocks.Run(stack, nil, m, Program) // fails on the empty config, after the transform
			transforms := m.StackTransforms()
			require.Len(t, transforms, 1)
			res := transforms[0](context.Background(), &pulumi.ResourceTransformArgs{Custom: true,
				Type: "kubernetes:core/v1:Secret", Props: pulumi.Map{"metadata": pulumi.Map{"name": pulumi.String("s")}}})
			require.NotNil(t, res)
			meta, err := internals.UnsafeAwaitOutput(context.Background(), pulumi.ToOutput(res.Props["metadata"]))
			require.NoError(t, err)
			require.Equal(t, map[string]any{kube.FieldManagerAnnotation: kube.FieldManager(mocks.Project, stack)},
				meta.Value.(map[string]any)["annotations"])
		})
	}
}
