package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"nautobot-worker/internal/doctor"
	"nautobot-worker/internal/nautobotpod"
)

var cnpgClusters = schema.GroupVersionResource{Group: "postgresql.cnpg.io", Version: "v1", Resource: "clusters"}

// requireCheck finds a check by name and asserts its status; the detail or fix must hold every wanted text.
func requireCheck(t *testing.T, r doctor.Report, name string, status doctor.Status, wanted ...string) doctor.Check {
	t.Helper()
	c, ok := r.Find(name)
	if !ok {
		var names []string
		for _, c := range r.Checks {
			names = append(names, c.Name)
		}
		t.Fatalf("no check %q in the report; checks: %q", name, names)
	}
	require.Equal(t, status, c.Status, "%s: %s (fix: %s)", name, c.Detail, c.Fix)
	for _, w := range wanted {
		require.Contains(t, c.Detail+" | "+c.Fix, w, name)
	}
	return c
}

func statusPatch(t *testing.T, cl *doctor.Cluster, r schema.GroupVersionResource, ns, name string, status map[string]any) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"status": status})
	require.NoError(t, err)
	res := cl.Dynamic.Resource(r)
	if ns == "" {
		_, err = res.Patch(t.Context(), name, types.MergePatchType, body, metav1.PatchOptions{}, "status")
	} else {
		_, err = res.Namespace(ns).Patch(t.Context(), name, types.MergePatchType, body, metav1.PatchOptions{}, "status")
	}
	require.NoError(t, err, "status of %s %s/%s", r.Resource, ns, name)
}

func apply(t *testing.T, e *env, manifest string) {
	t.Helper()
	cmd := exec.Command("kubectl", "--kubeconfig", e.kubeconfig, "apply", "-f", "-")
	cmd.Stdin = strings.NewReader(manifest)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
}

func statusCondition(typ, status, reason, message string) map[string]any {
	return map[string]any{"type": typ, "status": status, "reason": reason, "message": message,
		"lastTransitionTime": time.Now().UTC().Format(time.RFC3339), "observedGeneration": 1}
}

