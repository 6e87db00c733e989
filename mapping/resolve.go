package mapping

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/godwit/godwit/glob"
	"github.com/godwit/godwit/suggest"
)

// SourceTable is what resolution needs to know of a source table.
type SourceTable struct {
	Name    string
	Columns []string // in the table's order
	Key     []string // primary key columns
}

// Table is a mapped table: how rows of Source become rows of Target.
type Table struct {
	Source string `json:"source"`
	Target string `json:"target"`
	// Columns are the target's columns in order: carried source columns
	// (renamed or not) in the source's order, then computed ones by name.
	Columns []Column `json:"columns"`
	// Key is the primary key by target names, in key order.
	Key []string `json:"key,omitempty"`
	// Where is the source-side row filter ("" : every row).
	Where string `json:"where,omitempty"`
	// Restored are the dropped source columns an added column's inverse
	// gives back: Target is the source column, Expr the SQL over the target
	// row (in the target's dialect). Only Inverse reads them.
	Restored []Column `json:"restored,omitempty"`
}

// Column is one target column and where its value comes from.
type Column struct {
	// Source is the source column carried; "" for a computed column.
	Source string `json:"source,omitempty"`
	Target string `json:"target"`
	// Expr computes the value on the source (SQL in its dialect).
	Expr string `json:"expr,omitempty"`
	// Type is the declared target type of a computed or cast column ("":
	// the source column's type, as provision translates it).
	Type  string `json:"type,omitempty"`
	Lossy bool   `json:"lossy,omitempty"`
	// Inverse, on a cast column, is the SQL over the target row (in the
	// target's dialect) that gives the source column back.
	Inverse string `json:"inverse,omitempty"`
}

// Computed reports whether the column is computed from an expression.
func (c Column) Computed() bool { return c.Expr != "" }

// Identity is the mapping of a table onto a table of the same name with
// the same columns: what an unmapped copy or check does.
func Identity(t SourceTable) Table {
	return Table{Source: t.Name, Target: t.Name, Columns: identityColumns(t.Columns), Key: append([]string(nil), t.Key...)}
}

func identityColumns(names []string) []Column {
	out := make([]Column, len(names))
	for i, n := range names {
		out[i] = Column{Source: n, Target: n}
	}
	return out
}

// Renamed reports whether any name differs from the source's or any
// column is computed, dropped or filtered: whether the table needs the
// mapping at all.
func (t Table) Renamed() bool {
	if t.Source != t.Target || t.Where != "" {
		return true
	}
	for _, c := range t.Columns {
		if c.Computed() || c.Source != c.Target || c.Type != "" {
			return true
		}
	}
	return false
}

// TargetOf returns the target name of source column src, and false when
// it is not carried (dropped).
func (t Table) TargetOf(src string) (string, bool) {
	for _, c := range t.Columns {
		if c.Source == src && !c.Computed() {
			return c.Target, true
		}
	}
	return "", false
}

// Column returns the column with target name dst, or nil.
func (t Table) Column(dst string) *Column {
	for i := range t.Columns {
		if t.Columns[i].Target == dst {
			return &t.Columns[i]
		}
	}
	return nil
}

// SourceColumns are the source columns carried, in target order.
func (t Table) SourceColumns() []string {
	var out []string
	for _, c := range t.Columns {
		if !c.Computed() {
			out = append(out, c.Source)
		}
	}
	return out
}

// TargetColumns are the target's column names, in order.
func (t Table) TargetColumns() []string {
	out := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		out[i] = c.Target
	}
	return out
}

