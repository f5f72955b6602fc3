package fleet

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// projectCopy copies the demo project (its project file, global stack file and site files) and the
// repository's site template into a fresh directory, with extra appended to the global stack's config
// (e.g. a distribution setting).
func projectCopy(t *testing.T, globalExtra string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"demo/Pulumi.yaml", "demo/Pulumi.global.yaml", "Pulumi.site-example.yaml", "demo/Pulumi.site-dfw1.yaml", "demo/Pulumi.site-iad1.yaml"} {
		text, err := os.ReadFile(filepath.Join("..", "..", f))
		require.NoError(t, err)
		if f == "demo/Pulumi.global.yaml" {
			require.True(t, strings.HasSuffix(string(text), "    skipAwait: true\n"), "demo/Pulumi.global.yaml no longer ends in its config: update projectCopy()")
			text = append(text, globalExtra...)
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.Base(f)), text, 0o644))
	}
	return dir
}

const pushToDemo = "  nautobot-worker:distribution:\n    enabled: true\n    store: {name: demo-secrets-push}\n"

// snapshot is every file of dir and its bytes.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	files := map[string]string{}
	for _, e := range entries {
		text, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		files[e.Name()] = string(text)
	}
	return files
}

// fakeRunner records the runs AddSite asks for instead of running Pulumi.
type fakeRunner struct {
	calls []string
	// during is called inside each run, while the files are as the run sees them, with the config files
	// the run was given instead of the stacks' own.
	during  func(configFiles map[string]string)
	results func(op string, stacks []string) []Result
	outputs map[string]any
}

func (f *fakeRunner) Run(_ context.Context, op string, stacks []string, configFiles map[string]string) ([]Result, error) {
	f.calls = append(f.calls, op+" "+strings.Join(stacks, ","))
	if f.during != nil {
		f.during(configFiles)
	}
	if f.results != nil {
		return f.results(op, stacks), nil
	}
	var out []Result
	for _, s := range stacks {
		out = append(out, Result{Stack: s})
	}
	return out, nil
}

func (f *fakeRunner) Outputs(context.Context, string) (map[string]any, error) { return f.outputs, nil }

func demoOutputs(site string, sources ...any) map[string]any {
	return map[string]any{"firewallRules": map[string]any{site: map[string]any{
		"sources": sources, "destination": "203.0.113.10", "protocol": "TCP", "ports": []any{5432.0, 6379.0},
		"handling": "TLS/SSL passthrough (no interception; SNI nautobot-db.demo.example.com, nautobot-redis.demo.example.com)",
		"action":   "allow",
	}}}
}

// TestTheGlobalSitesGetTheSiteInPlace: the demo global stack file gets two lines after its last site,
// indented as that site, and every other byte stays.
func TestTheGlobalSitesGetTheSiteInPlace(t *testing.T) {
	dir := projectCopy(t, "")
	plan, err := PlanSite(dir, SiteRequest{Name: "lon2", EgressCIDRs: []string{"10.40.0.0/16", "2001:db8::/48"}})
	require.NoError(t, err)
	before := string(plan.GlobalBefore)
	last := "    - name: lon1\n      egressCidrs: [10.30.0.0/16, 192.0.2.0/28]\n"
	require.Contains(t, before, last)
	want := strings.Replace(before, last, last+"    - name: lon2\n      egressCidrs: [10.40.0.0/16, \"2001:db8::/48\"]\n", 1)
	require.Equal(t, want, string(plan.GlobalAfter))
}

