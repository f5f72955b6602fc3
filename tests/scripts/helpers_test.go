// Package scripts_test runs the shell scripts in scripts/ against fake commands (pulumi, go, npm, kubectl,
// etcd) on PATH, in throwaway copies of the repository, so each bug they once had is shown without a
// network, a toolchain build or a cluster.
//
// NAUTOBOT_SCRIPTS_DIR points the tests at another copy of the scripts, e.g. an older commit's
// (`git archive HEAD~1 scripts | tar -x -C /tmp/old`), to see which of them it fails.
package scripts_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// repoRoot is the project root: this package lives in tests/scripts.
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Clean(filepath.Join(wd, "..", ".."))
	if _, err := os.Stat(filepath.Join(root, "scripts", "cluster.sh")); err != nil {
		t.Fatalf("cannot find the project root from %s: %v", wd, err)
	}
	return root
}

func scriptsDir(t *testing.T) string {
	if d := os.Getenv("NAUTOBOT_SCRIPTS_DIR"); d != "" {
		return d
	}
	return filepath.Join(repoRoot(t), "scripts")
}

// fakeRepo is a throwaway repository root holding a copy of scripts/ (the scripts find the repository from
// their own location, and some write into it: .tools/bin, tools/*/cmd) plus the given empty files.
func fakeRepo(t *testing.T, files ...string) string {
	t.Helper()
	root := t.TempDir()
	entries, err := os.ReadDir(scriptsDir(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(scriptsDir(t), e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(root, "scripts", e.Name()), string(b), 0o755)
	}
	for _, f := range files {
		writeFile(t, filepath.Join(root, f), "", 0o644)
	}
	return root
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	// WriteFile keeps the mode of a file that exists, and the umask applies to a new one.
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// fakeBin is a directory of fake commands, NAME -> bash script body, to put first on PATH.
func fakeBin(t *testing.T, commands map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range commands {
		writeFile(t, filepath.Join(dir, name), "#!/bin/bash\n"+body, 0o755)
	}
	return dir
}

// baseEnv is the environment every script runs with: none of the caller's (the Makefile exports
// PULUMI_HOME, a PATH with .tools/bin, ...), the fakes first on PATH, then the system's directories only.
func baseEnv(t *testing.T, fakes string, extra ...string) []string {
	return append([]string{
		"PATH=" + fakes + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + t.TempDir(),
		"LANG=C",
	}, extra...)
}

type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs a script with bash, as make does, and never fails the test itself.
func run(t *testing.T, env []string, script string, args ...string) result {
	t.Helper()
	return runShell(t, env, ":", script, args...)
}

// runShell is run with a shell prologue (e.g. `umask 077`) executed first.
func runShell(t *testing.T, env []string, prologue, script string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{"-c", prologue + `; exec bash "$0" "$@"`, script}, args...)...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %v timed out\nstderr:\n%s", script, args, stderr.String())
	}
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}
