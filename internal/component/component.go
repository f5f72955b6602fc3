// Package component is the life cycle every ComponentResource of the project shares, so each constructor
// applies defaults, validates and registers the same way: nothing is registered when a value is wrong,
// every child is parented to the component and uses the cluster's explicit provider, and the outputs are
// registered last.
package component

import (
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Args are a component's arguments.
type Args[A any] interface {
	// Defaults returns the arguments with every unset field filled in.
	Defaults() A
	// Validate checks the plain values; each problem names its key relative to the arguments.
	Validate() error
	// Cluster returns the provider of the cluster the children go to, or an error naming the inputs the
	// caller must set (the provider, and values a stack takes from other components).
	Cluster() (*kubernetes.Provider, error)
}

// WithArgs is embedded by every component, next to pulumi.ResourceState (which the SDK finds only as a
// direct field), to hold the effective arguments.
type WithArgs[A any] struct {
	// Args are the effective arguments, after defaults.
	Args A
}

func (w *WithArgs[A]) withArgs() *WithArgs[A] { return w }

// Resource is a component that embeds pulumi.ResourceState and WithArgs.
type Resource[A any] interface {
	pulumi.ComponentResource
	withArgs() *WithArgs[A]
}

// New applies the defaults to args (nil: all defaults), validates them, registers c as a component of type
// typ, and then calls build with the options of every child (c as parent, and the provider); build
// registers the children and returns the component's outputs, which New registers last.
func New[A Args[A], C Resource[A]](ctx *pulumi.Context, typ, name string, args *A, c C, opts []pulumi.ResourceOption,
	build func(c C, children []pulumi.ResourceOption) (pulumi.Map, error)) (C, error) {
	var none C
	var a A
	if args != nil {
		a = *args
	}
	a = a.Defaults()
	if err := a.Validate(); err != nil {
		return none, err
	}
	provider, err := a.Cluster()
	if err != nil {
		return none, err
	}
	c.withArgs().Args = a
	if err := ctx.RegisterComponentResource(typ, name, c, opts...); err != nil {
		return none, err
	}
	outputs, err := build(c, []pulumi.ResourceOption{pulumi.Parent(c), pulumi.Provider(provider)})
	if err != nil {
		return none, err
	}
	if err := ctx.RegisterResourceOutputs(c, outputs); err != nil {
		return none, err
	}
	return c, nil
}
