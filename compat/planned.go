package compat

import (
	"fmt"
	"strings"
)

// PlannedChangeSeverity is the severity check-compat gives a change that a
// migration description plans (one entry of its schema_changes, e.g.
// {type: modify_column, column: bio, old_type: varchar(255), new_type:
// text}), so `godwit plan` and `godwit check-compat` agree on what is
// breaking: the change is applied to a one-table schema and compared by
// CompareSchemas itself. A change it cannot model is Breaking when it
// removes or renames something, and "" (unknown: not counted) otherwise.
func PlannedChangeSeverity(change map[string]any) Severity {
	typ := str(change, "type")
	col := str(change, "column")
	if col == "" {
		col = "planned"
	}
	// A key column keeps the table's identity apart from the changed one.
	key := Column{Type: "bigint", PrimaryKey: true}
	before := Table{Columns: map[string]Column{"id": key}}
	after := Table{Columns: map[string]Column{"id": key}}
	switch typ {
	case "add_column", "drop_column":
		c := plannedColumn(change, str(change, "data_type"), str(change, "type_definition"))
		if typ == "add_column" {
			after.Columns[col] = c
		} else {
			before.Columns[col] = c
		}
	case "modify_column", "alter_column", "change_column":
		old := firstString(change, "old_type", "from_type", "from")
		nw := firstString(change, "new_type", "to_type", "to", "data_type")
		if old == "" || nw == "" {
			return Breaking
		}
		before.Columns[col] = plannedColumn(change, old, "")
		after.Columns[col] = plannedColumn(change, nw, "")
	case "add_constraint", "drop_constraint":
		t := &after
		if typ == "drop_constraint" {
			t = &before
		}
		switch strings.ToLower(str(change, "constraint_type")) {
		case "check":
			t.Constraints.Check = []string{firstString(change, "definition", "expression", "check")}
		case "unique":
			before.Columns[col], after.Columns[col] = Column{Type: "text"}, Column{Type: "text"}
			t.Constraints.Unique = []ColumnList{{col}}
		case "foreign_key":
			before.Columns[col], after.Columns[col] = Column{Type: "bigint"}, Column{Type: "bigint"}
			t.Constraints.ForeignKey = []ForeignKey{{Columns: []string{col}, References: "planned_parent(id)"}}
		default:
			if typ == "drop_constraint" {
				return NonBreaking
			}
			return Breaking
		}
	case "add_index", "create_index":
		return Additive
	case "drop_index":
		return PotentiallyBreaking
	case "add_table", "create_table":
		return Additive
	case "drop_table", "rename_table", "rename_column":
		return Breaking
	default:
		return ""
	}
	parent := Table{Columns: map[string]Column{"id": key}}
	b := &Schema{Tables: map[string]Table{"planned": before, "planned_parent": parent}}
	a := &Schema{Tables: map[string]Table{"planned": after, "planned_parent": parent}}
	b.Normalize()
	a.Normalize()
	r := CompareSchemas(b, a, Options{NoRenames: true})
	worst := Severity("")
	for _, i := range r.Issues {
		if worst == "" || i.Severity.rank() < worst.rank() {
			worst = i.Severity
		}
	}
	if worst == "" {
		return NonBreaking
	}
	return worst
}

// plannedColumn is the column a planned change describes.
func plannedColumn(change map[string]any, typ, def string) Column {
	if typ == "" {
		typ = def
	}
	if typ == "" {
		typ = "text"
	}
	c := Column{Type: typ, Default: change["default"]}
	if n, ok := change["nullable"].(bool); ok {
		c.Nullable = &n
	}
	if _, err := ParseType(c.Type, 0, 0, 0); err != nil {
		c.Type = "text"
	}
	return c
}

func str(m map[string]any, k string) string {
	switch v := m[k].(type) {
	case string:
		return strings.TrimSpace(v)
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

func firstString(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if v := str(m, k); v != "" {
			return v
		}
	}
	return ""
}
