// Package expand is the `expand` phase driver, the first phase of an
// expand/contract change to a live schema: it applies a SQL script that
// adds to the schema (a new column, an index), installs the dual-write
// triggers that keep the old and new shapes in step while old and new
// application code both write, and, as its compensation, removes those
// triggers and runs the rollback script. The work is schemachange's; the
// backfill and contract drivers are the change's later phases.
package expand

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/drivers/stores"
)

// Key is the section key of the driver in a phase.
const Key = "expand"

func init() { config.RegisterDriver(Key, func() config.DriverSpec { return &Spec{} }) }

// Source says where a SQL script comes from.
type Source struct {
	// FromFile is a SQL file on the worker, under its files directory
	// ($GODWIT_FILES_DIR, default its working directory; relative paths
	// are relative to it), read by the activity, never carried in the
	// workflow's history.
	FromFile string `yaml:"fromFile" json:"fromFile,omitempty"`
	// FromReport is a `godwit check-compat` report (JSON, on the worker,
	// under the same files directory) made for the store's dialect: an
	// expand's sql takes its forward SQL, its rollback the rollback SQL,
	// a contract's sql the old names of the columns it renames (a rename
	// runs as add, dual-write, backfill, drop).
	FromReport string `yaml:"fromReport" json:"fromReport,omitempty"`
}

// Path is the file the source names.
func (s *Source) Path() string {
	if s == nil {
		return ""
	}
	if s.FromReport != "" {
		return s.FromReport
	}
	return s.FromFile
}

// CheckSource reports a missing or doubled script source at field.
func CheckSource(c *config.CheckContext, field string, s *Source, what string) {
	switch {
	case s == nil || s.FromFile == "" && s.FromReport == "":
		c.Errorf(field, "is required: {fromFile: PATH}, the SQL file (on the worker) that %s", what)
	case s.FromFile != "" && s.FromReport != "":
		c.Errorf(field, "sets both fromFile and fromReport: choose one")
	}
}

// CheckOnline reports an online: value that is neither prefer nor require.
func CheckOnline(c *config.CheckContext, v string) {
	switch v {
	case "", OnlinePrefer, OnlineRequire:
	default:
		c.Errorf("online", "is %q: write prefer (the default: the most online form the engine takes, as written when it has none) or require (refuse a statement with no online form)", v)
	}
}

// The values of online:.
const (
	OnlinePrefer  = "prefer"
	OnlineRequire = "require"
)

// Rule is one dual-write rule: the column it keys is set from Expr, an
// SQL expression over the row ("lower(email)"), or, written {from: COL}
// for the inverse direction (new code writing only the new column), from
// From. Both mean the same to the trigger: set this column from that
// expression when a write changes the columns it reads but not this one.
type Rule struct {
	Expr string `json:"expr,omitempty"`
	From string `json:"from,omitempty"`
}

// UnmarshalYAML reads either written form.
func (r *Rule) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		r.Expr = n.Value
		return nil
	case yaml.MappingNode:
		var m map[string]string
		if err := n.Decode(&m); err != nil {
			return fmt.Errorf("must be an SQL expression or {from: EXPRESSION}")
		}
		for k, v := range m {
			if k != "from" {
				return fmt.Errorf("%q is not a field of a dual-write rule: write an SQL expression, or {from: EXPRESSION}", k)
			}
			r.From = v
		}
		return nil
	}
	return fmt.Errorf("must be an SQL expression or {from: EXPRESSION}")
}

// Expression is the rule's SQL expression, in either form.
func (r Rule) Expression() string {
	if r.From != "" {
		return r.From
	}
	return r.Expr
}

// Spec is a phase's `expand:` section.
type Spec struct {
	// Store is the store whose schema changes.
	Store string `yaml:"store" json:"store"`
	// SQL adds to the schema; Rollback undoes it (the compensation).
	SQL      *Source `yaml:"sql" json:"sql"`
	Rollback *Source `yaml:"rollback" json:"rollback"`
	// DualWrite maps table → column → rule: triggers that keep the column
	// set from its rule while old and new code both write.
	DualWrite map[string]map[string]Rule `yaml:"dualWrite" json:"dualWrite,omitempty"`
	// LockTimeout bounds each wait for a table's lock (default 2s); a
	// statement that times out is retried, Retries times (default 5).
	LockTimeout config.Duration `yaml:"lockTimeout" json:"lockTimeout,omitempty"`
	Retries     int             `yaml:"retries" json:"retries,omitempty"`
	// Online, on MySQL/MariaDB: prefer (the default) runs each ALTER TABLE
	// in its most online form the engine takes (INSTANT, then INPLACE with
	// LOCK=NONE) and as written when there is none; require refuses a
	// statement that has none.
	Online string `yaml:"online" json:"online,omitempty"`
	// Stores holds the store's spec, copied from the spec's stores: when
	// the spec is checked (the activity sees only its phase).
	Stores map[string]config.StoreSpec `yaml:"-" json:"stores,omitempty"`
	// Later names the phases after this one that keep records in the
	// store (LaterPhases), filled when the spec is checked. No omitempty:
	// nil means a run started before the field existed.
	Later []string `yaml:"-" json:"later"`
}

