package compat

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/godwit/godwit/mapping"
)

// Proposal is a mapping inferred from a before and an after schema
// description (`godwit init --before A --after B`): what is certain is
// written as rules, what is guessed carries a note to confirm, what cannot
// be guessed is a question for a person.
type Proposal struct {
	// Names is the names rule most names follow ("" for asIs).
	Names string
	// Tables are the before tables carried, by source name.
	Tables []ProposedTable
	// Gone are before tables with no partner after: not carried.
	Gone []string
	// New are after tables with no partner before: not written by the
	// mapping.
	New []string
	// FromDatabase and ToDatabase are the descriptions' `database` (the
	// engine, as schema export writes it: "postgres"), so the spec's stores
	// need not ask for what the files already say.
	FromDatabase, ToDatabase string
}

// ProposedTable is how one before table is proposed to map.
type ProposedTable struct {
	Source string
	// Target is the after table; TargetNote is set when it was guessed
	// (the names differ beyond the names rule) or ambiguous (Candidates).
	Target     string
	TargetNote string
	// Candidates are the after tables a gone table could have become when
	// there is more than one: a person chooses.
	Candidates []string
	Renames    []ProposedRename
	Drop       []string
	Add        []ProposedAdd
	Cast       []ProposedCast
}

// ProposedRename is a column that disappears while one of its type
// appears. More than one candidate means a person chooses.
type ProposedRename struct {
	From       string
	To         string   // "" when ambiguous
	Candidates []string // the after columns of the same type, when ambiguous
	Type       string
	// ToType is the after column's type when it is wider than Type (the
	// rename then comes with a cast); "" when they are the same.
	ToType string
}

// ProposedAdd is an after column with no partner before.
type ProposedAdd struct {
	Name string
	Type string
	// Expr is the value it takes for carried rows: its default, or NULL
	// for a nullable column; "" when neither (a person writes it).
	Expr string
	Note string
}

// ProposedCast is a carried column whose type changes.
type ProposedCast struct {
	Column   string
	From, To string
	Change   TypeChange
}

// ProposeMapping infers a mapping from before to after: the names rule
// most names follow, tables renamed (one gone and one with the same
// columns, or else the same primary key and most columns, appearing),
// columns renamed (one gone and one of the same type
// appearing in the same table), dropped, added and cast columns.
func ProposeMapping(before, after *Schema) Proposal {
	p := Proposal{Names: inferRule(before, after), FromDatabase: before.Database, ToDatabase: after.Database}
	pairs, gone, fresh := pairTables(before, after, p.Names)
	p.Gone, p.New = gone, fresh
	for _, src := range slices.Sorted(maps.Keys(pairs)) {
		pt := pairs[src]
		if pt.Target != "" {
			proposeColumns(&pt, before.Tables[src], after.Tables[pt.Target], p.Names)
		}
		p.Tables = append(p.Tables, pt)
	}
	return p
}

// inferRule returns the names rule that names the most before tables and
// columns as they are after; asIs ("") wins a tie.
func inferRule(before, after *Schema) string {
	afterNames := map[string]bool{}
	for tn, t := range after.Tables {
		afterNames[tn] = true
		for cn := range t.Columns {
			afterNames[cn] = true
		}
	}
	score := func(rule string) int {
		n := 0
		for tn, t := range before.Tables {
			if afterNames[mapping.ApplyRule(rule, tn)] {
				n++
			}
			for cn := range t.Columns {
				if afterNames[mapping.ApplyRule(rule, cn)] {
					n++
				}
			}
		}
		return n
	}
	best, bestScore := "", score(mapping.RuleAsIs)
	for _, r := range mapping.Rules {
		if s := score(r); s > bestScore {
			best, bestScore = r, s
		}
	}
	return best
}

// pairTables pairs each before table with its after table: by the names
// rule, else the one after table that appeared with the same columns.
func pairTables(before, after *Schema, rule string) (map[string]ProposedTable, []string, []string) {
	pairs := map[string]ProposedTable{}
	taken := map[string]bool{}
	var unpaired []string
	for _, tn := range slices.Sorted(maps.Keys(before.Tables)) {
		if _, ok := after.Tables[mapping.ApplyRule(rule, tn)]; ok {
			pairs[tn] = ProposedTable{Source: tn, Target: mapping.ApplyRule(rule, tn)}
			taken[mapping.ApplyRule(rule, tn)] = true
			continue
		}
		unpaired = append(unpaired, tn)
	}
	var fresh []string
	for _, an := range slices.Sorted(maps.Keys(after.Tables)) {
		if !taken[an] {
			fresh = append(fresh, an)
		}
	}
	sameColumns := func(b, a Table) bool {
		if len(b.Columns) != len(a.Columns) {
			return false
		}
		for cn := range b.Columns {
			if _, ok := a.Columns[mapping.ApplyRule(rule, cn)]; !ok {
				return false
			}
		}
		return true
	}
	m := matchUp(unpaired, fresh, func(tn, an string) bool { return sameColumns(before.Tables[tn], after.Tables[an]) })
	var gone []string
	for _, tn := range unpaired {
		cs := m.cands[tn]
		switch {
		case m.only(tn):
			pairs[tn] = ProposedTable{Source: tn, Target: cs[0], TargetNote: fmt.Sprintf("confirm: %s is gone and %s appeared with the same columns", tn, cs[0])}
			taken[cs[0]] = true
		case len(cs) > 0:
			pairs[tn] = ProposedTable{Source: tn, Candidates: cs}
		default:
			gone = append(gone, tn)
		}
	}
	gone = pairByKey(before, after, rule, gone, taken, pairs)
	fresh = fresh[:0]
	for _, an := range slices.Sorted(maps.Keys(after.Tables)) {
		if !taken[an] {
			fresh = append(fresh, an)
		}
	}
	return pairs, gone, fresh
}

