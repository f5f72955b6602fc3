package fleet

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"nautobot-worker/internal/kube"
	"nautobot-worker/internal/stackconfig"
	"nautobot-worker/stacks"
)

// Ops are the operations the runner knows.
var Ops = []string{"preview", "up", "refresh", "destroy"}

// Options configure one run over the fleet.
type Options struct {
	Root          string   // the project directory (Pulumi.yaml); the working directory, as the program runs inline
	Op            string   // one of Ops
	Stacks        []string // from Select, global first
	Parallel      int      // site stacks at a time (at least 1)
	KubeconfigDir string   // a file per stack, named after it, becomes its KUBECONFIG
	Recover       bool     // clear stale locks and settle pending operations first
	// ExpectNoChanges fails a preview or up that would change anything (a converged fleet stays converged).
	ExpectNoChanges bool
	// ConfigFiles gives a stack another config file than its Pulumi.<stack>.yaml (a preview of an edit).
	ConfigFiles map[string]string
	// Interrupt stops the run as the CLI stops on Ctrl-C (nil: only the context stops it).
	Interrupt *Interrupt
	Backend
	Out io.Writer
}

// Backend is how the runner addresses the stacks and their secrets in the backend.
type Backend struct {
	// Org addresses the stacks as <Org>/<project>/<stack> (Pulumi Cloud); "" uses bare names, which a
	// self-managed backend and the Pulumi Cloud user's default organization take.
	Org string
	// SecretsProvider creates new stacks (--secrets-provider of `pulumi stack init`; "" is the backend's
	// default), GlobalSecretsProvider a new global stack; a provider a stack file names comes first.
	SecretsProvider, GlobalSecretsProvider string
	// GlobalPassphraseFile holds the global stack's passphrase when it is not the sites' one.
	GlobalPassphraseFile string
}

// Result is one stack's outcome.
type Result struct {
	Stack    string
	Changes  map[string]int // create, update, replace, delete, same
	Steps    []Step         // the resources a preview or up changes, from its engine events
	Duration time.Duration
	Err      error
	Skipped  string // why the stack did not run
	// Interrupted is a stack an interrupt stopped before its operation ended.
	Interrupted bool
	// Note is what the reader of a successful result must know (a site whose preview waits for global).
	Note string
}

