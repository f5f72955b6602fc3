// Package global is the program of the global stack: the mTLS CA hierarchy and everything the global
// cluster must hold before a site worker can connect.
package global

import (
	"errors"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"nautobot-worker/components/authority"
	"nautobot-worker/internal/kube"
	"nautobot-worker/internal/stackconfig"
	"nautobot-worker/internal/validate"
)

// Config is the global stack's configuration (Pulumi.global.yaml).
type Config struct {
	Kubernetes kube.ClusterConfig
	// Namespace of everything the global stack deploys (default nautobot).
	Namespace string
	// CreateNamespace registers the namespace (protected, retained on delete); false when it exists already.
	CreateNamespace bool
	Authority       authority.Args
}

// LoadConfig reads and validates the stack config; it registers nothing.
func LoadConfig(ctx *pulumi.Context) (Config, error) {
	r := stackconfig.New(ctx)
	c := Config{Namespace: r.String("namespace", "nautobot"), CreateNamespace: r.String("createNamespace", "true") == "true"}
	if err := r.Object("kubernetes", &c.Kubernetes); err != nil {
		return c, err
	}
	if err := r.Object(authority.ConfigKey, &c.Authority); err != nil {
		return c, err
	}
	p := validate.New("")
	p.DNSLabel("namespace", c.Namespace)
	if v := r.String("createNamespace", "true"); v != "true" && v != "false" {
		p.Addf("createNamespace", "%q is not a boolean; use true or false", v)
	}
	if c.Authority.Namespace == "" {
		c.Authority.Namespace = c.Namespace
	}
	c.Authority = c.Authority.Defaults()
	if err := p.Err(); err != nil {
		return c, err
	}
	return c, nil
}

// Outputs are what the global stack exports for site stacks and operators.
type Outputs struct {
	Namespace    pulumi.StringOutput
	IssuerName   pulumi.StringOutput
	CASecretName pulumi.StringOutput
}

// Program is the global stack.
func Program(ctx *pulumi.Context) error {
	out, err := Build(ctx)
	if err != nil {
		return err
	}
	ctx.Export("namespace", out.Namespace)
	ctx.Export("issuerName", out.IssuerName)
	ctx.Export("caSecretName", out.CASecretName)
	return nil
}

// Build validates the config, then registers the global resources.
func Build(ctx *pulumi.Context) (*Outputs, error) {
	c, err := LoadConfig(ctx)
	if err != nil {
		return nil, err
	}
	authorityArgs := c.Authority
	// Every component's plain args are validated before the first registration, so a bad value
	// anywhere fails the preview with nothing registered.
	if err := errors.Join(authorityArgs.Validate()); err != nil {
		return nil, err
	}

	provider, err := kube.NewProvider(ctx, "global", c.Kubernetes)
	if err != nil {
		return nil, err
	}
	var deps []pulumi.Resource
	if c.CreateNamespace {
		ns, err := corev1.NewNamespace(ctx, "global-namespace", &corev1.NamespaceArgs{
			Metadata: kube.Metadata(kube.Object{Name: c.Namespace}),
		}, pulumi.Provider(provider), pulumi.Protect(true), pulumi.RetainOnDelete(true))
		if err != nil {
			return nil, err
		}
		deps = append(deps, ns)
	}
	authorityArgs.Provider = provider
	ca, err := authority.NewMTLSAuthority(ctx, "mtls", &authorityArgs, pulumi.DependsOn(deps))
	if err != nil {
		return nil, err
	}
	return &Outputs{Namespace: ca.Namespace, IssuerName: ca.IssuerName, CASecretName: ca.CAPublicSecretName}, nil
}
