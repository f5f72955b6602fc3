package fleet

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTheCAKeyNeverSharesASitesSecretsProvider(t *testing.T) {
	const pulumiTLS = "config:\n  nautobot-worker:authority:\n    root: pulumi-tls\n"
	cases := []struct {
		name       string
		global     string // the global stack file's text
		site       string // site-dfw1's
		backendURL string // "" is Pulumi Cloud
		backend    Backend
		globalPass string // --global-passphrase-file's content ("" none)
		refused    bool
	}{
		{name: "a cert-manager root keeps no key in the state", global: "config:\n  nautobot-worker:role: global\n", backendURL: "file:///state"},
		{name: "one passphrase for all", global: pulumiTLS, backendURL: "file:///state", refused: true},
		{name: "the global stack's own passphrase", global: pulumiTLS, backendURL: "file:///state", globalPass: "another one"},
		{name: "a global passphrase file with the sites' passphrase", global: pulumiTLS, backendURL: "file:///state", globalPass: "the sites' one\n", refused: true},
		{name: "a KMS key of the global stack's own", global: "secretsprovider: awskms://alias/global\n" + pulumiTLS, backendURL: "s3://state"},
		{name: "the sites' KMS key", global: "secretsprovider: awskms://alias/fleet\n" + pulumiTLS,
			site: "secretsprovider: awskms://alias/fleet\nconfig: {}\n", backendURL: "s3://state", refused: true},
		{name: "new stacks with a KMS key for global only", global: pulumiTLS, backendURL: "s3://state",
			backend: Backend{SecretsProvider: "passphrase", GlobalSecretsProvider: "awskms://alias/global"}},
		{name: "new stacks all under one KMS key", global: pulumiTLS, backendURL: "s3://state",
			backend: Backend{SecretsProvider: "awskms://alias/fleet"}, refused: true},
		{name: "Pulumi Cloud keeps a key per stack", global: pulumiTLS},
		{name: "Pulumi Cloud with the passphrase for every stack", global: pulumiTLS, backend: Backend{SecretsProvider: "passphrase"}, refused: true},
		{name: "a passphrase salt in the global file", global: "encryptionsalt: v1:abc\n" + pulumiTLS, backendURL: "gs://state", refused: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "Pulumi.global.yaml"), []byte(tc.global), 0o644))
			site := tc.site
			if site == "" {
				site = "config:\n  nautobot-worker:role: site\n"
			}
			require.NoError(t, os.WriteFile(filepath.Join(dir, "Pulumi.site-dfw1.yaml"), []byte(site), 0o644))
			t.Setenv("PULUMI_CONFIG_PASSPHRASE", "the sites' one")
			b := tc.backend
			if tc.globalPass != "" {
				b.GlobalPassphraseFile = filepath.Join(dir, "global-passphrase")
				require.NoError(t, os.WriteFile(b.GlobalPassphraseFile, []byte(tc.globalPass), 0o600))
			}
			r := runner{Options: Options{Root: dir, Backend: b}, project: "nautobot-worker", cloud: tc.backendURL == ""}
			err := r.refuseSharedCAKey([]string{"site-dfw1"})
			if !tc.refused {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, "the global stack keeps the root CA's private key in its state (authority.root: pulumi-tls), and site-dfw1 would share its secrets provider")
		})
	}
}

func TestNewStacksTakeTheProviderTheirFileNamesFirst(t *testing.T) {
	r := runner{Options: Options{Backend: Backend{SecretsProvider: "passphrase", GlobalSecretsProvider: "awskms://alias/global"}}}
	require.Equal(t, "gcpkms://k", r.secretsProvider(GlobalStack, stackFileSecrets{Provider: "gcpkms://k"}))
	require.Equal(t, "passphrase", r.secretsProvider(GlobalStack, stackFileSecrets{EncryptionSalt: "v1:x"}))
	require.Equal(t, "awskms://alias/global", r.secretsProvider(GlobalStack, stackFileSecrets{}))
	require.Equal(t, "passphrase", r.secretsProvider("site-dfw1", stackFileSecrets{}))
	require.Equal(t, "", runner{}.secretsProvider("site-dfw1", stackFileSecrets{}), "the backend's default")
}

func TestStacksAreAddressedInTheOrganizationGiven(t *testing.T) {
	require.Equal(t, "site-dfw1", Backend{}.address("nautobot-worker", "site-dfw1"))
	require.Equal(t, "acme/nautobot-worker/site-dfw1", Backend{Org: "acme"}.address("nautobot-worker", "site-dfw1"))
}

// TestTheSandboxKeepsSecretsItsOwnWay: a stack file without encrypted values runs under the sandbox's
// passphrase (so every site reads the copy of global's outputs with it); one with encrypted values keeps the
// provider that can decrypt them, which Pulumi Cloud's per-stack key cannot be for a stack not yet created.
func TestTheSandboxKeepsSecretsItsOwnWay(t *testing.T) {
	sb := &sandbox{passphrase: "sandbox", env: map[string]string{"PULUMI_BACKEND_URL": "file:///sandbox"}}
	stackEnv := map[string]string{"KUBECONFIG": "/k"}
	r := runner{Options: Options{Root: t.TempDir()}, project: "nautobot-worker"}

	plain := []byte("config:\n  nautobot-worker:role: site\nencryptionsalt: v1:abc\n")
	text, provider, env, err := r.sandboxSecrets(sb, "site-new", plain, stackEnv)
	require.NoError(t, err)
	require.Equal(t, "config:\n  nautobot-worker:role: site\n", string(text))
	require.Equal(t, "passphrase", provider)
	require.Equal(t, map[string]string{"KUBECONFIG": "/k", "PULUMI_BACKEND_URL": "file:///sandbox", "PULUMI_CONFIG_PASSPHRASE": "sandbox"}, env)
	require.Equal(t, map[string]string{"KUBECONFIG": "/k"}, stackEnv, "the stack's own environment is unchanged")

	encrypted := []byte("encryptionsalt: v1:abc\nconfig:\n  nautobot-worker:djangoSecretKey:\n    secure: v1:xyz\n")
	require.NoError(t, os.WriteFile(filepath.Join(r.Root, "Pulumi.site-new.yaml"), encrypted, 0o644))
	text, provider, env, err = r.sandboxSecrets(sb, "site-new", encrypted, stackEnv)
	require.NoError(t, err)
	require.Equal(t, string(encrypted), string(text))
	require.Equal(t, "passphrase", provider, "the salt in its file")
	require.NotContains(t, env, "PULUMI_CONFIG_PASSPHRASE", "its own passphrase, from the environment")

	cloudKeyed := []byte("config:\n  nautobot-worker:djangoSecretKey:\n    secure: AAAB\n")
	require.NoError(t, os.WriteFile(filepath.Join(r.Root, "Pulumi.site-new.yaml"), cloudKeyed, 0o644))
	r.cloud = true
	_, _, _, err = r.sandboxSecrets(sb, "site-new", cloudKeyed, stackEnv)
	require.ErrorContains(t, err, "values encrypted by Pulumi Cloud's key of a stack that does not exist yet")
}
