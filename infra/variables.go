package infra

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// Variable is an input variable a module declares.
type Variable struct {
	Name string
	// Required is true when the variable has no default: a plan needs a
	// value for it.
	Required bool
	// Sensitive is true when Terraform hides its value in its output.
	Sensitive bool
}

var variableSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{{Type: "variable", LabelNames: []string{"name"}}},
}

var variableBodySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "default"}, {Name: "sensitive"}},
}

// Variables reads the variables the module in dir declares (its *.tf and
// *.tf.json files; override files may only add defaults), changing
// nothing and running no binary, so a preflight can say which values a
// spec is missing before anything runs.
func Variables(dir string) ([]Variable, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read module %s: %w", dir, err)
	}
	parser := hclparse.NewParser()
	found := map[string]*Variable{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		var file *hcl.File
		var diags hcl.Diagnostics
		switch {
		case strings.HasSuffix(name, ".tf"):
			file, diags = parser.ParseHCLFile(filepath.Join(dir, name))
		case strings.HasSuffix(name, ".tf.json"):
			file, diags = parser.ParseJSONFile(filepath.Join(dir, name))
		default:
			continue
		}
		if diags.HasErrors() {
			return nil, fmt.Errorf("read module %s: %s", dir, diags.Error())
		}
		override := strings.HasSuffix(strings.TrimSuffix(strings.TrimSuffix(name, ".json"), ".tf"), "override")
		content, _, diags := file.Body.PartialContent(variableSchema)
		if diags.HasErrors() {
			return nil, fmt.Errorf("read module %s: %s", dir, diags.Error())
		}
		for _, b := range content.Blocks {
			attrs, _, diags := b.Body.PartialContent(variableBodySchema)
			if diags.HasErrors() {
				return nil, fmt.Errorf("read module %s: variable %s: %s", dir, b.Labels[0], diags.Error())
			}
			_, hasDefault := attrs.Attributes["default"]
			sensitive := false
			if a, ok := attrs.Attributes["sensitive"]; ok {
				if v, diags := a.Expr.Value(nil); !diags.HasErrors() && v.Type().FriendlyName() == "bool" && v.True() {
					sensitive = true
				}
			}
			v := found[b.Labels[0]]
			switch {
			case v == nil && !override:
				found[b.Labels[0]] = &Variable{Name: b.Labels[0], Required: !hasDefault, Sensitive: sensitive}
			case v != nil && override:
				v.Required = v.Required && !hasDefault
				v.Sensitive = v.Sensitive || sensitive
			}
		}
	}
	out := make([]Variable, 0, len(found))
	for _, v := range found {
		out = append(out, *v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
