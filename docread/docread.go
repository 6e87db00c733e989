// Package docread decodes the JSON or YAML documents that teams already
// write (schema descriptions, migration descriptions): wrong types are
// errors and unknown fields are warnings, each reported with the file, the
// field path and the line, so a user can fix the document without guessing.
// A description is written for people and by other tools (the Migration
// Architect method's own samples carry fields such as target_performance),
// so a field Godwit does not use must not stop it; Godwit's own spec is
// read by config, which stays strict.
package docread

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/suggest"
)

// FieldError is one problem in a document, located by its field path (for
// example "tables.users.columns.id.type") and line: the spec's own kind,
// so every document Godwit reads reports problems the same way.
type FieldError = config.FieldError

// Errors is every problem found in one document.
type Errors struct {
	// File names the document; empty when it was not read from a file.
	File string
	List []FieldError
}

func (es *Errors) Error() string {
	var b strings.Builder
	if es.File != "" {
		fmt.Fprintf(&b, "%s is not valid:", es.File)
	} else {
		b.WriteString("the document is not valid:")
	}
	for _, e := range es.List {
		b.WriteString("\n  ")
		b.WriteString(e.Error())
	}
	return b.String()
}

// Add records a problem at path; the line is filled in by Finish when the
// document has that path.
func (es *Errors) Add(path, format string, args ...any) {
	es.List = append(es.List, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
}

// Err returns es when it holds a problem, nil otherwise.
func (es *Errors) Err() error {
	if es == nil || len(es.List) == 0 {
		return nil
	}
	return es
}

// Doc is a decoded document that remembers where each field was, so checks
// made after decoding can point at lines too.
type Doc struct {
	File  string
	lines map[string]int
	// Warnings are the fields of the document that Godwit does not know
	// and ignored, each with a hint at the known field it may be a typo of.
	Warnings []FieldError
}

// WarningLines returns the warnings as lines a user reads: the file, the
// field path, the line and what was done.
func (d *Doc) WarningLines() []string {
	lines := make([]string, len(d.Warnings))
	for i, w := range d.Warnings {
		lines[i] = w.Error()
		if d.File != "" {
			lines[i] = d.File + ": " + lines[i]
		}
	}
	return lines
}

// Line returns the line of path, or of its nearest enclosing field; 0 when
// the document has none of them.
func (d *Doc) Line(path string) int {
	for path != "" {
		if l, ok := d.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// Errors returns an empty error list for this document.
func (d *Doc) Errors() *Errors { return &Errors{File: d.File} }

// Finish fills in the lines of es and returns it as an error, or nil when
// it holds no problem. A document that fails lists its unknown fields among
// its problems too: a misspelt field ("tipe") is often why another is
// missing.
func (d *Doc) Finish(es *Errors) error {
	if len(es.List) == 0 {
		return nil
	}
	es.List = append(es.List, d.Warnings...)
	for i := range es.List {
		if es.List[i].Line == 0 {
			es.List[i].Line = d.Line(es.List[i].Path)
		}
	}
	sort.SliceStable(es.List, func(i, j int) bool { return es.List[i].Line < es.List[j].Line })
	return es
}

// ReadFile reads and decodes the JSON or YAML document at path into v (a
// pointer to a struct with yaml tags).
func ReadFile(path string, v any) (*Doc, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return Decode(path, data, v)
}

// utf8BOM is the byte-order mark some editors put at the start of a UTF-8
// file; it says nothing about the document.
var utf8BOM = []byte("\xef\xbb\xbf")

// Decode decodes data, JSON or YAML, into v. name is the document's file
// name for messages. A wrong type is an error, which when not nil is an
// *Errors; an unknown field is left out and listed in the Doc's Warnings.
func Decode(name string, data []byte, v any) (*Doc, error) {
	data = bytes.TrimPrefix(data, utf8BOM)
	doc := &Doc{File: name, lines: map[string]int{}}
	es := doc.Errors()
	if len(bytes.TrimSpace(data)) == 0 {
		es.Add("", "the document is empty")
		return nil, es
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		es.List = append(es.List, syntaxError(err))
		return nil, es
	}
	index(&root, "", doc.lines)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(v)
	var te *yaml.TypeError
	switch {
	case err == nil:
		return doc, nil
	case errors.As(err, &te):
		// yaml.v3 decodes every field it knows before it reports the
		// ones it does not, so v is complete when only those are left.
		for _, msg := range te.Errors {
			fe, unknown := typeError(msg, &root, reflect.TypeOf(v))
			if unknown {
				fe.Message += "; ignored"
				doc.Warnings = append(doc.Warnings, fe)
			} else {
				es.List = append(es.List, fe)
			}
		}
		if err := doc.Finish(es); err != nil {
			return nil, err
		}
		return doc, nil
	default:
		es.List = append(es.List, syntaxError(err))
		return nil, es
	}
}

var (
	lineMsg      = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownField = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
	cannotDecode = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (\\S+)$")
)

func syntaxError(err error) FieldError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := lineMsg.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return FieldError{Line: line, Message: "not valid JSON or YAML: " + m[2]}
	}
	return FieldError{Message: "not valid JSON or YAML: " + msg}
}

// typeError turns one of yaml.v3's decoding messages into a FieldError at
// the path of the offending node, and says whether it is an unknown field.
func typeError(msg string, root *yaml.Node, top reflect.Type) (FieldError, bool) {
	m := lineMsg.FindStringSubmatch(msg)
	if m == nil {
		return FieldError{Message: msg}, false
	}
	line, _ := strconv.Atoi(m[1])
	text := m[2]
	if u := unknownField.FindStringSubmatch(text); u != nil {
		path, parent := findKey(root, "", line, u[1])
		fe := FieldError{Path: path, Line: line, Message: "unknown field"}
		if known := knownFields(top, parent); len(known) > 0 {
			// docread's bound, kept: a name up to half its length away is
			// still offered.
			fe.Message += suggest.Phrase(suggest.Closest(u[1], known, len(u[1])/2+1))
			fe.Message += "; known fields here: " + strings.Join(known, ", ")
		}
		return fe, true
	}
	if c := cannotDecode.FindStringSubmatch(text); c != nil {
		path := findValue(root, "", line, c[2])
		return FieldError{Path: path, Line: line, Message: fmt.Sprintf("%q is a %s, but this field needs %s", c[2], kindName(c[1]), goTypeName(c[3]))}, false
	}
	return FieldError{Line: line, Message: text}, false
}

func kindName(tag string) string {
	switch tag {
	case "str":
		return "string"
	case "int", "float":
		return "number"
	case "bool":
		return "boolean"
	case "seq":
		return "list"
	case "map":
		return "mapping"
	}
	return tag
}

func goTypeName(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["):
		return "a mapping"
	case strings.Contains(t, "int"), strings.Contains(t, "float"):
		return "a number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a string"
	}
	return "a mapping"
}

// index records the line of every field and list item under n.
func index(n *yaml.Node, path string, lines map[string]int) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			index(c, path, lines)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := join(path, n.Content[i].Value)
			lines[p] = n.Content[i].Line
			index(n.Content[i+1], p, lines)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			lines[p] = c.Line
			index(c, p, lines)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// findKey returns the path of the mapping key named key at line, and the
// path of the mapping that holds it.
func findKey(n *yaml.Node, path string, line int, key string) (string, string) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if p, parent := findKey(c, path, line, key); p != "" {
				return p, parent
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			p := join(path, k.Value)
			if k.Line == line && k.Value == key {
				return p, path
			}
			if q, parent := findKey(n.Content[i+1], p, line, key); q != "" {
				return q, parent
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if q, parent := findKey(c, fmt.Sprintf("%s[%d]", path, i), line, key); q != "" {
				return q, parent
			}
		}
	}
	return "", ""
}

