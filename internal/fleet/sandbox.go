package fleet

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"nautobot-worker/stacks/site"
)

// A preview never creates a stack in the backend: a pull request that adds a stack file would otherwise
// create it in the production backend before anyone approved it. A stack the backend lacks previews in a
// sandbox instead: a file backend in a temporary directory, with a copy of the stack file in a project
// directory of its own (stack init writes the secrets provider's salt there, never into the real file),
// and, for a site, a stack that holds a copy of the deployed global stack's outputs for its StackReference.
type sandbox struct {
	dir     string // removed when the run ends
	project string // the sandbox's project directory
	ws      auto.Workspace
	env     map[string]string // the sandbox backend
	// passphrase is for a stack whose real provider the sandbox's file backend cannot serve.
	passphrase string
	// globalOutputs are the deployed global stack's outputs (nil: the backend has no global stack).
	globalOutputs auto.OutputMap
	globalErr     error
}

// newSandbox prepares the sandbox of a preview: its backend and, when the backend has a deployed global
// stack, the copy of its outputs.
func (r runner) newSandbox(ctx context.Context) (*sandbox, error) {
	dir, err := os.MkdirTemp("", "nautobot-fleet-sandbox-")
	if err != nil {
		return nil, err
	}
	sb := &sandbox{dir: dir, project: filepath.Join(dir, "project")}
	fail := func(err error) (*sandbox, error) { return nil, errors.Join(err, os.RemoveAll(dir)) }
	if err := os.MkdirAll(filepath.Join(dir, "state"), 0o700); err != nil {
		return fail(err)
	}
	if err := os.MkdirAll(sb.project, 0o700); err != nil {
		return fail(err)
	}
	// The copy's program is the project's own, so Pulumi runs the plugins where the stack files' paths resolve.
	program, err := ProgramDir(r.Root)
	if err != nil {
		return fail(err)
	}
	text, err := os.ReadFile(filepath.Join(r.Root, "Pulumi.yaml"))
	if err != nil {
		return fail(err)
	}
	project := &yamlText{text: string(text)}
	if err := project.set([]string{"main"}, program); err != nil {
		return fail(fmt.Errorf("Pulumi.yaml: %w", err))
	}
	if err := os.WriteFile(filepath.Join(sb.project, "Pulumi.yaml"), []byte(project.text), 0o600); err != nil {
		return fail(err)
	}
	phrase := make([]byte, 16)
	if _, err := rand.Read(phrase); err != nil {
		return fail(err)
	}
	sb.passphrase = hex.EncodeToString(phrase)
	sb.env = map[string]string{"PULUMI_BACKEND_URL": "file://" + filepath.ToSlash(filepath.Join(dir, "state"))}
	if sb.ws, err = auto.NewLocalWorkspace(ctx, auto.WorkDir(sb.project), auto.Pulumi(r.ws.PulumiCommand()), auto.EnvVars(sb.env)); err != nil {
		return fail(err)
	}
	if hasStack(r.existing, GlobalStack, r.address(GlobalStack), r.qualified(GlobalStack)) {
		sb.globalOutputs, sb.globalErr = r.deployedGlobalOutputs(ctx)
	}
	return sb, nil
}

// deployedGlobalOutputs reads the global stack's outputs, secrets included, from the real backend.
func (r runner) deployedGlobalOutputs(ctx context.Context) (auto.OutputMap, error) {
	secrets, err := r.secretsEnv(GlobalStack)
	if err != nil {
		return nil, err
	}
	s, err := Open(ctx, r.Root, r.address(GlobalStack), secrets, auto.Pulumi(r.ws.PulumiCommand()))
	if err != nil {
		return nil, err
	}
	return s.Outputs(ctx)
}

// environment is env with the sandbox's backend over it: every command on a sandbox stack runs with it, so
// none reaches the real backend.
func (sb *sandbox) environment(env map[string]string) map[string]string {
	out := maps.Clone(env)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, sb.env)
	return out
}

// sandboxOnce makes one run's sandbox when its first stack needs it, and its global copy once.
type sandboxOnce struct {
	once, globalOnce sync.Once
	sb               *sandbox
	err, globalErr   error
}

