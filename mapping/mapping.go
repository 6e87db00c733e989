// Package mapping says how a source table becomes a target table when the
// schema changes on the way: a names rule for what is not named by hand,
// table and column renames, dropped columns, columns computed from the
// source row, explicit type changes and a row filter. It is the one place
// that knows how a source row becomes a target row: datastore turns a
// resolved Table into SELECT lists and DDL per dialect, and the copy and
// reconcile packages take a Table instead of a table name. It knows nothing
// of Temporal, of the spec file or of any database. See docs/mapping.md.
package mapping

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/godwit/godwit/glob"
)

// ErrMapping is a mapping that cannot work (an unknown column, a dropped
// key, two columns with one target name). Permanent.
var ErrMapping = errors.New("bad mapping")

// Spec is one entry of the spec's `mappings:`: the stores it maps between
// and its rules, table by table.
type Spec struct {
	// From and To name stores of the spec's `stores:`.
	From string `yaml:"from" json:"from"`
	To   string `yaml:"to" json:"to"`
	// Names is the rule for every table and column not named by hand:
	// PascalCase | camelCase | snake_case | lower | upper | asIs (default).
	Names string `yaml:"names" json:"names,omitempty"`
	// Tables are the source tables carried, by name or glob pattern
	// ("orders_*"); only these are mapped.
	Tables map[string]TableSpec `yaml:"tables" json:"tables"`
	// adhoc is set by Adhoc: problems name the command's flags
	// (--map-column) instead of a spec's fields.
	adhoc bool
}

// TableSpec is how one source table (or each table a pattern matches) is
// mapped.
type TableSpec struct {
	// To is the target table's name; default: the names rule. Not allowed
	// on a pattern (its tables would all get one name).
	To string `yaml:"to" json:"to,omitempty"`
	// Columns renames source columns: {unit_price: Price}.
	Columns map[string]string `yaml:"columns" json:"columns,omitempty"`
	// Drop lists source columns not carried.
	Drop []string `yaml:"drop" json:"drop,omitempty"`
	// Add lists target columns computed from the source row.
	Add map[string]Computed `yaml:"add" json:"add,omitempty"`
	// AddOrder is Add's columns in the order the spec wrote them (the
	// order the target gets them in), set when the spec is read; without
	// it they come in name order.
	AddOrder []string `yaml:"-" json:"addOrder,omitempty"`
	// Cast changes a source column's type on the target explicitly.
	Cast map[string]Cast `yaml:"cast" json:"cast,omitempty"`
	// Where is an SQL condition in the source's dialect: only the rows it
	// holds for are carried.
	Where string `yaml:"where" json:"where,omitempty"`
}

// Computed is a target column computed by the source engine from the source
// row.
type Computed struct {
	// Expr is SQL in the source's dialect, e.g. "unit_price * quantity".
	Expr string `yaml:"expr" json:"expr"`
	// Type is the target column's declared type, e.g. "decimal(12,2)".
	Type string `yaml:"type" json:"type"`
	// Inverse gives back, for reverse replication, the source columns this
	// one replaces (each dropped): source column -> SQL in the target's
	// dialect over the target row, e.g. {amount_cents: "Amount * 100"}.
	// Without it the column is simply not carried back.
	Inverse map[string]string `yaml:"inverse" json:"inverse,omitempty"`
}

// Cast is an explicit type change of a carried column.
type Cast struct {
	Type string `yaml:"type" json:"type"`
	// Lossy accepts a change that may lose values (decimal to integer).
	Lossy bool `yaml:"lossy" json:"lossy,omitempty"`
	// Inverse is SQL in the target's dialect over the target row that
	// gives the source column back, for reverse replication, e.g.
	// "CAST(Price AS varchar(20))". Required only when reverse
	// replication goes through the mapping.
	Inverse string `yaml:"inverse" json:"inverse,omitempty"`
}

// Problem is one thing wrong with a mapping's shape: Path is relative to
// the mapping (e.g. "tables.order_line.add.LineTotal.type").
type Problem struct {
	Path    string
	Message string
}