func TestAddingToSitesKeepsTheFileAsItIs(t *testing.T) {
	const head = "# head\nconfig:\n  nautobot-worker:role: global\n"
	const tail = "  # about the gateway\n  nautobot-worker:gateway:\n    domain: example.com\nencryptionsalt: v1:x\n"
	for _, tc := range []struct {
		name, sites, want string
		cidrs             []string
		site              string
	}{
		{
			name:  "a block list with comments, a blank line and a multi-line item",
			sites: "  nautobot-worker:sites:\n    # first\n    - name: dfw1\n      egressCidrs:\n        - 10.10.0.0/16\n\n        - 10.11.0.0/16 # second range\n",
			want:  "  nautobot-worker:sites:\n    # first\n    - name: dfw1\n      egressCidrs:\n        - 10.10.0.0/16\n\n        - 10.11.0.0/16 # second range\n    - name: lon2\n      egressCidrs: [10.40.0.0/16]\n",
		},
		{
			name:  "a site without egress ranges",
			sites: "  nautobot-worker:sites:\n    - name: dfw1\n      egressCidrs: []\n",
			want:  "  nautobot-worker:sites:\n    - name: dfw1\n      egressCidrs: []\n    - name: lon2\n      egressCidrs: [10.40.0.0/16]\n",
		},
		{
			name:  "dashes at the key's indentation",
			sites: "  nautobot-worker:sites:\n  - name: dfw1\n",
			want:  "  nautobot-worker:sites:\n  - name: dfw1\n  - name: lon2\n    egressCidrs: [10.40.0.0/16]\n",
		},
		{
			name:  "an empty flow list",
			sites: "  nautobot-worker:sites: []   # none yet\n",
			want:  "  nautobot-worker:sites: [{name: lon2, egressCidrs: [10.40.0.0/16]}]   # none yet\n",
		},
		{
			name:  "a flow list",
			sites: "  nautobot-worker:sites: [{name: dfw1, egressCidrs: [\"10.10.0.0/16\"]}]\n",
			want:  "  nautobot-worker:sites: [{name: dfw1, egressCidrs: [\"10.10.0.0/16\"]}, {name: lon2, egressCidrs: [10.40.0.0/16]}]\n",
		},
		{
			name:  "no sites yet",
			sites: "",
			want:  "  nautobot-worker:sites:\n    - name: lon2\n      egressCidrs: [10.40.0.0/16]\n",
		},
		{
			name:  "a name YAML 1.1 reads as a boolean, and several ranges",
			sites: "  nautobot-worker:sites:\n    - name: dfw1\n",
			site:  "no", cidrs: []string{"10.40.0.0/16", "10.41.0.0/16"},
			want: "  nautobot-worker:sites:\n    - name: dfw1\n    - name: \"no\"\n      egressCidrs: [10.40.0.0/16, 10.41.0.0/16]\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := projectCopy(t, "")
			text := head + tc.sites + tail
			if tc.sites == "" {
				// Added after the last entry of config, before the comment that belongs to what follows it.
				text = head + "  nautobot-worker:namespace: nautobot\n" + "# the salt\nencryptionsalt: v1:x\n"
				tc.want = head + "  nautobot-worker:namespace: nautobot\n" + tc.want + "# the salt\nencryptionsalt: v1:x\n"
			} else {
				tc.want = head + tc.want + tail
			}
			require.NoError(t, os.WriteFile(filepath.Join(dir, "Pulumi.global.yaml"), []byte(text), 0o644))
			site, cidrs := "lon2", []string{"10.40.0.0/16"}
			if tc.site != "" {
				site, cidrs = tc.site, tc.cidrs
			}
			plan, err := PlanSite(dir, SiteRequest{Name: site, EgressCIDRs: cidrs})
			require.NoError(t, err)
			require.Equal(t, tc.want, string(plan.GlobalAfter))
		})
	}
}

// TestAnEditThatReadsOtherwiseIsRefused: the check every edit passes before a file is written.
func TestAnEditThatReadsOtherwiseIsRefused(t *testing.T) {
	text := []byte("config:\n  nautobot-worker:namespace: nautobot\n  nautobot-worker:sites: [{name: dfw1}]\n")
	require.NoError(t, sameConfig(text, map[string]any{"nautobot-worker:namespace": "nautobot",
		"nautobot-worker:sites": []any{map[string]any{"name": "dfw1"}}}))
	require.ErrorContains(t, sameConfig(text, map[string]any{"nautobot-worker:namespace": "nautobot",
		"nautobot-worker:sites": []any{map[string]any{"name": "dfw1"}, map[string]any{"name": "lon2"}}}),
		"the edit would not read as intended")
}

