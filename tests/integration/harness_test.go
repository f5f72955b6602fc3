// Package integration runs the real `pulumi up` of the project's stacks against a real kube-apiserver
// that carries the upstream CRDs (cert-manager, CloudNativePG, External Secrets, Gateway API, Envoy
// Gateway). Each test run starts its own API server on free loopback ports and stops it at the end.
package integration

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/fleet"
)

var saltLine = regexp.MustCompile(`(?m)^encryptionsalt: .*\n`)

var root = func() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}()

// env is one isolated Pulumi world: its own API server, state backend and stack-name prefix.
type env struct {
	t          *testing.T
	prefix     string
	kubeconfig string
	vars       []string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := newPulumiEnv(t)
	// Registered before `up`, so servers started by an `up` that fails half-way are stopped too.
	t.Cleanup(func() {
		if out, err := e.run("bash", "scripts/cluster.sh", "down"); err != nil {
			t.Errorf("stopping the cluster: %v\n%s", err, out)
		}
	})
	start := time.Now()
	e.mustRun("bash", "scripts/cluster.sh", "up")
	t.Logf("cluster ready in %s", time.Since(start).Round(time.Millisecond))
	return e
}

// newPulumiEnv is an env with its own state backend and no API server (for render-mode stacks).
func newPulumiEnv(t *testing.T) *env {
	t.Helper()
	if _, err := os.Stat(filepath.Join(root, ".tools", "bin", "pulumi")); err != nil {
		t.Fatalf("the pulumi toolchain is missing: run `make tools` first (%v)", err)
	}
	dir := t.TempDir()
	clusterDir := filepath.Join(dir, "cluster")
	buf := make([]byte, 4)
	_, _ = rand.Read(buf)
	e := &env{t: t, prefix: "it-" + hex.EncodeToString(buf), kubeconfig: filepath.Join(clusterDir, "kubeconfig")}
	path := filepath.Join(root, ".tools", "bin") + string(os.PathListSeparator) + os.Getenv("PATH")
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PULUMI_") || strings.HasPrefix(kv, "PATH=") || strings.HasPrefix(kv, "KUBECONFIG=") {
			continue
		}
		e.vars = append(e.vars, kv)
	}
	e.vars = append(e.vars,
		"PATH="+path,
		"PULUMI_HOME="+filepath.Join(root, ".tools", "pulumi-home"),
		"PULUMI_BACKEND_URL=file://"+filepath.Join(dir, "state"),
		"PULUMI_CONFIG_PASSPHRASE=integration-test",
		"PULUMI_SKIP_UPDATE_CHECK=true",
		"PULUMI_IGNORE_AMBIENT_PLUGINS=true",
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true",
		"CLUSTER_DIR="+clusterDir,
		// The kubernetes provider leaves kubeconfig copies (with the cluster's token) in TMPDIR.
		"TMPDIR="+filepath.Join(dir, "tmp"),
	)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "state"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "tmp"), 0o755))
	return e
}

func (e *env) run(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = root
	cmd.Env = e.vars
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.String(), err
}

