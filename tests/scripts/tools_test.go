package scripts_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fakeGoForTools builds in a second what tools.sh asks for. An output that another build is writing at the
// same moment is logged as "overlap"; every build as "build NAME". The binaries it writes are fake pulumi
// CLIs that answer `version` and install the provider plugin into $PULUMI_HOME.
const fakeGoForTools = `
case "$1" in
version) echo "go version go1.26.0 linux/amd64" ;;
build)
  out=
  while [ $# -gt 0 ]; do [ "$1" = -o ] && { out=$2; shift; }; shift; done
  mkdir "$out.writing" 2>/dev/null || echo "overlap $out" >>"$FAKE_LOG"
  name=${out##*/}
  echo "build ${name%.tmp}" >>"$FAKE_LOG"
  sleep 1
  cat >"$out" <<'BIN'
#!/bin/bash
case "$1" in
version) echo v3.274.1 ;;
plugin) mkdir -p "$PULUMI_HOME/plugins/resource-$4-$5" && cp "$7" "$PULUMI_HOME/plugins/resource-$4-$5/pulumi-resource-$4" ;;
esac
BIN
  chmod 755 "$out"
  rmdir "$out.writing" 2>/dev/null || true
  ;;
list) echo "$FAKE_MODDIR" ;;
esac
`

var toolsRepoFiles = []string{
	"tools/pulumi-cli/go.mod", "tools/pulumi-cli/go.sum",
	"tools/language-go/go.mod", "tools/language-go/go.sum",
	"tools/kubernetes-provider/go.mod", "tools/kubernetes-provider/go.sum",
}

// Two checkouts (or two `make tools` at once) share ~/.cache/nautobot-worker-pulumi: without a lock both
// built the same binaries into the same `<stamp>/<binary>.tmp` files at once.
func TestToolsTwoCheckoutsBuildIntoTheSharedCacheOneAtATime(t *testing.T) {
	t.Parallel()
	modDir := t.TempDir()
	for _, f := range []string{"main.go", "generate.go", "schema.json", "terraform-mapping.json"} {
		writeFile(t, filepath.Join(modDir, "cmd", "pulumi-resource-kubernetes", f), "", 0o444)
	}
	log := filepath.Join(t.TempDir(), "builds")
	cache := t.TempDir()
	env := baseEnv(t, fakeBin(t, map[string]string{"go": fakeGoForTools}),
		"FAKE_LOG="+log, "FAKE_MODDIR="+modDir, "NAUTOBOT_TOOLS_CACHE="+cache)

	clones := []string{fakeRepo(t, toolsRepoFiles...), fakeRepo(t, toolsRepoFiles...)}
	results := make([]result, len(clones))
	var wg sync.WaitGroup
	for i, clone := range clones {
		wg.Go(func() { results[i] = run(t, env, filepath.Join(clone, "scripts", "tools.sh")) })
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 {
			t.Errorf("clone %d: %s", i+1, r)
		}
	}

	builds := readLines(t, log)
	slices.Sort(builds)
	want := []string{"build pulumi", "build pulumi-language-go", "build pulumi-resource-kubernetes"}
	if !slices.Equal(builds, want) {
		t.Errorf("builds into the shared cache:\n%s\nwant each binary built once, by one clone, the other reusing it",
			strings.Join(builds, "\n"))
	}
	for i, clone := range clones {
		for _, b := range []string{"pulumi", "pulumi-language-go", "pulumi-resource-kubernetes"} {
			if _, err := os.Stat(filepath.Join(clone, ".tools", "bin", b)); err != nil {
				t.Errorf("clone %d: %v", i+1, err)
			}
		}
		if _, err := os.Stat(filepath.Join(clone, ".tools", "pulumi-home", "plugins", "resource-kubernetes-v4.25.0", "pulumi-resource-kubernetes")); err != nil {
			t.Errorf("clone %d: provider not installed: %v", i+1, err)
		}
	}
}
