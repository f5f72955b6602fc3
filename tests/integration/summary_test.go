package integration

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/fleet"
)

// TestTheSummaryListsARealPreviewsChanges feeds the fleet's step recorder and Markdown summary a real
// preview's engine events: a program of its own, with the pinned kubernetes provider in render mode (no
// cluster), is brought up, then changed in three ways and previewed, as the PR comment would show it. The
// provider replaces a ConfigMap whose data changes (it treats ConfigMaps as immutable), and updates a
// Namespace's labels in place.
func TestTheSummaryListsARealPreviewsChanges(t *testing.T) {
	e := newPulumiEnv(t)
	cli, err := pulumiCLI()
	require.NoError(t, err)
	render := t.TempDir()
	program := func(logLevel string, withExtra bool) pulumi.RunFunc {
		return func(ctx *pulumi.Context) error {
			provider, err := kubernetes.NewProvider(ctx, "render", &kubernetes.ProviderArgs{
				RenderYamlToDirectory: pulumi.String(render),
			})
			if err != nil {
				return err
			}
			if _, err := corev1.NewNamespace(ctx, "nautobot", &corev1.NamespaceArgs{Metadata: &metav1.ObjectMetaArgs{
				Name: pulumi.String("nautobot"), Labels: pulumi.StringMap{"log-level": pulumi.String(strings.ToLower(logLevel))}}},
				pulumi.Provider(provider)); err != nil {
				return err
			}
			meta := func(name string) *metav1.ObjectMetaArgs {
				return &metav1.ObjectMetaArgs{Name: pulumi.String(name), Namespace: pulumi.String("nautobot")}
			}
			if _, err := corev1.NewConfigMap(ctx, "worker-env", &corev1.ConfigMapArgs{Metadata: meta("worker-env"),
				Data: pulumi.StringMap{"LOG_LEVEL": pulumi.String(logLevel), "QUEUE": pulumi.String("dfw1")}}, pulumi.Provider(provider)); err != nil {
				return err
			}
			if _, err := corev1.NewConfigMap(ctx, "unchanged", &corev1.ConfigMapArgs{Metadata: meta("unchanged"),
				Data: pulumi.StringMap{"A": pulumi.String("1")}}, pulumi.Provider(provider)); err != nil {
				return err
			}
			if withExtra {
				_, err = corev1.NewConfigMap(ctx, "extra", &corev1.ConfigMapArgs{Metadata: meta("extra")}, pulumi.Provider(provider))
			}
			return err
		}
	}
	stack, err := auto.UpsertStackInlineSource(t.Context(), e.prefix+"-summary", "fleet-summary-test", program("INFO", true),
		auto.EnvVars(e.commandVars()), auto.Pulumi(cli), auto.WorkDir(t.TempDir()))
	require.NoError(t, err)
	var log bytes.Buffer
	upRecorder := fleet.NewStepRecorder()
	_, err = stack.Up(t.Context(), optup.EventStreams(upRecorder.Events()), optup.ProgressStreams(&log), optup.ErrorProgressStreams(&log),
		optup.SuppressProgress())
	require.NoError(t, err, log.String())
	var created []string
	for _, step := range upRecorder.Steps() {
		require.Equal(t, "create", step.Op)
		created = append(created, step.Type+" "+step.Name)
	}
	require.Equal(t, []string{"kubernetes:core/v1:ConfigMap extra", "kubernetes:core/v1:ConfigMap unchanged", "kubernetes:core/v1:ConfigMap worker-env",
		"kubernetes:core/v1:Namespace nautobot", "pulumi:providers:kubernetes render", "pulumi:pulumi:Stack fleet-summary-test-" + stack.Name()}, created)
	require.FileExists(t, filepath.Join(render, "1-manifest", "v1-configmap-nautobot-worker-env.yaml"))

	stack.Workspace().SetProgram(program("DEBUG", false))
	recorder := fleet.NewStepRecorder()
	start := time.Now()
	preview, err := stack.Preview(t.Context(), optpreview.EventStreams(recorder.Events()), optpreview.Diff(),
		optpreview.ProgressStreams(&log), optpreview.ErrorProgressStreams(&log), optpreview.SuppressProgress())
	require.NoError(t, err, log.String())
	t.Logf("preview: %s", time.Since(start).Round(time.Millisecond))
	steps := recorder.Steps()
	require.Equal(t, []fleet.Step{
		{Op: "update", Type: "kubernetes:core/v1:Namespace", Name: "nautobot", Properties: []string{"metadata.labels.log-level"}},
		{Op: "replace", Type: "kubernetes:core/v1:ConfigMap", Name: "worker-env", Properties: []string{"data.LOG_LEVEL (replaces)"}},
		{Op: "delete", Type: "kubernetes:core/v1:ConfigMap", Name: "extra"},
	}, steps, log.String())

	var md bytes.Buffer
	require.NoError(t, fleet.WriteMarkdown(&md, "preview", []fleet.Result{{Stack: "site-dfw1", Steps: steps,
		Changes: map[string]int{"update": preview.ChangeSummary["update"], "replace": preview.ChangeSummary["replace"],
			"delete": preview.ChangeSummary["delete"], "same": preview.ChangeSummary["same"]}}}, 0))
	t.Logf("the summary:\n%s", md.String())
	require.Contains(t, md.String(), "| `site-dfw1` | 0 | 1 | 1 | 1 | 3 |")
	require.Contains(t, md.String(), "<details><summary><code>site-dfw1</code>: 1 update, 1 replace, 1 delete</summary>")
	require.Contains(t, md.String(), "| update | <code>kubernetes&#58;core/v1&#58;Namespace</code> | <code>nautobot</code> | <code>metadata.labels.log-level</code> |")
	require.Contains(t, md.String(), "| replace | <code>kubernetes&#58;core/v1&#58;ConfigMap</code> | <code>worker-env</code> | <code>data.LOG&#95;LEVEL &#40;replaces&#41;</code> |")
	require.Contains(t, md.String(), "| delete | <code>kubernetes&#58;core/v1&#58;ConfigMap</code> | <code>extra</code> |  |")
}
