package fleet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/stretchr/testify/require"
)

func touch(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte("config: {}\n"), 0o644))
	}
}

func TestDiscoverIsGlobalThenSitesWithoutTheTemplate(t *testing.T) {
	dir := t.TempDir()
	touch(t, dir, "Pulumi.yaml", "Pulumi.site-iad1.yaml", "Pulumi.global.yaml", "Pulumi.site-example.yaml",
		"Pulumi.site-dfw1.yaml", "Pulumi.it-global-1.yaml", "Pulumi.bench-1-base.yaml")
	stacks, err := Discover(dir)
	require.NoError(t, err)
	require.Equal(t, []string{"global", "site-dfw1", "site-iad1"}, stacks)
}

func TestSelect(t *testing.T) {
	all := []string{"global", "site-dfw1", "site-iad1"}
	for _, c := range []struct {
		name       string
		sites      []string
		withGlobal bool
		want       []string
		err        string
	}{
		{name: "everything", withGlobal: true, want: all},
		{name: "sites only", want: []string{"site-dfw1", "site-iad1"}},
		{name: "one site, prefix optional", sites: []string{"site-iad1"}, withGlobal: true, want: []string{"global", "site-iad1"}},
		{name: "named sites in the order given", sites: []string{"iad1", "dfw1"}, want: []string{"site-iad1", "site-dfw1"}},
		{name: "the global stack alone", sites: []string{}, withGlobal: true, want: []string{"global"}},
		{name: "a site named twice runs once", sites: []string{"dfw1", "site-dfw1", "iad1", "dfw1"}, want: []string{"site-dfw1", "site-iad1"}},
		{name: "a typo is an error, not an empty run", sites: []string{"dfw2"}, err: "--sites dfw2: no Pulumi.site-dfw2.yaml"},
		{name: "the template is never deployed", sites: []string{"example"}, err: "template site-example is never deployed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Select(all, c.sites, c.withGlobal)
			if c.err != "" {
				require.ErrorContains(t, err, c.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
	_, err := Select([]string{"site-dfw1"}, nil, true)
	require.ErrorContains(t, err, "no Pulumi.global.yaml")
}

func TestParseSites(t *testing.T) {
	require.Nil(t, ParseSites("", false), "no --sites: every site")
	require.Equal(t, []string{}, ParseSites("", true), "--sites '': no site")
	require.Equal(t, []string{"dfw1", "iad1"}, ParseSites(" dfw1,,iad1 ", true))
}

func TestLocks(t *testing.T) {
	boot := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	at := boot.Add(time.Hour)
	started := map[int]time.Time{100: at.Add(-time.Second), 300: at.Add(10 * time.Minute)}
	host := Host{Name: "ci-runner-1", Boot: boot,
		Alive:   func(pid int) bool { _, ok := started[pid]; return ok },
		Started: func(pid int) (time.Time, bool) { t, ok := started[pid]; return t, ok }}
	dead := Lock{Pid: 200, Username: "root", Hostname: host.Name, Timestamp: at}
	running := Lock{Pid: 100, Username: "root", Hostname: host.Name, Timestamp: at}
	reused := Lock{Pid: 300, Username: "root", Hostname: host.Name, Timestamp: at}
	beforeBoot := Lock{Pid: 100, Username: "root", Hostname: host.Name, Timestamp: boot.Add(-time.Minute)}
	elsewhere := Lock{Pid: 200, Username: "ci", Hostname: "other-host", Timestamp: at}
	for _, c := range []struct {
		name      string
		locks     []Lock
		recover   bool
		wantStale []Lock
		err       string
	}{
		{name: "no lock"},
		{name: "a run in progress", locks: []Lock{running}, recover: true, err: "locked by a run that may still be going: root@ci-runner-1 (pid 100)"},
		{name: "another host's lock is never cleared", locks: []Lock{elsewhere}, recover: true, err: "ci@other-host (pid 200)"},
		{name: "a killed run, without --recover", locks: []Lock{dead}, err: "no longer running (a killed or cancelled run); `go run ./cmd/fleet up --recover`"},
		{name: "a killed run, with --recover", locks: []Lock{dead}, recover: true, wantStale: []Lock{dead}},
		{name: "its pid now belongs to a process that started later", locks: []Lock{reused}, recover: true, wantStale: []Lock{reused}},
		{name: "taken before this machine booted, its pid running again", locks: []Lock{beforeBoot}, recover: true, wantStale: []Lock{beforeBoot}},
		{name: "a killed run beside a live one", locks: []Lock{dead, running}, recover: true, err: "may still be going"},
	} {
		t.Run(c.name, func(t *testing.T) {
			stale, err := lockProblem("up", "site-dfw1", c.locks, host, c.recover)
			if c.err != "" {
				require.ErrorContains(t, err, c.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.wantStale, stale)
		})
	}
}

// TestThisHostJudgesProcessesByPidAndStartTime: this process's own lock, taken now, is live; a lock with
// its pid but taken before it started is another process's, reused pid; a lock from before the boot is
// stale whatever its pid.
func TestThisHostJudgesProcessesByPidAndStartTime(t *testing.T) {
	host, err := ThisHost()
	require.NoError(t, err)
	require.False(t, host.Boot.IsZero(), "/proc/stat btime")
	start, ok := host.Started(os.Getpid())
	require.True(t, ok)
	require.True(t, start.After(host.Boot) && !start.After(time.Now()), "started %s, booted %s", start, host.Boot)
	self := Lock{Pid: os.Getpid(), Hostname: host.Name, Timestamp: time.Now()}
	require.False(t, self.Stale(host))
	earlier := self
	earlier.Timestamp = start.Add(-2 * pidReuseSlack)
	require.True(t, earlier.Stale(host), "a lock older than the process with its pid")
	beforeBoot := self
	beforeBoot.Timestamp = host.Boot.Add(-time.Second)
	require.True(t, beforeBoot.Stale(host))
}

// TestOnlyTheLocksJudgedStaleAreRemoved: a lock that another run rewrote after the judgement stays.
func TestOnlyTheLocksJudgedStaleAreRemoved(t *testing.T) {
	dir := t.TempDir()
	lockDir := filepath.Join(dir, ".pulumi", "locks", "organization", "nautobot-worker", "site-dfw1")
	require.NoError(t, os.MkdirAll(lockDir, 0o755))
	write := func(name string, pid int) {
		content := fmt.Sprintf(`{"pid": %d, "username": "root", "hostname": "vm", "timestamp": "2026-12-01T10:00:00Z"}`, pid)
		require.NoError(t, os.WriteFile(filepath.Join(lockDir, name), []byte(content), 0o644))
	}
	write("a.json", 4242)
	write("b.json", 4343)
	locks, err := Locks(dir, "organization/nautobot-worker/site-dfw1")
	require.NoError(t, err)
	require.Len(t, locks, 2)
	write("b.json", os.Getpid()) // a new run took the lock with the same name meanwhile
	require.ErrorContains(t, removeStale(locks), "changed while it was judged stale")
	require.NoFileExists(t, filepath.Join(lockDir, "a.json"))
	require.FileExists(t, filepath.Join(lockDir, "b.json"))
	require.NoError(t, removeStale(locks[:1]), "a lock already gone is no error")
}

// TestALeaseIsOneRunsAtATime: a second lease on the stack is refused, naming the holder, until the first
// is released; a process that held it and was killed holds it no more.
func TestALeaseIsOneRunsAtATime(t *testing.T) {
	dir := t.TempDir()
	stack := "organization/nautobot-worker/site-dfw1"
	first, err := takeLease(dir, stack)
	require.NoError(t, err)
	_, err = takeLease(dir, stack)
	require.ErrorContains(t, err, fmt.Sprintf("another fleet run is working on this stack (pid %d on ", os.Getpid()))
	other, err := takeLease(dir, "organization/nautobot-worker/site-iad1")
	require.NoError(t, err, "another stack's lease is its own")
	other.Release()
	first.Release()
	again, err := takeLease(dir, stack)
	require.NoError(t, err)
	again.Release()

	// flock(1) from util-linux holds the lease file in another process (sleep, which it becomes) until that
	// is killed.
	holder := exec.Command("flock", "--exclusive", "--no-fork", leasePath(dir, stack), "sleep", "600")
	require.NoError(t, holder.Start())
	require.Eventually(t, func() bool {
		l, err := takeLease(dir, stack)
		l.Release()
		return err != nil
	}, 10*time.Second, 10*time.Millisecond, "the other process holds the lease")
	require.NoError(t, holder.Process.Kill())
	_ = holder.Wait()
	l, err := takeLease(dir, stack)
	require.NoError(t, err, "a killed holder's lease is free")
	l.Release()
}

// TestUnreadableAttributeFilesAreNamedThenRemoved: the attribute file a kill left empty makes every read of
// its blob fail; without --recover it is named with the fix, with --recover removed, and whole ones stay.
func TestUnreadableAttributeFilesAreNamedThenRemoved(t *testing.T) {
	dir := t.TempDir()
	stacks := filepath.Join(dir, ".pulumi", "stacks", "nautobot-worker")
	require.NoError(t, os.MkdirAll(stacks, 0o755))
	broken := filepath.Join(stacks, "site-dfw1.json.attrs")
	whole := filepath.Join(stacks, "site-iad1.json.attrs")
	require.NoError(t, os.WriteFile(broken, nil, 0o644))
	require.NoError(t, os.WriteFile(whole, []byte(`{"user.cache_control":"","md5":"AA=="}`+"\n"), 0o644))
	_, err := repairAttributes(dir, "nautobot-worker", false)
	require.ErrorContains(t, err, "1 unreadable attribute file(s) a killed run left: "+broken+"; `--recover` removes them")
	require.FileExists(t, broken)
	removed, err := repairAttributes(dir, "nautobot-worker", true)
	require.NoError(t, err)
	require.Equal(t, []string{broken}, removed)
	require.NoFileExists(t, broken)
	require.FileExists(t, whole)
	removed, err = repairAttributes(t.TempDir(), "nautobot-worker", false)
	require.NoError(t, err, "a backend without .pulumi yet")
	require.Empty(t, removed)
}

func TestAKubeconfigDirNeedsEveryStacksFile(t *testing.T) {
	dir := t.TempDir()
	touch(t, dir, "global")
	got, err := kubeconfigFor(dir, "global")
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "global"), got)
	_, err = kubeconfigFor(dir, "site-dfw1")
	require.ErrorContains(t, err, "--kubeconfig-dir: no kubeconfig "+filepath.Join(dir, "site-dfw1")+" for stack site-dfw1")
	got, err = kubeconfigFor("", "site-dfw1")
	require.NoError(t, err)
	require.Empty(t, got, "without --kubeconfig-dir the stack's own config decides")
}

// TestInterruptIsGracefulThenAbrupt: the first trigger asks for a graceful stop, the second for an abrupt
// one; more change nothing.
func TestInterruptIsGracefulThenAbrupt(t *testing.T) {
	i := NewInterrupt()
	require.False(t, i.Requested())
	i.Trigger()
	require.True(t, i.Requested())
	select {
	case <-i.abort:
		t.Fatal("one interrupt is graceful")
	default:
	}
	i.Trigger()
	<-i.abort
	require.False(t, i.killed(), "two interrupts ask pulumi to stop at once")
	i.Trigger()
	i.Trigger()
	require.True(t, i.killed(), "the third kills")
	require.False(t, (*Interrupt)(nil).Requested())
	require.Equal(t, "up", subcommand([]string{"--non-interactive", "up", "--yes"}))
	require.Equal(t, "stack", subcommand([]string{"stack", "output", "--json"}), "a read: it runs after an interrupt")
}

// TestAProviderStateThatDeletesUnreachableIsFound: what a stack deployed before deleteUnreachable was off
// holds, as the provider's inputs in the state spell it.
func TestAProviderStateThatDeletesUnreachableIsFound(t *testing.T) {
	for _, c := range []struct {
		inputs map[string]any
		want   bool
	}{
		{map[string]any{"deleteUnreachable": "true", "clusterIdentifier": "x"}, true},
		{map[string]any{"deleteUnreachable": true}, true},
		{map[string]any{"deleteUnreachable": "false"}, false},
		{map[string]any{"clusterIdentifier": "x"}, false},
	} {
		deployment, err := json.Marshal(map[string]any{"resources": []any{
			map[string]any{"type": "kubernetes:core/v1:Namespace", "inputs": map[string]any{"deleteUnreachable": "true"}},
			map[string]any{"type": "pulumi:providers:kubernetes", "inputs": c.inputs},
		}})
		require.NoError(t, err)
		got, err := providerDeletesUnreachable(deployment)
		require.NoError(t, err)
		require.Equal(t, c.want, got, "%v", c.inputs)
	}
}

func TestLocksAreReadFromTheFileBackendLayout(t *testing.T) {
	dir := t.TempDir()
	lockDir := filepath.Join(dir, ".pulumi", "locks", "organization", "nautobot-worker", "site-dfw1")
	require.NoError(t, os.MkdirAll(lockDir, 0o755))
	content := `{"pid": 4242, "username": "root", "hostname": "vm", "timestamp": "2026-12-01T10:00:00Z"}`
	require.NoError(t, os.WriteFile(filepath.Join(lockDir, "1b2c.json"), []byte(content), 0o644))
	locks, err := Locks(dir, "organization/nautobot-worker/site-dfw1")
	require.NoError(t, err)
	require.Len(t, locks, 1)
	require.Equal(t, 4242, locks[0].Pid)
	require.Equal(t, "vm", locks[0].Hostname)
	none, err := Locks(dir, "organization/nautobot-worker/site-iad1")
	require.NoError(t, err)
	require.Empty(t, none)

	got, err := fileBackendDir("file://" + dir)
	require.NoError(t, err)
	require.Equal(t, dir, got)
	got, err = fileBackendDir("s3://bucket/state")
	require.NoError(t, err)
	require.Empty(t, got, "only a file backend's locks are read here")
}

func TestPidAliveSeesThisProcessAndNotAFinishedOne(t *testing.T) {
	require.True(t, pidAlive(os.Getpid()))
	require.False(t, pidAlive(0))
	require.False(t, pidAlive(1<<22+1), "above pid_max: no such process")

	// A child that ended and was not reaped yet is a zombie: its pid answers signal 0, yet it runs no more.
	child := exec.Command("sleep", "0.2")
	require.NoError(t, child.Start())
	pid := child.Process.Pid
	require.True(t, pidAlive(pid), "running")
	require.Eventually(t, func() bool { return zombie(pid) }, 5*time.Second, 20*time.Millisecond)
	require.NoError(t, syscall.Kill(pid, 0), "a zombie still answers signal 0")
	require.False(t, pidAlive(pid), "ended, not yet reaped")
	require.NoError(t, child.Wait())
}

func TestPendingCreatesImportKubernetesObjectsByName(t *testing.T) {
	deployment, err := json.Marshal(map[string]any{"pending_operations": []any{
		map[string]any{"type": "creating", "resource": map[string]any{
			"urn": "urn:a", "type": "kubernetes:core/v1:Secret",
			"inputs": map[string]any{"metadata": map[string]any{"name": "nautobot-db", "namespace": "nautobot-dfw1"}}}},
		map[string]any{"type": "creating", "resource": map[string]any{
			"urn": "urn:b", "type": "kubernetes:core/v1:Namespace",
			"inputs": map[string]any{"metadata": map[string]any{"name": "nautobot-dfw1"}}}},
		map[string]any{"type": "creating", "resource": map[string]any{
			"urn": "urn:c", "type": "tls:index/privateKey:PrivateKey", "inputs": map[string]any{}}},
		map[string]any{"type": "updating", "resource": map[string]any{
			"urn": "urn:d", "type": "kubernetes:core/v1:ConfigMap",
			"inputs": map[string]any{"metadata": map[string]any{"name": "cluster-data", "namespace": "nautobot-dfw1"}}}},
		map[string]any{"type": "creating", "resource": map[string]any{
			"urn": "urn:e", "type": "kubernetes:core/v1:Secret", "inputs": map[string]any{"metadata": map[string]any{}}}},
	}})
	require.NoError(t, err)
	creates, others, err := pendingCreates(deployment)
	require.NoError(t, err)
	require.Equal(t, []optrefresh.PendingCreate{{URN: "urn:a", ID: "nautobot-dfw1/nautobot-db"}, {URN: "urn:b", ID: "nautobot-dfw1"}}, creates)
	require.Equal(t, 3, others, "a non-Kubernetes create, an update, and an object without a name are cleared instead")
}

func TestChangesFoldReplacementSteps(t *testing.T) {
	got := previewChanges(map[apitype.OpType]int{"create": 2, "same": 40, "replace": 1, "create-replacement": 1, "delete-replaced": 1, "update": 3})
	require.Equal(t, map[string]int{"create": 2, "same": 40, "replace": 1, "update": 3}, got)
	up := map[string]int{"delete": 4, "same": 2}
	require.Equal(t, map[string]int{"delete": 4, "same": 2}, updateChanges(auto.UpdateSummary{ResourceChanges: &up}))
	require.Equal(t, map[string]int{}, updateChanges(auto.UpdateSummary{}))
}

func sampleResults() []Result {
	return []Result{
		{Stack: "global", Changes: map[string]int{"same": 47}, Duration: 9 * time.Second},
		{Stack: "site-dfw1", Changes: map[string]int{"create": 2, "update": 1, "same": 15}, Duration: 4200 * time.Millisecond},
		{Stack: "site-iad1", Err: errors.New("preview | exit status 255\nerror: config nautobot-worker:site.name: required"), Duration: time.Second},
		{Stack: "site-lon1", Skipped: "the global stack failed"},
	}
}

func TestSummaryTable(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, WriteTable(&out, "preview", sampleResults()))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 6)
	require.Equal(t, []string{"STACK", "CREATE", "UPDATE", "REPLACE", "DELETE", "SAME", "DURATION", "RESULT"}, strings.Fields(lines[0]))
	require.Equal(t, []string{"global", "0", "0", "0", "0", "47", "9s", "ok"}, strings.Fields(lines[1]))
	require.Equal(t, []string{"site-dfw1", "2", "1", "0", "0", "15", "4.2s", "ok"}, strings.Fields(lines[2]))
	require.Contains(t, lines[3], "failed: preview | exit status 255 …")
	require.Contains(t, lines[4], "skipped: the global stack failed")
	require.Equal(t, "fleet preview: 4 stack(s), 1 failed", lines[5])
	require.True(t, Failed(sampleResults()))
	require.False(t, Failed(sampleResults()[:2]))
	require.False(t, Failed([]Result{{Stack: "site-old", Skipped: "no such stack"}}), "destroying a stack that never existed is no failure")

	waiting := []Result{{Stack: "site-new", Changes: map[string]int{"create": 9}, Note: "waits for global: not listed yet"}}
	out.Reset()
	require.NoError(t, WriteTable(&out, "preview", waiting))
	require.Contains(t, out.String(), "ok, waits for global: not listed yet")
	require.False(t, Failed(waiting), "a new site's preview that waits for global is no failure")
}

func TestSummaryMarkdown(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, WriteMarkdown(&out, "preview", sampleResults(), 0))
	md := out.String()
	require.Contains(t, md, "### fleet preview: 4 stack(s), 1 failed\n")
	require.Contains(t, md, "| stack | create | update | replace | delete | same | duration | result |\n|---|---:|---:|---:|---:|---:|---|---|\n")
	require.Contains(t, md, "| `site-dfw1` | 2 | 1 | 0 | 0 | 15 | 4.2s | ok |\n")
	require.Contains(t, md, "| `site-lon1` | - | - | - | - | - | 0s | skipped&#58; the global stack failed |\n")
	require.Contains(t, md, "| `site-iad1` | - | - | - | - | - | 1s | failed&#58; preview &#124; exit status 255 … |\n", "a pipe in an error would split the row")
	require.Contains(t, md, "<details><summary><code>site-iad1</code>: failed</summary>\n\n<pre>\npreview | exit status 255\nerror: config nautobot-worker:site.name: required\n</pre>\n")
}

