package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"nautobot-worker/components/distribution"
	"nautobot-worker/components/nautobot"
	"nautobot-worker/components/sitesecrets"
	"nautobot-worker/components/worker"
	"nautobot-worker/internal/stackconfig"
	"nautobot-worker/internal/validate"
	"nautobot-worker/stacks/global"
)

// DefaultSiteTemplate is the stack file a new site's is written from.
const DefaultSiteTemplate = "Pulumi." + templateStack + ".yaml"

// ErrRefused heads every error of a request that add-site refuses before it changes anything.
var ErrRefused = errors.New("refused")

// SiteRequest is one `fleet add-site`.
type SiteRequest struct {
	Name        string
	EgressCIDRs []string
	// Partition becomes the site stack's site.partition (UNDERSTACK_PARTITION).
	Partition string
	// Namespace replaces the template's namespace when set (sites sharing one cluster need their own).
	Namespace string
	// Template is the stack file copied, relative to the project (default DefaultSiteTemplate).
	Template string
}

// SitePlan is everything adding a site changes, computed before anything is written.
type SitePlan struct {
	GlobalFile                string
	GlobalBefore, GlobalAfter []byte
	SiteFile                  string
	Site                      []byte
	// Keys are where the global stack's distribution pushes the site's items (nil: no distribution).
	Keys *distribution.SiteKeys
	// RedisSiteUser: the global stack gives each site a Redis user of its own, so the new site connects
	// as its user (worker.redisSiteUser) and its secrets.redis item holds that user's password.
	RedisSiteUser bool
	// Placeholders are the keys of the site file that still hold a REPLACE value.
	Placeholders []string
}

// PlanSite checks the request against the project's files and computes both edits: the site appended to
// the global stack's sites, and the site's stack file from the template. It writes nothing, so a refusal
// changes nothing.
func PlanSite(root string, req SiteRequest) (SitePlan, error) {
	p := validate.New("")
	worker.SiteName(p, "NAME", req.Name)
	if len(req.EgressCIDRs) == 0 {
		p.Addf("--egress-cidr", "is required: the source ranges of the site's workers, for its firewall request")
	}
	for _, c := range req.EgressCIDRs {
		p.CIDR("--egress-cidr", c)
	}
	if req.Namespace != "" {
		p.DNSLabel("--namespace", req.Namespace)
	}
	if err := p.Err(); err != nil {
		return SitePlan{}, err
	}
	project, err := projectName(root)
	if err != nil {
		return SitePlan{}, err
	}
	plan := SitePlan{
		GlobalFile: filepath.Join(root, "Pulumi."+GlobalStack+".yaml"),
		SiteFile:   filepath.Join(root, "Pulumi."+SitePrefix+req.Name+".yaml"),
	}
	if plan.GlobalBefore, err = os.ReadFile(plan.GlobalFile); err != nil {
		return SitePlan{}, err
	}
	globalConfig, err := stackConfig(plan.GlobalBefore)
	if err != nil {
		return SitePlan{}, fmt.Errorf("%s: %w", plan.GlobalFile, err)
	}
	var sites []global.Site
	if raw, ok := globalConfig[project+":sites"]; ok {
		if err := decodeConfig("sites", raw, &sites); err != nil {
			return SitePlan{}, fmt.Errorf("%s: %w", plan.GlobalFile, err)
		}
	}
	for _, s := range sites {
		if s.Name == req.Name {
			return SitePlan{}, fmt.Errorf("%q is already a site of the global stack (%s)", req.Name, plan.GlobalFile)
		}
	}
	if _, err := os.Stat(plan.SiteFile); !errors.Is(err, os.ErrNotExist) {
		return SitePlan{}, fmt.Errorf("%s exists already (or cannot be checked: %v); a site's stack file is written once", plan.SiteFile, err)
	}
	if plan.Keys, err = pushedKeys(globalConfig[project+":"+distribution.ConfigKey], req.Name); err != nil {
		return SitePlan{}, fmt.Errorf("%s: %w", plan.GlobalFile, err)
	}
	plan.RedisSiteUser = redisSiteUsers(globalConfig, project)
	if plan.GlobalAfter, err = addToSites(plan.GlobalBefore, project, global.Site{Name: req.Name, EgressCIDRs: req.EgressCIDRs}); err != nil {
		return SitePlan{}, fmt.Errorf("%s: %w", plan.GlobalFile, err)
	}
	template := req.Template
	if template == "" {
		template = DefaultSiteTemplate
	}
	text, err := os.ReadFile(filepath.Join(root, template))
	if err != nil {
		return SitePlan{}, err
	}
	if plan.Site, plan.Placeholders, err = siteFile(text, template, project, req, plan.Keys, plan.RedisSiteUser); err != nil {
		return SitePlan{}, fmt.Errorf("%s: %w", template, err)
	}
	return plan, nil
}

