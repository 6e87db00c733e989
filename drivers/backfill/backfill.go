// Package backfill is the `backfill` phase driver of an expand/contract
// change: it fills a column the expand phase added from an expression over
// the old ones, in keyset batches by primary key (one short transaction
// each, checkpointed in the store in the same transaction), throttled by
// rowsPerSecond (and `godwit throttle`), pausable, with progress and ETA.
// Rows written meanwhile are kept in step by the expand phase's
// dual-write triggers. The work is schemachange.RunBackfill.
package backfill

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	copydriver "github.com/godwit/godwit/drivers/copy"
	"github.com/godwit/godwit/drivers/expand"
	"github.com/godwit/godwit/drivers/stores"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/schemachange"
)

// Key is the section key of the driver in a phase.
const Key = "backfill"

func init() { config.RegisterDriver(Key, func() config.DriverSpec { return &Spec{} }) }

// Spec is a phase's `backfill:` section.
type Spec struct {
	Store string `yaml:"store" json:"store"`
	Table string `yaml:"table" json:"table"`
	// Set maps each column to fill to an SQL expression over the row.
	Set map[string]string `yaml:"set" json:"set"`
	// Where restricts the rows updated ("email_address IS NULL").
	Where string `yaml:"where" json:"where,omitempty"`
	// BatchRows is the rows each batch walks (default 5000).
	BatchRows int `yaml:"batchRows" json:"batchRows,omitempty"`
	// RowsPerSecond caps the rows walked per second; 0: no limit.
	RowsPerSecond int `yaml:"rowsPerSecond" json:"rowsPerSecond,omitempty"`
	// LockTimeout bounds each batch's wait for a lock (default 2s).
	LockTimeout config.Duration `yaml:"lockTimeout" json:"lockTimeout,omitempty"`
	// Throttle holds the backfill at a batch boundary while its back-off
	// probe is over its maximum (the copy's section and semantics).
	Throttle *copydriver.Throttle `yaml:"throttle" json:"throttle,omitempty"`
	// Stores holds the store's spec, copied from the spec's stores.
	Stores map[string]config.StoreSpec `yaml:"-" json:"stores,omitempty"`
	// Later names the phases after this one that keep records in the
	// store (expand.LaterPhases), filled when the spec is checked. No
	// omitempty: nil means a run started before the field existed.
	Later []string `yaml:"-" json:"later"`
}

// Check reports an unknown store, a missing table or set.
func (s *Spec) Check(c *config.CheckContext) {
	stores.CheckStoreRef(c, "store", s.Store)
	if strings.TrimSpace(s.Table) == "" {
		c.Errorf("table", "is required: the table whose new column is filled")
	}
	if len(s.Set) == 0 {
		c.Errorf("set", "is required: {new_column: \"expression over the old ones\"}, e.g. {email_address: \"lower(email)\"}")
	}
	for col, e := range s.Set {
		if strings.TrimSpace(e) == "" {
			c.Errorf("set."+col, "is empty: write an SQL expression over the row")
		}
	}
	if s.BatchRows < 0 {
		c.Errorf("batchRows", "must not be negative")
	}
	if s.RowsPerSecond < 0 {
		c.Errorf("rowsPerSecond", "must not be negative (0: no limit)")
	}
	s.Throttle.Check(c)
	names := []string{s.Store}
	if s.Throttle != nil && s.Throttle.Probe != nil && s.Throttle.Probe.Store != "" {
		names = append(names, s.Throttle.Probe.Store)
	}
	s.Stores = stores.Pick(c.Spec, names...)
	s.Later = expand.LaterPhases(c, s.Store)
}

// ApplyDefaults sets the batch size.
func (s *Spec) ApplyDefaults(*config.PhaseSpec) {
	if s.BatchRows == 0 {
		s.BatchRows = schemachange.DefaultBatchRows
	}
}

// Resources is the table.
func (s *Spec) Resources(spec *config.Spec) []string {
	return stores.Resources(spec, s.Store, []string{s.Table})
}

// Pausable is true: a pause stops the backfill after its last batch, and
// resume goes on from the store's record.
func (s *Spec) Pausable() bool { return true }

// WithRowsPerSecond returns the section with another rate (`godwit
// throttle` while it runs; 0: no limit).
func (s *Spec) WithRowsPerSecond(rps int) config.DriverSpec {
	c := *s
	c.RowsPerSecond = rps
	return &c
}

