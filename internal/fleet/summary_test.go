package fleet

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/stretchr/testify/require"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer/html"
)

func preEvent(op apitype.OpType, typ, name string, detailed map[string]apitype.DiffKind, diffs, keys []string) events.EngineEvent {
	m := apitype.StepEventMetadata{Op: op, Type: typ, URN: "urn:pulumi:global::nautobot-worker::" + typ + "::" + name, Diffs: diffs, Keys: keys}
	if detailed != nil {
		m.DetailedDiff = map[string]apitype.PropertyDiff{}
		for path, kind := range detailed {
			m.DetailedDiff[path] = apitype.PropertyDiff{Kind: kind}
		}
	}
	return events.EngineEvent{EngineEvent: apitype.EngineEvent{ResourcePreEvent: &apitype.ResourcePreEvent{Metadata: m}}}
}

const (
	deployment = "kubernetes:apps/v1:Deployment"
	configMap  = "kubernetes:core/v1:ConfigMap"
	secret     = "kubernetes:core/v1:Secret"
)

func TestStepRecorderKeepsTheChangesAndHowTheyChange(t *testing.T) {
	sent := []events.EngineEvent{
		preEvent("same", configMap, "unchanged", nil, nil, nil),
		preEvent("read", "pulumi:pulumi:StackReference", "global", nil, nil, nil),
		preEvent("update", deployment, "worker", map[string]apitype.DiffKind{
			"spec.replicas": apitype.DiffUpdate, "spec.template.metadata.labels.new": apitype.DiffAdd,
			"spec.template.spec.volumes[1]": apitype.DiffDelete}, []string{"spec"}, nil),
		// A replace is three steps; it is listed once.
		preEvent("create-replacement", secret, "client", nil, nil, nil),
		preEvent("replace", secret, "client", map[string]apitype.DiffKind{"type": apitype.DiffUpdateReplace}, []string{"type"}, []string{"type"}),
		preEvent("delete-replaced", secret, "client", nil, nil, nil),
		// Without a detailed diff, the top-level keys, marked when they force the replace.
		preEvent("replace", configMap, "immutable", nil, []string{"data", "immutable"}, []string{"immutable"}),
		preEvent("create", configMap, "new", nil, nil, nil),
		preEvent("delete", configMap, "old", nil, nil, nil),
		{EngineEvent: apitype.EngineEvent{ResOpFailedEvent: &apitype.ResOpFailedEvent{
			Metadata: apitype.StepEventMetadata{Op: "update", URN: "urn:pulumi:global::nautobot-worker::" + deployment + "::worker"}}}},
		{EngineEvent: apitype.EngineEvent{SummaryEvent: &apitype.SummaryEvent{}}},
	}
	want := []Step{
		{Op: "create", Type: configMap, Name: "new"},
		{Op: "update", Type: deployment, Name: "worker", Failed: true,
			Properties: []string{"spec.replicas", "spec.template.metadata.labels.new (added)", "spec.template.spec.volumes[1] (removed)"}},
		{Op: "replace", Type: configMap, Name: "immutable", Properties: []string{"data", "immutable (replaces)"}},
		{Op: "replace", Type: secret, Name: "client", Properties: []string{"type (replaces)"}},
		{Op: "delete", Type: configMap, Name: "old"},
	}
	// The Automation API closes the stream when the CLI had opened it; when it had not, Steps stops reading.
	for _, closed := range []bool{true, false} {
		t.Run(fmt.Sprintf("stream closed: %v", closed), func(t *testing.T) {
			r := NewStepRecorder()
			for _, ev := range sent {
				r.Events() <- ev
			}
			if closed {
				close(r.Events())
			}
			require.Equal(t, want, r.Steps())
		})
	}
}

func stepsOf(n int, op, typ string) []Step {
	steps := make([]Step, n)
	for i := range steps {
		steps[i] = Step{Op: op, Type: typ, Name: fmt.Sprintf("object-%04d", i), Properties: []string{"data.key"}}
	}
	return steps
}

// renderMarkdown renders Markdown as GitHub does (CommonMark, tables, raw HTML kept), so a test sees the
// structure a reviewer would.
func renderMarkdown(t *testing.T, md string) string {
	t.Helper()
	var out bytes.Buffer
	require.NoError(t, goldmark.New(goldmark.WithExtensions(extension.Table), goldmark.WithRendererOptions(html.WithUnsafe())).
		Convert([]byte(md), &out))
	return out.String()
}

