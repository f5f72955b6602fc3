package scripts_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// fakeKubectl is an API server whose CRDs are all established at once; each `apply` is logged as one line
// of tab-separated file names to $FAKE_LOG.
const fakeKubectl = `
case "$*" in
*--raw=/readyz*) ;;
*"get crd -o go-template"*) ;;
*"get crd --no-headers"*) echo "some.crd.io 2026-01-01" ;;
*" apply "*)
  files=() prev=
  for a in "$@"; do [ "$prev" = -f ] && files+=("$a"); prev=$a; done
  (IFS=$'\t'; echo "${files[*]}") >>"$FAKE_LOG"
  ;;
*) echo "fake kubectl: unexpected $*" >&2; exit 1 ;;
esac
`

// fakeGoForCluster prints $FAKE_GO_JSON for `go mod download -json`, and builds an executable for each
// package (-o DIR/) or the one -o names; the build in External Secrets' wrapper fails when
// $FAKE_FAIL_WRAPPER is set.
const fakeGoForCluster = `
case "$1" in
version) echo "go version go1.26.0 linux/amd64" ;;
mod) cat "$FAKE_GO_JSON" ;;
build)
  shift
  out= pkgs=()
  while [ $# -gt 0 ]; do
    case "$1" in -o) out=$2; shift ;; -ldflags | -overlay) shift ;; -*) ;; *) pkgs+=("$1") ;; esac
    shift
  done
  if [ -n "${FAKE_FAIL_WRAPPER:-}" ] && [ "${PWD##*/}" = wrapper ]; then echo "main.go:1: compile error" >&2; exit 1; fi
  if [ "${out%/}" != "$out" ]; then
    for p in "${pkgs[@]}"; do printf '#!/bin/sh\n' >"$out${p##*/}"; chmod 755 "$out${p##*/}"; done
  else
    printf '#!/bin/sh\n' >"$out" && chmod 755 "$out"
  fi
  ;;
*) echo "fake go: unexpected $*" >&2; exit 1 ;;
esac
`

// goModObject is one object of `go mod download -json`, tab-indented as the go command prints it, with
// the keys in the order given.
func goModObject(kv ...string) string {
	var b strings.Builder
	b.WriteString("{\n")
	for i := 0; i < len(kv); i += 2 {
		v, _ := json.Marshal(kv[i+1])
		b.WriteString("\t\"" + kv[i] + "\": " + string(v))
		if i+2 < len(kv) {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("}\n")
	return b.String()
}

type crdSource struct {
	module, version string
	globs           []string
}

// crdSources reads crd_sources from the cluster.sh under test, so the fakes follow it.
func crdSources(t *testing.T) []crdSource {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(scriptsDir(t), "cluster.sh"))
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)\ncrd_sources=\((.*?)\n\)`).FindSubmatch(b)
	if block == nil {
		t.Fatal("no crd_sources=( ... ) in cluster.sh")
	}
	var out []crdSource
	for _, m := range regexp.MustCompile(`"(\S+)@(\S+) ([^"]+)"`).FindAllSubmatch(block[1], -1) {
		out = append(out, crdSource{string(m[1]), string(m[2]), strings.Fields(string(m[3]))})
	}
	if len(out) == 0 {
		t.Fatal("crd_sources is empty")
	}
	return out
}

