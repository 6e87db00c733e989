// Package compat compares two descriptions of a database schema, or two
// OpenAPI documents, and reports every change with its severity, the SQL
// that applies it and the SQL that undoes it. It is what `godwit
// check-compat` runs in CI and what the validate phase runs as a gate.
package compat

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/godwit/godwit/docread"
	"github.com/godwit/godwit/suggest"
	"github.com/godwit/godwit/yamldecode"
)

// Schema is a schema description in the Migration Architect format, as JSON
// or YAML. Column-level primary_key and unique flags and table-level
// constraints mean the same; Normalize folds them together.
type Schema struct {
	SchemaVersion string           `yaml:"schema_version" json:"schema_version,omitempty"`
	Database      string           `yaml:"database" json:"database,omitempty"`
	Tables        map[string]Table `yaml:"tables" json:"tables"`
	Views         map[string]View  `yaml:"views" json:"views,omitempty"`
	Procedures    []Procedure      `yaml:"procedures" json:"procedures,omitempty"`
	// Warnings are the fields of the description Godwit does not know and
	// ignored, as lines for the user (file, field path, line).
	Warnings []string `yaml:"-" json:"-"`
}

// Table is one table: its columns, constraints and indexes.
type Table struct {
	Columns     map[string]Column `yaml:"columns" json:"columns"`
	Constraints Constraints       `yaml:"constraints" json:"constraints"`
	Indexes     []Index           `yaml:"indexes" json:"indexes,omitempty"`
}

// Column is one column. Nullable defaults to true, except for primary key
// columns. A string default is a literal and is quoted in SQL, unless it is
// a function call or a SQL keyword such as CURRENT_TIMESTAMP.
type Column struct {
	Type          string `yaml:"type" json:"type"`
	Length        int    `yaml:"length" json:"length,omitempty"`
	Precision     int    `yaml:"precision" json:"precision,omitempty"`
	Scale         int    `yaml:"scale" json:"scale,omitempty"`
	Nullable      *bool  `yaml:"nullable" json:"nullable,omitempty"`
	PrimaryKey    bool   `yaml:"primary_key" json:"primary_key,omitempty"`
	AutoIncrement bool   `yaml:"auto_increment" json:"auto_increment,omitempty"`
	Unique        bool   `yaml:"unique" json:"unique,omitempty"`
	Default       any    `yaml:"default" json:"default,omitempty"`
	// OnUpdate is the expression the column takes on every UPDATE that
	// leaves it unchanged (MySQL's ON UPDATE CURRENT_TIMESTAMP), "" for
	// none. A default written "CURRENT_TIMESTAMP ON UPDATE
	// CURRENT_TIMESTAMP" is split into the two by Normalize.
	OnUpdate string `yaml:"on_update" json:"on_update,omitempty"`
	// Comment is the column's description for people; it is carried, not
	// compared: changing it changes nothing for a reader or a writer.
	Comment string `yaml:"comment" json:"comment,omitempty"`
}

// Constraints are a table's constraints; they have no names in the format,
// so the SQL names them from their content (see constraintName). Each
// unique constraint is a list of columns, or one column's name: the
// method's samples write "unique": ["username", "email"] for two
// one-column constraints.
type Constraints struct {
	PrimaryKey []string     `yaml:"primary_key" json:"primary_key,omitempty"`
	Unique     []ColumnList `yaml:"unique" json:"unique,omitempty"`
	ForeignKey []ForeignKey `yaml:"foreign_key" json:"foreign_key,omitempty"`
	Check      []string     `yaml:"check" json:"check,omitempty"`
}

// ColumnList is the columns of one constraint. In a document it is a list
// of column names or, for one column, its name alone.
type ColumnList []string

// UnmarshalYAML accepts a list of column names or one name.
func (c *ColumnList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		var name string
		if err := n.Decode(&name); err != nil {
			return err
		}
		*c = ColumnList{name}
		return nil
	}
	var cols []string
	if err := n.Decode(&cols); err != nil {
		return err
	}
	*c = cols
	return nil
}

