package mocks

import (
	"encoding/json"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// StackFile reads the config of a Pulumi.<stack>.yaml the way the CLI hands it to a program: strings as
// they are, objects and lists as JSON.
func StackFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := map[string]string{}
	for k, v := range f.Config {
		switch v := v.(type) {
		case string:
			out[k] = v
		case map[string]any, []any:
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", path, k, err)
			}
			out[k] = string(b)
		default:
			out[k] = fmt.Sprint(v)
		}
	}
	return out, nil
}