func TestTheSiteFileComesFromTheTemplate(t *testing.T) {
	t.Run("the example template, with the distribution's keys", func(t *testing.T) {
		dir := projectCopy(t, pushToDemo)
		plan, err := PlanSite(dir, SiteRequest{Name: "lon2", EgressCIDRs: []string{"10.40.0.0/16"}, Partition: "lon"})
		require.NoError(t, err)
		text := string(plan.Site)
		require.True(t, strings.HasPrefix(text, "# Site lon2, written by `fleet add-site` from Pulumi.site-example.yaml."), text)
		require.NotContains(t, text, "Template of a site stack", "the template's header goes")
		for _, line := range []string{
			"    name: lon2\n",
			"    partition: lon\n",
			"      clientKey: nautobot-mtls-client-lon2   # this site's certificate + key (one field, concatenated)\n",
			"      caKey: nautobot-mtls-ca                 # the CA certificate, shared by all sites\n",
			"      clientCertProperty: password\n",
			// The template's comments and blank lines stay.
			"  # The six ExternalSecrets.",
			"\n\n  nautobot-worker:worker:\n",
		} {
			require.Contains(t, text, line)
		}
		require.Equal(t, []string{
			"nautobot-worker:secrets.store.name", "nautobot-worker:secrets.django.key",
			"nautobot-worker:secrets.db.key", "nautobot-worker:secrets.redis.key", "nautobot-worker:secrets.registry.key",
			"nautobot-worker:secrets.customEnv.key", "nautobot-worker:worker.image.repository", "nautobot-worker:worker.image.tag",
		}, plan.Placeholders)
	})

	t.Run("another site's file, separate fields, its own namespace", func(t *testing.T) {
		dir := projectCopy(t, "  nautobot-worker:distribution:\n    enabled: true\n    store: {name: demo-secrets-push}\n    layout: separate\n")
		plan, err := PlanSite(dir, SiteRequest{Name: "lon2", EgressCIDRs: []string{"10.40.0.0/16"}, Template: "Pulumi.site-dfw1.yaml",
			Namespace: "nautobot-lon2"})
		require.NoError(t, err)
		dfw1, err := os.ReadFile(filepath.Join(dir, "Pulumi.site-dfw1.yaml"))
		require.NoError(t, err)
		want := strings.NewReplacer(
			"# Demo site dfw1 on the local API server that `make cluster-up` starts (no kubelet: pods stay Pending).\n"+
				"# dfw1 and iad1 share that one API server, so each gets its own namespace. Keys: the README, \"Site stack config\".\n",
			"# Site lon2, written by `fleet add-site` from Pulumi.site-dfw1.yaml. Keys: the README, \"Site stack config\".\n"+
				"# secrets.mtls: where the global stack's distribution pushes this site's items (its output pushedRemoteKeys).\n",
			"    name: dfw1\n    partition: dfw\n", "    name: lon2\n    partition: \"\"\n",
			"namespace: nautobot-dfw1", "namespace: nautobot-lon2",
			"      clientKey: nautobot-mtls-client-dfw1\n      caKey: nautobot-mtls-ca\n",
			"      clientKey: nautobot-mtls-client-lon2\n      caKey: nautobot-mtls-ca\n"+
				"      clientCertProperty: tls.crt\n      clientKeyProperty: tls.key\n      caCertProperty: password\n",
		).Replace(string(dfw1))
		require.Equal(t, want, string(plan.Site))
		require.Empty(t, plan.Placeholders)
	})

	t.Run("a site that takes its CA from the global stack gets only the client item", func(t *testing.T) {
		dir := projectCopy(t, pushToDemo)
		text := "config:\n  nautobot-worker:site:\n    name: x\n  nautobot-worker:secrets:\n    mtls:\n      clientKey: REPLACE\n      caFrom: globalStack\n"
		require.NoError(t, os.WriteFile(filepath.Join(dir, "Pulumi.site-ca.yaml"), []byte(text), 0o644))
		plan, err := PlanSite(dir, SiteRequest{Name: "lon2", EgressCIDRs: []string{"10.40.0.0/16"}, Template: "Pulumi.site-ca.yaml"})
		require.NoError(t, err)
		require.Equal(t, "# Site lon2, written by `fleet add-site` from Pulumi.site-ca.yaml. Keys: the README, \"Site stack config\".\n"+
			"# secrets.mtls: where the global stack's distribution pushes this site's items (its output pushedRemoteKeys).\n"+
			"config:\n  nautobot-worker:site:\n    name: lon2\n  nautobot-worker:secrets:\n    mtls:\n      clientKey: nautobot-mtls-client-lon2\n      caFrom: globalStack\n"+
			"      clientCertProperty: password\n      clientKeyProperty: password\n", string(plan.Site))
	})

	t.Run("without distribution the client item is left to name", func(t *testing.T) {
		dir := projectCopy(t, "")
		plan, err := PlanSite(dir, SiteRequest{Name: "lon2", EgressCIDRs: []string{"10.40.0.0/16"}, Template: "Pulumi.site-dfw1.yaml",
			Namespace: "nautobot-lon2"})
		require.NoError(t, err)
		require.Nil(t, plan.Keys)
		require.Contains(t, string(plan.Site), "      clientKey: REPLACE/nautobot-mtls-client-lon2\n      caKey: nautobot-mtls-ca\n")
		require.Equal(t, []string{"nautobot-worker:secrets.mtls.clientKey"}, plan.Placeholders)
	})
}

