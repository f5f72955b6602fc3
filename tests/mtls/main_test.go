package mtls

import (
	"fmt"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// runDeadline bounds the whole package run. go test's own -timeout panics without running t.Cleanup, which
// would leave servers behind, so the watchdog below kills every server first and then exits.
const runDeadline = 8 * time.Minute

var (
	procMu sync.Mutex
	procs  = map[int]string{} // process-group id -> description, for servers still running
)

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
	watchdog := time.AfterFunc(runDeadline, func() {
		killed := killAllProcesses()
		fmt.Fprintf(os.Stderr, "mtls: run exceeded %s; killed %v\n", runDeadline, killed)
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
	cleanupPKI()
	os.Exit(code)
}
