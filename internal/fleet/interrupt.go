package fleet

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
)

// Interrupt is what the runner does with Ctrl-C and SIGTERM, as the pulumi CLI does with them: the first
// asks every running pulumi command to finish the step in flight and release its lock, however long that
// takes, and starts no new operation; the second asks the commands to stop at once (the CLI's second
// Ctrl-C); a third kills them, for a pulumi that no longer answers.
type Interrupt struct {
	mu                    sync.Mutex
	count                 int
	graceful, abort, kill chan struct{}
}

// NewInterrupt returns an Interrupt that nothing has triggered yet.
func NewInterrupt() *Interrupt {
	return &Interrupt{graceful: make(chan struct{}), abort: make(chan struct{}), kill: make(chan struct{})}
}

// Trigger records one more Ctrl-C.
func (i *Interrupt) Trigger() {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.count < 3 {
		close([]chan struct{}{i.graceful, i.abort, i.kill}[i.count])
		i.count++
	}
}

// Requested reports whether a graceful stop was asked for.
func (i *Interrupt) Requested() bool {
	return i != nil && closed(i.graceful)
}

func (i *Interrupt) killed() bool { return closed(i.kill) }

func closed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// subcommand is the first argument that is not a flag.
func subcommand(args []string) string {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			return a
		}
	}
	return ""
}

// errInterrupted is a command the runner did not start because an interrupt came first.
var errInterrupted = errors.New("interrupted before it started")

// interruptibleCommand runs the pulumi CLI as the Automation API's own command does, except for signals.
// The SDK's command sends SIGINT when its context ends and kills the process 10 s later, cutting a graceful
// cancel short (a stale lock, pending operations); it also leaves pulumi in the runner's process group, so
// a terminal's Ctrl-C reaches pulumi once directly and once through the context: the CLI takes the second
// as "terminate now". Here pulumi runs in its own process group, and only the Interrupt signals it.
type interruptibleCommand struct {
	auto.PulumiCommand // the version the Automation API checks features against
	interrupt          *Interrupt
}

func newInterruptibleCommand(i *Interrupt) (auto.PulumiCommand, error) {
	sdk, err := auto.NewPulumiCommand(nil)
	if err != nil {
		return nil, err
	}
	return interruptibleCommand{PulumiCommand: sdk, interrupt: i}, nil
}

// changesState are the commands an interrupt keeps from starting; reads (outputs, history, config) still run,
// so an operation that completed is reported as such.
var changesState = []string{"up", "preview", "refresh", "destroy", "import"}

func (c interruptibleCommand) Run(ctx context.Context, workdir string, stdin io.Reader, additionalOutput []io.Writer,
	additionalErrorOutput []io.Writer, additionalEnv []string, args ...string) (string, string, int, error) {
	if c.interrupt.Requested() && slices.Contains(changesState, subcommand(args)) {
		return "", "", -1, errInterrupted
	}
	if !slices.Contains(args, "--non-interactive") {
		args = append([]string{"--non-interactive"}, args...)
	}
	cmd := exec.Command("pulumi", args...)
	cmd.Dir = workdir
	cmd.Env = append(append(os.Environ(), additionalEnv...), "PULUMI_AUTOMATION_API=true")
	var stdout, stderr bytes.Buffer
	cmd.Stdout = io.MultiWriter(append(additionalOutput, &stdout)...)
	cmd.Stderr = io.MultiWriter(append(additionalErrorOutput, &stderr)...)
	cmd.Stdin = stdin
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return "", "", -1, err
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
			return
		case <-c.interrupt.graceful:
		case <-ctx.Done():
		}
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
			return
		case <-c.interrupt.abort:
			_ = cmd.Process.Signal(os.Interrupt) // the CLI's second Ctrl-C: stop now
		}
		select {
		case <-done:
		case <-c.interrupt.kill:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // pulumi and its plugins
		}
	}()
	err := cmd.Wait()
	close(done)
	if c.interrupt.killed() {
		return stdout.String(), stderr.String(), -1, errors.Join(err, errors.New("killed by a third interrupt"))
	}
	code := -1
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err == nil {
		code = 0
	}
	return stdout.String(), stderr.String(), code, err
}
