// Package workflows checks the GitHub Actions workflows and the local composite actions they use, without
// GitHub: a workflow is only ever run after it is merged, so a typo in a `run:` script, a make target that
// was renamed, a flag the fleet runner does not have or an action that floats to a new release would
// otherwise be found by the first deploy. Needs only Go and bash.
package workflows

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// fleetVerbs are the operations `go run ./cmd/fleet <verb>` accepts.
var fleetVerbs = []string{"preview", "up", "refresh", "destroy"}

// fleetCommand is the fleet runner's package, whose source defines the flags a workflow may pass it.
const fleetCommand = "cmd/fleet"

// backendSecrets reach the fleet runner only through a job's env: the Makefile's local defaults for them
// (a file backend, the demo passphrase) must never apply in CI.
var backendSecrets = []string{"PULUMI_BACKEND_URL", "PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE"}

const setupAction = "./.github/actions/setup"

type workflow struct {
	On          yaml.Node      `yaml:"on"`
	Permissions yaml.Node      `yaml:"permissions"`
	Concurrency yaml.Node      `yaml:"concurrency"`
	Jobs        map[string]job `yaml:"jobs"`
}

type job struct {
	RunsOn      yaml.Node         `yaml:"runs-on"`
	Uses        string            `yaml:"uses"`
	Permissions yaml.Node         `yaml:"permissions"`
	Environment yaml.Node         `yaml:"environment"`
	Secrets     yaml.Node         `yaml:"secrets"`
	Env         map[string]string `yaml:"env"`
	Steps       []step            `yaml:"steps"`
}

type step struct {
	ID    string            `yaml:"id"`
	If    string            `yaml:"if"`
	Uses  string            `yaml:"uses"`
	Run   string            `yaml:"run"`
	Shell string            `yaml:"shell"`
	With  map[string]string `yaml:"with"`
	Env   map[string]string `yaml:"env"`
}

type action struct {
	Runs struct {
		Using string `yaml:"using"`
		Steps []step `yaml:"steps"`
	} `yaml:"runs"`
}

// repo is what a workflow's commands are checked against.
type repo struct {
	root        string
	makeTargets map[string]bool
	// fleetFlags are the flags cmd/fleet defines, true when the flag takes a value; read from its source,
	// so a workflow is held to the runner as it is, not as it was documented.
	fleetFlags map[string]bool
}

func loadRepo(root string) (repo, error) {
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		return repo{}, err
	}
	flags, err := flagsDefinedIn(filepath.Join(root, fleetCommand))
	if err != nil {
		return repo{}, err
	}
	return repo{root: root, makeTargets: makeTargets(string(makefile)), fleetFlags: flags}, nil
}

// flagValueKinds are the flag package's definitions by method name, true when the flag takes a value;
// the ...Var forms name the flag in their second argument.
var flagValueKinds = map[string]bool{
	"String": true, "Int": true, "Int64": true, "Uint": true, "Uint64": true, "Float64": true, "Duration": true,
	"Func": true, "Bool": false, "BoolFunc": false,
}

// flagsDefinedIn finds the flag definitions with a literal name in a command's non-test sources:
// x.String("name", ...), x.BoolVar(&v, "name", ...), x.Var(v, "name", ...). A missing folder has none.
func flagsDefinedIn(dir string) (map[string]bool, error) {
	flags := map[string]bool{}
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			selector, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			kind, isVar := strings.CutSuffix(selector.Sel.Name, "Var")
			takesValue, isFlag := flagValueKinds[kind]
			if kind == "" || kind == "Text" {
				takesValue, isFlag = true, isVar
			}
			nameArg := 0
			if isVar {
				nameArg = 1
			}
			if !isFlag || len(call.Args) <= nameArg {
				return true
			}
			if lit, ok := call.Args[nameArg].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if name, err := strconv.Unquote(lit.Value); err == nil {
					flags[name] = takesValue
				}
			}
			return true
		})
	}
	return flags, nil
}

// makeTargets are the explicit rule targets of a Makefile: `a b: deps` lines, not `X := v` or `X ?= a:b`
// assignments, recipes, special targets such as .PHONY, or targets named by a variable or pattern.
func makeTargets(makefile string) map[string]bool {
	targets := map[string]bool{}
	for _, line := range strings.Split(makefile, "\n") {
		if line == "" || line[0] == '\t' || line[0] == ' ' || line[0] == '#' {
			continue
		}
		colon := strings.Index(line, ":")
		if colon < 0 || strings.HasPrefix(line[colon:], ":=") || strings.ContainsAny(line[:colon], "=") {
			continue
		}
		for _, name := range strings.Fields(line[:colon]) {
			if !strings.HasPrefix(name, ".") && !strings.ContainsAny(name, "$%") {
				targets[name] = true
			}
		}
	}
	return targets
}

var (
	pinnedAction    = regexp.MustCompile(`^[\w.-]+/[\w.-]+(/[^@\s]+)?@(v\d+\.\d+\.\d+|[0-9a-f]{40})$`)
	pinnedImage     = regexp.MustCompile(`^docker://[^@\s]+@sha256:[0-9a-f]{64}$`)
	exactGoVersion  = regexp.MustCompile(`^\d+\.\d+\.\d+$`)
	expression      = regexp.MustCompile(`(?s)\$\{\{.*?\}\}`)
	untrustedInput  = regexp.MustCompile(`(?s)\$\{\{[^}]*\b(github\.event\.|github\.head_ref)`)
	secretReference = regexp.MustCompile(`^\$\{\{\s*secrets\.(\w+)\s*\}\}$`)
	assignment      = regexp.MustCompile(`^[A-Za-z_]\w*(\[[^]]*\])?\+?=`)
	arrayExpansion  = regexp.MustCompile(`^\$\{(\w+)\[@\]\}$`)
)