// TestARefusalChangesNothing: each refusal names its reason, runs nothing and leaves every file of the
// project byte for byte as it was.
func TestARefusalChangesNothing(t *testing.T) {
	cidr := []string{"10.40.0.0/16"}
	for _, tc := range []struct {
		name   string
		req    SiteRequest
		global string // appended to the global stack's config
		setup  func(t *testing.T, dir string)
		want   string
	}{
		{name: "already a site", req: SiteRequest{Name: "lon1", EgressCIDRs: cidr}, want: `"lon1" is already a site of the global stack`},
		{name: "not a DNS label", req: SiteRequest{Name: "Lon_2", EgressCIDRs: cidr}, want: `NAME: "Lon_2" is not a site name`},
		{name: "too long", req: SiteRequest{Name: strings.Repeat("a", 48), EgressCIDRs: cidr}, want: "is not a site name: it must be a DNS label of at most 47 characters"},
		{name: "reserved", req: SiteRequest{Name: "default", EgressCIDRs: cidr}, want: `NAME: "default" is reserved`},
		{name: "no name", req: SiteRequest{EgressCIDRs: cidr}, want: "NAME: is required"},
		{name: "no egress range", req: SiteRequest{Name: "lon2"}, want: "--egress-cidr: is required"},
		{name: "a range that is not a CIDR", req: SiteRequest{Name: "lon2", EgressCIDRs: []string{"10.40.0.0"}}, want: `--egress-cidr: "10.40.0.0" is not a CIDR`},
		{name: "a namespace that is not a DNS label", req: SiteRequest{Name: "lon2", EgressCIDRs: cidr, Namespace: "Lon2"}, want: `--namespace: "Lon2" is not a valid DNS label`},
		{name: "a stack file of that name exists", req: SiteRequest{Name: "example", EgressCIDRs: cidr}, want: "Pulumi.site-example.yaml exists already"},
		{name: "a distribution the global stack would refuse", req: SiteRequest{Name: "lon2", EgressCIDRs: cidr},
			global: "  nautobot-worker:distribution: {enabled: true}\n", want: "config distribution.store.name: is required"},
		{name: "a misspelled distribution key", req: SiteRequest{Name: "lon2", EgressCIDRs: cidr},
			global: "  nautobot-worker:distribution: {enabled: true, storeName: x}\n", want: `config distribution: unknown key "storeName"`},
		{name: "a template that is no site stack file", req: SiteRequest{Name: "lon2", EgressCIDRs: cidr, Template: "Pulumi.global.yaml"},
			want: "Pulumi.global.yaml: it is not a site stack file"},
		{name: "a template with an encrypted value", req: SiteRequest{Name: "lon2", EgressCIDRs: cidr, Template: "Pulumi.site-secret.yaml"},
			setup: func(t *testing.T, dir string) {
				text := "config:\n  nautobot-worker:site: {name: x}\n  nautobot-worker:token:\n    secure: v1:abc\n"
				require.NoError(t, os.WriteFile(filepath.Join(dir, "Pulumi.site-secret.yaml"), []byte(text), 0o644))
			}, want: "config.nautobot-worker:token holds an encrypted value (secure:)"},
		{name: "a template that does not exist", req: SiteRequest{Name: "lon2", EgressCIDRs: cidr, Template: "Pulumi.site-nope.yaml"},
			want: "no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := projectCopy(t, tc.global)
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			before := snapshot(t, dir)
			run := &fakeRunner{}
			var out bytes.Buffer
			err := AddSite(t.Context(), dir, tc.req, AddAndDeploy, run, &out)
			require.ErrorContains(t, err, tc.want)
			require.Empty(t, run.calls, "a refusal runs no stack")
			require.Equal(t, before, snapshot(t, dir))
		})
	}
}