func (s *Spec) columns() []string {
	out := make([]string, 0, len(s.Set))
	for c := range s.Set {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Driver runs backfill phases.
type Driver struct {
	activities.Driver
	Logger hclog.Logger
}

// New returns the backfill driver.
func New(logger hclog.Logger) *Driver {
	d := &Driver{Logger: logger.Named(Key)}
	d.Driver = activities.Adapt(logger, activities.Phase[*Spec]{Key: Key, Run: d.run, Compensate: d.compensate, Preflight: d.preflight,
		Ready: func(s *Spec) bool { return s.Stores != nil }, Errors: copydriver.Errors})
	return d
}

// compensate forgets the backfill's record: the expand phase's rollback
// drops what it filled.
func (d *Driver) compensate(ctx context.Context, c *activities.Call[*Spec]) (activities.PhaseResult, error) {
	s := c.Spec
	st, err := stores.Open(ctx, s.Stores, s.Store)
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("backfill: %w", err)
	}
	defer st.Close()
	if err := schemachange.Forget(ctx, st, expand.RecordName(c.In.Migration, c.In.Phase.Name)); err != nil {
		return activities.PhaseResult{}, fmt.Errorf("backfill: forget progress: %w", err)
	}
	return activities.PhaseResult{Summary: fmt.Sprintf("forgot the backfill's progress on %s (the expand phase's rollback removes what it filled)", s.Table)}, nil
}

// run fills the columns, batch by batch, from the record's checkpoint.
func (d *Driver) run(ctx context.Context, c *activities.Call[*Spec]) (activities.PhaseResult, error) {
	s, in, log := c.Spec, c.In, c.Log
	st, err := stores.Open(ctx, s.Stores, s.Store)
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("backfill: %w", err)
	}
	defer st.Close()
	name := expand.RecordName(in.Migration, in.Phase.Name)
	// An earlier run's records of the phases after this one (a completed
	// run's contract's) must not make them skip.
	if err := expand.ForgetLater(ctx, st, in.Migration, s.Later); err != nil {
		return activities.PhaseResult{}, fmt.Errorf("backfill: forget an earlier run's records: %w", err)
	}
	b := schemachange.Backfill{Name: name, Table: s.Table, Set: s.Set, Where: s.Where,
		BatchRows: s.BatchRows, RowsPerSecond: float64(s.RowsPerSecond), LockTimeout: s.LockTimeout.D()}
	if s.Throttle != nil && s.Throttle.Probe != nil {
		ps := st
		if s.Throttle.Probe.Store != s.Store {
			if ps, err = stores.Open(ctx, s.Stores, s.Throttle.Probe.Store); err != nil {
				return activities.PhaseResult{}, fmt.Errorf("backfill: throttle probe: %w", err)
			}
			defer ps.Close()
		}
		b.Probe = s.Throttle.Probe.On(ps)
	}
	// Between batches (a throttle's wait, a lock) the adapter's keep-alive
	// repeats the last progress.
	p, err := schemachange.RunBackfill(ctx, st, b, log, func(p schemachange.Progress) { c.Beat(heartbeat(s, p)) })
	out := activities.PhaseResult{Records: p.Checkpoint.RowsDone}
	if err != nil {
		if ctx.Err() != nil {
			log.Info("backfill stopped after its last batch", "rows_done", p.Checkpoint.RowsDone)
			return out, ctx.Err()
		}
		if st.IsRefused(err) || datastore.IsPermanent(err) {
			return out, activities.ConfigError(fmt.Errorf("backfill %s in %s: %w", s.Table, s.Store, err))
		}
		return out, fmt.Errorf("backfill %s in %s: %w", s.Table, s.Store, err)
	}
	out.Summary = summary(s.Table, s.columns(), p)
	return out, nil
}

// summary says what the backfill did in all its runs (attempts): the
// rows walked and updated are the checkpointed totals, this attempt's
// share apart, so a retried backfill does not report less than it did.
func summary(table string, columns []string, p schemachange.Progress) string {
	text := fmt.Sprintf("backfilled %s.%s: %s rows walked, %s updated", table, strings.Join(columns, ", "),
		stores.Humanize(p.Checkpoint.RowsDone), stores.Humanize(p.TotalUpdated()))
	if p.UpdatedBefore > 0 || p.Batches == 0 {
		text += fmt.Sprintf(" in all (%s in this attempt", stores.Humanize(p.Updated))
		if p.Batches > 0 {
			text += ", " + migration.Count(p.Batches, "batch")
		}
		return text + ")"
	}
	return text + " (" + migration.Count(p.Batches, "batch") + ")"
}

