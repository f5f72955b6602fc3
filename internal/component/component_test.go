package component_test

import (
	"errors"
	"testing"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/component"
	"nautobot-worker/internal/mocks"
)

type args struct {
	Provider *kubernetes.Provider
	Name     string
	Invalid  bool
}

func (a args) Defaults() args {
	if a.Name == "" {
		a.Name = "default-name"
	}
	return a
}

func (a args) Validate() error {
	if a.Invalid {
		return errors.New("name: invalid")
	}
	return nil
}

func (a args) Cluster() (*kubernetes.Provider, error) {
	if a.Provider == nil {
		return nil, errors.New("example: Args.Provider is required")
	}
	return a.Provider, nil
}

type example struct {
	pulumi.ResourceState
	component.WithArgs[args]
}

func newExample(ctx *pulumi.Context, name string, a *args, opts ...pulumi.ResourceOption) (*example, error) {
	return component.New(ctx, "nautobot:example:Example", name, a, &example{}, opts,
		func(c *example, children []pulumi.ResourceOption) (pulumi.Map, error) {
			_, err := corev1.NewConfigMap(ctx, name+"-config", &corev1.ConfigMapArgs{
				Metadata: metav1.ObjectMetaArgs{Name: pulumi.String(c.Args.Name)},
			}, children...)
			return pulumi.Map{"name": pulumi.String(c.Args.Name)}, err
		})
}

func TestNewDefaultsValidatesRegistersAndParentsChildren(t *testing.T) {
	cases := []struct {
		name    string
		args    func(p *kubernetes.Provider) *args
		wantErr string
		want    string
	}{
		{"defaults fill unset fields", func(p *kubernetes.Provider) *args { return &args{Provider: p} }, "", "default-name"},
		{"set fields are kept", func(p *kubernetes.Provider) *args { return &args{Provider: p, Name: "mine"} }, "", "mine"},
		{"nil args without a provider", func(*kubernetes.Provider) *args { return nil }, "example: Args.Provider is required", ""},
		{"invalid args", func(p *kubernetes.Provider) *args { return &args{Provider: p, Invalid: true} }, "name: invalid", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := &mocks.Monitor{}
			var got *example
			err := mocks.RunWithProvider("global", m, func(ctx *pulumi.Context, p *kubernetes.Provider) error {
				var err error
				got, err = newExample(ctx, "ex", tc.args(p))
				return err
			})
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.Nil(t, got)
				m.RequireNothingRegistered(t)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got.Args.Name, "the component holds the effective args")
			children := m.RequireComponentChildren(t, "nautobot:example:Example", "ex")
			require.Len(t, children, 1)
			require.Equal(t, "ex-config", children[0].Name)
			require.Equal(t, tc.want, children[0].Plain()["metadata"].(map[string]any)["name"])
		})
	}
}
