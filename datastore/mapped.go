package datastore

import (
	"context"
	"fmt"
	"strings"

	"github.com/godwit/godwit/mapping"
)

// MapTable returns what a copy reads and writes for a mapped table: src as
// the source reads it (carried columns under their source names, computed
// ones as their expression with the target column's type, the mapping's
// filter as Where) and dst projected on the target's names in the same
// order, so that rows pair by position. src and dst are the introspected
// source and target tables; the target table is m.Target.
func MapTable(src, dst *Table, m mapping.Table) (view, target *Table, err error) {
	if view, err = SourceView(src, m); err != nil {
		return nil, nil, err
	}
	for i, c := range view.Columns {
		if c.Expr == "" {
			continue
		}
		tc := dst.Column(c.Name)
		if tc == nil {
			return nil, nil, fmt.Errorf("map %s: %w: computed column %q is not in target table %s", src.Name, ErrShapeMismatch, c.Name, dst.Name)
		}
		view.Columns[i].Type = tc.Type
	}
	target, err = dst.Project(m.TargetColumns())
	if err != nil {
		return nil, nil, fmt.Errorf("map %s onto %s: %w", src.Name, dst.Name, err)
	}
	if len(src.PrimaryKey) > 0 && strings.Join(m.Key, ",") != strings.Join(dst.PrimaryKey, ",") {
		return nil, nil, fmt.Errorf("map %s onto %s: %w: the source key maps to (%s) but the target's key is (%s)",
			src.Name, dst.Name, ErrShapeMismatch, strings.Join(m.Key, ", "), strings.Join(dst.PrimaryKey, ", "))
	}
	return view, target, nil
}

// SourceView is src as a mapped copy reads it: carried columns under
// their source names, computed ones as expressions (their type is the
// target column's, which MapTable fills in), the filter as Where.
func SourceView(src *Table, m mapping.Table) (*Table, error) {
	view := &Table{Name: src.Name, Engine: src.Engine, PrimaryKey: src.PrimaryKey,
		ForeignKeys: src.ForeignKeys, Where: m.Where, Mapped: true}
	for _, mc := range m.Columns {
		if !mc.Computed() {
			c := src.Column(mc.Source)
			if c == nil {
				return nil, fmt.Errorf("map %s: %w: no column %q on the source", src.Name, ErrShapeMismatch, mc.Source)
			}
			view.Columns = append(view.Columns, *c)
			continue
		}
		if src.Column(mc.Target) != nil {
			return nil, fmt.Errorf("map %s: %w: computed column %q has the name of a source column: give it another name", src.Name, mapping.ErrMapping, mc.Target)
		}
		view.Columns = append(view.Columns, Column{Name: mc.Target, Type: Type{Kind: KindUnsupported}, Nullable: true, Expr: mc.Expr})
	}
	return view, nil
}

// CompileMapped has the store compile each expression and the filter of a
// mapped view on its own (LIMIT 0 reads, no row read), so that each
// problem names what is wrong: "add.LineTotal: ..." or "where: ...".
func (s *Store) CompileMapped(ctx context.Context, view *Table) []error {
	var errs []error
	try := func(what, sel, where string) {
		q := "SELECT " + sel + " FROM " + s.d.quote(view.Name)
		if where != "" {
			q += " WHERE " + where
		}
		rows, err := s.DB.QueryContext(ctx, q+" LIMIT 0")
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w: %v", what, mapping.ErrMapping, err))
			return
		}
		rows.Close()
	}
	for _, c := range view.Columns {
		if c.Expr != "" {
			try(fmt.Sprintf("add.%s (expr %q)", c.Name, c.Expr), s.columnExpr(c), "")
		}
	}
	if view.Where != "" {
		try(fmt.Sprintf("where %q", view.Where), "1", view.Where)
	}
	return errs
}

// columnExpr is how a read selects column c: its quoted name, or its
// expression in a mapped view (ComputedExpr).
func (s *Store) columnExpr(c Column) string {
	if c.Expr != "" {
		return ComputedExpr(s.Engine, c.Expr, c.Type)
	}
	return s.d.quote(c.Name)
}

