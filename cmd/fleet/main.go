// Command fleet runs one Pulumi operation over the project's stacks: the global stack first, then every
// site stack in parallel (sites first for destroy), with the program inline (compiled into this command, so
// no stack builds one), and prints a summary.
//
//	go run ./cmd/fleet preview|up|refresh|destroy [--sites a,b] [--no-global] [--parallel N]
//	    [--markdown FILE [--markdown-limit BYTES]] [--kubeconfig-dir DIR] [--recover] [--expect-no-changes]
//	    [-C DIR] [--org ORG] [--secrets-provider P] [--global-secrets-provider P] [--global-passphrase-file F]
//	go run ./cmd/fleet add-site NAME --egress-cidr CIDR [--egress-cidr CIDR]... [--partition P]
//	    [--namespace NS] [--template FILE] [--write-only | --preview] [the backend flags above]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"nautobot-worker/internal/fleet"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "add-site" {
		return addSite(args[1:], stdout, stderr)
	}
	flags := flag.NewFlagSet("fleet", flag.ContinueOnError)
	flags.SetOutput(stderr)
	sites := flags.String("sites", "", "comma-separated site names (without site-) to run; default every Pulumi.site-*.yaml")
	noGlobal := flags.Bool("no-global", false, "leave the global stack out (a shard of sites after a global job)")
	parallel := flags.Int("parallel", 4, "site stacks at a time")
	markdown := flags.String("markdown", "", "also write the summary as Markdown to this file (a pull request comment)")
	markdownLimit := flags.Int("markdown-limit", 0, "cap the Markdown at this many bytes, trimming the largest stacks' changes first (0: no cap)")
	kubeconfigs := flags.String("kubeconfig-dir", "", "directory with a kubeconfig per stack, named after the stack (e.g. global, site-dfw1)")
	recover := flags.Bool("recover", false, "clear locks left by runs that are gone from this host and settle what they left pending")
	expectNoChanges := flags.Bool("expect-no-changes", false, "fail a preview or up of a stack that would change anything")
	root := flags.String("C", ".", "the project directory")
	backend := backendFlags(flags)
	flags.Usage = func() {
		fmt.Fprintf(stderr, "usage: fleet %s [flags]\n       fleet add-site NAME --egress-cidr CIDR [flags] (fleet add-site -h)\n", strings.Join(fleet.Ops, "|"))
		flags.PrintDefaults()
	}
	if len(args) == 0 || !slices.Contains(fleet.Ops, args[0]) {
		flags.Usage()
		return 2
	}
	op := args[0]
	if err := flags.Parse(args[1:]); err != nil {
		return 2
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "fleet: unexpected argument %q\n", flags.Arg(0))
		return 2
	}
	if *expectNoChanges && op != "preview" && op != "up" {
		fmt.Fprintf(stderr, "fleet: --expect-no-changes applies to preview and up, not %s\n", op)
		return 2
	}
	if *parallel < 1 {
		fmt.Fprintf(stderr, "fleet: --parallel %d: run at least one stack at a time\n", *parallel)
		return 2
	}
	sitesSet := false
	flags.Visit(func(f *flag.Flag) { sitesSet = sitesSet || f.Name == "sites" })

	stacks, err := fleet.Discover(*root)
	if err == nil {
		stacks, err = fleet.Select(stacks, fleet.ParseSites(*sites, sitesSet), !*noGlobal)
	}
	if err != nil {
		fmt.Fprintf(stderr, "fleet: %v\n", err)
		return 2
	}
	if len(stacks) == 0 {
		fmt.Fprintln(stderr, "fleet: no stacks selected")
		return 2
	}
	// The inline program reads the files its config names relative to the working directory, so the runner
	// moves to the project; the paths given on the command line stay relative to where it was run.
	for _, path := range []*string{markdown, kubeconfigs, &backend.GlobalPassphraseFile} {
		if *path != "" {
			if *path, err = filepath.Abs(*path); err != nil {
				fmt.Fprintf(stderr, "fleet: %v\n", err)
				return 2
			}
		}
	}
	project, err := filepath.Abs(*root)
	if err == nil {
		err = absoluteBackendPaths()
	}
	if err == nil {
		err = chdirToProgram(project)
	}
	if err != nil {
		fmt.Fprintf(stderr, "fleet: %v\n", err)
		return 2
	}
	interrupt, stop := notifyInterrupt(stderr)
	defer stop()
	results, err := fleet.Run(context.Background(), fleet.Options{
		Root: project, Op: op, Stacks: stacks, Parallel: *parallel, KubeconfigDir: *kubeconfigs,
		Recover: *recover, ExpectNoChanges: *expectNoChanges, Interrupt: interrupt, Backend: *backend, Out: stdout,
	})
	if err != nil {
		fmt.Fprintf(stderr, "fleet: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout)
	if err := fleet.WriteTable(stdout, op, results); err != nil {
		fmt.Fprintf(stderr, "fleet: %v\n", err)
		return 1
	}
	if *markdown != "" {
		f, err := os.Create(*markdown)
		if err == nil {
			err = fleet.WriteMarkdown(f, op, results, *markdownLimit)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "fleet: writing %s: %v\n", *markdown, err)
			return 1
		}
	}
	if fleet.Failed(results) {
		return 1
	}
	return 0
}

