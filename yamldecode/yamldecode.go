// Package yamldecode walks a YAML document into Go values by their yaml
// tags, the one way Godwit reads what people write: the spec, descriptions
// and the gateway's configuration. Each problem is a FieldError with the
// field path (for example "routes[0].weights.read") and line, worded for a
// person rather than in Go types; an unknown field is an error or a
// warning, as the caller decides, with the known field it probably meant.
// Decoding goes on after a problem, so one run shows every mistake.
//
// It sits at the bottom of the import graph (the standard library, yaml.v3
// and suggest only), so every reader can use it.
package yamldecode

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/godwit/godwit/suggest"
)

// FieldError is one problem in a document, located by its field path
// (for example "phases[2].hook.run.timeout") and line.
type FieldError struct {
	Path    string
	Line    int
	Message string
}

func (e FieldError) Error() string {
	loc := e.Path
	if loc == "" {
		loc = "(document)"
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s (line %d): %s", loc, e.Line, e.Message)
	}
	return fmt.Sprintf("%s: %s", loc, e.Message)
}

// FieldErrors is every problem found in a document, in document order.
type FieldErrors []FieldError

func (es FieldErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Decoder decodes YAML nodes into Go values. Its zero value is not ready:
// use New. The hooks let a reader add what only its document has (the
// spec's driver sections, its secret references) on top of the shared walk.
type Decoder struct {
	// Warn makes an unknown field a warning (in Warnings, the value left
	// out) instead of an error: for documents other tools write too.
	Warn bool
	// MaxEdits is how far a known field name may be from an unknown one
	// and still be offered as what was meant (default suggest.Typo).
	MaxEdits func(name string) int
	// Value, when set, is offered every value first and returns true when
	// it decoded it (or reported why not).
	Value func(d *Decoder, path string, n *yaml.Node, v reflect.Value) bool
	// Field, when set, is offered every key a struct has no field for and
	// returns true when it decoded it.
	Field func(d *Decoder, path string, key, val *yaml.Node, v reflect.Value, name string) bool
	// Known, when set, returns the field names to list for a struct of
	// type t whose tagged fields are names.
	Known func(t reflect.Type, names []string) []string
	// Zero, when set, is told of every number written as 0.
	Zero func(path string, v reflect.Value)
	// Mismatch, when set, words the problem of a value n that a value of
	// type t cannot hold, instead of "must be ..., not ...": for readers
	// whose users already know another wording.
	Mismatch func(n *yaml.Node, t reflect.Type) string

	// Errs are the problems found, in the order met.
	Errs FieldErrors
	// Warnings are the unknown fields left out when Warn is set.
	Warnings FieldErrors
	// Explained lists the paths a decoding error accounts for beyond its
	// own: the field an unknown key was probably meant to be.
	Explained []string
	// Aborted is set when decoding gave up part-way (alias expansion), so
	// what was decoded is too partial to check.
	Aborted bool

	// lines maps the path of every field, list item and map entry decoded
	// to its line, so checks made after decoding can point at it too.
	lines map[string]int
	// budget is how many more nodes decode may visit. Aliases let a small
	// document name the same node many times (phases: [*p, *p, ...], each
	// with a long command); the budget stops that from expanding without
	// bound. Zero means no limit.
	budget, visited int
}

// New returns a decoder for a document of size bytes: a document without
// aliases has fewer nodes than bytes, so four nodes a byte leaves ample
// room for aliases used in earnest.
func New(size int) *Decoder {
	return &Decoder{lines: map[string]int{}, budget: 1000 + 4*size}
}

// Unmarshal parses data, one YAML (or JSON) document, and decodes it into
// v, a pointer, with d. A document that is not YAML at all is one
// FieldError with the line yaml.v3 names.
func (d *Decoder) Unmarshal(data []byte, v any) error {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return FieldErrors{SyntaxError(err)}
	}
	d.Decode("", &root, reflect.ValueOf(v).Elem())
	if len(d.Errs) > 0 {
		return d.Errs
	}
	return nil
}

// SyntaxError turns yaml.v3's parse error into a FieldError at its line.
func SyntaxError(err error) FieldError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, text, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(num); err == nil {
				if text == "found character that cannot start any token" {
					// Nearly always a tab: yaml.v3 does not say so.
					text += " (a tab? YAML indents with spaces only)"
				}
				return FieldError{Line: line, Message: "not valid YAML: " + text}
			}
		}
	}
	return FieldError{Message: "not valid YAML: " + msg}
}

// Line returns the line of path or, when the document lacks that field,
// of the nearest enclosing one that it has; 0 when none is known.
func (d *Decoder) Line(path string) int {
	for path != "" {
		if line, ok := d.lines[path]; ok {
			return line
		}
		path = path[:max(strings.LastIndexByte(path, '.'), strings.LastIndexByte(path, '['), 0)]
	}
	return 0
}

