// Package stackconfig is a stack's I/O: it reads structured config strictly (an unknown key is an error that names it,
// so a typo in Pulumi.<stack>.yaml fails the preview instead of silently falling back to a default) and exports outputs.
package stackconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

// Reader reads the project's config namespace.
type Reader struct {
	ctx *pulumi.Context
	cfg *config.Config
	// lookup reads one key of the project's namespace; an error that is config.ErrMissingVar means unset,
	// any other error is returned to the caller. It is config.Config.Try outside tests, which inject a
	// failing one to prove that a read error is never mistaken for "unset, take the default".
	lookup func(key string) (string, error)
}

// New reads config of the current project.
func New(ctx *pulumi.Context) *Reader {
	cfg := config.New(ctx, "")
	return &Reader{ctx: ctx, cfg: cfg, lookup: cfg.Try}
}

// Object decodes the structured value at key into v when it is set; unknown fields are errors.
func (r *Reader) Object(key string, v any) error {
	raw, ok, err := r.raw(key)
	if !ok || err != nil {
		return err
	}
	return Decode(key, raw, v)
}

// String returns the value at key, or def when unset.
func (r *Reader) String(key, def string) (string, error) {
	raw, ok, err := r.raw(key)
	if err != nil {
		return "", err
	}
	if !ok {
		return def, nil
	}
	return raw, nil
}

// Secret returns the value at key as a Pulumi secret, and whether it was set. A value stored in plain text
// in the stack file is an error: it would sit readable in Pulumi.<stack>.yaml and in version control.
func (r *Reader) Secret(key string) (pulumi.StringOutput, bool, error) {
	raw, ok, err := r.SecretValue(key)
	if !ok || err != nil {
		return pulumi.StringOutput{}, ok, err
	}
	return pulumi.ToSecret(pulumi.String(raw)).(pulumi.StringOutput), true, nil
}

// SecretValue is Secret's value itself, for a program that derives other values from it; whatever it
// derives must be a Pulumi secret again, unless it is a one-way hash of it.
func (r *Reader) SecretValue(key string) (string, bool, error) {
	raw, ok, err := r.raw(key)
	if !ok || err != nil {
		return "", false, err
	}
	if full := r.ctx.Project() + ":" + key; !r.ctx.IsConfigSecret(full) {
		return "", true, fmt.Errorf("config %s: is stored in plain text; set it with `pulumi config set --secret %s`", key, key)
	}
	return raw, true, nil
}

// raw reads key: (value, true, nil) when set, ("", false, nil) when unset, and any other failure as an
// error naming the key, so a broken read fails the preview instead of silently taking the default.
func (r *Reader) raw(key string) (string, bool, error) {
	v, err := r.lookup(key)
	switch {
	case err == nil:
		return v, true, nil
	case errors.Is(err, config.ErrMissingVar):
		return "", false, nil
	default:
		return "", false, fmt.Errorf("config %s: cannot be read: %w", key, err)
	}
}

// Decode strictly decodes a JSON config value, naming the key in errors.
func Decode(key, raw string, v any) error {
	dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		msg := err.Error()
		if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
			return fmt.Errorf("config %s: unknown key %s; check the spelling against the README's config table", key, f)
		}
		return fmt.Errorf("config %s: %s", key, strings.TrimPrefix(msg, "json: "))
	}
	return nil
}

// configKeysKey is the pulumi.Context value that WithConfigKeys sets.
type configKeysKey struct{}

// WithConfigKeys gives CheckKeys the stack's config keys (fully qualified, as `pulumi config --json` lists
// them) when the program runs inline: the Automation API then runs it in the caller's process, where
// PULUMI_CONFIG is not the stack's.
func WithConfigKeys(ctx *pulumi.Context, keys []string) *pulumi.Context {
	return ctx.WithValue(configKeysKey{}, slices.Clone(keys))
}