func TestPrefixWriterInterleavesWholeLines(t *testing.T) {
	var out bytes.Buffer
	a, b := newPrefixWriter(&out, "global"), newPrefixWriter(&out, "site-dfw1")
	_, _ = a.Write([]byte("Previewing update (glo"))
	_, _ = b.Write([]byte("one\ntwo\nthr"))
	_, _ = a.Write([]byte("bal):\n"))
	b.Flush()
	require.Equal(t, "[site-dfw1] one\n[site-dfw1] two\n[global] Previewing update (global):\n[site-dfw1] thr\n", out.String())
}

// TestDeleteUnreachableComesFromTheStackFile: a site's file may set it (retiring a site whose cluster is
// gone), the global stack's may not, and nothing else turns it on.
func TestDeleteUnreachableComesFromTheStackFile(t *testing.T) {
	dir := t.TempDir()
	write := func(stack, text string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "Pulumi."+stack+".yaml"), []byte(text), 0o644))
	}
	write("site-old", "config:\n  nautobot-worker:kubernetes:\n    kubeconfig: gone.yaml\n    deleteUnreachable: true\n")
	write("site-dfw1", "config:\n  nautobot-worker:kubernetes:\n    kubeconfig: k.yaml\n")
	write("site-bare", "config:\n  kubernetes:\n    deleteUnreachable: true\n")
	write("global", "config:\n  nautobot-worker:kubernetes:\n    deleteUnreachable: true\n")
	t.Setenv("PULUMI_K8S_DELETE_UNREACHABLE", "true")
	r := runner{Options: Options{Root: dir}, project: "nautobot-worker"}
	for stack, want := range map[string]bool{"site-old": true, "site-dfw1": false, "site-bare": true} {
		got, err := r.deleteUnreachable(stack)
		require.NoError(t, err)
		require.Equal(t, want, got, stack)
	}
	_, err := r.deleteUnreachable("global")
	require.ErrorContains(t, err, "kubernetes.deleteUnreachable is refused on the global stack")
	r.ConfigFiles = map[string]string{"site-dfw1": filepath.Join(dir, "Pulumi.site-old.yaml")}
	got, err := r.deleteUnreachable("site-dfw1")
	require.NoError(t, err)
	require.True(t, got, "an edited copy of the file is read instead")
}