// heartbeat is a batch's progress for the status: percent, rows, ETA and
// the checkpoint (datacopy's form; the store's record is what resumes).
func heartbeat(s *Spec, p schemachange.Progress) activities.Heartbeat {
	cp, _ := json.Marshal(datacopy.Checkpoint{Tables: map[string]*datacopy.TableCheckpoint{s.Table: &p.Checkpoint}})
	hb := activities.Heartbeat{Records: p.Checkpoint.RowsDone, Checkpoint: string(cp)}
	if p.Checkpoint.Total > 0 {
		hb.Percent = min(100, float64(p.Checkpoint.RowsDone)*100/float64(p.Checkpoint.Total))
	}
	hb.Detail = fmt.Sprintf("%s: %s / %s rows, %s updated", s.Table, stores.Humanize(p.Checkpoint.RowsDone),
		stores.Humanize(p.Checkpoint.Total), stores.Humanize(p.TotalUpdated()))
	if p.ETA > 0 {
		hb.Detail += ", ETA " + p.ETA.Round(time.Second).String()
	}
	hb.Detail = strings.Join(copydriver.WithThrottle([]string{hb.Detail}, p.Throttle), "; ")
	return hb
}

// preflight checks, changing nothing, that the store answers, the table
// exists with a primary key, every column to set exists or is added by an
// earlier phase (the expand), and the store parses the set expressions and
// the where clause.
func (d *Driver) preflight(ctx context.Context, spec *config.Spec, phase config.PhaseSpec, s *Spec) []string {
	plan := stores.Before(spec, phase.Name)
	st, err := stores.OpenReadOnly(ctx, spec.Stores, s.Store)
	if err != nil {
		return []string{stores.Unreachable(s.Store, spec.Stores, err)}
	}
	defer st.Close()
	t, err := st.Introspect(ctx, s.Table)
	if err != nil {
		if plan.Table(s.Store, s.Table) {
			return nil
		}
		return []string{fmt.Sprintf("store %s: no table %s to backfill", s.Store, s.Table)}
	}
	problems := s.Throttle.Problems(ctx, spec)
	if len(t.PrimaryKey) == 0 {
		problems = append(problems, fmt.Sprintf("store %s: table %s has no primary key, which the backfill walks in batches by: add one", s.Store, s.Table))
	}
	missing := false
	for _, c := range s.columns() {
		if t.Column(c) == nil && !plan.Column(s.Store, s.Table, c) {
			problems = append(problems, fmt.Sprintf("store %s: table %s has no column %s to set, and no earlier phase adds it (an expand phase's dualWrite names the columns it adds)", s.Store, s.Table, c))
			missing = true
		}
	}
	if !missing {
		problems = append(problems, s.exprProblems(ctx, spec, phase.Name, st, t)...)
	}
	return problems
}

// exprProblems asks the store to parse each set expression and the where
// clause over the table, the columns earlier phases add read as NULL: a
// typo otherwise fails the backfill only after the expand was applied.
func (s *Spec) exprProblems(ctx context.Context, spec *config.Spec, phase string, st *datastore.Store, t *datastore.Table) []string {
	var added []string
	addOnce := func(c string) {
		if t.Column(c) == nil && !slices.ContainsFunc(added, func(a string) bool { return strings.EqualFold(a, c) }) {
			added = append(added, c)
		}
	}
	for _, c := range s.columns() {
		addOnce(c)
	}
	for _, ph := range spec.Phases {
		if ph.Name == phase {
			break
		}
		if e, ok := ph.Driver.(*expand.Spec); ok && e.Store == s.Store {
			for table, rules := range e.DualWrite {
				if strings.EqualFold(table, s.Table) {
					for _, c := range slices.Sorted(maps.Keys(rules)) {
						addOnce(c)
					}
				}
			}
		}
	}
	var problems []string
	for _, c := range s.columns() {
		if err := st.CheckExpr(ctx, t, added, s.Set[c], ""); err != nil {
			problems = append(problems, fmt.Sprintf("store %s: set.%s: %q does not read as an expression over a row of %s: %v", s.Store, c, s.Set[c], s.Table, err))
		}
	}
	if s.Where != "" {
		if err := st.CheckExpr(ctx, t, added, "", s.Where); err != nil {
			problems = append(problems, fmt.Sprintf("store %s: where: %q does not read as a condition on a row of %s: %v", s.Store, s.Where, s.Table, err))
		}
	}
	return problems
}

// RecordStore is the store the backfill's progress record is kept in.
func (s *Spec) RecordStore() string { return s.Store }

var _ expand.RecordKeeper = (*Spec)(nil)

// SuccessCriteria is what a person checks once the phase is done (the
// plan's and runbook's success criteria).
func (s *Spec) SuccessCriteria() []string {
	cols := slices.Sorted(maps.Keys(s.Set))
	rows := "every row of " + s.Table
	if s.Where != "" {
		rows += " that matched " + s.Where
	}
	return []string{fmt.Sprintf("%s in %s has %s set", rows, s.Store, strings.Join(cols, ", "))}
}
