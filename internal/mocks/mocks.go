// Package mocks records every resource a Pulumi program registers under pulumi.WithMocks, so tests can
// assert on inputs, providers and resource options after pulumi.RunErr returns.
package mocks

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const (
	Project = "nautobot-worker"
	// StackReferenceType is the token under which a pulumi.StackReference reaches the mocks.
	StackReferenceType = "pulumi:pulumi:StackReference"
	chartV4Type        = "kubernetes:helm.sh/v4:Chart"
)

// Resource is one registration (or read) seen by the mock monitor.
type Resource struct {
	Type           string
	Name           string
	Inputs         resource.PropertyMap
	Provider       string
	Parent         string
	Protect        bool
	RetainOnDelete bool
	Remote         bool
	Read           bool
}

// Plain returns the inputs as plain Go values (secrets unwrapped), for comparisons.
func (r Resource) Plain() map[string]any {
	return plain(resource.NewObjectProperty(r.Inputs)).(map[string]any)
}

// IsSecret reports whether the input at the dotted path is (or sits under) a Pulumi secret.
func (r Resource) IsSecret(path string) bool {
	v := resource.NewObjectProperty(r.Inputs)
	for _, key := range strings.Split(path, ".") {
		if v.IsSecret() {
			return true
		}
		if !v.IsObject() {
			return false
		}
		v = v.ObjectValue()[resource.PropertyKey(key)]
	}
	return v.IsSecret() || containsSecret(v)
}

func containsSecret(v resource.PropertyValue) bool {
	switch {
	case v.IsSecret():
		return true
	case v.IsObject():
		for _, e := range v.ObjectValue() {
			if containsSecret(e) {
				return true
			}
		}
	case v.IsArray():
		for _, e := range v.ArrayValue() {
			if containsSecret(e) {
				return true
			}
		}
	}
	return false
}

func plain(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return plain(v.SecretValue().Element)
	case v.IsOutput():
		return plain(v.OutputValue().Element)
	case v.IsObject():
		m := map[string]any{}
		for k, e := range v.ObjectValue() {
			m[string(k)] = plain(e)
		}
		return m
	case v.IsArray():
		a := []any{}
		for _, e := range v.ArrayValue() {
			a = append(a, plain(e))
		}
		return a
	case v.IsNull():
		return nil
	default:
		return v.V
	}
}

// Monitor is a pulumi.MockResourceMonitor that records what it sees.
type Monitor struct {
	// StackOutputs holds the outputs returned for a StackReference, by referenced stack name.
	StackOutputs map[string]map[string]any

	mu        sync.Mutex
	resources []Resource
}

func (m *Monitor) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	rec := Resource{Type: args.TypeToken, Name: args.Name, Inputs: args.Inputs, Provider: args.Provider}
	if rpc := args.RegisterRPC; rpc != nil {
		rec.Parent = rpc.GetParent()
		rec.Protect = rpc.GetProtect()
		rec.RetainOnDelete = rpc.GetRetainOnDelete()
		rec.Remote = rpc.GetRemote()
	}
	state := args.Inputs.Copy()
	id := args.Name + "-id"
	if args.ReadRPC != nil {
		rec.Read = true
		rec.Parent = args.ReadRPC.GetParent()
		if args.TypeToken == StackReferenceType {
			outputs, ok := m.StackOutputs[args.ID]
			if !ok {
				return "", nil, fmt.Errorf("mocks: no outputs for stack %q", args.ID)
			}
			state = resource.NewPropertyMapFromMap(map[string]any{"name": args.ID, "outputs": outputs})
			id = args.ID
		}
	}
	if rec.Type == chartV4Type && rec.Remote {
		state["resources"] = resource.NewArrayProperty(nil)
	}
	m.mu.Lock()
	m.resources = append(m.resources, rec)
	m.mu.Unlock()
	return id, state, nil
}

func (m *Monitor) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return nil, fmt.Errorf("mocks: unexpected call %s", args.Token)
}

// Resources returns every recorded resource, sorted by type and name.
func (m *Monitor) Resources() []Resource {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := append([]Resource(nil), m.resources...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// OfType returns the recorded resources of one type token.
func (m *Monitor) OfType(typ string) []Resource {
	var out []Resource
	for _, r := range m.Resources() {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// Find returns the resource with the given type and Pulumi name, and whether it exists.
func (m *Monitor) Find(typ, name string) (Resource, bool) {
	for _, r := range m.Resources() {
		if r.Type == typ && r.Name == name {
			return r, true
		}
	}
	return Resource{}, false
}

// Run runs body under mocks with the given stack name and config (keys without the project prefix get it).
func Run(stack string, config map[string]string, m *Monitor, body pulumi.RunFunc, opts ...pulumi.RunOption) error {
	withConfig := func(info *pulumi.RunInfo) {
		info.Config = map[string]string{}
		for k, v := range config {
			if !strings.Contains(k, ":") {
				k = Project + ":" + k
			}
			info.Config[k] = v
		}
	}
	all := append([]pulumi.RunOption{pulumi.WithMocks(Project, stack, m), withConfig}, opts...)
	return pulumi.RunErr(body, all...)
}

// DryRun makes the run behave like a preview.
func DryRun(info *pulumi.RunInfo) { info.DryRun = true }

// RunWithProvider runs body under mocks with an explicit Kubernetes provider named "k8s", the way every
// component receives its cluster's provider.
func RunWithProvider(stack string, m *Monitor, body func(ctx *pulumi.Context, p *kubernetes.Provider) error) error {
	return Run(stack, nil, m, func(ctx *pulumi.Context) error {
		p, err := kubernetes.NewProvider(ctx, "k8s", &kubernetes.ProviderArgs{})
		if err != nil {
			return err
		}
		return body(ctx, p)
	})
}
