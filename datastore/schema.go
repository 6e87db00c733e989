// Package datastore talks to the relational databases a migration moves data
// between — PostgreSQL, MySQL/MariaDB and SQLite — through one small API:
// open a store from a DSN, list and introspect tables, read them in keyset
// order, write batches idempotently (upsert by key), count rows, and create or
// drop the tables a migration provisions. It knows nothing of Temporal.
//
// Values cross engines in one canonical Go form per portable Kind (see
// values.go), so a row read from one engine can be written to any other.
package datastore

import (
	"fmt"
	"strings"
)

// Kind is an engine-neutral column type. The mapping of each Kind to each
// engine's native type is documented in docs/data-plane.md and implemented in
// nativeType.
type Kind string

// The portable kinds. KindUnsupported marks a native type that has no
// lossless mapping (PostgreSQL interval, arrays, ...): provision refuses it
// unless the caller overrides the column's target type.
const (
	KindSmallInt    Kind = "smallint"    // 16-bit signed integer
	KindInt         Kind = "int"         // 32-bit signed integer
	KindBigInt      Kind = "bigint"      // 64-bit signed integer
	KindDecimal     Kind = "decimal"     // exact numeric, Precision/Scale (0 = unbounded)
	KindFloat       Kind = "float"       // 32-bit float
	KindDouble      Kind = "double"      // 64-bit float
	KindBool        Kind = "bool"        // true/false
	KindText        Kind = "text"        // unbounded string
	KindVarchar     Kind = "varchar"     // string of at most Length characters
	KindBytes       Kind = "bytes"       // binary
	KindDate        Kind = "date"        // calendar date
	KindTimestamp   Kind = "timestamp"   // date and time without zone (wall clock)
	KindTimestampTZ Kind = "timestamptz" // an instant (kept in UTC)
	KindJSON        Kind = "json"        // a JSON document, kept as its text
	KindUUID        Kind = "uuid"        // a UUID, kept as its canonical text
	KindUnsupported Kind = "unsupported" // no lossless mapping; see Column.NativeType
)

// Type is a column's portable type.
type Type struct {
	Kind      Kind `json:"kind"`
	Length    int  `json:"length,omitempty"`    // KindVarchar
	Precision int  `json:"precision,omitempty"` // KindDecimal; 0 = unbounded
	Scale     int  `json:"scale,omitempty"`     // KindDecimal
	// Padded is a PostgreSQL character(n): stored blank-padded to n, the
	// padding no part of the value (it compares equal without it, ::text
	// drops it). Reads drop it, so a VARCHAR(n) elsewhere holds the value.
	Padded bool `json:"padded,omitempty"`
	// Fraction is a KindTimestamp's or KindTimestampTZ's fractional-second
	// digits: 1–5, WholeSeconds for none (a MySQL DATETIME), or 0 for six
	// (microseconds, the most any engine here keeps; PostgreSQL's default).
	// 0 is also what a Type stored before the field existed (in a running
	// migration's payloads) reads as, which keeps six as it always was.
	Fraction int `json:"fraction,omitempty"`
}

// WholeSeconds is Type.Fraction of a timestamp without fractional seconds.
const WholeSeconds = -1

// FractionDigits is how many fractional-second digits a timestamp keeps (6
// unless Fraction says fewer).
func (t Type) FractionDigits() int {
	switch {
	case t.Fraction == WholeSeconds:
		return 0
	case t.Fraction > 0 && t.Fraction < 6:
		return t.Fraction
	}
	return 6
}

// timestampType is the timestamp kind k keeping digits fractional-second
// digits, as an engine's type declares them (timestamp(3), DATETIME(0)).
func timestampType(k Kind, digits int) Type {
	switch {
	case digits <= 0:
		return Type{Kind: k, Fraction: WholeSeconds}
	case digits < 6:
		return Type{Kind: k, Fraction: digits}
	}
	return Type{Kind: k}
}

// String renders the type as in the type-mapping table, e.g. "decimal(10,2)".
func (t Type) String() string {
	switch {
	case t.Kind == KindVarchar && t.Length > 0:
		return fmt.Sprintf("varchar(%d)", t.Length)
	case t.Kind == KindDecimal && t.Precision > 0:
		return fmt.Sprintf("decimal(%d,%d)", t.Precision, t.Scale)
	case (t.Kind == KindTimestamp || t.Kind == KindTimestampTZ) && t.FractionDigits() < 6:
		return fmt.Sprintf("%s(%d)", t.Kind, t.FractionDigits())
	}
	return string(t.Kind)
}

// DefaultKind classifies a column default so it can be carried across
// engines; anything that is not a plain literal or the current time is an
// engine-specific expression and is not carried to another engine.
type DefaultKind string