func (e *env) mustRun(name string, args ...string) string {
	e.t.Helper()
	out, err := e.run(name, args...)
	require.NoError(e.t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
	return out
}

// stack creates a stack named <prefix>-<name> in the repository's project whose config is the committed
// Pulumi.<from>.yaml (see stackFile) with edits applied, pointed at this env's API server.
func (e *env) stack(name, from string, edits ...func(string) string) string {
	e.t.Helper()
	config := e.stackFile(from, edits...)
	stack := e.prefix + "-" + name
	file := filepath.Join(root, "Pulumi."+stack+".yaml")
	require.NoError(e.t, os.WriteFile(file, []byte(config), 0o644))
	e.t.Cleanup(func() { _ = os.Remove(file) })
	e.mustRun("pulumi", "stack", "init", "organization/nautobot-worker/"+stack, "--no-select")
	return stack
}

// demoServerURL is the demo cluster's API server (scripts/cluster.sh's fixed port), which the demo's
// Pulumi.global.yaml names for External Secrets; a test's own cluster listens elsewhere.
const demoServerURL = "https://127.0.0.1:26443"

// serverURL is the API server of this env's cluster, or "" before (or without) one.
func (e *env) serverURL() string {
	text, err := os.ReadFile(e.kubeconfig)
	if err != nil {
		return ""
	}
	if m := regexp.MustCompile(`(?m)^\s+server: (\S+)$`).FindSubmatch(text); m != nil {
		return string(m[1])
	}
	return ""
}

// rewrite replaces the config file of an existing stack, keeping the salt `stack init` wrote.
func (e *env) rewrite(stack string, edit func(string) string) {
	e.t.Helper()
	file := filepath.Join(root, "Pulumi."+stack+".yaml")
	text, err := os.ReadFile(file)
	require.NoError(e.t, err)
	require.NoError(e.t, os.WriteFile(file, []byte(edit(string(text))), 0o644))
}

// pulumiCLI is the harness's toolchain: the Automation API would otherwise run the `pulumi` on this
// process's PATH.
var pulumiCLI = sync.OnceValues(func() (auto.PulumiCommand, error) {
	return auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: filepath.Join(root, ".tools")})
})

// open returns one of this env's stacks for Automation API calls, its commands run in this env's world
// with extra ("KEY=value") on top.
func (e *env) open(stack string, extra ...string) *auto.Stack {
	e.t.Helper()
	cli, err := pulumiCLI()
	require.NoError(e.t, err)
	s, err := fleet.Open(e.t.Context(), root, stack, e.commandVars(extra...), auto.Pulumi(cli))
	require.NoError(e.t, err)
	return &s
}

// commandVars are the variables an Automation API workspace gives its commands on top of this process's
// environment: this env's, with extra ("KEY=value") on top, and blanks for what the env leaves out (the
// caller's PULUMI_* and KUBECONFIG), so they see this env's variables only.
func (e *env) commandVars(extra ...string) map[string]string {
	vars := map[string]string{}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		vars[k] = ""
	}
	for _, kv := range append(append([]string{}, e.vars...), extra...) {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	return vars
}

// up deploys the stack and returns the output of `pulumi up`.
func (e *env) up(stack string) string {
	e.t.Helper()
	start := time.Now()
	var buf bytes.Buffer
	_, err := e.open(stack).Up(e.t.Context(), optup.ProgressStreams(&buf), optup.ErrorProgressStreams(&buf), optup.Color("never"),
		optup.SuppressProgress())
	out := buf.String()
	require.NoError(e.t, err, "pulumi up %s", stack)
	e.t.Logf("pulumi up %s: %s", stack, time.Since(start).Round(time.Millisecond))
	require.NotContains(e.t, out, "unknown field", "the API server dropped a field it does not know:\n%s", out)
	return out
}

// upRefresh runs `pulumi up --refresh`: the state first reads back what the controllers wrote.
func (e *env) upRefresh(stack string) {
	e.t.Helper()
	var buf bytes.Buffer
	_, err := e.open(stack).Up(e.t.Context(), optup.Refresh(), optup.ProgressStreams(&buf), optup.ErrorProgressStreams(&buf),
		optup.Color("never"), optup.SuppressProgress())
	require.NoError(e.t, err, "pulumi up --refresh %s:\n%s", stack, buf.String())
}

// preview runs a preview of the stack (the error it fails the test with holds the CLI's output).
func (e *env) preview(s *auto.Stack, opts ...optpreview.Option) {
	e.t.Helper()
	_, err := s.Preview(e.t.Context(), append(opts, optpreview.Color("never"), optpreview.SuppressProgress())...)
	require.NoError(e.t, err, "pulumi preview %s", s.Name())
}