// checkWorkflow returns the problems of one workflow file; name is its file name, which selects the
// policies of preview.yml and deploy.yml.
func checkWorkflow(r repo, name string, data []byte) []string {
	var w workflow
	if err := yaml.Unmarshal(data, &w); err != nil {
		return []string{fmt.Sprintf("not valid YAML: %v", err)}
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	triggers := triggerNodes(w.On)
	if len(triggers) == 0 {
		add("on: no trigger")
	}
	if len(w.Jobs) == 0 {
		add("jobs: none")
	}
	// Without a top-level permissions block every job gets the repository's default token scopes.
	if w.Permissions.Kind == 0 || w.Permissions.Value == "write-all" {
		add("permissions: declare them at the top level, never write-all")
	}
	for _, jobName := range sortedKeys(w.Jobs) {
		problems = append(problems, checkJob(r, "jobs."+jobName, w.Jobs[jobName])...)
		problems = append(problems, checkSecrets(name, "jobs."+jobName, w.Jobs[jobName])...)
	}
	problems = append(problems, checkNoWholeSecrets(string(data))...)

	switch name {
	case "preview.yml":
		if _, ok := triggers["pull_request"]; !ok {
			add("preview.yml: must run on pull_request")
		}
		problems = append(problems, checkCommentLimit(w)...)
		if !grants(w.Permissions, "pull-requests", "write") && !slices.ContainsFunc(sortedKeys(w.Jobs), func(j string) bool {
			return grants(w.Jobs[j].Permissions, "pull-requests", "write")
		}) {
			add("preview.yml: no job can write the PR comment: grant permissions: pull-requests: write")
		}
	case "deploy.yml":
		if push, ok := triggers["push"]; !ok || !slices.Contains(branches(push), "main") {
			add("deploy.yml: must run on push to main (on.push.branches)")
		}
		var concurrency struct {
			Group            string `yaml:"group"`
			CancelInProgress string `yaml:"cancel-in-progress"`
		}
		switch w.Concurrency.Kind {
		case yaml.ScalarNode:
			concurrency.Group = w.Concurrency.Value
		case yaml.MappingNode:
			if err := w.Concurrency.Decode(&concurrency); err != nil {
				add("deploy.yml: concurrency: %v", err)
			}
		}
		if concurrency.Group == "" {
			add("deploy.yml: concurrency: a group, so two deploys never run at once")
		}
		if concurrency.CancelInProgress != "" && concurrency.CancelInProgress != "false" {
			add("deploy.yml: concurrency: cancel-in-progress must be false: a cancelled up leaves pending operations")
		}
	}
	return problems
}

func checkJob(r repo, where string, j job) []string {
	if j.Uses != "" {
		return checkUses(r, where+".uses", j.Uses)
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if j.RunsOn.Kind == 0 {
		add("%s: no runs-on (or uses)", where)
	}
	if len(j.Steps) == 0 {
		add("%s: no steps", where)
	}
	toolchainReady := false
	problems = append(problems, checkSetupUse(where, j)...)
	for i, s := range j.Steps {
		stepWhere := fmt.Sprintf("%s.steps[%d]", where, i)
		facts, stepProblems := checkStep(r, stepWhere, s, false)
		problems = append(problems, stepProblems...)
		if facts.runsFleet {
			if !toolchainReady {
				add("%s: runs the fleet before `make tools` or %s", stepWhere, setupAction)
			}
			for _, name := range backendSecrets {
				if m := secretReference.FindStringSubmatch(j.Env[name]); m == nil || m[1] != name {
					add("%s: runs the fleet, so the job's env needs %s: ${{ secrets.%s }}", where, name, name)
				}
			}
		}
		toolchainReady = toolchainReady || facts.makesTools
	}
	return problems
}

// scriptFacts is what the rest of a job depends on a step having done.
type scriptFacts struct {
	runsFleet, makesTools bool
}

func checkStep(r repo, where string, s step, inComposite bool) (scriptFacts, []string) {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if (s.Uses == "") == (s.Run == "") {
		add("%s: needs exactly one of uses and run", where)
		return scriptFacts{}, problems
	}
	if s.Uses != "" {
		problems = append(problems, checkUses(r, where+".uses", s.Uses)...)
		if strings.HasPrefix(s.Uses, "actions/setup-go@") {
			problems = append(problems, checkSetupGo(where, s.With)...)
		}
		if untrustedInput.MatchString(s.With["script"]) {
			add("%s.with.script: pass event data through env:, never into the script text", where)
		}
		facts := scriptFacts{}
		if strings.HasPrefix(s.Uses, "./") {
			facts.makesTools = localActionMakesTools(r, s.Uses)
		}
		return facts, problems
	}
	// GitHub requires it in a composite action; there is no default to fall back to.
	if inComposite && s.Shell == "" {
		add("%s: a composite action's run step needs shell:", where)
	}
	facts, runProblems := checkRun(r, where+".run", s.Run)
	return facts, append(problems, runProblems...)
}

func checkUses(r repo, where, uses string) []string {
	switch {
	case strings.HasPrefix(uses, "./"):
		for _, file := range []string{"action.yml", "action.yaml"} {
			if _, err := os.Stat(filepath.Join(r.root, uses, file)); err == nil {
				return nil
			}
		}
		if strings.HasSuffix(uses, ".yml") || strings.HasSuffix(uses, ".yaml") {
			if _, err := os.Stat(filepath.Join(r.root, uses)); err == nil {
				return nil
			}
		}
		return []string{fmt.Sprintf("%s: %s: no such local action or workflow", where, uses)}
	case strings.HasPrefix(uses, "docker://"):
		if !pinnedImage.MatchString(uses) {
			return []string{fmt.Sprintf("%s: %s: pin the image by @sha256 digest", where, uses)}
		}
	case !pinnedAction.MatchString(uses):
		return []string{fmt.Sprintf("%s: %s is not pinned: use an exact vX.Y.Z tag or a full commit SHA", where, uses)}
	}
	return nil
}

func checkSetupGo(where string, with map[string]string) []string {
	if file, ok := with["go-version-file"]; ok {
		if file != "go.mod" {
			return []string{fmt.Sprintf("%s: go-version-file must be go.mod, not %q", where, file)}
		}
		return nil
	}
	if !exactGoVersion.MatchString(with["go-version"]) {
		return []string{fmt.Sprintf("%s: setup-go needs an exact go-version (X.Y.Z) or go-version-file: go.mod, not %q", where, with["go-version"])}
	}
	return nil
}

// localActionMakesTools is whether a local composite action installs the toolchain (`make tools`, or the
// released CLI through pulumi/actions), so the steps after it may run pulumi.
func localActionMakesTools(r repo, uses string) bool {
	data, err := os.ReadFile(filepath.Join(r.root, uses, "action.yml"))
	if err != nil {
		return false
	}
	var a action
	if yaml.Unmarshal(data, &a) != nil {
		return false
	}
	for _, s := range a.Runs.Steps {
		if strings.HasPrefix(s.Uses, pulumiAction+"@") {
			return true
		}
		for _, words := range simpleCommands(s.Run) {
			if words = commandWords(words); len(words) >= 2 && words[0] == "make" && slices.Contains(words[1:], "tools") {
				return true
			}
		}
	}
	return false
}

func checkRun(r repo, where, script string) (scriptFacts, []string) {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if untrustedInput.MatchString(script) {
		add("%s: pass event data through env:, never into the script text (it would run as shell)", where)
	}
	if err := bashSyntax(script); err != nil {
		add("%s: %v", where, err)
	}
	var facts scriptFacts
	for _, words := range simpleCommands(script) {
		words = commandWords(words)
		if len(words) == 0 {
			continue
		}
		switch name := words[0]; {
		case name == "make":
			targets, commandProblems := checkMake(r, words[1:])
			facts.makesTools = facts.makesTools || slices.Contains(targets, "tools")
			problems = append(problems, commandProblems...)
		case name == "go":
			fleet, commandProblems := checkGo(r, script, words[1:])
			facts.runsFleet = facts.runsFleet || fleet
			problems = append(problems, commandProblems...)
		case name == "bash" || name == "sh":
			if len(words) > 1 && !strings.HasPrefix(words[1], "-") {
				problems = append(problems, checkFile(r, words[1])...)
			}
		case strings.HasPrefix(name, "./") || strings.HasPrefix(name, "scripts/"):
			problems = append(problems, checkFile(r, name)...)
		}
	}
	for i, p := range problems {
		if !strings.HasPrefix(p, where) {
			problems[i] = where + ": " + p
		}
	}
	return facts, problems
}

// bashSyntax is `bash -n` of a run script, each ${{ }} expression standing in as a plain word.
func bashSyntax(script string) error {
	cmd := exec.Command("bash", "-n")
	cmd.Stdin = strings.NewReader(expression.ReplaceAllString(script, "GITHUB_EXPRESSION"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("bash -n: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

func checkMake(r repo, args []string) (targets, problems []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-C" || a == "-f" || strings.HasPrefix(a, "--directory") || strings.HasPrefix(a, "--file"):
			// Another Makefile: its targets are not the ones parsed here.
			return nil, []string{fmt.Sprintf("make %s: only the root Makefile's targets can be checked", a)}
		case strings.HasPrefix(a, "-"):
		case strings.Contains(a, "="):
		case strings.Contains(a, "$"):
			problems = append(problems, fmt.Sprintf("make %s: name the target literally so it can be checked", a))
		case !r.makeTargets[a]:
			problems = append(problems, fmt.Sprintf("make %s: no such target in the Makefile", a))
		default:
			targets = append(targets, a)
		}
	}
	return targets, problems
}

// goValueFlags are the go command's flags that take their value as the next word.
var goValueFlags = map[string]bool{
	"-o": true, "-C": true, "-p": true, "-tags": true, "-ldflags": true, "-gcflags": true, "-asmflags": true,
	"-run": true, "-skip": true, "-timeout": true, "-count": true, "-parallel": true, "-mod": true,
	"-modfile": true, "-overlay": true, "-exec": true, "-bench": true, "-benchtime": true, "-coverprofile": true,
	"-covermode": true, "-coverpkg": true, "-cpu": true, "-shuffle": true, "-toolexec": true, "-buildmode": true,
}

func checkGo(r repo, script string, args []string) (runsFleet bool, problems []string) {
	if len(args) == 0 {
		return false, nil
	}
	sub := args[0]
	if !slices.Contains([]string{"run", "test", "build", "vet", "install", "list"}, sub) {
		return false, nil
	}
	var packages []string
	i := 1
	for ; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			if goValueFlags[a] {
				i++
			}
			continue
		}
		packages = append(packages, a)
		if sub == "run" {
			break // the rest are the program's arguments
		}
	}
	for _, p := range packages {
		if p == "." || strings.HasPrefix(p, "./") {
			problems = append(problems, checkGoPackage(r, p)...)
		}
	}
	if sub == "run" && len(packages) == 1 && filepath.Clean(packages[0]) == "cmd/fleet" {
		return true, append(problems, checkFleet(r, script, args[i+1:])...)
	}
	return false, problems
}

func checkGoPackage(r repo, pattern string) []string {
	dir, recursive := strings.CutSuffix(pattern, "/...")
	found := false
	filepath.WalkDir(filepath.Join(r.root, dir), func(path string, d os.DirEntry, err error) error {
		switch {
		case err != nil || found:
			return filepath.SkipAll
		case d.IsDir() && !recursive && path != filepath.Join(r.root, dir):
			return filepath.SkipDir
		case !d.IsDir() && strings.HasSuffix(path, ".go"):
			found = true
		}
		return nil
	})
	if !found {
		return []string{fmt.Sprintf("go package %s: no Go files there", pattern)}
	}
	return nil
}

func checkFile(r repo, path string) []string {
	if strings.Contains(path, "$") {
		return nil // a runner path such as $RUNNER_TEMP/x: not in the repository
	}
	if info, err := os.Stat(filepath.Join(r.root, path)); err != nil || info.IsDir() {
		return []string{fmt.Sprintf("%s: no such file in the repository", path)}
	}
	return nil
}

// checkFleet checks the arguments of `go run ./cmd/fleet`. A flag may come from a bash array, as
// "${name[@]}", when the same script assigns that array literally, e.g. flags+=(--no-global).
func checkFleet(r repo, script string, args []string) []string {
	if len(r.fleetFlags) == 0 {
		return []string{fmt.Sprintf("fleet: found no flag definitions in %s", fleetCommand)}
	}
	if len(args) == 0 || !slices.Contains(fleetVerbs, args[0]) {
		return []string{fmt.Sprintf("fleet: the first argument must be one of %s, got %q", strings.Join(fleetVerbs, "|"), strings.Join(args, " "))}
	}
	var problems []string
	for i := 1; i < len(args); i++ {
		a := args[i]
		if m := arrayExpansion.FindStringSubmatch(a); m != nil {
			problems = append(problems, checkFleetArray(r, script, m[1])...)
			continue
		}
		if !strings.HasPrefix(a, "-") {
			problems = append(problems, fmt.Sprintf("fleet %s: %q is not a flag (flags must be literal, or a literal bash array)", args[0], a))
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		takesValue, known := r.fleetFlags[name]
		switch {
		case !known:
			problems = append(problems, fmt.Sprintf("fleet %s: unknown flag %s", args[0], a))
			if !hasValue && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++ // most likely its value, not a second problem
			}
		case takesValue && !hasValue:
			if i+1 >= len(args) || strings.HasPrefix(args[i+1], "-") {
				problems = append(problems, fmt.Sprintf("fleet %s: %s needs a value", args[0], a))
				continue
			}
			i++
		}
	}
	return problems
}

func checkFleetArray(r repo, script, name string) []string {
	assigned := regexp.MustCompile(`(?:^|[\s;&|(])`+regexp.QuoteMeta(name)+`\+?=\(([^)]*)\)`).FindAllStringSubmatch(script, -1)
	if assigned == nil {
		return []string{fmt.Sprintf("fleet: the array %s is not assigned literally in the script", name)}
	}
	var problems []string
	for _, m := range assigned {
		for _, words := range simpleCommands(m[1]) {
			for _, w := range words {
				if !strings.HasPrefix(w, "-") {
					continue
				}
				if _, known := r.fleetFlags[strings.TrimLeft(strings.SplitN(w, "=", 2)[0], "-")]; !known {
					problems = append(problems, fmt.Sprintf("fleet: unknown flag %s (in the array %s)", w, name))
				}
			}
		}
	}
	return problems
}

// commandWords drops what precedes the command itself: variable assignments and the reserved words and
// prefixes that start a command inside a compound one.
func commandWords(words []string) []string {
	for len(words) > 0 {
		w := words[0]
		if !assignment.MatchString(w) && !slices.Contains([]string{"if", "then", "else", "elif", "do", "while", "until", "!", "{", "}", "time", "exec"}, w) {
			break
		}
		words = words[1:]
	}
	return words
}

// simpleCommands splits a bash script into the words of each simple command, with quotes removed. It is a
// small subset of bash, enough to find the commands this test checks: operators and newlines end a command,
// comments, redirections and here-documents are dropped, and an expansion such as $(...), ${...} or <(...)
// stays one opaque word.
func simpleCommands(script string) [][]string {
	var (
		commands [][]string
		words    []string
		word     strings.Builder
		inWord   bool
		redirect bool // the word being read is a redirection's target
		heredocs []string
		runes    = []rune(script)
	)
	endWord := func() {
		if inWord {
			if !redirect {
				words = append(words, word.String())
			}
			redirect = false
		}
		word.Reset()
		inWord = false
	}
	endSimple := func() {
		endWord()
		if len(words) > 0 {
			commands = append(commands, words)
		}
		words, redirect = nil, false
	}
	for i := 0; i < len(runes); i++ {
		c := runes[i]
		next := func(k int) rune {
			if i+k < len(runes) {
				return runes[i+k]
			}
			return 0
		}
		switch {
		case c == '\\':
			if next(1) != '\n' {
				word.WriteRune(next(1))
				inWord = true
			}
			i++
		case c == '\'':
			end := i + 1
			for end < len(runes) && runes[end] != '\'' {
				end++
			}
			word.WriteString(string(runes[i+1 : min(end, len(runes))]))
			inWord, i = true, end
		case c == '"':
			i++
			for ; i < len(runes) && runes[i] != '"'; i++ {
				if runes[i] == '\\' && i+1 < len(runes) {
					i++
				}
				word.WriteRune(runes[i])
			}
			inWord = true
		case (c == '$' || c == '<' || c == '>') && (next(1) == '(' || (c == '$' && next(1) == '{')):
			end := closing(runes, i+1)
			word.WriteString(string(runes[i:end]))
			inWord, i = true, end-1
		case c == '<' && next(1) == '<' && next(2) != '<':
			endWord()
			i += 2
			if next(0) == '-' {
				i++
			}
			for i < len(runes) && runes[i] == ' ' {
				i++
			}
			start := i
			for i < len(runes) && !strings.ContainsRune(" \t\n;&|<>", runes[i]) {
				i++
			}
			heredocs = append(heredocs, strings.Trim(string(runes[start:i]), `'"`))
			i--
		case c == '<' || c == '>':
			if w := word.String(); inWord && strings.Trim(w, "0123456789") == "" {
				word.Reset() // the file descriptor of 2>file
				inWord = false
			}
			endWord()
			for next(1) == '<' || next(1) == '>' || next(1) == '&' {
				i++
			}
			redirect = true
		case c == '#' && !inWord:
			for next(1) != '\n' && next(1) != 0 {
				i++
			}
		case c == '\n':
			endSimple()
			for _, delimiter := range heredocs {
				for i+1 < len(runes) {
					line, _, _ := strings.Cut(string(runes[i+1:]), "\n")
					i += len([]rune(line)) + 1
					if strings.TrimLeft(line, "\t") == delimiter {
						break
					}
				}
			}
			heredocs = nil
		case strings.ContainsRune(";&|()`", c):
			endSimple()
		case c == ' ' || c == '\t':
			endWord()
		default:
			word.WriteRune(c)
			inWord = true
		}
	}
	endSimple()
	return commands
}

// closing is the index just after the bracket that closes the one at open, counting nesting.
func closing(runes []rune, open int) int {
	opener := runes[open]
	closer := map[rune]rune{'(': ')', '{': '}'}[opener]
	depth := 0
	for i := open; i < len(runes); i++ {
		switch runes[i] {
		case opener:
			depth++
		case closer:
			if depth--; depth == 0 {
				return i + 1
			}
		}
	}
	return len(runes)
}

// triggerNodes are a workflow's events, each with its filters (an empty node when it has none), whichever of
// the three forms `on:` takes.
func triggerNodes(on yaml.Node) map[string]*yaml.Node {
	triggers := map[string]*yaml.Node{}
	switch on.Kind {
	case yaml.ScalarNode:
		triggers[on.Value] = &yaml.Node{}
	case yaml.SequenceNode:
		for _, n := range on.Content {
			triggers[n.Value] = &yaml.Node{}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(on.Content); i += 2 {
			triggers[on.Content[i].Value] = on.Content[i+1]
		}
	}
	return triggers
}

func branches(trigger *yaml.Node) []string {
	var filter struct {
		Branches []string `yaml:"branches"`
	}
	if trigger.Kind != yaml.MappingNode || trigger.Decode(&filter) != nil {
		return nil
	}
	return filter.Branches
}

func grants(permissions yaml.Node, scope, level string) bool {
	var scopes map[string]string
	if permissions.Kind == yaml.ScalarNode {
		return permissions.Value == level+"-all"
	}
	return permissions.Kind == yaml.MappingNode && permissions.Decode(&scopes) == nil && scopes[scope] == level
}

func checkAction(r repo, data []byte) []string {
	var a action
	if err := yaml.Unmarshal(data, &a); err != nil {
		return []string{fmt.Sprintf("not valid YAML: %v", err)}
	}
	if a.Runs.Using != "composite" || len(a.Runs.Steps) == 0 {
		return []string{"runs: only composite actions with steps are expected here"}
	}
	problems := checkNoWholeSecrets(string(data))
	for i, s := range a.Runs.Steps {
		_, stepProblems := checkStep(r, fmt.Sprintf("runs.steps[%d]", i), s, true)
		problems = append(problems, stepProblems...)
	}
	return problems
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// repoRoot is the project root: this package lives in tests/workflows.
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	require.NoError(t, err)
	root := filepath.Clean(filepath.Join(wd, "..", ".."))
	require.FileExists(t, filepath.Join(root, "Makefile"), "cannot find the project root from %s", wd)
	return root
}

func TestEveryWorkflowAndLocalActionPassesTheChecks(t *testing.T) {
	root := repoRoot(t)
	r, err := loadRepo(root)
	require.NoError(t, err)
	workflows, err := filepath.Glob(filepath.Join(root, ".github", "workflows", "*.y*ml"))
	require.NoError(t, err)
	actions, err := filepath.Glob(filepath.Join(root, ".github", "actions", "*", "action.y*ml"))
	require.NoError(t, err)
	for _, want := range []string{"preview.yml", "deploy.yml"} {
		require.FileExists(t, filepath.Join(root, ".github", "workflows", want))
	}
	for _, path := range append(workflows, actions...) {
		rel, err := filepath.Rel(root, path)
		require.NoError(t, err)
		t.Run(rel, func(t *testing.T) {
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			var problems []string
			if slices.Contains(actions, path) {
				problems = checkAction(r, data)
			} else {
				problems = checkWorkflow(r, filepath.Base(path), data)
			}
			if len(problems) > 0 {
				t.Errorf("%d problems:\n%s", len(problems), strings.Join(problems, "\n"))
			}
		})
	}
}

// fixtureFleet defines the runner's documented flags in the ways the flag package allows.
const fixtureFleet = `package main

import "flag"

func main() {
	flags := flag.NewFlagSet("fleet", flag.ContinueOnError)
	flags.String("sites", "", "")
	flags.Bool("no-global", false, "")
	var parallel int
	flags.IntVar(&parallel, "parallel", 4, "")
	flags.String("markdown", "", "")
	flags.Int("markdown-limit", 0, "")
	flags.String("kubeconfig-dir", "", "")
	var recover bool
	flags.BoolVar(&recover, "recover", false, "")
}
`

// fixtureRepo is a minimal repository for the checker's own tests, so they do not follow the real one.
func fixtureRepo(t *testing.T) repo {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"Makefile":                         "export PATH := x\ntools:\n\t@bash scripts/tools.sh\ntest-unit: tools\n\tgo test ./...\n",
		"cmd/fleet/main.go":                fixtureFleet,
		"scripts/tools.sh":                 "#!/bin/bash\n",
		".github/actions/setup/action.yml": "runs:\n  using: composite\n  steps:\n    - run: make tools\n      shell: bash\n",
	}
	for name, content := range files {
		path := filepath.Join(root, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	}
	r, err := loadRepo(root)
	require.NoError(t, err)
	return r
}

// fixtureWorkflow is a preview workflow that passes every check, with extra steps appended to its job.
func fixtureWorkflow(extraSteps string) string {
	return `on: pull_request
permissions:
  contents: read
  pull-requests: write
jobs:
  preview:
    runs-on: ubuntu-24.04
    environment: preview
    env:
      PULUMI_BACKEND_URL: ${{ secrets.PULUMI_BACKEND_URL }}
      PULUMI_ACCESS_TOKEN: ${{ secrets.PULUMI_ACCESS_TOKEN }}
      PULUMI_CONFIG_PASSPHRASE: ${{ secrets.PULUMI_CONFIG_PASSPHRASE }}
      FLEET_ORG: ${{ vars.FLEET_ORG }}
      FLEET_SECRETS_PROVIDER: ${{ vars.FLEET_SECRETS_PROVIDER }}
      FLEET_GLOBAL_SECRETS_PROVIDER: ${{ vars.FLEET_GLOBAL_SECRETS_PROVIDER }}
    steps:
      - uses: actions/checkout@v4.2.2
      - id: setup
        uses: ./.github/actions/setup
        with:
          toolchain: ${{ vars.PULUMI_TOOLCHAIN || 'release' }}
          kubeconfigs: ${{ secrets.KUBECONFIGS }}
          global-passphrase: ${{ secrets.PULUMI_GLOBAL_CONFIG_PASSPHRASE }}
      - uses: actions/cache/save@v4.2.3
        if: ${{ !cancelled() }}
        with:
          key: ${{ steps.setup.outputs.go-cache-key }}
          path: ${{ steps.setup.outputs.go-cache-paths }}
      - uses: actions/setup-go@v5.5.0
        with:
          go-version-file: go.mod
      - run: |
          flags=(--no-global)
          go run ./cmd/fleet preview "${flags[@]}" --sites "$SITES" --markdown=out.md --markdown-limit 9000 --kubeconfig-dir "$RUNNER_TEMP/k"
          bash scripts/tools.sh 2>&1 | tee log
          make test-unit V=1 >"$GITHUB_STEP_SUMMARY"
          echo "${{ matrix.shard }}"
` + extraSteps
}

func TestTheCheckerRejectsWhatWouldFailOnGitHub(t *testing.T) {
	r := fixtureRepo(t)
	require.Empty(t, checkWorkflow(r, "preview.yml", []byte(fixtureWorkflow(""))), "the fixture itself must pass")

	cases := []struct {
		name, file, workflow, want string
	}{
		{"an action on a moving major tag", "preview.yml", fixtureWorkflow("      - uses: actions/cache@v4\n"), "actions/cache@v4 is not pinned"},
		{"an action on a branch", "preview.yml", fixtureWorkflow("      - uses: actions/cache@main\n"), "actions/cache@main is not pinned"},
		{"an image by tag", "preview.yml", fixtureWorkflow("      - uses: docker://alpine:3.20\n"), "pin the image by @sha256 digest"},
		{"a local action that is not there", "preview.yml", fixtureWorkflow("      - uses: ./.github/actions/nope\n"), "no such local action"},
		{"an unknown make target", "preview.yml", fixtureWorkflow("      - run: make tools test-everything\n"), "make test-everything: no such target"},
		{"a make target from a variable", "preview.yml", fixtureWorkflow("      - run: make \"$TARGET\"\n"), "name the target literally"},
		{"a go package that is not there", "preview.yml", fixtureWorkflow("      - run: go test ./tests/nope/...\n"), "go package ./tests/nope/...: no Go files"},
		{"a script that is not there", "preview.yml", fixtureWorkflow("      - run: bash scripts/nope.sh\n"), "scripts/nope.sh: no such file"},
		{"a script run by path that is not there", "preview.yml", fixtureWorkflow("      - run: ./scripts/gone.sh --fast\n"), "./scripts/gone.sh: no such file"},
		{"a fleet verb the runner lacks", "preview.yml", fixtureWorkflow("      - run: go run ./cmd/fleet plan\n"), "first argument must be one of"},
		{"a fleet flag the runner lacks", "preview.yml", fixtureWorkflow("      - run: go run ./cmd/fleet up --all-sites\n"), "unknown flag --all-sites"},
		{"a fleet flag without its value", "preview.yml", fixtureWorkflow("      - run: go run ./cmd/fleet up --sites --no-global\n"), "--sites needs a value"},
		{"a fleet flag hidden in a variable", "preview.yml", fixtureWorkflow("      - run: go run ./cmd/fleet up $FLAGS\n"), `"$FLAGS" is not a flag`},
		{"a bad fleet flag in an array", "preview.yml", fixtureWorkflow("      - run: |\n          f=(--global-only)\n          go run ./cmd/fleet up \"${f[@]}\"\n"), "unknown flag --global-only (in the array f)"},
		{"a shell syntax error", "preview.yml", fixtureWorkflow("      - run: |\n          if [ -f x ]; then\n            echo x\n"), "bash -n"},
		{"event data in a script", "preview.yml", fixtureWorkflow("      - run: echo \"${{ github.event.pull_request.title }}\"\n"), "pass event data through env:"},
		{"a step that is both uses and run", "preview.yml", fixtureWorkflow("      - uses: actions/cache@v4.2.3\n        run: echo\n"), "exactly one of uses and run"},
		{"setup-go on a version range", "preview.yml", fixtureWorkflow("      - uses: actions/setup-go@v5.5.0\n        with:\n          go-version: '1.26.x'\n"), "exact go-version"},
		{"setup-go on another version file", "preview.yml", fixtureWorkflow("      - uses: actions/setup-go@v5.5.0\n        with:\n          go-version-file: .go-version\n"), "go-version-file must be go.mod"},
		{"the fleet before the toolchain", "preview.yml", strings.Replace(fixtureWorkflow(""), "      - id: setup\n        uses: ./.github/actions/setup\n", "      - id: setup\n        uses: ./.github/actions/other\n", 1), "runs the fleet before `make tools`"},
		{"every secret to an action", "other.yml", fixtureWorkflow("      - uses: ./.github/actions/setup\n        with:\n          all: ${{ toJSON(secrets) }}\n"), "passes the whole secrets context"},
		{"every secret to a reusable workflow", "other.yml", "on: push\npermissions: {}\njobs:\n  a:\n    uses: ./.github/workflows/x.yml\n    secrets: inherit\n", "secrets: inherit passes every secret"},
		{"a preview without its environment", "preview.yml", strings.Replace(fixtureWorkflow(""), "    environment: preview\n", "", 1), `must run in the GitHub Environment "preview"`},
		{"a preview in the deploy's environment", "preview.yml", strings.Replace(fixtureWorkflow(""), "    environment: preview\n", "    environment:\n      name: production\n", 1), `not "production"`},
		{"a deploy without its environment", "deploy.yml", strings.Replace(fixtureWorkflow(""), "on: pull_request", "on:\n  push:\n    branches: [main]\nconcurrency: deploy", 1), `must run in the GitHub Environment "production"`},
		{"the Go cache saved only on success", "preview.yml", strings.Replace(fixtureWorkflow(""), "        if: ${{ !cancelled() }}\n", "", 1), "save the Go cache"},
		{"the setup without an id", "preview.yml", strings.Replace(fixtureWorkflow(""), "      - id: setup\n        uses:", "      - uses:", 1), "give it an id"},
		{"the kubeconfigs from another secret", "preview.yml", strings.Replace(fixtureWorkflow(""), "secrets.KUBECONFIGS", "secrets.KUBECONFIG_GLOBAL", 1), "kubeconfigs: ${{ secrets.KUBECONFIGS }}"},
		{"the toolchain not chosen by the variable", "preview.yml", strings.Replace(fixtureWorkflow(""), "vars.PULUMI_TOOLCHAIN || 'release'", "'source'", 1), "PULUMI_TOOLCHAIN"},
		{"a PR comment without a size limit", "preview.yml", strings.Replace(fixtureWorkflow(""), " --markdown-limit 9000", "", 1), "pass --markdown-limit"},
		{"the fleet without the backend secrets", "preview.yml", strings.Replace(fixtureWorkflow(""), "      PULUMI_ACCESS_TOKEN: ${{ secrets.PULUMI_ACCESS_TOKEN }}\n", "", 1), "needs PULUMI_ACCESS_TOKEN"},
		{"a job without runs-on", "preview.yml", strings.Replace(fixtureWorkflow(""), "    runs-on: ubuntu-24.04\n", "", 1), "no runs-on"},
		{"no top-level permissions", "other.yml", "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo\n", "declare them at the top level"},
		{"no trigger", "other.yml", "permissions: {}\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo\n", "on: no trigger"},
		{"not YAML", "other.yml", "on: [push\n", "not valid YAML"},
		{"a preview that cannot comment", "preview.yml", strings.Replace(fixtureWorkflow(""), "  pull-requests: write\n", "", 1), "pull-requests: write"},
		{"a preview not on pull requests", "preview.yml", strings.Replace(fixtureWorkflow(""), "on: pull_request", "on: push", 1), "must run on pull_request"},
		{"a deploy of every branch", "deploy.yml", strings.Replace(fixtureWorkflow(""), "on: pull_request", "on: push\nconcurrency: deploy", 1), "must run on push to main"},
		{"a deploy that cancels a running up", "deploy.yml", strings.Replace(fixtureWorkflow(""), "on: pull_request", "on:\n  push:\n    branches: [main]\nconcurrency:\n  group: deploy\n  cancel-in-progress: true", 1), "cancel-in-progress must be false"},
		{"a deploy without a concurrency group", "deploy.yml", strings.Replace(fixtureWorkflow(""), "on: pull_request", "on:\n  push:\n    branches: [main]", 1), "concurrency: a group"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			problems := checkWorkflow(r, tc.file, []byte(tc.workflow))
			require.True(t, slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tc.want) }),
				"want a problem containing %q, got:\n%s", tc.want, strings.Join(problems, "\n"))
		})
	}

	t.Run("a composite run step without shell", func(t *testing.T) {
		problems := checkAction(r, []byte("runs:\n  using: composite\n  steps:\n    - run: echo\n"))
		require.Contains(t, strings.Join(problems, "\n"), "needs shell:")
	})
}

