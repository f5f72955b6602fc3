package doctor

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

const (
	fixCRD              = "install the controller's CRDs before `pulumi up -s global` (cert-manager, CloudNativePG, External Secrets, Gateway API with TLSRoute, Envoy Gateway)"
	fixCertManager      = "cert-manager is not reconciling: check its controller is running (kubectl -n cert-manager get pods) and its logs"
	fixExternalSecrets  = "External Secrets is not reconciling the global stack's store and ExternalSecret (which write the ca.crt-only secret): install the External Secrets controller, or check its logs"
	fixCertificateReady = "kubectl describe certificate <name>: read the condition's message and the CertificateRequest's events (the CA Issuer must be Ready first)"
	fixCAPublic         = "the ca.crt-only secret (authority.caPublicSecret) is written from the CA key pair by the stack's ExternalSecret, or with authority.namespace apart by its PushSecret beside the CA: check `kubectl get externalsecret mtls-ca-cert` (or `kubectl -n <authority.namespace> get pushsecret mtls-ca-cert`) and that it holds ca.crt only"
	fixClientCA         = "clientCASecret is required for client cert verification: without it CNPG uses its own replication CA as ssl_ca_file and clients get `tlsv1 alert unknown ca`; set spec.certificates.clientCASecret (and replicationTLSSecret, so CNPG needs no ca.key)"
	fixPgHBA            = "pg_hba must be cert-only for TLS and reject plaintext, as the global stack writes it: `pulumi up -s global`"
	fixRoleMap          = "every certificate rule must map common names to the application role (cert map=nautobot) and the map must list exactly the identities the global stack declares (its databaseIdentities output): `pulumi up -s global` restores both"
	fixCNPG             = "kubectl describe cluster.postgresql.cnpg.io <name> and the operator's logs: the cluster must reach `Cluster in healthy state`"
	fixGatewayClass     = "Envoy Gateway must accept the GatewayClass (spec.controllerName gateway.envoyproxy.io/gatewayclass-controller): install Envoy Gateway or fix gateway.className"
	fixGateway          = "kubectl get gateway -n envoy-gateway -o yaml: the listeners must be Programmed (Envoy Gateway running, ports free, TLS mode Passthrough)"
	fixRoute            = "kubectl get tlsroute -n nautobot -o yaml: the route must be Accepted by its Gateway listener and its backend Service must resolve; verify the route's hostname is the SNI name the sites connect to (gateway.dbFqdn / gateway.redisFqdn)"
	fixRouteVersion     = "install the Gateway API CRDs your Envoy Gateway release installs (v1.9: Gateway API v1.6, which serves TLSRoute gateway.networking.k8s.io/v1); Envoy Gateway logs `TLSRoute CRD not found, skipping TLSRoute watch` and ignores every TLSRoute when its version is not served. The stack writes gateway.tlsRouteApiVersion, which must be served too"
	fixPolicy           = "kubectl get clienttrafficpolicy -n envoy-gateway -o yaml: each keepalive policy must target the stack's Gateway (gateway.name) and one of its listeners (sectionName, the route's name) and be Accepted by Envoy Gateway, or idle site connections are cut; `pulumi up -s global` restores the stack's policies"
	fixHiddenOutputs    = "run `pulumi stack output --json --show-secrets` so the doctor sees every output"
	fixAddress          = "the Gateway has no address yet, so the firewall request names none: wait for Envoy Gateway to assign one, or set gateway.address, then `pulumi up --refresh -s global` so firewallRules names it"
)

// requiredCRDs are the kinds the global stack creates, by the controller that serves them.
var requiredCRDs = []struct{ name, controller string }{
	{"certificates.cert-manager.io", "cert-manager"},
	{"issuers.cert-manager.io", "cert-manager"},
	{"clusters.postgresql.cnpg.io", "CloudNativePG"},
	{"externalsecrets.external-secrets.io", "External Secrets"},
	{"secretstores.external-secrets.io", "External Secrets"},
	{"gateways.gateway.networking.k8s.io", "Gateway API"},
	{"tlsroutes.gateway.networking.k8s.io", "Gateway API"},
	{"clienttrafficpolicies.gateway.envoyproxy.io", "Envoy Gateway"},
}

