package workflows

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// pulumiAction installs the released Pulumi CLI (with no command, it only installs).
const pulumiAction = "pulumi/actions"

// The GitHub Environments whose secrets the jobs get: a preview runs a pull request's code, so it has
// credentials of its own, narrower than the deploy's (README, "CI: preview on pull requests, deploy on main").
var environments = map[string]string{"preview.yml": "preview", "deploy.yml": "production"}

// The setup action's two toolchains: the released CLI on GitHub-hosted runners, the source build on
// self-hosted runners without internet access.
const (
	releaseToolchain = "${{ inputs.toolchain != 'source' }}"
	sourceToolchain  = "${{ inputs.toolchain == 'source' }}"
)

var (
	secretUse = regexp.MustCompile(`(?i)\bsecrets\.\w`)
	// wholeSecrets is the secrets context itself (toJSON(secrets), ${{ secrets }}), not one secret of it.
	wholeSecrets = regexp.MustCompile(`(?i)(?:^|[^.\w-])secrets\s*(.?)`)
)

// checkNoWholeSecrets finds every expression that hands over the whole secrets context: whatever reads it
// (a local action, the pull request's Go program) would get every secret, the deploy's included.
func checkNoWholeSecrets(text string) []string {
	var problems []string
	for _, expr := range expression.FindAllString(text, -1) {
		for _, m := range wholeSecrets.FindAllStringSubmatch(strings.TrimSuffix(strings.TrimPrefix(expr, "${{"), "}}"), -1) {
			if m[1] != "." && m[1] != "[" {
				problems = append(problems, fmt.Sprintf("%s: passes the whole secrets context; name each secret (secrets.NAME)", expr))
			}
		}
	}
	return problems
}

// checkSecrets holds the jobs of preview.yml and deploy.yml that use secrets to their GitHub Environment.
func checkSecrets(file, where string, j job) []string {
	var problems []string
	if j.Secrets.Kind == yaml.ScalarNode && j.Secrets.Value == "inherit" {
		problems = append(problems, fmt.Sprintf("%s: secrets: inherit passes every secret; name the ones the workflow needs", where))
	}
	want, ok := environments[file]
	if !ok {
		return problems
	}
	text, err := yaml.Marshal(j)
	if err != nil {
		return append(problems, fmt.Sprintf("%s: %v", where, err))
	}
	if got := environmentName(j.Environment); secretUse.Match(text) && got != want {
		problems = append(problems, fmt.Sprintf("%s: uses secrets, so it must run in the GitHub Environment %q (environment: %s), not %q",
			where, want, want, got))
	}
	return problems
}

func environmentName(n yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		return n.Value
	case yaml.MappingNode:
		var env struct {
			Name string `yaml:"name"`
		}
		if n.Decode(&env) == nil {
			return env.Name
		}
	}
	return ""
}

// checkSetupUse checks what a job gives the setup action and that it saves the Go cache the action restored
// whatever the job's outcome (a preview of a failing stack is when the next run most needs it warm).
func checkSetupUse(where string, j job) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(where+": "+format, args...)) }
	for _, s := range j.Steps {
		if s.Uses != setupAction {
			continue
		}
		if !strings.Contains(s.With["toolchain"], "vars.PULUMI_TOOLCHAIN") {
			add("%s: pass toolchain: the repository variable PULUMI_TOOLCHAIN", setupAction)
		}
		if m := secretReference.FindStringSubmatch(s.With["kubeconfigs"]); m == nil || m[1] != "KUBECONFIGS" {
			add("%s: pass kubeconfigs: ${{ secrets.KUBECONFIGS }}", setupAction)
		}
		// The global stack may have a passphrase of its own (README, Going to production).
		if m := secretReference.FindStringSubmatch(s.With["global-passphrase"]); m == nil || m[1] != "PULUMI_GLOBAL_CONFIG_PASSPHRASE" {
			add("%s: pass global-passphrase: ${{ secrets.PULUMI_GLOBAL_CONFIG_PASSPHRASE }}", setupAction)
		}
		// The fleet runner's backend settings come from the repository's variables, the same for both jobs.
		for _, v := range []string{"FLEET_ORG", "FLEET_SECRETS_PROVIDER", "FLEET_GLOBAL_SECRETS_PROVIDER"} {
			if want := "${{ vars." + v + " }}"; j.Env[v] != want {
				add("set env %s: %s, the fleet runner's setting of that name", v, want)
			}
		}
		if s.ID == "" {
			add("%s: give it an id, so a later step can save the Go cache it restored", setupAction)
			continue
		}
		outputs := "steps." + s.ID + ".outputs."
		saved := slices.ContainsFunc(j.Steps, func(save step) bool {
			return strings.HasPrefix(save.Uses, "actions/cache/save@") && strings.Contains(save.With["key"], outputs+"go-cache-key") &&
				strings.Contains(save.With["path"], outputs+"go-cache-paths") &&
				(strings.Contains(save.If, "!cancelled()") || strings.Contains(save.If, "always()"))
		})
		if !saved {
			add("save the Go cache with actions/cache/save (key %sgo-cache-key, path %sgo-cache-paths) under if: !cancelled(), so a failed run keeps it too",
				outputs, outputs)
		}
	}
	return problems
}