func TestSimpleCommands(t *testing.T) {
	cases := []struct {
		name, script string
		want         [][]string
	}{
		{"quotes and continuation", "go run ./cmd/fleet up \\\n  --sites \"a,b\" --markdown 'x y.md'", [][]string{{"go", "run", "./cmd/fleet", "up", "--sites", "a,b", "--markdown", "x y.md"}}},
		{"operators and comments", "make tools && make test # make nope\n[ -f x ] || bash scripts/a.sh; echo 'make nope'", [][]string{{"make", "tools"}, {"make", "test"}, {"[", "-f", "x", "]"}, {"bash", "scripts/a.sh"}, {"echo", "make nope"}}},
		{"redirections", "make tools >log 2>&1\njq . <<<\"$J\" >\"$OUT\"", [][]string{{"make", "tools"}, {"jq", "."}}},
		{"expansions stay one word", "x=$(make nope | wc -l) y=${a#*_}\ncat <(make nope)", [][]string{{"x=$(make nope | wc -l)", "y=${a#*_}"}, {"cat", "<(make nope)"}}},
		{"here-documents", "cat <<'EOF' >f\nmake nope\nEOF\nmake tools", [][]string{{"cat"}, {"make", "tools"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, simpleCommands(tc.script))
		})
	}
}

