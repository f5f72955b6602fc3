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

// Refs lists resources as "<type> <name>" in the order given (Resources, OfType and
// RequireComponentChildren sort by type, then name), so a test can compare the exact set it expects.
func Refs(rs []Resource) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Type + " " + r.Name
	}
	return out
}

// Names lists the resources' Pulumi names in the order given.
func Names(rs []Resource) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Name
	}
	return out
}

// MustFind returns the resource with the given type and Pulumi name, failing the test when it is missing.
func (m *Monitor) MustFind(t testing.TB, typ, name string) Resource {
	t.Helper()
	r, ok := m.Find(typ, name)
	require.True(t, ok, "no %s %s was registered", typ, name)
	return r
}

// RequireAfter checks that later's registration waits for each of earlier's (Monitor.DependsOn), so the
// engine creates them first.
func (m *Monitor) RequireAfter(t testing.TB, later Resource, earlier ...Resource) {
	t.Helper()
	require.NotEmpty(t, later.URN, "later is not a recorded resource")
	for _, e := range earlier {
		require.NotEmpty(t, e.URN, "earlier is not a recorded resource")
		require.True(t, m.DependsOn(later, e), "%s %s does not wait for %s %s: no chain of DependsOn, input, parent or provider reaches it "+
			"(a DependsOn on a local component orders nothing: name its custom resources)",
			later.Type, later.Name, e.Type, e.Name)
	}
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
