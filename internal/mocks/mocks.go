// Package mocks records every resource a Pulumi program registers under pulumi.WithMocks, so tests can
// assert on inputs, providers and resource options after pulumi.RunErr returns.
package mocks

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
)

const (
	Project = "nautobot-worker"
	// StackReferenceType is the token under which a pulumi.StackReference reaches the mocks.
	StackReferenceType = "pulumi:pulumi:StackReference"
	chartV4Type        = "kubernetes:helm.sh/v4:Chart"
)

// Resource is one registration (or read) seen by the mock monitor.
type Resource struct {
	Type string
	Name string
	// URN is the URN the mock monitor returns for the resource, built the same way (see urn).
	URN string
	// Dependencies are the URNs the SDK sent as the registration's dependencies: DependsOn, with a
	// component expanded into whichever of its children the SDK had seen (see DependsOn), plus the
	// resources behind input Outputs. The expansion may differ from run to run.
	Dependencies []string
	// PropertyDependencies are the input dependencies by property.
	PropertyDependencies map[string][]string
	// DeclaredDependsOn are the URNs of the resources the program passed in DependsOn, before the SDK
	// expanded components, as a stack transformation that Run registers saw them.
	DeclaredDependsOn []string
	// declared is whether DeclaredDependsOn is known (the resource went through that transformation
	// and used no DependsOnInputs, whose resources the transformation cannot see).
	declared bool
	// Custom is true for a custom resource (a Kubernetes object, a provider, a read), false for a
	// component, local or remote.
	Custom         bool
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
	stack     tokens.QName
	// declared maps each resource handle to the DependsOn its program passed (nil: DependsOnInputs).
	declared map[pulumi.Resource][]pulumi.Resource
	// stackTransforms are the transforms the program registered for the whole stack (the SDK's mock monitor
	// runs none of them): tests call them on inputs of their own.
	stackTransforms []pulumi.ResourceTransform
}

// RegisterTransform records a stack transform (pulumi.MockResourceMonitorWithTransforms).
func (m *Monitor) RegisterTransform(t pulumi.ResourceTransform) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stackTransforms = append(m.stackTransforms, t)
}

// RegisterInvokeTransform is part of pulumi.MockResourceMonitorWithTransforms; no program here has one.
func (m *Monitor) RegisterInvokeTransform(pulumi.InvokeTransform) {}

// StackTransforms are the stack transforms the program registered, in order.
func (m *Monitor) StackTransforms() []pulumi.ResourceTransform {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.stackTransforms)
}

