package chart_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/chart"
	"nautobot-worker/internal/mocks"
	"nautobot-worker/internal/realchart"
	"nautobot-worker/internal/validate"
)

const remoteSchema = `{"$schema": "https://json-schema.org/draft/2020-12/schema",
 "$ref": "https://raw.githubusercontent.com/bitnami/charts/main/bitnami/redis/values.schema.json"}`

// tgz packs files (path -> content) the way `helm package` does: everything under one top directory.
func tgz(t *testing.T, top string, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		body := files[name]
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: top + "/" + name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
	return buf.Bytes()
}

func listFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		data, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = string(data)
		return err
	}))
	return out
}

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
}

// nautobotLike has the layout that breaks offline: schemas with remote $refs at the root and in subcharts,
// one subchart packaged (with a nested packaged subchart) and one unpacked.
func nautobotLike(t *testing.T) map[string]string {
	common := string(tgz(t, "common", map[string]string{"Chart.yaml": "name: common\nversion: 2.34.0\n", "values.schema.json": remoteSchema}))
	return map[string]string{
		"Chart.yaml":                           "apiVersion: v2\nname: nautobot\nversion: 3.1.2\n",
		"values.yaml":                          "nautobot: {}\n",
		"values.schema.json":                   remoteSchema,
		"templates/cm.yaml":                    "kind: ConfigMap\n",
		"templates/values.schema.json":         "{\"kept\": \"not a chart root\"}",
		"charts/postgresql/Chart.yaml":         "name: postgresql\nversion: 12.12.10\n",
		"charts/postgresql/values.schema.json": remoteSchema,
		"charts/postgresql/templates/svc.yaml": "kind: Service\n",
		"charts/redis-18.19.4.tgz":             string(tgz(t, "redis", map[string]string{"Chart.yaml": "name: redis\nversion: 18.19.4\n", "values.schema.json": remoteSchema, "templates/sts.yaml": "kind: StatefulSet\n", "charts/common-2.34.0.tgz": common})),
		"charts/README.md":                     "kept\n",
	}
}

var wantStripped = map[string]string{
	"Chart.yaml":                            "apiVersion: v2\nname: nautobot\nversion: 3.1.2\n",
	"values.yaml":                           "nautobot: {}\n",
	"templates/cm.yaml":                     "kind: ConfigMap\n",
	"templates/values.schema.json":          "{\"kept\": \"not a chart root\"}",
	"charts/postgresql/Chart.yaml":          "name: postgresql\nversion: 12.12.10\n",
	"charts/postgresql/templates/svc.yaml":  "kind: Service\n",
	"charts/redis/Chart.yaml":               "name: redis\nversion: 18.19.4\n",
	"charts/redis/templates/sts.yaml":       "kind: StatefulSet\n",
	"charts/redis/charts/common/Chart.yaml": "name: common\nversion: 2.34.0\n",
	"charts/README.md":                      "kept\n",
}

func TestWithoutSchemasDropsEverySchemaFromAPackagedChart(t *testing.T) {
	src := filepath.Join(t.TempDir(), "nautobot-3.1.2.tgz")
	require.NoError(t, os.WriteFile(src, tgz(t, "nautobot", nautobotLike(t)), 0o644))
	cache := t.TempDir()

	dir, err := chart.WithoutSchemas(src, cache)
	require.NoError(t, err)
	require.True(t, filepath.IsAbs(dir))
	require.Equal(t, cache, filepath.Dir(dir))
	require.Equal(t, wantStripped, listFiles(t, dir))

	again, err := chart.WithoutSchemas(src, cache)
	require.NoError(t, err)
	require.Equal(t, dir, again, "an unchanged chart must keep its path so previews show no diff")
	entries, err := os.ReadDir(cache)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary directories are left behind")
}