// GlobalOptions say where the global stack's objects are.
type GlobalOptions struct {
	// Outputs of the global stack (`pulumi stack output --json -s global`); without them the defaults apply
	// and the checks that need an output say so.
	Outputs Outputs
	// Namespace overrides the outputs' namespace (default nautobot).
	Namespace string
	Now       time.Time
}

// Global checks what the global stack deployed, as the controllers report it.
func Global(ctx context.Context, c *Cluster, o GlobalOptions) Report {
	r := Report{Command: "global"}
	ns := o.Namespace
	if ns == "" {
		ns = o.Outputs.String("namespace", "nautobot")
	}
	if len(o.Outputs) == 0 {
		r.Warn("stack outputs", "pass --outputs with the JSON of `pulumi stack output --json -s global`", "none given: namespace %s, FQDNs and firewall rules not checked against the stack", ns)
	}

	if hidden := o.Outputs.Hidden("namespace", "caNamespace", "caCertSecretName", "caSource", "dbFqdn", "redisFqdn", "firewallRules"); len(hidden) > 0 {
		r.Warn("stack outputs", fixHiddenOutputs, "%s shown as [secret]: the defaults stand in for them", strings.Join(hidden, ", "))
	}
	// A pulumi-tls root writes the public CA secret itself: External Secrets is needed on the global
	// cluster only for a cert-manager root (or a stack too old to say) and for the push to the sites.
	caSource := o.Outputs.String("caSource", "")
	_, pushes := o.Outputs["pushedRemoteKeys"]
	externalSecrets := caSource != "pulumi-tls" || pushes

	missing := map[string]bool{}
	for _, crd := range requiredCRDs {
		if crd.controller == "External Secrets" && !externalSecrets {
			continue
		}
		_, err := c.get(ctx, crdResource, "", crd.name)
		switch {
		case err == nil:
			r.Pass("CRD "+crd.name, "installed (%s)", crd.controller)
		case notFound(err):
			missing[crd.name] = true
			r.Fail("CRD "+crd.name, fixCRD, "not installed: %s is missing", crd.controller)
		default:
			r.Fail("CRD "+crd.name, "the kubeconfig's user must be able to read customresourcedefinitions", "%v", err)
		}
	}

	// The CA, its Issuer and the Certificates it signs are in authority.namespace (older stacks: namespace).
	caNs := o.Outputs.String("caNamespace", ns)
	if !missing["issuers.cert-manager.io"] {
		checkIssuers(ctx, c, caNs, &r)
		checkCAReach(ctx, c, ns, caNs, &r)
	}
	if !missing["certificates.cert-manager.io"] {
		checkCertificates(ctx, c, caNs, o.Now, &r)
	}
	checkCAPublic(ctx, c, ns, caNs, o.Outputs.String("caCertSecretName", "mtls-ca-cert"), caSource, externalSecrets && !missing["externalsecrets.external-secrets.io"], &r)
	if !missing["clusters.postgresql.cnpg.io"] {
		checkCNPG(ctx, c, ns, o.Outputs.String("caCertSecretName", "mtls-ca-cert"), o.Outputs.Strings("databaseIdentities"), &r)
	}
	if !missing["tlsroutes.gateway.networking.k8s.io"] && !missing["gateways.gateway.networking.k8s.io"] {
		checkGateway(ctx, c, ns, o.Outputs, &r)
	}
	return r
}

// checkIssuers: every Issuer Ready, which is also the proof that cert-manager's controller runs (nothing
// else writes an Issuer's status).
func checkIssuers(ctx context.Context, c *Cluster, ns string, r *Report) {
	issuers, err := c.list(ctx, issuerResource, ns)
	if err != nil {
		r.Fail("cert-manager issuers", fixCertManager, "listing issuers in %s: %v", ns, err)
		return
	}
	if len(issuers) == 0 {
		r.Fail("cert-manager issuers", "run `pulumi up -s global`", "no Issuer in namespace %s", ns)
		return
	}
	reconciled := 0
	for _, is := range issuers {
		cond, ok := conditionOf(is.Object, "Ready")
		name := "issuer " + is.GetName()
		switch {
		case !ok:
			r.Fail(name, fixCertManager, "no Ready condition: cert-manager has not reconciled it")
			continue
		case cond.Status != "True":
			r.Fail(name, fixCertificateReady, "%s", cond)
		default:
			r.Pass(name, "%s", cond)
		}
		reconciled++
	}
	if reconciled > 0 {
		r.Pass("controller cert-manager", "reconciles (%d of %d issuers have a Ready condition)", reconciled, len(issuers))
	} else {
		r.Fail("controller cert-manager", fixCertManager, "none of %d issuers has a Ready condition", len(issuers))
	}
}