// The CRDs come from module directories that `go mod download -json` names. The script used to read that
// JSON with awk, by line and key order (Path, then Version, then Dir, values without spaces), and to
// expand the module dir unquoted.
func TestClusterCrdsFindsEachModuleDirFromTheJSON(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, cacheDir string
		object         func(mod crdSource, dir string) string
	}{
		{"keys in another order than today's go command prints them", "modcache",
			func(m crdSource, dir string) string {
				return goModObject("Dir", dir, "Sum", "h1:x=", "Version", m.version, "Path", m.module)
			}},
		{"a module cache under a path with a space", "go mod cache",
			func(m crdSource, dir string) string {
				return goModObject("Path", m.module, "Version", m.version, "Info", dir+".info", "Dir", dir, "Sum", "h1:x=")
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tmp := t.TempDir()
			var stream strings.Builder
			var want []string
			for _, src := range crdSources(t) {
				dir := filepath.Join(tmp, c.cacheDir, src.module+"@"+src.version)
				var files []string
				for _, glob := range src.globs {
					for _, name := range []string{"x-a", "x-b"} {
						f := filepath.Join(dir, strings.ReplaceAll(glob, "*", name))
						writeFile(t, f, "", 0o644)
						files = append(files, f)
					}
					writeFile(t, filepath.Join(dir, filepath.Dir(glob), "not-a-crd.txt"), "", 0o644)
				}
				want = append(want, strings.Join(slices.Compact(files), "\t"))
				stream.WriteString(c.object(src, dir))
			}
			writeFile(t, filepath.Join(tmp, "download.json"), stream.String(), 0o644)
			cluster := filepath.Join(tmp, "cluster")
			writeFile(t, filepath.Join(cluster, "kubeconfig"), "fake", 0o600)
			if err := os.MkdirAll(filepath.Join(cluster, "logs"), 0o755); err != nil {
				t.Fatal(err)
			}
			log := filepath.Join(tmp, "applied")
			env := baseEnv(t, fakeBin(t, map[string]string{"kubectl": fakeKubectl, "go": fakeGoForCluster}),
				"CLUSTER_DIR="+cluster, "FAKE_LOG="+log, "FAKE_GO_JSON="+filepath.Join(tmp, "download.json"))

			r := run(t, env, filepath.Join(fakeRepo(t), "scripts", "cluster.sh"), "crds")
			if r.code != 0 {
				t.Fatal(r)
			}
			got := readLines(t, log)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("applied (one line per apply):\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// `crds` resolved the state dir with a bare `cd`, so a missing one ended in bash's own cd error.
func TestClusterCrdsWithoutAClusterSaysSo(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "no-cluster")
	env := baseEnv(t, fakeBin(t, map[string]string{"kubectl": fakeKubectl}), "CLUSTER_DIR="+missing)
	r := run(t, env, filepath.Join(fakeRepo(t), "scripts", "cluster.sh"), "crds")
	if r.code == 0 || !strings.Contains(r.stderr, "cluster: error: no cluster in "+missing) || strings.Contains(r.stderr, "cd:") {
		t.Fatalf("want cluster.sh's own error naming %s; got %s", missing, r)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Fatalf("%s was created", missing)
	}
}

var clusterRepoFiles = []string{
	"tools/kube/go.mod", "tools/kube/go.sum",
	"tools/external-secrets/go.mod", "tools/external-secrets/go.sum", "tools/external-secrets/main.go",
	"tools/external-secrets/overlay/provider_register.go", "tools/external-secrets/overlay/generator_register.go",
	"tools/envoy-gateway/go.mod", "tools/envoy-gateway/go.sum", "tools/envoy-gateway/tools.go",
}

// `cluster.sh binaries` with every build faked: kube-apiserver and kube-controller-manager, a prebuilt
// cert-manager controller, Envoy Gateway and egctl, and External Secrets from the module dir `go mod download
// -json` names.
func clusterBinaries(t *testing.T, esoObject func(dir string) string, extraEnv ...string) (string, result) {
	t.Helper()
	tmp := t.TempDir()
	eso := filepath.Join(tmp, "go mod cache", "github.com", "external-secrets", "external-secrets@v0.20.4")
	for _, f := range []string{"go.mod", "pkg/provider/register/register.go", "pkg/generator/register/register.go"} {
		writeFile(t, filepath.Join(eso, f), "", 0o444)
	}
	writeFile(t, filepath.Join(tmp, "download.json"), esoObject(eso), 0o644)
	certManager := filepath.Join(tmp, "cert-manager-controller")
	writeFile(t, certManager, "#!/bin/sh\n", 0o755)
	envoyGateway, egctl := filepath.Join(tmp, "envoy-gateway"), filepath.Join(tmp, "egctl")
	writeFile(t, envoyGateway, "#!/bin/sh\n", 0o755)
	writeFile(t, egctl, "#!/bin/sh\n", 0o755)
	root := fakeRepo(t, clusterRepoFiles...)
	env := baseEnv(t, fakeBin(t, map[string]string{"kubectl": fakeKubectl, "go": fakeGoForCluster, "etcd": ""}),
		append([]string{
			"FAKE_GO_JSON=" + filepath.Join(tmp, "download.json"), "FAKE_LOG=" + filepath.Join(tmp, "kubectl"),
			"NAUTOBOT_TOOLS_CACHE=" + filepath.Join(tmp, "cache"), "NAUTOBOT_CERT_MANAGER_CONTROLLER=" + certManager,
			"NAUTOBOT_ENVOY_GATEWAY_CONTROLLER=" + envoyGateway, "NAUTOBOT_EGCTL=" + egctl,
		}, extraEnv...)...)
	return root, run(t, env, filepath.Join(root, "scripts", "cluster.sh"), "binaries")
}

func TestClusterBinaries(t *testing.T) {
	t.Parallel()
	// The old sed wanted `"Dir": "…",` on a line of its own, followed by another key.
	t.Run("External Secrets' module dir is found when Dir is the last key, under a path with a space", func(t *testing.T) {
		t.Parallel()
		root, r := clusterBinaries(t, func(dir string) string {
			return goModObject("Path", "github.com/external-secrets/external-secrets", "Version", "v0.20.4", "Dir", dir)
		})
		if r.code != 0 {
			t.Fatal(r)
		}
		for _, b := range []string{"kube-apiserver", "kube-controller-manager", "cert-manager-controller", "external-secrets", "envoy-gateway", "egctl"} {
			if fi, err := os.Stat(filepath.Join(root, ".tools", "bin", b)); err != nil || fi.Mode()&0o111 == 0 {
				t.Errorf(".tools/bin/%s is not an executable: %v", b, err)
			}
		}
	})

	// timed runs a build function under `||`, where bash ignores errexit: the function went on past the
	// failed `go build` and returned its last command's status (rm's), so the build "succeeded".
	t.Run("a failed External Secrets build fails the command", func(t *testing.T) {
		t.Parallel()
		_, r := clusterBinaries(t, func(dir string) string {
			return goModObject("Path", "github.com/external-secrets/external-secrets", "Version", "v0.20.4",
				"Dir", dir, "Sum", "h1:x=")
		}, "FAKE_FAIL_WRAPPER=1")
		if r.code == 0 || !strings.Contains(r.stderr, "building external-secrets-v0.20.4 failed") ||
			!strings.Contains(r.stderr, "compile error") {
			t.Fatalf("want a failure with the build's log; got %s", r)
		}
	})
}