// ComputedExpr is how engine e reads a mapping's computed column of
// target type t: its expression in parentheses, converted by the source
// engine to t when t is a decimal of declared precision — rounded to the
// target's scale as the target rounds a value written into it. The copy
// (every path), change capture and reconcile all read it so, so they see
// the value the target holds: `price * 1.2` into a decimal(12,2) is
// rounded, not refused on one path, rounded silently on another and
// reported mismatched by reconcile on every row.
//
// An integer target is converted the same way (rounded by the source
// engine): `amount * 100` over a decimal(5,2) reads "299.00", which no
// integer column takes as text, so without it the copy stops at the
// first row although every value is whole.
func ComputedExpr(e Engine, expr string, t Type) string {
	x := "(" + expr + ")"
	if pg, my, ok := integerCast(t.Kind); ok {
		switch e {
		case Postgres:
			return fmt.Sprintf("(%s::%s)", x, pg)
		case MySQL:
			return fmt.Sprintf("CAST(%s AS %s)", x, my)
		}
		return x
	}
	if t.Kind != KindDecimal || t.Precision <= 0 {
		return x
	}
	switch e {
	case Postgres:
		return fmt.Sprintf("(%s::numeric(%d,%d))", x, t.Precision, t.Scale)
	case MySQL:
		if t.Precision <= 65 && t.Scale <= 30 {
			return fmt.Sprintf("CAST(%s AS DECIMAL(%d,%d))", x, t.Precision, t.Scale)
		}
	}
	return x
}

// integerCast names the conversion of a computed value into an integer
// kind on PostgreSQL and on MySQL/MariaDB (whose CAST has one signed
// integer type; the target refuses a value out of its own range).
func integerCast(k Kind) (pg, my string, ok bool) {
	switch k {
	case KindSmallInt:
		return "smallint", "SIGNED", true
	case KindInt:
		return "integer", "SIGNED", true
	case KindBigInt:
		return "bigint", "SIGNED", true
	}
	return "", "", false
}

// selectList is the columns of t as a read selects them, joined.
func (s *Store) selectList(t *Table) string {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = s.columnExpr(c)
	}
	return strings.Join(cols, ", ")
}

// SelectNamed is the columns of t as a read selects them, each named by
// its column's name (a computed column's expression under its target
// name): the select list of a derived table over a mapped view.
func (s *Store) SelectNamed(t *Table) []string {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = s.columnExpr(c) + " AS " + s.d.quote(c.Name)
	}
	return cols
}

// TargetTable is the table provision creates for a mapped source table:
// the mapping's target name, its columns renamed (computed and cast ones
// with their declared type, returned as type overrides keyed
// "Table.Column" in the target's terms), the key, the indexes and the
// foreign keys renamed. others maps the other mapped tables by source
// name, so a foreign key to one of them names its target table. What the
// mapping leaves out (an index or foreign key over a dropped column) is
// said in notes.
func TargetTable(src *Table, m mapping.Table, others map[string]mapping.Table) (t *Table, overrides map[string]string, notes []string) {
	t = &Table{Name: m.Target, Engine: src.Engine, PrimaryKey: m.Key, Skipped: src.Skipped,
		MappedFrom: src.Name, SourceColumns: map[string]string{}}
	overrides = map[string]string{}
	for _, mc := range m.Columns {
		if mc.Computed() {
			t.Columns = append(t.Columns, Column{Name: mc.Target, Nullable: true, Type: Type{Kind: KindUnsupported}})
			overrides[m.Target+"."+mc.Target] = mc.Type
			continue
		}
		c := *src.Column(mc.Source)
		c.Name = mc.Target
		t.SourceColumns[mc.Target] = mc.Source
		t.Columns = append(t.Columns, c)
		if mc.Type != "" {
			overrides[m.Target+"."+mc.Target] = mc.Type
		}
	}
	rename := func(tm mapping.Table, cols []string) ([]string, bool) {
		out := make([]string, len(cols))
		for i, c := range cols {
			dst, ok := tm.TargetOf(c)
			if !ok {
				return nil, false
			}
			out[i] = dst
		}
		return out, true
	}
	for _, idx := range src.Indexes {
		cols, ok := rename(m, idx.Columns)
		if !ok {
			notes = append(notes, fmt.Sprintf("%s: index %s not carried: a column of it is dropped by the mapping", m.Target, idx.Name))
			continue
		}
		t.Indexes = append(t.Indexes, Index{Name: idx.Name, Columns: cols, Unique: idx.Unique, Method: idx.Method})
	}
	for _, fk := range src.ForeignKeys {
		cols, ok := rename(m, fk.Columns)
		if !ok {
			notes = append(notes, fmt.Sprintf("%s: foreign key %s not carried: a column of it is dropped by the mapping", m.Target, fk.Name))
			continue
		}
		out := fk
		out.Columns = cols
		if ref, mapped := others[fk.RefTable]; mapped {
			if ref.Where != "" {
				// The filter may leave out a parent whose children the
				// mapping carries: such a copy would not validate, and a
				// parent the source moves out of the filter later could not
				// be deleted on the target (change capture would stop there
				// for good, found by the music-store trial).
				notes = append(notes, fmt.Sprintf("%s: foreign key %s not carried: its parent table %s is filtered (where: %s), so a row of %s may reference one the mapping leaves out, and a parent moved out of the filter could not be deleted on the target", m.Target, fk.Name, fk.RefTable, ref.Where, m.Target))
				continue
			}
			refCols, ok := rename(ref, fk.RefColumns)
			if !ok {
				notes = append(notes, fmt.Sprintf("%s: foreign key %s not carried: a referenced column is dropped by the mapping", m.Target, fk.Name))
				continue
			}
			out.RefTable, out.RefColumns = ref.Target, refCols
		}
		t.ForeignKeys = append(t.ForeignKeys, out)
	}
	return t, overrides, notes
}