func TestAddSiteRunsTheGlobalStackThenTheSite(t *testing.T) {
	dir := projectCopy(t, pushToDemo)
	run := &fakeRunner{outputs: demoOutputs("lon2", "10.40.0.0/16")}
	run.during = func(configFiles map[string]string) {
		require.Empty(t, configFiles, "an up runs the stacks' own files")
		text, err := os.ReadFile(filepath.Join(dir, "Pulumi.global.yaml"))
		require.NoError(t, err)
		require.Contains(t, string(text), "- name: lon2", "the stacks run with the site added")
		require.FileExists(t, filepath.Join(dir, "Pulumi.site-lon2.yaml"))
	}
	var out bytes.Buffer
	err := AddSite(t.Context(), dir, SiteRequest{Name: "lon2", EgressCIDRs: []string{"10.40.0.0/16"}, Template: "Pulumi.site-dfw1.yaml",
		Namespace: "nautobot-lon2"}, AddAndDeploy, run, &out)
	require.NoError(t, err, out.String())
	require.Equal(t, []string{"up global,site-lon2"}, run.calls)
	require.Contains(t, out.String(), `
Firewall request for site lon2 (global stack output firewallRules.lon2):
  source       10.40.0.0/16
  destination  203.0.113.10
  protocol     TCP
  ports        5432, 6379
  handling     TLS/SSL passthrough (no interception; SNI nautobot-db.demo.example.com, nautobot-redis.demo.example.com)
  action       allow
`)
}

func TestAddSiteWithPlaceholdersRunsOnlyTheGlobalStack(t *testing.T) {
	dir := projectCopy(t, pushToDemo)
	run := &fakeRunner{outputs: demoOutputs("lon2", "10.40.0.0/16")}
	var out bytes.Buffer
	require.NoError(t, AddSite(t.Context(), dir, SiteRequest{Name: "lon2", EgressCIDRs: []string{"10.40.0.0/16"}}, AddAndDeploy, run, &out))
	require.Equal(t, []string{"up global"}, run.calls)
	require.Contains(t, out.String(), "Firewall request for site lon2")
	require.Contains(t, out.String(), "still holds REPLACE values at nautobot-worker:secrets.store.name, ")
	require.Contains(t, out.String(), "then `go run ./cmd/fleet up --sites lon2`")
}

func TestAFailedUpKeepsTheFilesAndSaysHowToGoOn(t *testing.T) {
	dir := projectCopy(t, pushToDemo)
	run := &fakeRunner{results: func(op string, stacks []string) []Result {
		return []Result{{Stack: "global", Err: errors.New("boom")}, {Stack: "site-lon2", Skipped: "the global stack failed"}}
	}}
	var out bytes.Buffer
	err := AddSite(t.Context(), dir, SiteRequest{Name: "lon2", EgressCIDRs: []string{"10.40.0.0/16"}, Template: "Pulumi.site-dfw1.yaml",
		Namespace: "nautobot-lon2"}, AddAndDeploy, run, &out)
	require.ErrorContains(t, err, "the files stay as written: fix the cause, then `go run ./cmd/fleet up --sites lon2`")
	require.FileExists(t, filepath.Join(dir, "Pulumi.site-lon2.yaml"))
}

