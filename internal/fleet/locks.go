package fleet

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
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
	// content is the file as read, so a lock is only removed while it still says what was judged.
	content []byte
}

func (l Lock) String() string {
	return fmt.Sprintf("%s@%s (pid %d) since %s", l.Username, l.Hostname, l.Pid, l.Timestamp.Format(time.RFC3339))
}

// Host is what a judgement of a lock's staleness knows of this machine.
type Host struct {
	Name string
	// Boot is when this machine booted: a lock taken before it belongs to a process that is gone.
	Boot time.Time
	// Alive reports whether a process with the pid runs here.
	Alive func(pid int) bool
	// Started is when the process with the pid started, if that can be read.
	Started func(pid int) (time.Time, bool)
}

// pidReuseSlack is how much later than its lock a process may seem to have started and still be the one that
// took it. Its owner started before it wrote the lock, but the start time is derived from the boot time, which
// moves when the wall clock is stepped (NTP), and is read in whole seconds; a reused pid (the pid space
// wrapping) within a minute of the lock is the case this gives up.
const pidReuseSlack = time.Minute

// Stale says the lock's process is gone. A lock is only judged on the host that took it (a hostname match);
// there, its process is gone when the lock predates the boot, when no process has its pid, or when the
// process with that pid started after the lock was taken (the pid was reused). A lock from another host is
// never stale here. A process in another pid namespace under the same hostname (containers sharing a host
// name and the backend directory) cannot be seen: fleet runs see each other through their lease instead
// (see takeLease), and plain `pulumi` runs there must not share a hostname.
func (l Lock) Stale(h Host) bool {
	switch {
	case l.Hostname != h.Name:
		return false
	case !h.Boot.IsZero() && l.Timestamp.Before(h.Boot):
		return true
	case !h.Alive(l.Pid):
		return true
	}
	started, ok := h.Started(l.Pid)
	return ok && started.After(l.Timestamp.Add(pidReuseSlack))
}

// ThisHost reads this machine's name, boot time and processes.
func ThisHost() (Host, error) {
	name, err := os.Hostname()
	if err != nil {
		return Host{}, err
	}
	boot, _ := bootTime()
	return Host{Name: name, Boot: boot, Alive: pidAlive, Started: func(pid int) (time.Time, bool) { return processStart(pid, boot) }}, nil
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

// procStat reads /proc/<pid>/stat from the state on: "pid (comm) S ...", where comm may hold spaces and
// parentheses, so the fields start after the last ")".
func procStat(pid int) ([]string, bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, false
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return nil, false
	}
	fields := strings.Fields(string(stat[i+1:]))
	return fields, len(fields) > 0
}

func zombie(pid int) bool {
	state, ok := procStat(pid)
	return ok && state[0] == "Z"
}

// clockTicks is USER_HZ, the unit of a process's start time in /proc; 100 on every Linux architecture Go
// supports.
const clockTicks = 100

// processStart is when the process started: its start time in clock ticks after boot (field 22 of
// /proc/<pid>/stat, the 20th after the command).
func processStart(pid int, boot time.Time) (time.Time, bool) {
	fields, ok := procStat(pid)
	if !ok || boot.IsZero() || len(fields) < 20 {
		return time.Time{}, false
	}
	ticks, err := strconv.ParseInt(fields[19], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return boot.Add(time.Duration(ticks) * (time.Second / clockTicks)), true
}

// bootTime is when the machine booted (btime in /proc/stat, in seconds).
func bootTime() (time.Time, bool) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return time.Time{}, false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "btime "); ok {
			sec, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return time.Unix(sec, 0), err == nil
		}
	}
	return time.Time{}, false
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
		l := Lock{Path: f, content: data}
		if err := json.Unmarshal(data, &l); err != nil {
			return nil, fmt.Errorf("lock %s: %w", f, err)
		}
		locks = append(locks, l)
	}
	return locks, nil
}

