package doctor

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"nautobot-worker/internal/nautobotpod"
)

const (
	fixExternalSecret = "kubectl describe externalsecret <name>: the store must be Ready and every remote key and property must exist in the secrets provider (the site stack's secrets.* keys name them)"
	fixDeployment     = "kubectl -n <namespace> describe deployment and its pods: the worker's log says why (see the log checks below)"
	fixSNI            = "the connection ended right after the TLS ClientHello: the gateway found no route for the SNI name (the worker's nautobot.db.host / redis host must be gateway.dbFqdn / gateway.redisFqdn exactly), or PostgreSQL behind it is older than 17 and cannot take direct TLS (database.imageName 17+, database.directTls: true)"
)

// logDiagnoses are the seed's Troubleshooting entries, matched against a worker's log, most specific first.
var logDiagnoses = []struct {
	pattern, diagnosis, fix string
}{
	{"FileNotFoundError: SSL certificate file required", "a certificate file is missing from /etc/nautobot/mtls", fixMissingFile},
	{"certificate authentication failed for user", "PostgreSQL's role map does not list the certificate's CN for the user", fixCN},
	{"no pg_hba.conf entry", "PostgreSQL has no pg_hba rule for the connection", fixHBA},
	{"alert unknown ca", "the server does not trust the client certificate's CA", fixPostgresUnknownCA},
	{"ALERT_UNKNOWN_CA", "the server does not trust the client certificate's CA", fixPostgresUnknownCA},
	// Python's ssl says it after "certificate verify failed", libpq on its own.
	{"Hostname mismatch", "the server certificate does not name the host the worker connects to", fixServerName},
	{"does not match host name", "the server certificate does not name the host the worker connects to", fixServerName},
	{"certificate verify failed", "the client cannot verify the server with ca.crt", fixCAIsClient},
	{"CERTIFICATE_VERIFY_FAILED", "the client cannot verify the server with ca.crt", fixCAIsClient},
	{"certificate expired", "a certificate in the handshake has expired", fixExpired},
	{"certificate required", "the server requires a client certificate and got none", fixNoClientCert},
	{"[SSL] PEM lib", "OpenSSL cannot read a PEM file (carriage returns, escaped line breaks, or key and certificate swapped)", fixCarriageReturn + "; " + fixKeyMatch},
	{"SSL SYSCALL error: EOF detected", "the gateway closed the connection after the ClientHello", fixSNI},
	{"write failed: EOF", "the gateway closed the connection after the ClientHello", fixSNI},
	{"has been closed (EOF)", "the gateway closed the connection after the ClientHello", fixSNI},
}

// DiagnoseLog returns the first of the seed's known errors found in a log, and the line it is on.
func DiagnoseLog(log string) (line, diagnosis, fix string, found bool) {
	for _, d := range logDiagnoses {
		if i := strings.Index(log, d.pattern); i >= 0 {
			start := strings.LastIndexByte(log[:i], '\n') + 1
			end := strings.IndexByte(log[i:], '\n')
			if end < 0 {
				end = len(log) - i
			}
			return strings.TrimSpace(log[start : i+end]), d.diagnosis, d.fix, true
		}
	}
	return "", "", "", false
}

// SiteOptions say where a site stack's objects are.
type SiteOptions struct {
	// Outputs of the site stack (`pulumi stack output --json -s site-<name>`).
	Outputs Outputs
	// Namespace, MTLSSecret and Deployment override the outputs (defaults: nautobot, nautobot-mtls-client,
	// the only Deployment of the namespace).
	Namespace, MTLSSecret, Deployment string
	// Identity is the common name the site's client certificate must carry (default: site-<the outputs' site>).
	Identity string
	// RenewBefore is the client certificates' renewal window.
	RenewBefore time.Duration
	// Global, when set, is the global cluster: the site's certificate is compared with the one issued
	// there (the outputs' clientCertSource), which tells a renewal that has not reached the site.
	Global *Cluster
	// LogLines is how much of each container's log to read.
	LogLines int64
	Now      time.Time
}

