package database_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"nautobot-worker/components/database"
	"nautobot-worker/internal/mocks"
)

func base() database.Args {
	return database.Args{Namespace: "nautobot", ServerTLSSecret: "srv", CASecret: "ca", ReplicationTLSSecret: "repl",
		Identities: []string{"nautobot-global", "site-dfw1"}}
}

func run(t *testing.T, a database.Args) (*mocks.Monitor, error) {
	t.Helper()
	return mocks.Component("global", "db", a, database.NewPostgresCluster)
}

func TestClusterIsProtectedRetainedAndUsesTheExplicitProvider(t *testing.T) {
	a := base()
	a.StorageClass = "fast"
	m, err := run(t, a)
	require.NoError(t, err)
	c, ok := m.Find("kubernetes:postgresql.cnpg.io/v1:Cluster", "db-cluster")
	require.True(t, ok)
	require.True(t, c.Protect)
	require.True(t, c.RetainOnDelete)
	require.Contains(t, c.Provider, "pulumi:providers:kubernetes::k8s::")
	require.Contains(t, c.Parent, "nautobot:database:PostgresCluster::db")
	require.Equal(t, map[string]any{"size": "20Gi", "storageClass": "fast"}, c.Plain()["spec"].(map[string]any)["storage"])
}

func TestMajorVersion(t *testing.T) {
	for image, want := range map[string]int{
		"ghcr.io/cloudnative-pg/postgresql:17.9-system-bullseye": 17,
		"registry.local:5000/pg/postgresql:18.1":                 18,
		"ghcr.io/cloudnative-pg/postgresql:16":                   16,
		"ghcr.io/cloudnative-pg/postgresql@sha256:abcd":          0,
		"registry.local:5000/postgresql":                         0,
	} {
		require.Equal(t, want, database.Args{ImageName: image}.Major(), image)
	}
}

func TestValidation(t *testing.T) {
	off := false
	cases := []struct {
		name string
		edit func(*database.Args)
		want string
	}{
		{"PostgreSQL 15 with direct TLS", func(a *database.Args) { a.ImageName = "ghcr.io/cloudnative-pg/postgresql:15.8" },
			"is PostgreSQL 15; direct TLS through the passthrough gateway (sslnegotiation=direct) needs PostgreSQL 17 or newer"},
		{"digest without major version", func(a *database.Args) { a.ImageName = "ghcr.io/cloudnative-pg/postgresql@sha256:abcd" },
			"majorVersion: cannot read the PostgreSQL major version"},
		{"bad storage", func(a *database.Args) { a.StorageSize = "20 GB" }, `storageSize: "20 GB" is not a Kubernetes quantity`},
		{"zero instances", func(a *database.Args) { a.Instances = -1 }, "instances: -1 must be at least 1"},
		{"bad user", func(a *database.Args) { a.User = "App-User" }, `user: "App-User" is not a plain PostgreSQL identifier`},
		{"bad affinity", func(a *database.Args) { a.PodAntiAffinity = "always" }, `podAntiAffinity: "always" is not supported`},
		{"extra identity as a regular expression", func(a *database.Args) { a.ExtraIdentities = []string{`/^site-.*$`} },
			`extraIdentities[0]: "/^site-.*$" is not a certificate common name PostgreSQL can map`},
		{"extra identity with a space", func(a *database.Args) { a.ExtraIdentities = []string{"app app"} },
			`extraIdentities[0]: "app app" is not a certificate common name`},
		{"extra identity CNPG admits as its replicas", func(a *database.Args) { a.ExtraIdentities = []string{"app", "streaming_replica"} },
			`extraIdentities[1]: "streaming_replica" is the role CloudNativePG admits by certificate before any user rule`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := base()
			tc.edit(&a)
			m, err := run(t, a)
			require.ErrorContains(t, err, tc.want)
			require.Empty(t, m.OfType("kubernetes:postgresql.cnpg.io/v1:Cluster"))
		})
	}
	t.Run("PostgreSQL 15 without gateway clients is allowed", func(t *testing.T) {
		a := base()
		a.ImageName, a.DirectTLS = "ghcr.io/cloudnative-pg/postgresql:15.8", &off
		_, err := run(t, a)
		require.NoError(t, err)
	})
}

// The Cluster's pg_hba admits certificates for the application role in its database through the map, and
// rejects every other TLS and plaintext connection; the map lists the identities, then the extra ones. The
// mTLS tests read both from the Cluster, so what is deployed is what the real PostgreSQL is tested with.
func TestRoleMapping(t *testing.T) {
	a := base()
	a.Database, a.User, a.ExtraIdentities = "nautobot", "nautobot_app", []string{"app"}
	m, err := run(t, a)
	require.NoError(t, err)
	c, ok := m.Find("kubernetes:postgresql.cnpg.io/v1:Cluster", "db-cluster")
	require.True(t, ok)
	require.Equal(t, map[string]any{
		"pg_hba":   []any{"hostssl nautobot nautobot_app all cert map=nautobot", "hostssl all all all reject", "hostnossl all all all reject"},
		"pg_ident": []any{"nautobot nautobot-global nautobot_app", "nautobot site-dfw1 nautobot_app", "nautobot app nautobot_app"},
	}, c.Plain()["spec"].(map[string]any)["postgresql"])

	a.Identities = nil
	_, err = run(t, a)
	require.ErrorContains(t, err, "Args.Identities is required")
}
