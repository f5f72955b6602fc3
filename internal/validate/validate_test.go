package validate_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/validate"
)

func problems(t *testing.T, err error) []string {
	t.Helper()
	var list validate.List
	if err == nil {
		return nil
	}
	require.ErrorAs(t, err, &list)
	var out []string
	for _, p := range list {
		out = append(out, p.Error())
	}
	return out
}

func TestRulesNameTheKeyAndTheFix(t *testing.T) {
	cases := []struct {
		name  string
		check func(p *validate.Problems) bool
		want  string
	}{
		{"blank", func(p *validate.Problems) bool { return p.NonEmpty("commonName", " ") }, "commonName: must not be empty; set it or remove the key"},
		{"DNS label", func(p *validate.Problems) bool { return p.DNSLabel("namespace", "Nautobot") }, `namespace: "Nautobot" is not a valid DNS label`},
		{"label too long", func(p *validate.Problems) bool { return p.DNSLabel("namespace", string(make([]byte, 64))) }, "namespace: "},
		{"object name", func(p *validate.Problems) bool { return p.ObjectName("issuer", "mtls_ca") }, `issuer: "mtls_ca" is not a valid Kubernetes object name`},
		{"FQDN with one label", func(p *validate.Problems) bool { return p.FQDN("dbFqdn", "redis") }, `dbFqdn: "redis" is not a valid DNS name`},
		{"FQDN that is an IP", func(p *validate.Problems) bool { return p.FQDN("dbFqdn", "10.0.0.1") }, `dbFqdn: "10.0.0.1" is not a valid DNS name`},
		{"port", func(p *validate.Problems) bool { return p.Port("dbPort", 0) }, "dbPort: 0 is not a TCP port; use 1-65535"},
		{"one of", func(p *validate.Problems) bool { return p.OneOf("kind", "x", "a", "b") }, `kind: "x" is not supported; use one of a, b`},
		{"CIDR", func(p *validate.Problems) bool { return p.CIDR("egressCidrs[0]", "10.0.0.0") }, `egressCidrs[0]: "10.0.0.0" is not a CIDR`},
		{"gateway duration", func(p *validate.Problems) bool { return p.GatewayDuration("idleTime", "1.5m") }, `idleTime: "1.5m" is not a Gateway API duration`},
		{"duration in days", func(p *validate.Problems) bool { _, ok := p.Duration("duration", "365d", time.Hour); return ok }, `duration: "365d" is not a valid duration`},
		{"quantity", func(p *validate.Problems) bool { _, ok := p.Quantity("storageSize", "20 GB"); return ok }, `storageSize: "20 GB" is not a Kubernetes quantity such as 500m, 2 or 20Gi`},
		{"negative quantity", func(p *validate.Problems) bool { _, ok := p.Quantity("size", "-1Gi"); return ok }, `size: "-1Gi" is not a Kubernetes quantity`},
		{"label key", func(p *validate.Problems) bool { return p.Labels("nodeSelector", map[string]string{"a b": "x"}) }, `nodeSelector: "a b" is not a label key`},
		{"label value", func(p *validate.Problems) bool { return p.Labels("nodeSelector", map[string]string{"tier": "db/fast"}) }, `nodeSelector.tier: "db/fast" is not a label value`},
		{"URL without host", func(p *validate.Problems) bool { return p.URL("endpointURL", "minio:9000", "http", "https") }, `endpointURL: "minio:9000" is not a URL such as http://host/path; the scheme must be one of http, https`},
		{"URL scheme", func(p *validate.Problems) bool { return p.URL("destinationPath", "ftp://bucket/x", "s3", "gs") }, `destinationPath: "ftp://bucket/x" is not a URL`},
		{"duration too short", func(p *validate.Problems) bool { _, ok := p.Duration("duration", "30m", time.Hour); return ok }, `duration: "30m" is shorter than the minimum 1h0m0s`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := validate.New("")
			require.False(t, tc.check(p))
			got := problems(t, p.Err())
			require.Len(t, got, 1)
			require.Contains(t, got[0], tc.want)
		})
	}
	p := validate.New("chart")
	require.True(t, p.DNSLabel("name", "nautobot"))
	require.True(t, p.FQDN("fqdn", "nautobot-db.prod.example.com"))
	require.True(t, p.CIDR("cidr", "2001:db8::/32"))
	require.True(t, p.GatewayDuration("d", "1m30s"))
	for _, q := range []string{"500m", "2", "1.5Gi", "20G", "0"} {
		_, ok := p.Quantity("q", q)
		require.True(t, ok, q)
	}
	require.True(t, p.Labels("labels", map[string]string{"node-role.kubernetes.io/db": "", "release": "prometheus"}))
	require.True(t, p.URL("u", "https://s3.example.com:9000", "http", "https"))
	require.NoError(t, p.Err(), "valid values report nothing")
	p.Addf("version", "bad")
	require.Equal(t, []string{"chart.version: bad"}, problems(t, p.Err()), "a prefix nests keys")
}

// A component reports keys relative to its arguments; the stack places them at the config keys the user
// edits, and a value the stack copied from another key is reported once, at that key.
func TestInConfigPlacesProblemsWhereTheUserSetTheValue(t *testing.T) {
	component := func(key, msg string) error {
		p := validate.New("")
		p.Addf(key, "%s", msg)
		return p.Err()
	}
	stack := validate.New("")
	stack.Addf("namespace", "bad namespace")
	origins := map[string]string{"authority.namespace": "namespace", "worker.site": "site.name", "secrets.namespace": "namespace"}

	err := validate.Join(
		validate.InConfig("", nil, stack.Err()),
		validate.InConfig("authority", origins, errors.Join(component("namespace", "bad namespace"), component("duration", "bad duration"))),
		validate.InConfig("worker", origins, component("site", "bad site")),
		validate.InConfig("secrets", origins, component("namespace", "bad site namespace")),
		validate.InConfig("worker", origins, component("site", "bad site")),
		errors.New("not a problem"),
	)
	require.Equal(t, "config namespace: bad namespace\nconfig authority.duration: bad duration\nconfig site.name: bad site\nnot a problem", err.Error())
	require.Nil(t, validate.Join(nil, validate.InConfig("x", nil, nil)), "no problems, no error")
	require.Equal(t, "site: bad site", component("site", "bad site").Error(), "outside a stack the key is the argument's")
}

func TestUnkeyedLines(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want []string
	}{
		{"every line names its key", errors.New("2 errors occurred:\n\t* config a: bad\n\t* config b: worse\n\n"), nil},
		{"one line does not", errors.New("1 error occurred:\n\t* index out of range\n"), []string{"* index out of range"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, validate.UnkeyedLines(tc.err))
		})
	}
}
