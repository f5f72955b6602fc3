package stacks

import (
	"testing"

	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/mocks"
)

func TestRoleSelection(t *testing.T) {
	cases := []struct {
		stack  string
		config map[string]string
		want   string
	}{
		{"prod", nil, `config nautobot-worker:role: "" is not a stack role; set it to global or site`},
		{"prod", map[string]string{"role": "worker"}, `config nautobot-worker:role: "worker" is not a stack role`},
		// The global program runs and fails on its own config, which shows it was the one selected.
		{"global", nil, "config gateway.domain: is not set"},
		{"eu", map[string]string{"role": "global"}, "config gateway.domain: is not set"},
		{"site-dfw1", nil, "config site.name"},
		{"anything", map[string]string{"role": "site"}, "config site.name"},
	}
	for _, tc := range cases {
		t.Run(tc.stack, func(t *testing.T) {
			m := &mocks.Monitor{}
			err := mocks.Run(tc.stack, tc.config, m, Program)
			require.ErrorContains(t, err, tc.want)
			require.Empty(t, m.Resources())
		})
	}
}
