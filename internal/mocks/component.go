package mocks

import (
	"reflect"
	"testing"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"
)

// Component runs one component constructor under mocks, the way a stack calls it: args.Provider is the
// explicit provider RunWithProvider registers, and each prepare step may then set inputs that must be
// created inside the program (outputs such as secrets). It returns what the monitor recorded.
func Component[A, C any](stack, name string, args A,
	newComponent func(*pulumi.Context, string, *A, ...pulumi.ResourceOption) (C, error),
	prepare ...func(*pulumi.Context, *A)) (*Monitor, error) {
	m := &Monitor{}
	err := RunWithProvider(stack, m, func(ctx *pulumi.Context, p *kubernetes.Provider) error {
		reflect.ValueOf(&args).Elem().FieldByName("Provider").Set(reflect.ValueOf(p))
		for _, step := range prepare {
			step(ctx, &args)
		}
		_, err := newComponent(ctx, name, &args)
		return err
	})
	return m, err
}

// RequireRejected checks that a run failed with every problem in want, and that it failed before it
// registered anything.
func (m *Monitor) RequireRejected(t testing.TB, err error, want ...string) {
	t.Helper()
	require.Error(t, err)
	for _, w := range want {
		require.ErrorContains(t, err, w)
	}
	m.RequireNothingRegistered(t)
}