// findValue returns the path of the scalar value at line with text value
// or, when there is none, of the deepest collection starting at line.
func findValue(n *yaml.Node, path string, line int, value string) string {
	var scalar, collection string
	var walk func(n *yaml.Node, path string)
	visit := func(c *yaml.Node, p string) {
		if c.Line == line {
			if c.Kind == yaml.ScalarNode && c.Value == value && scalar == "" {
				scalar = p
			} else if c.Kind != yaml.ScalarNode {
				collection = p
			}
		}
		walk(c, p)
	}
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				visit(n.Content[i+1], join(path, n.Content[i].Value))
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				visit(c, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	}
	walk(n, path)
	if scalar != "" {
		return scalar
	}
	return collection
}

// knownFields lists the yaml field names of the struct that the document
// path leads to from t, or nil when it does not lead to a struct.
func knownFields(t reflect.Type, path string) []string {
	for _, part := range splitPath(path) {
		t = deref(t)
		switch t.Kind() {
		case reflect.Struct:
			f, ok := fieldByTag(t, part)
			if !ok {
				return nil
			}
			t = f.Type
		case reflect.Map, reflect.Slice:
			t = t.Elem()
		default:
			return nil
		}
	}
	t = deref(t)
	if t.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	for i := range t.NumField() {
		if n := tagName(t.Field(i)); n != "" && n != "-" {
			names = append(names, n)
		}
	}
	return names
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if tagName(t.Field(i)) == name {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

func tagName(f reflect.StructField) string {
	tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if tag == "" && f.IsExported() {
		return strings.ToLower(f.Name)
	}
	return tag
}

// splitPath splits "a.b[2].c" into a, b, [2], c; a list index is one step.
func splitPath(path string) []string {
	var parts []string
	for _, seg := range strings.Split(path, ".") {
		if seg == "" {
			continue
		}
		name, rest, _ := strings.Cut(seg, "[")
		if name != "" {
			parts = append(parts, name)
		}
		for rest != "" {
			_, after, _ := strings.Cut(rest, "]")
			parts = append(parts, "[]")
			_, rest, _ = strings.Cut(after, "[")
		}
	}
	return parts
}
