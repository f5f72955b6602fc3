package chart

import (
	"context"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
)

// DropEmptySecretData removes an empty `data` map from a Secret a chart renders. The Nautobot chart renders
// its <release>-env Secret with `data: {}` once every credential comes from an existing secret (as in both
// releases here), and the pinned provider then plans to replace that Secret on every preview, as if `data`
// were new. Without the key the API server stores the same object.
func DropEmptySecretData(ctx context.Context, args *pulumi.ResourceTransformArgs) *pulumi.ResourceTransformResult {
	if args.Type != "kubernetes:core/v1:Secret" || !isEmptyMap(ctx, args.Props["data"]) {
		return nil
	}
	props := pulumi.Map{}
	for k, v := range args.Props {
		if k != "data" {
			props[k] = v
		}
	}
	return &pulumi.ResourceTransformResult{Props: props, Opts: args.Opts}
}

// isEmptyMap reports whether v is a map without entries. The chart's objects reach a transform with a
// Secret's data already wrapped as a secret output, which is resolved at that point.
func isEmptyMap(ctx context.Context, v pulumi.Input) bool {
	if out, ok := v.(pulumi.Output); ok {
		res, err := internals.UnsafeAwaitOutput(ctx, out)
		if err != nil || !res.Known {
			return false
		}
		m, ok := res.Value.(map[string]any)
		return ok && len(m) == 0
	}
	m, ok := v.(pulumi.Map)
	return ok && len(m) == 0
}
