package chart

import (
	"maps"
	"slices"
	"strings"

	"nautobot-worker/internal/validate"
)

// AddValues merges extra chart values into the stack's own values (dst) under the rule both Nautobot
// releases hold their `values` key to: extra may add keys, never change one. It copies the keys of extra
// that dst lacks, descending into maps both hold, and returns the dotted paths where extra would replace a
// value the stack set (a scalar, a list, or a map meeting a scalar), in sorted order.
func AddValues(dst, extra map[string]any) []string {
	var conflicts []string
	addOnly(dst, extra, "", &conflicts)
	return conflicts
}

func addOnly(dst, extra map[string]any, path string, conflicts *[]string) {
	for _, key := range slices.Sorted(maps.Keys(extra)) {
		full := key
		if path != "" {
			full = path + "." + key
		}
		have, ok := dst[key]
		if !ok {
			dst[key] = CloneValue(extra[key])
			continue
		}
		haveMap, ok1 := have.(map[string]any)
		extraMap, ok2 := extra[key].(map[string]any)
		if ok1 && ok2 {
			addOnly(haveMap, extraMap, full, conflicts)
			continue
		}
		*conflicts = append(*conflicts, full)
	}
}

// ReportOwned reports each path of a release's values key (configKey.values) that would set or override
// what the stack owns, with hint's advice for the path.
func ReportOwned(p *validate.Problems, configKey string, conflicts []string, hint func(path string) string) {
	for _, c := range conflicts {
		p.Addf("values."+c, "is owned by the stack; %s.values cannot set or override it; %s", configKey, hint(c))
	}
}

// HasValue reports whether the dotted path exists in values.
func HasValue(values map[string]any, path string) bool {
	head, rest, nested := strings.Cut(path, ".")
	v, ok := values[head]
	if !ok || !nested {
		return ok
	}
	m, isMap := v.(map[string]any)
	return isMap && HasValue(m, rest)
}

// CloneValue deep-copies decoded config, so merging never writes into the caller's arguments.
func CloneValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = CloneValue(e)
		}
		return m
	case []any:
		a := make([]any, len(t))
		for i, e := range t {
			a[i] = CloneValue(e)
		}
		return a
	}
	return v
}