func (r runner) sandbox(ctx context.Context) (*sandbox, error) {
	r.sandboxes.once.Do(func() { r.sandboxes.sb, r.sandboxes.err = r.newSandbox(ctx) })
	return r.sandboxes.sb, r.sandboxes.err
}

func (r runner) sandboxGlobal(ctx context.Context, sb *sandbox, env map[string]string) error {
	r.sandboxes.globalOnce.Do(func() { r.sandboxes.globalErr = r.copyGlobalOutputs(ctx, sb, env) })
	return r.sandboxes.globalErr
}

// close removes the sandbox, if the run made one.
func (s *sandboxOnce) close() error {
	if s.sb == nil {
		return nil
	}
	return os.RemoveAll(s.sb.dir)
}

// waiting is why a sandboxed site's preview cannot show everything yet ("" when it can).
func (sb *sandbox) waiting(stack string) string {
	site := strings.TrimPrefix(stack, SitePrefix)
	if sb.globalOutputs == nil {
		return "waits for global: the backend has no global stack yet, so the site has no outputs to read; its preview runs once global's first up is done"
	}
	sites, _ := sb.globalOutputs["sites"].Value.([]any)
	if !slices.Contains(sites, any(site)) {
		return fmt.Sprintf("waits for global: the deployed global stack does not list %s yet; this plan is the site's, its certificate comes with global's up", site)
	}
	return ""
}

// sandboxStackText is the stack's file with edits applied, for its copy in the sandbox.
func (r runner) sandboxStackText(stack string, edit func(*yamlText) error) ([]byte, error) {
	path := r.stackFilePath(stack)
	text, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return []byte("config: {}\n"), nil
	}
	if err != nil {
		return nil, err
	}
	y := &yamlText{text: string(text)}
	if edit != nil {
		if err := edit(y); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return []byte(y.text), nil
}