// volatile matches what gives another value at each evaluation, so that
// an expression using it would give the copy, a re-copy and the reconcile
// different rows: the SQL keywords that need no parentheses
// (current_timestamp, localtime ...), the functions only when called
// (a column named uuid, random or now is data: `uuid IS NOT NULL`), and
// unix_timestamp only without an argument (unix_timestamp(created_at) is
// the row's own value). Words inside quotes — strings, and identifiers in
// double quotes or backticks — are not looked at.
var volatile = regexp.MustCompile(`(?i)\b(?:(current_timestamp|current_date|current_time|localtime|localtimestamp|utc_timestamp|utc_date|utc_time)\b|(now|random|rand|uuid|uuid_short|gen_random_uuid|uuid_generate_v[14]|sysdate|clock_timestamp|statement_timestamp|transaction_timestamp|timeofday|curdate|curtime|setseed|nextval|connection_id|last_insert_id)\s*\(|(unix_timestamp)\s*\(\s*\))`)

var quoted = regexp.MustCompile("'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`(?:[^`]|``)*`")

// VolatileCall returns the first volatile function expr calls (now,
// random, uuid, current_timestamp ...), or "".
func VolatileCall(expr string) string {
	m := volatile.FindStringSubmatch(quoted.ReplaceAllString(expr, "''"))
	for _, g := range m[min(1, len(m)):] {
		if g != "" {
			return g
		}
	}
	return ""
}

// Check reports every problem of the mapping's shape that can be seen
// without the databases: an unknown names rule, a table mapped twice, two
// target names colliding, an add without expr or type, a volatile
// expression, a drop and a rename of one column.
func (s *Spec) Check() []Problem {
	var ps []Problem
	add := func(p, format string, args ...any) {
		ps = append(ps, Problem{Path: p, Message: fmt.Sprintf(format, args...)})
	}
	if err := CheckRule(s.Names); err != nil {
		add("names", "%v", err)
	}
	if len(s.Tables) == 0 {
		add("tables", "is required: the source tables carried, by name or pattern (orders_*), each with its rules or {} for the names rule only")
	}
	keys := slices.Sorted(maps.Keys(s.Tables))
	targets := map[string]string{} // target name (lower case) -> source table
	for _, name := range keys {
		t := s.Tables[name]
		tp := "tables." + name
		pattern := isGlob(name)
		if _, err := glob.Match(name, ""); err != nil || strings.TrimSpace(name) == "" || strings.ContainsAny(name, ". \t/%") {
			add(tp, "%q is not a table name or pattern: use a name or a glob such as orders_* (no schema, no SQL %%)", name)
		}
		if pattern {
			if t.To != "" {
				add(tp+".to", "a pattern maps many tables: they cannot all be named %q (map those tables by name, or let the names rule name them)", t.To)
			}
		} else {
			for _, other := range keys {
				if other != name && isGlob(other) {
					if ok, _ := glob.Match(other, name); ok {
						add(tp, "table %s is mapped twice: by name and by the pattern %q; keep one", name, other)
					}
				}
			}
			target := t.To
			if target == "" {
				target = ApplyRule(s.Names, name)
			}
			if prev, dup := targets[strings.ToLower(target)]; dup {
				add(tp, "tables %s and %s both map to target table %s; give one of them another name with to:", prev, name, target)
			} else {
				targets[strings.ToLower(target)] = name
			}
		}
		ps = append(ps, t.check(tp, s.Names)...)
	}
	return ps
}