// Has says whether the document has path (a field, list item or map entry
// that was decoded).
func (d *Decoder) Has(path string) bool {
	_, ok := d.lines[path]
	return ok
}

// Mark records that path is at n's line.
func (d *Decoder) Mark(path string, n *yaml.Node) {
	if d.lines != nil {
		if _, ok := d.lines[path]; !ok {
			d.lines[path] = n.Line
		}
	}
}

// Fail reports a problem at path, on n's line.
func (d *Decoder) Fail(path string, n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.Errs = append(d.Errs, FieldError{Path: path, Line: line, Message: fmt.Sprintf(format, args...)})
}

// mismatch reports that v cannot hold n, in the words of format and args
// unless the reader words it itself.
func (d *Decoder) mismatch(path string, n *yaml.Node, v reflect.Value, format string, args ...any) {
	if d.Mismatch != nil {
		d.Fail(path, n, "%s", d.Mismatch(n, v.Type()))
		return
	}
	d.Fail(path, n, format, args...)
}

// key returns the text of a mapping key, or false (having reported it) when
// the key is not a plain scalar or is a YAML merge key.
func (d *Decoder) key(path string, key *yaml.Node) (string, bool) {
	for key.Kind == yaml.AliasNode && key.Alias != nil {
		key = key.Alias
	}
	switch {
	case key.Kind != yaml.ScalarNode:
		d.Fail(path, key, "a key must be text, not %s", KindName(key))
		return "", false
	case key.Tag == "!!merge":
		d.Fail(JoinPath(path, key.Value), key, "merge keys (<<) are not supported: write the fields out, or use defaults for settings shared by phases")
		return "", false
	}
	return key.Value, true
}

var (
	durationType        = reflect.TypeOf(time.Duration(0))
	yamlUnmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
)

// Decode decodes n, found at path, into v.
func (d *Decoder) Decode(path string, n *yaml.Node, v reflect.Value) {
	if d.budget > 0 {
		if d.visited++; d.visited > d.budget {
			if d.visited == d.budget+1 {
				d.Aborted = true
				d.Fail(path, n, "the document's aliases expand to more than %d values; write the values out instead", d.budget)
			}
			return
		}
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		n = n.Content[0]
	}
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // leave the zero value; required checks come later
	}
	if d.Value != nil && d.Value(d, path, n, v) {
		return
	}
	switch {
	case v.Type() == durationType:
		d.DecodeDuration(path, n, v)
	case v.CanAddr() && v.Addr().Type().Implements(yamlUnmarshalerType):
		// A value with more than one written form (a driver's
		// `setWeight: 5` or `setWeight: {reads: 50}`) decodes itself;
		// its Check reports impossible values with their paths.
		if err := v.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(n); err != nil {
			d.Fail(path, n, "%s", err.Error())
		}
	case v.Kind() == reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.Decode(path, n, v.Elem())
	case v.Kind() == reflect.Interface && v.NumMethod() == 0:
		// Free-form content (an example value, a note): yaml.v3's own
		// reading is the right one.
		var x any
		if err := n.Decode(&x); err != nil {
			d.Fail(path, n, "%s", err.Error())
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
	case v.Kind() == reflect.Struct:
		d.decodeStruct(path, n, v)
	case v.Kind() == reflect.Slice:
		d.decodeSlice(path, n, v)
	case v.Kind() == reflect.Map:
		d.decodeMap(path, n, v)
	default:
		d.decodeScalar(path, n, v)
	}
}

// DecodeDuration decodes a duration written as Go does (30s, 5m, 1h30m)
// into v, an integer kind counting nanoseconds.
func (d *Decoder) DecodeDuration(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.ScalarNode {
		d.Fail(path, n, "must be a duration such as 30s, 5m or 1h30m, not %s", KindName(n))
		return
	}
	dur, err := time.ParseDuration(n.Value)
	if err != nil {
		d.Fail(path, n, "%q is not a duration: write a number with a unit, such as 30s, 5m or 1h30m", n.Value)
		return
	}
	v.SetInt(int64(dur))
}

// FieldNames returns the yaml names of t's tagged fields, in order.
func FieldNames(t reflect.Type) []string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		if tag := tagName(t.Field(i)); tag != "" {
			names = append(names, tag)
		}
	}
	return names
}

func tagName(f reflect.StructField) string {
	tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if tag == "-" {
		return ""
	}
	return tag
}

func (d *Decoder) decodeStruct(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.mismatch(path, n, v, "must be a mapping (key: value lines), not %s", KindName(n))
		return
	}
	fields := map[string]int{}
	for i := 0; i < v.NumField(); i++ {
		if tag := tagName(v.Type().Field(i)); tag != "" {
			fields[tag] = i
		}
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		name, ok := d.key(path, key)
		if !ok {
			continue
		}
		sub := JoinPath(path, name)
		if seen[name] {
			d.Fail(sub, key, "is given twice")
			continue
		}
		seen[name] = true
		idx, ok := fields[name]
		if !ok && d.Field != nil && d.Field(d, sub, key, val, v, name) {
			continue
		}
		if !ok {
			d.unknown(path, sub, key, name, v.Type())
			continue
		}
		d.Mark(sub, key)
		d.Decode(sub, val, v.Field(idx))
	}
}

