// Package validate checks plain configuration values before any resource is registered, and reports
// every problem at once with the config key that holds it and how to fix it.
package validate

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"
)

// Problem is one invalid value. Key is the dotted path of the value relative to the arguments that hold
// it (a component's Args), until the stack that read those arguments from a config key places it with
// InConfig; from then on it is the stack config key the user edits.
type Problem struct {
	Key      string
	Msg      string
	inConfig bool
	// copied is set when Key is where the stack copied the value from, not where it was checked.
	copied bool
}

func (p Problem) Error() string {
	if p.inConfig {
		return "config " + p.Key + ": " + p.Msg
	}
	return p.Key + ": " + p.Msg
}

// List is every problem found, in the order found, each reported once.
type List []Problem

func (l List) Error() string {
	msgs := make([]string, len(l))
	for i, p := range l {
		msgs[i] = p.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap lets errors.As find each problem.
func (l List) Unwrap() []error {
	errs := make([]error, len(l))
	for i, p := range l {
		errs[i] = p
	}
	return errs
}

// Problems collects validation problems, each naming the key of the value.
type Problems struct {
	prefix string
	list   List
}

// New starts a collection whose keys are reported under prefix ("" for keys of the arguments themselves,
// or a nested field such as "chart").
func New(prefix string) *Problems { return &Problems{prefix: prefix} }

// Addf records a problem with the value at key (relative to the prefix).
func (p *Problems) Addf(key, format string, args ...any) {
	p.list = append(p.list, Problem{Key: join(p.prefix, key), Msg: fmt.Sprintf(format, args...)})
}

// Err returns all problems, or nil.
func (p *Problems) Err() error {
	if len(p.list) == 0 {
		return nil
	}
	return p.list
}

func join(prefix, key string) string {
	switch {
	case prefix == "":
		return key
	case key == "":
		return prefix
	}
	return prefix + "." + key
}

// InConfig places the problems of err, found in arguments read from the config key prefix ("" for the
// stack's own top-level keys), at the config keys the user sets. Origins maps a full key whose value the
// stack copied from another key (a default, or a value one component takes from another) to that key, so
// a problem is reported where the value was written, and once however many components check it (see Join).
// Errors that are not problems are kept as they are.
func InConfig(prefix string, origins map[string]string, err error) error {
	problems, others := flatten(err)
	var placed List
	for _, p := range problems {
		p.Key = join(prefix, p.Key)
		if origin, ok := origins[p.Key]; ok {
			p.Key, p.copied = origin, true
		}
		p.inConfig = true
		placed = append(placed, p)
	}
	return Join(append([]error{placed}, others...)...)
}

// Join merges errors into one List of distinct problems (and any other errors after them), or nil. A
// problem placed at a key the value was copied from is left out when a problem of that key itself is
// reported: the check of the key where the user wrote the value has already said it.
func Join(errs ...error) error {
	var problems List
	var others []error
	checked := map[string]bool{}
	for _, err := range errs {
		found, rest := flatten(err)
		for _, p := range found {
			if !p.copied {
				checked[p.Key] = true
			}
		}
		problems, others = append(problems, found...), append(others, rest...)
	}
	var all List
	seen := map[Problem]bool{}
	for _, p := range problems {
		if !seen[p] && !(p.copied && checked[p.Key]) {
			seen[p] = true
			all = append(all, p)
		}
	}
	if len(others) == 0 {
		if len(all) == 0 {
			return nil
		}
		return all
	}
	if len(all) > 0 {
		others = append([]error{all}, others...)
	}
	return errors.Join(others...)
}

// flatten splits err into its problems and the errors that are not problems.
func flatten(err error) (List, []error) {
	switch e := err.(type) {
	case nil:
		return nil, nil
	case Problem:
		return List{e}, nil
	case List:
		return e, nil
	case interface{ Unwrap() []error }:
		var problems List
		var others []error
		for _, inner := range e.Unwrap() {
			p, o := flatten(inner)
			problems, others = append(problems, p...), append(others, o...)
		}
		return problems, others
	}
	return nil, []error{err}
}

// NonEmpty requires a non-blank value.
func (p *Problems) NonEmpty(key, value string) bool {
	if strings.TrimSpace(value) == "" {
		p.Addf(key, "must not be empty; set it or remove the key to use the default")
		return false
	}
	return true
}

var (
	dnsLabel   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	cmDuration = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?(h|m|s|ms))+$`)
)

// IsDNSLabel reports whether s is an RFC 1123 label: lower case alphanumerics and '-', at most 63 chars.
func IsDNSLabel(s string) bool { return dnsLabel.MatchString(s) }

// DNSLabel requires an RFC 1123 label (Kubernetes object and namespace names of this project).
func (p *Problems) DNSLabel(key, value string) bool {
	if !IsDNSLabel(value) {
		p.Addf(key, "%q is not a valid DNS label (lower-case letters, digits and '-', 1-63 characters, starting and ending alphanumeric)", value)
		return false
	}
	return true
}

// ObjectName requires an RFC 1123 subdomain, the rule for most Kubernetes object names.
func (p *Problems) ObjectName(key, value string) bool {
	if len(value) > 253 || !isDNSName(value) {
		p.Addf(key, "%q is not a valid Kubernetes object name (lower-case RFC 1123 subdomain such as mtls-ca-issuer)", value)
		return false
	}
	return true
}

func isDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if !IsDNSLabel(label) {
			return false
		}
	}
	return true
}

// FQDN requires a fully qualified DNS name with at least two labels (the SNI name clients connect to).
func (p *Problems) FQDN(key, value string) bool {
	if !isDNSName(value) || !strings.Contains(value, ".") || net.ParseIP(value) != nil {
		p.Addf(key, "%q is not a valid DNS name; use a lower-case name such as nautobot-db.prod.example.com that resolves to the gateway", value)
		return false
	}
	return true
}

// Duration parses a cert-manager duration (Go duration units h, m, s; no days or years) of at least min.
func (p *Problems) Duration(key, value string, min time.Duration) (time.Duration, bool) {
	d, err := time.ParseDuration(value)
	if err != nil || !cmDuration.MatchString(value) {
		p.Addf(key, "%q is not a valid duration; use hours, minutes or seconds such as 87600h (cert-manager does not accept d or y)", value)
		return 0, false
	}
	if d < min {
		p.Addf(key, "%q is shorter than the minimum %s", value, min)
		return 0, false
	}
	return d, true
}

// RefreshInterval checks an External Secrets refresh interval: a Go duration of at least a minute.
func (p *Problems) RefreshInterval(key, value string) bool {
	if d, err := time.ParseDuration(value); err != nil || d < time.Minute {
		p.Addf(key, "%q is not a refresh interval of at least 1m; use a Go duration such as 1h or 15m", value)
		return false
	}
	return true
}

// UnkeyedLines returns the lines of a program's error that name no config key (the SDK's "N errors
// occurred:" heading and blank lines aside): every refusal must say which key to fix.
func UnkeyedLines(err error) []string {
	var out []string
	for _, line := range strings.Split(err.Error(), "\n") {
		if line = strings.TrimSpace(line); line == "" || errorCount.MatchString(line) {
			continue
		}
		if !strings.Contains(line, "config ") {
			out = append(out, line)
		}
	}
	return out
}

var errorCount = regexp.MustCompile(`^\d+ errors? occurred:$`)

// Port requires a TCP port number.
func (p *Problems) Port(key string, port int) bool {
	if port < 1 || port > 65535 {
		p.Addf(key, "%d is not a TCP port; use 1-65535", port)
		return false
	}
	return true
}

// OneOf requires value to be one of allowed.
func (p *Problems) OneOf(key, value string, allowed ...string) bool {
	for _, a := range allowed {
		if value == a {
			return true
		}
	}
	p.Addf(key, "%q is not supported; use one of %s", value, strings.Join(allowed, ", "))
	return false
}

// CIDR requires an IPv4 or IPv6 network in CIDR notation.
func (p *Problems) CIDR(key, value string) bool {
	if _, _, err := net.ParseCIDR(value); err != nil {
		p.Addf(key, "%q is not a CIDR such as 10.20.0.0/16", value)
		return false
	}
	return true
}

var gatewayDuration = regexp.MustCompile(`^([0-9]{1,5}(h|m|s|ms)){1,4}$`)

// GatewayDuration requires a Gateway API duration (whole numbers of h, m, s or ms, such as 60s or 1m30s),
// the format Envoy Gateway's CRDs accept.
func (p *Problems) GatewayDuration(key, value string) bool {
	if !gatewayDuration.MatchString(value) {
		p.Addf(key, "%q is not a Gateway API duration; use whole numbers of h, m, s or ms such as 60s or 1m30s", value)
		return false
	}
	return true
}

// Quantity requires a Kubernetes resource quantity (500m, 2, 1.5Gi, 20G) that is not negative.
func (p *Problems) Quantity(key, value string) (resource.Quantity, bool) {
	q, err := resource.ParseQuantity(value)
	if err != nil || q.Sign() < 0 {
		p.Addf(key, "%q is not a Kubernetes quantity such as 500m, 2 or 20Gi", value)
		return resource.Quantity{}, false
	}
	return q, true
}

// Labels requires Kubernetes label keys (an optional DNS-subdomain prefix and a name) and label values.
func (p *Problems) Labels(key string, labels map[string]string) bool {
	ok := true
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if errs := k8svalidation.IsQualifiedName(k); len(errs) > 0 {
			p.Addf(key, "%q is not a label key: %s", k, strings.Join(errs, "; "))
			ok = false
		} else if errs := k8svalidation.IsValidLabelValue(labels[k]); len(errs) > 0 {
			p.Addf(key+"."+k, "%q is not a label value: %s", labels[k], strings.Join(errs, "; "))
			ok = false
		}
	}
	return ok
}

// URL requires an absolute URL with a host and one of the schemes.
func (p *Problems) URL(key, value string, schemes ...string) bool {
	u, err := url.Parse(value)
	if err != nil || u.Host == "" || !slices.Contains(schemes, u.Scheme) {
		p.Addf(key, "%q is not a URL such as %s://host/path; the scheme must be one of %s", value, schemes[0], strings.Join(schemes, ", "))
		return false
	}
	return true
}