// Check reports an unknown store, missing scripts and empty rules.
func (s *Spec) Check(c *config.CheckContext) {
	stores.CheckStoreRef(c, "store", s.Store)
	CheckSource(c, "sql", s.SQL, "changes the schema (adds the new column)")
	CheckSource(c, "rollback", s.Rollback, "undoes it (drops the new column): the phase's compensation")
	for _, table := range slices.Sorted(maps.Keys(s.DualWrite)) {
		if err := datastore.ValidatePattern(table); err != nil || strings.ContainsAny(table, "*?[") {
			c.Errorf("dualWrite."+table, "must name one table, not a pattern")
		}
		if len(s.DualWrite[table]) == 0 {
			c.Errorf("dualWrite."+table, "names no column: write {new_column: \"expression over the old ones\"}")
		}
		for col, r := range s.DualWrite[table] {
			if strings.TrimSpace(r.Expression()) == "" {
				c.Errorf("dualWrite."+table+"."+col, "is empty: write an SQL expression over the row, e.g. \"lower(email)\", or {from: COLUMN}")
			}
		}
	}
	if s.Retries < 0 {
		c.Errorf("retries", "must not be negative")
	}
	CheckOnline(c, s.Online)
	s.Stores = stores.Pick(c.Spec, s.Store)
	s.Later = LaterPhases(c, s.Store)
}

// ApplyDefaults makes the phase's compensation run even when the phase
// failed: on MySQL/MariaDB a script refused part way stays partly applied
// (its DDL commits statement by statement), and only the rollback undoes
// it; on PostgreSQL and SQLite a failed expand applied nothing, and its
// rollback finds nothing recorded and runs no SQL.
func (s *Spec) ApplyDefaults(p *config.PhaseSpec) {
	if p != nil {
		p.CompensatePartial = true
	}
}

// ProvidesColumn reports that the phase adds column to table in store:
// every column it dual-writes is one the change adds (or the old one the
// inverse rule sets, which exists already).
func (s *Spec) ProvidesColumn(store, table, column string) bool {
	if store != s.Store {
		return false
	}
	for t, cols := range s.DualWrite {
		if !strings.EqualFold(t, table) {
			continue
		}
		for c := range cols {
			if strings.EqualFold(c, column) {
				return true
			}
		}
	}
	return false
}

// Resources are the dual-written tables.
func (s *Spec) Resources(spec *config.Spec) []string {
	return stores.Resources(spec, s.Store, slices.Sorted(maps.Keys(s.DualWrite)))
}

// Rules returns the dual-write rules per table, in column order.
func (s *Spec) Rules() map[string][]datastore.DualWriteRule {
	out := map[string][]datastore.DualWriteRule{}
	for _, table := range slices.Sorted(maps.Keys(s.DualWrite)) {
		for _, col := range slices.Sorted(maps.Keys(s.DualWrite[table])) {
			out[table] = append(out[table], datastore.DualWriteRule{Column: col, Expr: s.DualWrite[table][col].Expression()})
		}
	}
	return out
}

// Tables are the dual-written tables, sorted.
func (s *Spec) Tables() []string { return slices.Sorted(maps.Keys(s.DualWrite)) }

// SuccessCriteria is what a person checks once the phase is done (the
// plan's and runbook's success criteria).
func (s *Spec) SuccessCriteria() []string {
	out := []string{fmt.Sprintf("%s is applied to %s (the new shape is there beside the old one, which old code still uses)", s.SQL.Path(), s.Store)}
	for _, t := range s.Tables() {
		out = append(out, fmt.Sprintf("writes to %s keep its old and new columns in step (dual-write trigger in place)", t))
	}
	return out
}
