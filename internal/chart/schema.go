package chart

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

const (
	schemaFile = "values.schema.json"
	// copyFormat changes whenever the copy's layout does, so old cache entries are not reused.
	copyFormat = "without-schemas/v1"
)

// WithoutSchemas copies the chart at src (a directory or .tgz) into a directory under cacheDir without any
// values.schema.json, its own or its subcharts' (charts/<dir> or charts/*.tgz, which are unpacked), and
// returns the copy's absolute path. Helm validates values against every chart's schema and fetches remote
// $refs while doing so (the nautobot chart's point at Bitnami schemas on the internet), which fails on an
// air-gapped site. The copy is keyed by a hash of the source's content, so an unchanged chart keeps the same
// path (and preview shows no diff) and a changed one gets a new copy.
func WithoutSchemas(src, cacheDir string) (string, error) {
	files, err := readChart(src)
	if err != nil {
		return "", fmt.Errorf("chart %s: %w", src, err)
	}
	stripped, err := dropSchemas(files)
	if err != nil {
		return "", fmt.Errorf("chart %s: %w", src, err)
	}
	if _, ok := stripped["Chart.yaml"]; !ok {
		return "", fmt.Errorf("chart %s: no Chart.yaml at the chart's root", src)
	}
	cacheDir, err = filepath.Abs(cacheDir)
	if err != nil {
		return "", err
	}
	dest := filepath.Join(cacheDir, contentHash(files))
	if _, err := os.Stat(filepath.Join(dest, "Chart.yaml")); err == nil {
		return dest, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("chart cache: %w", err)
	}
	tmp, err := os.MkdirTemp(cacheDir, ".tmp-")
	if err != nil {
		return "", fmt.Errorf("chart cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	for name, data := range stripped {
		target := filepath.Join(tmp, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return "", fmt.Errorf("chart cache: %w", err)
		}
		if err := os.WriteFile(target, data, 0o644); err != nil {
			return "", fmt.Errorf("chart cache: %w", err)
		}
	}
	// Two stacks previewed at once may race to the same copy; whichever rename wins, the content is equal.
	if err := os.Rename(tmp, dest); err != nil {
		if _, statErr := os.Stat(filepath.Join(dest, "Chart.yaml")); statErr != nil {
			return "", fmt.Errorf("chart cache: %w", err)
		}
	}
	return dest, nil
}

// readChart returns a chart's files by slash-separated path relative to the chart's root.
func readChart(src string) (map[string][]byte, error) {
	info, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		data, err := os.ReadFile(src)
		if err != nil {
			return nil, err
		}
		files, _, err := untar(data)
		return files, err
	}
	files := map[string][]byte{}
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = data
		return nil
	})
	return files, err
}

// untar reads a packaged chart: every file sits under one top directory (the chart's name), which is
// stripped from the returned paths and returned separately.
func untar(data []byte) (map[string][]byte, string, error) {
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, "", fmt.Errorf("not a gzipped chart archive: %w", err)
	}
	tr := tar.NewReader(gz)
	files := map[string][]byte{}
	top := ""
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, "", fmt.Errorf("reading chart archive: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		dir, rest, ok := strings.Cut(name, "/")
		if !ok || path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") || rest == "" {
			return nil, "", fmt.Errorf("archive entry %q is not inside a chart directory", h.Name)
		}
		if top == "" {
			top = dir
		} else if dir != top {
			return nil, "", fmt.Errorf("archive holds more than one top directory (%s, %s)", top, dir)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			return nil, "", fmt.Errorf("reading %s: %w", h.Name, err)
		}
		files[rest] = body
	}
	if top == "" {
		return nil, "", errors.New("empty chart archive")
	}
	return files, top, nil
}

// dropSchemas removes the chart's values.schema.json and, recursively, those of its subcharts, unpacking
// packaged subcharts into charts/<name>/ so their schemas can be removed too.
func dropSchemas(files map[string][]byte) (map[string][]byte, error) {
	out := map[string][]byte{}
	subcharts := map[string]map[string][]byte{}
	addSub := func(dir, name string, data []byte) error {
		if subcharts[dir] == nil {
			subcharts[dir] = map[string][]byte{}
		}
		if _, dup := subcharts[dir][name]; dup {
			return fmt.Errorf("subchart %s is present both as a directory and as an archive", dir)
		}
		subcharts[dir][name] = data
		return nil
	}
	for name, data := range files {
		rest, inCharts := strings.CutPrefix(name, "charts/")
		switch {
		case name == schemaFile:
		case inCharts && strings.Contains(rest, "/"):
			dir, file, _ := strings.Cut(rest, "/")
			if err := addSub(dir, file, data); err != nil {
				return nil, err
			}
		case inCharts && isArchive(rest):
			sub, top, err := untar(data)
			if err != nil {
				return nil, fmt.Errorf("subchart %s: %w", name, err)
			}
			for file, body := range sub {
				if err := addSub(top, file, body); err != nil {
					return nil, err
				}
			}
		default:
			out[name] = data
		}
	}
	for dir, sub := range subcharts {
		stripped, err := dropSchemas(sub)
		if err != nil {
			return nil, fmt.Errorf("subchart %s: %w", dir, err)
		}
		for file, data := range stripped {
			out["charts/"+dir+"/"+file] = data
		}
	}
	return out, nil
}

func contentHash(files map[string][]byte) string {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", copyFormat)
	for _, name := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(files[name]))
		h.Write(files[name])
	}
	return hex.EncodeToString(h.Sum(nil))[:24]
}