// TableNames lists the source tables the mapping selects among names
// (literal names must be there; each pattern must match one), sorted.
func (s *Spec) TableNames(names []string) ([]string, error) {
	var out []string
	seen := map[string]string{}
	for _, key := range slices.Sorted(maps.Keys(s.Tables)) {
		n := 0
		for _, name := range names {
			if ok, _ := glob.Match(key, name); !ok {
				continue
			}
			n++
			if prev, dup := seen[name]; dup {
				return nil, fmt.Errorf("%w: table %s is mapped twice, by %q and %q; keep one", ErrMapping, name, prev, key)
			}
			seen[name] = key
			out = append(out, name)
		}
		if n == 0 {
			if isGlob(key) {
				return nil, fmt.Errorf("%w: tables.%s: the pattern matches no source table", ErrMapping, key)
			}
			return nil, fmt.Errorf("%w: tables.%s: no such source table%s", ErrMapping, key, suggest.DidYouMean(key, names))
		}
	}
	sort.Strings(out)
	return out, nil
}

// rulesFor returns the table rules that apply to source table name.
func (s *Spec) rulesFor(name string) TableSpec {
	if t, ok := s.Tables[name]; ok {
		return t
	}
	for _, key := range slices.Sorted(maps.Keys(s.Tables)) {
		if ok, _ := glob.Match(key, name); ok {
			return s.Tables[key]
		}
	}
	return TableSpec{}
}

// Resolve maps one source table: its target name, its columns source to
// target, its computed columns, key and filter. Every column the rules
// name must exist; the key must be carried as it is (not dropped, not
// computed); no two columns may end up with one target name. Errors name
// the table and the column.
func (s *Spec) Resolve(src SourceTable) (Table, error) {
	rules := s.rulesFor(src.Name)
	t := Table{Source: src.Name, Target: rules.To, Where: rules.Where}
	if t.Target == "" {
		t.Target = ApplyRule(s.Names, src.Name)
	}
	has := map[string]bool{}
	for _, c := range src.Columns {
		has[c] = true
	}
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	unknown := func(field, col string) {
		if !has[col] {
			bad("%s: column %s is not in source table %s%s", field, col, src.Name, suggest.DidYouMean(col, src.Columns))
		}
	}
	for _, c := range slices.Sorted(maps.Keys(rules.Columns)) {
		if s.adhoc {
			unknown("--map-column "+c+"="+rules.Columns[c], c)
			continue
		}
		unknown("columns."+c, c)
	}
	for _, c := range slices.Sorted(maps.Keys(rules.Cast)) {
		unknown("cast."+c, c)
	}
	dropped := map[string]bool{}
	for _, c := range rules.Drop {
		unknown("drop", c)
		dropped[c] = true
	}
	for _, k := range src.Key {
		if dropped[k] {
			bad("drop: %s is a key column of %s: rows are copied and compared by key, so it must be carried", k, src.Name)
		}
	}
	byTarget := map[string]string{}
	place := func(c Column, what string) {
		low := strings.ToLower(c.Target)
		if prev, dup := byTarget[low]; dup {
			bad("target column %s of %s would be written by both %s and %s; rename one of them (columns:) or drop one", c.Target, t.Target, prev, what)
			return
		}
		byTarget[low] = what
		t.Columns = append(t.Columns, c)
	}
	for _, c := range src.Columns {
		if dropped[c] {
			continue
		}
		col := Column{Source: c, Target: rules.Columns[c]}
		if col.Target == "" {
			col.Target = ApplyRule(s.Names, c)
		}
		if cast, ok := rules.Cast[c]; ok {
			col.Type, col.Lossy, col.Inverse = cast.Type, cast.Lossy, cast.Inverse
		}
		place(col, "column "+c)
	}
	for _, name := range rules.AddedInOrder() {
		a := rules.Add[name]
		if has[name] {
			// The copy reads an added column beside the source's own, under
			// its target name: one name would stand for two columns there.
			bad("add.%s: %s is also a column of source table %s, and an added column needs a name the source does not use: "+
				"name it otherwise (e.g. %s_new; with the source column under drop: the target gets only the computed one)", name, name, src.Name, name)
			continue
		}
		place(Column{Target: name, Expr: a.Expr, Type: a.Type}, "the added column "+name)
		for _, src := range slices.Sorted(maps.Keys(a.Inverse)) {
			if !dropped[src] {
				bad("add.%s.inverse: %s is not dropped: only a dropped source column is given back by an added column's inverse", name, src)
			}
			t.Restored = append(t.Restored, Column{Target: src, Expr: a.Inverse[src]})
		}
	}
	for _, k := range src.Key {
		if dst, ok := t.TargetOf(k); ok {
			t.Key = append(t.Key, dst)
		}
	}
	if len(errs) > 0 {
		return Table{}, fmt.Errorf("%w: table %s: %s", ErrMapping, src.Name, strings.Join(errs, "; "))
	}
	return t, nil
}

