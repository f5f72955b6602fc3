package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUsageErrors(t *testing.T) {
	notJSON := filepath.Join(t.TempDir(), "outputs.json")
	require.NoError(t, os.WriteFile(notJSON, []byte("namespace: nautobot\n"), 0o600))
	cases := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"no command", nil, "usage: doctor global|site|connect"},
		{"unknown command", []string{"fix"}, "usage: doctor global|site|connect"},
		{"connect without hosts", []string{"connect", "--cert-dir", "."}, "doctor connect: --db-host and --redis-host required"},
		{"connect without the Redis host", []string{"connect", "--db-host", "db.example.com"}, "doctor connect: --redis-host required"},
		{"a flag of another command", []string{"global", "--db-host", "x"}, "flag provided but not defined: -db-host"},
		{"an extra argument", []string{"site", "nautobot"}, `doctor: unexpected argument "nautobot"`},
		{"an sslmode no worker uses", []string{"connect", "--db-host", "db.example.com", "--redis-host", "redis.example.com", "--db-sslmode", "require"},
			`doctor connect: --db-sslmode "require": use verify-full or verify-ca`},
		{"outputs that are not JSON", []string{"global", "--outputs", notJSON}, "not the JSON of `pulumi stack output --json`"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			require.Equal(t, 2, run(tc.args, &stdout, &stderr))
			require.Contains(t, stderr.String(), tc.stderr)
			require.Empty(t, stdout.String())
		})
	}
}