// initSandboxStack creates stack in the sandbox backend, its stack file the given text.
func initSandboxStack(ctx context.Context, sb *sandbox, stack string, text []byte, provider string, env map[string]string) error {
	env = sb.environment(env)
	if err := os.WriteFile(filepath.Join(sb.project, "Pulumi."+stack+".yaml"), text, 0o600); err != nil {
		return err
	}
	args := []string{"stack", "init", stack, "--no-select"}
	if provider != "" && provider != "default" {
		args = append(args, "--secrets-provider", provider)
	}
	var stderr bytes.Buffer
	if _, _, _, err := sb.ws.PulumiCommand().Run(ctx, sb.project, nil, nil, []io.Writer{&stderr}, environ(env), args...); err != nil {
		return fmt.Errorf("creating %s in the preview's sandbox: %w: %s", stack, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// environ is this process's environment with env on top.
func environ(env map[string]string) []string {
	out := os.Environ()
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// sandboxSecrets is how a stack keeps its secrets in the sandbox: its file's text there, the provider it is
// created with, and its environment (its own, with the sandbox backend). A file without encrypted values
// runs under the sandbox's own passphrase, its salt or key dropped, as does the copy of the global stack's
// outputs, so every such site reads the copy's secret outputs; a file with encrypted values keeps its own
// provider, the one that can decrypt them.
func (r runner) sandboxSecrets(sb *sandbox, stack string, text []byte, stackEnv map[string]string) ([]byte, string, map[string]string, error) {
	env := sb.environment(stackEnv)
	if !encryptedValue.Match(text) {
		env["PULUMI_CONFIG_PASSPHRASE"] = sb.passphrase
		return secretsProviderState.ReplaceAll(text, nil), "passphrase", env, nil
	}
	f, err := r.stackFile(stack)
	if err != nil {
		return nil, "", nil, err
	}
	provider := r.secretsProvider(stack, f)
	if (provider == "" || provider == "default") && r.cloud {
		// Pulumi Cloud's per-stack key cannot serve a file backend: these values stay unreadable here.
		return nil, "", nil, fmt.Errorf("its stack file holds values encrypted by Pulumi Cloud's key of a stack that does not exist yet; remove them (set them after the stack's first up)")
	}
	return text, provider, env, nil
}

var (
	// encryptedValue is a `secure:` config value of a stack file.
	encryptedValue = regexp.MustCompile(`(?m)^\s*(- )?secure:\s`)
	// secretsProviderState is the top-level keys where Pulumi keeps a stack file's secrets provider.
	secretsProviderState = regexp.MustCompile(`(?m)^(encryptionsalt|secretsprovider|encryptedkey):.*\n?`)
)

// copyGlobalOutputs makes the sandbox's global stack: an update whose only outputs are the deployed global
// stack's, secret where they are secret, for a sandboxed site's StackReference.
func (r runner) copyGlobalOutputs(ctx context.Context, sb *sandbox, env map[string]string) error {
	// In the sandbox's backend, under the sandbox's passphrase, which the sites read it with.
	env = sb.environment(env)
	env["PULUMI_CONFIG_PASSPHRASE"] = sb.passphrase
	if err := initSandboxStack(ctx, sb, GlobalStack, []byte("config: {}\n"), "passphrase", env); err != nil {
		return err
	}
	program := func(ctx *pulumi.Context) error {
		for _, k := range slices.Sorted(maps.Keys(sb.globalOutputs)) {
			v := sb.globalOutputs[k]
			if v.Secret {
				ctx.Export(k, pulumi.ToSecret(pulumi.Any(v.Value)))
			} else {
				ctx.Export(k, pulumi.Any(v.Value))
			}
		}
		return nil
	}
	ws, err := r.newStackWorkspace(ctx, sb.project, env, program)
	if err != nil {
		return err
	}
	s, err := auto.SelectStack(ctx, GlobalStack, ws)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if _, err := s.Up(ctx, optup.ProgressStreams(&out), optup.ErrorProgressStreams(&out), optup.Color("never"), optup.SuppressProgress()); err != nil {
		return fmt.Errorf("copying the global stack's outputs into the preview's sandbox: %w: %s", err, strings.TrimSpace(out.String()))
	}
	return nil
}

// previewInSandbox previews a stack the backend does not have yet (see sandbox).
func (r runner) previewInSandbox(ctx context.Context, stack string, stackEnv map[string]string, out io.Writer, steps *[]Step) (map[string]int, string, error) {
	sb, err := r.sandbox(ctx)
	if err != nil {
		return nil, "", err
	}
	var note string
	var edit func(*yamlText) error
	if stack != GlobalStack {
		if sb.globalErr != nil {
			return nil, "", fmt.Errorf("reading the deployed global stack's outputs for the site's preview: %w", sb.globalErr)
		}
		if note = sb.waiting(stack); sb.globalOutputs == nil {
			return nil, note, nil
		}
		if err := r.sandboxGlobal(ctx, sb, stackEnv); err != nil {
			return nil, "", err
		}
		// The site reads the sandbox's copy, whatever global stack its file names, and, being new, may
		// preview before the global stack lists it.
		edit = func(y *yamlText) error {
			if err := y.set([]string{"config", r.project + ":globalStack"}, "organization/"+r.project+"/"+GlobalStack); err != nil {
				return err
			}
			return y.set([]string{"config", r.project + ":" + site.PreviewBeforeGlobalKey}, "true")
		}
	}
	text, err := r.sandboxStackText(stack, edit)
	if err != nil {
		return nil, note, err
	}
	text, provider, env, err := r.sandboxSecrets(sb, stack, text, stackEnv)
	if err != nil {
		return nil, note, fmt.Errorf("previewing %s in the sandbox: %w", stack, err)
	}
	if err := initSandboxStack(ctx, sb, stack, text, provider, env); err != nil {
		return nil, note, err
	}
	program, err := r.inlineProgram(ctx, sb.ws, stack, "")
	if err != nil {
		return nil, note, err
	}
	ws, err := r.newStackWorkspace(ctx, sb.project, env, program)
	if err != nil {
		return nil, note, err
	}
	s, err := auto.SelectStack(ctx, stack, ws)
	if err != nil {
		return nil, note, err
	}
	fmt.Fprintf(out, "not in the backend yet: previewed in a sandbox (a temporary file backend), so this preview creates no stack\n")
	recorder := NewStepRecorder()
	changes, err := operate(ctx, s, "preview", r.ExpectNoChanges, "", out, recorder.Events())
	*steps = recorder.Steps()
	return changes, note, err
}
