package manifest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFromPreviewKeepsOrderParentsAndTheFloorsInputs(t *testing.T) {
	const stack = "urn:pulumi:s::p::pulumi:pulumi:Stack::p-s"
	const provider = "urn:pulumi:s::p::pulumi:providers:kubernetes::global"
	const comp = "urn:pulumi:s::p::nautobot-worker:index:MTLSAuthority::mtls"
	preview := `{"steps": [
	 {"op": "create", "urn": "` + stack + `", "newState": {"type": "pulumi:pulumi:Stack", "custom": false}},
	 {"op": "create", "urn": "` + provider + `", "newState": {"type": "pulumi:providers:kubernetes", "custom": true,
	  "parent": "` + stack + `", "inputs": {"renderYamlToDirectory": "/tmp/r", "deleteUnreachable": true, "x": {"a": 1}}}},
	 {"op": "create", "urn": "` + comp + `", "newState": {"type": "nautobot-worker:index:MTLSAuthority", "custom": false,
	  "parent": "` + stack + `"}},
	 {"op": "create", "urn": "urn:pulumi:s::p::nautobot-worker:index:MTLSAuthority$kubernetes:core/v1:Secret::mtls-ca",
	  "newState": {"type": "kubernetes:core/v1:Secret", "custom": true, "parent": "` + comp + `",
	  "dependencies": ["` + provider + `"], "inputs": {"metadata": {"name": "ca", "namespace": "nautobot"}, "data": {}}}}
	]}`
	got, err := FromPreview(strings.NewReader(preview))
	require.NoError(t, err)
	want := []Resource{
		{Type: "pulumi:providers:kubernetes", Name: "global", Custom: true, Parent: -1,
			Inputs: map[string]string{"renderYamlToDirectory": "/tmp/r", "deleteUnreachable": "true"}},
		{Type: "nautobot-worker:index:MTLSAuthority", Name: "mtls", Parent: -1},
		{Type: "kubernetes:core/v1:Secret", Name: "mtls-ca", Custom: true, Parent: 1, DependsOn: []int{0},
			Inputs: map[string]string{"name": "ca", "namespace": "nautobot"}},
	}
	require.Equal(t, want, got)
}