func projectName(root string) (string, error) {
	p, err := readProject(root)
	return p.Name, err
}

// project is what the runner reads of a Pulumi.yaml.
type project struct {
	Name string
	// Main is where the program is, relative to the project directory or absolute ("" is the project's).
	Main string
}

func readProject(root string) (project, error) {
	var p project
	text, err := os.ReadFile(filepath.Join(root, "Pulumi.yaml"))
	if err != nil {
		return p, err
	}
	if err := yaml.Unmarshal(text, &p); err != nil || p.Name == "" {
		return p, fmt.Errorf("Pulumi.yaml names no project (%v)", err)
	}
	return p, nil
}

// ProgramDir is the directory Pulumi runs the project's program and its plugins in: the project's `main`
// (a directory, or the directory of a file), else the project's own. The paths its stack files name
// (a kubeconfig, a chart) are relative to it, and the runner's inline program runs there too.
func ProgramDir(root string) (string, error) {
	p, err := readProject(root)
	if err != nil {
		return "", err
	}
	dir := root
	if p.Main != "" {
		dir = p.Main
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(root, dir)
		}
		info, err := os.Stat(dir)
		if err != nil {
			return "", fmt.Errorf("the project's main %q: %w", p.Main, err)
		}
		if !info.IsDir() {
			dir = filepath.Dir(dir)
		}
	}
	return filepath.Abs(dir)
}

// stackConfig is the config mapping of a stack file, as plain values.
func stackConfig(text []byte) (map[string]any, error) {
	var f struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(text, &f); err != nil {
		return nil, err
	}
	if f.Config == nil {
		return nil, errors.New("it has no config mapping")
	}
	return f.Config, nil
}

// decodeConfig decodes a structured config value strictly, as the stack does.
func decodeConfig(key string, raw any, v any) error {
	b, err := json.Marshal(raw)
	if err != nil {
		return fmt.Errorf("config %s: %w", key, err)
	}
	return stackconfig.Decode(key, string(b), v)
}

// pushedKeys are where the global stack's distribution setting pushes the site's items, or nil when it
// does not push. A setting the global stack would refuse is refused here too.
func pushedKeys(raw any, site string) (*distribution.SiteKeys, error) {
	if raw == nil {
		return nil, nil
	}
	var c distribution.Config
	if err := decodeConfig(distribution.ConfigKey, raw, &c); err != nil {
		return nil, err
	}
	if !c.Enabled {
		return nil, nil
	}
	a := c.Args.Defaults()
	if err := validate.InConfig(distribution.ConfigKey, nil, a.Validate()); err != nil {
		return nil, err
	}
	keys := a.SiteKeys(site)
	return &keys, nil
}

// redisSiteUsers tells from the global stack file whether the stack gives each site a Redis user of its
// own: as the stack decides it, a redisSiteKey is set (its value is encrypted, so only its presence is
// read) and nautobot.redis.siteUsers is not false.
func redisSiteUsers(globalConfig map[string]any, project string) bool {
	if _, ok := globalConfig[project+":redisSiteKey"]; !ok {
		return false
	}
	nb, _ := globalConfig[project+":"+nautobot.ConfigKey].(map[string]any)
	redis, _ := nb["redis"].(map[string]any)
	siteUsers, set := redis["siteUsers"].(bool)
	return !set || siteUsers
}

