package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Cluster reads one Kubernetes cluster: custom resources through the dynamic client, secrets, pods and
// their logs through the core client.
type Cluster struct {
	Dynamic dynamic.Interface
	Core    kubernetes.Interface
}

// ConnectCluster builds a Cluster from a kubeconfig path (empty: $KUBECONFIG, then ~/.kube/config) and context.
func ConnectCluster(kubeconfig, kubeContext string) (*Cluster, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	config, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubeContext}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %q: %w", kubeconfig, err)
	}
	config.Timeout = 20 * time.Second
	dyn, err := dynamic.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	core, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	return &Cluster{Dynamic: dyn, Core: core}, nil
}

var (
	crdResource           = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	certificateResource   = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificates"}
	issuerResource        = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "issuers"}
	cnpgClusterResource   = schema.GroupVersionResource{Group: "postgresql.cnpg.io", Version: "v1", Resource: "clusters"}
	externalSecretRes     = schema.GroupVersionResource{Group: "external-secrets.io", Version: "v1", Resource: "externalsecrets"}
	secretStoreResource   = schema.GroupVersionResource{Group: "external-secrets.io", Version: "v1", Resource: "secretstores"}
	pushSecretResource    = schema.GroupVersionResource{Group: "external-secrets.io", Version: "v1alpha1", Resource: "pushsecrets"}
	clusterSecretStoreRes = schema.GroupVersionResource{Group: "external-secrets.io", Version: "v1", Resource: "clustersecretstores"}
	gatewayResource       = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}
	gatewayClassRes       = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gatewayclasses"}
	clientTrafficPolicy   = schema.GroupVersionResource{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Resource: "clienttrafficpolicies"}
)

// tlsRouteVersionWatched is the TLSRoute version Envoy Gateway v1.9 watches; with a CRD that does not serve it
// the controller logs `TLSRoute CRD not found, skipping TLSRoute watch` and never writes a route's status.
const tlsRouteVersionWatched = "v1"

func (c *Cluster) get(ctx context.Context, r schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, error) {
	if namespace == "" {
		return c.Dynamic.Resource(r).Get(ctx, name, metav1.GetOptions{})
	}
	return c.Dynamic.Resource(r).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (c *Cluster) list(ctx context.Context, r schema.GroupVersionResource, namespace string) ([]unstructured.Unstructured, error) {
	l, err := c.Dynamic.Resource(r).Namespace(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

var getOptions = metav1.GetOptions{}

func notFound(err error) bool { return apierrors.IsNotFound(err) }

// condition is one entry of status.conditions, as every controller here writes it.
type condition struct {
	Type, Status, Reason, Message string
}

func conditionOf(obj map[string]any, typ string, path ...string) (condition, bool) {
	if len(path) == 0 {
		path = []string{"status", "conditions"}
	}
	list, _, _ := unstructured.NestedSlice(obj, path...)
	for _, item := range list {
		m, _ := item.(map[string]any)
		if m["type"] == typ {
			return condition{Type: typ, Status: str(m["status"]), Reason: str(m["reason"]), Message: str(m["message"])}, true
		}
	}
	return condition{}, false
}

func (c condition) String() string {
	s := c.Type + "=" + c.Status
	if c.Reason != "" {
		s += " (" + c.Reason + ")"
	}
	if c.Message != "" {
		s += ": " + c.Message
	}
	return s
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// Outputs are a stack's outputs as `pulumi stack output --json` prints them.
type Outputs map[string]any

// ReadOutputs reads outputs from a file, "-" for standard input; an empty path gives no outputs.
func ReadOutputs(path string) (Outputs, error) {
	if path == "" {
		return Outputs{}, nil
	}
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	var o Outputs
	if err := json.Unmarshal(data, &o); err != nil {
		return nil, fmt.Errorf("%s: not the JSON of `pulumi stack output --json`: %w", path, err)
	}
	return o, nil
}

// String returns a string output, or def when the output is absent or not a string.
func (o Outputs) String(key, def string) string {
	if s, ok := o[key].(string); ok && s != "" && s != "[secret]" {
		return s
	}
	return def
}

// Hidden returns the keys whose value `pulumi stack output --json` hid as "[secret]".
func (o Outputs) Hidden(keys ...string) []string {
	var hidden []string
	for _, k := range keys {
		if o[k] == "[secret]" {
			hidden = append(hidden, k)
		}
	}
	return hidden
}

// Strings returns a list-of-strings output, or nil when the output is absent or hidden.
func (o Outputs) Strings(key string) []string {
	list, ok := o[key].([]any)
	if !ok {
		return nil
	}
	out := []string{}
	for _, v := range list {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// Map returns an object output.
func (o Outputs) Map(key string) map[string]any {
	m, _ := o[key].(map[string]any)
	return m
}