// unknown reports the key name, at sub in the struct of type t at path,
// that t has no field for.
func (d *Decoder) unknown(path, sub string, key *yaml.Node, name string, t reflect.Type) {
	known := FieldNames(t)
	if d.Known != nil {
		known = d.Known(t, known)
	}
	maxEdits := suggest.Typo
	if d.MaxEdits != nil {
		maxEdits = d.MaxEdits(name)
	}
	c := suggest.Closest(name, known, maxEdits)
	msg := "unknown field" + suggest.Phrase(c) + "; known fields here: " + strings.Join(known, ", ")
	if d.Warn {
		d.Mark(sub, key)
		d.Warnings = append(d.Warnings, FieldError{Path: sub, Line: key.Line, Message: msg + "; ignored"})
		return
	}
	d.Fail(sub, key, "%s", msg)
	if c != "" {
		d.Explained = append(d.Explained, JoinPath(path, c))
	}
}

func (d *Decoder) decodeSlice(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		d.mismatch(path, n, v, "must be a list (\"- item\" lines or [a, b]), not %s", KindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		sub := fmt.Sprintf("%s[%d]", path, i)
		d.Mark(sub, item)
		d.Decode(sub, item, s.Index(i))
	}
	v.Set(s)
}

func (d *Decoder) decodeMap(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.mismatch(path, n, v, "must be a mapping (key: value lines), not %s", KindName(n))
		return
	}
	if len(n.Content) == 0 {
		return // leave nil: {} means the same as nothing, and survives JSON
	}
	if v.Type().Key().Kind() != reflect.String {
		d.Fail(path, n, "cannot be decoded into %s", v.Type())
		return
	}
	m := reflect.MakeMap(v.Type())
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		name, ok := d.key(path, key)
		if !ok {
			continue
		}
		sub := JoinPath(path, name)
		k := reflect.ValueOf(name).Convert(v.Type().Key())
		if m.MapIndex(k).IsValid() {
			d.Fail(sub, key, "is given twice")
			continue
		}
		d.Mark(sub, key)
		elem := reflect.New(v.Type().Elem()).Elem()
		d.Decode(sub, val, elem)
		m.SetMapIndex(k, elem)
	}
	v.Set(m)
}

func (d *Decoder) decodeScalar(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.ScalarNode {
		d.mismatch(path, n, v, "must be a single value, not %s", KindName(n))
		return
	}
	switch v.Kind() {
	case reflect.String:
		// Quoted or not, YAML scalars are text here; but a bare number or
		// boolean where text is expected is almost always a mistake in a name.
		if n.Style == 0 && (n.Tag == "!!int" || n.Tag == "!!float" || n.Tag == "!!bool") && v.Type().Name() != "string" {
			what := "the number"
			if n.Tag == "!!bool" {
				what = "the boolean"
			}
			d.mismatch(path, n, v, "must be text, not %s %s", what, n.Value)
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if err != nil || n.Tag != "!!bool" {
			d.mismatch(path, n, v, "must be true or false, not %q", n.Value)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil {
			d.mismatch(path, n, v, "must be a whole number, not %q", n.Value)
			return
		}
		if v.OverflowInt(i) {
			d.Fail(path, n, "%s is too large for this field", n.Value)
			return
		}
		v.SetInt(i)
		if i == 0 && d.Zero != nil {
			d.Zero(path, v)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u, err := strconv.ParseUint(n.Value, 10, 64)
		if err != nil {
			d.mismatch(path, n, v, "must be a whole number, 0 or more, not %q", n.Value)
			return
		}
		if v.OverflowUint(u) {
			d.Fail(path, n, "%s is too large for this field", n.Value)
			return
		}
		v.SetUint(u)
		if u == 0 && d.Zero != nil {
			d.Zero(path, v)
		}
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			d.mismatch(path, n, v, "must be a number, not %q", n.Value)
			return
		}
		// NaN and infinities would pass the range checks and then fail to
		// marshal as JSON (the workflow's input, an API's answer).
		if math.IsNaN(f) || math.IsInf(f, 0) {
			d.Fail(path, n, "must be a finite number, not %q", n.Value)
			return
		}
		v.SetFloat(f)
		if f == 0 && d.Zero != nil {
			d.Zero(path, v)
		}
	default:
		d.Fail(path, n, "cannot be decoded into %s", v.Type())
	}
}

// JoinPath returns the path of field key inside path.
func JoinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// KindName names what n is, for a message: "a mapping", "a list" or the
// value itself.
func KindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("the value %q", n.Value)
	}
}