// ParseType reads a type as written for engine e ("decimal(12,2)",
// "VARCHAR(40)", "bigint") into a Type, as introspection would.
func ParseType(e Engine, native string) Type {
	n := strings.TrimSpace(native)
	if n == "" {
		return Type{Kind: KindUnsupported}
	}
	switch e {
	case Postgres:
		return postgresType(postgresCanonical(strings.ToLower(n)))
	case MySQL:
		return mysqlType(strings.ToLower(n))
	}
	return sqliteType(n)
}

// postgresAliases are the short names PostgreSQL accepts for its types,
// spelt as format_type (what introspection reads, and postgresType knows)
// spells them: a mapping's `type: varchar(20)` for a PostgreSQL target is
// character varying(20), not a type Godwit does not know.
var postgresAliases = map[string]string{
	"varchar": "character varying", "char": "character", "bpchar": "character",
	"int": "integer", "int4": "integer", "int2": "smallint", "int8": "bigint",
	"decimal": "numeric", "float4": "real", "float8": "double precision", "float": "double precision",
	"bool": "boolean", "timestamp": "timestamp without time zone", "timestamptz": "timestamp with time zone",
}

// postgresCanonical rewrites a type written with an alias (lower case) to
// format_type's spelling, keeping its arguments: varchar(20) → character
// varying(20), timestamp(3) → timestamp(3) without time zone.
func postgresCanonical(n string) string {
	base, rest, _ := strings.Cut(n, "(")
	base = strings.TrimSpace(base)
	full, ok := postgresAliases[base]
	if !ok {
		return n
	}
	if rest == "" {
		return full
	}
	if _, after, _ := strings.Cut(rest, ")"); strings.TrimSpace(after) != "" {
		return n // spelt out already: timestamp(3) without time zone
	}
	if strings.HasPrefix(full, "timestamp ") { // the precision goes after timestamp
		return "timestamp(" + rest + strings.TrimPrefix(full, "timestamp")
	}
	return full + "(" + rest
}

// CastLoss says how a value of type from may be changed by a column of
// type to: "" when every value fits unchanged (a wider integer or decimal,
// a longer string, any value into text), else why not ("decimal(10,2) does
// not fit every value of text"). A mapping's cast: that loses is refused
// unless it says lossy: true.
func CastLoss(from, to Type) string {
	if from == to {
		return ""
	}
	intRank := map[Kind]int{KindSmallInt: 1, KindInt: 2, KindBigInt: 3}
	text := to.Kind == KindText || to.Kind == KindVarchar
	switch {
	case to.Kind == KindText:
		return "" // every value has a text form
	case intRank[from.Kind] > 0 && intRank[to.Kind] >= intRank[from.Kind]:
		return ""
	case intRank[from.Kind] > 0 && to.Kind == KindDecimal && (to.Precision == 0 || to.Precision-to.Scale >= map[Kind]int{KindSmallInt: 5, KindInt: 10, KindBigInt: 19}[from.Kind]):
		return ""
	case from.Kind == KindDecimal && to.Kind == KindDecimal && (to.Precision == 0 || from.Precision > 0 && to.Scale >= from.Scale && to.Precision-to.Scale >= from.Precision-from.Scale):
		return ""
	case from.Kind == KindFloat && to.Kind == KindDouble:
		return ""
	case from.Kind == KindVarchar && text && (to.Length == 0 || to.Length >= from.Length):
		return ""
	case (from.Kind == KindTimestamp || from.Kind == KindTimestampTZ) && to.Kind == from.Kind && to.FractionDigits() >= from.FractionDigits(),
		from.Kind == KindDate && to.Kind == KindDate:
		return ""
	}
	return fmt.Sprintf("%s does not hold every value of %s", to, from)
}
