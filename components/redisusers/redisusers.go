// Package redisusers provides RedisSiteUsers: one Redis ACL user per site, named after the site's identity
// (site-<name>), with a password of its own. Redis 7 checks that a client certificate comes from the CA but
// never maps its name to a user, so the per-site password is what tells sites apart in Redis and what a
// site removed from `sites` loses: its user leaves the server's configuration at the next global `up`.
//
// The passwords are derived, not stored: HMAC-SHA256 of the global stack's secret redisSiteKey over the
// site's identity and its rotation counter. No random provider is needed, a preview is stable, and a site's
// password changes only when its counter or the key does. Redis's configuration (a ConfigMap) carries only
// each password's SHA-256, the form Redis's ACL accepts (`#<hex>`); the passwords live in Pulumi secrets
// and in one Secret per site on the global cluster, from which they reach the site's secrets provider.
package redisusers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"nautobot-worker/internal/component"
	"nautobot-worker/internal/kube"
	"nautobot-worker/internal/nautobotpod"
	"nautobot-worker/internal/validate"
)

// Keys of each site's Secret on the global cluster, as a provider item of the site holds them.
const (
	UsernameKey = "username"
	PasswordKey = "password"
)

// MinKeyLength is the shortest redisSiteKey accepted: 32 characters of `openssl rand -hex 32`'s 64.
const MinKeyLength = 32

// Permissions are what a site's user may do. A worker needs the Celery broker's and result backend's keys
// and channels (kombu's queues and bindings, pidbox and events over PUBLISH/SUBSCRIBE) and Nautobot's
// cache, all under keys Celery and Django name, so every key and channel; it must not reconfigure, inspect
// or stop the server: -@dangerous removes CONFIG, ACL, DEBUG, SHUTDOWN, FLUSHALL, FLUSHDB, KEYS, MONITOR,
// REPLICAOF, CLIENT KILL and their kin, which Redis then answers with NOPERM.
const Permissions = "resetchannels ~* &* +@all -@dangerous"

// Site is one site with a user.
type Site struct {
	Name string
	// Rotation is the site's password counter (sites[].redisPasswordRotation): raising it gives the site a
	// new password and drops the old one at the same `up`.
	Rotation int
}

// Args configures the users.
type Args struct {
	// Provider is the global cluster's Kubernetes provider (required).
	Provider *kubernetes.Provider `json:"-"`
	// Namespace holds the sites' Secrets (the global namespace).
	Namespace string `json:"-"`
	// Key is the global stack's redisSiteKey, from which each password is derived.
	Key string `json:"-"`
	// Sites are the global stack's sites.
	Sites []Site `json:"-"`
}

// Defaults returns args unchanged: everything is set by the stack.
func (a Args) Defaults() Args { return a }

// keyProblem describes what is wrong with a redisSiteKey, or "" when nothing is.
func keyProblem(key string) string {
	switch {
	case len(key) < MinKeyLength:
		return fmt.Sprintf("is %d characters; a key from which every site's Redis password is derived needs at least %d", len(key), MinKeyLength)
	case strings.TrimSpace(key) != key:
		return "starts or ends with white space, which a copy of it easily loses"
	}
	return ""
}

// Validate checks the key and the counters; problems name the global stack's config keys.
func (a Args) Validate() error {
	p := validate.New("")
	if problem := keyProblem(a.Key); problem != "" {
		p.Addf("redisSiteKey", "%s; set one with `pulumi config set --secret redisSiteKey \"$(openssl rand -hex 32)\"`", problem)
	}
	for i, s := range a.Sites {
		if s.Rotation < 0 {
			p.Addf(fmt.Sprintf("sites[%d].redisPasswordRotation", i), "%d is negative; it counts the site's password rotations from 0", s.Rotation)
		}
	}
	return p.Err()
}

// Cluster returns the provider, once the stack has set the namespace.
func (a Args) Cluster() (*kubernetes.Provider, error) {
	if a.Provider == nil || a.Namespace == "" {
		return nil, errors.New("redisusers: Args.Provider and Namespace are required")
	}
	return a.Provider, nil
}

// User is one site's Redis user.
type User struct {
	Site, Name string
	// Password is the derived password; Hash its SHA-256 in hex, which is all Redis's configuration holds.
	Password, Hash string
}

// Users derives every site's user (call on validated args).
func (a Args) Users() []User {
	users := make([]User, 0, len(a.Sites))
	for _, s := range a.Sites {
		name := nautobotpod.SiteIdentity(s.Name)
		mac := hmac.New(sha256.New, []byte(a.Key))
		// The purpose, the user and the counter, separated by a byte no name contains: another use of the
		// key, or another site, can never produce the same input.
		fmt.Fprintf(mac, "nautobot-worker redis site user\x00%s\x00%d", name, s.Rotation)
		password := hex.EncodeToString(mac.Sum(nil))
		hash := sha256.Sum256([]byte(password))
		users = append(users, User{Site: s.Name, Name: name, Password: password, Hash: hex.EncodeToString(hash[:])})
	}
	return users
}

// ACL is the users as lines of Redis's configuration: each enabled, with only its password's hash.
func ACL(users []User) string {
	var b strings.Builder
	for _, u := range users {
		fmt.Fprintf(&b, "user %s on #%s %s\n", u.Name, u.Hash, Permissions)
	}
	return b.String()
}

// SecretName is the Secret on the global cluster holding site's user and password.
func SecretName(site string) string { return "nautobot-redis-" + nautobotpod.SiteIdentity(site) }

// RedisSiteUsers is one Secret per site holding its Redis user name and password.
type RedisSiteUsers struct {
	pulumi.ResourceState
	component.WithArgs[Args]

	// SecretResources are the registered Secrets, for what reads them (the distribution's PushSecrets).
	SecretResources []pulumi.Resource
	// Secrets maps each site to its Secret's name.
	Secrets pulumi.StringMapOutput `pulumi:"secrets"`
	// Users maps each site to its Redis user.
	Users pulumi.StringMapOutput `pulumi:"users"`
}

// NewRedisSiteUsers registers the sites' Secrets. The password is a Pulumi secret from the start, so
// neither the state nor a preview shows it.
func NewRedisSiteUsers(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*RedisSiteUsers, error) {
	return component.New(ctx, "nautobot:redisusers:RedisSiteUsers", name, args, &RedisSiteUsers{}, opts,
		func(c *RedisSiteUsers, k8s []pulumi.ResourceOption) (pulumi.Map, error) {
			secrets, users := pulumi.StringMap{}, pulumi.StringMap{}
			for _, u := range c.Args.Users() {
				secret := SecretName(u.Site)
				r, err := corev1.NewSecret(ctx, name+"-"+u.Site, &corev1.SecretArgs{
					Metadata: kube.Metadata(kube.Object{Namespace: c.Args.Namespace, Name: secret}),
					Type:     pulumi.String("Opaque"),
					StringData: pulumi.StringMap{
						UsernameKey: pulumi.String(u.Name),
						PasswordKey: pulumi.ToSecret(pulumi.String(u.Password)).(pulumi.StringOutput),
					},
				}, k8s...)
				if err != nil {
					return nil, fmt.Errorf("Secret %s: %w", secret, err)
				}
				c.SecretResources = append(c.SecretResources, r)
				secrets[u.Site], users[u.Site] = pulumi.String(secret), pulumi.String(u.Name)
			}
			c.Secrets, c.Users = secrets.ToStringMapOutput(), users.ToStringMapOutput()
			return pulumi.Map{"secrets": c.Secrets, "users": c.Users}, nil
		})
}