// addToSites appends the site to the global stack file's sites in place, and checks that the file now
// reads as before with that one site more.
func addToSites(text []byte, project string, site global.Site) ([]byte, error) {
	cidrs := make([]string, len(site.EgressCIDRs))
	for i, c := range site.EgressCIDRs {
		cidrs[i] = scalarText(c)
	}
	list := "[" + strings.Join(cidrs, ", ") + "]"
	y := yamlText{text: string(text)}
	if err := y.appendToSequence([]string{"config", project + ":sites"},
		"name: "+scalarText(site.Name)+"\negressCidrs: "+list+"\n",
		"{name: "+scalarText(site.Name)+", egressCidrs: "+list+"}"); err != nil {
		return nil, err
	}
	want, err := stackConfig(text)
	if err != nil {
		return nil, err
	}
	sites, _ := want[project+":sites"].([]any)
	want[project+":sites"] = append(sites, map[string]any{"name": site.Name, "egressCidrs": site.EgressCIDRs})
	return []byte(y.text), sameConfig([]byte(y.text), want)
}

// sameConfig checks that an edited stack file reads as want: the edit changed what it meant to, and
// nothing else.
func sameConfig(text []byte, want map[string]any) error {
	got, err := stackConfig(text)
	if err != nil {
		return fmt.Errorf("the edited file does not parse: %w", err)
	}
	// As JSON, so the decoder's types and the expectation's compare equal.
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	var gv, wv any
	_ = json.Unmarshal(g, &gv)
	_ = json.Unmarshal(w, &wv)
	if !reflect.DeepEqual(gv, wv) {
		return fmt.Errorf("the edit would not read as intended (got %s, want %s); nothing was written", g, w)
	}
	return nil
}

var (
	saltLine       = regexp.MustCompile(`(?m)(^#.*\n)*^encryptionsalt: .*\n?`)
	leadingComment = regexp.MustCompile(`\A(#.*\n)+`)
)