// Site checks what a site stack deployed: its ExternalSecrets synced, the mTLS secret's material, the
// worker Deployment available, and its pods' logs against the seed's table of errors.
func Site(ctx context.Context, c *Cluster, o SiteOptions) Report {
	r := Report{Command: "site"}
	ns := first(o.Namespace, o.Outputs.String("namespace", ""), "nautobot")
	secrets := o.Outputs.Map("secrets")
	secretName := first(o.MTLSSecret, str(secrets["mtlsClient"]), "nautobot-mtls-client")
	if len(o.Outputs) == 0 {
		r.Warn("stack outputs", "pass --outputs with the JSON of `pulumi stack output --json -s site-<name>`", "none given: namespace %s, secret %s", ns, secretName)
	}

	if hidden := o.Outputs.Hidden("namespace", "secrets", "workerDeployment"); len(hidden) > 0 {
		r.Warn("stack outputs", fixHiddenOutputs, "%s shown as [secret]: the defaults stand in for them", strings.Join(hidden, ", "))
	}
	checkExternalSecrets(ctx, c, ns, &r)

	s, err := c.Core.CoreV1().Secrets(ns).Get(ctx, secretName, getOptions)
	switch {
	case notFound(err):
		r.Fail("secret "+secretName, fixMissingFile, "not found in %s: the worker exits with FileNotFoundError", ns)
	case err != nil:
		r.Fail("secret "+secretName, fixMissingFile, "%v", err)
	default:
		if s.Type != corev1.SecretTypeTLS {
			r.Warn("secret "+secretName+" type", "the ExternalSecret's target template should set type kubernetes.io/tls", "type %s", s.Type)
		}
		r.Merge("secret "+secretName, CheckMaterial(Material(s.Data), MaterialOptions{Identity: o.identity(), RenewBefore: o.RenewBefore, Now: o.Now}))
		if o.Global != nil {
			checkIssuedCopy(ctx, o.Global, o.Outputs.Map("clientCertSource"), s.Data[nautobotpod.CertFile], "secret "+secretName+": the latest issued certificate", &r)
		}
	}

	checkWorker(ctx, c, ns, first(o.Deployment, o.Outputs.String("workerDeployment", "")), o.LogLines, &r)
	return r
}

// checkIssuedCopy compares the certificate a site holds with the one the global cluster issued for it
// (source: the site outputs' clientCertSource, {namespace, secret}): after a renewal the global secret holds
// a newer certificate until the push, or the hand copy, brings it to the site's secrets provider and
// External Secrets syncs it.
func checkIssuedCopy(ctx context.Context, global *Cluster, source map[string]any, siteCert []byte, check string, r *Report) {
	ns, name := str(source["namespace"]), str(source["secret"])
	if ns == "" || name == "" {
		r.Warn(check, "pass --outputs with the site stack's outputs (clientCertSource, shown with --show-secrets)", "the site's outputs do not say which global secret issued its certificate")
		return
	}
	issuedSecret, err := global.Core.CoreV1().Secrets(ns).Get(ctx, name, getOptions)
	if err != nil {
		r.Warn(check, "the --global-kubeconfig user must be able to get the site's issued secret", "global secret %s/%s: %v", ns, name, err)
		return
	}
	held, heldErr := certificates(siteCert)
	issued, issuedErr := certificates(issuedSecret.Data[nautobotpod.CertFile])
	if heldErr != nil || issuedErr != nil {
		r.Warn(check, fixRenewal, "cannot compare: site %v, global %v", heldErr, issuedErr)
		return
	}
	if problem := copyLag(held[0], issued[0]); problem != "" {
		r.Warn(check, fixRenewal, "%s", problem)
		return
	}
	r.Pass(check, "serial %s, issued %s, as on the global cluster", held[0].SerialNumber.Text(16), held[0].NotBefore.UTC().Format(time.DateOnly))
}

// copyLag says how the certificate a site holds differs from the one issued for it, or "" when they are one.
func copyLag(held, issued *x509.Certificate) string {
	if bytes.Equal(held.Raw, issued.Raw) {
		return ""
	}
	return fmt.Sprintf("the site holds serial %s issued %s; the global cluster issued serial %s on %s: the renewal has not reached the site's secrets provider (distribution: the site's PushSecret; by hand: copy it)",
		held.SerialNumber.Text(16), held.NotBefore.UTC().Format(time.DateOnly), issued.SerialNumber.Text(16), issued.NotBefore.UTC().Format(time.DateOnly))
}

// identity is the common name the site's certificate carries: the option, else the one of the site its
// outputs name, else "" (not checked).
func (o SiteOptions) identity() string {
	if o.Identity != "" {
		return o.Identity
	}
	if site := o.Outputs.String("site", ""); site != "" {
		return nautobotpod.SiteIdentity(site)
	}
	return ""
}