// checkCommentLimit holds preview.yml's Markdown summaries, which become one PR comment, to a size limit.
func checkCommentLimit(w workflow) []string {
	var problems []string
	for _, jobName := range sortedKeys(w.Jobs) {
		for _, s := range w.Jobs[jobName].Steps {
			for _, words := range simpleCommands(s.Run) {
				words = commandWords(words)
				if len(words) < 3 || words[0] != "go" || words[1] != "run" || filepath.Clean(words[2]) != fleetCommand {
					continue
				}
				markdown := slices.ContainsFunc(words, func(w string) bool { return w == "--markdown" || strings.HasPrefix(w, "--markdown=") })
				limited := slices.ContainsFunc(words, func(w string) bool { return strings.HasPrefix(w, "--markdown-limit") })
				if markdown && !limited {
					problems = append(problems, fmt.Sprintf("jobs.%s: the fleet's --markdown becomes the PR comment: pass --markdown-limit (GitHub refuses a comment over 65536 characters)", jobName))
				}
			}
		}
	}
	return problems
}

// pins are the toolchain versions the Go modules pin: the CLI (tools/pulumi-cli) and, per provider SDK the
// program requires, its plugin, which the SDK asks for at its own version.
type pins struct {
	cli     string            // without the v, as pulumi/actions takes it
	plugins map[string]string // provider name -> vX.Y.Z
}

var (
	cliRequire      = regexp.MustCompile(`(?m)^\s*(?:require\s+)?github\.com/pulumi/pulumi/pkg/v3 v(\S+)\s*$`)
	providerRequire = regexp.MustCompile(`(?m)^\s*(?:require\s+)?github\.com/pulumi/pulumi-([\w-]+)/sdk/v\d+ (v\S+)\s*$`)
)

func readPins(root string) (pins, error) {
	cliMod, err := os.ReadFile(filepath.Join(root, "tools", "pulumi-cli", "go.mod"))
	if err != nil {
		return pins{}, err
	}
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return pins{}, err
	}
	m := cliRequire.FindSubmatch(cliMod)
	if m == nil {
		return pins{}, fmt.Errorf("tools/pulumi-cli/go.mod requires no github.com/pulumi/pulumi/pkg/v3")
	}
	p := pins{cli: string(m[1]), plugins: map[string]string{}}
	for _, m := range providerRequire.FindAllSubmatch(mod, -1) {
		p.plugins[string(m[1])] = string(m[2])
	}
	if len(p.plugins) == 0 {
		return pins{}, fmt.Errorf("go.mod requires no provider SDK github.com/pulumi/pulumi-<name>/sdk")
	}
	return p, nil
}

