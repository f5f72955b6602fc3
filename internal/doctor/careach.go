package doctor

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	authv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

const (
	fixCASameNamespace = "the CA key pair is in the application namespace (authority.namespace is namespace): whoever may read Secrets or create ExternalSecrets there can copy tls.key; move the CA to a namespace of its own as the README's \"Moving the CA to its own namespace\" describes"
	fixCAReach         = "nothing of the application namespace may read the CA key pair: remove the Role/RoleBinding (or ClusterRole binding) that grants it, the SecretStore that uses that account, and any copy of the key pair in the application namespace"
)

// checkCAReach asks the API server who of the application namespace ns can read the key pair of each CA
// Issuer of caNs: every ServiceAccount of ns, through whatever Role or ClusterRole binds it (a
// SubjectAccessReview, the authorizer's own answer), and so every SecretStore of ns that authenticates as
// one of them, and every ClusterSecretStore ns may use whose account can: each lets any ExternalSecret of
// ns naming it copy tls.key. In the same-namespace layout the
// key pair sits in ns itself, which is flagged whatever the readers; apart, any reader or copy fails.
func checkCAReach(ctx context.Context, c *Cluster, ns, caNs string, r *Report) {
	issuers, err := c.list(ctx, issuerResource, caNs)
	if err != nil {
		r.Warn("CA key pair", fixCertManager, "listing issuers in %s: %v", caNs, err)
		return
	}
	var keyPairs []string
	for _, is := range issuers {
		if name, _, _ := unstructured.NestedString(is.Object, "spec", "ca", "secretName"); name != "" {
			keyPairs = append(keyPairs, name)
		}
	}
	if len(keyPairs) == 0 {
		r.Warn("CA key pair", "run `pulumi up -s global`", "no CA Issuer in namespace %s names a key pair", caNs)
		return
	}
	accounts, err := c.Core.CoreV1().ServiceAccounts(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		r.Warn("CA key pair", "the kubeconfig's user must be able to list serviceaccounts", "listing serviceaccounts in %s: %v", ns, err)
		return
	}
	stores, err := c.list(ctx, secretStoreResource, ns)
	if err != nil && !notFound(err) {
		r.Warn("CA key pair", fixExternalSecrets, "listing secretstores in %s: %v", ns, err)
		return
	}
	for _, keyPair := range keyPairs {
		check := fmt.Sprintf("CA key pair %s/%s", caNs, keyPair)
		var readers []string
		readerAccounts := map[string]bool{}
		for _, sa := range accounts.Items {
			allowed, err := c.canGetSecret(ctx, "system:serviceaccount:"+ns+":"+sa.Name, []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}, caNs, keyPair)
			if err != nil {
				r.Warn(check, "the kubeconfig's user must be able to create subjectaccessreviews", "asking who may read it: %v", err)
				return
			}
			if allowed {
				readerAccounts[sa.Name] = true
				readers = append(readers, "serviceaccount "+ns+"/"+sa.Name)
			}
		}
		for _, st := range stores {
			account, _, _ := unstructured.NestedString(st.Object, "spec", "provider", "kubernetes", "auth", "serviceAccount", "name")
			remote, _, _ := unstructured.NestedString(st.Object, "spec", "provider", "kubernetes", "remoteNamespace")
			if remote == "" {
				remote = "default" // the kubernetes provider's default
			}
			if account != "" && readerAccounts[account] && remote == caNs {
				readers = append(readers, fmt.Sprintf("SecretStore %s (as %s: any ExternalSecret in %s naming it can copy tls.key)", st.GetName(), account, ns))
			}
		}
		readers = append(readers, clusterStoresReaching(ctx, c, ns, caNs, keyPair)...)
		sort.Strings(readers)
		copyInApp := false
		if caNs != ns {
			if s, err := c.Core.CoreV1().Secrets(ns).Get(ctx, keyPair, getOptions); err == nil && len(s.Data["tls.key"]) > 0 {
				copyInApp = true
				readers = append([]string{"a Secret " + ns + "/" + keyPair + " with tls.key"}, readers...)
			}
		}
		switch {
		case caNs == ns:
			detail := "in the application namespace " + ns
			if len(readers) > 0 {
				detail += "; readable by " + strings.Join(readers, ", ")
			}
			r.Warn(check, fixCASameNamespace, "%s", detail)
		case len(readers) > 0 || copyInApp:
			r.Fail(check, fixCAReach, "reachable from the application namespace %s: %s", ns, strings.Join(readers, ", "))
		default:
			r.Pass(check, "in its own namespace; none of the %d serviceaccounts and %d secretstores of %s can read it", len(accounts.Items), len(stores), ns)
		}
	}
}