// The default kinds.
const (
	DefaultLiteral DefaultKind = "literal" // a number, string or boolean literal, in Value
	DefaultNow     DefaultKind = "now"     // the current timestamp
	DefaultExpr    DefaultKind = "expr"    // anything else, in Value as the engine wrote it
)

// Default is a column's default value.
type Default struct {
	Kind   DefaultKind `json:"kind"`
	Value  string      `json:"value,omitempty"`  // literal text (unquoted) or the expression
	Quoted bool        `json:"quoted,omitempty"` // a string literal (render quoted)
}

// Column is one column of a table.
type Column struct {
	Name          string   `json:"name"`
	Type          Type     `json:"type"`
	NativeType    string   `json:"nativeType"` // as the engine reports it, e.g. "character varying(40)"
	Nullable      bool     `json:"nullable"`
	Default       *Default `json:"default,omitempty"`
	AutoIncrement bool     `json:"autoIncrement,omitempty"` // serial/identity, AUTO_INCREMENT, INTEGER PRIMARY KEY
	// OnUpdateNow: MySQL's ON UPDATE CURRENT_TIMESTAMP (every update sets
	// the column to the time of the update).
	OnUpdateNow bool `json:"onUpdateNow,omitempty"`
	// Expr, in a mapped source view (MapTable), is the SQL expression in
	// the source's dialect that reads the column instead of its name.
	Expr string `json:"expr,omitempty"`
}

// Index is a secondary index or a unique constraint (both are created the
// same way on the target).
type Index struct {
	Name    string   `json:"name"`
	Columns []string `json:"columns"`
	Unique  bool     `json:"unique"`
	// Method is a PostgreSQL index's access method when it is not btree
	// (gist, gin, hash, brin, ...), or a MySQL index's kind when it is
	// fulltext or spatial: kept on the same engine, not carried elsewhere.
	Method string `json:"method,omitempty"`
}

// ForeignKey is a foreign-key constraint of a table: Columns reference
// RefColumns of RefTable (same schema/database), in the same order.
type ForeignKey struct {
	Name       string   `json:"name"`
	Columns    []string `json:"columns"`
	RefTable   string   `json:"refTable"`
	RefColumns []string `json:"refColumns"`
	// OnDelete and OnUpdate are the referential actions in SQL's words:
	// NO ACTION, RESTRICT, CASCADE, SET NULL, SET DEFAULT.
	OnDelete string `json:"onDelete,omitempty"`
	OnUpdate string `json:"onUpdate,omitempty"`
	// Deferrable is when the constraint is checked: "" (NOT DEFERRABLE,
	// at each statement), DeferrableImmediate (DEFERRABLE INITIALLY
	// IMMEDIATE: at each statement unless a transaction defers it with SET
	// CONSTRAINTS) or DeferrableDeferred (DEFERRABLE INITIALLY DEFERRED:
	// at commit). Read from PostgreSQL; MySQL/MariaDB have no deferred
	// constraints.
	Deferrable string `json:"deferrable,omitempty"`
	// cycle, set by CreateForeignKeys on a PostgreSQL target, is the
	// cycle of keys this one closes ("store → staff → store"), for which
	// it is made deferrable there.
	cycle string
}

// The values of ForeignKey.Deferrable.
const (
	DeferrableImmediate = "IMMEDIATE"
	DeferrableDeferred  = "DEFERRED"
)

// String renders the constraint for a person: "orders(customer_id) → customers(id)".
func (fk ForeignKey) String() string {
	return fmt.Sprintf("%s (%s) → %s (%s)", fk.Name, strings.Join(fk.Columns, ", "), fk.RefTable, strings.Join(fk.RefColumns, ", "))
}

// Table is the introspected shape of one table.
type Table struct {
	Name       string   `json:"name"`
	Engine     Engine   `json:"engine"` // the engine it was read from (NativeType is in its terms)
	Columns    []Column `json:"columns"`
	PrimaryKey []string `json:"primaryKey"` // in key order; empty if the table has none
	Indexes    []Index  `json:"indexes,omitempty"`
	// ForeignKeys are the table's foreign-key constraints, by name.
	ForeignKeys []ForeignKey `json:"foreignKeys,omitempty"`
	// Skipped lists what introspection saw but cannot carry (expression or
	// partial indexes), so provision can say so instead of dropping it silently.
	Skipped []string `json:"skipped,omitempty"`
	// InsertTriggers names the table's own BEFORE INSERT triggers
	// (PostgreSQL, MySQL; not Godwit's). An upsert (ON CONFLICT / ON
	// DUPLICATE KEY UPDATE) passes every row through them, also one that
	// exists and is only updated, and writes the values they set (a
	// create date reset to now): Apply updates the rows that exist instead.
	InsertTriggers []string `json:"insertTriggers,omitempty"`
	// Where, in a mapped source view (MapTable), is the SQL condition
	// (source dialect) of the rows read; "" reads every row.
	Where string `json:"where,omitempty"`
	// Mapped marks a source view built by MapTable: its columns pair by
	// position with a target view whose names differ.
	Mapped bool `json:"mapped,omitempty"`
	// InheritsFrom names the PostgreSQL tables this one inherits from (or
	// is a partition of): their reads include its rows.
	InheritsFrom []string `json:"inheritsFrom,omitempty"`
	// IndexesDeferred, on a PostgreSQL target view, says the table's key
	// and indexes are dropped for the load (Store.DeferIndexes) and the
	// rows past the batch known absent: a batch goes in with plain COPY,
	// never probed (no index would answer the probe) nor merged (no key
	// to merge on).
	IndexesDeferred bool `json:"-"`
	// MappedFrom, on a table provision creates through a mapping
	// (TargetTable), is the source table, and SourceColumns maps each
	// carried target column to its source column: a type refusal then
	// names the fix in the mapping's terms (cast:), since a mapped
	// provision refuses typeOverrides.
	MappedFrom    string            `json:"-"`
	SourceColumns map[string]string `json:"-"`
}

