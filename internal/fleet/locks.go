package fleet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Lock is a file backend's lock on a stack: what `pulumi` writes while it updates the stack.
type Lock struct {
	Path      string
	Pid       int       `json:"pid"`
	Username  string    `json:"username"`
	Hostname  string    `json:"hostname"`
	Timestamp time.Time `json:"timestamp"`
}

// Stale says the lock's process is gone: it ran on this host and no process has its pid. A lock from
// another host is never stale here, since its process cannot be checked.
func (l Lock) Stale(hostname string, alive func(pid int) bool) bool {
	return l.Hostname == hostname && !alive(l.Pid)
}

func (l Lock) String() string {
	return fmt.Sprintf("%s@%s (pid %d) since %s", l.Username, l.Hostname, l.Pid, l.Timestamp.Format(time.RFC3339))
}

// pidAlive reports whether a process with pid runs (signal 0 checks without sending anything). A zombie
// has ended: a killed pulumi whose parent was killed too stays one until something reaps it.
func pidAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	return !zombie(pid)
}

// zombie reads the process state from /proc/<pid>/stat: "pid (comm) S ...", where comm may hold spaces
// and parentheses, so the state follows the last ")".
func zombie(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

// fileBackendDir is the directory of a file:// backend URL, or "" for any other backend (whose locks
// `pulumi` reports in its own error).
func fileBackendDir(backendURL string) (string, error) {
	if !strings.HasPrefix(backendURL, "file://") {
		return "", nil
	}
	u, err := url.Parse(backendURL)
	if err != nil {
		return "", fmt.Errorf("PULUMI_BACKEND_URL %q: %w", backendURL, err)
	}
	dir := u.Path
	if u.Host != "" && u.Host != "localhost" {
		dir = u.Host + u.Path // file://relative/path
	}
	if dir == "~" || strings.HasPrefix(dir, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(home, strings.TrimPrefix(dir, "~"))
	}
	return dir, nil
}

// Locks lists the locks a file backend at dir holds on the stack (fully qualified: org/project/stack).
func Locks(dir, qualifiedStack string) ([]Lock, error) {
	files, err := filepath.Glob(filepath.Join(dir, ".pulumi", "locks", filepath.FromSlash(qualifiedStack), "*.json"))
	if err != nil {
		return nil, err
	}
	var locks []Lock
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			if os.IsNotExist(err) {
				continue // released while we looked
			}
			return nil, err
		}
		l := Lock{Path: f}
		if err := json.Unmarshal(data, &l); err != nil {
			return nil, fmt.Errorf("lock %s: %w", f, err)
		}
		locks = append(locks, l)
	}
	return locks, nil
}

// lockProblem explains why the stack cannot run now, or says nothing when every lock is stale and recover
// is set (the caller then clears them). It returns whether there are stale locks to clear.
func lockProblem(op, stack string, locks []Lock, hostname string, alive func(int) bool, recover bool) (bool, error) {
	var live, stale []string
	for _, l := range locks {
		if l.Stale(hostname, alive) {
			stale = append(stale, l.String())
		} else {
			live = append(live, l.String())
		}
	}
	switch {
	case len(live) > 0:
		return false, fmt.Errorf("stack %s is locked by a run that may still be going: %s; wait for it to end (a lock from another host is never cleared from here: if that run is gone, run `pulumi cancel --stack %s` there or here)",
			stack, strings.Join(live, ", "), stack)
	case len(stale) > 0 && !recover:
		return false, fmt.Errorf("stack %s is locked by %s, a process on this host that is no longer running (a killed or cancelled run); `go run ./cmd/fleet %s --recover` clears the lock and settles the operations that run left pending",
			stack, strings.Join(stale, ", "), op)
	}
	return len(stale) > 0, nil
}
