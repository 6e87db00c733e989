package config

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

// strictDecoder decodes a YAML node into a struct the way encoding/json
// would, but refuses unknown keys, wrong types and duplicate keys, and keeps
// going after an error so a user sees every problem at once, each with its
// path. yaml.v3's own KnownFields mode stops at the first error and names Go
// types instead of field paths.
type strictDecoder struct {
	errs FieldErrors
	// explained lists the paths a decoding error accounts for beyond its
	// own: the field an unknown key was probably meant to be.
	explained []string
	// aborted is set when decoding gave up part-way (alias expansion), so
	// what was decoded is too partial to check.
	aborted bool
	// lines maps the path of every field, list item and map entry decoded
	// to its line, so checks made after decoding can point at it too.
	lines map[string]int
	// budget is how many more nodes decode may visit. Aliases let a small
	// document name the same node many times (phases: [*p, *p, ...], each
	// with a long command); the budget stops that from expanding without
	// bound. Zero means no limit.
	budget, visited int
	// zeros are the numbers written as 0 (see Spec.refuseWrittenZeros).
	zeros []writtenZero
}

// newStrictDecoder returns a decoder for a document of size bytes: a
// document without aliases has fewer nodes than bytes, so four nodes a byte
// leaves ample room for aliases used in earnest.
func newStrictDecoder(size int) *strictDecoder {
	return &strictDecoder{lines: map[string]int{}, budget: 1000 + 4*size}
}

// lineOf returns the line of path or, when the document lacks that field,
// of the nearest enclosing one that it has; 0 when none is known.
func (d *strictDecoder) lineOf(path string) int {
	for path != "" {
		if line, ok := d.lines[path]; ok {
			return line
		}
		path = path[:max(strings.LastIndexByte(path, '.'), strings.LastIndexByte(path, '['), 0)]
	}
	return 0
}

func (d *strictDecoder) mark(path string, n *yaml.Node) {
	if d.lines != nil {
		if _, ok := d.lines[path]; !ok {
			d.lines[path] = n.Line
		}
	}
}

// key returns the text of a mapping key, or false (having reported it) when
// the key is not a plain scalar or is a YAML merge key.
func (d *strictDecoder) key(path string, key *yaml.Node) (string, bool) {
	for key.Kind == yaml.AliasNode && key.Alias != nil {
		key = key.Alias
	}
	switch {
	case key.Kind != yaml.ScalarNode:
		d.fail(path, key, "a key must be text, not %s", kindName(key))
		return "", false
	case key.Tag == "!!merge":
		d.fail(joinPath(path, key.Value), key, "merge keys (<<) are not supported: write the fields out, or use defaults for settings shared by phases")
		return "", false
	}
	return key.Value, true
}

var durationType = reflect.TypeOf(Duration(0))

var yamlUnmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

func (d *strictDecoder) fail(path string, n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, FieldError{Path: path, Line: line, Message: fmt.Sprintf(format, args...)})
}

