// Package reconcile is the reconcile phase driver: it compares tables of
// two stores of the spec with the reconcile domain package and fails the
// phase (so the migration rolls back) when the differences exceed the
// spec's tolerance. The spec section is `reconcile:`.
package reconcile

import (
	"fmt"
	"strings"
	"time"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/drivers/stores"
	"github.com/godwit/godwit/mapping"
	"github.com/godwit/godwit/migration"
	rec "github.com/godwit/godwit/reconcile"
)

func init() { config.RegisterDriver("reconcile", func() config.DriverSpec { return &Spec{} }) }

// Directions of a check.
const (
	// Auto: forward, unless a shift-traffic phase comes before this one in
	// the spec (the writes have moved, so the new side is the truth).
	DirectionAuto = "auto"
	// Forward: `from` is the truth (rows only `to` has are extra).
	DirectionForward = "forward"
	// Reverse: `to` is the truth.
	DirectionReverse = "reverse"
)

// Spec is the `reconcile:` section of a phase.
type Spec struct {
	// From and To name stores of the spec's `stores:`.
	From string `yaml:"from" json:"from"`
	To   string `yaml:"to" json:"to"`
	// Tables are table names or glob patterns, matched on the source.
	Tables []string `yaml:"tables" json:"tables"`
	// Mapping names one of the spec's mappings: the check compares each
	// of its tables through it (target names, computed columns, filter),
	// instead of from, to and tables.
	Mapping string `yaml:"mapping" json:"mapping,omitempty"`
	// Tolerance is the gate: zero differences of each class by default.
	Tolerance rec.Tolerance `yaml:"tolerance" json:"tolerance"`
	// RecheckAfter re-fetches differing keys after this delay before they
	// count (a live source, replication lag); 0: no re-check.
	RecheckAfter config.Duration `yaml:"recheckAfter" json:"recheckAfter,omitempty"`
	// Direction is auto (default), forward or reverse.
	Direction string `yaml:"direction" json:"direction,omitempty"`
	// Columns overrides how columns compare, by "table.column" or
	// "*.column": ignore, tolerance, asText, trimRight, emptyIsNull, precision.
	Columns map[string]rec.ColumnRule `yaml:"columns" json:"columns,omitempty"`
	// Where bounds the rows compared per table (or "*"), an SQL condition
	// run on both sides, to keep rows written during the check out.
	Where map[string]string `yaml:"where" json:"where,omitempty"`
	// UpdatedColumn names a timestamp column every write sets: rows it
	// dates after the check began are in flight and not compared.
	UpdatedColumn string `yaml:"updatedColumn" json:"updatedColumn,omitempty"`
	// MaxDifferences and MaxDuration stop the check early (the phase then
	// fails: an incomplete check proves nothing).
	MaxDifferences int64           `yaml:"maxDifferences" json:"maxDifferences,omitempty"`
	MaxDuration    config.Duration `yaml:"maxDuration" json:"maxDuration,omitempty"`
	// Repair re-copies the differing rows from the source of truth once
	// they are found (`repair: true`), deleting extra rows only with
	// `repair: {deleteExtra: true}`; the phase then passes only if the
	// re-check of exactly those keys is clean (extra rows kept meet the
	// extra tolerance).
	Repair Repair `yaml:"repair" json:"repair,omitempty"`
	// ReportFile is where the worker writes the full report (every
	// differing key, up to 10,000 per table) as JSON; default
	// <state dir>/reconcile/<migration>/<phase>.json (see ReportPath).
	ReportFile string `yaml:"reportFile" json:"reportFile,omitempty"`
	// Factor, Threshold and Concurrency tune the bisection (16, 256, 2).
	Factor      int `yaml:"factor" json:"factor,omitempty"`
	Threshold   int `yaml:"threshold" json:"threshold,omitempty"`
	Concurrency int `yaml:"concurrency" json:"concurrency,omitempty"`
	// Units, when set (`fanOut: N`), compares each table as its own
	// activity, at most N at once, so the workers share the tables and
	// each resumes on its own.
	Units int `yaml:"fanOut" json:"fanOut,omitempty"`

	// Resolved by Check from the rest of the spec, so the activity (which
	// sees only its phase) has them: the stores' engines and DSN
	// references (never a DSN) and the direction auto stands for.
	FromStore config.StoreSpec `yaml:"-" json:"fromStore"`
	ToStore   config.StoreSpec `yaml:"-" json:"toStore"`
	Truth     string           `yaml:"-" json:"truth,omitempty"`
	// MappingSpec is the mapping Mapping names, resolved by Check.
	MappingSpec *mapping.Spec `yaml:"-" json:"mappingSpec,omitempty"`
}

// ApplyDefaults fills the direction.
func (s *Spec) ApplyDefaults(*config.PhaseSpec) {
	if s.Direction == "" {
		s.Direction = DirectionAuto
	}
}

// HasCompensation is false: a check changes nothing, so there is nothing
// to undo.
func (s *Spec) HasCompensation() bool { return false }

// Pausable is true: a pause stops the check between tables and a resume
// goes on with the tables not yet compared.
func (s *Spec) Pausable() bool { return true }