// checkCertificates: every Certificate Ready, with days to expiry and to its renewal.
func checkCertificates(ctx context.Context, c *Cluster, ns string, now time.Time, r *Report) {
	certs, err := c.list(ctx, certificateResource, ns)
	if err != nil {
		r.Fail("certificates", fixCertManager, "listing certificates in %s: %v", ns, err)
		return
	}
	if len(certs) == 0 {
		r.Fail("certificates", "run `pulumi up -s global`", "no Certificate in namespace %s", ns)
		return
	}
	sort.Slice(certs, func(i, j int) bool { return certs[i].GetName() < certs[j].GetName() })
	for _, cert := range certs {
		name := "certificate " + cert.GetName()
		cond, ok := conditionOf(cert.Object, "Ready")
		if !ok || cond.Status != "True" {
			detail := "no Ready condition: cert-manager has not issued it"
			if ok {
				detail = cond.String()
			}
			r.Fail(name, fixCertificateReady, "%s", detail)
			continue
		}
		notAfter, errA := timeField(cert.Object, "status", "notAfter")
		renewal, errR := timeField(cert.Object, "status", "renewalTime")
		switch {
		case errA != nil:
			r.Warn(name, fixCertificateReady, "Ready, but status.notAfter unreadable: %v", errA)
		case !notAfter.After(now):
			r.Fail(name, fixExpired, "Ready, but expired %s", notAfter.Format(time.RFC3339))
		case errR == nil && !renewal.After(now):
			r.Warn(name, fixCertificateReady, "expires in %s, renewal was due %s and has not happened", days(notAfter.Sub(now)), renewal.Format(time.RFC3339))
		case errR == nil:
			r.Pass(name, "Ready; expires in %s, renews in %s", days(notAfter.Sub(now)), days(renewal.Sub(now)))
		default:
			r.Pass(name, "Ready; expires in %s", days(notAfter.Sub(now)))
		}
	}
}

func timeField(obj map[string]any, path ...string) (time.Time, error) {
	s, ok, _ := unstructured.NestedString(obj, path...)
	if !ok {
		return time.Time{}, fmt.Errorf("%s not set", strings.Join(path, "."))
	}
	return time.Parse(time.RFC3339, s)
}