// backendFlags are how the stacks and their secrets are addressed in the backend (fleet.Backend). Each
// defaults to an environment variable, which CI sets from the repository's variables and secrets.
func backendFlags(flags *flag.FlagSet) *fleet.Backend {
	var b fleet.Backend
	flags.StringVar(&b.Org, "org", os.Getenv("FLEET_ORG"), "address the stacks as ORG/<project>/<stack> (Pulumi Cloud); default $FLEET_ORG, else bare names (a self-managed backend, or your default organization)")
	flags.StringVar(&b.SecretsProvider, "secrets-provider", os.Getenv("FLEET_SECRETS_PROVIDER"), "secrets provider of the stacks this run creates (pulumi stack init --secrets-provider: passphrase, awskms://..., azurekeyvault://..., gcpkms://..., hashivault://...); a stack file's own secretsprovider comes first; default $FLEET_SECRETS_PROVIDER, else the backend's")
	flags.StringVar(&b.GlobalSecretsProvider, "global-secrets-provider", os.Getenv("FLEET_GLOBAL_SECRETS_PROVIDER"), "secrets provider of a new global stack, when not --secrets-provider; default $FLEET_GLOBAL_SECRETS_PROVIDER")
	flags.StringVar(&b.GlobalPassphraseFile, "global-passphrase-file", os.Getenv("FLEET_GLOBAL_PASSPHRASE_FILE"), "file holding the global stack's passphrase, when it is not the sites' (PULUMI_CONFIG_PASSPHRASE[_FILE]); default $FLEET_GLOBAL_PASSPHRASE_FILE")
	return &b
}

// cidrs collects --egress-cidr: repeated, or comma-separated.
type cidrs []string

func (c *cidrs) String() string { return strings.Join(*c, ",") }

func (c *cidrs) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*c = append(*c, s)
		}
	}
	return nil
}