func (d *strictDecoder) decode(path string, n *yaml.Node, v reflect.Value) {
	if d.budget > 0 {
		if d.visited++; d.visited > d.budget {
			if d.visited == d.budget+1 {
				d.aborted = true
				d.fail(path, n, "the document's aliases expand to more than %d values; write the values out instead", d.budget)
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
	switch {
	case v.Type() == durationType:
		d.decodeDuration(path, n, v)
	case v.CanAddr() && v.Addr().Type().Implements(yamlUnmarshalerType):
		// A value with more than one written form (a driver's
		// `setWeight: 5` or `setWeight: {reads: 50}`) decodes itself;
		// its Check reports impossible values with their paths.
		if err := v.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(n); err != nil {
			d.fail(path, n, "%s", err.Error())
		}
	case v.Kind() == reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(path, n, v.Elem())
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

func (d *strictDecoder) decodeDuration(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.ScalarNode {
		d.fail(path, n, "must be a duration such as 30s, 5m or 1h30m, not %s", kindName(n))
		return
	}
	dur, err := time.ParseDuration(n.Value)
	if err != nil {
		d.fail(path, n, "%q is not a duration: write a number with a unit, such as 30s, 5m or 1h30m", n.Value)
		return
	}
	v.SetInt(int64(dur))
}

var secretRefType = reflect.TypeOf(SecretRef{})

func (d *strictDecoder) decodeStruct(path string, n *yaml.Node, v reflect.Value) {
	if v.Type() == secretRefType && n.Kind == yaml.ScalarNode {
		// Never echo the value: it is likely the secret itself.
		d.fail(path, n, "must not be written in the spec, where it would be stored in workflow history in plain text: "+
			"write {fromEnv: VAR} (a variable in the worker's environment) or {fromFile: PATH} (a file on the worker)")
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(path, n, "must be a mapping (key: value lines), not %s", kindName(n))
		return
	}
	fields := map[string]int{}
	var names []string
	for i := 0; i < v.NumField(); i++ {
		tag := strings.Split(v.Type().Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		fields[tag] = i
		names = append(names, tag)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		name, ok := d.key(path, key)
		if !ok {
			continue
		}
		sub := joinPath(path, name)
		if seen[name] {
			d.fail(sub, key, "is given twice")
			continue
		}
		seen[name] = true
		idx, ok := fields[name]
		if !ok && v.Type() == phaseSpecType {
			if f, isDriver := driverFactory(name); isDriver {
				d.mark(sub, key)
				d.decodeDriver(sub, key, val, v.Addr().Interface().(*PhaseSpec), name, f)
				continue
			}
		}
		if !ok {
			known := names
			if v.Type() == phaseSpecType {
				known = append(append([]string(nil), names...), DriverKeys()...)
			}
			c := suggest.Closest(name, known, suggest.Typo)
			d.fail(sub, key, "unknown field%s; known fields here: %s", suggest.Phrase(c), strings.Join(known, ", "))
			if c != "" {
				d.explained = append(d.explained, joinPath(path, c))
			}
			continue
		}
		d.mark(sub, key)
		d.decode(sub, val, v.Field(idx))
	}
}

var phaseSpecType = reflect.TypeOf(PhaseSpec{})

// decodeDriver decodes a phase's driver section into the registered
// driver's spec type. A phase has exactly one driver.
func (d *strictDecoder) decodeDriver(path string, key, n *yaml.Node, p *PhaseSpec, name string, f DriverFactory) {
	if p.Driver != nil {
		d.fail(path, key, "a phase has exactly one driver, and this one already has %s: split the work into two phases", p.DriverKey())
		return
	}
	spec := f()
	d.decode(path, n, reflect.ValueOf(spec))
	p.Driver = spec
}

func (d *strictDecoder) decodeSlice(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		d.fail(path, n, "must be a list (\"- item\" lines or [a, b]), not %s", kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		sub := fmt.Sprintf("%s[%d]", path, i)
		d.mark(sub, item)
		d.decode(sub, item, s.Index(i))
	}
	v.Set(s)
}

func (d *strictDecoder) decodeMap(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.fail(path, n, "must be a mapping (key: value lines), not %s", kindName(n))
		return
	}
	if len(n.Content) == 0 {
		return // leave nil: {} means the same as nothing, and survives JSON
	}
	m := reflect.MakeMap(v.Type())
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		name, ok := d.key(path, key)
		if !ok {
			continue
		}
		sub := joinPath(path, name)
		k := reflect.ValueOf(name).Convert(v.Type().Key())
		if m.MapIndex(k).IsValid() {
			d.fail(sub, key, "is given twice")
			continue
		}
		d.mark(sub, key)
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(sub, val, elem)
		m.SetMapIndex(k, elem)
	}
	v.Set(m)
}

func (d *strictDecoder) decodeScalar(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.ScalarNode {
		d.fail(path, n, "must be a single value, not %s", kindName(n))
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
			d.fail(path, n, "must be text, not %s %s", what, n.Value)
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if err != nil || n.Tag != "!!bool" {
			d.fail(path, n, "must be true or false, not %q", n.Value)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil {
			d.fail(path, n, "must be a whole number, not %q", n.Value)
			return
		}
		v.SetInt(i)
		if i == 0 {
			d.zeros = append(d.zeros, writtenZero{path: path, v: v})
		}
	case reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			d.fail(path, n, "must be a number, not %q", n.Value)
			return
		}
		// NaN and infinities would pass the range checks and then fail to
		// marshal as the workflow's JSON input.
		if math.IsNaN(f) || math.IsInf(f, 0) {
			d.fail(path, n, "must be a finite number, not %q", n.Value)
			return
		}
		v.SetFloat(f)
		if f == 0 {
			d.zeros = append(d.zeros, writtenZero{path: path, v: v})
		}
	default:
		d.fail(path, n, "cannot be decoded into %s", v.Type())
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("the value %q", n.Value)
	}
}
