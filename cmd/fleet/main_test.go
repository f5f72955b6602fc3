package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestUsageErrorsStopBeforeAnyStackRuns: each refusal exits 2 with its reason, before a stack is touched
// (the project directory holds no stack config, so getting further would fail differently).
func TestUsageErrorsStopBeforeAnyStackRuns(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"Pulumi.yaml", "Pulumi.global.yaml", "Pulumi.site-dfw1.yaml", "Pulumi.site-example.yaml"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte("config: {}\n"), 0o644))
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no operation", nil, "usage: fleet preview|up|refresh|destroy"},
		{"unknown operation", []string{"deploy"}, "usage: fleet preview|up|refresh|destroy"},
		{"unknown flag", []string{"preview", "--site", "dfw1"}, "flag provided but not defined: -site"},
		{"stray argument", []string{"preview", "dfw1"}, `unexpected argument "dfw1"`},
		{"no parallelism", []string{"up", "--parallel", "0"}, "--parallel 0: run at least one stack at a time"},
		{"no-change check on destroy", []string{"destroy", "--expect-no-changes"}, "applies to preview and up, not destroy"},
		{"a site without a stack file", []string{"preview", "--sites", "dfw1,lon1"}, "--sites lon1: no Pulumi.site-lon1.yaml"},
		{"the template", []string{"preview", "--sites", "example"}, "never deployed"},
		{"nothing selected", []string{"preview", "--no-global", "--sites", ""}, "no stacks selected"},
		{"add-site without a name", []string{"add-site", "--egress-cidr", "10.40.0.0/16"}, "usage: fleet add-site NAME --egress-cidr CIDR"},
		{"add-site with a stray argument", []string{"add-site", "lon2", "lon3"}, `unexpected argument "lon3"`},
		{"add-site with an unknown flag", []string{"add-site", "lon2", "--cidr", "10.40.0.0/16"}, "flag provided but not defined: -cidr"},
		{"add-site refuses a name that is not a site name", []string{"add-site", "Lon2", "--egress-cidr", "10.40.0.0/16"},
			`fleet add-site: refused, nothing changed: NAME: "Lon2" is not a site name`},
		{"add-site refuses without the site's egress range", []string{"add-site", "lon2"}, "--egress-cidr: is required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			if len(args) > 0 {
				// The project directory goes right after the operation, before the case's own flags.
				args = append([]string{args[0], "-C", dir}, args[1:]...)
			}
			var stdout, stderr bytes.Buffer
			code := run(args, &stdout, &stderr)
			require.Equal(t, 2, code, "stderr: %s", stderr.String())
			require.Contains(t, stderr.String(), c.want)
			require.Empty(t, stdout.String())
		})
	}
}

// TestRelativeBackendPathsBecomeAbsolute: pulumi reads them from its own working directory, which is the
// program's or the preview sandbox's, not where the runner was started.
func TestRelativeBackendPathsBecomeAbsolute(t *testing.T) {
	wd, err := os.Getwd()
	require.NoError(t, err)
	t.Setenv("PULUMI_CONFIG_PASSPHRASE_FILE", "secrets/passphrase")
	t.Setenv("PULUMI_BACKEND_URL", "file://state")
	require.NoError(t, absoluteBackendPaths())
	require.Equal(t, filepath.Join(wd, "secrets", "passphrase"), os.Getenv("PULUMI_CONFIG_PASSPHRASE_FILE"))
	require.Equal(t, "file://"+filepath.Join(wd, "state"), os.Getenv("PULUMI_BACKEND_URL"))

	t.Setenv("PULUMI_BACKEND_URL", "s3://bucket/state")
	t.Setenv("PULUMI_CONFIG_PASSPHRASE_FILE", "/etc/fleet/passphrase")
	require.NoError(t, absoluteBackendPaths())
	require.Equal(t, "s3://bucket/state", os.Getenv("PULUMI_BACKEND_URL"))
	require.Equal(t, "/etc/fleet/passphrase", os.Getenv("PULUMI_CONFIG_PASSPHRASE_FILE"))
}