// siteFile writes the site's stack file from the template: site.name, site.partition, the namespace when
// asked, and secrets.mtls from the distribution (without one, the client item is left for the operator to
// name, since its certificate must first be copied by hand). The template's header and the salt of the
// template's own stack go; `pulumi stack init` writes the new stack's. It returns the keys that still hold
// a REPLACE value.
func siteFile(text []byte, template, project string, req SiteRequest, keys *distribution.SiteKeys, redisSiteUser bool) ([]byte, []string, error) {
	y := yamlText{text: string(text)}
	root, err := y.root()
	if err != nil {
		return nil, nil, err
	}
	if secure := secureValue(root, nil); secure != "" {
		return nil, nil, fmt.Errorf("%s holds an encrypted value (secure:), which only the template's own stack can decrypt; set secrets on the new stack with `pulumi config set --secret`", secure)
	}
	cfg := func(path ...string) []string { return append([]string{"config"}, path...) }
	if node, depth, err := find(root, cfg(project+":site")); err != nil || depth < 2 || node.Kind != yaml.MappingNode {
		return nil, nil, fmt.Errorf("it is not a site stack file: no %s:site mapping", project)
	}
	edits := []edit{{cfg(project+":site", "name"), req.Name}}
	if node, depth, _ := find(root, cfg(project+":site", "partition")); req.Partition != "" || (depth == 3 && node.Kind == yaml.ScalarNode) {
		edits = append(edits, edit{cfg(project+":site", "partition"), req.Partition})
	}
	if req.Namespace != "" {
		edits = append(edits, edit{cfg(project + ":namespace"), req.Namespace})
	}
	mtls := func(key string) []string { return cfg(project+":secrets", "mtls", key) }
	if keys != nil {
		type field struct{ key, value string }
		pushed := []field{
			{"clientKey", keys.ClientKey}, {"clientCertProperty", keys.ClientCertProperty}, {"clientKeyProperty", keys.ClientKeyProperty},
		}
		// A site that takes its CA from the global stack's output reads no CA item (and refuses caKey).
		if node, depth, _ := find(root, mtls("caFrom")); depth < 4 || node.Value != sitesecrets.CAFromGlobalStack {
			pushed = append(pushed, field{"caKey", keys.CAKey}, field{"caCertProperty", keys.CACertProperty})
		}
		for _, e := range pushed {
			edits = append(edits, edit{mtls(e.key), e.value})
		}
	} else {
		// Still a value to set (the item the operator copies the certificate into), named after this site:
		// a template copied from another site names that site's item, the example template a generic one.
		edits = append(edits, edit{mtls("clientKey"), stackconfig.Placeholder + "/nautobot-mtls-client-" + req.Name})
	}
	if redisSiteUser {
		redis := func(key string) []string { return cfg(project+":secrets", "redis", key) }
		edits = append(edits, edit{cfg(project+":"+worker.ConfigKey, "redisSiteUser"), true})
		if keys != nil {
			edits = append(edits, edit{redis("key"), keys.RedisKey})
			// The field only where the template names one or the push writes another (a template may hold
			// secrets.redis as a flow mapping, which cannot take a new key in place).
			if node, depth, _ := find(root, redis("property")); keys.RedisProperty != sitesecrets.DefaultProperty || (depth == 4 && node.Kind == yaml.ScalarNode) {
				edits = append(edits, edit{redis("property"), keys.RedisProperty})
			}
		} else {
			// The fleet's shared password item would be refused by Redis for this user: the operator copies
			// the site's password (global Secret nautobot-redis-site-<name>) into an item of the site's own.
			edits = append(edits, edit{redis("key"), stackconfig.Placeholder + "/nautobot-redis-" + req.Name})
		}
	}

	want, err := stackConfig(text)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range edits {
		text := ""
		switch v := e.value.(type) {
		case string:
			text = scalarText(v)
		case bool:
			text = strconv.FormatBool(v)
		}
		if err := y.setText(e.path, text); err != nil {
			return nil, nil, err
		}
		setPath(want, e.path[1:], e.value)
	}
	y.text = saltLine.ReplaceAllString(y.text, "")
	header := fmt.Sprintf("# Site %s, written by `fleet add-site` from %s. Keys: the README, \"Site stack config\".\n", req.Name, template)
	if keys != nil {
		header += "# secrets.mtls: where the global stack's distribution pushes this site's items (its output pushedRemoteKeys).\n"
	}
	if redisSiteUser {
		header += "# worker.redisSiteUser: the global stack gives every site a Redis user of its own; secrets.redis holds this site's password.\n"
	}
	y.text = header + leadingComment.ReplaceAllString(y.text, "")
	if err := sameConfig([]byte(y.text), want); err != nil {
		return nil, nil, err
	}
	root, err = y.root()
	if err != nil {
		return nil, nil, err
	}
	var left []string
	placeholders(root, nil, &left)
	return []byte(y.text), left, nil
}

// edit sets the scalar at path (from the document's root) to value, a string or a bool.
type edit struct {
	path  []string
	value any
}

// setPath sets a value in decoded config, creating the mappings on the way.
func setPath(m map[string]any, path []string, value any) {
	for _, key := range path[:len(path)-1] {
		next, ok := m[key].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[key] = next
		}
		m = next
	}
	m[path[len(path)-1]] = value
}

// secureValue is the path of the first `secure:` value, or "".
func secureValue(n *yaml.Node, path []string) string {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if key == "secure" {
				return strings.Join(path, ".")
			}
			if s := secureValue(n.Content[i+1], append(slices.Clone(path), key)); s != "" {
				return s
			}
		}
	}
	for _, c := range n.Content {
		if n.Kind == yaml.SequenceNode {
			if s := secureValue(c, path); s != "" {
				return s
			}
		}
	}
	return ""
}

// placeholders collects the config keys (without config.) whose values still hold REPLACE.
func placeholders(n *yaml.Node, path []string, out *[]string) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			placeholders(n.Content[i+1], append(slices.Clone(path), n.Content[i].Value), out)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			placeholders(c, path, out)
		}
	case yaml.ScalarNode:
		if strings.Contains(n.Value, stackconfig.Placeholder) && len(path) > 1 && path[0] == "config" {
			*out = append(*out, strings.Join(path[1:], "."))
		}
	}
}

