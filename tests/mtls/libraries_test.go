package mtls

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// readmeTestedVersion matches a row of the README's client library table: `| <library> | <version> (...`.
var readmeTestedVersion = regexp.MustCompile("(?m)^\\| ([A-Za-z0-9 ()/-]+?) \\| ([0-9][0-9.]*) ")

// The README says which client library versions the tests run, beside the ones Nautobot 3.x pins. The
// worker tests load exactly these, and psycopg2 reaches PostgreSQL 17's libpq (direct TLS) only through
// LD_LIBRARY_PATH; an upgrade of a Debian package or of the npm PostgreSQL fails here until the README
// says so.
func TestClientLibrariesAreTheOnesTheREADMENames(t *testing.T) {
	python := "/usr/bin/python3"
	requireFile(t, python)
	lib := filepath.Join(filepath.Dir(pg17BinDir(t)), "lib")
	requireFile(t, filepath.Join(lib, "libpq.so.5"))
	cmd := exec.Command(python, "-c", `
import celery, kombu, redis, django, psycopg2, psycopg2.extensions, psycopg
from psycopg import pq
v = psycopg2.extensions.libpq_version()
print("celery", celery.__version__)
print("kombu", kombu.__version__)
print("redis (redis-py)", redis.__version__)
print("Django", django.get_version())
print("psycopg2 / psycopg2-binary", psycopg2.__version__.split()[0])
print("psycopg (3)", psycopg.__version__)
print("libpq", "%d.%d" % (v // 10000, v % 10000))
print("psycopg3 libpq", pq.version())
`)
	cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+lib)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	loaded := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		i := strings.LastIndex(line, " ")
		loaded[line[:i]] = line[i+1:]
	}
	require.Equal(t, "17", loaded["libpq"][:2], "psycopg2 must load PostgreSQL 17's libpq for sslnegotiation=direct")
	require.GreaterOrEqual(t, loaded["psycopg3 libpq"], "170000", "psycopg 3 loads the same libpq")

	readme, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	require.NoError(t, err)
	documented := map[string]string{}
	for _, m := range readmeTestedVersion.FindAllStringSubmatch(string(readme), -1) {
		documented[m[1]] = m[2]
	}
	for _, name := range []string{"celery", "kombu", "redis (redis-py)", "Django", "psycopg2 / psycopg2-binary", "psycopg (3)", "libpq"} {
		require.Contains(t, documented, name, "the README's client library table has no row for %s", name)
		require.True(t, strings.HasPrefix(loaded[name], documented[name]),
			"%s: the tests load %s, the README says %s", name, loaded[name], documented[name])
	}
}