// CheckKeys fails on a project config key the stack does not read (a typo such as createNamepace would
// otherwise fall back to a default silently). A pulumi.Context can read a key but not list them, so the
// keys come from WithConfigKeys, or else from PULUMI_CONFIG, the JSON of the whole config map that the Go
// language host sets for the program. The host leaves it unset only when the config is empty, so it may be
// missing only when none of the known keys is readable through the context either; any other mismatch
// between the two (missing or malformed variable, a key or value the context has and the list lacks) would
// switch the check off without a word, so it is an error. mocks.Run sets the variable the way the host does.
// With every key known, it then fails on the values that still hold Placeholder.
func (r *Reader) CheckKeys(known ...string) error {
	prefix := r.ctx.Project() + ":"
	var readable []string
	for _, key := range known {
		if _, ok := r.ctx.GetConfig(prefix + key); ok {
			readable = append(readable, key)
		}
	}
	var problems []error
	var keys []string
	if listed, ok := r.ctx.Value(configKeysKey{}).([]string); ok {
		keys = listed
		for _, key := range readable {
			if !slices.Contains(listed, prefix+key) {
				problems = append(problems, fmt.Errorf("config %s: the program reads it, yet the stack's key list lacks it (stale list), so the unknown-key check would be wrong", key))
			}
		}
	} else {
		env := os.Getenv(pulumi.EnvConfig)
		if env == "" {
			// The SDK's getEnvInfo treats an empty value as unset too.
			if len(readable) > 0 {
				return fmt.Errorf("config: %s is not set, yet the program has config (%s), so the unknown-key check cannot run; "+
					"run the program through the pulumi CLI, or in a test through mocks.Run, which sets %s like the Go language host",
					pulumi.EnvConfig, strings.Join(readable, ", "), pulumi.EnvConfig)
			}
			return nil
		}
		var all map[string]string
		if err := json.Unmarshal([]byte(env), &all); err != nil {
			return fmt.Errorf("config: %s is not the JSON object of config keys to values the language host passes (%v), so the unknown-key check cannot run; "+
				"unset it or set it to the stack's config, as mocks.Run does", pulumi.EnvConfig, err)
		}
		for _, key := range readable {
			v, _ := r.ctx.GetConfig(prefix + key)
			if got, ok := all[prefix+key]; !ok || got != v {
				// Values are not quoted: they may be secrets.
				problems = append(problems, fmt.Errorf("config %s: %s does not hold the value the program reads (stale or foreign environment), so the unknown-key check would be wrong; "+
					"unset %s or set it to the stack's config, as mocks.Run does", key, pulumi.EnvConfig, pulumi.EnvConfig))
			}
		}
		keys = slices.Collect(maps.Keys(all))
	}
	slices.Sort(keys)
	for _, full := range keys {
		if key, ours := strings.CutPrefix(full, prefix); ours && !slices.Contains(known, key) {
			problems = append(problems, fmt.Errorf("config %s: unknown key; a %s stack reads only %s", key,
				r.ctx.Stack(), strings.Join(known, ", ")))
		}
	}
	if err := errors.Join(problems...); err != nil {
		return err
	}
	return r.checkPlaceholders(readable)
}

// Placeholder marks a value of a committed stack file (Pulumi.global.yaml, Pulumi.site-example.yaml) that a
// team must replace with its own before anything deploys.
const Placeholder = "REPLACE"

// checkPlaceholders fails, before anything registers, on every value that still holds Placeholder, naming
// each one, so an unfilled production file never deploys a guessed value.
func (r *Reader) checkPlaceholders(keys []string) error {
	var unfilled []string
	for _, key := range keys {
		raw, _, err := r.raw(key)
		if err != nil {
			return err
		}
		var v any
		if json.Unmarshal([]byte(raw), &v) != nil || !isStructured(v) {
			v = raw
		}
		unfilled = append(unfilled, Placeholders(key, v)...)
	}
	problems := make([]error, len(unfilled))
	for i, key := range unfilled {
		problems[i] = fmt.Errorf("config %s: still holds the placeholder %s; set your own value (the stack file's comment and the README's config table say what it is)", key, Placeholder)
	}
	return errors.Join(problems...)
}

func isStructured(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

// Placeholders lists the paths under key (key.sub, key[0].sub) whose string values hold Placeholder.
func Placeholders(key string, v any) []string {
	var out []string
	switch v := v.(type) {
	case string:
		if strings.Contains(v, Placeholder) {
			out = append(out, key)
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			out = append(out, Placeholders(key+"."+k, v[k])...)
		}
	case []any:
		for i, item := range v {
			out = append(out, Placeholders(fmt.Sprintf("%s[%d]", key, i), item)...)
		}
	}
	return out
}

// ExportAll exports every value as a stack output, in key order so the program's registrations are stable.
func ExportAll(ctx *pulumi.Context, values map[string]pulumi.Input) {
	for _, k := range slices.Sorted(maps.Keys(values)) {
		ctx.Export(k, values[k])
	}
}