// lockProblem explains why the stack cannot run now, or, when every lock is stale and recover is set,
// returns the stale locks for the caller to remove. op is the operation the fix names.
func lockProblem(op, stack string, locks []Lock, h Host, recover bool) ([]Lock, error) {
	var live, stale []Lock
	for _, l := range locks {
		if l.Stale(h) {
			stale = append(stale, l)
		} else {
			live = append(live, l)
		}
	}
	switch {
	case len(live) > 0:
		return nil, fmt.Errorf("stack %s is locked by a run that may still be going: %s; wait for it to end (a lock from another host is never cleared from here: if that run is gone, delete %s)",
			stack, joinLocks(live), live[0].Path)
	case len(stale) > 0 && !recover:
		return nil, fmt.Errorf("stack %s is locked by %s, a process on this host that is no longer running (a killed or cancelled run); `go run ./cmd/fleet %s --recover` clears the lock and settles the operations that run left pending",
			stack, joinLocks(stale), op)
	}
	return stale, nil
}

func joinLocks(locks []Lock) string {
	s := make([]string, len(locks))
	for i, l := range locks {
		s[i] = l.String()
	}
	return strings.Join(s, ", ")
}

// removeStale deletes the lock files judged stale, each only while it still holds what was judged: a file
// that changed or went away belongs to someone else now and stays. `pulumi cancel` is not used: on a file
// backend it deletes every lock of the stack, a live run's included.
func removeStale(locks []Lock) error {
	for _, l := range locks {
		now, err := os.ReadFile(l.Path)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return err
		}
		if !bytes.Equal(now, l.content) {
			return fmt.Errorf("lock %s changed while it was judged stale; run again", l.Path)
		}
		if err := os.Remove(l.Path); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}

// Lease is a fleet run's hold on one stack of a file backend: an exclusive flock on a file beside the
// backend's own data, held while the run changes the stack. The kernel drops it when the process ends, a
// killed one included, and every process on the machine sees it whatever its pid namespace, so two fleet
// runs (or two recoveries) never work on one stack at once.
type Lease struct{ f *os.File }

// leasePath is the lease file of a stack (fully qualified) in a file backend at dir.
func leasePath(dir, qualifiedStack string) string {
	return filepath.Join(dir, ".fleet", "leases", filepath.FromSlash(qualifiedStack)+".lease")
}

// takeLease takes the stack's lease without waiting, or says which run holds it.
func takeLease(dir, qualifiedStack string) (*Lease, error) {
	path := leasePath(dir, qualifiedStack)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another fleet run is working on this stack (%s holds %s); wait for it to end", strings.TrimSpace(string(holder)), path)
		}
		return nil, fmt.Errorf("taking %s: %w", path, err)
	}
	host, _ := os.Hostname()
	if err := f.Truncate(0); err == nil {
		_, _ = fmt.Fprintf(f, "pid %d on %s since %s\n", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))
	}
	return &Lease{f: f}, nil
}

// Release gives the lease up.
func (l *Lease) Release() {
	if l != nil {
		l.f.Close() // closing drops the flock
	}
}

// brokenAttributes lists the attribute files of the project's stack files in a file backend that do not
// parse. The backend writes each blob's <name>.attrs in place (create, then write), so a run killed in between
// leaves it empty, and every read of the blob, `pulumi stack ls` first, then fails with a bare EOF. The blob
// itself is written to a temporary file and renamed, so it is whole; its attributes (content type, checksum)
// are optional.
func brokenAttributes(dir, project string) ([]string, error) {
	var broken []string
	err := filepath.WalkDir(filepath.Join(dir, ".pulumi", "stacks", project), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".attrs") {
			return nil
		}
		if data, err := os.ReadFile(path); err == nil && !json.Valid(data) {
			broken = append(broken, path)
		}
		return nil
	})
	return broken, err
}

// repairAttributes names the broken attribute files, or, with recover, removes those still broken.
func repairAttributes(dir, project string, recover bool) ([]string, error) {
	broken, err := brokenAttributes(dir, project)
	if err != nil || len(broken) == 0 {
		return nil, err
	}
	if !recover {
		return nil, fmt.Errorf("the state backend has %d unreadable attribute file(s) a killed run left: %s; `--recover` removes them (or delete them: the state files beside them are whole)",
			len(broken), strings.Join(broken, ", "))
	}
	var removed []string
	for _, path := range broken {
		data, err := os.ReadFile(path)
		if err != nil || json.Valid(data) {
			continue // gone, or written whole meanwhile
		}
		if err := os.Remove(path); err != nil {
			return removed, err
		}
		removed = append(removed, path)
	}
	return removed, nil
}
