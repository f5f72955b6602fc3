package chart_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/chart"
)

func TestAddValuesAddsButNeverChangesTheStacksValues(t *testing.T) {
	cases := []struct {
		name      string
		extra     map[string]any
		want      map[string]any
		conflicts []string
	}{
		{"a new key is added", map[string]any{"ingress": map[string]any{"enabled": true}},
			map[string]any{"nautobot": map[string]any{"replicaCount": 2, "db": map[string]any{"host": "db"}}, "ingress": map[string]any{"enabled": true}}, nil},
		{"a new key inside a map the stack set", map[string]any{"nautobot": map[string]any{"podLabels": map[string]any{"team": "a"}}},
			map[string]any{"nautobot": map[string]any{"replicaCount": 2, "db": map[string]any{"host": "db"}, "podLabels": map[string]any{"team": "a"}}}, nil},
		{"a scalar the stack set", map[string]any{"nautobot": map[string]any{"replicaCount": 5, "db": map[string]any{"host": "elsewhere"}}},
			map[string]any{"nautobot": map[string]any{"replicaCount": 2, "db": map[string]any{"host": "db"}}}, []string{"nautobot.db.host", "nautobot.replicaCount"}},
		{"a scalar where the stack set a map", map[string]any{"nautobot": map[string]any{"db": "none"}},
			map[string]any{"nautobot": map[string]any{"replicaCount": 2, "db": map[string]any{"host": "db"}}}, []string{"nautobot.db"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ours := map[string]any{"nautobot": map[string]any{"replicaCount": 2, "db": map[string]any{"host": "db"}}}
			require.Equal(t, tc.conflicts, chart.AddValues(ours, tc.extra))
			require.Equal(t, tc.want, ours)
		})
	}
	t.Run("added values are copies", func(t *testing.T) {
		extra := map[string]any{"ingress": map[string]any{"hosts": []any{"a"}}}
		ours := map[string]any{}
		chart.AddValues(ours, extra)
		ours["ingress"].(map[string]any)["hosts"].([]any)[0] = "b"
		require.Equal(t, "a", extra["ingress"].(map[string]any)["hosts"].([]any)[0])
	})
}