// TestAPreviewLeavesEveryFileAsItWas: the global stack is previewed with the site in a copy of its file,
// outside the project, and no project file changes at any point (a killed preview leaves nothing edited),
// so the same add-site without --preview is not refused as an existing site.
func TestAPreviewLeavesEveryFileAsItWas(t *testing.T) {
	for name, fail := range map[string]bool{"a clean preview": false, "a failing preview": true} {
		t.Run(name, func(t *testing.T) {
			dir := projectCopy(t, pushToDemo)
			before := snapshot(t, dir)
			run := &fakeRunner{}
			run.during = func(configFiles map[string]string) {
				require.Equal(t, before, snapshot(t, dir), "the project's files while the preview runs")
				edited := configFiles["global"]
				require.NotEmpty(t, edited)
				require.NotEqual(t, dir, filepath.Dir(edited))
				text, err := os.ReadFile(edited)
				require.NoError(t, err)
				require.Contains(t, string(text), "- name: lon2")
			}
			if fail {
				run.results = func(string, []string) []Result { return []Result{{Stack: "global", Err: errors.New("boom")}} }
			}
			var out bytes.Buffer
			req := SiteRequest{Name: "lon2", EgressCIDRs: []string{"10.40.0.0/16"}, Template: "Pulumi.site-dfw1.yaml", Namespace: "nautobot-lon2"}
			err := AddSite(t.Context(), dir, req, PreviewOnly, run, &out)
			if fail {
				require.ErrorContains(t, err, "the global stack's preview failed")
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, []string{"preview global"}, run.calls)
			require.Equal(t, before, snapshot(t, dir))
			require.Contains(t, out.String(), "would write "+filepath.Join(dir, "Pulumi.site-lon2.yaml")+":\n# Site lon2")
			_, err = PlanSite(dir, req)
			require.NoError(t, err, "the site can still be added")
		})
	}
}

// TestAddSiteForReviewRunsNothing: --write-only writes exactly the files an up would run with, for a pull
// request, and runs no stack.
func TestAddSiteForReviewRunsNothing(t *testing.T) {
	dir := projectCopy(t, pushToDemo)
	req := SiteRequest{Name: "lon2", EgressCIDRs: []string{"10.40.0.0/16"}, Template: "Pulumi.site-dfw1.yaml", Namespace: "nautobot-lon2"}
	plan, err := PlanSite(dir, req)
	require.NoError(t, err)
	run := &fakeRunner{}
	var out bytes.Buffer
	require.NoError(t, AddSite(t.Context(), dir, req, AddForReview, run, &out))
	require.Empty(t, run.calls)
	for path, want := range map[string][]byte{plan.GlobalFile: plan.GlobalAfter, plan.SiteFile: plan.Site} {
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
	}
	require.Contains(t, out.String(), "nothing ran. Open a pull request with both files")
	require.NotContains(t, out.String(), "REPLACE")

	err = AddSite(t.Context(), dir, req, AddForReview, run, &out)
	require.ErrorIs(t, err, ErrRefused, "a second request for the same site changes nothing")
}

// TestWithoutDistributionTheClientItemIsThisSitesToSet: the certificate is copied by hand, so the item stays
// a value to set, named after the new site whatever the template named.
func TestWithoutDistributionTheClientItemIsThisSitesToSet(t *testing.T) {
	dir := projectCopy(t, "")
	for _, template := range []string{"Pulumi.site-example.yaml", "Pulumi.site-dfw1.yaml"} {
		plan, err := PlanSite(dir, SiteRequest{Name: "lon2", EgressCIDRs: []string{"10.40.0.0/16"}, Template: template, Namespace: "nautobot-lon2"})
		require.NoError(t, err, template)
		require.Regexp(t, `(?m)^      clientKey: REPLACE/nautobot-mtls-client-lon2\b`, string(plan.Site), template)
		require.Contains(t, plan.Placeholders, "nautobot-worker:secrets.mtls.clientKey", template)
	}
}

