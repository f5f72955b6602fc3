// Command floor is the engine-floor program of `make bench`: it registers exactly the resources of a
// manifest (bench/manifest, derived from the global stack's `pulumi preview --json`) and does nothing else,
// so its preview is what the engine, the language host and the kubernetes provider cost for that many
// resources of those kinds. Components are local components of the same type; every custom resource is the
// same Kubernetes type with only apiVersion, kind and metadata, through one explicit kubernetes provider with
// the manifest's settings (render mode). The manifest is the file named by BENCH_FLOOR_MANIFEST;
// BENCH_FLOOR_DEPS=1 also passes each resource's recorded dependencies as DependsOn.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"nautobot-worker/bench/manifest"
)

const providerType = "pulumi:providers:kubernetes"

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		path := os.Getenv("BENCH_FLOOR_MANIFEST")
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("BENCH_FLOOR_MANIFEST: %w", err)
		}
		var resources []manifest.Resource
		if err := json.Unmarshal(data, &resources); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return register(ctx, resources, os.Getenv("BENCH_FLOOR_DEPS") == "1")
	})
}

func register(ctx *pulumi.Context, resources []manifest.Resource, withDeps bool) error {
	var provider *kubernetes.Provider
	for _, r := range resources {
		if r.Type == providerType {
			if provider != nil {
				return fmt.Errorf("the manifest has more than one %s", providerType)
			}
			var err error
			if provider, err = newProvider(ctx, r); err != nil {
				return err
			}
		}
	}
	done := make([]pulumi.Resource, len(resources))
	for i, r := range resources {
		var opts []pulumi.ResourceOption
		if r.Parent >= 0 {
			opts = append(opts, pulumi.Parent(done[r.Parent]))
		}
		if withDeps {
			var deps []pulumi.Resource
			for _, d := range r.DependsOn {
				deps = append(deps, done[d])
			}
			opts = append(opts, pulumi.DependsOn(deps))
		}
		switch {
		case r.Type == providerType:
			done[i] = provider
		case r.Custom && strings.HasPrefix(r.Type, "kubernetes:"):
			if provider == nil {
				return fmt.Errorf("%s %s: the manifest has no %s", r.Type, r.Name, providerType)
			}
			res := &pulumi.CustomResourceState{}
			if err := ctx.RegisterResource(r.Type, r.Name, object(r), res, append(opts, pulumi.Provider(provider))...); err != nil {
				return err
			}
			done[i] = res
		case !r.Custom:
			res := &pulumi.ResourceState{}
			if err := ctx.RegisterComponentResource(r.Type, r.Name, res, opts...); err != nil {
				return err
			}
			if err := ctx.RegisterResourceOutputs(res, pulumi.Map{}); err != nil {
				return err
			}
			done[i] = res
		default:
			return fmt.Errorf("%s %s: the floor registers only components, Kubernetes objects and one kubernetes provider", r.Type, r.Name)
		}
	}
	return nil
}

// newProvider registers the kubernetes provider with the manifest's settings, as kube.NewProvider does.
func newProvider(ctx *pulumi.Context, r manifest.Resource) (*kubernetes.Provider, error) {
	args := &kubernetes.ProviderArgs{}
	if v, ok := r.Inputs["renderYamlToDirectory"]; ok {
		args.RenderYamlToDirectory = pulumi.StringPtr(v)
	}
	if v, ok := r.Inputs["kubeconfig"]; ok {
		args.Kubeconfig = pulumi.StringPtr(v)
	}
	if v, ok := r.Inputs["clusterIdentifier"]; ok {
		args.ClusterIdentifier = pulumi.StringPtr(v)
	}
	if v, ok := r.Inputs["deleteUnreachable"]; ok {
		args.DeleteUnreachable = pulumi.BoolPtr(v == "true")
	}
	return kubernetes.NewProvider(ctx, r.Name, args)
}

// object is the least a Kubernetes object needs: its apiVersion and kind, from the type token
// kubernetes:<group>/<version>:<Kind> (group core: apiVersion <version>), and its name and namespace.
func object(r manifest.Resource) pulumi.Map {
	parts := strings.Split(r.Type, ":")
	apiVersion := strings.TrimPrefix(parts[1], "core/")
	name := r.Inputs["name"]
	if name == "" {
		name = r.Name
	}
	meta := pulumi.Map{"name": pulumi.String(name)}
	if ns := r.Inputs["namespace"]; ns != "" {
		meta["namespace"] = pulumi.String(ns)
	}
	return pulumi.Map{"apiVersion": pulumi.String(apiVersion), "kind": pulumi.String(parts[2]), "metadata": meta}
}