// checkSetupInstall checks the setup action's toolchain: on the release path pulumi/actions installs the
// pinned CLI and `pulumi plugin install` every pinned plugin, the source build runs only when asked for,
// and setup-go leaves the Go cache to the action's own restore (and the job's save).
func checkSetupInstall(p pins, data []byte) []string {
	var a action
	if err := yaml.Unmarshal(data, &a); err != nil {
		return []string{fmt.Sprintf("not valid YAML: %v", err)}
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	installsCLI, restoresGo := false, false
	installed := map[string]string{}
	for i, s := range a.Runs.Steps {
		where := fmt.Sprintf("runs.steps[%d]", i)
		switch {
		case strings.HasPrefix(s.Uses, pulumiAction+"@"):
			installsCLI = true
			if s.If != releaseToolchain {
				add("%s: %s runs on the release toolchain only: if: %s", where, pulumiAction, releaseToolchain)
			}
			if s.With["pulumi-version"] != p.cli {
				add("%s: pulumi-version must be %s, the CLI tools/pulumi-cli/go.mod pins, not %q", where, p.cli, s.With["pulumi-version"])
			}
		case strings.HasPrefix(s.Uses, "actions/setup-go@"):
			if s.With["cache"] != "false" {
				add("%s: setup-go's own cache is saved only when the job succeeds: cache: false (the action restores it, the job saves it)", where)
			}
		case strings.HasPrefix(s.Uses, "actions/cache/restore@"):
			restoresGo = true
		}
		for _, words := range simpleCommands(s.Run) {
			words = commandWords(words)
			switch {
			case len(words) >= 2 && words[0] == "make" && slices.Contains(words[1:], "tools") && s.If != sourceToolchain:
				add("%s: the source build (make tools) runs only when asked for: if: %s", where, sourceToolchain)
			case len(words) == 6 && words[0] == "pulumi" && words[1] == "plugin" && words[2] == "install" && words[3] == "resource":
				if s.If != releaseToolchain {
					add("%s: pulumi plugin install runs on the release toolchain: if: %s", where, releaseToolchain)
				}
				installed[words[4]] = words[5]
			}
		}
		if strings.Contains(s.Run, "pulumi plugin install") && !strings.Contains(s.Run, "v"+p.cli) {
			add("%s: check that `pulumi version` is the pinned v%s before installing plugins", where, p.cli)
		}
	}
	if !installsCLI {
		add("no %s step: GitHub-hosted runners install the released CLI", pulumiAction)
	}
	if !restoresGo {
		add("no actions/cache/restore step for the Go module and build caches")
	}
	for _, name := range sortedKeys(p.plugins) {
		if installed[name] != p.plugins[name] {
			add("the %s plugin: `pulumi plugin install resource %s %s` (go.mod's SDK version) on the release toolchain, found %q", name, name,
				p.plugins[name], installed[name])
		}
	}
	return problems
}

func TestSetupActionInstallsThePinnedRelease(t *testing.T) {
	root := repoRoot(t)
	p, err := readPins(root)
	require.NoError(t, err)
	require.Contains(t, p.plugins, "kubernetes")
	data, err := os.ReadFile(filepath.Join(root, setupAction, "action.yml"))
	require.NoError(t, err)
	require.Empty(t, checkSetupInstall(p, data))

	// The source build makes the same versions.
	tools, err := os.ReadFile(filepath.Join(root, "scripts", "tools.sh"))
	require.NoError(t, err)
	require.Contains(t, string(tools), "\ncli_version=v"+p.cli+"\n")
	require.Contains(t, string(tools), "\nk8s_version="+strings.TrimPrefix(p.plugins["kubernetes"], "v")+"\n")

	text := string(data)
	cases := []struct{ name, from, to, want string }{
		{"another CLI version", "pulumi-version: " + p.cli, "pulumi-version: 3.999.0", "pulumi-version must be " + p.cli},
		{"a plugin left out", "        pulumi plugin install resource tls " + p.plugins["tls"] + "\n", "", "the tls plugin"},
		{"a plugin at another version", "resource kubernetes " + p.plugins["kubernetes"], "resource kubernetes v4.0.0", "the kubernetes plugin"},
		{"the release CLI on every toolchain", "    - name: Install the pinned Pulumi CLI\n      if: " + releaseToolchain + "\n", "    - name: Install the pinned Pulumi CLI\n", "release toolchain only"},
		{"the source build on every toolchain", "      if: " + sourceToolchain + "\n      shell: bash\n      run: |\n        without", "      shell: bash\n      run: |\n        without", "only when asked for"},
		{"setup-go's own cache", "        cache: false\n", "", "cache: false"},
		{"no CLI install", "uses: " + pulumiAction + "@", "uses: example/other@", "no " + pulumiAction + " step"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			broken := strings.Replace(text, tc.from, tc.to, 1)
			require.NotEqual(t, text, broken, "the case no longer applies to the action")
			problems := checkSetupInstall(p, []byte(broken))
			require.True(t, slices.ContainsFunc(problems, func(s string) bool { return strings.Contains(s, tc.want) }),
				"want a problem containing %q, got:\n%s", tc.want, strings.Join(problems, "\n"))
		})
	}
}

func TestReadPinsFollowsTheGoModules(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"tools/pulumi-cli/go.mod": "module x\n\nrequire github.com/pulumi/pulumi/pkg/v3 v3.1.2\n",
		"go.mod": "module y\n\nrequire (\n\tgithub.com/pulumi/pulumi-kubernetes/sdk/v4 v4.5.6\n\tgithub.com/pulumi/pulumi-tls/sdk/v5 v5.0.1\n" +
			"\tgithub.com/pulumi/pulumi/sdk/v3 v3.1.2\n\tgithub.com/pulumi/pulumi-random/sdk/v4 v4.1.0 // indirect\n)\n",
	}
	for name, content := range files {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, name), []byte(content), 0o644))
	}
	p, err := readPins(root)
	require.NoError(t, err)
	require.Equal(t, pins{cli: "3.1.2", plugins: map[string]string{"kubernetes": "v4.5.6", "tls": "v5.0.1"}}, p,
		"an indirect provider SDK is no plugin the program asks for")
}

func TestNoWholeSecretsContext(t *testing.T) {
	cases := []struct {
		text string
		bad  bool
	}{
		{"x: ${{ toJSON(secrets) }}", true},
		{"x: ${{ tojson( secrets ) }}", true},
		{"x: ${{ secrets }}", true},
		{"x: ${{ secrets.KUBECONFIGS }}", false},
		{"x: ${{ secrets['KUBECONFIGS'] }}", false},
		{"x: ${{ inputs.secrets-json }}", false},
		{"secrets: toJSON(secrets) outside an expression is text", false},
	}
	for _, tc := range cases {
		require.Equal(t, tc.bad, len(checkNoWholeSecrets(tc.text)) > 0, tc.text)
	}
}