func TestWithoutSchemasFromADirectoryMatchesThePackagedChart(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, nautobotLike(t))
	cache := t.TempDir()
	dir, err := chart.WithoutSchemas(src, cache)
	require.NoError(t, err)
	require.Equal(t, wantStripped, listFiles(t, dir))

	require.NoError(t, os.WriteFile(filepath.Join(src, "values.yaml"), []byte("nautobot: {changed: true}\n"), 0o644))
	changed, err := chart.WithoutSchemas(src, cache)
	require.NoError(t, err)
	require.NotEqual(t, dir, changed, "a changed chart gets a new copy")
	require.Equal(t, "nautobot: {changed: true}\n", listFiles(t, changed)["values.yaml"])
}

// archiveFiles lists a packaged chart's entries (below its top directory) with their content.
func archiveFiles(t *testing.T, data []byte) map[string]string {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(data))
	require.NoError(t, err)
	tr := tar.NewReader(gz)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if h.Typeflag == tar.TypeReg {
			var body bytes.Buffer
			_, err := body.ReadFrom(tr)
			require.NoError(t, err)
			_, rest, _ := strings.Cut(h.Name, "/")
			out[rest] = body.String()
		}
	}
	return out
}

// The real Nautobot chart 3.1.1: its schemas $ref documents on the internet, and its Bitnami subcharts are
// packaged archives, one of which carries its own subchart.
func TestWithoutSchemasOnTheRealNautobotChart(t *testing.T) {
	src, err := realchart.Path(filepath.Join("..", ".."))
	if err != nil {
		t.Skipf("skipped: %v", err)
	}
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	archive := archiveFiles(t, data)
	require.Contains(t, archive["values.schema.json"], "https://raw.githubusercontent.com/", "the schema this copy exists to drop")

	dir, err := chart.WithoutSchemas(src, t.TempDir())
	require.NoError(t, err)
	copied := listFiles(t, dir)
	for name := range copied {
		require.NotEqual(t, "values.schema.json", filepath.Base(name), name)
		require.False(t, strings.HasSuffix(name, ".tgz"), "%s: packaged subcharts are unpacked", name)
	}
	for name, body := range archive {
		if name == "values.schema.json" || strings.HasPrefix(name, "charts/") {
			continue
		}
		require.Equal(t, body, copied[name], "%s differs from the archive", name)
	}
	for _, sub := range []string{"charts/redis/Chart.yaml", "charts/postgresql/Chart.yaml", "charts/common/Chart.yaml",
		"charts/redis/charts/common/Chart.yaml", "charts/redis/templates/master/application.yaml", "charts/redis/templates/scripts-configmap.yaml"} {
		require.Contains(t, copied, sub)
	}
	redis := archiveFiles(t, []byte(archive["charts/redis-18.19.4.tgz"]))
	require.Contains(t, redis, "values.schema.json")
	for name, body := range redis {
		if filepath.Base(name) != "values.schema.json" && !strings.HasPrefix(name, "charts/") {
			require.Equal(t, body, copied["charts/redis/"+name], "charts/redis/%s differs from the packaged subchart", name)
		}
	}
}