// recordDependsOn is a stack transformation that changes nothing. It is the SDK-side (legacy) kind on
// purpose: the SDK runs it synchronously in registerResource, before the registration goroutine, with the
// options as the program wrote them (applyTransformations in context.go), so it sees a DependsOn on a
// component as the component, not as its children; the engine-side transforms only see the expanded URNs.
func (m *Monitor) recordDependsOn(args *pulumi.ResourceTransformationArgs) *pulumi.ResourceTransformationResult {
	var deps []pulumi.Resource
	if opts, err := pulumi.NewResourceOptions(args.Opts...); err == nil && len(opts.DependsOnInputs) == 0 {
		deps = append([]pulumi.Resource{}, opts.DependsOn...)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.declared == nil {
		m.declared = map[pulumi.Resource][]pulumi.Resource{}
	}
	m.declared[args.Resource] = deps
	return nil
}

// resolveDeclared turns the recorded handles into URNs once the run is over, when every URN is resolved.
func (m *Monitor) resolveDeclared() {
	urnOf := func(r pulumi.Resource) string {
		res, err := internals.UnsafeAwaitOutput(context.Background(), r.URN())
		if err != nil || !res.Known {
			return ""
		}
		return string(res.Value.(pulumi.URN))
	}
	m.mu.Lock()
	declared := m.declared
	m.declared = nil
	m.mu.Unlock()
	byURN := map[string][]string{}
	for r, deps := range declared {
		urns := []string{}
		for _, d := range deps {
			if u := urnOf(d); u != "" {
				urns = append(urns, u)
			}
		}
		if deps == nil {
			urns = nil
		}
		if u := urnOf(r); u != "" {
			byURN[u] = urns
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, r := range m.resources {
		if urns, ok := byURN[r.URN]; ok && urns != nil {
			m.resources[i].DeclaredDependsOn, m.resources[i].declared = urns, true
		}
	}
}

func (m *Monitor) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	rec := Resource{Type: args.TypeToken, Name: args.Name, Inputs: args.Inputs, Provider: args.Provider}
	if rpc := args.RegisterRPC; rpc != nil {
		rec.Parent = rpc.GetParent()
		rec.Protect = rpc.GetProtect()
		rec.RetainOnDelete = rpc.GetRetainOnDelete()
		rec.Remote = rpc.GetRemote()
		rec.Custom = rpc.GetCustom()
		rec.Dependencies = rpc.GetDependencies()
		rec.PropertyDependencies = map[string][]string{}
		for k, d := range rpc.GetPropertyDependencies() {
			rec.PropertyDependencies[k] = d.GetUrns()
		}
	}
	state := args.Inputs.Copy()
	id := args.Name + "-id"
	if args.ReadRPC != nil {
		rec.Read = true
		rec.Custom = true
		rec.Parent = args.ReadRPC.GetParent()
		rec.Dependencies = args.ReadRPC.GetDependencies()
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
	if !rec.Read {
		computed, err := tlsOutputs(args.TypeToken, args.Inputs)
		if err != nil {
			return "", nil, err
		}
		for k, v := range computed {
			state[k] = v
		}
	}
	// The engine marks the outputs a registration lists in additionalSecretOutputs secret (the tls SDK
	// lists privateKeyPem), so a program that reads them sees a secret, as it would in a real run.
	for _, k := range args.RegisterRPC.GetAdditionalSecretOutputs() {
		if v, ok := state[resource.PropertyKey(k)]; ok && !v.IsSecret() {
			state[resource.PropertyKey(k)] = resource.MakeSecret(v)
		}
	}
	m.mu.Lock()
	rec.URN = m.urn(rec.Parent, rec.Type, rec.Name)
	m.resources = append(m.resources, rec)
	m.mu.Unlock()
	return id, state, nil
}

// urn builds a resource's URN as the SDK's mock monitor does (mockMonitor.newURN in
// sdk/go/pulumi/mocks.go), which the monitor does not hand to NewResource: the parent's type is part of it
// unless the parent is the root stack. Every resource has a parent (the SDK parents otherwise unparented
// ones to the root stack), which carries the stack and project; Run's stack is the fallback.
func (m *Monitor) urn(parent, typ, name string) string {
	stack, project, parentType := m.stack, tokens.PackageName(Project), tokens.Type("")
	if p := resource.URN(parent); p != "" && p.IsValid() {
		stack, project = p.Stack(), p.Project()
		if p.QualifiedType() != resource.RootStackType {
			parentType = p.QualifiedType()
		}
	}
	return string(resource.NewURN(stack, project, parentType, tokens.Type(typ), name))
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

// DependsOn reports whether the Pulumi Go SDK (v3.274.1) guarantees that the registration of later waits
// for the registration of earlier, i.e. for its creation: a registration RPC returns, and resolves the
// resource's URN, only once the engine has created the resource. A registration waits for
//
//   - each resource in DependsOn: Context.getOpts (go/pulumi/context.go) awaits its URN through
//     resourceDependencySet.addDeps (go/pulumi/resource.go), i.e. addDependency (go/pulumi/rpc.go).
//     addDependency replaces a local component by its children, recursively, and awaits only those. The
//     children it knows are those whose own registration goroutine has already run getOpts, which is
//     where opts.Parent.addChild is called, asynchronously, after the child's constructor returned. So a
//     DependsOn on a local component waits for none of its children for certain: the children that
//     have not reached addChild yet are left out. Measured here: the global stack's certs component
//     missed some of the authority's children in 7 runs out of 300, the site's worker some of the
//     ExternalSecrets in 5 out of 300 (see also pulumi/pulumi#7852). Only a DependsOn on a custom resource
//     or a remote component (whose URN addDependency awaits itself) is an ordering; that is why this
//     reads DeclaredDependsOn, as the program wrote it, and not the expanded Dependencies of one run.
//   - the resources behind input Outputs (prepareResourceInputs, marshalInputsOptions and
//     expandDependencies), recorded as PropertyDependencies. They are taken as they are: an input that is
//     the Output of a local component would have the same race, and this project passes none.
//   - its parent: getOpts awaits opts.Parent.URN(), which resolves when the parent's registration
//     returned, and that one waited for the parent's own dependencies and parent.
//   - its provider: getOpts calls Context.resolveProviderReference, which awaits the provider's URN and ID.
//
// The answer is the transitive closure of those edges from later. A resource that did not go through
// Run's transformation (or used DependsOnInputs) falls back to its Dependencies as sent.
func (m *Monitor) DependsOn(later, earlier Resource) bool {
	if later.URN == "" || earlier.URN == "" || later.URN == earlier.URN {
		return false
	}
	byURN := map[string]Resource{}
	for _, r := range m.Resources() {
		byURN[r.URN] = r
	}
	seen := map[string]bool{}
	queue := waitsFor(later, byURN)
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		if u == earlier.URN {
			return true
		}
		if seen[u] {
			continue
		}
		seen[u] = true
		if r, ok := byURN[u]; ok {
			queue = append(queue, waitsFor(r, byURN)...)
		}
	}
	return false
}

// waitsFor lists the URNs one registration is guaranteed to await directly (see DependsOn).
func waitsFor(r Resource, byURN map[string]Resource) []string {
	var out []string
	if !r.declared {
		out = append(out, r.Dependencies...)
	}
	for _, u := range r.DeclaredDependsOn {
		if d, ok := byURN[u]; ok && !d.Custom && !d.Remote {
			continue // a local component: none of its children is certain (see DependsOn)
		}
		out = append(out, u)
	}
	for _, k := range slices.Sorted(maps.Keys(r.PropertyDependencies)) {
		out = append(out, r.PropertyDependencies[k]...)
	}
	if r.Parent != "" {
		out = append(out, r.Parent)
	}
	// A provider reference is "<urn>::<id>", and the URN itself contains "::".
	if i := strings.LastIndex(r.Provider, "::"); i > 0 {
		out = append(out, r.Provider[:i])
	}
	return out
}

// envMu serialises the runs of one test binary while each holds the process environment (see Run).
var envMu sync.Mutex

// Run runs body under mocks with the given stack name and config (keys without the project prefix get it).
//
// The program gets its config the way the Go language host hands it over: in RunInfo.Config, and in the
// environment variables PULUMI_CONFIG (the JSON of the whole config map, left unset when the map is empty,
// as the host does) and PULUMI_CONFIG_SECRET_KEYS (always set, "[]" when no key is secret). The program's
// unknown-key check (stackconfig.CheckKeys) reads PULUMI_CONFIG, so it is on in every test. The variables
// are set for the duration of pulumi.RunErr and restored afterwards, under a package-level mutex so that
// concurrent runs never see each other's config; a body must therefore not call Run itself.
func Run(stack string, config map[string]string, m *Monitor, body pulumi.RunFunc, opts ...pulumi.RunOption) error {
	full := map[string]string{}
	for k, v := range config {
		if !strings.Contains(k, ":") {
			k = Project + ":" + k
		}
		full[k] = v
	}
	withConfig := func(info *pulumi.RunInfo) {
		info.Config = maps.Clone(full)
		// RunErr first reads the info from the environment set below; the options after this one (e.g. a
		// test's secret keys) start from an empty list, as they would without the environment.
		info.ConfigSecretKeys = nil
	}
	all := append([]pulumi.RunOption{pulumi.WithMocks(Project, stack, m), withConfig}, opts...)
	// The config the program will see once every option has applied is what the host would put in the env.
	var seen pulumi.RunInfo
	for _, o := range all {
		o(&seen)
	}
	configJSON, secretsJSON := "", "[]"
	if len(seen.Config) > 0 {
		b, err := json.Marshal(seen.Config)
		if err != nil {
			return fmt.Errorf("mocks: config: %w", err)
		}
		configJSON = string(b)
	}
	if len(seen.ConfigSecretKeys) > 0 {
		b, err := json.Marshal(slices.Compact(slices.Sorted(slices.Values(seen.ConfigSecretKeys))))
		if err != nil {
			return fmt.Errorf("mocks: config secret keys: %w", err)
		}
		secretsJSON = string(b)
	}

	envMu.Lock()
	defer envMu.Unlock()
	defer setenv(pulumi.EnvConfig, configJSON)()
	defer setenv(pulumi.EnvConfigSecretKeys, secretsJSON)()
	m.mu.Lock()
	m.stack = tokens.QName(stack)
	m.mu.Unlock()
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		if err := ctx.RegisterStackTransformation(m.recordDependsOn); err != nil {
			return err
		}
		return body(ctx)
	}, all...)
	m.resolveDeclared()
	return err
}

// setenv sets (or, for "", unsets) one variable and returns the function that restores its previous state.
func setenv(key, value string) (restore func()) {
	prev, had := os.LookupEnv(key)
	if value == "" {
		os.Unsetenv(key)
	} else {
		os.Setenv(key, value)
	}
	return func() {
		if had {
			os.Setenv(key, prev)
		} else {
			os.Unsetenv(key)
		}
	}
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