// ForeignKey references another table: References is "table(col, ...)".
type ForeignKey struct {
	Columns    []string `yaml:"columns" json:"columns"`
	References string   `yaml:"references" json:"references"`
	OnDelete   string   `yaml:"on_delete" json:"on_delete,omitempty"`
	OnUpdate   string   `yaml:"on_update" json:"on_update,omitempty"`
}

// Index is a named index.
type Index struct {
	Name    string   `yaml:"name" json:"name"`
	Columns []string `yaml:"columns" json:"columns"`
	Unique  bool     `yaml:"unique" json:"unique,omitempty"`
}

// View is a view and the columns it exposes.
type View struct {
	Definition string   `yaml:"definition" json:"definition"`
	Columns    []string `yaml:"columns" json:"columns,omitempty"`
}

// Procedure is a stored procedure or function.
type Procedure struct {
	Name       string `yaml:"name" json:"name"`
	Parameters []any  `yaml:"parameters" json:"parameters,omitempty"`
	Definition string `yaml:"definition" json:"definition,omitempty"`
}

// LoadSchema reads a schema description (JSON or YAML) and checks it. Its
// errors name the file, the field path and the line.
func LoadSchema(path string) (*Schema, error) {
	var s Schema
	doc, err := docread.ReadFile(path, &s)
	if err != nil {
		return nil, err
	}
	if err := doc.Finish(s.check(doc.Errors())); err != nil {
		return nil, err
	}
	s.Warnings = append(doc.WarningLines(), s.referenceWarnings(doc)...)
	s.Normalize()
	return &s, nil
}

// ParseSchema decodes and checks a schema description held in memory; name
// is used in messages.
func ParseSchema(name string, data []byte) (*Schema, error) {
	var s Schema
	doc, err := docread.Decode(name, data, &s)
	if err != nil {
		return nil, err
	}
	if err := doc.Finish(s.check(doc.Errors())); err != nil {
		return nil, err
	}
	s.Warnings = append(doc.WarningLines(), s.referenceWarnings(doc)...)
	s.Normalize()
	return &s, nil
}

// referenceWarnings names each foreign key that references a table the
// description does not have, or a column that table lacks: a description
// may leave tables out, so this is a warning, but the foreign key's SQL
// fails unless the database has them.
func (s *Schema) referenceWarnings(doc *docread.Doc) []string {
	var out []string
	warn := func(path, format string, args ...any) {
		e := yamldecode.FieldError{Path: path, Line: doc.Line(path), Message: fmt.Sprintf(format, args...)}
		line := e.Error()
		if doc.File != "" {
			line = doc.File + ": " + line
		}
		out = append(out, line)
	}
	names := slices.Sorted(maps.Keys(s.Tables))
	for _, name := range names {
		for i, fk := range s.Tables[name].Constraints.ForeignKey {
			ref, cols, ok := parseReference(fk.References)
			if !ok {
				continue
			}
			fp := fmt.Sprintf("tables.%s.constraints.foreign_key[%d].references", name, i)
			target, has := s.Tables[ref]
			if !has {
				warn(fp, "%s references table %s, which this description does not have%s: its foreign key SQL fails unless the database has it (describe it, or correct the name)",
					fk.References, ref, suggest.DidYouMean(ref, names))
				continue
			}
			for _, col := range cols {
				if _, ok := target.Columns[col]; !ok {
					warn(fp, "%s references column %s, which table %s does not have%s: its foreign key SQL fails",
						fk.References, col, ref, suggest.DidYouMean(col, slices.Sorted(maps.Keys(target.Columns))))
				}
			}
		}
	}
	return out
}

var referencePattern = regexp.MustCompile(`^\s*([A-Za-z_][\w.$]*)\s*\(\s*([^()]+)\)\s*$`)