// The composite action gives `go run ./cmd/fleet` the environment the Makefile gives every pulumi call, so
// CI runs the stacks as `make` does locally; a variable added to the Makefile fails here until CI sets it
// too, or is listed below with the reason it must not be.
func TestSetupActionExportsTheMakefilesEnvironment(t *testing.T) {
	root := repoRoot(t)
	notInCI := map[string]string{
		"PULUMI_BACKEND_URL":       "an environment secret in CI; the Makefile's default is the local file backend",
		"PULUMI_CONFIG_PASSPHRASE": "an environment secret in CI; the Makefile's default is the demo passphrase",
		"KUBECONFIG_LOCAL":         "the local cluster's kubeconfig; CI writes one per stack from the secret KUBECONFIGS",
	}
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	require.NoError(t, err)
	runs := setupActionRuns(t, root)

	exports := regexp.MustCompile(`(?m)^export\s+(\w+)\s*[:?]?=\s*(.*)$`).FindAllStringSubmatch(string(makefile), -1)
	require.NotEmpty(t, exports)
	for _, m := range exports {
		name, value := m[1], strings.ReplaceAll(strings.TrimSpace(m[2]), "$(ROOT)", "$GITHUB_WORKSPACE")
		if _, skip := notInCI[name]; skip {
			continue
		}
		t.Run(name, func(t *testing.T) {
			if name == "PATH" {
				dir, _, _ := strings.Cut(value, ":")
				require.Contains(t, runs, `echo "`+dir+`" >>"$GITHUB_PATH"`)
				return
			}
			require.Contains(t, runs, name+"="+value, "the setup action must write %s=%s to $GITHUB_ENV", name, value)
			require.Contains(t, runs, `>>"$GITHUB_ENV"`)
		})
	}
}

