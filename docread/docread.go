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
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/godwit/godwit/yamldecode"
)

// FieldError is one problem in a document, located by its field path (for
// example "tables.users.columns.id.type") and line: yamldecode's, as for
// the spec and the gateway's configuration, so every document Godwit reads
// reports problems the same way.
type FieldError = yamldecode.FieldError

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
	File string
	dec  *yamldecode.Decoder
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
func (d *Doc) Line(path string) int { return d.dec.Line(path) }

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
	doc := &Doc{File: name, dec: yamldecode.New(len(data))}
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
	// A description is written for people and by other tools: a field
	// Godwit does not use is a warning, and a name up to half its length
	// away is still offered as what was meant.
	doc.dec.Warn = true
	doc.dec.MaxEdits = func(name string) int { return len(name)/2 + 1 }
	doc.dec.Mismatch = mismatch
	doc.dec.Decode("", &root, reflect.ValueOf(v).Elem())
	doc.Warnings = doc.dec.Warnings
	es.List = append(es.List, doc.dec.Errs...)
	if err := doc.Finish(es); err != nil {
		return nil, err
	}
	return doc, nil
}

// syntaxError is yamldecode's, naming JSON too: descriptions are often JSON.
func syntaxError(err error) FieldError {
	fe := yamldecode.SyntaxError(err)
	fe.Message = "not valid JSON or YAML: " + strings.TrimPrefix(fe.Message, "not valid YAML: ")
	return fe
}

// mismatch words a wrong type the way descriptions always have: what the
// value is, and what the field needs.
func mismatch(n *yaml.Node, t reflect.Type) string {
	if n.Kind != yaml.ScalarNode {
		return fmt.Sprintf("is a %s, but this field needs %s", kindName(n), typeName(t))
	}
	return fmt.Sprintf("%q is a %s, but this field needs %s", n.Value, kindName(n), typeName(t))
}

func kindName(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "mapping"
	case n.Kind == yaml.SequenceNode:
		return "list"
	case n.Tag == "!!int", n.Tag == "!!float":
		return "number"
	case n.Tag == "!!bool":
		return "boolean"
	}
	return "string"
}

func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	}
	return "a mapping"
}
