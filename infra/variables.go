package infra

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
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

// OutputDecl is a root module output the module declares.
type OutputDecl struct {
	Name      string
	Sensitive bool
}

// Config is what a module declares that a spec refers to.
type Config struct {
	Variables []Variable
	Outputs   []OutputDecl
}

var variableSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "output", LabelNames: []string{"name"}},
	},
}

var variableBodySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "default"}, {Name: "sensitive"}},
}

// Variables returns the variables the module in dir declares (see Inspect).
func Variables(dir string) ([]Variable, error) {
	c, err := Inspect(dir)
	return c.Variables, err
}

// Inspect reads the variables and outputs the module in dir declares (its
// *.tf and *.tf.json files; override files may only add defaults),
// changing nothing and running no binary, so a preflight can say which
// values a spec is missing before anything runs.
func Inspect(dir string) (Config, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return Config{}, fmt.Errorf("read module %s: %w", dir, err)
	}
	parser := hclparse.NewParser()
	found := map[string]*Variable{}
	outputs := map[string]bool{}
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
			return Config{}, fmt.Errorf("read module %s: %s", dir, diags.Error())
		}
		override := strings.HasSuffix(strings.TrimSuffix(strings.TrimSuffix(name, ".json"), ".tf"), "override")
		content, _, diags := file.Body.PartialContent(variableSchema)
		if diags.HasErrors() {
			return Config{}, fmt.Errorf("read module %s: %s", dir, diags.Error())
		}
		for _, b := range content.Blocks {
			if b.Type == "output" {
				attrs, _, _ := b.Body.PartialContent(variableBodySchema)
				outputs[b.Labels[0]] = outputs[b.Labels[0]] || isTrue(attrs.Attributes["sensitive"])
				continue
			}
			attrs, _, diags := b.Body.PartialContent(variableBodySchema)
			if diags.HasErrors() {
				return Config{}, fmt.Errorf("read module %s: variable %s: %s", dir, b.Labels[0], diags.Error())
			}
			_, hasDefault := attrs.Attributes["default"]
			sensitive := isTrue(attrs.Attributes["sensitive"])
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
	var c Config
	for _, v := range found {
		c.Variables = append(c.Variables, *v)
	}
	sort.Slice(c.Variables, func(i, j int) bool { return c.Variables[i].Name < c.Variables[j].Name })
	for _, name := range slices.Sorted(maps.Keys(outputs)) {
		c.Outputs = append(c.Outputs, OutputDecl{Name: name, Sensitive: outputs[name]})
	}
	return c, nil
}

// isTrue reports whether the attribute is the literal true.
func isTrue(a *hcl.Attribute) bool {
	if a == nil {
		return false
	}
	v, diags := a.Expr.Value(nil)
	return !diags.HasErrors() && v.Type() == cty.Bool && v.IsKnown() && v.True()
}