// addSite is `fleet add-site`: see fleet.AddSite.
func addSite(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("fleet add-site", flag.ContinueOnError)
	flags.SetOutput(stderr)
	var req fleet.SiteRequest
	flags.Var((*cidrs)(&req.EgressCIDRs), "egress-cidr", "source range of the site's workers (repeat, or comma-separate, for several)")
	flags.StringVar(&req.Partition, "partition", "", "the site stack's site.partition (UNDERSTACK_PARTITION)")
	flags.StringVar(&req.Namespace, "namespace", "", "the site stack's namespace (default: the template's)")
	flags.StringVar(&req.Template, "template", fleet.DefaultSiteTemplate, "the stack file the site's is written from (e.g. another site's)")
	preview := flags.Bool("preview", false, "preview the global stack with the site added, and change no file")
	writeOnly := flags.Bool("write-only", false, "write both files and run nothing: for a pull request, whose preview and merge deploy the site")
	root := flags.String("C", ".", "the project directory")
	backend := backendFlags(flags)
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: fleet add-site NAME --egress-cidr CIDR [flags]")
		flags.PrintDefaults()
	}
	// NAME may come before or after the flags.
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if flags.NArg() > 0 {
		req.Name = flags.Arg(0)
		if err := flags.Parse(flags.Args()[1:]); err != nil {
			return 2
		}
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "fleet add-site: unexpected argument %q\n", flags.Arg(0))
		return 2
	}
	if req.Name == "" {
		flags.Usage()
		return 2
	}
	mode := fleet.AddAndDeploy
	switch {
	case *preview && *writeOnly:
		fmt.Fprintln(stderr, "fleet add-site: --preview writes nothing and --write-only runs nothing: choose one")
		return 2
	case *preview:
		mode = fleet.PreviewOnly
	case *writeOnly:
		mode = fleet.AddForReview
	}
	if backend.GlobalPassphraseFile != "" {
		var err error
		if backend.GlobalPassphraseFile, err = filepath.Abs(backend.GlobalPassphraseFile); err != nil {
			fmt.Fprintf(stderr, "fleet add-site: %v\n", err)
			return 2
		}
	}
	// The inline program reads its files relative to the working directory: the runner moves there before
	// the stacks run, after every check has passed.
	abs, err := filepath.Abs(*root)
	if err == nil {
		err = absoluteBackendPaths()
	}
	if err != nil {
		fmt.Fprintf(stderr, "fleet add-site: %v\n", err)
		return 2
	}
	interrupt, stop := notifyInterrupt(stderr)
	defer stop()
	runner := chdirRunner{fleet.StackRunner{Root: abs, Out: stdout, Interrupt: interrupt, Backend: *backend}}
	if err := fleet.AddSite(context.Background(), abs, req, mode, runner, stdout); err != nil {
		fmt.Fprintf(stderr, "fleet add-site: %v\n", err)
		if errors.Is(err, fleet.ErrRefused) {
			return 2
		}
		return 1
	}
	return 0
}

// chdirRunner runs the stacks from the program's directory, as the inline program needs.
type chdirRunner struct{ fleet.StackRunner }

func (r chdirRunner) Run(ctx context.Context, op string, stacks []string, configFiles map[string]string) ([]fleet.Result, error) {
	if err := chdirToProgram(r.Root); err != nil {
		return nil, err
	}
	return r.StackRunner.Run(ctx, op, stacks, configFiles)
}

// absoluteBackendPaths makes the relative paths pulumi reads from the environment (the passphrase file, a
// file backend) absolute, before the runner moves to the program directory: pulumi resolves them from its
// own working directory, which is not always the one they were given in (the preview's sandbox).
func absoluteBackendPaths() error {
	if f := os.Getenv("PULUMI_CONFIG_PASSPHRASE_FILE"); f != "" && !filepath.IsAbs(f) {
		abs, err := filepath.Abs(f)
		if err != nil {
			return err
		}
		if err := os.Setenv("PULUMI_CONFIG_PASSPHRASE_FILE", abs); err != nil {
			return err
		}
	}
	if u, ok := strings.CutPrefix(os.Getenv("PULUMI_BACKEND_URL"), "file://"); ok && u != "" && !strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "~") {
		abs, err := filepath.Abs(u)
		if err != nil {
			return err
		}
		return os.Setenv("PULUMI_BACKEND_URL", "file://"+abs)
	}
	return nil
}

// chdirToProgram moves to the project's program directory, where Pulumi would run the program (its `main`).
func chdirToProgram(project string) error {
	dir, err := fleet.ProgramDir(project)
	if err != nil {
		return err
	}
	return os.Chdir(dir)
}

// notifyInterrupt turns Ctrl-C, SIGTERM (a cancelled CI job) and SIGHUP (a closed terminal) into the
// runner's Interrupt: the first lets every running operation finish its step and release its lock, the
// second stops at once, as the pulumi CLI does, and a third kills pulumi.
func notifyInterrupt(stderr io.Writer) (*fleet.Interrupt, func()) {
	interrupt := fleet.NewInterrupt()
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for n := 0; ; n++ {
			select {
			case <-done:
				return
			case sig := <-signals:
				interrupt.Trigger()
				switch n {
				case 0:
					fmt.Fprintf(stderr, "fleet: %v: every running stack finishes the step in flight and releases its lock; no other stack starts. Interrupt again to stop at once.\n", sig)
				case 1:
					fmt.Fprintf(stderr, "fleet: %v again: pulumi stops at once (a stack may be left locked: `--recover`); a third interrupt kills it\n", sig)
				default:
					fmt.Fprintf(stderr, "fleet: %v: killing pulumi\n", sig)
				}
			}
		}
	}()
	return interrupt, func() { signal.Stop(signals); close(done) }
}