func TestWithoutSchemasRejectsBrokenArchives(t *testing.T) {
	cases := map[string]struct {
		data []byte
		want string
	}{
		"path traversal":  {tgz(t, "..", map[string]string{"x": "y"}), "is not inside a chart directory"},
		"two top dirs":    {twoTops(t), "more than one top directory"},
		"not gzip":        {[]byte("plain text"), "not a gzipped chart archive"},
		"no Chart.yaml":   {tgz(t, "c", map[string]string{"values.yaml": ""}), "no Chart.yaml"},
		"broken subchart": {tgz(t, "c", map[string]string{"Chart.yaml": "name: c\n", "charts/sub.tgz": "junk"}), "subchart charts/sub.tgz"},
		"duplicate subchart": {tgz(t, "c", map[string]string{"Chart.yaml": "name: c\n", "charts/sub/Chart.yaml": "name: sub\n",
			"charts/sub-1.0.0.tgz": string(tgz(t, "sub", map[string]string{"Chart.yaml": "name: sub\n"}))}), "both as a directory and as an archive"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "c.tgz")
			require.NoError(t, os.WriteFile(src, tc.data, 0o644))
			_, err := chart.WithoutSchemas(src, t.TempDir())
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func twoTops(t *testing.T) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, name := range []string{"a/Chart.yaml", "b/Chart.yaml"} {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 1, Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte("x"))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
	return buf.Bytes()
}

func TestDefaults(t *testing.T) {
	require.Equal(t, chart.Source{Repo: "https://nautobot.github.io/helm-charts/", Name: "nautobot", Version: "3.1.2"}, chart.Source{}.Defaults())
	require.Equal(t, chart.Source{Repo: "oci://ghcr.io/acme/charts", Name: "nautobot", Version: "3.1.3"},
		chart.Source{Repo: "oci://ghcr.io/acme/charts", Version: "3.1.3"}.Defaults())
	require.Equal(t, chart.Source{Version: "3.1.3"}, chart.Source{Version: "3.1.3"}.Defaults(), "a partial source is not completed silently")
	require.Equal(t, chart.Source{Path: "charts/nautobot"}, chart.Source{Path: "charts/nautobot"}.Defaults())
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"nautobot/Chart.yaml": "name: nautobot\n", "empty/README.md": "", "nautobot.tgz": "", "notes.txt": ""})
	at := func(p string) string { return filepath.Join(dir, p) }
	cases := []struct {
		name string
		src  chart.Source
		want []string
	}{
		{"default", chart.Source{}.Defaults(), nil},
		{"oci", chart.Source{Repo: "oci://ghcr.io/acme/charts", Version: "3.1.2"}.Defaults(), nil},
		{"local dir", chart.Source{Path: at("nautobot"), SkipSchemaValidation: true}, nil},
		{"local tgz", chart.Source{Path: at("nautobot.tgz")}, nil},
		{"both", chart.Source{Repo: chart.DefaultRepo, Path: at("nautobot")},
			[]string{`worker.chart: sets both repo ("https://nautobot.github.io/helm-charts/") and path`}},
		{"neither", chart.Source{Version: "3.1.2"}, []string{"worker.chart: sets neither repo nor path"}},
		{"bad repo", chart.Source{Repo: "ftp://x", Name: "nautobot", Version: "3.1.2"},
			[]string{`worker.chart.repo: "ftp://x" is not a chart repository URL`}},
		{"version range", chart.Source{Repo: chart.DefaultRepo, Name: "nautobot", Version: "^3.1"},
			[]string{`worker.chart.version: "^3.1" is not an exact chart version`}},
		{"missing version", chart.Source{Repo: chart.DefaultRepo}.Defaults(), []string{`worker.chart.version: "" is not an exact chart version`}},
		{"bad name", chart.Source{Repo: chart.DefaultRepo, Name: "Nautobot/x", Version: "3.1.2"}, []string{`worker.chart.name: "Nautobot/x" is not a chart name`}},
		{"skip schema on repo", chart.Source{Repo: "oci://ghcr.io/acme/charts", Name: "nautobot", Version: "3.1.2", SkipSchemaValidation: true},
			[]string{"worker.chart.skipSchemaValidation: works only for a local chart", "helm pull oci://ghcr.io/acme/charts/nautobot --version 3.1.2 --untar"}},
		{"skip schema on https repo", chart.Source{Repo: chart.DefaultRepo, Name: "nautobot", Version: "3.1.2", SkipSchemaValidation: true},
			[]string{"helm pull nautobot --repo https://nautobot.github.io/helm-charts/ --version 3.1.2 --untar"}},
		{"missing path", chart.Source{Path: at("nope")}, []string{"worker.chart.path: ", "cannot be read", "relative paths start at the project directory"}},
		{"dir without Chart.yaml", chart.Source{Path: at("empty")}, []string{"is a directory without Chart.yaml"}},
		{"not an archive", chart.Source{Path: at("notes.txt")}, []string{"is neither a chart directory nor a .tgz archive"}},
		{"version with path", chart.Source{Path: at("nautobot"), Version: "3.1.2", Name: "nautobot"},
			[]string{"worker.chart.version: applies only to repo charts", "worker.chart.name: applies only to repo charts"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := validate.New("worker")
			tc.src.Validate(p, "chart")
			if tc.want == nil {
				require.NoError(t, p.Err())
				return
			}
			require.Error(t, p.Err())
			for _, w := range tc.want {
				require.Contains(t, p.Err().Error(), w)
			}
		})
	}
}