// doctorGlobal runs `doctor global` against the global stack `pulumi up` deployed, with the real cert-manager,
// External Secrets and Envoy Gateway controllers. What the absent CloudNativePG operator would report is
// written through the status subresource as it writes it; Envoy Gateway's statuses are its controller's own.
// No Envoy proxy, kubelet or load balancer runs here: where the controller waits on them (a backend's ready
// endpoints, a Gateway's address, its proxy replicas), what they would report is written into the Pods and
// the Service the cluster's controllers created.
func doctorGlobal(t *testing.T, e *env, global string) {
	cl, err := doctor.ConnectCluster(e.kubeconfig, "")
	require.NoError(t, err)
	run := func(out map[string]any, ns string) doctor.Report {
		return doctor.Global(t.Context(), cl, doctor.GlobalOptions{Outputs: out, Namespace: ns, Now: time.Now()})
	}
	out := e.outputs(global)

	// Envoy Gateway resolves a route's backend to the ready endpoints of its Service. What the absent CNPG
	// operator creates for the Cluster: its rw Service. The EndpointSlices kube-controller-manager would write
	// for the two backends' ready Pods, were they running on a node (no kubelet runs here, and it skips Pods
	// without one), are written here, each with one ready endpoint on the Service's ports.
	apply(t, e, `apiVersion: v1
kind: Service
metadata: {name: nautobot-cluster-rw, namespace: nautobot}
spec:
  selector: {cnpg.io/cluster: nautobot-cluster, cnpg.io/instanceRole: primary}
  ports: [{name: postgres, port: 5432, targetPort: 5432}]
`)
	for i, svc := range []string{"nautobot-cluster-rw", "nautobot-redis-master"} {
		service, err := cl.Core.CoreV1().Services("nautobot").Get(t.Context(), svc, metav1.GetOptions{})
		require.NoError(t, err)
		var ports []discoveryv1.EndpointPort
		for _, p := range service.Spec.Ports {
			ports = append(ports, discoveryv1.EndpointPort{Name: &p.Name, Port: &p.Port, Protocol: &p.Protocol})
		}
		ready := true
		_, err = cl.Core.DiscoveryV1().EndpointSlices("nautobot").Create(t.Context(), &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Name: svc + "-stand-in", Labels: map[string]string{
				discoveryv1.LabelServiceName: svc, discoveryv1.LabelManagedBy: "nautobot-worker-tests"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{fmt.Sprintf("10.244.%d.10", i+1)}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
			Ports:       ports,
		}, metav1.CreateOptions{})
		require.NoError(t, err, svc)
	}

	t.Run("Envoy Gateway's controller accepts the class, the Gateway, both routes on their listeners and every keepalive policy", func(t *testing.T) {
		start := time.Now()
		e.waitFor(t, "GatewayClass eg Accepted", 3*time.Minute, func() (bool, any) {
			c := condition(e.object("gatewayclasses", "", "eg"), "Accepted")
			return c != nil && c["status"] == "True", c
		})
		gw := e.waitFor(t, "Gateway nautobot-passthrough Accepted, and Programmed=False for want of an address", 2*time.Minute, func() (bool, any) {
			obj := e.object("gateways", "envoy-gateway", "nautobot-passthrough")
			a, p := condition(obj, "Accepted"), condition(obj, "Programmed")
			return a != nil && a["status"] == "True" && p != nil && p["reason"] == "AddressNotAssigned", obj
		})
		require.Equal(t, "No addresses have been assigned to the Gateway", condition(gw.(map[string]any), "Programmed")["message"])
		for _, route := range []string{"nautobot-db", "nautobot-redis"} {
			e.waitFor(t, "TLSRoute "+route+" Accepted and ResolvedRefs on listener "+route, 2*time.Minute, func() (bool, any) {
				obj := e.object("tlsroutes", "nautobot", route)
				parent := routeParent(obj, route)
				return parent != nil && conditionIn(parent, "Accepted", "True") && conditionIn(parent, "ResolvedRefs", "True"), dig(obj, "status")
			})
			e.waitFor(t, "ClientTrafficPolicy "+route+"-client-traffic Accepted", 2*time.Minute, func() (bool, any) {
				obj := e.object("clienttrafficpolicies", "envoy-gateway", route+"-client-traffic")
				ancestors, _ := dig(obj, "status", "ancestors").([]any)
				for _, a := range ancestors {
					if conditionIn(a.(map[string]any), "Accepted", "True") {
						return true, ancestors
					}
				}
				return false, dig(obj, "status")
			})
		}
		t.Logf("Envoy Gateway's statuses all written %s after the test started waiting", time.Since(start).Round(time.Millisecond))
	})

	t.Run("doctor global: CloudNativePG has not reported; Envoy Gateway has, with no address for the Gateway", func(t *testing.T) {
		r := run(out, "")
		for _, crd := range []string{"certificates.cert-manager.io", "clusters.postgresql.cnpg.io", "externalsecrets.external-secrets.io", "tlsroutes.gateway.networking.k8s.io", "clienttrafficpolicies.gateway.envoyproxy.io"} {
			requireCheck(t, r, "CRD "+crd, doctor.Pass, "installed")
		}
		requireCheck(t, r, "TLSRoute versions", doctor.Pass, "served: v1, v1alpha2, v1alpha3 (Envoy Gateway v1.9 watches v1)")
		requireCheck(t, r, "controller cert-manager", doctor.Pass, "reconciles")
		requireCheck(t, r, "controller External Secrets", doctor.Pass, "mtls-ca-cert")
		requireCheck(t, r, "certificate mtls-ca", doctor.Pass, "Ready; expires in 3650 days, renews in 3285 days")
		requireCheck(t, r, "certificate nautobot-mtls-client-dfw1", doctor.Pass, "Ready; expires in 365 days, renews in 335 days")
		requireCheck(t, r, "ca.crt-only secret mtls-ca-cert", doctor.Pass, "ca.crt only, CN=understack-mtls-ca, no key")
		requireCheck(t, r, "CNPG cluster nautobot-cluster clientCASecret", doctor.Pass, "clientCASecret mtls-ca-cert, replicationTLSSecret nautobot-cluster-replication")
		requireCheck(t, r, "CNPG cluster nautobot-cluster pg_hba", doctor.Pass, "hostssl app app all cert map=nautobot")
		requireCheck(t, r, "CNPG cluster nautobot-cluster role mapping", doctor.Pass, "as the application role")
		requireCheck(t, r, "CNPG cluster nautobot-cluster", doctor.Fail, "the CloudNativePG operator has not reconciled it")
		requireCheck(t, r, "controller Envoy Gateway", doctor.Pass, "accepts GatewayClass eg (gateway.envoyproxy.io/gatewayclass-controller)")
		requireCheck(t, r, "tlsroute nautobot/nautobot-db", doctor.Pass, "nautobot-db.demo.example.com", "Accepted, ResolvedRefs")
		requireCheck(t, r, "tlsroute nautobot/nautobot-redis", doctor.Pass, "nautobot-redis.demo.example.com", "Accepted, ResolvedRefs")
		for _, route := range []string{"nautobot-db", "nautobot-redis"} {
			requireCheck(t, r, "clienttrafficpolicy envoy-gateway/"+route+"-client-traffic", doctor.Pass,
				"Gateway envoy-gateway/nautobot-passthrough listener "+route+": Accepted=True (Accepted): Policy has been accepted.")
		}
		requireCheck(t, r, "gateway envoy-gateway/nautobot-passthrough", doctor.Fail, "Programmed=False (AddressNotAssigned): No addresses have been assigned to the Gateway")
		require.Equal(t, 1, r.ExitCode())
	})

	// What the operators write: CloudNativePG's phase. What the absent load balancer and kubelet report: the
	// address of the Service Envoy Gateway made for the Gateway, and its proxy Pods ready, from which
	// kube-controller-manager computes the proxy Deployment's available replicas.
	statusPatch(t, cl, cnpgClusters, "nautobot", "nautobot-cluster", map[string]any{"phase": "Cluster in healthy state", "instances": 3, "readyInstances": 3})
	proxy := metav1.ListOptions{LabelSelector: "gateway.envoyproxy.io/owning-gateway-name=nautobot-passthrough,gateway.envoyproxy.io/owning-gateway-namespace=envoy-gateway"}
	services, err := cl.Core.CoreV1().Services("envoy-gateway").List(t.Context(), proxy)
	require.NoError(t, err)
	require.Len(t, services.Items, 1, "Envoy Gateway's Service for the Gateway")
	lbService := services.Items[0].Name
	require.Equal(t, corev1.ServiceTypeLoadBalancer, services.Items[0].Spec.Type)
	setLoadBalancer := func(ingress []any) {
		body, err := json.Marshal(map[string]any{"status": map[string]any{"loadBalancer": map[string]any{"ingress": ingress}}})
		require.NoError(t, err)
		_, err = cl.Core.CoreV1().Services("envoy-gateway").Patch(t.Context(), lbService, types.MergePatchType, body, metav1.PatchOptions{}, "status")
		require.NoError(t, err)
	}
	setLoadBalancer([]any{map[string]any{"ip": "192.0.2.10"}})
	e.waitFor(t, "kube-controller-manager creates the proxy Pods", 2*time.Minute, func() (bool, any) {
		pods, err := cl.Core.CoreV1().Pods("envoy-gateway").List(t.Context(), proxy)
		return err == nil && len(pods.Items) > 0, err
	})
	pods, err := cl.Core.CoreV1().Pods("envoy-gateway").List(t.Context(), proxy)
	require.NoError(t, err)
	for i, pod := range pods.Items {
		kubeletReportsRunning(t, cl, pod, fmt.Sprintf("10.244.0.%d", i+10))
	}

	t.Run("Envoy Gateway programs the Gateway once its address and proxy replicas are there", func(t *testing.T) {
		gw := e.waitFor(t, "Gateway nautobot-passthrough Programmed", 2*time.Minute, func() (bool, any) {
			obj := e.object("gateways", "envoy-gateway", "nautobot-passthrough")
			p := condition(obj, "Programmed")
			return p != nil && p["status"] == "True", obj
		}).(map[string]any)
		require.Equal(t, fmt.Sprintf("Address assigned to the Gateway, %d/%d envoy replicas available", len(pods.Items), len(pods.Items)), condition(gw, "Programmed")["message"])
		require.Equal(t, []any{map[string]any{"type": "IPAddress", "value": "192.0.2.10"}}, dig(gw, "status", "addresses"))
	})

	t.Run("doctor global: the firewall request still names no address until a refresh", func(t *testing.T) {
		r := run(out, "")
		requireCheck(t, r, "CNPG cluster nautobot-cluster", doctor.Pass, "Cluster in healthy state, 3 of 3 instances ready")
		requireCheck(t, r, "gateway envoy-gateway/nautobot-passthrough", doctor.Pass, "Programmed=True (Programmed): Address assigned to the Gateway")
		requireCheck(t, r, "gateway envoy-gateway/nautobot-passthrough address", doctor.Pass, "192.0.2.10")
		requireCheck(t, r, "firewall rules", doctor.Fail, "the gateway VIP that", "pulumi up --refresh -s global")
	})

	t.Run("doctor global: every check passes after pulumi up --refresh but the CA's layout, and the command says so", func(t *testing.T) {
		e.upRefresh(global)
		out = e.outputs(global)
		r := run(out, "")
		requireCheck(t, r, "firewall rules", doctor.Pass, "→ 192.0.2.10")
		// The demo keeps the default layout: the CA key pair in the application namespace, read by the
		// ca.crt copy's store, which the API server's access review names.
		caLayout := "CA key pair nautobot/mtls-ca-key-pair"
		requireCheck(t, r, caLayout, doctor.Warn, "in the application namespace nautobot",
			"serviceaccount nautobot/mtls-ca-cert-reader", "SecretStore mtls-ca-cert-reader (as mtls-ca-cert-reader: any ExternalSecret in nautobot naming it can copy tls.key)",
			`"Moving the CA to its own namespace"`)
		for _, c := range r.Checks {
			if c.Name != caLayout {
				require.Equal(t, doctor.Pass, c.Status, "%s: %s", c.Name, c.Detail)
			}
		}
		// The command itself, as an operator runs it, with the outputs on standard input.
		report, code := e.doctorCommand(t, mustJSON(t, out), "global", "--kubeconfig", e.kubeconfig, "--outputs", "-", "--json")
		require.Equal(t, 3, code, "%+v", report)
		require.Equal(t, len(r.Checks)-1, report.Passed)
	})

	t.Run("doctor global: each failure, made real", func(t *testing.T) {
		// A namespace of broken objects: a Certificate cert-manager cannot issue, a CNPG Cluster as the seed
		// warns against (no clientCASecret, password auth), a public CA secret carrying the key; routes and
		// keepalive policies Envoy Gateway refuses: a route for another name in a namespace no listener admits,
		// a route whose sectionName names no listener, a policy for a listener the Gateway lacks and one whose
		// Gateway does not exist.
		apply(t, e, `apiVersion: v1
kind: Namespace
metadata: {name: doctor-broken}
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: bootstrap, namespace: doctor-broken}
spec: {selfSigned: {}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: orphan, namespace: doctor-broken}
spec:
  secretName: orphan
  commonName: app
  issuerRef: {name: no-such-issuer, kind: Issuer, group: cert-manager.io}
---
apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: seed-default, namespace: doctor-broken}
spec:
  instances: 1
  storage: {size: 1Gi}
  certificates: {serverTLSSecret: server, serverCASecret: mtls-ca-cert}
  postgresql:
    pg_hba: ["hostssl all all 0.0.0.0/0 scram-sha-256"]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: wrong-name, namespace: doctor-broken}
spec:
  parentRefs: [{name: nautobot-passthrough, namespace: envoy-gateway, sectionName: nautobot-db}]
  hostnames: [db.wrong.example.com]
  rules: [{backendRefs: [{name: nautobot-cluster-rw, port: 5432}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: no-listener, namespace: doctor-broken}
spec:
  parentRefs: [{name: nautobot-passthrough, namespace: envoy-gateway, sectionName: nautobot-postgres}]
  hostnames: [nautobot-db.demo.example.com]
  rules: [{backendRefs: [{name: nautobot-cluster-rw, port: 5432}]}]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata: {name: broken-no-gateway, namespace: envoy-gateway}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: nautobot-passthru, sectionName: nautobot-db}]
  tcpKeepalive: {probes: 3, idleTime: 60s, interval: 10s}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata: {name: broken-no-listener, namespace: envoy-gateway}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: nautobot-passthrough, sectionName: nautobot-postgres}]
  tcpKeepalive: {probes: 3, idleTime: 60s, interval: 10s}
`)
		defer func() {
			e.mustRun("kubectl", "--kubeconfig", e.kubeconfig, "-n", "envoy-gateway", "delete", "clienttrafficpolicy", "broken-no-gateway", "broken-no-listener")
		}()
		ca := e.secret("nautobot", "mtls-ca-key-pair")
		_, err := cl.Core.CoreV1().Secrets("doctor-broken").Create(t.Context(), &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "mtls-ca-cert"},
			Data:       map[string][]byte{"ca.crt": ca["tls.crt"], "tls.key": ca["tls.key"]},
		}, metav1.CreateOptions{})
		require.NoError(t, err)
		statusPatch(t, cl, cnpgClusters, "doctor-broken", "seed-default", map[string]any{"phase": "Setting up primary", "instances": 1, "readyInstances": 0})
		e.waitConditionStatus("certificates.cert-manager.io", "doctor-broken", "orphan", "Ready", "False", time.Minute)

		refused := func(kind, name, section, reason, message string) {
			t.Helper()
			e.waitFor(t, fmt.Sprintf("%s %s refused (%s)", kind, name, reason), 2*time.Minute, func() (bool, any) {
				var parent map[string]any
				if kind == "tlsroutes" {
					obj := e.object(kind, "doctor-broken", name)
					parent = routeParent(obj, section)
				} else {
					obj := e.object(kind, "envoy-gateway", name)
					ancestors, _ := dig(obj, "status", "ancestors").([]any)
					if len(ancestors) > 0 {
						parent = ancestors[0].(map[string]any)
					}
				}
				c := entryCondition(parent, "Accepted")
				return c != nil && c["status"] == "False" && c["reason"] == reason && c["message"] == message, parent
			})
		}
		refused("tlsroutes", "wrong-name", "nautobot-db", "NotAllowedByListeners", "No listeners included by this parent ref allowed this attachment.")
		refused("tlsroutes", "no-listener", "nautobot-postgres", "NoMatchingParent", "No listeners match this parent ref")
		refused("clienttrafficpolicies", "broken-no-listener", "", "TargetNotFound", "No section name nautobot-postgres found for Gateway envoy-gateway/nautobot-passthrough")
		// The controller translates every policy in one pass: by the time it refused broken-no-listener, it had
		// read broken-no-gateway too, and it leaves a policy whose Gateway does not exist without any status.
		require.Nil(t, dig(e.object("clienttrafficpolicies", "envoy-gateway", "broken-no-gateway"), "status", "ancestors"),
			"Envoy Gateway writes no status on a policy whose target Gateway does not exist")

		brokenOut := map[string]any{"namespace": "doctor-broken", "caCertSecretName": "mtls-ca-cert", "dbFqdn": "nautobot-db.other.example.com"}
		r := run(brokenOut, "")
		requireCheck(t, r, "certificate orphan", doctor.Fail, "Ready=False")
		requireCheck(t, r, "ca.crt-only secret mtls-ca-cert", doctor.Fail, "holds a private key in tls.key")
		requireCheck(t, r, "CNPG cluster seed-default clientCASecret", doctor.Fail, "spec.certificates.clientCASecret is not set", "tlsv1 alert unknown ca")
		requireCheck(t, r, "CNPG cluster seed-default pg_hba", doctor.Fail, "lets TLS connections in with scram-sha-256, not a client certificate")
		requireCheck(t, r, "CNPG cluster seed-default role mapping", doctor.Fail, "no rule admits a client certificate")
		requireCheck(t, r, "CNPG cluster seed-default", doctor.Fail, `phase "Setting up primary", 0 of 1 instances ready`)
		requireCheck(t, r, "tlsroute doctor-broken/wrong-name", doctor.Fail,
			"Accepted=False (NotAllowedByListeners): No listeners included by this parent ref allowed this attachment.",
			"allowedRoutes admits TLSRoutes of gateway.routeNamespace only", "kubectl get tlsroute -n nautobot -o yaml", "SNI name")
		requireCheck(t, r, "tlsroute doctor-broken/no-listener", doctor.Fail,
			"Accepted=False (NoMatchingParent): No listeners match this parent ref",
			"its sectionName must be a listener's name", "kubectl get tlsroute -n nautobot -o yaml")
		requireCheck(t, r, "clienttrafficpolicy envoy-gateway/broken-no-listener", doctor.Fail,
			"Gateway envoy-gateway/nautobot-passthrough listener nautobot-postgres: Accepted=False (TargetNotFound)", "idle site connections are cut")
		requireCheck(t, r, "clienttrafficpolicy envoy-gateway/broken-no-gateway", doctor.Fail,
			"targets Gateway envoy-gateway/nautobot-passthru listener nautobot-db, which does not exist: Envoy Gateway ignores the policy (no status)", "gateway.name")
		requireCheck(t, r, "clienttrafficpolicy envoy-gateway/nautobot-db-client-traffic", doctor.Pass, "Accepted=True")
		requireCheck(t, r, "tlsroute for dbFqdn", doctor.Fail, "no TLSRoute has hostname nautobot-db.other.example.com", "SNI")
		require.Equal(t, 1, r.ExitCode())

		// The load balancer withdraws the Gateway's address.
		setLoadBalancer([]any{})
		e.waitFor(t, "Gateway nautobot-passthrough without an address", 2*time.Minute, func() (bool, any) {
			obj := e.object("gateways", "envoy-gateway", "nautobot-passthrough")
			p := condition(obj, "Programmed")
			return p != nil && p["reason"] == "AddressNotAssigned", dig(obj, "status")
		})
		r = run(out, "")
		requireCheck(t, r, "gateway envoy-gateway/nautobot-passthrough", doctor.Fail, "Programmed=False (AddressNotAssigned): No addresses have been assigned to the Gateway")
		requireCheck(t, r, "gateway envoy-gateway/nautobot-passthrough address", doctor.Fail, "status.addresses is empty", "gateway.address")
	})
}

