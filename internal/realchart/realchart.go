// Package realchart locates the public Nautobot chart 3.1.1 (packaged with its Bitnami subcharts) that the
// demo stacks and the tests render offline. The demo stack files name it relative to the program's
// directory (the repository), as DemoPath; where ../shared is not beside the repository, EnvVar points the
// tests at a copy.
package realchart

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

const (
	// DemoDir is the demo project's directory in the repository.
	DemoDir = "demo"
	// DemoPath is the chart as the demo's stack files write it (relative to the repository).
	DemoPath = "../shared/charts/nautobot-3.1.1.tgz"
	// EnvVar, when set, is the chart's path for the tests instead of DemoPath.
	EnvVar = "NAUTOBOT_CHART_TGZ"
)

// Path returns the chart the tests render: $NAUTOBOT_CHART_TGZ, else DemoPath from the repository at root.
// The error says how to provide the chart.
func Path(root string) (string, error) {
	p := os.Getenv(EnvVar)
	source := EnvVar
	if p == "" {
		p, source = filepath.Join(root, filepath.FromSlash(DemoPath)), "the demo stacks' chart path"
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(abs); err != nil {
		return "", fmt.Errorf("the Nautobot chart 3.1.1 (%s) cannot be read: %v; put ../shared beside the repository or set %s to the chart's .tgz", source, err, EnvVar)
	}
	return abs, nil
}

// Absolute points a demo stack config text at the chart by its absolute path (Path), for a stack that runs
// from another directory than the repository.
func Absolute(config, root string) (string, error) {
	p, err := Path(root)
	if err != nil {
		return "", err
	}
	return strings.ReplaceAll(config, DemoPath, p), nil
}

// Rewrite points a stack config text that names DemoPath at $NAUTOBOT_CHART_TGZ when it is set, and
// returns it unchanged otherwise (DemoPath resolves from the repository).
func Rewrite(config string) string {
	p := os.Getenv(EnvVar)
	if p == "" {
		return config
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return strings.ReplaceAll(config, DemoPath, p)
}
