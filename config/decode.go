package config

import (
	"reflect"

	"gopkg.in/yaml.v3"

	"github.com/godwit/godwit/yamldecode"
)

// FieldError is one problem in a document, located by its field path
// (for example "phases[2].hook.run.timeout") and line: yamldecode's, so
// every document Godwit reads reports problems the same way.
type FieldError = yamldecode.FieldError

// FieldErrors is every problem found in a document, in document order.
type FieldErrors = yamldecode.FieldErrors

// strictDecoder is yamldecode's decoder, strict (an unknown field is an
// error), with what only the spec has: durations written as text, secret
// references that must not hold the secret, a phase's driver section
// decoded into the registered driver's type, and the numbers written as 0
// (see Spec.refuseWrittenZeros).
type strictDecoder struct {
	*yamldecode.Decoder
	// zeros are the numbers written as 0.
	zeros []writtenZero
}

// newStrictDecoder returns a decoder for a document of size bytes.
func newStrictDecoder(size int) *strictDecoder {
	d := &strictDecoder{Decoder: yamldecode.New(size)}
	d.Value = specValue
	d.Field = driverSection
	d.Known = withDriverKeys
	d.Zero = func(path string, v reflect.Value) {
		d.zeros = append(d.zeros, writtenZero{path: path, v: v})
	}
	return d
}

var (
	durationType  = reflect.TypeOf(Duration(0))
	secretRefType = reflect.TypeOf(SecretRef{})
	phaseSpecType = reflect.TypeOf(PhaseSpec{})
)

// specValue decodes the spec's own kinds of value, and leaves the rest to
// yamldecode.
func specValue(d *yamldecode.Decoder, path string, n *yaml.Node, v reflect.Value) bool {
	switch {
	case v.Type() == durationType:
		d.DecodeDuration(path, n, v)
		return true
	case v.Type() == secretRefType && n.Kind == yaml.ScalarNode:
		// Never echo the value: it is likely the secret itself.
		d.Fail(path, n, "must not be written in the spec, where it would be stored in workflow history in plain text: "+
			"write {fromEnv: VAR} (a variable in the worker's environment) or {fromFile: PATH} (a file on the worker)")
		return true
	}
	return false
}

// driverSection decodes a phase's driver section (a key a PhaseSpec has no
// field for but a registered driver has) into the driver's spec type. A
// phase has exactly one driver.
func driverSection(d *yamldecode.Decoder, path string, key, n *yaml.Node, v reflect.Value, name string) bool {
	if v.Type() != phaseSpecType {
		return false
	}
	f, isDriver := driverFactory(name)
	if !isDriver {
		return false
	}
	d.Mark(path, key)
	p := v.Addr().Interface().(*PhaseSpec)
	if p.Driver != nil {
		d.Fail(path, key, "a phase has exactly one driver, and this one already has %s: split the work into two phases", p.DriverKey())
		return true
	}
	spec := f()
	d.Decode(path, n, reflect.ValueOf(spec))
	p.Driver = spec
	return true
}

// withDriverKeys lists a phase's driver keys among its known fields.
func withDriverKeys(t reflect.Type, names []string) []string {
	if t == phaseSpecType {
		return append(append([]string(nil), names...), DriverKeys()...)
	}
	return names
}

func joinPath(path, key string) string { return yamldecode.JoinPath(path, key) }