// ResolveAll selects the mapping's tables among the source's and resolves
// each; columns returns a source table's columns and key. With an
// ErrMapping error it also returns the tables that did resolve.
func (s *Spec) ResolveAll(names []string, columns func(table string) (SourceTable, error)) ([]Table, error) {
	selected, err := s.TableNames(names)
	if err != nil {
		return nil, err
	}
	out := make([]Table, 0, len(selected))
	targets := map[string]string{}
	// Every table's problems are named at once, so that one preflight
	// lists them all; a table that cannot be read stops here.
	var problems []string
	for _, n := range selected {
		st, err := columns(n)
		if err != nil {
			return nil, err
		}
		t, err := s.Resolve(st)
		if errors.Is(err, ErrMapping) {
			problems = append(problems, strings.TrimPrefix(err.Error(), ErrMapping.Error()+": "))
			continue
		}
		if err != nil {
			return nil, err
		}
		if prev, dup := targets[strings.ToLower(t.Target)]; dup {
			problems = append(problems, fmt.Sprintf("tables %s and %s both map to target table %s; name one of them with to:", prev, n, t.Target))
			continue
		}
		targets[strings.ToLower(t.Target)] = n
		out = append(out, t)
	}
	if len(problems) > 0 {
		// The tables that resolved come back too: a preflight checks them
		// further, so that one run names every problem.
		return out, fmt.Errorf("%w: %s", ErrMapping, strings.Join(problems, "; "))
	}
	return out, nil
}

// Adhoc is the mapping of one table for a one-off comparison (`godwit
// diff --names RULE --map-column SRC=DST --to-table T`).
func Adhoc(table, toTable, rule string, renames map[string]string) (*Spec, error) {
	if err := CheckRule(rule); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMapping, err)
	}
	return &Spec{Names: rule, Tables: map[string]TableSpec{table: {To: toTable, Columns: renames}}, adhoc: true}, nil
}

// TargetPatterns are the target tables the mapping writes, as names or
// patterns: a table's to:, else the names rule applied to its name or
// pattern (orders_* under PascalCase: Orders*). For what can be known
// without the source: resources, the tables a rollback empties.
func (s *Spec) TargetPatterns() []string {
	out := make([]string, 0, len(s.Tables))
	for _, key := range slices.Sorted(maps.Keys(s.Tables)) {
		if to := s.Tables[key].To; to != "" {
			out = append(out, to)
			continue
		}
		out = append(out, ApplyRule(s.Names, key))
	}
	return out
}

// TargetName is the target table source table name is written to, and
// false when no rule of the mapping selects it. It reads names only (no
// columns), for what must know a table's target before it exists: a
// lease on a pattern's tables.
func (s *Spec) TargetName(name string) (string, bool) {
	selected := false
	for key := range s.Tables {
		if ok, _ := glob.Match(key, name); ok || key == name {
			selected = true
			break
		}
	}
	if !selected {
		return "", false
	}
	if to := s.rulesFor(name).To; to != "" {
		return to, true
	}
	return ApplyRule(s.Names, name), true
}

// MapsTo reports whether the mapping writes target table name.
func (s *Spec) MapsTo(name string) bool {
	for _, p := range s.TargetPatterns() {
		if ok, _ := glob.Match(p, name); ok || p == name {
			return true
		}
	}
	return false
}