// SiteRunner runs stacks and reads a stack's outputs; StackRunner outside tests.
type SiteRunner interface {
	// Run runs op over the stacks; configFiles gives a stack another config file than its own.
	Run(ctx context.Context, op string, stacks []string, configFiles map[string]string) ([]Result, error)
	Outputs(ctx context.Context, stack string) (map[string]any, error)
}

// StackRunner runs stacks as `fleet up|preview` does, for the project directory Root, from its program's
// directory (ProgramDir), which must be the working directory (the inline program reads its files there).
type StackRunner struct {
	Root      string
	Out       io.Writer
	Interrupt *Interrupt
	Backend
}

// Run runs op over the stacks, one at a time (the global stack first), and prints the summary table.
func (r StackRunner) Run(ctx context.Context, op string, stacks []string, configFiles map[string]string) ([]Result, error) {
	results, err := Run(ctx, Options{Root: r.Root, Op: op, Stacks: stacks, Parallel: 1, ConfigFiles: configFiles,
		Interrupt: r.Interrupt, Backend: r.Backend, Out: r.Out})
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(r.Out)
	return results, WriteTable(r.Out, op, results)
}

// Outputs are the stack's outputs, secrets included in plain text.
func (r StackRunner) Outputs(ctx context.Context, stack string) (map[string]any, error) {
	project, err := projectName(r.Root)
	if err != nil {
		return nil, err
	}
	env, err := r.secretsEnv(stack)
	if err != nil {
		return nil, err
	}
	s, err := Open(ctx, r.Root, r.address(project, stack), env)
	if err != nil {
		return nil, err
	}
	outs, err := s.Outputs(ctx)
	if err != nil {
		return nil, err
	}
	values := map[string]any{}
	for k, o := range outs {
		values[k] = o.Value
	}
	return values, nil
}

// AddSiteMode is what add-site does once its checks pass.
type AddSiteMode int

const (
	// AddAndDeploy writes both files, then runs an up of the global stack and of the new site.
	AddAndDeploy AddSiteMode = iota
	// AddForReview writes both files and runs nothing: the pull request's preview shows both plans, and
	// the deploy on merge applies global, then the site.
	AddForReview
	// PreviewOnly previews the global stack with the site added and writes nothing.
	PreviewOnly
)

// AddSite adds a site: the global stack's sites and the site's stack file (see PlanSite), then, in
// AddAndDeploy, an up of the global stack and of the new site, and the site's firewall request from the
// global stack's outputs. While the site file still holds REPLACE values only the global stack runs. With
// PreviewOnly, only the global stack is previewed (a site stack is refused until the global stack's sites
// output lists it), against the global file with the site added, and no file changes.
func AddSite(ctx context.Context, root string, req SiteRequest, mode AddSiteMode, run SiteRunner, out io.Writer) error {
	plan, err := PlanSite(root, req)
	if err != nil {
		return fmt.Errorf("%w, nothing changed: %w", ErrRefused, err)
	}
	if mode == PreviewOnly {
		return previewSite(ctx, plan, req, run, out)
	}
	if err := writeNew(plan.SiteFile, plan.Site); err != nil {
		return err
	}
	if err := os.WriteFile(plan.GlobalFile, plan.GlobalAfter, 0o644); err != nil {
		return errors.Join(err, os.Remove(plan.SiteFile))
	}
	fmt.Fprintf(out, "add-site: added %s to the sites of %s and wrote %s\n", req.Name, plan.GlobalFile, plan.SiteFile)
	if plan.Keys == nil {
		fmt.Fprintf(out, "add-site: the global stack does not push certificates (distribution.enabled is not true): copy %s's client certificate into the secrets provider and set secrets.mtls.clientKey (README, Adding a site)\n", req.Name)
	}
	if mode == AddForReview {
		if len(plan.Placeholders) > 0 {
			fmt.Fprintf(out, "add-site: set the REPLACE values of %s first: %s\n", plan.SiteFile, strings.Join(plan.Placeholders, ", "))
		}
		fmt.Fprintf(out, "add-site: nothing ran. Open a pull request with both files: its preview shows the global stack's change and the site's plan (which waits for global); merging it deploys global, then %s%s\n", SitePrefix, req.Name)
		return nil
	}
	stacks := []string{GlobalStack}
	if len(plan.Placeholders) == 0 {
		stacks = append(stacks, SitePrefix+req.Name)
	}
	results, err := run.Run(ctx, "up", stacks, nil)
	if err == nil && Failed(results) {
		err = errors.New("a stack failed (see above)")
	}
	if err != nil {
		return fmt.Errorf("%w; the files stay as written: fix the cause, then `go run ./cmd/fleet up --sites %s`", err, req.Name)
	}
	outputs, err := run.Outputs(ctx, GlobalStack)
	if err != nil {
		return fmt.Errorf("reading the global stack's outputs: %w", err)
	}
	if err := writeFirewallRequest(out, req.Name, outputs); err != nil {
		return err
	}
	if len(plan.Placeholders) > 0 {
		fmt.Fprintf(out, "\nadd-site: the site stack did not run: %s still holds REPLACE values at %s; set them, then `go run ./cmd/fleet up --sites %s`\n",
			plan.SiteFile, strings.Join(plan.Placeholders, ", "), req.Name)
	}
	return nil
}

