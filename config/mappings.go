package config

import (
	"fmt"
	"maps"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/godwit/godwit/mapping"
	"github.com/godwit/godwit/suggest"
)

// checkMappings checks each mapping's stores and shape (mapping.Spec.Check);
// what needs the live schemas (unknown columns, a dropped key) is checked
// at preflight.
func (s *Spec) checkMappings() FieldErrors {
	var errs FieldErrors
	for _, name := range slices.Sorted(maps.Keys(s.Mappings)) {
		m, path := s.Mappings[name], "mappings."+name
		if !gatePattern.MatchString(name) {
			errs = append(errs, FieldError{Path: path, Message: fmt.Sprintf("%q is not a valid mapping name: use letters, digits, '.', '_' or '-'", name)})
		}
		for _, f := range []struct{ field, store string }{{"from", m.From}, {"to", m.To}} {
			switch _, ok := s.Stores[f.store]; {
			case f.store == "":
				errs = append(errs, FieldError{Path: path + "." + f.field, Message: "is required: the name of a store in stores:"})
			case !ok:
				errs = append(errs, FieldError{Path: path + "." + f.field, Message: fmt.Sprintf("store %q is not in stores: (add it there with engine and dsn)%s", f.store, suggest.DidYouMean(f.store, slices.Sorted(maps.Keys(s.Stores))))})
			}
		}
		for _, p := range m.Check() {
			errs = append(errs, FieldError{Path: joinPath(path, p.Path), Message: p.Message})
		}
	}
	return errs
}

// Mapping returns the mapping a phase section names (`mapping: NAME`),
// reporting at field "mapping" of c's section when the spec has none of
// that name. A driver's Check calls it and keeps the result in its section,
// so the activity (which sees only its phase) has the mapping.
func (c *CheckContext) Mapping(name string) *mapping.Spec {
	m, ok := c.Spec.Mappings[name]
	if !ok {
		c.Errorf("mapping", "mapping %q is not in mappings:%s", name, suggest.DidYouMean(name, slices.Sorted(maps.Keys(c.Spec.Mappings))))
		return nil
	}
	return &m
}

// RefuseNonInvertible reports, at field "mapping", each rule of the named
// mapping that has no inverse (mapping.Spec.Invertible), for a driver that
// sets up reverse replication through it; the rule is named by its path.
func (c *CheckContext) RefuseNonInvertible(name, driver string) {
	m, ok := c.Spec.Mappings[name]
	if name == "" || !ok {
		return
	}
	for _, p := range m.Invertible() {
		c.Errorf("mapping", "%s sets up reverse replication (new → legacy) through the inverse of mapping %s, which has none: mappings.%s.%s: %s", driver, name, name, p.Path, p.Message)
	}
}

// MappingUser is a DriverSpec that takes `mapping: NAME`. Before any
// section is checked, the spec hands it the mapping it names, so that it
// knows its stores (the mapping's from and to) when the other phases'
// checks ask (a provision asks whether a later copy loads its store).
type MappingUser interface {
	MappingName() string
	TakeMapping(m *mapping.Spec)
}

// handMappings gives each MappingUser section the mapping it names.
func (s *Spec) handMappings() {
	for i := range s.Phases {
		mu, ok := s.Phases[i].Driver.(MappingUser)
		if !ok || mu.MappingName() == "" {
			continue
		}
		if m, ok := s.Mappings[mu.MappingName()]; ok {
			mu.TakeMapping(&m)
		}
	}
}

// keepAddOrder records, for each mapped table's add:, the order the spec
// writes its columns in (a map's keys have none): the target gets them in
// that order.
func keepAddOrder(root *yaml.Node, spec *Spec) {
	mappings := mapValue(docMapping(root), "mappings")
	if mappings == nil {
		return
	}
	for i := 0; i+1 < len(mappings.Content); i += 2 {
		name := mappings.Content[i].Value
		m, ok := spec.Mappings[name]
		if !ok {
			continue
		}
		tables := mapValue(mappings.Content[i+1], "tables")
		if tables == nil {
			continue
		}
		for j := 0; j+1 < len(tables.Content); j += 2 {
			key := tables.Content[j].Value
			t, ok := m.Tables[key]
			add := mapValue(tables.Content[j+1], "add")
			if !ok || add == nil {
				continue
			}
			t.AddOrder = nil
			for k := 0; k+1 < len(add.Content); k += 2 {
				t.AddOrder = append(t.AddOrder, add.Content[k].Value)
			}
			m.Tables[key] = t
		}
		spec.Mappings[name] = m
	}
}

// docMapping is the top mapping of a document node.
func docMapping(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		return n.Content[0]
	}
	return n
}

// mapValue is the value of key in mapping node n; nil when n is no mapping
// or has no such key.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
