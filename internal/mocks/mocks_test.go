package mocks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/mocks"
)

type component struct{ pulumi.ResourceState }

const (
	compType = "test:index:Component"
	cmType   = "kubernetes:core/v1:ConfigMap"
)

// program registers a small graph whose orderings are known from the SDK's rules:
//
//	base                      ConfigMap
//	other                     ConfigMap, unrelated
//	first (DependsOn base)    component -> child1
//	second (DependsOn first)  component -> child2; the SDK expands first into the children it has seen
//	third (DependsOn child1)  component -> child3
//	consumer                  ConfigMap whose data is base's name (an input dependency)
//	late                      ConfigMap registered after everything, depending on nothing
func program(urns map[string]pulumi.URNOutput) func(*pulumi.Context, *kubernetes.Provider) error {
	return func(ctx *pulumi.Context, p *kubernetes.Provider) error {
		cm := func(name string, data pulumi.StringMapInput, opts ...pulumi.ResourceOption) (*corev1.ConfigMap, error) {
			r, err := corev1.NewConfigMap(ctx, name, &corev1.ConfigMapArgs{
				Metadata: metav1.ObjectMetaArgs{Name: pulumi.String(name)}, Data: data,
			}, append(opts, pulumi.Provider(p))...)
			if err == nil {
				urns[name] = r.URN()
			}
			return r, err
		}
		comp := func(name string, opts ...pulumi.ResourceOption) (*component, error) {
			c := &component{}
			if err := ctx.RegisterComponentResource(compType, name, c, opts...); err != nil {
				return nil, err
			}
			urns[name] = c.URN()
			return c, nil
		}
		base, err := cm("base", nil)
		if err != nil {
			return err
		}
		if _, err := cm("other", nil); err != nil {
			return err
		}
		first, err := comp("first", pulumi.DependsOn([]pulumi.Resource{base}))
		if err != nil {
			return err
		}
		child1, err := cm("child1", nil, pulumi.Parent(first))
		if err != nil {
			return err
		}
		second, err := comp("second", pulumi.DependsOn([]pulumi.Resource{first}))
		if err != nil {
			return err
		}
		if _, err := cm("child2", nil, pulumi.Parent(second)); err != nil {
			return err
		}
		third, err := comp("third", pulumi.DependsOn([]pulumi.Resource{child1}))
		if err != nil {
			return err
		}
		if _, err := cm("child3", nil, pulumi.Parent(third)); err != nil {
			return err
		}
		if _, err := cm("consumer", pulumi.StringMap{"source": base.Metadata.Name().Elem()}); err != nil {
			return err
		}
		_, err = cm("late", nil)
		return err
	}
}

func TestDependsOnFollowsTheSDK(t *testing.T) {
	m := &mocks.Monitor{}
	urns := map[string]pulumi.URNOutput{}
	require.NoError(t, mocks.RunWithProvider("test", m, program(urns)))

	get := func(name string) mocks.Resource {
		for _, typ := range []string{cmType, compType, "pulumi:providers:kubernetes"} {
			if r, ok := m.Find(typ, name); ok {
				return r
			}
		}
		t.Fatalf("no resource %s", name)
		return mocks.Resource{}
	}
	// The recorded URN is the one the SDK resolved for the resource, so Parent and Dependencies (URNs the
	// SDK sent) can be matched against it.
	for name, out := range urns {
		got, err := internals.UnsafeAwaitOutput(context.Background(), out)
		require.NoError(t, err)
		require.Equal(t, string(got.Value.(pulumi.URN)), get(name).URN, name)
	}
	require.Equal(t, "urn:pulumi:test::nautobot-worker::test:index:Component$kubernetes:core/v1:ConfigMap::child2", get("child2").URN)
	require.Equal(t, get("second").URN, get("child2").Parent)
	require.Equal(t, []string{get("first").URN}, get("second").DeclaredDependsOn, "the DependsOn as written, before the SDK expands it")
	require.Equal(t, []string{get("child1").URN}, get("third").Dependencies)
	require.Empty(t, get("child2").DeclaredDependsOn)
	require.Equal(t, []string{get("base").URN}, get("consumer").PropertyDependencies["data"])
	require.Empty(t, get("consumer").PropertyDependencies["metadata"])

	cases := []struct {
		later, earlier string
		want           bool
		why            string
	}{
		{"first", "base", true, "explicit DependsOn"},
		{"child1", "base", true, "its parent's DependsOn"},
		// The SDK expands first into the children whose registration goroutine already ran getOpts; child1's
		// may not have, so nothing orders second after it (this run may or may not have listed it).
		{"second", "child1", false, "DependsOn a local component guarantees none of its children"},
		{"child2", "child1", false, "its parent's DependsOn on a local component"},
		{"child2", "base", false, "first's dependency is not inherited through an unordered DependsOn"},
		{"third", "child1", true, "DependsOn a custom resource"},
		{"child3", "child1", true, "its parent's DependsOn"},
		{"child3", "base", true, "parent third -> child1 -> its parent first -> base"},
		{"consumer", "base", true, "an input is an Output of base"},
		{"child1", "k8s", true, "every resource waits for its provider"},
		{"child1", "other", false, "unrelated"},
		{"child2", "other", false, "unrelated"},
		{"late", "base", false, "registered later, but nothing makes it wait"},
		{"base", "child1", false, "the reverse of an ordering"},
		{"base", "base", false, "a resource does not wait for itself"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s after %s", tc.later, tc.earlier), func(t *testing.T) {
			require.Equal(t, tc.want, m.DependsOn(get(tc.later), get(tc.earlier)), tc.why)
		})
	}
	m.RequireAfter(t, get("child3"), get("base"), get("child1"), get("first"), get("third"))
}