// checkCAPublic: the secret CNPG and the sites read the CA from holds ca.crt, a CA, and no key; when an
// ExternalSecret writes it (or, from a CA namespace of its own, a PushSecret), that object is synced (the
// proof External Secrets runs).
func checkCAPublic(ctx context.Context, c *Cluster, ns, caNs, name, caSource string, externalSecretsCRD bool, r *Report) {
	check := "ca.crt-only secret " + name
	if externalSecretsCRD && caNs != ns && caSource == "cert-manager" {
		checkPushedCAPublic(ctx, c, caNs, name, r)
	} else if externalSecretsCRD {
		es, err := c.get(ctx, externalSecretRes, ns, name)
		switch {
		case err == nil:
			if cond, ok := conditionOf(es.Object, "Ready"); !ok {
				r.Fail("controller External Secrets", fixExternalSecrets, "ExternalSecret %s has no Ready condition", name)
			} else if cond.Status != "True" {
				r.Pass("controller External Secrets", "reconciles ExternalSecret %s", name)
				r.Fail("externalsecret "+name, fixCAPublic, "%s", cond)
			} else {
				r.Pass("controller External Secrets", "reconciles ExternalSecret %s", name)
				r.Pass("externalsecret "+name, "%s", cond)
			}
		case notFound(err) && caSource == "cert-manager":
			r.Fail("externalsecret "+name, fixCAPublic, "not found: with a cert-manager root the stack's ExternalSecret writes the ca.crt-only secret")
		case notFound(err):
			r.Warn("externalsecret "+name, "pass --outputs so the doctor knows the stack's caSource", "not found: right for a pulumi-tls root (the stack writes the secret), wrong for a cert-manager root")
		default:
			r.Fail("externalsecret "+name, fixCAPublic, "%v", err)
		}
	}
	s, err := c.Core.CoreV1().Secrets(ns).Get(ctx, name, getOptions)
	if err != nil {
		r.Fail(check, fixCAPublic, "%v", err)
		return
	}
	var keys []string
	for k := range s.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var withKey []string
	for k, v := range s.Data {
		if strings.Contains(string(v), "PRIVATE KEY") || k == "tls.key" {
			withKey = append(withKey, k)
		}
	}
	cas, caErr := certificates(s.Data["ca.crt"])
	switch {
	case len(withKey) > 0:
		r.Fail(check, fixCAPublic, "holds a private key in %s: it must hold the CA certificate only", strings.Join(withKey, ", "))
	case !slices.Equal(keys, []string{"ca.crt"}):
		r.Fail(check, fixCAPublic, "keys %v: want ca.crt only", keys)
	case caErr != nil:
		r.Fail(check, fixCAPublic, "ca.crt: %v", caErr)
	case !cas[0].IsCA:
		r.Fail(check, fixCAIsClient, "ca.crt is not a CA certificate (CN=%s)", cas[0].Subject.CommonName)
	default:
		r.Pass(check, "ca.crt only, CN=%s, no key", cas[0].Subject.CommonName)
	}
}

// checkPushedCAPublic: the PushSecret beside the CA that pushes ca.crt into the application namespace is
// synced.
func checkPushedCAPublic(ctx context.Context, c *Cluster, caNs, name string, r *Report) {
	ps, err := c.get(ctx, pushSecretResource, caNs, name)
	if err != nil {
		r.Fail("pushsecret "+caNs+"/"+name, fixCAPublic, "%v", err)
		return
	}
	cond, ok := conditionOf(ps.Object, "Ready")
	switch {
	case !ok:
		r.Fail("controller External Secrets", fixExternalSecrets, "PushSecret %s/%s has no Ready condition", caNs, name)
	case cond.Status != "True":
		r.Pass("controller External Secrets", "reconciles PushSecret %s/%s", caNs, name)
		r.Fail("pushsecret "+caNs+"/"+name, fixCAPublic, "%s", cond)
	default:
		r.Pass("controller External Secrets", "reconciles PushSecret %s/%s", caNs, name)
		r.Pass("pushsecret "+caNs+"/"+name, "%s", cond)
	}
}