// A cache key that missed one of the stamp's inputs would restore binaries tools.sh then rebuilds on every
// run, and never save the new ones: the key was a hit.
func TestToolchainCacheFollowsTheToolsScriptsStamp(t *testing.T) {
	root := repoRoot(t)
	tools, err := os.ReadFile(filepath.Join(root, "scripts", "tools.sh"))
	require.NoError(t, err)
	cacheDir := regexp.MustCompile(`\$HOME/\.cache\}/([\w.-]+)\}`).FindSubmatch(tools)
	require.NotNil(t, cacheDir, "tools.sh's default cache folder")
	stamp := regexp.MustCompile(`(?m)^stamp=.*tools/\{([^}]+)\}/go\.\{([^}]+)\}`).FindSubmatch(tools)
	require.NotNil(t, stamp, "tools.sh's stamp line")
	require.Contains(t, string(tools), `go version; cat "$0";`, "the stamp's other inputs, which the key below follows")

	var cache *step
	steps := setupActionSteps(t, root)
	for i := range steps {
		if strings.HasPrefix(steps[i].Uses, "actions/cache@") {
			cache = &steps[i]
		}
	}
	require.NotNil(t, cache, "an actions/cache step")
	require.Equal(t, "~/.cache/"+string(cacheDir[1]), cache.With["path"])
	key := cache.With["key"]
	goVersion := slices.IndexFunc(steps, func(s step) bool {
		return s.ID != "" && strings.Contains(key, "steps."+s.ID+".outputs.") && strings.Contains(s.Run, "go env GOVERSION")
	})
	require.NotEqual(t, -1, goVersion, "the key has the output of a step that reads the Go version")
	require.Contains(t, key, "'scripts/tools.sh'")
	for _, wrapper := range strings.Split(string(stamp[1]), ",") {
		for _, file := range strings.Split(string(stamp[2]), ",") {
			require.Contains(t, key, "'tools/"+wrapper+"/go."+file+"'")
		}
	}
}