func first(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

func checkExternalSecrets(ctx context.Context, c *Cluster, ns string, r *Report) {
	list, err := c.list(ctx, externalSecretRes, ns)
	if err != nil {
		r.Fail("externalsecrets", "install External Secrets on the site cluster (its CRDs are missing or unreadable)", "%v", err)
		return
	}
	if len(list) == 0 {
		r.Fail("externalsecrets", "run `pulumi up` of the site stack", "no ExternalSecret in namespace %s", ns)
		return
	}
	sort.Slice(list, func(i, j int) bool { return list[i].GetName() < list[j].GetName() })
	for _, es := range list {
		name := "externalsecret " + es.GetName()
		cond, ok := conditionOf(es.Object, "Ready")
		switch {
		case !ok:
			r.Fail(name, fixExternalSecrets, "no Ready condition: the External Secrets controller has not reconciled it")
		case cond.Status != "True" || cond.Reason != "SecretSynced":
			r.Fail(name, fixExternalSecret, "%s", cond)
		default:
			r.Pass(name, "%s", cond)
		}
	}
}

func checkWorker(ctx context.Context, c *Cluster, ns, name string, logLines int64, r *Report) {
	if name == "" {
		list, err := c.Core.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(list.Items) != 1 {
			r.Fail("worker deployment", "pass --deployment or --outputs", "cannot tell which Deployment of %s is the worker (%d found, %v)", ns, len(list.Items), err)
			return
		}
		name = list.Items[0].Name
	}
	check := "deployment " + name
	d, err := c.Core.AppsV1().Deployments(ns).Get(ctx, name, getOptions)
	if err != nil {
		r.Fail(check, "run `pulumi up` of the site stack", "%v", err)
		return
	}
	available := ""
	for _, cond := range d.Status.Conditions {
		if cond.Type == "Available" {
			available = fmt.Sprintf("Available=%s (%s): %s", cond.Status, cond.Reason, cond.Message)
		}
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	switch {
	case d.Status.ObservedGeneration == 0 && available == "":
		r.Fail(check, "the kube-controller-manager has not reconciled the Deployment", "no status")
	case d.Status.AvailableReplicas < want:
		detail := fmt.Sprintf("%d of %d replicas available", d.Status.AvailableReplicas, want)
		if available != "" {
			detail += "; " + available
		}
		r.Fail(check, fixDeployment, "%s", detail)
	default:
		r.Pass(check, "%d of %d replicas available", d.Status.AvailableReplicas, want)
	}

	selector, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		r.Fail(check+" pods", fixDeployment, "selector: %v", err)
		return
	}
	pods, err := c.Core.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		r.Fail(check+" pods", fixDeployment, "%v", err)
		return
	}
	if len(pods.Items) == 0 {
		r.Fail(check+" pods", fixDeployment, "no pod matches %s", labels.Set(d.Spec.Selector.MatchLabels))
		return
	}
	for _, pod := range pods.Items {
		for _, cs := range pod.Status.ContainerStatuses {
			checkContainer(ctx, c, pod, cs, logLines, r)
		}
		if len(pod.Status.ContainerStatuses) == 0 {
			r.Fail("pod "+pod.Name, fixDeployment, "phase %s, no container has started", pod.Status.Phase)
		}
	}
}

// checkContainer matches what the container said last (its previous run's log, else its current log, else
// the termination message the kubelet kept) against the seed's errors.
func checkContainer(ctx context.Context, c *Cluster, pod corev1.Pod, cs corev1.ContainerStatus, logLines int64, r *Report) {
	name := fmt.Sprintf("pod %s container %s", pod.Name, cs.Name)
	var sources []string
	var texts []string
	for _, previous := range []bool{false, true} {
		raw, err := c.Core.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{Container: cs.Name, Previous: previous, TailLines: &logLines}).DoRaw(ctx)
		if err == nil && len(raw) > 0 {
			texts = append(texts, string(raw))
			sources = append(sources, map[bool]string{true: "previous log", false: "log"}[previous])
		}
	}
	if t := cs.LastTerminationState.Terminated; t != nil && t.Message != "" {
		texts = append(texts, t.Message)
		sources = append(sources, "last termination message")
	}
	if w := cs.State.Waiting; w != nil && w.Message != "" {
		texts = append(texts, w.Message)
		sources = append(sources, "waiting message")
	}
	running := cs.Ready && cs.State.Running != nil
	for i, text := range texts {
		if line, diagnosis, fix, ok := DiagnoseLog(text); ok {
			// A kubelet keeps the last run's log and termination until the next restart: a ready container
			// whose error is only there has recovered from it.
			if running && sources[i] != "log" {
				r.Warn(name, fix, "running and ready now; last crash: %s: %s (%s, restarts %d)", diagnosis, line, sources[i], cs.RestartCount)
			} else {
				r.Fail(name, fix, "%s: %s (%s, restarts %d)", diagnosis, line, sources[i], cs.RestartCount)
			}
			return
		}
	}
	state := "running"
	switch {
	case cs.State.Waiting != nil:
		state = "waiting: " + cs.State.Waiting.Reason
	case cs.State.Terminated != nil:
		state = "terminated: " + cs.State.Terminated.Reason
	}
	switch {
	case len(texts) == 0 && !cs.Ready:
		r.Warn(name, "read the log with kubectl logs --previous; the API server could not return it", "%s, not ready, restarts %d, no log readable", state, cs.RestartCount)
	case !cs.Ready:
		r.Warn(name, fixDeployment, "%s, not ready, restarts %d; no known error in its %s", state, cs.RestartCount, strings.Join(sources, ", "))
	default:
		r.Pass(name, "%s, ready, restarts %d; no known error in its %s", state, cs.RestartCount, strings.Join(append(sources, "status"), ", "))
	}
}