// TestObjectsUnderAnotherFieldManagerAreCounted: what a stack deployed before the stable field manager
// records (a random manager per object) is counted; the stack's own manager and other resources are not.
func TestObjectsUnderAnotherFieldManagerAreCounted(t *testing.T) {
	deployment, err := json.Marshal(map[string]any{"resources": []any{
		map[string]any{"type": "kubernetes:core/v1:Secret", "outputs": map[string]any{"__fieldManager": "pulumi-kubernetes-1e585c21"}},
		map[string]any{"type": "kubernetes:apps/v1:Deployment", "outputs": map[string]any{"__fieldManager": "pulumi-nautobot-worker-site-dfw1"}},
		map[string]any{"type": "kubernetes:external-secrets.io/v1:ExternalSecret", "outputs": map[string]any{"__fieldManager": "pulumi-kubernetes-22714b98"}},
		map[string]any{"type": "pulumi:providers:kubernetes", "outputs": map[string]any{}},
		map[string]any{"type": "kubernetes:helm.sh/v4:Chart", "outputs": map[string]any{}},
	}})
	require.NoError(t, err)
	n, err := otherFieldManagers(deployment, "pulumi-nautobot-worker-site-dfw1")
	require.NoError(t, err)
	require.Equal(t, 2, n)
}