// checkCNPG: each Cluster healthy, and the TLS fields the seed's first gotcha is about.
func checkCNPG(ctx context.Context, c *Cluster, ns, caSecret string, identities []string, r *Report) {
	clusters, err := c.list(ctx, cnpgClusterResource, ns)
	if err != nil {
		r.Fail("CNPG clusters", fixCNPG, "%v", err)
		return
	}
	if len(clusters) == 0 {
		r.Fail("CNPG clusters", "run `pulumi up -s global`", "no CNPG Cluster in namespace %s", ns)
		return
	}
	for _, cl := range clusters {
		name := "CNPG cluster " + cl.GetName()
		certs := map[string]string{}
		for _, field := range []string{"clientCASecret", "replicationTLSSecret", "serverTLSSecret"} {
			certs[field], _, _ = unstructured.NestedString(cl.Object, "spec", "certificates", field)
		}
		switch {
		case certs["clientCASecret"] == "":
			r.Fail(name+" clientCASecret", fixClientCA, "spec.certificates.clientCASecret is not set")
		case certs["clientCASecret"] != caSecret:
			r.Fail(name+" clientCASecret", fixClientCA, "clientCASecret %q is not the mTLS CA secret %q", certs["clientCASecret"], caSecret)
		case certs["replicationTLSSecret"] == "":
			r.Fail(name+" clientCASecret", fixClientCA, "clientCASecret set without replicationTLSSecret: CNPG would need ca.key in %s", caSecret)
		default:
			r.Pass(name+" clientCASecret", "clientCASecret %s, replicationTLSSecret %s, serverTLSSecret %s", certs["clientCASecret"], certs["replicationTLSSecret"], certs["serverTLSSecret"])
		}
		hba, _, _ := unstructured.NestedStringSlice(cl.Object, "spec", "postgresql", "pg_hba")
		if rule := certOnly(hba); rule != "" {
			r.Fail(name+" pg_hba", fixPgHBA, "%s", rule)
		} else {
			r.Pass(name+" pg_hba", "%s", strings.Join(hba, "; "))
		}
		ident, _, _ := unstructured.NestedStringSlice(cl.Object, "spec", "postgresql", "pg_ident")
		switch problem := roleMapping(hba, ident, identities); {
		case problem != "":
			r.Fail(name+" role mapping", fixRoleMap, "%s", problem)
		case identities == nil:
			r.Warn(name+" role mapping", "pass --outputs with the global stack's outputs (databaseIdentities)", "certificate rules map through pg_ident; the identities are not checked against the stack: %s", strings.Join(ident, "; "))
		default:
			r.Pass(name+" role mapping", "only %s log in, as the application role", strings.Join(identities, ", "))
		}
		phase, _, _ := unstructured.NestedString(cl.Object, "status", "phase")
		ready, _, _ := unstructured.NestedInt64(cl.Object, "status", "readyInstances")
		instances, _, _ := unstructured.NestedInt64(cl.Object, "spec", "instances")
		switch {
		case phase == "":
			r.Fail(name, "install the CloudNativePG operator (nothing has written the Cluster's status); "+fixCNPG, "no status: the CloudNativePG operator has not reconciled it")
		case phase != "Cluster in healthy state":
			r.Fail(name, fixCNPG, "phase %q, %d of %d instances ready", phase, ready, instances)
		default:
			r.Pass(name, "%s, %d of %d instances ready", phase, ready, instances)
		}
	}
}

// cnpgCatchAll is the rule CloudNativePG appends after the user's pg_hba rules: whatever they leave
// unmatched can log in with a password.
const cnpgCatchAll = "host all all all scram-sha-256"

// certOnly follows a TLS connection and a plaintext one (any user, database and source) through the rules
// and CNPG's catch-all, and names the first way either gets in without a client certificate, or "" when
// every TLS connection meets a cert rule and every plaintext one a reject, before the catch-all.
func certOnly(hba []string) string {
	for _, class := range []struct{ name, types string }{{"TLS", "host hostssl hostnogssenc"}, {"plaintext", "host hostnossl hostnogssenc"}} {
		closed := false
		for _, line := range hba {
			f := strings.Fields(line)
			if len(f) < 4 || strings.HasPrefix(f[0], "#") || !slices.Contains(strings.Fields(class.types), f[0]) {
				continue
			}
			method := ""
			for _, w := range f[3:] {
				if hbaMethods[w] {
					method = w
					break
				}
			}
			if method != "cert" && method != "reject" {
				return fmt.Sprintf("%q lets %s connections in with %s, not a client certificate", line, class.name, method)
			}
			// A rule for every user, database and source closes the class; a narrower one (0.0.0.0/0 leaves
			// IPv6 out, a named user leaves the others) lets the rest fall through.
			if f[1] == "all" && f[2] == "all" && f[3] == "all" {
				closed = true
				break
			}
		}
		if !closed {
			return fmt.Sprintf("no rule for every user, database and source ends %s connections in cert or reject, so the ones the rules leave (IPv6 under 0.0.0.0/0, other users) reach CNPG's %q", class.name, cnpgCatchAll)
		}
	}
	return ""
}

