// Package manifest is the list of resources a preview registers, as the engine-floor program
// (bench/floor) registers them again: type, name, parent and, for Kubernetes objects, the object's name.
package manifest

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Resource is one registration of the previewed program.
type Resource struct {
	Type string `json:"type"`
	Name string `json:"name"`
	// Custom is true for a provider or a Kubernetes object, false for a component (local or remote).
	Custom bool `json:"custom"`
	// Parent is the index of the parent in the manifest, -1 for the stack.
	Parent int `json:"parent"`
	// DependsOn are the indices of the resources the registration depended on.
	DependsOn []int `json:"dependsOn,omitempty"`
	// Inputs are the provider's inputs (a provider), or the object's metadata.name and metadata.namespace
	// (a Kubernetes object) when the preview knew them.
	Inputs map[string]string `json:"inputs,omitempty"`
}

// stackType is the root resource, which every program gets without registering it.
const stackType = "pulumi:pulumi:Stack"

// preview is what `pulumi preview --json` prints, as far as the manifest needs it.
type preview struct {
	Steps []struct {
		Op       string `json:"op"`
		URN      string `json:"urn"`
		NewState *struct {
			Type         string         `json:"type"`
			Custom       bool           `json:"custom"`
			Parent       string         `json:"parent"`
			Dependencies []string       `json:"dependencies"`
			Inputs       map[string]any `json:"inputs"`
		} `json:"newState"`
	} `json:"steps"`
}

// FromPreview reads the JSON of `pulumi preview --json` and returns every resource but the stack, in
// registration order (a parent precedes its children).
func FromPreview(r io.Reader) ([]Resource, error) {
	var p preview
	if err := json.NewDecoder(r).Decode(&p); err != nil {
		return nil, fmt.Errorf("preview JSON: %w", err)
	}
	index := map[string]int{}
	var out []Resource
	for _, s := range p.Steps {
		if s.NewState == nil {
			return nil, fmt.Errorf("step %s %s has no new state; preview a new stack", s.Op, s.URN)
		}
		st := s.NewState
		if st.Type == stackType {
			continue
		}
		res := Resource{Type: st.Type, Name: s.URN[strings.LastIndex(s.URN, "::")+2:], Custom: st.Custom, Parent: -1}
		if st.Parent != "" {
			if i, ok := index[st.Parent]; ok {
				res.Parent = i
			} else if !strings.Contains(st.Parent, "::"+stackType+"::") {
				return nil, fmt.Errorf("%s: parent %s comes later in the preview", s.URN, st.Parent)
			}
		}
		for _, d := range st.Dependencies {
			if i, ok := index[d]; ok {
				res.DependsOn = append(res.DependsOn, i)
			}
		}
		res.Inputs = inputs(st.Type, st.Inputs)
		index[s.URN] = len(out)
		out = append(out, res)
	}
	return out, nil
}

// inputs keeps what the floor needs of a resource's inputs: a provider's scalar settings, an object's
// name and namespace.
func inputs(typ string, in map[string]any) map[string]string {
	out := map[string]string{}
	switch {
	case strings.HasPrefix(typ, "pulumi:providers:"):
		for k, v := range in {
			switch v := v.(type) {
			case string:
				out[k] = v
			case bool, float64:
				out[k] = fmt.Sprint(v)
			}
		}
	default:
		meta, _ := in["metadata"].(map[string]any)
		for _, k := range []string{"name", "namespace"} {
			if v, ok := meta[k].(string); ok {
				out[k] = v
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