// previewSite previews the global stack with its edited config in a copy outside the project, so the real
// file never changes, whatever stops the preview.
func previewSite(ctx context.Context, plan SitePlan, req SiteRequest, run SiteRunner, out io.Writer) error {
	dir, err := os.MkdirTemp("", "fleet-add-site-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	edited := filepath.Join(dir, filepath.Base(plan.GlobalFile))
	if err := os.WriteFile(edited, plan.GlobalAfter, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(out, "add-site: previewing the global stack with site %s added (from a copy of %s; no file changes)\n", req.Name, plan.GlobalFile)
	results, err := run.Run(ctx, "preview", []string{GlobalStack}, map[string]string{GlobalStack: edited})
	if err == nil && Failed(results) {
		err = errors.New("the global stack's preview failed (see above)")
	}
	fmt.Fprintf(out, "\nadd-site: would write %s:\n%s\n", plan.SiteFile, plan.Site)
	if len(plan.Placeholders) > 0 {
		fmt.Fprintf(out, "add-site: it would still hold REPLACE values at %s\n", strings.Join(plan.Placeholders, ", "))
	}
	fmt.Fprintf(out, "add-site: the site stack previews once the global stack lists %s (it checks the global stack's sites output); the firewall request is printed after the up\n", req.Name)
	return err
}

// writeNew writes a file that must not exist yet.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return errors.Join(err, os.Remove(path))
	}
	return nil
}

// writeFirewallRequest prints the site's entry of the global stack's firewallRules output.
func writeFirewallRequest(out io.Writer, site string, outputs map[string]any) error {
	rules, _ := outputs["firewallRules"].(map[string]any)
	rule, ok := rules[site].(map[string]any)
	if !ok {
		return fmt.Errorf("the global stack's firewallRules output has no entry for %s", site)
	}
	list := func(v any) string {
		items, _ := v.([]any)
		s := make([]string, len(items))
		for i, it := range items {
			s[i] = fmt.Sprint(it)
		}
		return strings.Join(s, ", ")
	}
	fmt.Fprintf(out, "\nFirewall request for site %s (global stack output firewallRules.%s):\n", site, site)
	for _, row := range [][2]string{
		{"source", list(rule["sources"])},
		{"destination", fmt.Sprint(rule["destination"])},
		{"protocol", fmt.Sprint(rule["protocol"])},
		{"ports", list(rule["ports"])},
		{"handling", fmt.Sprint(rule["handling"])},
		{"action", fmt.Sprint(rule["action"])},
	} {
		fmt.Fprintf(out, "  %-12s %s\n", row[0], row[1])
	}
	return nil
}