// InheritanceProblems names each table whose PostgreSQL parent is among
// tables too: a read of the parent includes the child's rows, so copying
// both writes those rows twice on the target (once in the parent, where
// no inheritance links them, and once in the child).
func InheritanceProblems(tables []*Table) []string {
	in := map[string]bool{}
	for _, t := range tables {
		in[t.Name] = true
	}
	var problems []string
	for _, t := range tables {
		for _, p := range t.InheritsFrom {
			if in[p] {
				problems = append(problems, fmt.Sprintf("table %s inherits from %s (or is its partition), which is also listed: reading %s includes %s's rows, so copying both would write them twice; leave %s out of tables (%s carries its rows)",
					t.Name, p, p, t.Name, t.Name, p))
			}
		}
	}
	return problems
}

// Column returns the named column, or nil.
func (t *Table) Column(name string) *Column {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i]
		}
	}
	return nil
}

// ColumnNames returns the columns' names in table order.
func (t *Table) ColumnNames() []string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return names
}

// KeyIndexes returns the positions of the primary-key columns in Columns.
func (t *Table) KeyIndexes() []int {
	idx := make([]int, len(t.PrimaryKey))
	for i, k := range t.PrimaryKey {
		for j, c := range t.Columns {
			if c.Name == k {
				idx[i] = j
			}
		}
	}
	return idx
}

// CheckCopyable returns an error wrapping ErrNoPrimaryKey if the table cannot
// be read in keyset order (and so cannot be copied resumably or upserted).
func (t *Table) CheckCopyable() error {
	if len(t.PrimaryKey) == 0 {
		return fmt.Errorf("table %s: %w (keyset copy and idempotent writes need one)", t.Name, ErrNoPrimaryKey)
	}
	return nil
}

// parseDefault classifies a default as an engine wrote it. Casts such as
// PostgreSQL's 'x'::text are removed first.
func parseDefault(raw string) *Default {
	s := strings.TrimSpace(raw)
	if s == "" || strings.EqualFold(s, "null") {
		return nil
	}
	// PostgreSQL writes casts and parentheses around literals:
	// 'abc'::character varying, (0)::numeric, ('1.5'::numeric).
	for {
		before := s
		s = stripCast(s)
		if len(s) >= 2 && s[0] == '(' && s[len(s)-1] == ')' && !strings.Contains(s[1:len(s)-1], "(") {
			s = strings.TrimSpace(s[1 : len(s)-1])
		}
		if s == before {
			break
		}
	}
	lower := strings.ToLower(s)
	switch lower {
	case "now()", "current_timestamp", "current_timestamp()", "localtimestamp", "localtimestamp()",
		"current_timestamp(6)", "current_timestamp(3)", "now(6)", "statement_timestamp()", "transaction_timestamp()":
		return &Default{Kind: DefaultNow}
	case "true", "false":
		return &Default{Kind: DefaultLiteral, Value: lower}
	}
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return &Default{Kind: DefaultLiteral, Value: strings.ReplaceAll(s[1:len(s)-1], "''", "'"), Quoted: true}
	}
	if isNumberLiteral(s) {
		return &Default{Kind: DefaultLiteral, Value: s}
	}
	return &Default{Kind: DefaultExpr, Value: strings.TrimSpace(raw)}
}

// stripCast removes a trailing PostgreSQL cast (::type) that is not inside a
// string literal.
func stripCast(s string) string {
	if i := strings.LastIndex(s, "::"); i > 0 && !strings.Contains(s[i:], "'") {
		return strings.TrimSpace(s[:i])
	}
	return s
}

func isNumberLiteral(s string) bool {
	if s == "" {
		return false
	}
	digits, dot := 0, false
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case (r == '-' || r == '+') && i == 0:
		case r == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}