// TestTheProgramRunsWherePulumiRunsIt: the inline program's directory is the one Pulumi gives the program and
// its plugins (the project's main), so a path in a stack file means the same to both.
func TestTheProgramRunsWherePulumiRunsIt(t *testing.T) {
	repo := t.TempDir()
	demo := filepath.Join(repo, "demo")
	require.NoError(t, os.MkdirAll(demo, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(repo, "main.go"), nil, 0o644))
	for _, tc := range []struct{ main, want string }{
		{"", demo},
		{"..", repo},
		{"../main.go", repo},
		{repo, repo},
	} {
		text := "name: nautobot-worker\nruntime: go\n"
		if tc.main != "" {
			text += "main: " + tc.main + "\n"
		}
		require.NoError(t, os.WriteFile(filepath.Join(demo, "Pulumi.yaml"), []byte(text), 0o644))
		got, err := ProgramDir(demo)
		require.NoError(t, err, tc.main)
		require.Equal(t, tc.want, got, tc.main)
	}
	require.NoError(t, os.WriteFile(filepath.Join(demo, "Pulumi.yaml"), []byte("name: x\nmain: ../gone\n"), 0o644))
	_, err := ProgramDir(demo)
	require.ErrorContains(t, err, `the project's main "../gone"`)

	t.Chdir(demo)
	require.NoError(t, os.WriteFile(filepath.Join(demo, "Pulumi.yaml"), []byte("name: x\nmain: ..\n"), 0o644))
	require.ErrorContains(t, inProgramDirectory(demo), "is not the working directory")
	t.Chdir(repo)
	require.NoError(t, inProgramDirectory(demo))
}