// roleMapping names the first way a certificate gets in as a role of its own choosing, or "" when every
// certificate rule maps common names through pg_ident and, when the stack's identities are known, each
// rule's map lists exactly those. Under plain `cert` the common name is the role: a CA-signed certificate
// with CN postgres logs in as the superuser.
func roleMapping(hba, ident, identities []string) string {
	maps := map[string][]string{}
	for _, line := range ident {
		if f := strings.Fields(line); len(f) == 3 && !strings.HasPrefix(f[0], "#") {
			maps[f[0]] = append(maps[f[0]], f[1])
		}
	}
	mapped := false
	for _, line := range hba {
		f := strings.Fields(line)
		if len(f) < 5 || strings.HasPrefix(f[0], "#") || !slices.Contains(f[3:], "cert") {
			continue
		}
		mapped = true
		name := ""
		for _, opt := range f[4:] {
			if v, ok := strings.CutPrefix(opt, "map="); ok {
				name = v
			}
		}
		if name == "" {
			return fmt.Sprintf("%q maps no common name: a certificate's CN is its role, so a CA-signed CN postgres logs in as the superuser", line)
		}
		got := slices.Sorted(slices.Values(maps[name]))
		if identities != nil && !slices.Equal(got, slices.Sorted(slices.Values(identities))) {
			return fmt.Sprintf("map %s lists %v, the stack declares %v", name, got, slices.Sorted(slices.Values(identities)))
		}
	}
	if !mapped {
		return "no rule admits a client certificate"
	}
	return ""
}

var hbaMethods = map[string]bool{"trust": true, "reject": true, "scram-sha-256": true, "md5": true, "password": true,
	"gss": true, "sspi": true, "ident": true, "peer": true, "pam": true, "ldap": true, "radius": true, "cert": true}

// checkGateway: the TLSRoute CRD serving the version Envoy Gateway watches, the TLSRoutes for the stack's FQDNs
// Accepted and resolved, their Gateway Programmed with an address, its class accepted by Envoy Gateway, the
// firewall request naming that address, and the keepalive policies of those Gateways accepted.
func checkGateway(ctx context.Context, c *Cluster, ns string, out Outputs, r *Report) {
	version, watched := tlsRouteVersion(ctx, c, r)
	if version == "" {
		return
	}
	routes, err := c.list(ctx, schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: version, Resource: "tlsroutes"}, "")
	if err != nil {
		r.Fail("TLSRoutes", fixRoute, "%v", err)
		return
	}
	wanted := map[string]string{}
	for _, k := range []string{"dbFqdn", "redisFqdn"} {
		if h := out.String(k, ""); h != "" {
			wanted[h] = k
		}
	}
	gateways := map[[2]string]bool{}
	seen := map[string]bool{}
	for _, route := range routes {
		hosts, _, _ := unstructured.NestedStringSlice(route.Object, "spec", "hostnames")
		ours := route.GetNamespace() == ns
		for _, h := range hosts {
			if wanted[h] != "" {
				ours = true
				seen[h] = true
			}
		}
		if !ours {
			continue
		}
		name := fmt.Sprintf("tlsroute %s/%s", route.GetNamespace(), route.GetName())
		parents, _, _ := unstructured.NestedSlice(route.Object, "status", "parents")
		refs, _, _ := unstructured.NestedSlice(route.Object, "spec", "parentRefs")
		for _, ref := range refs {
			m, _ := ref.(map[string]any)
			gwNS := str(m["namespace"])
			if gwNS == "" {
				gwNS = route.GetNamespace()
			}
			gateways[[2]string{gwNS, str(m["name"])}] = true
		}
		if len(parents) == 0 {
			fix := fixRoute + "; no parent status: Envoy Gateway has not reconciled the route"
			if !watched {
				fix = fixRouteVersion
			}
			r.Fail(name, fix, "hostnames %v: no status", hosts)
			continue
		}
		var problems []string
		fix := fixRoute
		for _, p := range parents {
			pm, _ := p.(map[string]any)
			for _, typ := range []string{"Accepted", "ResolvedRefs"} {
				cond, ok := conditionOf(pm, typ, "conditions")
				if !ok || cond.Status != "True" {
					if !ok {
						cond = condition{Type: typ, Status: "missing"}
					}
					problems = append(problems, cond.String())
					if hint := routeRefusals[cond.Reason]; hint != "" {
						fix = hint + "; " + fixRoute
					}
				}
			}
		}
		if len(problems) > 0 {
			r.Fail(name, fix, "hostnames %v: %s", hosts, strings.Join(problems, "; "))
		} else {
			r.Pass(name, "hostnames %v: Accepted, ResolvedRefs", hosts)
		}
	}
	for h, key := range wanted {
		if !seen[h] {
			r.Fail("tlsroute for "+key, fixRoute, "no TLSRoute has hostname %s (the SNI name sites connect to)", h)
		}
	}
	if len(gateways) == 0 {
		r.Fail("gateway", fixRoute, "no TLSRoute of namespace %s names a Gateway", ns)
		return
	}
	keys := make([][2]string, 0, len(gateways))
	for k := range gateways {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1] })
	for _, k := range keys {
		checkOneGateway(ctx, c, k[0], k[1], out, r)
	}
	checkPolicies(ctx, c, keys, r)
}