// kubeletReportsRunning writes what a kubelet reports of a Pod whose containers all run and are ready.
func kubeletReportsRunning(t *testing.T, cl *doctor.Cluster, pod corev1.Pod, ip string) {
	t.Helper()
	now := time.Now().UTC().Format(time.RFC3339)
	var containers []any
	for _, c := range pod.Spec.Containers {
		containers = append(containers, map[string]any{"name": c.Name, "image": c.Image, "imageID": "", "ready": true, "started": true,
			"restartCount": 0, "state": map[string]any{"running": map[string]any{"startedAt": now}}})
	}
	body, err := json.Marshal(map[string]any{"status": map[string]any{
		"phase": "Running", "startTime": now, "podIP": ip, "podIPs": []any{map[string]any{"ip": ip}}, "containerStatuses": containers,
		"conditions": []any{map[string]any{"type": "Ready", "status": "True", "lastTransitionTime": now}, map[string]any{"type": "ContainersReady", "status": "True", "lastTransitionTime": now}},
	}})
	require.NoError(t, err)
	_, err = cl.Core.CoreV1().Pods(pod.Namespace).Patch(t.Context(), pod.Name, types.MergePatchType, body, metav1.PatchOptions{}, "status")
	require.NoError(t, err, "status of pod %s/%s", pod.Namespace, pod.Name)
}