// pairByKey pairs each before table in gone that no after table took by
// its columns with the one after table left that has its primary key
// (under the rule, the same types) and more than half of its other
// columns: a table renamed whose columns changed as well (invoice_line
// became SalesLine, unit_price became Price, LineTotal appeared).
// proposeColumns then lists its renames, drops and adds. It returns the
// tables still gone.
func pairByKey(before, after *Schema, rule string, gone []string, taken map[string]bool, pairs map[string]ProposedTable) []string {
	sameKey := func(b, a Table) bool {
		bk, ak := b.Constraints.PrimaryKey, a.Constraints.PrimaryKey
		if len(bk) == 0 || len(bk) != len(ak) {
			return false
		}
		for i, cn := range bk {
			if mapping.ApplyRule(rule, cn) != ak[i] || CompareTypes(columnType(b.Columns[cn]), columnType(a.Columns[ak[i]])) != TypeSame {
				return false
			}
		}
		others, kept := 0, 0
		for cn := range b.Columns {
			if contains(bk, cn) {
				continue
			}
			others++
			if _, ok := a.Columns[mapping.ApplyRule(rule, cn)]; ok {
				kept++
			}
		}
		return kept > 0 && 2*kept > others
	}
	var left []string
	for _, an := range slices.Sorted(maps.Keys(after.Tables)) {
		if !taken[an] {
			left = append(left, an)
		}
	}
	m := matchUp(gone, left, func(tn, an string) bool { return sameKey(before.Tables[tn], after.Tables[an]) })
	var still []string
	for _, tn := range gone {
		if !m.only(tn) {
			still = append(still, tn)
			continue
		}
		cs := m.cands[tn]
		b := before.Tables[tn]
		key := make([]string, len(b.Constraints.PrimaryKey))
		for i, cn := range b.Constraints.PrimaryKey {
			key[i] = mapping.ApplyRule(rule, cn)
		}
		pairs[tn] = ProposedTable{Source: tn, Target: cs[0], TargetNote: fmt.Sprintf(
			"confirm: %s is gone and %s appeared with the same primary key (%s) and most of its columns", tn, cs[0], strings.Join(key, ", "))}
		taken[cs[0]] = true
	}
	return still
}

// proposeColumns fills pt's renames, drops, adds and casts from the
// columns of its before table b and after table a.
func proposeColumns(pt *ProposedTable, b, a Table, rule string) {
	claimed := map[string]bool{}
	var goneCols []string
	for _, cn := range columnOrder(b) {
		dst := mapping.ApplyRule(rule, cn)
		ac, ok := a.Columns[dst]
		if !ok {
			goneCols = append(goneCols, cn)
			continue
		}
		claimed[dst] = true
		from, to := columnType(b.Columns[cn]), columnType(ac)
		if ch := CompareTypes(from, to); ch != TypeSame {
			pt.Cast = append(pt.Cast, ProposedCast{Column: cn, From: typeText(b.Columns[cn]), To: typeText(ac), Change: ch})
		}
	}
	var newCols []string
	for _, cn := range columnOrder(a) {
		if !claimed[cn] {
			newCols = append(newCols, cn)
		}
	}
	sameType := func(x, y Column) bool { return CompareTypes(columnType(x), columnType(y)) == TypeSame }
	m := matchUp(goneCols, newCols, func(g, n string) bool { return sameType(b.Columns[g], a.Columns[n]) })
	backs := m.backs
	renamed := map[string]bool{}
	for _, g := range goneCols {
		cs := m.cands[g]
		switch {
		case m.only(g):
			pt.Renames = append(pt.Renames, ProposedRename{From: g, To: cs[0], Type: typeText(b.Columns[g])})
			renamed[cs[0]] = true
		case len(cs) > 0:
			pt.Renames = append(pt.Renames, ProposedRename{From: g, Candidates: cs, Type: typeText(b.Columns[g])})
		default:
			pt.Drop = append(pt.Drop, g)
		}
	}
	var widenedFrom map[string][]string
	pt.Drop, widenedFrom = renameWidened(pt, b, a, newCols, backs, renamed)
	for _, n := range newCols {
		if renamed[n] {
			continue
		}
		add := proposeAdd(n, a.Columns[n], backs[n])
		if gs := widenedFrom[n]; add.Note == "" && len(gs) > 0 {
			add.Note = fmt.Sprintf("or the new name of %s (%s, widened to %s): then rename it under columns:, give it cast: {type: %s} and remove this add and its drop",
				strings.Join(gs, " or "), typeText(b.Columns[gs[0]]), typeText(a.Columns[n]), typeText(a.Columns[n]))
		}
		pt.Add = append(pt.Add, add)
	}
}