// clusterStoresReaching names the ClusterSecretStores an ExternalSecret of ns may use (no conditions, or a
// condition that selects ns, as External Secrets decides) whose kubernetes provider reads caNs as an account
// that may get the key pair.
func clusterStoresReaching(ctx context.Context, c *Cluster, ns, caNs, keyPair string) []string {
	stores, err := c.list(ctx, clusterSecretStoreRes, "")
	if err != nil {
		return nil // no External Secrets CRDs: no store can reach anything
	}
	namespace, err := c.Core.CoreV1().Namespaces().Get(ctx, ns, getOptions)
	if err != nil {
		return nil
	}
	var readers []string
	for _, st := range stores {
		k8s, ok, _ := unstructured.NestedMap(st.Object, "spec", "provider", "kubernetes")
		if !ok {
			continue
		}
		remote, _, _ := unstructured.NestedString(k8s, "remoteNamespace")
		account, _, _ := unstructured.NestedString(k8s, "auth", "serviceAccount", "name")
		accountNS, _, _ := unstructured.NestedString(k8s, "auth", "serviceAccount", "namespace")
		if cmp.Or(remote, "default") != caNs || account == "" || accountNS == "" || !usableFrom(st.Object, namespace.Name, namespace.Labels) {
			continue
		}
		user := "system:serviceaccount:" + accountNS + ":" + account
		if allowed, err := c.canGetSecret(ctx, user, []string{"system:serviceaccounts", "system:serviceaccounts:" + accountNS, "system:authenticated"}, caNs, keyPair); err == nil && allowed {
			readers = append(readers, fmt.Sprintf("ClusterSecretStore %s (as %s/%s: any ExternalSecret in %s naming it can copy tls.key)", st.GetName(), accountNS, account, ns))
		}
	}
	return readers
}

// usableFrom is External Secrets' rule for a ClusterSecretStore: usable from every namespace without
// conditions, else from a namespace one condition selects by label selector, name or regular expression.
func usableFrom(store map[string]any, ns string, nsLabels map[string]string) bool {
	conditions, _, _ := unstructured.NestedSlice(store, "spec", "conditions")
	if len(conditions) == 0 {
		return true
	}
	for _, item := range conditions {
		cond, _ := item.(map[string]any)
		if names, _, _ := unstructured.NestedStringSlice(cond, "namespaces"); slices.Contains(names, ns) {
			return true
		}
		if sel, ok, _ := unstructured.NestedMap(cond, "namespaceSelector"); ok {
			var ls metav1.LabelSelector
			if runtime.DefaultUnstructuredConverter.FromUnstructured(sel, &ls) == nil {
				if s, err := metav1.LabelSelectorAsSelector(&ls); err == nil && s.Matches(labels.Set(nsLabels)) {
					return true
				}
			}
		}
		regexes, _, _ := unstructured.NestedStringSlice(cond, "namespaceRegexes")
		for _, re := range regexes {
			if ok, err := regexp.MatchString(re, ns); err == nil && ok {
				return true
			}
		}
	}
	return false
}

// canGetSecret is the API server's answer to whether user may get the Secret namespace/name.
func (c *Cluster) canGetSecret(ctx context.Context, user string, groups []string, namespace, name string) (bool, error) {
	review, err := c.Core.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authv1.SubjectAccessReview{
		Spec: authv1.SubjectAccessReviewSpec{
			User: user, Groups: groups,
			ResourceAttributes: &authv1.ResourceAttributes{Namespace: namespace, Verb: "get", Resource: "secrets", Name: name},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	return review.Status.Allowed, nil
}