func TestSummaryMarkdownListsEachStacksChangesFolded(t *testing.T) {
	results := []Result{
		{Stack: "global", Changes: map[string]int{"same": 47}},
		{Stack: "site-dfw1", Changes: map[string]int{"create": 1, "update": 1, "same": 15}, Steps: []Step{
			{Op: "create", Type: configMap, Name: "nautobot-worker-env"},
			{Op: "update", Type: deployment, Name: "worker", Properties: []string{"spec.replicas", "spec.template.spec.containers[0].image"}},
		}},
	}
	var out bytes.Buffer
	require.NoError(t, WriteMarkdown(&out, "preview", results, 0))
	md := out.String()
	require.Contains(t, md, "\n<details><summary><code>site-dfw1</code>: 1 create, 1 update</summary>\n\n"+
		"| change | type | name | properties |\n|---|---|---|---|\n"+
		"| create | <code>kubernetes&#58;core/v1&#58;ConfigMap</code> | <code>nautobot-worker-env</code> |  |\n"+
		"| update | <code>kubernetes&#58;apps/v1&#58;Deployment</code> | <code>worker</code> | <code>spec.replicas</code> <code>spec.template.spec.containers&#91;0&#93;.image</code> |\n\n</details>\n")
	require.NotContains(t, md, "<code>global</code>", "a stack without changes has no section")

	page := renderMarkdown(t, md)
	require.Contains(t, page, "<td><code>kubernetes:apps/v1:Deployment</code></td>")
	require.Contains(t, page, "<td><code>spec.replicas</code> <code>spec.template.spec.containers[0].image</code></td>")
}

// An error may hold anything: a fence, the tags that close the section, a pipe, Markdown.
func TestErrorTextCannotBreakTheSummary(t *testing.T) {
	hostile := "preview | exit status 255\n```\n</pre></details>\n\n<details><summary>x</summary>\n*not emphasis* <script>alert(1)</script> & `code`\n````"
	results := []Result{
		{Stack: "site-iad1", Err: errors.New(hostile), Steps: []Step{{Op: "update", Type: configMap, Name: "a|b`c</details>"}}},
		{Stack: "site-lon1", Changes: map[string]int{"create": 1}, Steps: []Step{{Op: "create", Type: configMap, Name: "after"}}},
	}
	var out bytes.Buffer
	require.NoError(t, WriteMarkdown(&out, "preview", results, 0))
	md := out.String()
	require.Contains(t, md, "| `site-iad1` | - | - | - | - | - | 0s | failed&#58; preview &#124; exit status 255 … |\n", "the table cell is escaped too")
	require.Contains(t, md, "<pre>\n"+strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(hostile)+"\n</pre>\n")

	page := renderMarkdown(t, md)
	require.Equal(t, 2, strings.Count(page, "<details>"), page)
	require.Equal(t, 2, strings.Count(page, "</details>"), page)
	require.Equal(t, 1, strings.Count(page, "<pre>"), page)
	require.NotContains(t, page, "<script>")
	require.NotContains(t, page, "<em>")
	pre := regexp.MustCompile(`(?s)<pre>\n(.*?)</pre>`).FindStringSubmatch(page)
	require.NotNil(t, pre, page)
	require.Contains(t, pre[1], "```\n&lt;/pre&gt;&lt;/details&gt;\n\n&lt;details&gt;", "the whole error, as text, in the one block")
	require.Contains(t, page, "<td><code>a|b`c&lt;/details&gt;</code></td>", "a name with a pipe stays one cell")
	require.Contains(t, page, "<td><code>after</code></td>", "the next stack's section is intact")
}

func TestMarkdownLimitTrimsTheLargestSectionsFirst(t *testing.T) {
	results := []Result{
		{Stack: "global", Steps: stepsOf(3, "update", configMap)},
		{Stack: "site-big", Steps: stepsOf(2000, "create", configMap)},
		{Stack: "site-bigger", Steps: stepsOf(3000, "delete", secret)},
		{Stack: "site-failed", Err: errors.New("start of the error\n" + strings.Repeat("<noise> ", 20000) + "\nerror: the real cause")},
	}
	const limit = 30000
	var out bytes.Buffer
	require.NoError(t, WriteMarkdown(&out, "preview", results, limit))
	md := out.String()
	require.LessOrEqual(t, len(md), limit)
	require.Greater(t, len(md), limit-2000, "the budget is used, not wasted")

	require.Equal(t, 3, countRows(md, "update"), "the small section is whole")
	big, bigger := countRows(md, "create"), countRows(md, "delete")
	require.Greater(t, big, 30)
	require.InDelta(t, big, bigger, float64(big)/5, "the two large sections get about equal shares")
	require.Contains(t, md, fmt.Sprintf("<i>%d more not shown", 2000-big))
	require.Contains(t, md, fmt.Sprintf("<i>%d more not shown", 3000-bigger))
	require.Contains(t, md, "start of the error")
	require.Contains(t, md, "error: the real cause")
	require.Contains(t, md, "… (cut to fit the comment")

	page := renderMarkdown(t, md)
	require.Equal(t, 4, strings.Count(page, "</details>"))
}

func countRows(md, op string) int { return strings.Count(md, "\n| "+op+" | ") }

func TestFairShares(t *testing.T) {
	cases := []struct {
		sizes  []int
		budget int
		want   []int
	}{
		{[]int{10, 20}, 100, []int{10, 20}},
		{[]int{10, 500, 400}, 310, []int{10, 150, 150}},
		{[]int{500, 10, 90}, 200, []int{100, 10, 90}},
		{[]int{5, 5}, -3, []int{0, 0}},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, fairShares(tc.sizes, tc.budget), "sizes %v, budget %d", tc.sizes, tc.budget)
	}
}
