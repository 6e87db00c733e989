package mapping

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Why a mapping has no inverse, rule by rule: reverse replication (new →
// legacy after the write cut-over, and the rollback through it) writes
// each target row back as a source row, so every source column must come
// back and every target row must be one the source should have.
const (
	whyFilter  = "a filter (where: %s) carries only the rows it holds for: a row written on the target that the filter would leave out, or moved out of it, has no rule to come back by, so a filtered mapping has no inverse; remove the filter (a migration captures a source store once, through one mapping, so a filtered table cannot be carried by another without losing its changes)"
	whyCast    = "%s reaches the target as %s: reverse replication needs cast.%s.inverse, the SQL (in the target's dialect, over the target row) that gives %s back, e.g. CAST(%s AS <its type on the source>)"
	whyNotNull = "%s is dropped but NOT NULL with no default on the source: a row written on the target could not be written back without it; carry it, give it back with an added column's inverse: {%s: <SQL over the target row>}, or give it a default on the source"
)

// Invertible reports, at validate, every rule of the mapping that has no
// inverse and so refuses reverse replication through it: a filter, a cast
// with no inverse. A dropped NOT NULL column needs the live schema: Table.
// Inverse checks it.
func (s *Spec) Invertible() []Problem {
	var ps []Problem
	for _, name := range slices.Sorted(maps.Keys(s.Tables)) {
		t, tp := s.Tables[name], "tables."+name
		if strings.TrimSpace(t.Where) != "" {
			ps = append(ps, Problem{Path: tp + ".where", Message: fmt.Sprintf(whyFilter, t.Where)})
		}
		for _, src := range slices.Sorted(maps.Keys(t.Cast)) {
			if c := t.Cast[src]; strings.TrimSpace(c.Inverse) == "" {
				target := t.Columns[src]
				if target == "" {
					target = ApplyRule(s.Names, src)
				}
				ps = append(ps, Problem{Path: tp + ".cast." + src + ".inverse", Message: fmt.Sprintf(whyCast, src, c.Type, src, src, target)})
			}
		}
	}
	return ps
}

// Inverse is the mapping of reverse replication: the target table back
// to the source table. Renames and the names rule map back; an added
// column is not carried back; a cast column comes back by its inverse
// expression, and a dropped column an added column replaces by that
// column's inverse (SQL over the target row, in the target's dialect: the
// inverse's source). notNull lists the source's NOT NULL columns without a
// default: each must come back. A filter, a cast with no inverse, or a
// NOT NULL column that does not come back makes the mapping not
// invertible: the error names the rule.
func (t Table) Inverse(notNull []string) (Table, error) {
	inv := Table{Source: t.Target, Target: t.Source}
	var errs []string
	if t.Where != "" {
		errs = append(errs, "where: "+fmt.Sprintf(whyFilter, t.Where))
	}
	for _, c := range t.Columns {
		switch {
		case c.Computed():
			// An added column is the target's own: not carried back.
		case c.Type != "" && c.Inverse == "":
			errs = append(errs, "cast."+c.Source+": "+fmt.Sprintf(whyCast, c.Source, c.Type, c.Source, c.Source, c.Target))
		case c.Type != "":
			inv.Columns = append(inv.Columns, Column{Target: c.Source, Expr: c.Inverse})
		default:
			inv.Columns = append(inv.Columns, Column{Source: c.Target, Target: c.Source})
		}
	}
	for _, r := range t.Restored {
		inv.Columns = append(inv.Columns, Column{Target: r.Target, Expr: r.Expr})
	}
	for _, n := range notNull {
		if inv.Column(n) == nil {
			errs = append(errs, "drop: "+fmt.Sprintf(whyNotNull, n, n))
		}
	}
	for _, k := range t.Key {
		if c := t.Column(k); c != nil {
			inv.Key = append(inv.Key, c.Source)
		}
	}
	if len(errs) > 0 {
		return Table{}, fmt.Errorf("%w: table %s has no inverse for reverse replication: %s", ErrMapping, t.Source, strings.Join(errs, "; "))
	}
	return inv, nil
}
