package mtls

import (
	"flag"
	"fmt"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// runDeadline bounds the whole package run. go test's own -timeout panics without running t.Cleanup, which
// would leave servers and key material behind, so a watchdog that fires first kills every server, removes
// the temporary directories and exits.
const runDeadline = 8 * time.Minute

var (
	procMu sync.Mutex
	procs  = map[int]string{}  // process-group id -> description, for servers still running
	dirs   = map[string]bool{} // temporary directories not yet removed
)

// tempDir is a private temporary directory removed by t.Cleanup, or by the watchdog if the run is cut short
// (t.TempDir's are not: they would outlive a timed-out run).
func tempDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	trackDir(dir)
	t.Cleanup(func() { removeDir(dir) })
	return dir
}

func trackDir(dir string) {
	procMu.Lock()
	defer procMu.Unlock()
	dirs[dir] = true
}

func removeDir(dir string) {
	os.RemoveAll(dir)
	procMu.Lock()
	defer procMu.Unlock()
	delete(dirs, dir)
}

func removeAllDirs() {
	procMu.Lock()
	defer procMu.Unlock()
	for dir := range dirs {
		os.RemoveAll(dir)
		delete(dirs, dir)
	}
}

// watchdogDeadline is runDeadline, or less when go test's -timeout is shorter, so the watchdog fires first.
func watchdogDeadline() time.Duration {
	d := runDeadline
	if f := flag.Lookup("test.timeout"); f != nil {
		if timeout, err := time.ParseDuration(f.Value.String()); err == nil && timeout > 0 && timeout*9/10 < d {
			d = timeout * 9 / 10
		}
	}
	return d
}

func trackProcess(pgid int, what string) {
	procMu.Lock()
	defer procMu.Unlock()
	procs[pgid] = what
}

func untrackProcess(pgid int) {
	procMu.Lock()
	defer procMu.Unlock()
	delete(procs, pgid)
}

// killAllProcesses SIGKILLs every server process group still registered (normally none: t.Cleanup stops them).
func killAllProcesses() []string {
	procMu.Lock()
	defer procMu.Unlock()
	var killed []string
	for pgid, what := range procs {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		killed = append(killed, fmt.Sprintf("%s (pgid %d)", what, pgid))
		delete(procs, pgid)
	}
	return killed
}

func TestMain(m *testing.M) {
	flag.Parse()
	deadline := watchdogDeadline()
	watchdog := time.AfterFunc(deadline, func() {
		killed := killAllProcesses()
		removeAllDirs()
		fmt.Fprintf(os.Stderr, "mtls: run exceeded %s; killed %v and removed the temporary directories\n", deadline, killed)
		os.Exit(2)
	})
	code := m.Run()
	watchdog.Stop()
	if killed := killAllProcesses(); len(killed) > 0 {
		fmt.Fprintf(os.Stderr, "mtls: servers left running after the tests were killed: %v\n", killed)
		if code == 0 {
			code = 1
		}
	}
	removeAllDirs()
	os.Exit(code)
}
