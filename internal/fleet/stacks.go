// Package fleet runs one Pulumi operation over the project's stacks through the Automation API: the global
// stack, then every site stack in parallel with a bound (sites first for destroy), with the program inline
// (compiled into the runner, so no stack builds one).
package fleet

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// GlobalStack is the global stack's name; a site stack is SitePrefix + the site's name.
const (
	GlobalStack = "global"
	SitePrefix  = "site-"
	// templateStack is Pulumi.site-example.yaml: documentation to copy, never deployed.
	templateStack = SitePrefix + "example"
)

// Discover returns the stacks with a Pulumi.<stack>.yaml in root: global (when present) first, then the
// site stacks by name. Other stack files (the integration tests' it-*, benchmarks') are not the fleet's.
func Discover(root string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(root, "Pulumi.*.yaml"))
	if err != nil {
		return nil, err
	}
	var global, sites []string
	for _, f := range files {
		stack := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml")
		switch {
		case stack == GlobalStack:
			global = append(global, stack)
		case strings.HasPrefix(stack, SitePrefix) && stack != templateStack:
			sites = append(sites, stack)
		}
	}
	sort.Strings(sites)
	return append(global, sites...), nil
}

// Select narrows discovered stacks: sites (names without the site- prefix; nil means all) and whether the
// global stack takes part. A named site without a stack file is an error, so a typo never previews nothing.
func Select(stacks []string, sites []string, withGlobal bool) ([]string, error) {
	have := map[string]bool{}
	for _, s := range stacks {
		have[s] = true
	}
	var out []string
	if withGlobal {
		if !have[GlobalStack] {
			return nil, fmt.Errorf("no Pulumi.%s.yaml: the global stack runs first (use --no-global to run sites only)", GlobalStack)
		}
		out = append(out, GlobalStack)
	}
	if sites == nil {
		for _, s := range stacks {
			if s != GlobalStack {
				out = append(out, s)
			}
		}
		return out, nil
	}
	for _, site := range sites {
		stack := SitePrefix + strings.TrimPrefix(site, SitePrefix)
		if !have[stack] {
			return nil, fmt.Errorf("--sites %s: no Pulumi.%s.yaml in the project (template %s is never deployed)", site, stack, templateStack)
		}
		if !slices.Contains(out, stack) { // one stack twice would run twice at once
			out = append(out, stack)
		}
	}
	return out, nil
}

// ParseSites splits a --sites value; "" selects no site at all (the global stack alone).
func ParseSites(value string, set bool) []string {
	if !set {
		return nil
	}
	sites := []string{}
	for _, s := range strings.Split(value, ",") {
		if s = strings.TrimSpace(s); s != "" {
			sites = append(sites, s)
		}
	}
	return sites
}

// kubeconfigFor is the stack's kubeconfig in dir (a file named after the stack). With a dir, every stack
// must have one: falling back to the ambient KUBECONFIG could deploy to another cluster.
func kubeconfigFor(dir, stack string) (string, error) {
	if dir == "" {
		return "", nil
	}
	path := filepath.Join(dir, stack)
	if _, err := os.Stat(path); err != nil {
		if os.IsNotExist(err) {
			return "", fmt.Errorf("--kubeconfig-dir: no kubeconfig %s for stack %s; write it there (every stack needs its own, the ambient KUBECONFIG is never used with --kubeconfig-dir)", path, stack)
		}
		return "", err
	}
	return filepath.Abs(path)
}
