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
}

// New reads config of the current project.
func New(ctx *pulumi.Context) *Reader { return &Reader{ctx: ctx, cfg: config.New(ctx, "")} }

// Object decodes the structured value at key into v when it is set; unknown fields are errors.
func (r *Reader) Object(key string, v any) error {
	raw, ok := r.raw(key)
	if !ok {
		return nil
	}
	return Decode(key, raw, v)
}

// String returns the value at key, or def when unset.
func (r *Reader) String(key, def string) string {
	if raw, ok := r.raw(key); ok {
		return raw
	}
	return def
}

// Secret returns the value at key as a Pulumi secret, and whether it was set. A value stored in plain text
// in the stack file is an error: it would sit readable in Pulumi.<stack>.yaml and in version control.
func (r *Reader) Secret(key string) (pulumi.StringOutput, bool, error) {
	if _, ok := r.raw(key); !ok {
		return pulumi.StringOutput{}, false, nil
	}
	if full := r.ctx.Project() + ":" + key; !r.ctx.IsConfigSecret(full) {
		return pulumi.StringOutput{}, true, fmt.Errorf("config %s: is stored in plain text; set it with `pulumi config set --secret %s`", key, key)
	}
	return r.cfg.GetSecret(key), true, nil
}

func (r *Reader) raw(key string) (string, bool) {
	v, err := r.cfg.Try(key)
	if err != nil {
		return "", false
	}
	return v, true
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

// CheckKeys fails on a project config key the stack does not read (a typo such as createNamepace would
// otherwise fall back to a default silently). The keys come from the config the language host passes the
// program in PULUMI_CONFIG; without it there is nothing to check.
func (r *Reader) CheckKeys(known ...string) error {
	var all map[string]string
	if err := json.Unmarshal([]byte(os.Getenv(pulumi.EnvConfig)), &all); err != nil {
		return nil
	}
	prefix := r.ctx.Project() + ":"
	var problems []error
	for _, full := range slices.Sorted(maps.Keys(all)) {
		if key, ours := strings.CutPrefix(full, prefix); ours && !slices.Contains(known, key) {
			problems = append(problems, fmt.Errorf("config %s: unknown key; a %s stack reads only %s", key,
				r.ctx.Stack(), strings.Join(known, ", ")))
		}
	}
	return errors.Join(problems...)
}

// ExportAll exports every value as a stack output, in key order so the program's registrations are stable.
func ExportAll(ctx *pulumi.Context, values map[string]pulumi.Input) {
	for _, k := range slices.Sorted(maps.Keys(values)) {
		ctx.Export(k, values[k])
	}
}
