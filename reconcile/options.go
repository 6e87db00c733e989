// Package reconcile proves that a target database holds the same rows as a
// source, table by table, across PostgreSQL, MySQL/MariaDB and SQLite, and
// names every key that differs: missing_in_target, extra_in_target or
// mismatched (with the differing columns).
//
// Cheapest first: exact row counts; then checksums of key ranges — the sum
// of a per-row MD5 over a canonical text form of the row, computed inside
// PostgreSQL and MySQL (SQLite has no hash function: its side is hashed in
// Go over the streamed rows); ranges whose checksums differ are split and
// compared again (bisection) until they hold at most Threshold rows, which
// are fetched from both sides and compared row by row. Equal tables cost one
// pass of checksums, not a transfer of rows. See docs/reconcile.md.
//
// It knows nothing of Temporal: the reconcile phase driver
// (drivers/reconcile) and the `godwit reconcile` / `godwit diff` commands
// call Run.
package reconcile

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/mapping"
)

// ErrBadOption is a setting that cannot work (an unknown column in a rule,
// a tolerance on a text column, a key column ignored). Permanent.
var ErrBadOption = errors.New("bad reconcile option")

// ErrLimit wraps the reason a check stopped early (time or differences).
var ErrLimit = errors.New("reconcile stopped at a limit")

// IsPermanent reports whether retrying cannot fix err: a bad option or one
// of datastore's permanent errors (unknown table, no primary key, access
// denied ...). Anything else (a dropped connection) is worth a retry.
func IsPermanent(err error) bool {
	return errors.Is(err, ErrBadOption) || errors.Is(err, mapping.ErrMapping) || datastore.IsPermanent(err)
}

// TablePair names a table on each side; the names are usually equal.
type TablePair struct {
	Source string `json:"source"`
	Target string `json:"target"`
	// Map, when set, says how source rows become target rows (renamed and
	// computed columns, a filter): the check compares through it and its
	// findings name the target's columns. Nil: same names on both sides.
	Map *mapping.Table `json:"map,omitempty"`
}

// ColumnRule overrides how one column is compared.
type ColumnRule struct {
	// Ignore leaves the column out of checksums and comparisons.
	Ignore bool `yaml:"ignore" json:"ignore,omitempty"`
	// Tolerance compares a numeric column as equal when the values differ
	// by at most this much (decimal text, e.g. "0.01").
	Tolerance string `yaml:"tolerance" json:"tolerance,omitempty"`
	// AsText compares the engine's own text rendering (CAST AS TEXT)
	// instead of the canonical form of the column's kind.
	AsText bool `yaml:"asText" json:"asText,omitempty"`
	// TrimRight ignores trailing spaces (CHAR padding, MySQL PAD SPACE).
	TrimRight bool `yaml:"trimRight" json:"trimRight,omitempty"`
	// EmptyIsNull treats an empty string as NULL (Oracle-style sources).
	EmptyIsNull bool `yaml:"emptyIsNull" json:"emptyIsNull,omitempty"`
	// Precision truncates timestamps before comparing: "s" (seconds),
	// "ms" (milliseconds) or "us" (microseconds, the default).
	Precision string `yaml:"precision" json:"precision,omitempty"`
}

