// Package kube holds what every stack needs to talk to one Kubernetes cluster: the explicit provider
// built from config, and untyped custom resources for CRDs that have no Go SDK here.
package kube

import (
	"strings"
	"time"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ClusterConfig selects the cluster a stack deploys to (config key `kubernetes`).
type ClusterConfig struct {
	// Kubeconfig is a path or the kubeconfig text; empty uses the ambient KUBECONFIG.
	Kubeconfig string `json:"kubeconfig"`
	// Context is the kubeconfig context; empty uses the current one.
	Context string `json:"context"`
	// ClusterIdentifier is what the provider's replacement keys on, so a rotated kubeconfig credential
	// updates the provider instead of replacing every resource of the stack (default: the stack name).
	ClusterIdentifier string `json:"clusterIdentifier"`
	// RenderDir writes manifests to this directory instead of applying them (secrets are rendered in plain text).
	RenderDir string `json:"renderDir"`
	// DeleteUnreachable lets a refresh or destroy drop from the state what it cannot read because the cluster is
	// unreachable. Off: one refresh during an outage would otherwise empty the state of a cluster that still
	// runs everything. On only to retire a stack whose cluster is gone for good.
	DeleteUnreachable bool `json:"deleteUnreachable"`
}

// NewProvider registers the explicit provider every Kubernetes resource of a stack uses.
func NewProvider(ctx *pulumi.Context, name string, c ClusterConfig) (*kubernetes.Provider, error) {
	args := &kubernetes.ProviderArgs{ClusterIdentifier: pulumi.StringPtr(c.ClusterIdentifier)}
	if c.DeleteUnreachable {
		// Unset otherwise: a refresh or destroy of a stack whose cluster is already gone does not run the
		// program, so it takes the provider's PULUMI_K8S_DELETE_UNREACHABLE (which an explicit false would
		// override); the fleet runner sets it from this key.
		args.DeleteUnreachable = pulumi.BoolPtr(true)
	}
	if c.ClusterIdentifier == "" {
		args.ClusterIdentifier = pulumi.StringPtr(ctx.Project() + "-" + ctx.Stack())
	}
	switch {
	case strings.Contains(c.Kubeconfig, "\n"):
		// Inline kubeconfig content carries cluster credentials: keep them out of state in plain text.
		args.Kubeconfig = pulumi.ToSecret(pulumi.String(c.Kubeconfig)).(pulumi.StringOutput)
	case c.Kubeconfig != "":
		args.Kubeconfig = pulumi.StringPtr(c.Kubeconfig)
	}
	if c.Context != "" {
		args.Context = pulumi.StringPtr(c.Context)
	}
	if c.RenderDir != "" {
		args.RenderYamlToDirectory = pulumi.StringPtr(c.RenderDir)
	}
	return kubernetes.NewProvider(ctx, name, args)
}

// Target is where a stack deploys: the cluster's explicit provider and, when the stack creates it, the
// namespace every namespaced object must wait for.
type Target struct {
	Provider *kubernetes.Provider
	// InNamespace is the DependsOn of namespaced objects (empty when the namespace exists already).
	InNamespace []pulumi.Resource
}

// NewTarget registers the stack's provider, called name, and, when create is set, the namespace <name>-namespace
// with the given options (the global stack protects its namespace; a site's is disposable).
func NewTarget(ctx *pulumi.Context, name string, c ClusterConfig, namespace string, create bool,
	opts ...pulumi.ResourceOption) (Target, error) {
	provider, err := NewProvider(ctx, name, c)
	if err != nil {
		return Target{}, err
	}
	t := Target{Provider: provider}
	if create {
		ns, err := corev1.NewNamespace(ctx, name+"-namespace", &corev1.NamespaceArgs{
			Metadata: Metadata(Object{Name: namespace}),
		}, append(opts, pulumi.Provider(provider))...)
		if err != nil {
			return Target{}, err
		}
		t.InNamespace = append(t.InNamespace, ns)
	}
	return t, nil
}

// Object names a namespaced Kubernetes object.
type Object struct {
	Namespace string
	Name      string
	Labels    map[string]string
}

func (o Object) metadata() metav1.ObjectMetaArgs {
	m := metav1.ObjectMetaArgs{Name: pulumi.String(o.Name)}
	if o.Namespace != "" {
		m.Namespace = pulumi.String(o.Namespace)
	}
	if len(o.Labels) > 0 {
		m.Labels = pulumi.ToStringMap(o.Labels)
	}
	return m
}

// NewCustomResource registers an object of a CRD kind with the given top-level fields (usually "spec").
func NewCustomResource(ctx *pulumi.Context, name, apiVersion, kind string, obj Object, fields map[string]any,
	opts ...pulumi.ResourceOption) (*apiextensions.CustomResource, error) {
	return apiextensions.NewCustomResource(ctx, name, &apiextensions.CustomResourceArgs{
		ApiVersion:  pulumi.String(apiVersion),
		Kind:        pulumi.String(kind),
		Metadata:    obj.metadata(),
		OtherFields: fields,
	}, opts...)
}

// Metadata returns the ObjectMeta of a namespaced object for typed resources.
func Metadata(obj Object) metav1.ObjectMetaArgs { return obj.metadata() }

// ExternalSecretData is one item of an ExternalSecret's spec.data, with the fields its CRD defaults spelt
// out: spec.data is an atomic list, so a list applied without them differs from the one the API server
// stores, and any other field manager than the one that first applied it (a stack deployed before the
// stack's field manager was stable, or state that was lost) conflicts with it on the next update.
func ExternalSecretData(secretKey, key, property string) map[string]any {
	return map[string]any{"secretKey": secretKey, "remoteRef": map[string]any{"key": key, "property": property,
		"conversionStrategy": "Default", "decodingStrategy": "None", "metadataPolicy": "None"}}
}

// ExternalSecretExtract is the extract of an ExternalSecret's spec.dataFrom item, its CRD defaults spelt
// out (see ExternalSecretData).
func ExternalSecretExtract(key string) map[string]any {
	return map[string]any{"key": key, "conversionStrategy": "Default", "decodingStrategy": "None", "metadataPolicy": "None"}
}

// PushSecretData is one item of a PushSecret's spec.data, its CRD default spelt out (see ExternalSecretData).
func PushSecretData(secretKey, remoteKey, property string) map[string]any {
	return map[string]any{"conversionStrategy": "None", "match": map[string]any{
		"secretKey": secretKey, "remoteRef": map[string]any{"remoteKey": remoteKey, "property": property}}}
}

// PushSecretMetadata is the metadata of a PushSecret's spec.data item for External Secrets' kubernetes
// provider: the pushed Secret gets exactly these labels, none of its source's labels and annotations
// (sourceMergePolicy Replace), so cert-manager's bookkeeping of the source does not follow the copy.
func PushSecretMetadata(labels map[string]any) map[string]any {
	spec := map[string]any{"sourceMergePolicy": "Replace"}
	if len(labels) > 0 {
		spec["labels"] = labels
	}
	return map[string]any{"apiVersion": "kubernetes.external-secrets.io/v1alpha1", "kind": "PushSecretMetadata", "spec": spec}
}

// ControllerDuration spells a duration as the External Secrets controller writes it back (Go's form,
// 1h0m0s): the controller then owns the field, and applying the same duration spelt otherwise (1h) is a
// server-side apply conflict on the next update. A value that does not parse is left for validation.
func ControllerDuration(s string) string {
	if d, err := time.ParseDuration(s); err == nil {
		return d.String()
	}
	return s
}

// Strings is ss as the []any a custom resource's fields hold.
func Strings(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
