// Package chart locates the Helm chart a helm/v4 Chart renders: a chart repository, an OCI registry, or a
// local directory or .tgz for air-gapped sites. Both the site workers and the global Nautobot release use it.
package chart

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"nautobot-worker/internal/validate"
)

// The public Nautobot chart understack pins.
const (
	DefaultRepo    = "https://nautobot.github.io/helm-charts/"
	DefaultName    = "nautobot"
	DefaultVersion = "3.1.2"
)

// Source says where a chart comes from: Repo (+ Name, Version) or Path, never both.
type Source struct {
	// Repo is a chart repository (https://...) or an OCI registry path (oci://host/path).
	Repo string `json:"repo"`
	// Name is the chart's name in Repo (default nautobot).
	Name string `json:"name"`
	// Version pins the chart in Repo; an exact version, so a preview never picks up an upgrade by itself.
	Version string `json:"version"`
	// Path is a local chart directory or packaged .tgz, relative to the project directory.
	Path string `json:"path"`
	// SkipSchemaValidation renders a copy of the local chart (Path) without any values.schema.json, for
	// charts whose schema $refs remote URLs that cannot be fetched offline. The pinned provider's helm has
	// no switch for this, so the copy is the only way; repo and OCI charts cannot be rewritten.
	SkipSchemaValidation bool `json:"skipSchemaValidation"`
}

// Default is the public Nautobot chart at the version understack pins.
func Default() Source { return Source{Repo: DefaultRepo, Name: DefaultName, Version: DefaultVersion} }

// Defaults returns the default source when nothing is set, and the default chart name for a repository.
// Repo, Path and Version are never filled into a partly set source: a half-written source is an error.
func (s Source) Defaults() Source {
	if s == (Source{}) {
		return Default()
	}
	if s.Repo != "" && s.Name == "" {
		s.Name = DefaultName
	}
	return s
}

var (
	exactVersion = regexp.MustCompile(`^v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$`)
	chartName    = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$`)
)

// Validate checks the source; problems are reported under key (such as "chart" or "worker.chart").
// A local path must exist, so a missing chart fails the preview before anything is registered.
func (s Source) Validate(p *validate.Problems, key string) {
	switch {
	case s.Repo != "" && s.Path != "":
		p.Addf(key, "sets both repo (%q) and path (%q); use repo with version for a chart repository or OCI registry, or path for a local chart, not both", s.Repo, s.Path)
		return
	case s.Repo == "" && s.Path == "":
		p.Addf(key, "sets neither repo nor path; set repo (such as %s or oci://registry/path) with version, or path to a local chart directory or .tgz", DefaultRepo)
		return
	case s.Repo != "":
		s.validateRepo(p, key)
	default:
		s.validatePath(p, key)
	}
}

func (s Source) validateRepo(p *validate.Problems, key string) {
	u, err := url.Parse(s.Repo)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "oci") {
		p.Addf(key+".repo", "%q is not a chart repository URL; use https://host/path/ or oci://host/path", s.Repo)
	}
	if !chartName.MatchString(s.Name) {
		p.Addf(key+".name", "%q is not a chart name such as %s", s.Name, DefaultName)
	}
	if !exactVersion.MatchString(s.Version) {
		p.Addf(key+".version", "%q is not an exact chart version; pin one such as %s (ranges would let any preview upgrade the chart)", s.Version, DefaultVersion)
	}
	if s.SkipSchemaValidation {
		p.Addf(key+".skipSchemaValidation", "works only for a local chart: a repo or OCI chart cannot be rewritten; run `helm pull %s --version %s --untar` and set path to the unpacked chart instead of repo", s.pullRef(), s.Version)
	}
}

func (s Source) validatePath(p *validate.Problems, key string) {
	if s.Version != "" {
		p.Addf(key+".version", "applies only to repo charts; a local chart's version is the one in its Chart.yaml, remove version")
	}
	if s.Name != "" {
		p.Addf(key+".name", "applies only to repo charts; remove name (the local chart's Chart.yaml names it)")
	}
	info, err := os.Stat(s.Path)
	switch {
	case err != nil:
		p.Addf(key+".path", "%q cannot be read (%v); relative paths start at the project directory", s.Path, err)
	case info.IsDir():
		if _, err := os.Stat(filepath.Join(s.Path, "Chart.yaml")); err != nil {
			p.Addf(key+".path", "%q is a directory without Chart.yaml; point it at a chart directory or a packaged .tgz", s.Path)
		}
	case !isArchive(s.Path):
		p.Addf(key+".path", "%q is neither a chart directory nor a .tgz archive", s.Path)
	}
}

func (s Source) pullRef() string {
	if strings.HasPrefix(s.Repo, "oci://") {
		return s.ociRef()
	}
	return s.Name + " --repo " + s.Repo
}

func (s Source) ociRef() string { return strings.TrimSuffix(s.Repo, "/") + "/" + s.Name }

func isArchive(path string) bool {
	return strings.HasSuffix(path, ".tgz") || strings.HasSuffix(path, ".tar.gz")
}

// Location is where helm finds a chart: Chart (a name, an oci:// reference or a local path), and the
// Version and Repo of repository charts.
type Location struct {
	Chart   string
	Version string
	Repo    string
}

// Locate resolves a validated source. With SkipSchemaValidation the local chart is first copied without
// its schemas into cacheDir (empty: DefaultCacheDir), and the location is the copy.
func (s Source) Locate(cacheDir string) (Location, error) {
	switch {
	case strings.HasPrefix(s.Repo, "oci://"):
		return Location{Chart: s.ociRef(), Version: s.Version}, nil
	case s.Repo != "":
		return Location{Chart: s.Name, Version: s.Version, Repo: s.Repo}, nil
	case !s.SkipSchemaValidation:
		return Location{Chart: s.Path}, nil
	}
	if cacheDir == "" {
		dir, err := DefaultCacheDir()
		if err != nil {
			return Location{}, err
		}
		cacheDir = dir
	}
	copied, err := WithoutSchemas(s.Path, cacheDir)
	if err != nil {
		return Location{}, err
	}
	return Location{Chart: copied}, nil
}

// ChartArgs returns the helm/v4 ChartArgs fields that locate the chart (Chart, Version, RepositoryOpts);
// the caller sets the rest.
func (l Location) ChartArgs() helmv4.ChartArgs {
	args := helmv4.ChartArgs{Chart: pulumi.String(l.Chart)}
	if l.Version != "" {
		args.Version = pulumi.StringPtr(l.Version)
	}
	if l.Repo != "" {
		args.RepositoryOpts = helmv4.RepositoryOptsArgs{Repo: pulumi.StringPtr(l.Repo)}
	}
	return args
}

// DefaultCacheDir is where schema-less chart copies live: <user cache dir>/nautobot-worker/charts.
func DefaultCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("chart cache: %w; set XDG_CACHE_HOME or HOME", err)
	}
	return filepath.Join(dir, "nautobot-worker", "charts"), nil
}
