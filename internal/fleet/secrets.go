package fleet

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"nautobot-worker/components/authority"
)

// stackFileSecrets is what a Pulumi.<stack>.yaml says of its stack's secrets provider: Pulumi writes
// secretsprovider (and encryptedkey) for a cloud KMS provider, encryptionsalt for a passphrase.
type stackFileSecrets struct {
	Provider       string         `yaml:"secretsprovider"`
	EncryptionSalt string         `yaml:"encryptionsalt"`
	Config         map[string]any `yaml:"config"`
}

// stackFilePath is the stack's config file: ConfigFiles' (a preview of an edit), else Pulumi.<stack>.yaml.
func (r runner) stackFilePath(stack string) string {
	if path := r.ConfigFiles[stack]; path != "" {
		return path
	}
	return filepath.Join(r.Root, "Pulumi."+stack+".yaml")
}

// stackFile reads the secrets-provider fields and the config of the stack's file (ConfigFiles, else
// Pulumi.<stack>.yaml); a stack without a file has none.
func (r runner) stackFile(stack string) (stackFileSecrets, error) {
	path := r.stackFilePath(stack)
	var f stackFileSecrets
	text, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return f, nil
	}
	if err != nil {
		return f, err
	}
	if err := yaml.Unmarshal(text, &f); err != nil {
		return f, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// secretsProvider is the provider a new stack is created with: the one its stack file already names, else
// --global-secrets-provider for the global stack, else --secrets-provider ("" is the backend's default).
func (r runner) secretsProvider(stack string, f stackFileSecrets) string {
	switch {
	case f.Provider != "":
		return f.Provider
	case f.EncryptionSalt != "":
		return "passphrase"
	case stack == GlobalStack && r.GlobalSecretsProvider != "":
		return r.GlobalSecretsProvider
	}
	return r.SecretsProvider
}

// secretsEnv is the environment of the stack's own secrets: the global stack's passphrase from
// --global-passphrase-file (PULUMI_CONFIG_PASSPHRASE wins over any other source of it in pulumi).
func (b Backend) secretsEnv(stack string) (map[string]string, error) {
	if stack != GlobalStack || b.GlobalPassphraseFile == "" {
		return nil, nil
	}
	phrase, err := readPassphraseFile(b.GlobalPassphraseFile)
	if err != nil {
		return nil, fmt.Errorf("--global-passphrase-file: %w", err)
	}
	return map[string]string{"PULUMI_CONFIG_PASSPHRASE": phrase}, nil
}

func readPassphraseFile(path string) (string, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	// As pulumi reads PULUMI_CONFIG_PASSPHRASE_FILE.
	phrase := strings.TrimSpace(string(text))
	if phrase == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return phrase, nil
}

// ambientPassphrase is the passphrase pulumi takes from this process's environment ("" when none).
func ambientPassphrase() (string, error) {
	if phrase, ok := os.LookupEnv("PULUMI_CONFIG_PASSPHRASE"); ok {
		return phrase, nil
	}
	if path := os.Getenv("PULUMI_CONFIG_PASSPHRASE_FILE"); path != "" {
		return readPassphraseFile(path)
	}
	return "", nil
}

// secretsIdentity names who can decrypt a stack's secrets: equal identities share the key.
func (r runner) secretsIdentity(stack string) (string, error) {
	f, err := r.stackFile(stack)
	if err != nil {
		return "", err
	}
	provider := r.secretsProvider(stack, f)
	if r.exists(stack) && f.Provider == "" && f.EncryptionSalt == "" {
		// An existing stack whose file names no provider keeps the one in its state: the backend's default.
		provider = ""
	}
	switch {
	case provider == "" || provider == "default":
		if r.cloud { // a self-managed backend's default is a passphrase
			return "service:" + stack, nil // one key per stack, guarded by the stack's permissions
		}
	case provider != "passphrase":
		return provider, nil
	}
	phrase, err := ambientPassphrase()
	if env, errEnv := r.secretsEnv(stack); errEnv != nil {
		return "", errEnv
	} else if env != nil {
		phrase, err = env["PULUMI_CONFIG_PASSPHRASE"], nil
	}
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(phrase))
	return "passphrase:" + hex.EncodeToString(sum[:]), nil
}

// refuseSharedCAKey refuses a run where the global stack keeps the root CA's private key in its state
// (authority.root: pulumi-tls) under the secrets provider of a site stack: whoever may decrypt that site's
// state could then decrypt the key that signs every certificate of the fleet.
func (r runner) refuseSharedCAKey(sites []string) error {
	f, err := r.stackFile(GlobalStack)
	if err != nil {
		return err
	}
	authorityConfig, _ := f.Config[r.project+":"+authority.ConfigKey].(map[string]any)
	if root, _ := authorityConfig["root"].(string); root != authority.RootPulumiTLS {
		return nil
	}
	global, err := r.secretsIdentity(GlobalStack)
	if err != nil {
		return err
	}
	var sharing []string
	for _, site := range sites {
		id, err := r.secretsIdentity(site)
		if err != nil {
			return err
		}
		if id == global {
			sharing = append(sharing, site)
		}
	}
	if len(sharing) == 0 {
		return nil
	}
	return fmt.Errorf("the global stack keeps the root CA's private key in its state (authority.root: %s), and %s would share its secrets provider, so whoever may decrypt a site's state could decrypt that key: "+
		"give the global stack its own (--global-passphrase-file with another passphrase than the sites', or a secretsprovider of its own in Pulumi.%s.yaml, e.g. --global-secrets-provider awskms://... at its creation), or use authority.root: %s (README, Going to production)",
		authority.RootPulumiTLS, strings.Join(sharing, ", "), GlobalStack, authority.RootCertManager)
}
