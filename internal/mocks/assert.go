package mocks

import (
	"context"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
	"github.com/stretchr/testify/require"
)

// RequireComponentChildren checks every recorded kubernetes resource: it uses the explicit provider that
// RunWithProvider registers, its parent is the component componentType/name, and its name starts with the
// component's so two instances never collide. It returns the resources.
func (m *Monitor) RequireComponentChildren(t testing.TB, componentType, name string) []Resource {
	t.Helper()
	_, ok := m.Find(componentType, name)
	require.True(t, ok, "no component %s %s", componentType, name)
	var children []Resource
	for _, r := range m.Resources() {
		if !strings.HasPrefix(r.Type, "kubernetes:") {
			continue
		}
		children = append(children, r)
		require.Contains(t, r.Provider, "::pulumi:providers:kubernetes::k8s::", "%s %s has provider %q", r.Type, r.Name, r.Provider)
		require.True(t, strings.HasSuffix(r.Parent, "::"+componentType+"::"+name), "%s %s has parent %q", r.Type, r.Name, r.Parent)
		require.True(t, strings.HasPrefix(r.Name, name), "child %s is not named from the component %s", r.Name, name)
	}
	return children
}

// RequireNothingRegistered checks that no component and no Kubernetes object was registered (the
// provider of RunWithProvider aside), as when validation fails before the first registration.
func (m *Monitor) RequireNothingRegistered(t testing.TB) {
	t.Helper()
	for _, r := range m.Resources() {
		require.False(t, strings.HasPrefix(r.Type, "kubernetes:") || strings.HasPrefix(r.Type, "nautobot:"),
			"registered %s %s before validation failed", r.Type, r.Name)
	}
}

// AwaitAll resolves stack outputs after pulumi.RunErr has returned: the known values, and which of
// them are secret. Outputs unknown at preview are left out of values.
func AwaitAll(t testing.TB, outputs map[string]pulumi.Input) (values map[string]any, secret map[string]bool) {
	t.Helper()
	values, secret = map[string]any{}, map[string]bool{}
	for k, v := range outputs {
		r, err := internals.UnsafeAwaitOutput(context.Background(), pulumi.ToOutput(v))
		require.NoError(t, err, k)
		if r.Known {
			values[k], secret[k] = r.Value, r.Secret
		}
	}
	return values, secret
}
