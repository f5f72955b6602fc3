package nautobotpod

import (
	"fmt"

	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"nautobot-worker/internal/chart"
)

// Release is a Helm release of the Nautobot chart.
type Release struct {
	// Chart is where the chart comes from, and ChartKey the config key it was read from (for errors).
	Chart    chart.Source
	ChartKey string
	// CacheDir holds schema-less chart copies (empty: chart.DefaultCacheDir).
	CacheDir  string
	Name      string
	Namespace string
	// SkipAwait does not wait for the rendered objects to become ready (for API servers without nodes).
	SkipAwait bool
	Values    map[string]any
	// SecretValues keeps the values a Pulumi secret, when any of them came from a secret.
	SecretValues bool
}

// NewRelease registers the release as a helm/v4 Chart. Secrets the chart renders without data (its
// placeholders for existing secrets) are dropped, so the release never overwrites them.
func NewRelease(ctx *pulumi.Context, name string, r Release, opts ...pulumi.ResourceOption) (*helmv4.Chart, error) {
	location, err := r.Chart.Locate(r.CacheDir)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", r.ChartKey, err)
	}
	args := location.ChartArgs()
	args.Name = pulumi.StringPtr(r.Name)
	args.Namespace = pulumi.StringPtr(r.Namespace)
	args.SkipAwait = pulumi.BoolPtr(r.SkipAwait)
	args.Values = pulumi.ToMap(r.Values)
	if r.SecretValues {
		args.Values = pulumi.ToSecret(pulumi.ToMap(r.Values)).(pulumi.MapOutput)
	}
	return helmv4.NewChart(ctx, name, &args,
		append(opts, pulumi.Transforms([]pulumi.ResourceTransform{chart.DropEmptySecretData}))...)
}