// parseReference splits "table(col, col)" into the table and its columns.
func parseReference(ref string) (string, []string, bool) {
	m := referencePattern.FindStringSubmatch(ref)
	if m == nil {
		return "", nil, false
	}
	var cols []string
	for _, c := range strings.Split(m[2], ",") {
		cols = append(cols, strings.TrimSpace(c))
	}
	return m[1], cols, true
}

// check reports what a schema description gets wrong, with paths.
func (s *Schema) check(es *docread.Errors) *docread.Errors {
	if s.Tables == nil && s.Views == nil && s.Procedures == nil {
		es.Add("tables", "is required: a mapping of table names to {columns: {...}}")
	}
	for _, name := range slices.Sorted(maps.Keys(s.Tables)) {
		t, path := s.Tables[name], "tables."+name
		if len(t.Columns) == 0 {
			es.Add(path+".columns", "is required: a table needs at least one column, e.g. columns: {id: {type: bigint, primary_key: true}}")
		}
		for _, cn := range slices.Sorted(maps.Keys(t.Columns)) {
			c := t.Columns[cn]
			cp := path + ".columns." + cn
			if strings.TrimSpace(c.Type) == "" {
				es.Add(cp+".type", "is required: the column's SQL type, e.g. varchar, integer, timestamp")
			} else if _, err := ParseType(c.Type, c.Length, c.Precision, c.Scale); err != nil {
				es.Add(cp+".type", "%v", err)
			}
			if c.PrimaryKey && c.Nullable != nil && *c.Nullable {
				es.Add(cp+".nullable", "a primary key column cannot be nullable: remove nullable or set it to false")
			}
			switch c.Default.(type) {
			case nil, string, int, int64, float64, bool:
			default:
				es.Add(cp+".default", "must be a string, a number or a boolean")
			}
			if strings.Contains(c.OnUpdate, ";") {
				es.Add(cp+".on_update", "must be one SQL expression, e.g. CURRENT_TIMESTAMP")
			}
		}
		hasCol := func(col string) bool { _, ok := t.Columns[col]; return ok }
		checkCols := func(p string, cols []string) {
			if len(cols) == 0 {
				es.Add(p, "lists no column")
			}
			for i, col := range cols {
				if !hasCol(col) {
					es.Add(fmt.Sprintf("%s[%d]", p, i), "%q is not a column of table %s; columns: %s", col, name, strings.Join(slices.Sorted(maps.Keys(t.Columns)), ", "))
				}
			}
		}
		if len(t.Constraints.PrimaryKey) > 0 {
			checkCols(path+".constraints.primary_key", t.Constraints.PrimaryKey)
			for cn, c := range t.Columns {
				if c.PrimaryKey && !contains(t.Constraints.PrimaryKey, cn) {
					es.Add(path+".columns."+cn+".primary_key", "column %s is marked primary_key but constraints.primary_key is %v: keep one of them", cn, t.Constraints.PrimaryKey)
				}
			}
		}
		for i, u := range t.Constraints.Unique {
			checkCols(fmt.Sprintf("%s.constraints.unique[%d]", path, i), u)
		}
		for i, fk := range t.Constraints.ForeignKey {
			fp := fmt.Sprintf("%s.constraints.foreign_key[%d]", path, i)
			checkCols(fp+".columns", fk.Columns)
			_, refCols, ok := parseReference(fk.References)
			switch {
			case !ok:
				es.Add(fp+".references", "%q is not of the form table(column), e.g. users(id)", fk.References)
			case len(refCols) != len(fk.Columns):
				es.Add(fp+".references", "names %d columns but columns lists %d: they must pair up", len(refCols), len(fk.Columns))
			}
			if a := fk.OnDelete; a != "" && !validAction(a) {
				es.Add(fp+".on_delete", "%q is not an action: use CASCADE, SET NULL, SET DEFAULT, RESTRICT or NO ACTION", a)
			}
			if a := fk.OnUpdate; a != "" && !validAction(a) {
				es.Add(fp+".on_update", "%q is not an action: use CASCADE, SET NULL, SET DEFAULT, RESTRICT or NO ACTION", a)
			}
		}
		for i, c := range t.Constraints.Check {
			if strings.TrimSpace(c) == "" {
				es.Add(fmt.Sprintf("%s.constraints.check[%d]", path, i), "is empty: write the condition, e.g. \"amount >= 0\"")
			}
		}
		names := map[string]bool{}
		for i, ix := range t.Indexes {
			ip := fmt.Sprintf("%s.indexes[%d]", path, i)
			checkCols(ip+".columns", ix.Columns)
			if ix.Name != "" && names[ix.Name] {
				es.Add(ip+".name", "%q is already the name of another index of %s", ix.Name, name)
			}
			names[ix.Name] = true
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.Views)) {
		if strings.TrimSpace(s.Views[name].Definition) == "" {
			es.Add("views."+name+".definition", "is required: the view's SELECT statement")
		}
	}
	seen := map[string]bool{}
	for i, p := range s.Procedures {
		pp := fmt.Sprintf("procedures[%d]", i)
		switch {
		case p.Name == "":
			es.Add(pp+".name", "is required")
		case seen[p.Name]:
			es.Add(pp+".name", "%q is listed twice", p.Name)
		}
		seen[p.Name] = true
	}
	return es
}