// Options configure a check. Source is the side of truth: rows only it has
// are missing_in_target, rows only Target has are extra_in_target.
type Options struct {
	Source, Target *datastore.Store
	// SourceName and TargetName label the sides in the report (store
	// names such as "legacy" and "new").
	SourceName, TargetName string
	// Tables to compare; see ResolveTables for patterns.
	Tables []TablePair
	// Columns holds rules by "table.column" (source table name) or
	// "*.column" for every table with that column.
	Columns map[string]ColumnRule
	// Where bounds the rows compared, by source table name or "*": an SQL
	// condition applied on both sides, e.g. "updated_at < '2024-05-01'",
	// so rows being written while the check runs stay out.
	Where map[string]string
	// UpdatedColumn, when set, names a timestamp column (in every table)
	// that each write sets: only rows it dates before the check began are
	// compared, so rows written during the check stay out, on both sides.
	UpdatedColumn string
	// Factor is the number of sub-ranges a differing range is split into
	// (default 16).
	Factor int
	// Threshold is the largest range (in rows) that is fetched and compared
	// row by row instead of being split again (default 256).
	Threshold int
	// Concurrency is how many ranges are checked at once per table, and
	// how many tables at once (default 2).
	Concurrency int
	// MaxDifferences stops the check once this many differences were found
	// (0: no limit); MaxDuration stops it after this long (0: no limit).
	// A stopped check is incomplete and says why.
	MaxDifferences int64
	MaxDuration    time.Duration
	// RecheckAfter, when positive, waits this long after a table's
	// differences were found and fetches those keys again from both sides:
	// only those still differing count (rows in flight on a live source).
	RecheckAfter time.Duration
	// Repair, when set, re-copies each table's differing rows from the
	// source of truth once the check (and any re-check) is over: missing
	// and mismatched keys are upserted into the target, extra ones deleted
	// only with DeleteExtra. Exactly those keys are then fetched again
	// from both sides; TableReport.Repair says what was done and what still
	// differs, and Tolerance.Check judges the table on that. A check
	// stopped at a limit repairs nothing.
	Repair      bool
	DeleteExtra bool
	// SampleKeys bounds the keys kept per class and table in the summary
	// (default 10); MaxListed bounds the full list (default 10000).
	SampleKeys int
	MaxListed  int
	// SampleValues is how many mismatched rows per table carry their
	// differing values (truncated) in the report (default 3; -1: none).
	SampleValues int
	// FloatDecimals is the number of decimal places floats are compared at
	// (default 6): engines render binary floats differently.
	FloatDecimals int
	// Logger receives progress logs; nil discards them.
	Logger hclog.Logger
	// Progress, when set, is called as ranges are resolved (at most about
	// once a second) and when a table ends.
	Progress func(Progress)

	// PortableHash keeps the canonical cross-engine hash (MD5 of the
	// canonical text) between two PostgreSQL databases, instead of
	// PostgreSQL's own hashtextextended: for measuring that path, or to
	// compare checksums with a third engine's.
	PortableHash bool

	// started is a test hook called once the check has taken its start
	// time (rows dated after it are in flight).
	started func()
	// beforeRecheck is a test hook called just before the recheck fetch.
	beforeRecheck func()
}

func (o *Options) withDefaults() Options {
	c := *o
	if c.Factor < 2 {
		c.Factor = 16
	}
	if c.Threshold < 1 {
		c.Threshold = 256
	}
	if c.Concurrency < 1 {
		c.Concurrency = 2
	}
	if c.SampleKeys <= 0 {
		c.SampleKeys = 10
	}
	if c.MaxListed <= 0 {
		c.MaxListed = 10000
	}
	if c.SampleValues == 0 {
		c.SampleValues = 3
	}
	if c.FloatDecimals <= 0 {
		c.FloatDecimals = 6
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	if c.SourceName == "" {
		c.SourceName = "source"
	}
	if c.TargetName == "" {
		c.TargetName = "target"
	}
	return c
}

// rule returns the rule for a column of a (source) table.
func (o *Options) rule(table, column string) ColumnRule {
	if r, ok := o.Columns[table+"."+column]; ok {
		return r
	}
	return o.Columns["*."+column]
}

// where returns the bound for a (source) table.
func (o *Options) where(table string) string {
	if w, ok := o.Where[table]; ok {
		return w
	}
	return o.Where["*"]
}

// CheckRule reports what is wrong with a rule, for a spec checker.
func CheckRule(r ColumnRule) error {
	if r.Tolerance != "" {
		t, ok := new(big.Rat).SetString(r.Tolerance)
		if !ok || t.Sign() <= 0 {
			return fmt.Errorf("%w: tolerance %q: want a positive number such as 0.01", ErrBadOption, r.Tolerance)
		}
	}
	switch r.Precision {
	case "", "s", "ms", "us":
	default:
		return fmt.Errorf("%w: precision %q: want s, ms or us", ErrBadOption, r.Precision)
	}
	if r.Ignore && (r.Tolerance != "" || r.AsText || r.TrimRight || r.EmptyIsNull || r.Precision != "") {
		return fmt.Errorf("%w: an ignored column takes no other setting", ErrBadOption)
	}
	return nil
}

// CheckRuleKey reports whether a Columns key has the "table.column" or
// "*.column" form.
func CheckRuleKey(k string) error {
	t, c, ok := strings.Cut(k, ".")
	if !ok || t == "" || c == "" || strings.Contains(c, ".") {
		return fmt.Errorf("%w: column rule %q: want table.column or *.column", ErrBadOption, k)
	}
	return nil
}
