package site_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// One value, one report: the site stack owns site.name and namespace, and the components that check the
// copies it hands them must not report them again, or under keys the user never set.
func TestEachProblemIsReportedOnceAtTheKeyTheUserSet(t *testing.T) {
	cases := []struct {
		name   string
		config map[string]string
		key    string
		want   string
	}{
		{"invalid namespace", with(baseConfig(), "namespace", "Nautobot"), "config namespace: ", `config namespace: "Nautobot" is not a valid DNS label`},
		{"invalid site name", with(baseConfig(), "site", `{"name":"DFW_1"}`), "config site.name: ", `config site.name: "DFW_1" is not a site name`},
		{"reserved site name", with(baseConfig(), "site", `{"name":"default"}`), "config site.name: ", `config site.name: "default" is reserved`},
		{"missing site name", with(baseConfig(), "site", `{"partition":"dfw"}`), "config site.name: ", "config site.name: is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := build(t, "site-dfw1", tc.config, globalOutputs())
			r.m.RequireRejected(t, err, tc.want)
			require.Equal(t, 1, strings.Count(err.Error(), tc.key), "reported more than once: %v", err)
			for _, never := range []string{"worker.site", "worker.namespace", "secrets.namespace"} {
				require.NotContains(t, err.Error(), never)
			}
		})
	}
}