func TestLocate(t *testing.T) {
	cache := t.TempDir()
	src := t.TempDir()
	writeTree(t, src, map[string]string{"Chart.yaml": "name: x\n", "values.schema.json": remoteSchema})
	copied, err := chart.WithoutSchemas(src, t.TempDir())
	require.NoError(t, err)
	cases := []struct {
		name string
		src  chart.Source
		want chart.Location
	}{
		{"https repo", chart.Source{}.Defaults(), chart.Location{Chart: "nautobot", Version: "3.1.2", Repo: "https://nautobot.github.io/helm-charts/"}},
		{"oci", chart.Source{Repo: "oci://ghcr.io/acme/charts/", Name: "nautobot", Version: "3.1.2"}, chart.Location{Chart: "oci://ghcr.io/acme/charts/nautobot", Version: "3.1.2"}},
		{"local", chart.Source{Path: realchart.DemoPath}, chart.Location{Chart: realchart.DemoPath}},
		{"local without schemas", chart.Source{Path: src, SkipSchemaValidation: true}, chart.Location{Chart: filepath.Join(cache, filepath.Base(copied))}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.src.Locate(cache)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestChartArgsReachTheChart(t *testing.T) {
	m := &mocks.Monitor{}
	err := mocks.Run("site-x", nil, m, func(ctx *pulumi.Context) error {
		for name, loc := range map[string]chart.Location{
			"repo":  {Chart: "nautobot", Version: "3.1.2", Repo: chart.DefaultRepo},
			"oci":   {Chart: "oci://ghcr.io/acme/charts/nautobot", Version: "3.1.2"},
			"local": {Chart: "charts/nautobot"},
		} {
			if _, err := helmv4.NewChart(ctx, name, ptr(loc.ChartArgs())); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
	want := map[string]map[string]any{
		"repo":  {"chart": "nautobot", "version": "3.1.2", "repositoryOpts": map[string]any{"repo": chart.DefaultRepo}},
		"oci":   {"chart": "oci://ghcr.io/acme/charts/nautobot", "version": "3.1.2"},
		"local": {"chart": "charts/nautobot"},
	}
	for name, w := range want {
		r, ok := m.Find("kubernetes:helm.sh/v4:Chart", name)
		require.True(t, ok, name)
		require.Equal(t, w, r.Plain(), name)
	}
}

func ptr[T any](v T) *T { return &v }

func TestChartArgsUsesTheUserCacheByDefault(t *testing.T) {
	home := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", home)
	src := t.TempDir()
	writeTree(t, src, map[string]string{"Chart.yaml": "name: x\n", "values.schema.json": remoteSchema})
	loc, err := chart.Source{Path: src, SkipSchemaValidation: true}.Locate("")
	require.NoError(t, err)
	c := loc.Chart
	require.True(t, strings.HasPrefix(c, filepath.Join(home, "nautobot-worker", "charts")+string(filepath.Separator)), c)
	require.NoFileExists(t, filepath.Join(c, "values.schema.json"))
	require.FileExists(t, filepath.Join(c, "Chart.yaml"))
}