// routeRefusals say what to change for the reasons Envoy Gateway gives when a listener refuses a route.
var routeRefusals = map[string]string{
	"NotAllowedByListeners": "the listener's allowedRoutes admits TLSRoutes of gateway.routeNamespace only: the route must live there",
	"NoMatchingParent":      "the route's parentRef names no listener of the Gateway: its sectionName must be a listener's name (the stack names each listener after its route)",
}

// tlsRouteVersion is the version to read TLSRoutes at: the one Envoy Gateway watches when the CRD serves it
// (watched true), else the CRD's first served version, with a warning. Empty when the CRD cannot be read.
func tlsRouteVersion(ctx context.Context, c *Cluster, r *Report) (version string, watched bool) {
	crd, err := c.get(ctx, crdResource, "", "tlsroutes.gateway.networking.k8s.io")
	if err != nil {
		r.Fail("TLSRoute versions", fixCRD, "%v", err)
		return "", false
	}
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	var served []string
	for _, v := range versions {
		m, _ := v.(map[string]any)
		if ok, _ := m["served"].(bool); ok {
			served = append(served, str(m["name"]))
		}
	}
	switch {
	case len(served) == 0:
		r.Fail("TLSRoute versions", fixRouteVersion, "the TLSRoute CRD serves no version")
		return "", false
	case slices.Contains(served, tlsRouteVersionWatched):
		r.Pass("TLSRoute versions", "served: %s (Envoy Gateway v1.9 watches %s)", strings.Join(served, ", "), tlsRouteVersionWatched)
		return tlsRouteVersionWatched, true
	}
	r.Warn("TLSRoute versions", fixRouteVersion, "served: %s, not %s, which Envoy Gateway v1.9 watches", strings.Join(served, ", "), tlsRouteVersionWatched)
	return served[0], false
}

// checkPolicies: every ClientTrafficPolicy in the Gateways' namespaces targets a Gateway that exists and is
// Accepted there. Envoy Gateway writes no status at all on a policy whose target Gateway is missing, so that
// case is read from the target itself.
func checkPolicies(ctx context.Context, c *Cluster, gateways [][2]string, r *Report) {
	namespaces := map[string]bool{}
	for _, g := range gateways {
		namespaces[g[0]] = true
	}
	for _, ns := range slices.Sorted(maps.Keys(namespaces)) {
		policies, err := c.list(ctx, clientTrafficPolicy, ns)
		if err != nil {
			r.Fail("clienttrafficpolicies in "+ns, fixPolicy, "%v", err)
			continue
		}
		for _, p := range policies {
			checkPolicy(ctx, c, p, r)
		}
	}
}

func checkPolicy(ctx context.Context, c *Cluster, p unstructured.Unstructured, r *Report) {
	name := fmt.Sprintf("clienttrafficpolicy %s/%s", p.GetNamespace(), p.GetName())
	refs, _, _ := unstructured.NestedSlice(p.Object, "spec", "targetRefs")
	var problems, accepted []string
	for _, ref := range refs {
		m, _ := ref.(map[string]any)
		if str(m["kind"]) != "Gateway" {
			continue
		}
		target := fmt.Sprintf("Gateway %s/%s", p.GetNamespace(), str(m["name"]))
		if s := str(m["sectionName"]); s != "" {
			target += " listener " + s
		}
		if _, err := c.get(ctx, gatewayResource, p.GetNamespace(), str(m["name"])); notFound(err) {
			problems = append(problems, fmt.Sprintf("targets %s, which does not exist: Envoy Gateway ignores the policy (no status), so its keepalive applies to no listener", target))
			continue
		}
		cond, ok := policyCondition(p.Object, str(m["name"]), str(m["sectionName"]))
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s: no status: Envoy Gateway has not reconciled the policy", target))
		case cond.Status != "True":
			problems = append(problems, fmt.Sprintf("%s: %s", target, cond))
		default:
			accepted = append(accepted, fmt.Sprintf("%s: %s", target, cond))
		}
	}
	switch {
	case len(problems) > 0:
		r.Fail(name, fixPolicy, "%s", strings.Join(problems, "; "))
	case len(accepted) > 0:
		r.Pass(name, "%s", strings.Join(accepted, "; "))
	}
}

