package mocks

import (
	"testing"

	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Namespace is the namespace a Kubernetes resource goes to: metadata.namespace, or a Helm Chart's
// namespace input ("" for cluster-scoped objects and non-Kubernetes resources).
func (r Resource) Namespace() string {
	p := r.Plain()
	if meta, ok := p["metadata"].(map[string]any); ok {
		if ns, ok := meta["namespace"].(string); ok {
			return ns
		}
	}
	if r.Type == chartV4Type {
		ns, _ := p["namespace"].(string)
		return ns
	}
	return ""
}

// Strings returns every string value of the inputs (map keys aside), sorted and without repeats, e.g. the
// secret and ConfigMap names a chart's values mention.
func (r Resource) Strings() []string {
	seen := map[string]bool{}
	var walk func(v resource.PropertyValue)
	walk = func(v resource.PropertyValue) {
		switch {
		case v.IsSecret():
			walk(v.SecretValue().Element)
		case v.IsOutput():
			walk(v.OutputValue().Element)
		case v.IsString():
			seen[v.StringValue()] = true
		case v.IsArray():
			for _, e := range v.ArrayValue() {
				walk(e)
			}
		case v.IsObject():
			for _, e := range v.ObjectValue() {
				walk(e)
			}
		}
	}
	walk(resource.NewObjectProperty(r.Inputs))
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// SecretWriters maps "<namespace>/<secret>" to the recorded resource that writes that Secret: a Secret
// itself, a cert-manager Certificate (spec.secretName), an ExternalSecret (spec.target.name, by
// default its own name) or a PushSecret to a recorded SecretStore of External Secrets' kubernetes provider
// (each remoteKey, in the store's remoteNamespace). A resource that reads a secret must wait for its writer.
func (m *Monitor) SecretWriters() map[string]Resource {
	out := map[string]Resource{}
	remoteNamespaces := map[string]string{}
	for _, r := range m.OfType("kubernetes:external-secrets.io/v1:SecretStore") {
		spec, _ := r.Plain()["spec"].(map[string]any)
		provider, _ := spec["provider"].(map[string]any)
		if k8s, ok := provider["kubernetes"].(map[string]any); ok {
			ns, _ := k8s["remoteNamespace"].(string)
			remoteNamespaces[r.Namespace()+"/"+r.Plain()["metadata"].(map[string]any)["name"].(string)] = ns
		}
	}
	for _, r := range m.OfType("kubernetes:external-secrets.io/v1alpha1:PushSecret") {
		spec, _ := r.Plain()["spec"].(map[string]any)
		refs, _ := spec["secretStoreRefs"].([]any)
		data, _ := spec["data"].([]any)
		for _, ref := range refs {
			store, _ := ref.(map[string]any)
			ns, ok := remoteNamespaces[r.Namespace()+"/"+str(store["name"])]
			if !ok || store["kind"] != "SecretStore" {
				continue
			}
			for _, d := range data {
				match, _ := d.(map[string]any)["match"].(map[string]any)
				remote, _ := match["remoteRef"].(map[string]any)
				out[ns+"/"+str(remote["remoteKey"])] = r
			}
		}
	}
	for _, r := range m.Resources() {
		p := r.Plain()
		meta, _ := p["metadata"].(map[string]any)
		spec, _ := p["spec"].(map[string]any)
		name, _ := meta["name"].(string)
		switch r.Type {
		case "kubernetes:core/v1:Secret":
		case "kubernetes:cert-manager.io/v1:Certificate":
			name, _ = spec["secretName"].(string)
		case "kubernetes:external-secrets.io/v1:ExternalSecret":
			if target, _ := spec["target"].(map[string]any); target["name"] != nil {
				name, _ = target["name"].(string)
			}
		default:
			continue
		}
		if name != "" {
			out[r.Namespace()+"/"+name] = r
		}
	}
	return out
}

// RequireAfterSecretWriters checks that later waits for each resource of the stack that writes a secret its
// inputs name (a subtest per secret), and returns those writers as secret -> "<type> <name>", for the
// caller to compare with the secrets it expects.
func (m *Monitor) RequireAfterSecretWriters(t *testing.T, later Resource) map[string]string {
	t.Helper()
	writers := m.SecretWriters()
	got := map[string]string{}
	for _, s := range later.Strings() {
		if w, ok := writers[later.Namespace()+"/"+s]; ok {
			got[s] = w.Type + " " + w.Name
			t.Run(s, func(t *testing.T) { m.RequireAfter(t, later, w) })
		}
	}
	return got
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
