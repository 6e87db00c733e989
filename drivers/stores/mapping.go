package stores

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/mapping"
)

// UseMapping resolves a section's `mapping: NAME` for its Check: the
// section's from, to and tables come from the mapping (a section that
// also writes them must agree with it), and the mapping is returned for
// the section to carry, since the activity sees only its phase. It returns
// nil when name is empty or names no mapping (reported).
func UseMapping(c *config.CheckContext, name string, from, to *string, tables *[]string) *mapping.Spec {
	if name == "" {
		return nil
	}
	m := c.Mapping(name)
	if m == nil {
		return nil
	}
	for _, f := range []struct {
		field string
		got   *string
		want  string
	}{{"from", from, m.From}, {"to", to, m.To}} {
		if *f.got != "" && *f.got != f.want {
			c.Errorf(f.field, "is %s but mapping %s maps from %s to %s: leave from and to out (the mapping names the stores)", *f.got, name, m.From, m.To)
		}
		*f.got = f.want
	}
	keys := make([]string, 0, len(m.Tables))
	for k := range m.Tables {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(*tables) > 0 && fmt.Sprint(*tables) != fmt.Sprint(keys) {
		c.Errorf("tables", "lists tables but mapping %s selects the tables itself: leave tables out", name)
	}
	*tables = keys
	return m
}

// CheckStoresOrMapping begins the Check of a section that takes
// `mapping:`: with a mapping, its from, to and tables are the mapping's
// (UseMapping; the mapping's stores are checked at the mapping); without
// one, from and to must name stores. It returns the mapping, and false
// when the section names a mapping the spec does not have (reported:
// nothing else of the section is worth checking).
func CheckStoresOrMapping(c *config.CheckContext, name string, from, to *string, tables *[]string) (*mapping.Spec, bool) {
	m := UseMapping(c, name, from, to, tables)
	if name != "" {
		return m, m != nil
	}
	CheckStoreRef(c, "from", *from)
	CheckStoreRef(c, "to", *to)
	return nil, true
}

// WrittenResources is Resources of the tables a section writes in store
// to: the mapping's target tables when it has one, else tables.
func WrittenResources(spec *config.Spec, to string, m *mapping.Spec, tables []string) []string {
	if m != nil {
		return Resources(spec, to, m.TargetPatterns())
	}
	return Resources(spec, to, tables)
}

// TakeMapping fills a section's empty from and to with the mapping's
// stores (config.MappingUser), before any section is checked.
func TakeMapping(m *mapping.Spec, from, to *string) {
	if *from == "" {
		*from = m.From
	}
	if *to == "" {
		*to = m.To
	}
}

// MappedTables resolves a mapping against the live source: every table it
// selects, mapped (target names, columns, computed columns, filter).
func MappedTables(ctx context.Context, src *datastore.Store, m *mapping.Spec) ([]mapping.Table, error) {
	names, err := src.ListTables(ctx)
	if err != nil {
		return nil, err
	}
	return m.ResolveAll(names, func(table string) (mapping.SourceTable, error) {
		t, err := src.Introspect(ctx, table)
		if err != nil {
			return mapping.SourceTable{}, err
		}
		return SourceTable(t), nil
	})
}

// MappedBySource is MappedTables by source table name (the shape
// datacopy and cdc take); nil for no mapping.
func MappedBySource(ctx context.Context, src *datastore.Store, m *mapping.Spec) (map[string]mapping.Table, error) {
	if m == nil {
		return nil, nil
	}
	tables, err := MappedTables(ctx, src, m)
	if err != nil {
		return nil, err
	}
	out := make(map[string]mapping.Table, len(tables))
	for _, t := range tables {
		out[t.Source] = t
	}
	return out, nil
}

// SourceTable is what a mapping needs to know of an introspected table.
func SourceTable(t *datastore.Table) mapping.SourceTable {
	st := mapping.SourceTable{Name: t.Name, Key: t.PrimaryKey}
	for _, c := range t.Columns {
		st.Columns = append(st.Columns, c.Name)
	}
	return st
}

// CastProblems are the casts of a mapped table that may change values
// (datastore.CastLoss) without saying lossy: true, as preflight problems.
func CastProblems(mappingName string, src *datastore.Table, m mapping.Table, target datastore.Engine) []string {
	var problems []string
	for _, c := range m.Columns {
		if c.Computed() || c.Type == "" {
			continue
		}
		sc := src.Column(c.Source)
		if sc == nil {
			continue
		}
		to := datastore.ParseType(target, c.Type)
		if datastore.SpatialType(src.Engine, sc.NativeType) && to.Kind != datastore.KindBytes {
			// Its value is binary (MySQL's stored form): a text column
			// refuses it whatever lossy says.
			problems = append(problems, fmt.Sprintf("mapping %s table %s: cast %s to %q cannot work: a %s value is MySQL's binary stored form (a 4-byte SRID, then WKB); cast it to %q (tables.%s.cast.%s.type)",
				mappingName, m.Source, c.Source, c.Type, sc.NativeType, datastore.SuggestedType(target, src.Engine, *sc, false), m.Source, c.Source))
			continue
		}
		if c.Lossy {
			continue
		}
		why := datastore.CastLoss(sc.Type, to)
		if sc.Type.Kind == datastore.KindUnsupported && strings.EqualFold(c.Type, datastore.SuggestedType(target, src.Engine, *sc, false)) {
			why = "" // the type provision's own refusal suggests as lossless (YEAR → smallint)
		}
		if why != "" {
			if sc.Type.Kind == datastore.KindUnsupported {
				// "of unsupported" told the user nothing: name the source's type.
				why = fmt.Sprintf("the source type %s has no portable kind, so Godwit cannot check that %s holds each of its values", sc.NativeType, c.Type)
			}
			problems = append(problems, fmt.Sprintf("mapping %s table %s: cast %s to %q may change values (%s): make sure it cannot, or say lossy: true (tables.%s.cast.%s.lossy)",
				mappingName, m.Source, c.Source, c.Type, why, m.Source, c.Source))
		}
	}
	return problems
}

// InverseByTarget is the inverse of each forward mapped table (by source
// name, as MappedBySource gives them), by target table name: the mapping
// reverse replication applies (cdc.RunOptions.Reversed). The source's
// NOT NULL columns with no default must come back (mapping.Table.Inverse);
// the error names each rule with no inverse. Nil for no mapping.
func InverseByTarget(ctx context.Context, src *datastore.Store, forward map[string]mapping.Table) (map[string]mapping.Table, error) {
	if len(forward) == 0 {
		return nil, nil
	}
	out := make(map[string]mapping.Table, len(forward))
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(forward)) {
		t, err := src.Introspect(ctx, name)
		if err != nil {
			return nil, err
		}
		inv, err := forward[name].Inverse(RequiredColumns(t))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[inv.Source] = inv
	}
	return out, errors.Join(errs...)
}

// RequiredColumns are the columns of t a row cannot be written without:
// NOT NULL, with no default and not generated by the engine.
func RequiredColumns(t *datastore.Table) []string {
	var out []string
	for _, c := range t.Columns {
		if !c.Nullable && c.Default == nil && !c.AutoIncrement {
			out = append(out, c.Name)
		}
	}
	return out
}
