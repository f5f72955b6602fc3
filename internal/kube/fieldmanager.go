package kube

import (
	"context"
	"maps"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// FieldManagerAnnotation names the server-side apply field manager the kubernetes provider applies an
// object with.
const FieldManagerAnnotation = "pulumi.com/patchFieldManager"

// FieldManager is the field manager every object of a stack is applied with: the same name in every run.
// Without it the provider draws a random name per object and run, and keeps it in the state; an object that
// a killed run applied, but never recorded or that a recovery imported, is then applied by the next run
// under another name, and a field the API server defaulted inside an atomic list (an ExternalSecret's
// spec.data) is a conflict between the two. One name per stack keeps stacks apart on a shared cluster.
func FieldManager(project, stack string) string {
	name := "pulumi-" + project + "-" + stack
	const maxLength = 128 // the API server's limit
	if len(name) > maxLength {
		name = name[:maxLength]
	}
	return name
}

// StableFieldManager is a stack transform that annotates every Kubernetes object the stack registers,
// the charts' objects included, with FieldManager. An annotation the program set itself is kept.
func StableFieldManager(manager string) pulumi.ResourceTransform {
	return func(_ context.Context, args *pulumi.ResourceTransformArgs) *pulumi.ResourceTransformResult {
		if !args.Custom || !strings.HasPrefix(args.Type, "kubernetes:") || strings.HasPrefix(args.Type, "pulumi:providers:") {
			return nil
		}
		props := maps.Clone(args.Props)
		props["metadata"] = annotated(args.Props["metadata"], FieldManagerAnnotation, manager)
		return &pulumi.ResourceTransformResult{Props: props, Opts: args.Opts}
	}
}

// annotated is metadata with the annotation added unless it is set. The engine hands a transform known values
// as plain maps, which stay plain: wrapping them in an output would make them unknown in a preview wherever
// any of them is.
func annotated(metadata pulumi.Input, key, value string) pulumi.Input {
	m, plain := metadata.(pulumi.Map)
	if metadata == nil {
		m, plain = pulumi.Map{}, true
	}
	if plain {
		annotations, isMap := m["annotations"].(pulumi.Map)
		if m["annotations"] == nil {
			annotations, isMap = pulumi.Map{}, true
		}
		if isMap {
			m, annotations = maps.Clone(m), maps.Clone(annotations)
			if _, set := annotations[key]; !set {
				annotations[key] = pulumi.String(value)
			}
			m["annotations"] = annotations
			return m
		}
	}
	return pulumi.ToOutput(metadata).ApplyT(func(v any) map[string]any { return withAnnotation(v, key, value) })
}

// withAnnotation returns a copy of the metadata value with the annotation added unless it is set.
func withAnnotation(metadata any, key, value string) map[string]any {
	m, _ := metadata.(map[string]any)
	m = maps.Clone(m)
	if m == nil {
		m = map[string]any{}
	}
	annotations := map[string]any{}
	switch a := m["annotations"].(type) {
	case map[string]any:
		maps.Copy(annotations, a)
	case map[string]string:
		for k, v := range a {
			annotations[k] = v
		}
	}
	if _, set := annotations[key]; !set {
		annotations[key] = value
	}
	m["annotations"] = annotations
	return m
}