// routeParent is the route's status entry for the Gateway listener section.
func routeParent(route map[string]any, section string) map[string]any {
	parents, _ := dig(route, "status", "parents").([]any)
	for _, p := range parents {
		m := p.(map[string]any)
		if dig(m, "parentRef", "sectionName") == section {
			return m
		}
	}
	return nil
}

// entryCondition is condition typ of a status entry with its own conditions (a route's parent, a policy's ancestor).
func entryCondition(entry map[string]any, typ string) map[string]any {
	return condition(map[string]any{"status": entry}, typ)
}

func conditionIn(entry map[string]any, typ, status string) bool {
	c := entryCondition(entry, typ)
	return c != nil && c["status"] == status
}

// doctorSite runs `doctor site` against a site stack's real objects: the secrets External Secrets synced,
// the worker Deployment and the Pods kube-controller-manager created for it. No kubelet runs here, so
// what a kubelet reports of a container is written through the Pod's status subresource.
func doctorSite(t *testing.T, e *env, site, ns string, bad map[string]map[string][]byte) {
	cl, err := doctor.ConnectCluster(e.kubeconfig, "")
	require.NoError(t, err)
	out := e.outputs(site)
	run := func(o doctor.SiteOptions) doctor.Report {
		o.Outputs, o.RenewBefore, o.LogLines = out, 720*time.Hour, 100
		if o.Now.IsZero() {
			o.Now = time.Now()
		}
		return doctor.Site(t.Context(), cl, o)
	}
	deployment := out["workerDeployment"].(string)
	var pod corev1.Pod
	require.Eventually(t, func() bool {
		d, err := cl.Core.AppsV1().Deployments(ns).Get(t.Context(), deployment, metav1.GetOptions{})
		if err != nil {
			return false
		}
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		require.NoError(t, err)
		pods, err := cl.Core.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil || len(pods.Items) == 0 {
			return false
		}
		pod = pods.Items[0]
		return true
	}, time.Minute, time.Second, "kube-controller-manager created no Pod for %s", deployment)

	t.Run("doctor site: the synced secrets pass, the unscheduled worker fails", func(t *testing.T) {
		r := run(doctor.SiteOptions{})
		for _, name := range []string{"nautobot-mtls-client", "nautobot-db", "nautobot-django"} {
			requireCheck(t, r, "externalsecret "+name, doctor.Pass, "Ready=True (SecretSynced)")
		}
		for _, name := range []string{"files present", "no carriage return in PEM", "ca.crt is the CA", "tls.crt chains to ca.crt", "CN is the site's identity", "client auth usage", "tls.key matches tls.crt", "validity"} {
			requireCheck(t, r, "secret nautobot-mtls-client: "+name, doctor.Pass)
		}
		requireCheck(t, r, "deployment "+deployment, doctor.Fail, "0 of 1 replicas available")
		requireCheck(t, r, "pod "+pod.Name, doctor.Fail, "no container has started")
	})

	setContainer := func(t *testing.T, ready bool, state, last map[string]any, restarts int) {
		t.Helper()
		now := time.Now().UTC().Format(time.RFC3339)
		readyStatus := map[bool]string{true: "True", false: "False"}[ready]
		status := map[string]any{
			"phase": "Running", "startTime": now,
			"conditions": []any{
				map[string]any{"type": "Ready", "status": readyStatus, "lastTransitionTime": now},
				map[string]any{"type": "ContainersReady", "status": readyStatus, "lastTransitionTime": now},
			},
			"containerStatuses": []any{map[string]any{
				"name": pod.Spec.Containers[0].Name, "image": pod.Spec.Containers[0].Image, "imageID": "", "ready": ready,
				"restartCount": restarts, "started": ready, "state": state, "lastState": last,
			}},
		}
		body, err := json.Marshal(map[string]any{"status": status})
		require.NoError(t, err)
		_, err = cl.Core.CoreV1().Pods(ns).Patch(t.Context(), pod.Name, types.MergePatchType, body, metav1.PatchOptions{}, "status")
		require.NoError(t, err)
	}

	container := "pod " + pod.Name + " container " + pod.Spec.Containers[0].Name
	crash := map[string]any{"terminated": map[string]any{"exitCode": 1, "reason": "Error", "message": "Traceback (most recent call last):\n  File \"/opt/nautobot/nautobot_config.py\", line 55, in _require_file\nFileNotFoundError: SSL certificate file required by NAUTOBOT_DB_SSLCERT not found: /etc/nautobot/mtls/tls.crt\n"}}
	running := map[string]any{"running": map[string]any{"startedAt": time.Now().UTC().Format(time.RFC3339)}}

	t.Run("doctor site: a worker crashing with the seed's FileNotFoundError", func(t *testing.T) {
		setContainer(t, false, map[string]any{"waiting": map[string]any{"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}}, crash, 3)
		r := run(doctor.SiteOptions{})
		requireCheck(t, r, container, doctor.Fail,
			"a certificate file is missing", "FileNotFoundError: SSL certificate file required by NAUTOBOT_DB_SSLCERT", "last termination message", "restarts 3", "kubectl get externalsecret")
	})

	t.Run("doctor site: the worker recovered, and the Deployment is available as kube-controller-manager computes it", func(t *testing.T) {
		// The kubelet keeps the crash as lastState until the next restart.
		setContainer(t, true, running, crash, 3)
		require.Eventually(t, func() bool {
			r := run(doctor.SiteOptions{})
			c, _ := r.Find("deployment " + deployment)
			return c.Status == doctor.Pass
		}, time.Minute, time.Second)
		r := run(doctor.SiteOptions{})
		requireCheck(t, r, "deployment "+deployment, doctor.Pass, "1 of 1 replicas available")
		requireCheck(t, r, container, doctor.Warn, "running and ready now; last crash: a certificate file is missing")
		require.Equal(t, 3, r.ExitCode())
	})

	t.Run("doctor site: a worker that never crashed passes every check, and the command says so", func(t *testing.T) {
		setContainer(t, true, running, map[string]any{}, 0)
		r := run(doctor.SiteOptions{})
		requireCheck(t, r, container, doctor.Pass, "running, ready, restarts 0")
		require.Equal(t, 0, r.ExitCode(), "%+v", r.Checks)
		report, code := e.doctorCommand(t, mustJSON(t, out), "site", "--kubeconfig", e.kubeconfig, "--outputs", "-", "--json")
		require.Equal(t, 0, code, "%+v", report)
	})

	t.Run("doctor site: the certificate judged after its renewal time and after its expiry", func(t *testing.T) {
		leaf := onlyCert(t, e.secret(ns, "nautobot-mtls-client")["tls.crt"])
		r := run(doctor.SiteOptions{Now: leaf.NotAfter.Add(-24 * time.Hour)})
		requireCheck(t, r, "secret nautobot-mtls-client: validity", doctor.Warn, "expires in 1 days, inside the 720h0m0s renewal window", "reaches this site's secrets provider item")
		require.Equal(t, 3, r.ExitCode())
		r = run(doctor.SiteOptions{Now: leaf.NotAfter.Add(time.Hour)})
		requireCheck(t, r, "secret nautobot-mtls-client: validity", doctor.Fail, "expired")
	})

	for name, data := range bad {
		_, err := cl.Core.CoreV1().Secrets(ns).Create(t.Context(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: data}, metav1.CreateOptions{})
		require.NoError(t, err, name)
	}
	t.Run("doctor site: doctor-crlf", func(t *testing.T) {
		r := run(doctor.SiteOptions{MTLSSecret: "doctor-crlf"})
		requireCheck(t, r, "secret doctor-crlf: no carriage return in PEM", doctor.Warn, "tls.crt, tls.key, ca.crt hold carriage returns", "filterPEM")
		requireCheck(t, r, "secret doctor-crlf: tls.crt chains to ca.crt", doctor.Pass)
	})
	for _, tc := range []struct{ secret, check, want string }{
		{"doctor-no-ca", "files present", "ca.crt missing or empty"},
		{"doctor-escaped", "no carriage return in PEM", "tls.crt hold escaped line breaks"},
		{"doctor-escaped", "tls.crt parses", "no PEM certificate found"},
		{"doctor-client-as-ca", "ca.crt is the CA", "ca.crt holds the client certificate itself (CN=" + nautobotpod.SiteIdentity(out["site"].(string)) + ")"},
		{"doctor-other-ca", "tls.crt chains to ca.crt", "certificate signed by unknown authority"},
		{"doctor-replication-cn", "CN is the site's identity", `CN="streaming_replica", want "` + nautobotpod.SiteIdentity(out["site"].(string)) + `"`},
		{"doctor-server-cert", "client auth usage", "has no client auth"},
		{"doctor-key-mismatch", "tls.key matches tls.crt", "private key does not match public key"},
	} {
		t.Run("doctor site: "+tc.secret+": "+tc.check, func(t *testing.T) {
			r := run(doctor.SiteOptions{MTLSSecret: tc.secret})
			requireCheck(t, r, "secret "+tc.secret+": "+tc.check, doctor.Fail, tc.want)
			require.Equal(t, 1, r.ExitCode())
		})
	}
	t.Run("doctor site: the site holds the certificate the global cluster issued, or a renewal has not reached it", func(t *testing.T) {
		r := run(doctor.SiteOptions{Global: cl})
		requireCheck(t, r, "secret nautobot-mtls-client: the latest issued certificate", doctor.Pass, "as on the global cluster")
		// Another certificate in the site's secret stands for the one a site kept after a renewal.
		r = run(doctor.SiteOptions{Global: cl, MTLSSecret: "doctor-other-ca"})
		requireCheck(t, r, "secret doctor-other-ca: the latest issued certificate", doctor.Warn, "the renewal has not reached the site's secrets provider")
	})
}

// badSiteSecrets are the seed's broken nautobot-mtls-client secrets, each made from certificates the local
// cert-manager issued: the site's own, the replication and server certificates of the same CA, and a client
// certificate of another CA of the same name (the RSA global stack's).
func badSiteSecrets(e *env, ns, otherGlobalNS, otherSite string) map[string]map[string][]byte {
	good := e.secret(ns, "nautobot-mtls-client")
	with := func(changes map[string][]byte) map[string][]byte {
		m := map[string][]byte{}
		for k, v := range good {
			m[k] = v
		}
		for k, v := range changes {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	crlf := func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")) }
	escaped := func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte(`\r\n`)) }
	replication := e.secret("nautobot", "nautobot-cluster-replication")
	server := e.secret("nautobot", "nautobot-cluster-server-tls")
	other := e.secret(otherGlobalNS, "nautobot-mtls-client-"+otherSite)
	otherKey := e.secret("nautobot", "nautobot-mtls-client")["tls.key"]
	return map[string]map[string][]byte{
		"doctor-no-ca":          with(map[string][]byte{"ca.crt": nil}),
		"doctor-crlf":           {"tls.crt": crlf(good["tls.crt"]), "tls.key": crlf(good["tls.key"]), "ca.crt": crlf(good["ca.crt"])},
		"doctor-escaped":        with(map[string][]byte{"tls.crt": escaped(good["tls.crt"])}),
		"doctor-client-as-ca":   with(map[string][]byte{"ca.crt": good["tls.crt"]}),
		"doctor-other-ca":       with(map[string][]byte{"tls.crt": other["tls.crt"], "tls.key": other["tls.key"]}),
		"doctor-replication-cn": with(map[string][]byte{"tls.crt": replication["tls.crt"], "tls.key": replication["tls.key"]}),
		"doctor-server-cert":    with(map[string][]byte{"tls.crt": server["tls.crt"], "tls.key": server["tls.key"]}),
		"doctor-key-mismatch":   with(map[string][]byte{"tls.key": otherKey}),
	}
}

type doctorJSON struct {
	Command  string         `json:"command"`
	Checks   []doctor.Check `json:"checks"`
	Passed   int            `json:"passed"`
	Warnings int            `json:"warnings"`
	Failed   int            `json:"failed"`
	ExitCode int            `json:"exitCode"`
}

// doctorCommand runs cmd/doctor as an operator does and returns its JSON report and exit code.
func (e *env) doctorCommand(t *testing.T, stdin []byte, args ...string) (doctorJSON, int) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "doctor")
	build := exec.Command("go", "build", "-o", bin, "./cmd/doctor")
	build.Dir = root
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else {
		require.NoError(t, err, stderr.String())
	}
	var report doctorJSON
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &report), "stdout %q stderr %q", stdout.String(), stderr.String())
	require.Equal(t, code, report.ExitCode)
	return report, code
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