func setupActionSteps(t *testing.T, root string) []step {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, setupAction, "action.yml"))
	require.NoError(t, err)
	var a action
	require.NoError(t, yaml.Unmarshal(data, &a))
	return a.Runs.Steps
}

func setupActionRuns(t *testing.T, root string) string {
	t.Helper()
	var runs strings.Builder
	for _, s := range setupActionSteps(t, root) {
		runs.WriteString(s.Run + "\n")
	}
	return runs.String()
}

func TestFlagsDefinedInReadsEachWayToDefineAFlag(t *testing.T) {
	r := fixtureRepo(t)
	require.Equal(t, map[string]bool{
		"sites": true, "no-global": false, "parallel": true, "markdown": true, "markdown-limit": true, "kubeconfig-dir": true, "recover": false,
	}, r.fleetFlags)
}

// The workflows and the README's CI section use these; the runner may grow flags, not lose these.
func TestTheFleetRunnerHasTheFlagsCIUses(t *testing.T) {
	r, err := loadRepo(repoRoot(t))
	require.NoError(t, err)
	for name, takesValue := range map[string]bool{"sites": true, "no-global": false, "markdown": true, "markdown-limit": true, "kubeconfig-dir": true} {
		got, ok := r.fleetFlags[name]
		require.True(t, ok, "cmd/fleet has no --%s (found %v)", name, r.fleetFlags)
		require.Equal(t, takesValue, got, "--%s takes a value: %v", name, takesValue)
	}
}
