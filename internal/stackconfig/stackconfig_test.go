package stackconfig

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
	"github.com/stretchr/testify/require"
)

const project = "nautobot-worker"

// newContext is a bare program context with the given config (full keys), as the language host builds it;
// no monitor is needed to read config.
func newContext(t *testing.T, cfg map[string]string, secretKeys ...string) *pulumi.Context {
	t.Helper()
	ctx, err := pulumi.NewContext(context.Background(), pulumi.RunInfo{
		Project: project, Stack: "global", Config: cfg, ConfigSecretKeys: secretKeys,
	})
	require.NoError(t, err)
	return ctx
}

// setConfigEnv sets PULUMI_CONFIG for the test, or unsets it when value is nil; either way the previous
// value comes back after the test.
func setConfigEnv(t *testing.T, value *string) {
	t.Helper()
	t.Setenv(pulumi.EnvConfig, "")
	if value == nil {
		require.NoError(t, os.Unsetenv(pulumi.EnvConfig))
		return
	}
	t.Setenv(pulumi.EnvConfig, *value)
}

func ptr(s string) *string { return &s }

type dbArgs struct {
	Instances int    `json:"instances"`
	Image     string `json:"imageName"`
}

func TestDecodeNamesTheKey(t *testing.T) {
	cases := []struct {
		name string
		raw  string
		want dbArgs
		// err is the whole message: the key first, then what is wrong with it.
		err string
	}{
		{"valid", `{"instances":3,"imageName":"pg:17"}`, dbArgs{Instances: 3, Image: "pg:17"}, ""},
		{"unknown field", `{"instance":3}`, dbArgs{},
			`config database: unknown key "instance"; check the spelling against the README's config table`},
		{"wrong type", `{"instances":"3"}`, dbArgs{},
			"config database: cannot unmarshal string into Go struct field dbArgs.instances of type int"},
		{"not JSON", `{instances: 3}`, dbArgs{},
			"config database: invalid character 'i' looking for beginning of object key string"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got dbArgs
			err := Decode("database", tc.raw, &got)
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestStringAndObject(t *testing.T) {
	r := New(newContext(t, map[string]string{
		project + ":namespace": "nautobot-eu",
		project + ":database":  `{"instances":1}`,
		project + ":gateway":   `{"instances":1,"typo":true}`,
		"other:namespace":      "elsewhere",
	}))
	for _, tc := range []struct{ key, def, want string }{
		{"namespace", "nautobot", "nautobot-eu"},
		{"createNamespace", "true", "true"},
	} {
		got, err := r.String(tc.key, tc.def)
		require.NoError(t, err, tc.key)
		require.Equal(t, tc.want, got, tc.key)
	}

	cases := []struct {
		name, key string
		want      dbArgs
		err       string
	}{
		{"set: decoded", "database", dbArgs{Instances: 1, Image: "kept"}, ""},
		{"unset: the value is left as it was (the defaults)", "authority", dbArgs{Instances: 7, Image: "kept"}, ""},
		{"unknown key inside the object", "gateway", dbArgs{}, `config gateway: unknown key "typo"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := dbArgs{Instances: 7, Image: "kept"}
			err := r.Object(tc.key, &got)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestSecret(t *testing.T) {
	r := New(newContext(t, map[string]string{
		project + ":djangoSecretKey": "s3cret",
		project + ":redisPassword":   "plain",
	}, project+":djangoSecretKey"))
	cases := []struct {
		key     string
		wantSet bool
		want    string
		err     string
	}{
		{"djangoSecretKey", true, "s3cret", ""},
		{"redisPassword", true, "", "config redisPassword: is stored in plain text; set it with `pulumi config set --secret redisPassword`"},
		{"missing", false, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			v, set, err := r.Secret(tc.key)
			require.Equal(t, tc.wantSet, set)
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			if !set {
				return
			}
			got, err := internals.UnsafeAwaitOutput(context.Background(), v)
			require.NoError(t, err)
			require.Equal(t, tc.want, got.Value)
			require.True(t, got.Secret, "the value must stay a Pulumi secret")
		})
	}
}

// A read that fails for any reason other than "not set" must not turn into the default: a stack would
// otherwise deploy with e.g. namespace nautobot while its config says something else.
func TestReadErrorsAreNotMistakenForUnset(t *testing.T) {
	broken := errors.New("decrypting nautobot-worker:namespace: incorrect passphrase")
	cases := []struct {
		name   string
		lookup func(string) (string, error)
		// unset is whether the read counts as unset (default taken, no error).
		unset bool
	}{
		// nil keeps New's lookup, config.Config.Try, on a context without config: ErrMissingVar.
		{"a missing key is unset", nil, true},
		{"a wrapped ErrMissingVar is unset", func(string) (string, error) {
			return "", fmt.Errorf("lookup: %w", config.ErrMissingVar)
		}, true},
		{"any other error reaches the caller", func(string) (string, error) { return "", broken }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := New(newContext(t, nil))
			if tc.lookup != nil {
				r.lookup = tc.lookup
			}
			s, errString := r.String("namespace", "nautobot")
			v := dbArgs{Instances: 7}
			errObject := r.Object("database", &v)
			_, set, errSecret := r.Secret("djangoSecretKey")
			require.False(t, set)
			if tc.unset {
				require.NoError(t, errors.Join(errString, errObject, errSecret))
				require.Equal(t, "nautobot", s)
				require.Equal(t, dbArgs{Instances: 7}, v)
				return
			}
			for key, err := range map[string]error{"namespace": errString, "database": errObject, "djangoSecretKey": errSecret} {
				require.ErrorIs(t, err, broken, key)
				require.ErrorContains(t, err, "config "+key+": cannot be read: ")
			}
			require.Empty(t, s, "no default on a failed read")
			require.Equal(t, dbArgs{Instances: 7}, v)
		})
	}
}

func TestCheckKeys(t *testing.T) {
	known := []string{"role", "namespace", "createNamespace"}
	cases := []struct {
		name string
		// cfg is what the program reads through its context; env is PULUMI_CONFIG (nil: unset).
		cfg map[string]string
		env *string
		err []string
	}{
		{"every key known, other namespaces ignored",
			map[string]string{project + ":role": "global", "pulumi:disable-default-providers": `["kubernetes"]`},
			ptr(`{"nautobot-worker:role":"global","pulumi:disable-default-providers":"[\"kubernetes\"]"}`), nil},
		{"an unknown key is named with the keys the stack reads",
			map[string]string{project + ":role": "global", project + ":createNamepace": "false", project + ":zone": "a"},
			ptr(`{"nautobot-worker:role":"global","nautobot-worker:createNamepace":"false","nautobot-worker:zone":"a"}`),
			[]string{
				"config createNamepace: unknown key; a global stack reads only role, namespace, createNamespace",
				"config zone: unknown key; a global stack reads only role, namespace, createNamespace",
			}},
		// The language host leaves PULUMI_CONFIG unset when the stack has no config at all.
		{"no config and no variable", nil, nil, nil},
		{"no variable although the program has config",
			map[string]string{project + ":namespace": "eu", project + ":createNamepace": "false"}, nil,
			[]string{"config: PULUMI_CONFIG is not set, yet the program has config (namespace), so the unknown-key check cannot run; run the program through the pulumi CLI, or in a test through mocks.Run"}},
		{"an empty variable is no variable", map[string]string{project + ":role": "global"}, ptr(""),
			[]string{"config: PULUMI_CONFIG is not set, yet the program has config (role)"}},
		{"malformed variable", nil, ptr(`{"nautobot-worker:role":`),
			[]string{"config: PULUMI_CONFIG is not the JSON object of config keys to values the language host passes (unexpected end of JSON input), so the unknown-key check cannot run"}},
		{"variable of the wrong shape", map[string]string{project + ":role": "global"}, ptr(`["nautobot-worker:role"]`),
			[]string{"config: PULUMI_CONFIG is not the JSON object of config keys to values"}},
		{"variable lacks a key the program reads", map[string]string{project + ":role": "global", project + ":namespace": "eu"},
			ptr(`{"nautobot-worker:role":"global"}`),
			[]string{"config namespace: PULUMI_CONFIG does not hold the value the program reads (stale or foreign environment), so the unknown-key check would be wrong"}},
		{"variable holds another value", map[string]string{project + ":namespace": "eu"}, ptr(`{"nautobot-worker:namespace":"us"}`),
			[]string{"config namespace: PULUMI_CONFIG does not hold the value the program reads"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			setConfigEnv(t, tc.env)
			err := New(newContext(t, tc.cfg)).CheckKeys(known...)
			requireErrors(t, err, tc.err)
		})
	}
}

// TestCheckKeysNamesEveryPlaceholder: an unfilled production file fails naming each value to set, at any
// depth, and only once every key is known (an unknown key is the first thing to fix).
func TestCheckKeysNamesEveryPlaceholder(t *testing.T) {
	known := []string{"role", "namespace", "gateway", "sites"}
	cases := []struct {
		name string
		cfg  map[string]string
		err  []string
	}{
		{"filled", map[string]string{project + ":role": "global", project + ":gateway": `{"domain":"prod.example.com"}`}, nil},
		{"a plain value, an object's field and a list item's field",
			map[string]string{
				project + ":namespace": "REPLACE-namespace",
				project + ":gateway":   `{"domain":"REPLACE.example.com","className":"eg"}`,
				project + ":sites":     `[{"name":"REPLACE","egressCidrs":["10.0.0.0/16","REPLACE/16"]}]`,
			},
			[]string{
				"config namespace: still holds the placeholder REPLACE; set your own value",
				"config gateway.domain: still holds the placeholder REPLACE",
				"config sites[0].egressCidrs[1]: still holds the placeholder REPLACE",
				"config sites[0].name: still holds the placeholder REPLACE",
			}},
		{"an unknown key comes first", map[string]string{project + ":namespace": "REPLACE", project + ":zone": "a"},
			[]string{"config zone: unknown key"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			keys := make([]string, 0, len(tc.cfg))
			for k := range tc.cfg {
				keys = append(keys, k)
			}
			ctx := WithConfigKeys(newContext(t, tc.cfg), keys)
			err := New(ctx).CheckKeys(known...)
			requireErrors(t, err, tc.err)
			if err != nil {
				require.Len(t, strings.Split(err.Error(), "\n"), len(tc.err), "one line per value: %v", err)
			}
			if tc.err != nil && strings.Contains(tc.name, "unknown") {
				require.NotContains(t, err.Error(), "placeholder")
			}
		})
	}
}

// TestCheckKeysInline: with the key list an inline run passes (WithConfigKeys), PULUMI_CONFIG is never read,
// whatever this process holds in it.
func TestCheckKeysInline(t *testing.T) {
	known := []string{"role", "namespace", "createNamespace"}
	cases := []struct {
		name string
		cfg  map[string]string
		keys []string
		err  []string
	}{
		{"every key known, other namespaces ignored",
			map[string]string{project + ":role": "global", "pulumi:disable-default-providers": `["kubernetes"]`},
			[]string{project + ":role", "pulumi:disable-default-providers"}, nil},
		{"an unknown key is named with the keys the stack reads",
			map[string]string{project + ":role": "global", project + ":createNamepace": "false"},
			[]string{project + ":createNamepace", project + ":role"},
			[]string{"config createNamepace: unknown key; a global stack reads only role, namespace, createNamespace"}},
		{"no config, an empty list", nil, []string{}, nil},
		{"the list lacks a key the program reads", map[string]string{project + ":role": "global", project + ":namespace": "eu"},
			[]string{project + ":role"},
			[]string{"config namespace: the program reads it, yet the stack's key list lacks it (stale list)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			setConfigEnv(t, ptr(`{"nautobot-worker:zone":"from another stack"}`))
			err := New(WithConfigKeys(newContext(t, tc.cfg), tc.keys)).CheckKeys(known...)
			requireErrors(t, err, tc.err)
		})
	}
}

// requireErrors: no error when want is nil, else an error holding each of want.
func requireErrors(t *testing.T, err error, want []string) {
	t.Helper()
	if want == nil {
		require.NoError(t, err)
		return
	}
	require.Error(t, err)
	for _, w := range want {
		require.Contains(t, err.Error(), w)
	}
}