// check reports the shape problems of one table's rules.
func (t *TableSpec) check(tp, rule string) []Problem {
	var ps []Problem
	add := func(p, format string, args ...any) {
		ps = append(ps, Problem{Path: p, Message: fmt.Sprintf(format, args...)})
	}
	dropped := map[string]bool{}
	for i, d := range t.Drop {
		if dropped[d] {
			add(fmt.Sprintf("%s.drop[%d]", tp, i), "column %s is dropped twice", d)
		}
		dropped[d] = true
		if _, ok := t.Columns[d]; ok {
			add(fmt.Sprintf("%s.drop[%d]", tp, i), "column %s is both dropped and renamed (columns: %s: %s); keep one", d, d, t.Columns[d])
		}
		if _, ok := t.Cast[d]; ok {
			add(fmt.Sprintf("%s.drop[%d]", tp, i), "column %s is both dropped and cast; keep one", d)
		}
	}
	// Target names written by hand: renames, added columns, and the names
	// rule's names of cast columns. Two of them alike is a collision.
	named := map[string]string{} // lower-case target -> what names it
	claim := func(p, target, by string) {
		if target == "" {
			return
		}
		if prev, dup := named[strings.ToLower(target)]; dup {
			add(p, "target column %s would be written by both %s and %s; rename one of them", target, prev, by)
			return
		}
		named[strings.ToLower(target)] = by
	}
	for _, src := range slices.Sorted(maps.Keys(t.Columns)) {
		dst := t.Columns[src]
		if strings.TrimSpace(dst) == "" {
			add(tp+".columns."+src, "is empty: give the target column's name, or list %s under drop: to leave it out", src)
		}
		claim(tp+".columns."+src, dst, "the rename of "+src)
	}
	for _, src := range slices.Sorted(maps.Keys(t.Cast)) {
		c := t.Cast[src]
		if strings.TrimSpace(c.Type) == "" {
			add(tp+".cast."+src+".type", "is required: the target type of %s, e.g. decimal(10,2)", src)
		}
		if _, renamed := t.Columns[src]; !renamed {
			claim(tp+".cast."+src, ApplyRule(rule, src), "column "+src)
		}
	}
	for _, dst := range slices.Sorted(maps.Keys(t.Add)) {
		c, p := t.Add[dst], tp+".add."+dst
		if strings.TrimSpace(c.Expr) == "" {
			add(p+".expr", "is required: an SQL expression in the source's dialect over the source row, e.g. unit_price * quantity")
		} else if f := VolatileCall(c.Expr); f != "" {
			add(p+".expr", "calls %s, whose value changes on every evaluation: the copy, a re-copy and reconcile would disagree; compute it from the row's own columns", f)
		}
		if strings.TrimSpace(c.Type) == "" {
			add(p+".type", "is required: the target column's type, e.g. decimal(12,2)")
		}
		claim(p, dst, "the added column "+dst)
	}
	ps = append(ps, t.checkInverses(tp, dropped)...)
	if f := VolatileCall(t.Where); f != "" {
		add(tp+".where", "calls %s, whose value changes on every evaluation: the rows carried would depend on when the copy ran; filter on the row's own columns", f)
	}
	return ps
}

// checkInverses reports the shape problems of the inverse expressions: an
// added column can give back only a dropped source column (a carried one
// comes back by its rename), each by one added column; no volatile calls.
func (t *TableSpec) checkInverses(tp string, dropped map[string]bool) []Problem {
	var ps []Problem
	add := func(p, format string, args ...any) {
		ps = append(ps, Problem{Path: p, Message: fmt.Sprintf(format, args...)})
	}
	volatileInverse := func(p, expr string) {
		if f := VolatileCall(expr); f != "" {
			add(p, "calls %s, whose value changes on every evaluation: the legacy side would get another value than the one written; compute it from the target row's own columns", f)
		}
	}
	givenBack := map[string]string{}
	for _, dst := range slices.Sorted(maps.Keys(t.Add)) {
		for _, src := range slices.Sorted(maps.Keys(t.Add[dst].Inverse)) {
			p := tp + ".add." + dst + ".inverse." + src
			switch {
			case !dropped[src]:
				add(p, "%s is not dropped: a carried column comes back by its own name or rename; an added column's inverse gives back a source column it replaces (list %s under drop:)", src, src)
			case givenBack[src] != "":
				add(p, "%s is given back by both %s and %s; keep one", src, givenBack[src], dst)
			case strings.TrimSpace(t.Add[dst].Inverse[src]) == "":
				add(p, "is empty: give the SQL (in the target's dialect, over the target row) that computes %s back", src)
			}
			givenBack[src] = dst
			volatileInverse(p, t.Add[dst].Inverse[src])
		}
	}
	for _, src := range slices.Sorted(maps.Keys(t.Cast)) {
		volatileInverse(tp+".cast."+src+".inverse", t.Cast[src].Inverse)
	}
	return ps
}

// isGlob reports whether a table key is a pattern.
func isGlob(p string) bool { return strings.ContainsAny(p, "*?[\\") }

// AddedInOrder is the names of Add in the order the spec wrote them
// (AddOrder), else in name order.
func (t TableSpec) AddedInOrder() []string {
	if len(t.AddOrder) == len(t.Add) {
		ok := true
		for _, n := range t.AddOrder {
			if _, in := t.Add[n]; !in {
				ok = false
				break
			}
		}
		if ok {
			return t.AddOrder
		}
	}
	return slices.Sorted(maps.Keys(t.Add))
}