// previewSteps runs a preview and returns the operations it plans, as "op type name".
func (e *env) previewSteps(stack string) []string {
	e.t.Helper()
	ch := make(chan events.EngineEvent)
	done := make(chan struct{})
	var steps []string
	go func() {
		defer close(done)
		for ev := range ch {
			if ev.ResourcePreEvent == nil {
				continue
			}
			op, urn := string(ev.ResourcePreEvent.Metadata.Op), ev.ResourcePreEvent.Metadata.URN
			if op == "same" || op == "read" { // a StackReference is read on every run; reads change nothing
				continue
			}
			parts := strings.Split(urn, "::")
			typ := parts[len(parts)-2]
			if i := strings.LastIndex(typ, "$"); i >= 0 {
				typ = typ[i+1:]
			}
			steps = append(steps, fmt.Sprintf("%s %s %s", op, typ, parts[len(parts)-1]))
		}
	}()
	e.preview(e.open(stack), optpreview.EventStreams(ch))
	<-done // the stream is closed once the preview has sent every event
	return steps
}

// outputs are the stack's outputs as `pulumi stack output --json` shows them: a secret is "[secret]".
func (e *env) outputs(stack string) map[string]any {
	e.t.Helper()
	out, err := e.open(stack).Outputs(e.t.Context())
	require.NoError(e.t, err)
	m := map[string]any{}
	for k, o := range out {
		m[k] = o.Value
		if o.Secret {
			m[k] = "[secret]"
		}
	}
	return m
}

// object reads one object back from the API server.
func (e *env) object(kind, namespace, name string) map[string]any {
	e.t.Helper()
	args := []string{"--kubeconfig", e.kubeconfig, "get", kind, name, "-o", "json"}
	if namespace != "" {
		args = append(args, "-n", namespace)
	}
	out := e.mustRun("kubectl", args...)
	var m map[string]any
	require.NoError(e.t, json.Unmarshal([]byte(out), &m), out)
	return m
}

func (e *env) exists(kind, namespace, name string) bool {
	_, err := e.run("kubectl", "--kubeconfig", e.kubeconfig, "get", kind, name, "-n", namespace)
	return err == nil
}

func (e *env) names(kind, namespace string) []string {
	e.t.Helper()
	out := e.mustRun("kubectl", "--kubeconfig", e.kubeconfig, "get", kind, "-n", namespace, "-o", "jsonpath={.items[*].metadata.name}")
	return strings.Fields(out)
}

func dig(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

// strictDryRun renders the stack's objects (the committed config of `from`, in render mode) and submits
// every one to the API server with a server-side dry run and strict field validation, so a field the
// CRD schema does not know fails the test instead of being dropped with a warning. It returns kubectl's
// output, a line per object.
func (e *env) strictDryRun(from string) string {
	e.t.Helper()
	dir := e.t.TempDir()
	text, err := os.ReadFile(filepath.Join(root, "Pulumi."+from+".yaml"))
	require.NoError(e.t, err)
	config := saltLine.ReplaceAllString(strings.Replace(string(text), "kubeconfig: "+e.kubeconfig, "renderDir: "+dir, 1), "")
	require.NotEqual(e.t, string(text), config)
	stack := from + "-render"
	file := filepath.Join(root, "Pulumi."+stack+".yaml")
	require.NoError(e.t, os.WriteFile(file, []byte(config), 0o644))
	e.t.Cleanup(func() { _ = os.Remove(file) })
	e.mustRun("pulumi", "stack", "init", "organization/nautobot-worker/"+stack, "--no-select")
	e.up(stack)
	var manifests []string
	require.NoError(e.t, filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".yaml") {
			manifests = append(manifests, path)
		}
		return err
	}))
	require.NotEmpty(e.t, manifests)
	args := []string{"--kubeconfig", e.kubeconfig, "apply", "--dry-run=server", "--validate=strict", "--server-side", "--force-conflicts"}
	for _, m := range manifests {
		args = append(args, "-f", m)
	}
	out := e.mustRun("kubectl", args...)
	require.Equal(e.t, len(manifests), strings.Count(out, "(server dry run)"), out)
	return out
}