// Run runs the operation on every stack, with the program inline: stacks.Program runs in this process,
// compiled once with the runner, so no stack builds or starts a program of its own. An up runs the global
// stack, then the sites in parallel; a failing global stack skips them, since they would deploy against its
// old outputs. A destroy runs the sites, then the global stack. A preview or refresh changes no outputs, so
// the sites need not wait: the global stack starts first and the sites share the same parallel slots. A
// failing site never stops the others; a failing site destroy keeps the global stack, which its worker
// still uses. After an interrupt no stack starts.
func Run(ctx context.Context, o Options) ([]Result, error) {
	if o.Parallel < 1 {
		o.Parallel = 1
	}
	if o.Interrupt == nil {
		o.Interrupt = NewInterrupt()
	}
	if err := inProgramDirectory(o.Root); err != nil {
		return nil, err
	}
	backendDir, err := fileBackendDir(os.Getenv("PULUMI_BACKEND_URL"))
	if err != nil {
		return nil, err
	}
	// The kubernetes provider leaves kubeconfig copies (credentials included) in TMPDIR: give it ours.
	scratch, err := os.MkdirTemp("", "nautobot-fleet-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	command, err := newInterruptibleCommand(o.Interrupt)
	if err != nil {
		return nil, err
	}
	ws, err := auto.NewLocalWorkspace(ctx, auto.WorkDir(o.Root), auto.Pulumi(command))
	if err != nil {
		return nil, err
	}
	project, err := ws.ProjectSettings(ctx)
	if err != nil {
		return nil, err
	}
	r := runner{Options: o, ws: ws, project: string(project.Name), backendDir: backendDir, sandboxes: &sandboxOnce{}}
	defer r.sandboxes.close()
	if backendDir != "" {
		removed, err := repairAttributes(backendDir, r.project, o.Recover)
		if err != nil {
			return nil, err
		}
		for _, path := range removed {
			fmt.Fprintf(o.Out, "fleet: removed %s, an attribute file a killed run left unreadable\n", path)
		}
	}
	if r.existing, err = ws.ListStacks(ctx); err != nil {
		return nil, fmt.Errorf("listing stacks: %w", err)
	}
	// The backend pulumi uses (PULUMI_BACKEND_URL, `pulumi login`, or the project's backend.url).
	who, err := ws.WhoAmIDetails(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the backend: %w", err)
	}
	r.cloud = strings.HasPrefix(who.URL, "https://") || strings.HasPrefix(who.URL, "http://")
	if o.Op != "destroy" {
		all, err := Discover(o.Root)
		if err != nil {
			return nil, err
		}
		if err := r.refuseSharedCAKey(slices.DeleteFunc(all, func(s string) bool { return s == GlobalStack })); err != nil {
			return nil, err
		}
	}
	if err := r.ensureStacks(ctx); err != nil {
		return nil, err
	}
	env := map[string]string{"TMPDIR": scratch}

	results := make([]Result, len(o.Stacks))
	var global, sites []int
	for i, s := range o.Stacks {
		if s == GlobalStack {
			global = append(global, i)
		} else {
			sites = append(sites, i)
		}
	}
	// pool runs the stacks at these indexes, o.Parallel at a time, starting them in order.
	pool := func(indexes []int) {
		slots := make(chan struct{}, o.Parallel)
		var wg sync.WaitGroup
		for _, i := range indexes {
			slots <- struct{}{}
			if o.Interrupt.Requested() {
				results[i] = Result{Stack: o.Stacks[i], Skipped: "interrupted before it started"}
				<-slots
				continue
			}
			wg.Add(1)
			go func() {
				defer func() { <-slots; wg.Done() }()
				results[i] = r.runStack(ctx, env, o.Stacks[i])
			}()
		}
		wg.Wait()
	}
	switch o.Op {
	case "up":
		pool(global)
		for _, i := range global {
			if results[i].Err != nil {
				for _, j := range sites {
					results[j] = Result{Stack: o.Stacks[j], Skipped: "the global stack failed"}
				}
				return results, nil
			}
		}
		pool(sites)
	case "destroy":
		pool(sites)
		var failed []string
		for _, j := range sites {
			if results[j].Err != nil || results[j].Skipped != "" && results[j].Skipped != "no such stack" {
				failed = append(failed, o.Stacks[j])
			}
		}
		if len(global) > 0 {
			failed = append(failed, r.deployedSitesOutside(o.Stacks)...)
		}
		if len(failed) > 0 {
			for _, i := range global {
				results[i] = Result{Stack: o.Stacks[i], Skipped: fmt.Sprintf("kept: %s not destroyed, and a site's worker uses the global database until its stack is gone",
					strings.Join(failed, ", "))}
			}
			return results, nil
		}
		pool(global)
	default:
		pool(append(global, sites...))
	}
	return results, nil
}

// inProgramDirectory checks that the project's program directory (ProgramDir) is this process's working
// directory: the inline program reads the files its config names (the chart, the kubeconfig) relative to
// it, as the project's binary does when Pulumi runs it there.
func inProgramDirectory(root string) error {
	dir, err := ProgramDir(root)
	if err != nil {
		return err
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	if dir != wd {
		return fmt.Errorf("the program directory %s is not the working directory %s: the inline program reads its files relative to it", dir, wd)
	}
	return nil
}

// stackWorkspace runs one stack's commands with its own environment and, when program is set, its own
// inline program. It never selects the stack: the operations name it with --stack, and `pulumi stack
// select` rewrites the workspace file every parallel run reads. Its Workspace is a LocalWorkspace of the
// stack's own (newStackWorkspace), since a LocalWorkspace runs some commands (stack export and import,
// outputs) with its own variables, not GetEnvVars: the global stack's passphrase must reach those too.
type stackWorkspace struct {
	auto.Workspace
	env     map[string]string
	program pulumi.RunFunc
}

// newStackWorkspace is a stackWorkspace for the project in dir, with env and program.
func (r runner) newStackWorkspace(ctx context.Context, dir string, env map[string]string, program pulumi.RunFunc) (stackWorkspace, error) {
	ws, err := auto.NewLocalWorkspace(ctx, auto.WorkDir(dir), auto.Pulumi(r.ws.PulumiCommand()), auto.EnvVars(env))
	if err != nil {
		return stackWorkspace{}, err
	}
	return stackWorkspace{Workspace: ws, env: env, program: program}, nil
}

func (w stackWorkspace) SelectStack(context.Context, string) error { return nil }
func (w stackWorkspace) GetEnvVars() map[string]string             { return w.env }
func (w stackWorkspace) Program() pulumi.RunFunc                   { return w.program }

// inlineProgram is stacks.Program given the config keys of stack name in ws: its unknown-key check reads
// them from PULUMI_CONFIG when Pulumi runs the program as a process of its own, which an inline program is not.
func (r runner) inlineProgram(ctx context.Context, ws auto.Workspace, name, configFile string) (pulumi.RunFunc, error) {
	// Secrets stay encrypted.
	cfg, err := ws.GetAllConfigWithOptions(ctx, name, &auto.GetAllConfigOptions{ConfigFile: configFile})
	if err != nil {
		return nil, fmt.Errorf("reading the config keys of %s: %w", name, err)
	}
	keys := slices.Collect(maps.Keys(cfg))
	return func(ctx *pulumi.Context) error {
		return stacks.Program(stackconfig.WithConfigKeys(ctx, keys))
	}, nil
}

// runner is one run's state: its options, the workspace all stacks share, and the project's name.
type runner struct {
	Options
	ws       auto.Workspace
	project  string
	existing []auto.StackSummary // the backend's stacks when the run started
	// backendDir is the directory of a file backend ("" for any other), whose locks the runner checks.
	backendDir string
	// sandboxes is where a preview runs the stacks the backend does not have yet.
	sandboxes *sandboxOnce
	// cloud is a Pulumi Cloud backend, whose default secrets provider keeps a key per stack.
	cloud bool
}

// qualified is a stack's name in a file backend's layout (organization/<project>/<stack>).
func (r runner) qualified(stack string) string {
	return "organization/" + r.project + "/" + stack
}

// address is the name the runner gives pulumi for a stack of the project: qualified by --org, else bare.
func (b Backend) address(project, stack string) string {
	if b.Org == "" {
		return stack
	}
	return b.Org + "/" + project + "/" + stack
}

func (r runner) address(stack string) string { return r.Backend.address(r.project, stack) }

// ensureStacks creates the stacks that do not exist yet, one at a time, for an up or a refresh (destroy
// skips them later, and a preview runs them in its sandbox).
func (r runner) ensureStacks(ctx context.Context) error {
	if r.Op == "destroy" || r.Op == "preview" {
		return nil
	}
	for _, stack := range r.Stacks {
		if r.exists(stack) {
			continue
		}
		f, err := r.stackFile(stack)
		if err != nil {
			return err
		}
		args := []string{"stack", "init", r.address(stack), "--no-select"}
		provider := r.secretsProvider(stack, f)
		if provider != "" {
			args = append(args, "--secrets-provider", provider)
		}
		secrets, err := r.secretsEnv(stack)
		if err != nil {
			return err
		}
		env := os.Environ()
		for k, v := range secrets {
			env = append(env, k+"="+v)
		}
		var stderr bytes.Buffer
		if _, _, _, err := r.ws.PulumiCommand().Run(ctx, r.Root, nil, nil, []io.Writer{&stderr}, env, args...); err != nil {
			return fmt.Errorf("creating stack %s: %w: %s", stack, err, strings.TrimSpace(stderr.String()))
		}
		fmt.Fprintf(r.Out, "fleet: created stack %s (secrets provider: %s)\n", r.address(stack), cmp.Or(provider, "the backend's default"))
	}
	return nil
}

func (r runner) runStack(ctx context.Context, env map[string]string, stack string) (res Result) {
	start := time.Now()
	res.Stack = stack
	defer func() { res.Duration = time.Since(start) }()
	stackEnv := maps.Clone(env)
	kubeconfig, err := kubeconfigFor(r.KubeconfigDir, stack)
	if err != nil {
		res.Err = err
		return res
	}
	if kubeconfig != "" {
		stackEnv["KUBECONFIG"] = kubeconfig
	}
	secrets, err := r.secretsEnv(stack)
	if err != nil {
		res.Err = err
		return res
	}
	maps.Copy(stackEnv, secrets)
	retire, err := r.deleteUnreachable(stack)
	if err != nil {
		res.Err = err
		return res
	}
	// From the stack's file, never the environment: a refresh or destroy runs no program, so the provider
	// takes this variable, not the key.
	stackEnv["PULUMI_K8S_DELETE_UNREACHABLE"] = strconv.FormatBool(retire)
	exists := r.exists(stack)
	if r.Op == "destroy" && !exists {
		res.Skipped = "no such stack"
		return res
	}
	if r.Op == "preview" && !exists {
		out := newPrefixWriter(r.Out, stack)
		defer out.Flush()
		res.Changes, res.Note, res.Err = r.previewInSandbox(ctx, stack, stackEnv, out, &res.Steps)
		res.Interrupted = res.Err != nil && r.Interrupt.Requested()
		return res
	}
	if r.backendDir != "" && r.Op != "preview" {
		lease, err := takeLease(r.backendDir, r.qualified(stack))
		if err != nil {
			res.Err = err
			return res
		}
		defer lease.Release()
	}
	ws, err := r.newStackWorkspace(ctx, r.Root, stackEnv, nil)
	if err != nil {
		res.Err = err
		return res
	}
	if r.Op == "preview" || r.Op == "up" { // refresh and destroy run no program
		// Read with the stack's own environment: its secrets provider may be another than the sites'.
		if ws.program, err = r.inlineProgram(ctx, ws, r.address(stack), r.ConfigFiles[stack]); err != nil {
			res.Err = err
			return res
		}
	}
	s, err := auto.SelectStack(ctx, r.address(stack), ws)
	if err != nil {
		res.Err = err
		return res
	}
	out := newPrefixWriter(r.Out, stack)
	defer out.Flush()
	if err := r.settleLocks(ctx, s, stack, out); err != nil {
		fmt.Fprintf(out, "error: %v\n", err) // pulumi never ran, so nothing else logged why
		res.Err = err
		return res
	}
	if (r.Op == "refresh" || r.Op == "destroy") && !retire {
		// These run no program: the provider takes its settings from the state, where a stack deployed
		// before deleteUnreachable was off (or with the key since removed) still has it on.
		if res.Err = refuseStateDeletingUnreachable(ctx, s, stack); res.Err != nil {
			fmt.Fprintf(out, "error: %v\n", res.Err)
			return res
		}
	}
	if r.Op == "up" || r.Op == "preview" {
		if res.Err = r.moveFieldManagers(ctx, s, stack, stackEnv, out); res.Err != nil {
			return res
		}
	}
	steps := NewStepRecorder()
	res.Changes, res.Err = operate(ctx, s, r.Op, r.ExpectNoChanges, r.ConfigFiles[stack], out, steps.Events())
	res.Steps = steps.Steps()
	res.Interrupted = res.Err != nil && r.Interrupt.Requested()
	return res
}

// deleteUnreachable is the stack file's kubernetes.deleteUnreachable: whether a refresh or destroy may drop
// from the state what the stack's unreachable cluster held (to retire a site whose cluster is gone). The
// global stack refuses it: one refresh during an outage would drop the CA and the database from its state.
func (r runner) deleteUnreachable(stack string) (bool, error) {
	path := r.stackFilePath(stack)
	text, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("reading the config of %s: %w", stack, err)
	}
	cfg, err := stackConfig(text)
	if err != nil {
		return false, nil // no config: nothing set
	}
	on := false
	for _, key := range []string{r.project + ":kubernetes", "kubernetes"} {
		k, _ := cfg[key].(map[string]any)
		if v, _ := k["deleteUnreachable"].(bool); v {
			on = true
		}
	}
	if on && stack == GlobalStack {
		return false, fmt.Errorf("%s: kubernetes.deleteUnreachable is refused on the global stack: a refresh while its cluster is unreachable would drop the CA, the database and the namespace from the state", path)
	}
	return on, nil
}

// moveFieldManagers has the provider force its applies in this run (PULUMI_K8S_ENABLE_PATCH_FORCE, in the
// stack's environment) when the state records objects applied under another field manager than the stack's
// (kube.FieldManager): a stack deployed before its field manager was stable has a random one per object, and
// the first apply under the stable one conflicts wherever the API server defaulted a field inside a list
// (a StatefulSet's volumeClaimTemplates, a NetworkPolicy's ingress). Forcing takes those fields over once;
// the provider then releases the old manager, so the next run finds none and forces nothing.
func (r runner) moveFieldManagers(ctx context.Context, s auto.Stack, stack string, env map[string]string, out io.Writer) error {
	state, err := s.Export(ctx)
	if err != nil {
		return err
	}
	manager := kube.FieldManager(r.project, stack)
	others, err := otherFieldManagers(state.Deployment, manager)
	if err != nil || others == 0 {
		return err
	}
	fmt.Fprintf(out, "moving %d object(s) to the field manager %s: this %s forces its applies once (README, State safety)\n", others, manager, r.Op)
	env["PULUMI_K8S_ENABLE_PATCH_FORCE"] = "true"
	return nil
}

// stateResource is what the runner reads of a resource a deployment records.
type stateResource struct {
	Type    string         `json:"type"`
	Inputs  map[string]any `json:"inputs"`
	Outputs map[string]any `json:"outputs"`
}

func stateResources(deployment json.RawMessage) ([]stateResource, error) {
	var d struct {
		Resources []stateResource `json:"resources"`
	}
	if err := json.Unmarshal(deployment, &d); err != nil {
		return nil, fmt.Errorf("reading the stack's state: %w", err)
	}
	return d.Resources, nil
}

// otherFieldManagers counts the Kubernetes objects a deployment records under another field manager.
func otherFieldManagers(deployment json.RawMessage, manager string) (int, error) {
	resources, err := stateResources(deployment)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range resources {
		if m, _ := r.Outputs["__fieldManager"].(string); strings.HasPrefix(r.Type, "kubernetes:") && m != "" && m != manager {
			n++
		}
	}
	return n, nil
}

// refuseStateDeletingUnreachable refuses a stack whose state has a kubernetes provider with deleteUnreachable
// on while its stack file does not ask for it.
func refuseStateDeletingUnreachable(ctx context.Context, s auto.Stack, stack string) error {
	state, err := s.Export(ctx)
	if err != nil {
		return err
	}
	on, err := providerDeletesUnreachable(state.Deployment)
	if err != nil || !on {
		return err
	}
	return fmt.Errorf("the state of %s has a kubernetes provider with deleteUnreachable on (recorded before it was off by default, or by a kubernetes.deleteUnreachable since removed), so this would drop from the state whatever an unreachable cluster cannot show: run `go run ./cmd/fleet up` of the stack first to record it off, or set kubernetes.deleteUnreachable: true in its stack file to retire it", stack)
}

// providerDeletesUnreachable reads a deployment's kubernetes providers' deleteUnreachable input.
func providerDeletesUnreachable(deployment json.RawMessage) (bool, error) {
	resources, err := stateResources(deployment)
	if err != nil {
		return false, err
	}
	for _, r := range resources {
		if v := r.Inputs["deleteUnreachable"]; r.Type == "pulumi:providers:kubernetes" && (v == true || v == "true") {
			return true, nil
		}
	}
	return false, nil
}

// deployedSitesOutside lists the site stacks of the backend that hold resources and are not among stacks.
func (r runner) deployedSitesOutside(stacks []string) []string {
	var out []string
	for _, s := range r.existing {
		name := s.Name[strings.LastIndex(s.Name, "/")+1:]
		if strings.HasPrefix(name, SitePrefix) && !slices.Contains(stacks, name) && s.ResourceCount != nil && *s.ResourceCount > 0 {
			out = append(out, name)
		}
	}
	return out
}

// exists reports whether the backend had the stack when the run started, under any name pulumi lists it by
// (bare, org/stack for a non-default organization, or fully qualified).
func (r runner) exists(stack string) bool {
	names := []string{stack, r.address(stack), r.qualified(stack)}
	if r.Org != "" {
		names = append(names, r.Org+"/"+stack)
	}
	return hasStack(r.existing, names...)
}

func hasStack(list []auto.StackSummary, names ...string) bool {
	for _, s := range list {
		for _, n := range names {
			if s.Name == n {
				return true
			}
		}
	}
	return false
}

func operate(ctx context.Context, s auto.Stack, op string, expectNoChanges bool, configFile string, out io.Writer,
	steps chan<- events.EngineEvent) (map[string]int, error) {
	switch op {
	case "preview":
		opts := []optpreview.Option{optpreview.Diff(), optpreview.ProgressStreams(out), optpreview.ErrorProgressStreams(out),
			optpreview.Color("never"), optpreview.SuppressProgress(), optpreview.ConfigFile(configFile), optpreview.EventStreams(steps)}
		if expectNoChanges {
			opts = append(opts, optpreview.ExpectNoChanges())
		}
		r, err := s.Preview(ctx, opts...)
		return previewChanges(r.ChangeSummary), err
	case "up":
		opts := []optup.Option{optup.ProgressStreams(out), optup.ErrorProgressStreams(out), optup.Color("never"), optup.SuppressProgress(),
			optup.ConfigFile(configFile), optup.EventStreams(steps)}
		if expectNoChanges {
			opts = append(opts, optup.ExpectNoChanges())
		}
		r, err := s.Up(ctx, opts...)
		return updateChanges(r.Summary), err
	case "refresh":
		r, err := s.Refresh(ctx, optrefresh.ProgressStreams(out), optrefresh.ErrorProgressStreams(out), optrefresh.Color("never"),
			optrefresh.SuppressProgress())
		return updateChanges(r.Summary), err
	case "destroy":
		return destroyExcludingProtected(ctx, s, out)
	}
	return nil, fmt.Errorf("unknown operation %q (one of %s)", op, strings.Join(Ops, ", "))
}

// destroyExcludingProtected is `pulumi destroy --exclude-protected`, which the Automation API does not
// offer: protected resources (the CA, the CNPG Cluster, namespaces) stay, everything else goes.
func destroyExcludingProtected(ctx context.Context, s auto.Stack, out io.Writer) (map[string]int, error) {
	if err := cli(ctx, s, out, "destroy", "--yes", "--skip-preview", "--exclude-protected", "--suppress-progress",
		"--color", "never"); err != nil {
		return nil, err
	}
	history, err := s.History(ctx, 1, 1)
	if err != nil || len(history) == 0 {
		return nil, err
	}
	return updateChanges(history[0]), nil
}

// cli runs a pulumi command on the stack, in its workspace and environment, for what the Automation API
// lacks.
func cli(ctx context.Context, s auto.Stack, out io.Writer, args ...string) error {
	ws := s.Workspace()
	env := os.Environ()
	for k, v := range ws.GetEnvVars() {
		env = append(env, k+"="+v)
	}
	args = append(args, "--stack", s.Name(), "--non-interactive")
	_, _, _, err := ws.PulumiCommand().Run(ctx, ws.WorkDir(), nil, []io.Writer{out}, []io.Writer{out}, env, args...)
	return err
}

// changes folds Pulumi's step kinds into the summary's columns.
func changes(counts map[string]int) map[string]int {
	out := map[string]int{}
	for op, n := range counts {
		switch op {
		case "create", "update", "delete", "same":
			out[op] += n
		case "replace":
			out["replace"] += n
		case "create-replacement", "delete-replaced", "discard-replaced", "import-replacement":
			// counted once, as the replace step
		case "import":
			out["create"] += n
		case "read", "refresh", "discard":
			out["same"] += n
		default:
			out[op] += n
		}
	}
	return out
}

func previewChanges(summary map[apitype.OpType]int) map[string]int {
	counts := map[string]int{}
	for op, n := range summary {
		counts[string(op)] += n
	}
	return changes(counts)
}

func updateChanges(summary auto.UpdateSummary) map[string]int {
	if summary.ResourceChanges == nil {
		return map[string]int{}
	}
	return changes(*summary.ResourceChanges)
}

// settleLocks checks a file backend's locks on the stack; with --recover it removes the stale ones and
// settles the operations the killed run left pending, so the operation can run. It runs under the stack's
// lease (except for a preview, which takes no lock), so no other fleet run recovers the stack meanwhile.
func (r runner) settleLocks(ctx context.Context, s auto.Stack, stack string, out io.Writer) error {
	if r.backendDir == "" {
		return nil
	}
	locks, err := Locks(r.backendDir, r.qualified(stack))
	if err != nil {
		return err
	}
	host, err := ThisHost()
	if err != nil {
		return err
	}
	if r.Op == "preview" { // a preview takes no lock: a lock is news, not a reason to stop
		if _, err := lockProblem("up", stack, locks, host, false); err != nil {
			fmt.Fprintf(out, "note: %v\n", err)
		}
		return nil
	}
	stale, err := lockProblem(r.Op, stack, locks, host, r.Recover)
	if err != nil {
		return err
	}
	if len(stale) > 0 {
		fmt.Fprintf(out, "removing %d stale lock(s): %s\n", len(stale), joinLocks(stale))
		if err := removeStale(stale); err != nil {
			return fmt.Errorf("removing the stale lock: %w", err)
		}
	}
	if !r.Recover {
		return nil
	}
	return settlePending(ctx, s, out)
}

// settlePending imports the Kubernetes objects a killed run created but did not record (the next up
// would otherwise fail on `already exists`), then clears whatever else is still pending.
func settlePending(ctx context.Context, s auto.Stack, out io.Writer) error {
	state, err := s.Export(ctx)
	if err != nil {
		return err
	}
	creates, others, err := pendingCreates(state.Deployment)
	if err != nil || (len(creates) == 0 && others == 0) {
		return err
	}
	if len(creates) > 0 {
		fmt.Fprintf(out, "importing %d object(s) the interrupted run created but did not record\n", len(creates))
		if _, err := s.Refresh(ctx, optrefresh.ImportPendingCreates(creates), optrefresh.ProgressStreams(out),
			optrefresh.Color("never"), optrefresh.SuppressProgress()); err != nil {
			return fmt.Errorf("importing pending creates: %w", err)
		}
	}
	if others > 0 {
		fmt.Fprintf(out, "clearing %d pending operation(s) that cannot be imported\n", others)
		if _, err := s.Refresh(ctx, optrefresh.ClearPendingCreates(), optrefresh.ProgressStreams(out),
			optrefresh.Color("never"), optrefresh.SuppressProgress()); err != nil {
			return fmt.Errorf("clearing pending creates: %w", err)
		}
	}
	return nil
}

// pendingCreates reads a deployment's pending operations: the creates of Kubernetes objects, with the IDs
// the kubernetes provider imports them by ([namespace/]name), and how many others there are.
func pendingCreates(deployment json.RawMessage) ([]optrefresh.PendingCreate, int, error) {
	var d struct {
		Pending []struct {
			Type     string `json:"type"`
			Resource struct {
				URN    string         `json:"urn"`
				Type   string         `json:"type"`
				Inputs map[string]any `json:"inputs"`
			} `json:"resource"`
		} `json:"pending_operations"`
	}
	if err := json.Unmarshal(deployment, &d); err != nil {
		return nil, 0, fmt.Errorf("reading the stack's state: %w", err)
	}
	var creates []optrefresh.PendingCreate
	others := 0
	for _, p := range d.Pending {
		id := kubernetesID(p.Resource.Type, p.Resource.Inputs)
		if p.Type != "creating" || id == "" {
			others++
			continue
		}
		creates = append(creates, optrefresh.PendingCreate{URN: p.Resource.URN, ID: id})
	}
	return creates, others, nil
}

// kubernetesID is the import ID of a Kubernetes object from its inputs, or "" for anything else.
func kubernetesID(typ string, inputs map[string]any) string {
	if !strings.HasPrefix(typ, "kubernetes:") || strings.HasPrefix(typ, "kubernetes:helm.sh/") || typ == "pulumi:providers:kubernetes" {
		return ""
	}
	meta, _ := inputs["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	if name == "" {
		return ""
	}
	if ns, _ := meta["namespace"].(string); ns != "" {
		return ns + "/" + name
	}
	return name
}

// prefixWriter writes whole lines, each prefixed with the stack's name, so parallel stacks interleave by
// line, never mid-line.
type prefixWriter struct {
	mu     *sync.Mutex
	out    io.Writer
	prefix string
	buf    bytes.Buffer
}

var outMu sync.Mutex

func newPrefixWriter(out io.Writer, stack string) *prefixWriter {
	return &prefixWriter{mu: &outMu, out: out, prefix: "[" + stack + "] "}
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			w.buf.Write(line) // keep the partial line
			return len(p), nil
		}
		w.emit(line)
	}
}

// Flush writes a last line that had no newline.
func (w *prefixWriter) Flush() {
	if w.buf.Len() > 0 {
		w.emit(append(w.buf.Bytes(), '\n'))
		w.buf.Reset()
	}
}

func (w *prefixWriter) emit(line []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fmt.Fprintf(w.out, "%s%s", w.prefix, line)
}

// Open returns one of the project's stacks for Automation API calls (it must exist). Every command it runs
// gets env on top of this process's environment; the stack is never selected (see stackWorkspace), so
// parallel callers do not race on the workspace file.
func Open(ctx context.Context, root, stack string, env map[string]string, opts ...auto.LocalWorkspaceOption) (auto.Stack, error) {
	ws, err := auto.NewLocalWorkspace(ctx, append([]auto.LocalWorkspaceOption{auto.WorkDir(root), auto.EnvVars(env)}, opts...)...)
	if err != nil {
		return auto.Stack{}, err
	}
	return auto.SelectStack(ctx, stack, stackWorkspace{Workspace: ws, env: env})
}
