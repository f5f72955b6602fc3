package database_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"nautobot-worker/components/database"
	"nautobot-worker/internal/mocks"
)

func base() database.Args {
	return database.Args{Namespace: "nautobot", ServerTLSSecret: "srv", CASecret: "ca", ReplicationTLSSecret: "repl"}
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

// The Cluster's pg_hba is every rule of HBA, in order; the mTLS tests read it from the Cluster, so a rule
// the stack dropped would be untested and undeployed alike.
func TestPgHBAIsEveryRuleInOrder(t *testing.T) {
	saved := database.HBA
	t.Cleanup(func() { database.HBA = saved })
	database.HBA = append(append([]string{}, saved...), "hostssl app app 10.0.0.0/8 cert")
	m, err := run(t, base())
	require.NoError(t, err)
	c, ok := m.Find("kubernetes:postgresql.cnpg.io/v1:Cluster", "db-cluster")
	require.True(t, ok)
	require.Equal(t, []any{"hostssl all all all cert", "hostnossl all all all reject", "hostssl app app 10.0.0.0/8 cert"},
		c.Plain()["spec"].(map[string]any)["postgresql"].(map[string]any)["pg_hba"])
}