func validAction(a string) bool {
	switch strings.ToUpper(strings.TrimSpace(a)) {
	case "CASCADE", "SET NULL", "SET DEFAULT", "RESTRICT", "NO ACTION":
		return true
	}
	return false
}

// Normalize folds column-level primary_key and unique flags into the
// table's constraints, sets primary key columns NOT NULL, drops duplicate
// unique constraints and names unnamed indexes, so two descriptions that
// say the same thing in different ways compare equal.
func (s *Schema) Normalize() {
	for name, t := range s.Tables {
		if len(t.Constraints.PrimaryKey) == 0 {
			for _, cn := range slices.Sorted(maps.Keys(t.Columns)) {
				if t.Columns[cn].PrimaryKey {
					t.Constraints.PrimaryKey = append(t.Constraints.PrimaryKey, cn)
				}
			}
		}
		cols := map[string]Column{}
		for cn, c := range t.Columns {
			c = splitOnUpdate(c)
			c.PrimaryKey = false
			if contains(t.Constraints.PrimaryKey, cn) {
				f := false
				c.Nullable = &f
			}
			if c.Unique {
				t.Constraints.Unique = append(t.Constraints.Unique, ColumnList{cn})
				c.Unique = false
			}
			if c.Nullable == nil {
				tr := true
				c.Nullable = &tr
			}
			cols[cn] = c
		}
		t.Columns = cols
		seen := map[string]bool{}
		var uniq []ColumnList
		for _, u := range t.Constraints.Unique {
			k := strings.Join(u, ",")
			if seen[k] || k == strings.Join(t.Constraints.PrimaryKey, ",") {
				continue
			}
			seen[k] = true
			uniq = append(uniq, u)
		}
		sort.Slice(uniq, func(i, j int) bool { return strings.Join(uniq[i], ",") < strings.Join(uniq[j], ",") })
		t.Constraints.Unique = uniq
		for i := range t.Indexes {
			if t.Indexes[i].Name == "" {
				t.Indexes[i].Name = objectName(name, t.Indexes[i].Columns, "idx")
			}
		}
		for i := range t.Constraints.Check {
			t.Constraints.Check[i] = normalizeSpace(t.Constraints.Check[i])
		}
		s.Tables[name] = t
	}
}

// nullable reports whether the column accepts NULL (after Normalize).
func (c Column) nullable() bool { return c.Nullable == nil || *c.Nullable }

func normalizeSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
