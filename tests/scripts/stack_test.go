package scripts_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakePulumi answers like pulumi 3.x with a file backend: `stack ls --json` lists the stacks in
// $FAKE_STACKS (one short name a line) in pulumi's indented layout, then $FAKE_FILLER more; `stack init` of
// a stack that exists fails as the real one does. Every call is appended to $FAKE_LOG.
const fakePulumi = `
echo "$*" >>"$FAKE_LOG"
exists() { grep -qxF "$1" "$FAKE_STACKS"; }
case "$1 $2" in
"stack ls")
  [ -z "${FAKE_LS_FAIL:-}" ] || { echo "error: could not read the backend" >&2; exit 255; }
  prefix=${FAKE_QUALIFY:+organization/nautobot-worker/}
  names=()
  while IFS= read -r s; do names+=("$prefix$s"); done <"$FAKE_STACKS"
  for ((i = 0; i < ${FAKE_FILLER:-0}; i++)); do names+=("${prefix}filler-$i"); done
  out="["
  for n in "${names[@]}"; do
    out+=$'\n  {\n    "name": "'"$n"$'",\n    "current": false,\n    "lastUpdate": "2026-01-01T00:00:00.000Z",\n    "resourceCount": 42\n  },'
  done
  printf '%s\n]\n' "${out%,}"
  ;;
"stack init")
  name=${3##*/}
  exists "$name" && { echo "error: stack '$name' already exists" >&2; exit 255; }
  echo "$name" >>"$FAKE_STACKS"
  ;;
*)
  if [ "$2" = --stack ] && ! exists "$3"; then echo "error: no stack named '$3' found" >&2; exit 255; fi
  ;;
esac
`

type stackRun struct {
	t                *testing.T
	root, log, state string
	env              []string
}

func newStackRun(t *testing.T, existing []string, extraEnv ...string) *stackRun {
	dir := t.TempDir()
	s := &stackRun{t: t, root: fakeRepo(t), log: filepath.Join(dir, "calls"), state: filepath.Join(dir, "stacks")}
	writeFile(t, s.state, strings.Join(existing, "\n")+strings.Repeat("\n", min(len(existing), 1)), 0o644)
	s.env = baseEnv(t, fakeBin(t, map[string]string{"pulumi": fakePulumi}), append([]string{
		"FAKE_LOG=" + s.log, "FAKE_STACKS=" + s.state,
		"PULUMI_BACKEND_URL=file://" + filepath.Join(dir, "backend"),
	}, extraEnv...)...)
	return s
}

func (s *stackRun) run(args ...string) result {
	return run(s.t, s.env, filepath.Join(s.root, "scripts", "stack.sh"), args...)
}

// calls are the pulumi calls other than the listing.
func (s *stackRun) calls() []string {
	var out []string
	for _, l := range readLines(s.t, s.log) {
		if l != "stack ls --json" {
			out = append(out, l)
		}
	}
	return out
}

func TestStackScript(t *testing.T) {
	t.Parallel()
	// A fleet's listing is bigger than a pipe's buffer (64 KiB, ~500 stacks), so a reader that stops at the
	// first match makes pulumi die of SIGPIPE; under pipefail the old `pulumi stack ls | grep -q` then said
	// "no such stack" and `stack init` of an existing stack failed the run.
	const fleet = "FAKE_FILLER=3000"

	t.Run("an existing stack listed before thousands of others is updated, never created again", func(t *testing.T) {
		t.Parallel()
		s := newStackRun(t, []string{"global"}, fleet)
		for i := range 5 {
			if r := s.run("up", "global"); r.code != 0 {
				t.Fatalf("run %d: %s", i+1, r)
			}
		}
		want := slices.Repeat([]string{"up --stack global --yes --skip-preview --suppress-progress"}, 5)
		if got := s.calls(); !slices.Equal(got, want) {
			t.Fatalf("pulumi calls besides the listing:\n%s\nwant five updates and nothing else", strings.Join(got, "\n"))
		}
	})

	t.Run("a stack that is not listed is created, then updated", func(t *testing.T) {
		t.Parallel()
		s := newStackRun(t, []string{"global"}, fleet)
		if r := s.run("up", "site-new"); r.code != 0 {
			t.Fatal(r)
		}
		want := []string{
			"stack init organization/nautobot-worker/site-new --no-select",
			"up --stack site-new --yes --skip-preview --suppress-progress",
		}
		if got := s.calls(); !slices.Equal(got, want) {
			t.Fatalf("pulumi calls besides the listing:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("fully qualified names in the listing count as the stack", func(t *testing.T) {
		t.Parallel()
		s := newStackRun(t, []string{"site-dfw1"}, "FAKE_QUALIFY=1")
		if r := s.run("preview", "site-dfw1"); r.code != 0 {
			t.Fatal(r)
		}
		if got := s.calls(); !slices.Equal(got, []string{"preview --stack site-dfw1 --diff --suppress-progress"}) {
			t.Fatalf("pulumi calls besides the listing:\n%s", strings.Join(got, "\n"))
		}
	})

	t.Run("destroying a stack that does not exist creates nothing", func(t *testing.T) {
		t.Parallel()
		s := newStackRun(t, []string{"global"}, fleet)
		r := s.run("destroy", "site-gone")
		if r.code != 0 || !strings.Contains(r.stderr, "site-gone does not exist") {
			t.Fatal(r)
		}
		if got := s.calls(); len(got) != 0 {
			t.Fatalf("pulumi calls besides the listing:\n%s", strings.Join(got, "\n"))
		}
	})

	t.Run("a listing that fails stops the run instead of creating the stack", func(t *testing.T) {
		t.Parallel()
		s := newStackRun(t, []string{"global"}, "FAKE_LS_FAIL=1")
		r := s.run("up", "global")
		if r.code == 0 || !strings.Contains(r.stderr, "could not read the backend") {
			t.Fatalf("want a failure that shows pulumi's error; got %s", r)
		}
		if got := s.calls(); len(got) != 0 {
			t.Fatalf("pulumi calls besides the listing:\n%s", strings.Join(got, "\n"))
		}
	})
}
