package datastore

import (
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
	view = &Table{Name: src.Name, Engine: src.Engine, PrimaryKey: src.PrimaryKey,
		ForeignKeys: src.ForeignKeys, Where: m.Where, Mapped: true}
	for _, mc := range m.Columns {
		if !mc.Computed() {
			c := src.Column(mc.Source)
			if c == nil {
				return nil, nil, fmt.Errorf("map %s: %w: no column %q on the source", src.Name, ErrShapeMismatch, mc.Source)
			}
			view.Columns = append(view.Columns, *c)
			continue
		}
		tc := dst.Column(mc.Target)
		if tc == nil {
			return nil, nil, fmt.Errorf("map %s: %w: computed column %q is not in target table %s", src.Name, ErrShapeMismatch, mc.Target, dst.Name)
		}
		if src.Column(mc.Target) != nil {
			return nil, nil, fmt.Errorf("map %s: %w: computed column %q has the name of a source column: give it another name", src.Name, mapping.ErrMapping, mc.Target)
		}
		view.Columns = append(view.Columns, Column{Name: mc.Target, Type: tc.Type, Nullable: true, Expr: mc.Expr})
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

// columnExpr is how a read selects column c: its quoted name, or its
// expression in parentheses in a mapped view.
func (s *Store) columnExpr(c Column) string {
	if c.Expr != "" {
		return "(" + c.Expr + ")"
	}
	return s.d.quote(c.Name)
}

// selectList is the columns of t as a read selects them, joined.
func (s *Store) selectList(t *Table) string {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = s.columnExpr(c)
	}
	return strings.Join(cols, ", ")
}