// TestANewSiteUsesItsRedisUserWhenTheGlobalStackGivesOne: a global stack file with a redisSiteKey (its
// value encrypted, only its presence read) and site users not turned off writes worker.redisSiteUser: true
// (a YAML bool, as the site stack decodes it) into the new site's file, with secrets.redis naming where the
// distribution pushes the site's password, or a placeholder for the hand copy without one.
func TestANewSiteUsesItsRedisUserWhenTheGlobalStackGivesOne(t *testing.T) {
	const siteKey = "  nautobot-worker:redisSiteKey:\n    secure: v1:c2FsdA==:ZW5jcnlwdGVk\n"
	// Continues the demo file's last mapping, nautobot-worker:nautobot.
	const usersOff = "    redis: {siteUsers: false}\n"
	cidr := []string{"10.40.0.0/16"}
	siteConfig := func(t *testing.T, plan SitePlan) map[string]any {
		t.Helper()
		cfg, err := stackConfig(plan.Site)
		require.NoError(t, err)
		return cfg
	}
	redisItem := func(cfg map[string]any) map[string]any {
		return cfg["nautobot-worker:secrets"].(map[string]any)["redis"].(map[string]any)
	}
	siteUser := func(cfg map[string]any) any {
		return cfg["nautobot-worker:worker"].(map[string]any)["redisSiteUser"]
	}

	t.Run("pushed: the site reads the item the distribution writes", func(t *testing.T) {
		dir := projectCopy(t, siteKey+pushToDemo)
		plan, err := PlanSite(dir, SiteRequest{Name: "lon2", EgressCIDRs: cidr, Template: "Pulumi.site-dfw1.yaml", Namespace: "nautobot-lon2"})
		require.NoError(t, err)
		require.True(t, plan.RedisSiteUser)
		cfg := siteConfig(t, plan)
		require.Equal(t, true, siteUser(cfg))
		// The demo template's flow mapping keeps its shape: the default field needs no new key.
		require.Equal(t, map[string]any{"key": "nautobot-redis-lon2"}, redisItem(cfg))
		require.Contains(t, string(plan.Site), "    redis: {key: nautobot-redis-lon2}\n")
		require.Contains(t, string(plan.Site), "# worker.redisSiteUser: the global stack gives every site a Redis user of its own")
		require.Empty(t, plan.Placeholders)
	})

	t.Run("pushed to a field of its own name", func(t *testing.T) {
		dir := projectCopy(t, siteKey+pushToDemo+"    redisKey: nautobot/{site}/redis\n    redisProperty: redis-password\n")
		plan, err := PlanSite(dir, SiteRequest{Name: "lon2", EgressCIDRs: cidr})
		require.NoError(t, err)
		cfg := siteConfig(t, plan)
		require.Equal(t, true, siteUser(cfg))
		require.Equal(t, "nautobot/lon2/redis", redisItem(cfg)["key"])
		require.Equal(t, "redis-password", redisItem(cfg)["property"])
		require.NotContains(t, plan.Placeholders, "nautobot-worker:secrets.redis.key")
	})

	t.Run("copied by hand: the site's own item is left to name", func(t *testing.T) {
		dir := projectCopy(t, siteKey)
		plan, err := PlanSite(dir, SiteRequest{Name: "lon2", EgressCIDRs: cidr, Template: "Pulumi.site-dfw1.yaml", Namespace: "nautobot-lon2"})
		require.NoError(t, err)
		cfg := siteConfig(t, plan)
		require.Equal(t, true, siteUser(cfg))
		require.Equal(t, "REPLACE/nautobot-redis-lon2", redisItem(cfg)["key"])
		require.Contains(t, plan.Placeholders, "nautobot-worker:secrets.redis.key")
	})

	for name, extra := range map[string]string{"no redisSiteKey": pushToDemo, "site users turned off": usersOff + siteKey + pushToDemo} {
		t.Run(name+": the fleet's shared password, as before", func(t *testing.T) {
			dir := projectCopy(t, extra)
			plan, err := PlanSite(dir, SiteRequest{Name: "lon2", EgressCIDRs: cidr, Template: "Pulumi.site-dfw1.yaml", Namespace: "nautobot-lon2"})
			require.NoError(t, err)
			require.False(t, plan.RedisSiteUser)
			cfg := siteConfig(t, plan)
			require.Nil(t, siteUser(cfg))
			require.Equal(t, map[string]any{"key": "nautobot-redis"}, redisItem(cfg))
			require.NotContains(t, string(plan.Site), "redisSiteUser")
		})
	}
}
