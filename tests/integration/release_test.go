package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/stretchr/testify/require"

	"nautobot-worker/internal/chartrender"
)

// release is one helm/v4 Chart of a stack as the provider recorded it: its inputs, and the kind and name
// of every object it registered.
type release struct {
	chart, name, namespace string
	values                 map[string]any
	objects                []string
}

// release reads a stack's Chart named component. The state records no inputs of a component a provider
// constructs, so they are taken from the Construct call of a preview, logged with PULUMI_DEBUG_GRPC; the
// objects are the Chart's children in the state.
func (e *env) release(stack, component string) release {
	e.t.Helper()
	var r release
	// The log holds every input in plain text; it lives in the test's temporary directory.
	logFile := filepath.Join(e.t.TempDir(), "grpc.json")
	e.preview(e.open(stack, "PULUMI_DEBUG_GRPC="+logFile))
	data, err := os.ReadFile(logFile)
	require.NoError(e.t, err)
	for _, line := range strings.Split(string(data), "\n") {
		var entry struct {
			Method  string `json:"method"`
			Request struct {
				Type   string         `json:"type"`
				Name   string         `json:"name"`
				Inputs map[string]any `json:"inputs"`
			} `json:"request"`
		}
		if json.Unmarshal([]byte(line), &entry) != nil || entry.Method != "/pulumirpc.ResourceProvider/Construct" ||
			entry.Request.Type != "kubernetes:helm.sh/v4:Chart" || entry.Request.Name != component {
			continue
		}
		in := plain(entry.Request.Inputs).(map[string]any)
		r.chart, _ = in["chart"].(string)
		r.name, _ = in["name"].(string)
		r.namespace, _ = in["namespace"].(string)
		r.values, _ = in["values"].(map[string]any)
	}
	require.NotEmpty(e.t, r.chart, "no Construct call of Chart %s in the preview of %s", component, stack)

	export, err := e.open(stack).Export(e.t.Context())
	require.NoError(e.t, err)
	var state struct {
		Resources []struct {
			URN     string         `json:"urn"`
			Type    string         `json:"type"`
			Parent  string         `json:"parent"`
			Outputs map[string]any `json:"outputs"`
		} `json:"resources"`
	}
	require.NoError(e.t, json.Unmarshal(export.Deployment, &state))
	chartURN := ""
	for _, res := range state.Resources {
		if res.Type == "kubernetes:helm.sh/v4:Chart" && strings.HasSuffix(res.URN, "::"+component) {
			chartURN = res.URN
		}
	}
	require.NotEmpty(e.t, chartURN, "no Chart %s in the state of %s", component, stack)
	for _, res := range state.Resources {
		if res.Parent == chartURN {
			r.objects = append(r.objects, objectID(res.Outputs))
		}
	}
	sort.Strings(r.objects)
	return r
}

func objectID(o map[string]any) string {
	return o["kind"].(string) + " " + dig(o, "metadata", "name").(string)
}

// plain replaces secret envelopes (a Construct call's secret inputs) by their values.
func plain(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if t["4dabf18193072939515e22adb298388d"] != nil {
			return plain(t["value"])
		}
		out := map[string]any{}
		for k, e := range t {
			out[k] = plain(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = plain(e)
		}
		return out
	}
	return v
}

// renderOffline renders the release's chart and values again with Helm's SDK (internal/chartrender),
// and checks that it yields exactly the objects the provider registered, so what the tests conclude from
// the offline render (hooks, in particular) holds for the provider too. It returns the hooks set aside.
func (e *env) renderOffline(r release) []string {
	e.t.Helper()
	res, err := chartrender.RenderWith(r.chart, r.name, r.namespace, r.values, chartrender.Options{})
	require.NoError(e.t, err)
	var objects, hooks []string
	for _, o := range res.Objects {
		objects = append(objects, objectID(o))
	}
	for _, h := range res.Hooks {
		hooks = append(hooks, objectID(h))
	}
	sort.Strings(objects)
	require.Equal(e.t, r.objects, objects, "Helm's SDK and the provider render the release alike")
	return hooks
}

// container returns the named container (or init container) of a workload read from the API server.
func container(workload map[string]any, name string) map[string]any {
	spec := dig(workload, "spec", "template", "spec").(map[string]any)
	for _, key := range []string{"containers", "initContainers"} {
		list, _ := spec[key].([]any)
		for _, c := range list {
			if c.(map[string]any)["name"] == name {
				return c.(map[string]any)
			}
		}
	}
	return nil
}

// allContainers are a pod template's containers and init containers.
func allContainers(workload map[string]any) []map[string]any {
	spec := dig(workload, "spec", "template", "spec").(map[string]any)
	var out []map[string]any
	for _, key := range []string{"initContainers", "containers"} {
		list, _ := spec[key].([]any)
		for _, c := range list {
			out = append(out, c.(map[string]any))
		}
	}
	return out
}

// envOf maps a container's variables to their value, or to their valueFrom.secretKeyRef as "secret/key".
func envOf(c map[string]any) map[string]string {
	out := map[string]string{}
	list, _ := c["env"].([]any)
	for _, v := range list {
		kv := v.(map[string]any)
		if ref, ok := dig(kv, "valueFrom", "secretKeyRef").(map[string]any); ok {
			out[kv["name"].(string)] = "secret:" + ref["name"].(string) + "/" + ref["key"].(string)
			continue
		}
		out[kv["name"].(string)], _ = kv["value"].(string)
	}
	return out
}

// envFromOf lists a container's envFrom sources as "configMap:<name>" or "secret:<name>".
func envFromOf(c map[string]any) []string {
	var out []string
	list, _ := c["envFrom"].([]any)
	for _, v := range list {
		src := v.(map[string]any)
		if cm, ok := src["configMapRef"].(map[string]any); ok {
			out = append(out, "configMap:"+cm["name"].(string))
		}
		if s, ok := src["secretRef"].(map[string]any); ok {
			out = append(out, "secret:"+s["name"].(string))
		}
	}
	return out
}

// volume returns the pod template's volume with the given name.
func volume(workload map[string]any, name string) map[string]any {
	list, _ := dig(workload, "spec", "template", "spec", "volumes").([]any)
	for _, v := range list {
		if v.(map[string]any)["name"] == name {
			return v.(map[string]any)
		}
	}
	return nil
}

// mounts maps a container's mount paths to "<volume>[:ro]".
func mounts(c map[string]any) map[string]string {
	out := map[string]string{}
	list, _ := c["volumeMounts"].([]any)
	for _, v := range list {
		m := v.(map[string]any)
		s := m["name"].(string)
		if m["readOnly"] == true {
			s += ":ro"
		}
		out[m["mountPath"].(string)] = s
	}
	return out
}