// configEnv reads the two variables the Go language host sets, with "<unset>" for an unset one.
func configEnv() [2]string {
	out := [2]string{}
	for i, k := range []string{pulumi.EnvConfig, pulumi.EnvConfigSecretKeys} {
		v, ok := os.LookupEnv(k)
		if !ok {
			v = "<unset>"
		}
		out[i] = v
	}
	return out
}

func TestRunSetsTheConfigEnvironmentLikeTheLanguageHost(t *testing.T) {
	cases := []struct {
		name   string
		config map[string]string
		secret []string
		want   [2]string
	}{
		{"config and a secret key", map[string]string{"namespace": "eu", "token": "x", "pulumi:disable-default-providers": `["kubernetes"]`},
			[]string{"token"},
			[2]string{`{"nautobot-worker:namespace":"eu","nautobot-worker:token":"x","pulumi:disable-default-providers":"[\"kubernetes\"]"}`,
				`["nautobot-worker:token"]`}},
		// The host leaves PULUMI_CONFIG unset for an empty config and always sets the secret keys.
		{"no config", nil, nil, [2]string{"<unset>", "[]"}},
	}
	for _, tc := range cases {
		for _, before := range []string{"set", "unset"} {
			t.Run(tc.name+", variables "+before+" before", func(t *testing.T) {
				t.Setenv(pulumi.EnvConfig, `{"stale":"value"}`)
				t.Setenv(pulumi.EnvConfigSecretKeys, `["stale"]`)
				if before == "unset" {
					require.NoError(t, os.Unsetenv(pulumi.EnvConfig))
					require.NoError(t, os.Unsetenv(pulumi.EnvConfigSecretKeys))
				}
				prev := configEnv()
				var during [2]string
				var secretSeen []bool
				err := mocks.Run("test", tc.config, &mocks.Monitor{}, func(ctx *pulumi.Context) error {
					during = configEnv()
					for _, k := range tc.secret {
						secretSeen = append(secretSeen, ctx.IsConfigSecret(mocks.Project+":"+k))
					}
					return nil
				}, func(info *pulumi.RunInfo) {
					for _, k := range tc.secret {
						info.ConfigSecretKeys = append(info.ConfigSecretKeys, mocks.Project+":"+k)
					}
				})
				require.NoError(t, err)
				require.Equal(t, tc.want, during)
				for _, s := range secretSeen {
					require.True(t, s, "the secret keys reach the context too")
				}
				require.Equal(t, prev, configEnv(), "restored after the run")
			})
		}
	}
}

// Runs in one test binary may overlap (parallel tests); each must see its own config in the environment.
func TestConcurrentRunsSeeTheirOwnConfig(t *testing.T) {
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			want := fmt.Sprint(i)
			errs <- mocks.Run("test", map[string]string{"run": want}, &mocks.Monitor{}, func(ctx *pulumi.Context) error {
				for range 100 {
					var got map[string]string
					if err := json.Unmarshal([]byte(os.Getenv(pulumi.EnvConfig)), &got); err != nil {
						return err
					}
					if got[mocks.Project+":run"] != want {
						return fmt.Errorf("run %s sees the config of run %s", want, got[mocks.Project+":run"])
					}
				}
				return nil
			})
		}()
	}
	for range n {
		require.NoError(t, <-errs)
	}
}