// Check reports every problem and resolves the stores and the direction.
func (s *Spec) Check(c *config.CheckContext) {
	s.MappingSpec = stores.UseMapping(c, s.Mapping, &s.From, &s.To, &s.Tables)
	if s.Mapping != "" && s.MappingSpec == nil {
		return // the unknown mapping is the error
	}
	for _, f := range []struct{ path, name string }{{"from", s.From}, {"to", s.To}} {
		st, ok := c.Spec.Stores[f.name]
		switch {
		case !ok && s.Mapping != "":
			// Reported at the mapping's own from / to.
		case !ok:
			// The same words as provision's and copy's, with a did-you-mean.
			stores.CheckStoreRef(c, f.path, f.name)
		case f.path == "from":
			s.FromStore = st
		default:
			s.ToStore = st
		}
	}
	if len(s.Tables) == 0 {
		c.Errorf("tables", "is required: the tables to compare, names or patterns such as orders_*")
	}
	for i, p := range s.Tables {
		if err := datastore.ValidatePattern(p); err != nil {
			c.Errorf(indexPath("tables", i), "%v", err)
		}
	}
	switch s.Direction {
	case DirectionAuto:
		s.Truth = DirectionForward
		for i := range c.Spec.Phases {
			p := &c.Spec.Phases[i]
			if p.Name == c.Phase.Name {
				break
			}
			if p.Phase == migration.PhaseShiftTraffic {
				s.Truth = DirectionReverse
			}
		}
	case DirectionForward, DirectionReverse:
		s.Truth = s.Direction
	default:
		c.Errorf("direction", "%q: want auto, forward or reverse", s.Direction)
	}
	if m := s.MappingSpec; m != nil && s.Truth == DirectionReverse {
		why := "direction: reverse"
		if s.Direction == DirectionAuto {
			why = "auto, after a traffic phase: the writes have moved to " + s.To
		}
		for _, p := range m.Invertible() {
			// A cast can be given an inverse; a filter cannot (its message
			// says to remove it).
			fix := "give the rule its inverse, or set direction: forward"
			if strings.HasSuffix(p.Path, ".where") {
				fix = "or set direction: forward"
			}
			c.Errorf("direction", "is reverse (%s), so the check compares %s against %s through the inverse of mapping %s, which has none: mappings.%s.%s: %s; %s",
				why, s.To, s.From, s.Mapping, s.Mapping, p.Path, p.Message, fix)
		}
	}
	for k, r := range s.Columns {
		if err := rec.CheckRuleKey(k); err != nil {
			c.Errorf("columns."+k, "%v", err)
			continue
		}
		if err := rec.CheckRule(r); err != nil {
			c.Errorf("columns."+k, "%v", err)
		}
	}
	if s.Mapping != "" && len(s.Where) > 0 {
		c.Errorf("where", "with a mapping is not supported yet: the condition would run on both sides, whose names differ; bound the rows with the mapping's where (source side), or use updatedColumn")
	}
	for k, w := range s.Where {
		if w == "" {
			c.Errorf("where."+k, "is empty: write an SQL condition such as updated_at < '2024-05-01', or leave the table out")
		}
	}
	t := s.Tolerance
	if t.MaxMissing < 0 || t.MaxExtra < 0 || t.MaxMismatched < 0 {
		c.Errorf("tolerance", "counts must be 0 or more")
	}
	for _, p := range []float64{t.MaxMissingPercent, t.MaxExtraPercent, t.MaxMismatchedPercent} {
		if p < 0 || p > 100 {
			c.Errorf("tolerance", "percentages must be between 0 and 100")
			break
		}
	}
	if s.RecheckAfter < 0 || s.MaxDuration < 0 {
		c.Errorf("", "recheckAfter and maxDuration must be positive durations such as 30s")
	}
	if s.RecheckAfter.D() > 10*time.Minute {
		c.Errorf("recheckAfter", "is longer than 10m: a re-check waits for replication lag, not for a batch job")
	}
	if s.Units < 0 {
		c.Errorf("fanOut", "must be 0 (one activity) or more (tables compared as separate activities at once), not %d", s.Units)
	}
	if s.MaxDifferences < 0 || s.Factor < 0 || s.Threshold < 0 || s.Concurrency < 0 {
		c.Errorf("", "maxDifferences, factor, threshold and concurrency must be 0 (default) or more")
	}
	if s.Repair.DeleteExtra && !s.Repair.Enabled {
		c.Errorf("repair", "deleteExtra needs the repair enabled (repair: {deleteExtra: true})")
	}
	if s.Factor == 1 {
		c.Errorf("factor", "must be at least 2: a range is split into this many parts")
	}
}

func indexPath(field string, i int) string { return fmt.Sprintf("%s[%d]", field, i) }

// FanOut says how many tables are compared at once as separate activities
// (0: the phase is one activity).
func (s *Spec) FanOut() int { return s.Units }

// MappingName is the mapping the section names (config.MappingUser).
func (s *Spec) MappingName() string { return s.Mapping }

// TakeMapping takes the mapping's stores before the spec is checked
// (config.MappingUser).
func (s *Spec) TakeMapping(m *mapping.Spec) { stores.TakeMapping(m, &s.From, &s.To) }
