// Package chartrender renders a local Helm chart offline with Helm's Go SDK (helm.sh/helm/v3, the version
// the pinned kubernetes provider links), the way the provider's helm/v4 Chart does before it registers the
// objects: client-side only, like `helm template`, hooks set aside, and without values.schema.json
// validation, which is what the stacks' skipSchemaValidation copy amounts to (see internal/chart).
//
// It exists for tests that need the objects a chart renders without a Pulumi engine or an API server. It
// uses Helm's chart loader and template engine directly rather than helm's action package, which would pull
// in the whole kubectl client for no difference in what `helm template` prints.
package chartrender

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/releaseutil"
	"k8s.io/apimachinery/pkg/util/yaml"
)

// DefaultKubeVersion is the Kubernetes version templates see unless Options say otherwise: the minor of
// the k8s.io/client-go the provider's helm links and of the project's kube-apiserver (tools/kube). The
// provider itself uses the API server's version; helm's SDK default without a release build's -ldflags
// stamp is v1.20.0, old enough to switch some charts to retired API versions.
const DefaultKubeVersion = "v1.33.0"

// Options tune the capabilities the templates see.
type Options struct {
	// KubeVersion is .Capabilities.KubeVersion, such as "v1.33.13" (empty: DefaultKubeVersion).
	KubeVersion string
	// APIVersions are added to Helm's built-in set, as the provider adds the API server's (CRD groups).
	APIVersions []string
}

// Result is a rendered chart.
type Result struct {
	// Objects are what the helm/v4 Chart registers, in Helm's install order.
	Objects []map[string]any
	// Hooks are the objects annotated helm.sh/hook. The provider renders with hooks disabled, so Chart v4
	// never creates them; they are returned so a caller can check that a chart relies on none.
	Hooks []map[string]any
}

// Render renders the chart at chartPath (a directory or packaged .tgz, subcharts included) as release
// releaseName in namespace with values, and returns the objects the provider would register.
func Render(chartPath, releaseName, namespace string, values map[string]any) ([]map[string]any, error) {
	r, err := RenderWith(chartPath, releaseName, namespace, values, Options{})
	return r.Objects, err
}

// RenderWith is Render with capabilities and the hook objects.
func RenderWith(chartPath, releaseName, namespace string, values map[string]any, opts Options) (Result, error) {
	chrt, err := loader.Load(chartPath)
	if err != nil {
		return Result{}, fmt.Errorf("loading chart %s: %w", chartPath, err)
	}
	if err := checkDependencies(chrt); err != nil {
		return Result{}, fmt.Errorf("chart %s: %w", chartPath, err)
	}
	caps, err := capabilities(opts)
	if err != nil {
		return Result{}, err
	}
	// The merge below writes into the values it is given.
	vals, err := copyValues(values)
	if err != nil {
		return Result{}, err
	}
	// Subchart conditions (redis.enabled, postgresql.enabled) and import-values, as helm install applies them.
	if err := chartutil.ProcessDependenciesWithMerge(chrt, vals); err != nil {
		return Result{}, fmt.Errorf("chart %s dependencies: %w", chartPath, err)
	}
	release := chartutil.ReleaseOptions{Name: releaseName, Namespace: namespace, Revision: 1, IsInstall: true}
	// Schema validation skipped: the Nautobot chart's schemas $ref documents on the internet.
	renderValues, err := chartutil.ToRenderValuesWithSchemaValidation(chrt, vals, release, caps, true)
	if err != nil {
		return Result{}, fmt.Errorf("chart %s values: %w", chartPath, err)
	}
	if kv := chrt.Metadata.KubeVersion; kv != "" && !chartutil.IsCompatibleRange(kv, caps.KubeVersion.String()) {
		return Result{}, fmt.Errorf("chart %s requires kubeVersion %s, not %s", chartPath, kv, caps.KubeVersion.String())
	}
	var eng engine.Engine
	files, err := eng.Render(chrt, renderValues)
	if err != nil {
		return Result{}, fmt.Errorf("rendering chart %s: %w", chartPath, err)
	}
	for name := range files {
		if path.Base(name) == "NOTES.txt" {
			delete(files, name)
		}
	}
	hooks, manifests, err := releaseutil.SortManifests(files, nil, releaseutil.InstallOrder)
	if err != nil {
		return Result{}, fmt.Errorf("chart %s rendered invalid YAML: %w", chartPath, err)
	}

	var res Result
	// The provider includes the chart's crds/ (Chart v4's skipCrds defaults to false), ahead of the rest.
	for _, crd := range chrt.CRDObjects() {
		objs, err := decode(crd.Filename, crd.File.Data)
		if err != nil {
			return Result{}, err
		}
		res.Objects = append(res.Objects, objs...)
	}
	for _, m := range manifests {
		objs, err := decode(m.Name, []byte(m.Content))
		if err != nil {
			return Result{}, err
		}
		res.Objects = append(res.Objects, objs...)
	}
	for _, h := range hooks {
		objs, err := decode(h.Path, []byte(h.Manifest))
		if err != nil {
			return Result{}, err
		}
		res.Hooks = append(res.Hooks, objs...)
	}
	return res, nil
}

// checkDependencies fails when a dependency Chart.yaml declares is not packaged with the chart; the
// provider would then try to download it, which an offline render must not silently skip.
func checkDependencies(c *chart.Chart) error {
	present := map[string]bool{}
	for _, d := range c.Dependencies() {
		present[d.Name()] = true
	}
	var missing []string
	for _, d := range c.Metadata.Dependencies {
		if !present[d.Name] {
			missing = append(missing, d.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("dependencies %s are not under charts/; run `helm dependency build` where the network is reachable", strings.Join(missing, ", "))
	}
	return nil
}

func capabilities(opts Options) (*chartutil.Capabilities, error) {
	caps := chartutil.DefaultCapabilities.Copy()
	version := cmp.Or(opts.KubeVersion, DefaultKubeVersion)
	kv, err := chartutil.ParseKubeVersion(version)
	if err != nil {
		return nil, fmt.Errorf("KubeVersion %q: %w", version, err)
	}
	caps.KubeVersion = *kv
	caps.APIVersions = append(append(chartutil.VersionSet{}, caps.APIVersions...), opts.APIVersions...)
	return caps, nil
}

// copyValues deep-copies values through YAML, so the caller's map is never modified and every number
// reaches the templates as a float64, as Pulumi's numbers reach the provider's helm.
func copyValues(values map[string]any) (map[string]any, error) {
	text, err := chartutil.Values(values).YAML()
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	v, err := chartutil.ReadValues([]byte(text))
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	return v.AsMap(), nil
}

// decode splits a rendered template into its objects; empty documents (templates disabled by values)
// are dropped, as the provider drops them.
func decode(source string, data []byte) ([]map[string]any, error) {
	var out []map[string]any
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var obj map[string]any
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		if len(obj) > 0 {
			out = append(out, obj)
		}
	}
}