// policyCondition is the Accepted condition of a policy's status for the Gateway (and listener) it targets.
func policyCondition(obj map[string]any, gateway, section string) (condition, bool) {
	ancestors, _, _ := unstructured.NestedSlice(obj, "status", "ancestors")
	var gatewayWide map[string]any
	for _, a := range ancestors {
		m, _ := a.(map[string]any)
		ref, _ := m["ancestorRef"].(map[string]any)
		if str(ref["name"]) != gateway {
			continue
		}
		if str(ref["sectionName"]) == section {
			return conditionOf(m, "Accepted", "conditions")
		}
		if str(ref["sectionName"]) == "" {
			gatewayWide = m
		}
	}
	if gatewayWide == nil {
		return condition{}, false
	}
	return conditionOf(gatewayWide, "Accepted", "conditions")
}

func checkOneGateway(ctx context.Context, c *Cluster, ns, name string, out Outputs, r *Report) {
	check := fmt.Sprintf("gateway %s/%s", ns, name)
	gw, err := c.get(ctx, gatewayResource, ns, name)
	if err != nil {
		r.Fail(check, fixGateway, "%v", err)
		return
	}
	className, _, _ := unstructured.NestedString(gw.Object, "spec", "gatewayClassName")
	class, err := c.get(ctx, gatewayClassRes, "", className)
	switch {
	case err != nil:
		r.Fail("gatewayclass "+className, fixGatewayClass, "%v", err)
	default:
		if cond, ok := conditionOf(class.Object, "Accepted"); ok && cond.Status == "True" {
			controller, _, _ := unstructured.NestedString(class.Object, "spec", "controllerName")
			r.Pass("controller Envoy Gateway", "accepts GatewayClass %s (%s)", className, controller)
		} else {
			if !ok {
				cond = condition{Type: "Accepted", Status: "missing"}
			}
			r.Fail("controller Envoy Gateway", fixGatewayClass, "GatewayClass %s: %s", className, cond)
		}
	}
	if cond, ok := conditionOf(gw.Object, "Programmed"); !ok || cond.Status != "True" {
		if !ok {
			cond = condition{Type: "Programmed", Status: "missing"}
		}
		r.Fail(check, fixGateway, "%s", cond)
	} else {
		r.Pass(check, "%s", cond)
	}
	addresses, _, _ := unstructured.NestedSlice(gw.Object, "status", "addresses")
	var values []string
	for _, a := range addresses {
		if m, ok := a.(map[string]any); ok && str(m["value"]) != "" {
			values = append(values, str(m["value"]))
		}
	}
	if len(values) == 0 {
		r.Fail(check+" address", fixAddress, "status.addresses is empty")
		return
	}
	r.Pass(check+" address", "%s", strings.Join(values, ", "))
	rules := out.Map("firewallRules")
	if len(out) == 0 {
		return
	}
	if len(rules) == 0 {
		r.Warn("firewall rules", fixAddress, "the stack outputs no firewallRules (no sites?)")
		return
	}
	var wrong []string
	for site, rule := range rules {
		m, _ := rule.(map[string]any)
		if !slices.Contains(values, str(m["destination"])) {
			wrong = append(wrong, fmt.Sprintf("%s → %q", site, str(m["destination"])))
		}
	}
	sort.Strings(wrong)
	if len(wrong) > 0 {
		r.Fail("firewall rules", fixAddress, "destinations are not the gateway address %s: %s", strings.Join(values, ", "), strings.Join(wrong, "; "))
	} else {
		r.Pass("firewall rules", "%d sites → %s", len(rules), strings.Join(values, ", "))
	}
}