// renameWidened turns a dropped column into a rename with a cast when
// exactly one new column, claimed by no rename of the same type, has a
// wider type than it and no other dropped column widens into that one
// (track.milliseconds integer became DurationMs bigint). It returns the
// columns still dropped and, for each new column that more than one of
// them widens into, those columns (a person chooses).
func renameWidened(pt *ProposedTable, b, a Table, newCols []string, sameTypeBacks map[string][]string, renamed map[string]bool) ([]string, map[string][]string) {
	widens := func(g, n string) bool {
		return CompareTypes(columnType(b.Columns[g]), columnType(a.Columns[n])) == TypeWidened
	}
	m := matchUp(pt.Drop, newCols, func(g, n string) bool { return len(sameTypeBacks[n]) == 0 && widens(g, n) })
	var still []string
	for _, g := range pt.Drop {
		if !m.only(g) {
			still = append(still, g)
			continue
		}
		cs := m.cands[g]
		from, to := typeText(b.Columns[g]), typeText(a.Columns[cs[0]])
		pt.Renames = append(pt.Renames, ProposedRename{From: g, To: cs[0], Type: from, ToType: to})
		pt.Cast = append(pt.Cast, ProposedCast{Column: g, From: from, To: to, Change: TypeWidened})
		renamed[cs[0]] = true
	}
	ambiguous := map[string][]string{}
	for n, gs := range m.backs {
		if len(gs) > 1 {
			ambiguous[n] = gs
		}
	}
	return still, ambiguous
}

// matches are the pairs a fit allows between two lists of names: cands[f]
// the names of to that f fits, backs[t] the names of from that fit t, in
// the lists' orders.
type matches struct{ cands, backs map[string][]string }

// matchUp lists which of from fit which of to.
func matchUp(from, to []string, fits func(f, t string) bool) matches {
	m := matches{cands: map[string][]string{}, backs: map[string][]string{}}
	for _, f := range from {
		for _, t := range to {
			if fits(f, t) {
				m.cands[f] = append(m.cands[f], t)
				m.backs[t] = append(m.backs[t], f)
			}
		}
	}
	return m
}

// only says whether f fits exactly one name, which fits no other: a pair
// for certain (cands[f][0]).
func (m matches) only(f string) bool {
	cs := m.cands[f]
	return len(cs) == 1 && len(m.backs[cs[0]]) == 1
}

// proposeAdd proposes the value of an after column no before column
// becomes: its default when it is a constant, NULL when it may be NULL.
func proposeAdd(name string, c Column, candidateOf []string) ProposedAdd {
	add := ProposedAdd{Name: name, Type: typeText(c)}
	if len(candidateOf) > 0 {
		add.Note = fmt.Sprintf("or the new name of %s (see its rename): then remove this add", strings.Join(candidateOf, " or "))
	}
	// A computed default (CURRENT_TIMESTAMP) would give each row the
	// time of its copy: a person writes an expression over the row.
	if constantDefault(c) && !strings.EqualFold(defaultSQL(c), "NULL") {
		add.Expr = defaultSQL(c)
		return add
	}
	if c.nullable() {
		add.Expr = "NULL"
	}
	return add
}

// typeText writes a column's type as the description spells it, with its
// size: varchar(320), decimal(10,2).
func typeText(c Column) string {
	switch {
	case strings.Contains(c.Type, "("):
		return c.Type
	case c.Length > 0:
		return fmt.Sprintf("%s(%d)", c.Type, c.Length)
	case c.Precision > 0 && c.Scale > 0:
		return fmt.Sprintf("%s(%d,%d)", c.Type, c.Precision, c.Scale)
	case c.Precision > 0:
		return fmt.Sprintf("%s(%d)", c.Type, c.Precision)
	}
	return c.Type
}

// String names a type change for a person.
func (c TypeChange) String() string {
	switch c {
	case TypeSame:
		return "unchanged"
	case TypeWidened:
		return "widened"
	case TypeNarrowed:
		return "narrowed"
	}
	return "converted"
}
