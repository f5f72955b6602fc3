// Package validate checks plain configuration values before any resource is registered, and reports
// every problem at once with the config key that holds it and how to fix it.
package validate

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"
)

// Problems collects validation errors, each naming a config key.
type Problems struct {
	prefix string
	errs   []error
}

// New starts a collection whose keys are reported under prefix (a config key such as "authority").
func New(prefix string) *Problems { return &Problems{prefix: prefix} }

// Addf records a problem with the value at key (relative to the prefix).
func (p *Problems) Addf(key, format string, args ...any) {
	full := key
	if p.prefix != "" {
		full = p.prefix + "." + key
	}
	p.errs = append(p.errs, fmt.Errorf("config %s: %s", full, fmt.Sprintf(format, args...)))
}

// Err returns all problems joined, or nil.
func (p *Problems) Err() error { return errors.Join(p.errs...) }

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
