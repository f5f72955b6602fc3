package kube

import (
	"encoding/json"
	"errors"
	"maps"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"

	"nautobot-worker/internal/validate"
)

// Quantity is a Kubernetes resource quantity as config writes it: a string (2Gi, 500m) or a number (cpu: 1).
type Quantity string

// UnmarshalJSON takes a JSON string or number.
func (q *Quantity) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*q = Quantity(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("a quantity is a string such as 500m or 2Gi, or a number")
	}
	*q = Quantity(n.String())
	return nil
}

// Resources are a container's requests and limits by resource name.
type Resources struct {
	Requests map[string]Quantity `json:"requests"`
	Limits   map[string]Quantity `json:"limits"`
}

// IsZero reports whether nothing is set, so the chart's or operator's defaults apply.
func (r Resources) IsZero() bool { return len(r.Requests) == 0 && len(r.Limits) == 0 }

// Values are the resources as a container spec (or a chart value) writes them, with only the sections set.
func (r Resources) Values() map[string]any {
	out := map[string]any{}
	for section, list := range map[string]map[string]Quantity{"requests": r.Requests, "limits": r.Limits} {
		if len(list) == 0 {
			continue
		}
		m := map[string]any{}
		for name, q := range list {
			m[name] = string(q)
		}
		out[section] = m
	}
	return out
}

var extendedResource = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)

// Validate checks resource names and quantities, and that no request exceeds its limit (which the API
// server refuses only when it creates the pod, after the stack has applied).
func (r Resources) Validate(p *validate.Problems, key string) {
	requests := r.validateSection(p, key+".requests", r.Requests)
	limits := r.validateSection(p, key+".limits", r.Limits)
	for _, name := range slices.Sorted(maps.Keys(requests)) {
		if request, limit := requests[name], limits[name]; limit.Sign() > 0 && request.Cmp(limit) > 0 {
			p.Addf(key+".requests."+name, "%s is more than the limit %s; lower the request or raise %s.limits.%s",
				r.Requests[name], r.Limits[name], key, name)
		}
	}
}

func (Resources) validateSection(p *validate.Problems, key string, list map[string]Quantity) map[string]resource.Quantity {
	parsed := map[string]resource.Quantity{}
	for _, name := range slices.Sorted(maps.Keys(list)) {
		if name != "cpu" && name != "memory" && name != "ephemeral-storage" && !strings.HasPrefix(name, "hugepages-") &&
			!extendedResource.MatchString(name) {
			p.Addf(key, "%q is not a resource name; use cpu, memory, ephemeral-storage, hugepages-<size> or an extended resource such as nvidia.com/gpu", name)
			continue
		}
		if q, ok := p.Quantity(key+"."+name, string(list[name])); ok {
			parsed[name] = q
		}
	}
	return parsed
}

// Toleration is a pod toleration, as CNPG's spec.affinity.tolerations and pod specs take it.
type Toleration struct {
	Key               string `json:"key"`
	Operator          string `json:"operator"`
	Value             string `json:"value"`
	Effect            string `json:"effect"`
	TolerationSeconds *int64 `json:"tolerationSeconds"`
}

// Values is the toleration with only the fields set.
func (t Toleration) Values() map[string]any {
	out := map[string]any{}
	for k, v := range map[string]string{"key": t.Key, "operator": t.Operator, "value": t.Value, "effect": t.Effect} {
		if v != "" {
			out[k] = v
		}
	}
	if t.TolerationSeconds != nil {
		out["tolerationSeconds"] = *t.TolerationSeconds
	}
	return out
}

// Validate applies the rules the API server (and CNPG's webhook, for a Cluster) applies to a toleration.
func (t Toleration) Validate(p *validate.Problems, key string) {
	if t.Key != "" {
		if errs := k8svalidation.IsQualifiedName(t.Key); len(errs) > 0 {
			p.Addf(key+".key", "%q is not a taint key: %s", t.Key, strings.Join(errs, "; "))
		}
	}
	switch t.Operator {
	case "", "Equal":
		if t.Key == "" {
			p.Addf(key+".operator", "must be Exists when key is empty (a toleration of every taint)")
		}
		if errs := k8svalidation.IsValidLabelValue(t.Value); len(errs) > 0 {
			p.Addf(key+".value", "%q is not a taint value: %s", t.Value, strings.Join(errs, "; "))
		}
	case "Exists":
		if t.Value != "" {
			p.Addf(key+".value", "must be empty with operator Exists; remove it or use operator Equal")
		}
	default:
		p.OneOf(key+".operator", t.Operator, "Equal", "Exists")
	}
	if t.Effect != "" {
		p.OneOf(key+".effect", t.Effect, "NoSchedule", "PreferNoSchedule", "NoExecute")
	}
	if t.TolerationSeconds != nil && t.Effect != "NoExecute" {
		p.Addf(key+".tolerationSeconds", "applies only to effect NoExecute; set effect: NoExecute or remove it")
	}
}

// SecretKeyRef names one key of a Secret in the namespace of the object that refers to it.
type SecretKeyRef struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

// Values is the reference as Kubernetes selectors write it.
func (r SecretKeyRef) Values() map[string]any { return map[string]any{"name": r.Name, "key": r.Key} }

// Validate requires a Secret name and a Secret data key.
func (r SecretKeyRef) Validate(p *validate.Problems, key string) {
	p.ObjectName(key+".name", r.Name)
	if errs := k8svalidation.IsConfigMapKey(r.Key); len(errs) > 0 {
		p.Addf(key+".key", "%q is not a Secret key (letters, digits, '-', '_' and '.'); name the key of %s that holds the value", r.Key, r.Name)
	}
}
