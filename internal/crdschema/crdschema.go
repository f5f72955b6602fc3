// Package crdschema checks custom resources offline against the schema of a real CustomResourceDefinition,
// with the API server's own code (k8s.io/apiextensions-apiserver): the OpenAPI v3 validation of a create,
// and the pruning that strict field validation turns into errors for fields the schema does not know. It
// does not evaluate the CRD's CEL rules (x-kubernetes-validations) or run the operator's admission webhook;
// a test that relies on either needs a real API server (tests/integration).
package crdschema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// CRD is one served version of a CustomResourceDefinition.
type CRD struct {
	Group, Version, Kind string
	validator            validation.SchemaValidator
	structural           *structuralschema.Structural
}

// Load reads the CRD at path and takes the schema of its version.
func Load(path, version string) (*CRD, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(data, &crd); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, v := range crd.Spec.Versions {
		if v.Name != version || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			continue
		}
		var internal apiextensions.JSONSchemaProps
		if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
			return nil, fmt.Errorf("%s %s: %w", path, version, err)
		}
		structural, err := structuralschema.NewStructural(&internal)
		if err != nil {
			return nil, fmt.Errorf("%s %s: the schema is not structural: %w", path, version, err)
		}
		validator, _, err := validation.NewSchemaValidator(&internal)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", path, version, err)
		}
		return &CRD{Group: crd.Spec.Group, Version: version, Kind: crd.Spec.Names.Kind, validator: validator, structural: structural}, nil
	}
	return nil, fmt.Errorf("%s serves no version %s with a schema", path, version)
}

// Validate returns every problem the API server would report when the object is created with strict field
// validation: a wrong apiVersion or kind, schema violations, and fields the schema does not know.
func (c *CRD) Validate(obj map[string]any) []string {
	var problems []string
	if want := c.Group + "/" + c.Version; obj["apiVersion"] != want || obj["kind"] != c.Kind {
		problems = append(problems, fmt.Sprintf("apiVersion %v kind %v is not %s %s", obj["apiVersion"], obj["kind"], want, c.Kind))
	}
	// Round-trip through JSON, as a request body is: numbers become int64 or float64 as the server reads them.
	data, err := json.Marshal(obj)
	if err != nil {
		return append(problems, err.Error())
	}
	var u map[string]any
	if err := json.Unmarshal(data, &u); err != nil {
		return append(problems, err.Error())
	}
	u = runtime.DeepCopyJSON(normalize(u).(map[string]any))
	for _, e := range validation.ValidateCustomResource(nil, u, c.validator) {
		problems = append(problems, e.Error())
	}
	for _, path := range pruning.PruneWithOptions(u, c.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}) {
		problems = append(problems, "unknown field "+path)
	}
	return problems
}

// normalize turns JSON numbers that are whole into int64, as the API server's decoder does.
func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = normalize(e)
		}
	case []any:
		for i, e := range t {
			t[i] = normalize(e)
		}
	case float64:
		if t == float64(int64(t)) {
			return int64(t)
		}
	}
	return v
}

// ModuleFiles returns the files matching glob (relative to the module root) of a Go module version, which
// `go mod download` fetches through the module proxy or finds in the module cache: how scripts/cluster.sh
// gets the CRDs it loads into the local API server.
func ModuleFiles(module, version, glob string) ([]string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", module+"@"+version)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jsonErr := json.Unmarshal(out, &info); err != nil || jsonErr != nil || info.Dir == "" {
		return nil, fmt.Errorf("go mod download %s@%s: %v %s %s", module, version, err, info.Error, strings.TrimSpace(stderr.String()))
	}
	files, err := filepath.Glob(filepath.Join(info.Dir, filepath.FromSlash(glob)))
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("no file of %s@%s matches %s", module, version, glob)
	}
	return files, err
}
