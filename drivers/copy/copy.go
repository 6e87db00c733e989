// Package copy is the `copy` phase driver: it backfills a target store's
// tables from a source store while the source stays live, then (with
// catchUp) re-copies the rows changed meanwhile. It resumes from the
// checkpoint it heartbeats, so a killed worker, a timeout or a pause loses
// nothing. The work is datacopy's; this package reads the spec section,
// connects, checks, heartbeats and classifies errors.
package copy

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/drivers/provision"
	"github.com/godwit/godwit/drivers/stores"
	"github.com/godwit/godwit/glob"
	"github.com/godwit/godwit/mapping"
	"github.com/godwit/godwit/migration"
)

// Key is the section key of the driver in a phase.
const Key = "copy"

func init() { config.RegisterDriver(Key, func() config.DriverSpec { return &Spec{} }) }

// Limits of the spec's numbers: beyond them a setting is a mistake rather
// than a tuning (a batch is one target transaction and is held in memory).
const (
	MaxBatchRows   = 100_000
	MaxConcurrency = 32
)

// MaxFanOut bounds the tables copied as separate activities at once
// (Temporal's limit of pending activities per workflow is 2,000).
const MaxFanOut = 256

// What the compensation does with the copied rows.
const (
	OnRollbackEmpty = "empty" // delete the rows of the tables this migration provisioned
	OnRollbackKeep  = "keep"  // leave the target as it is
)

// Spec is a phase's `copy:` section.
type Spec struct {
	// From is the store read; To the store written (its tables must exist:
	// provision them in an earlier phase, or create them yourself).
	From string `yaml:"from" json:"from"`
	To   string `yaml:"to" json:"to"`
	// Tables are table names or glob patterns, resolved on From.
	Tables []string `yaml:"tables" json:"tables"`
	// Mapping names one of the spec's mappings, instead of from, to and
	// tables: each of its tables is copied through it (docs/mapping.md).
	Mapping string `yaml:"mapping" json:"mapping,omitempty"`
	// MappingSpec is the mapping Mapping names, resolved by Check.
	MappingSpec *mapping.Spec `yaml:"-" json:"mappingSpec,omitempty"`
	// BatchRows is the rows per read and per target transaction
	// (default datacopy.DefaultBatchRows). PostgreSQL → PostgreSQL, where
	// rows stream without being held, it is the first batch's size: the
	// batches then grow to about a second each (docs/copy-fast.md).
	BatchRows int `yaml:"batchRows" json:"batchRows,omitempty"`
	// Concurrency is how many tables are copied at once (default 1).
	Concurrency int `yaml:"concurrency" json:"concurrency,omitempty"`
	// FanOut, when set, copies each table as its own activity, at most
	// FanOut at once: the workers on the task queue share the tables, and
	// each resumes from its own checkpoint. RowsPerSecond then applies to
	// each table.
	Units int `yaml:"fanOut" json:"fanOut,omitempty"`
	// RowsPerSecond caps the rows written per second over all tables;
	// 0: no limit.
	RowsPerSecond int `yaml:"rowsPerSecond" json:"rowsPerSecond,omitempty"`
	// SplitRows splits each table of more rows than this into key ranges
	// of about that many rows on its leading key column, copied in
	// parallel: `concurrency` ranges at once within the activity, or with
	// fanOut one unit (activity) per range. 0 (default): tables are not
	// split. See docs/copy-ranges.md.
	SplitRows int64 `yaml:"splitRows" json:"splitRows,omitempty"`
	// SplitStreams, when set, is how many key ranges of a table to plan
	// at most (ranges of splitRows rows), whatever the worker's cores and
	// the table's measured rate. 0 (default): the worker that plans
	// chooses from its cores and a sampled read (datacopy.Sizing), never
	// more ranges than run faster than one. See docs/copy-ranges.md.
	SplitStreams int `yaml:"splitStreams" json:"splitStreams,omitempty"`
	// FullCopy lists tables (names or patterns) that have no primary key
	// and may be copied anyway, each in one pass that is not resumable:
	// the target's rows are deleted and every row copied in one
	// transaction, so an interrupted attempt starts again from zero. A
	// table without a key not listed here is refused by preflight.
	FullCopy []string `yaml:"fullCopy" json:"fullCopy,omitempty"`
	// CatchUp re-copies the rows changed during the backfill.
	CatchUp *CatchUp `yaml:"catchUp" json:"catchUp,omitempty"`
	// CreateIndexes creates the source's secondary indexes and unique
	// constraints on the target after the copy (pair with provision's
	// deferIndexes: true).
	CreateIndexes bool `yaml:"createIndexes" json:"createIndexes,omitempty"`
	// DeferIndexes (default true) loads each PostgreSQL target table that
	// is empty when its copy starts without its primary key, unique
	// constraints and indexes, and builds them once its rows are in,
	// before any catch-up pass: one sorted build per index instead of
	// keeping each up row by row. Tables where that is unsafe (not empty,
	// referenced by a foreign key, copied in key ranges, a key that is not
	// a number or a time; see docs/copy-fast.md) keep them. false: every
	// table keeps its indexes during the load. Refused as true beside a
	// background replication, which writes the same tables.
	DeferIndexes *bool `yaml:"deferIndexes" json:"deferIndexes,omitempty"`
	// IndexesDeferrable, set when the spec is checked, says the copy may
	// defer indexes: deferIndexes is not false and no background
	// replication runs beside it.
	IndexesDeferrable bool `yaml:"-" json:"indexesDeferrable,omitempty"`
	// OnRollback says what the compensation does: "empty" (default)
	// deletes the rows of the copied tables that this migration's
	// provision created; "keep" leaves the target as it is.
	OnRollback string `yaml:"onRollback" json:"onRollback,omitempty"`
	// RequireFastPath makes preflight refuse a MySQL/MariaDB target whose
	// server has local_infile off (the copy would fall back to multi-row
	// INSERT, several times slower); without it the copy falls back and
	// says so in its log and summary.
	RequireFastPath bool `yaml:"requireFastPath" json:"requireFastPath,omitempty"`
	// Throttle holds the copy back while a probe's value is too high
	// (see throttle.go).
	Throttle *Throttle `yaml:"throttle" json:"throttle,omitempty"`
	// Stores holds the from and to stores' specs, copied from the spec's
	// stores: when the spec is checked (the activity sees only its phase).
	Stores map[string]config.StoreSpec `yaml:"-" json:"stores,omitempty"`
	// TablesFromScript, set when the spec is checked, says an earlier
	// provision took the target's DDL from a file: the script says which
	// foreign keys exist, so the copy adds none.
	TablesFromScript bool `yaml:"-" json:"tablesFromScript,omitempty"`
}

// provisionedFromScript reports whether an earlier provision phase into
// store takes its DDL from a file.
func provisionedFromScript(c *config.CheckContext, store string) bool {
	for i := range c.Spec.Phases {
		p := &c.Spec.Phases[i]
		if p == c.Phase {
			return false
		}
		if ps, ok := p.Driver.(*provision.Spec); ok && ps.To == store && ps.DDL != nil {
			return true
		}
	}
	return false
}

// CatchUp names the column that grows on every change of a row.
type CatchUp struct {
	// Column is an updated_at timestamp or a version number.
	Column string `yaml:"column" json:"column"`
	// Overlap is re-read before the watermark of a time column, since a
	// transaction can commit after a later one with an older timestamp
	// (default datacopy.DefaultOverlap).
	Overlap config.Duration `yaml:"overlap" json:"overlap,omitempty"`
	// MaxLag: a catch-up pass shorter than this ends the catch-up (default
	// datacopy.DefaultMaxLag).
	MaxLag config.Duration `yaml:"maxLag" json:"maxLag,omitempty"`
	// MinRows: a pass that re-copies fewer rows ends it (default
	// datacopy.DefaultMinRows).
	MinRows int `yaml:"minRows" json:"minRows,omitempty"`
	// MaxPasses bounds the passes (default datacopy.DefaultMaxPasses).
	MaxPasses int `yaml:"maxPasses" json:"maxPasses,omitempty"`
}

// Check reports unknown stores, bad patterns and impossible numbers.
func (s *Spec) Check(c *config.CheckContext) {
	var ok bool
	if s.MappingSpec, ok = stores.CheckStoresOrMapping(c, s.Mapping, &s.From, &s.To, &s.Tables); !ok {
		return // the unknown mapping is the error
	}
	if s.From != "" && s.From == s.To {
		c.Errorf("to", "is the same store as from (%s): copy writes into another store", s.From)
	}
	stores.CheckTables(c, "tables", s.Tables)
	if s.BatchRows < 1 || s.BatchRows > MaxBatchRows {
		c.Errorf("batchRows", "must be between 1 and %d (rows per read and per target transaction), not %d", MaxBatchRows, s.BatchRows)
	}
	if s.Concurrency < 1 || s.Concurrency > MaxConcurrency {
		c.Errorf("concurrency", "must be between 1 and %d (tables copied at once), not %d", MaxConcurrency, s.Concurrency)
	}
	if s.RowsPerSecond < 0 {
		c.Errorf("rowsPerSecond", "must not be negative: leave it out (or 0) for no limit")
	}
	checkSplit(c, s)
	checkFullCopy(c, "fullCopy", s.FullCopy)
	switch {
	case s.Units < 0 || s.Units > MaxFanOut:
		c.Errorf("fanOut", "must be between 1 and %d (tables copied as separate activities at once), not %d", MaxFanOut, s.Units)
	case s.Units > 0 && s.Concurrency > 1:
		c.Errorf("concurrency", "applies within one activity; with fanOut each table is its own activity: set fanOut only")
	}
	if cu := s.CatchUp; cu != nil {
		if strings.TrimSpace(cu.Column) == "" {
			c.Errorf("catchUp.column", "is required: a column that grows whenever a row changes (updated_at, a version)")
		}
		if cu.Overlap < 0 {
			c.Errorf("catchUp.overlap", "must not be negative (default %s)", datacopy.DefaultOverlap)
		}
		if cu.MaxLag < 0 {
			c.Errorf("catchUp.maxLag", "must not be negative (default %s)", datacopy.DefaultMaxLag)
		}
		if cu.MinRows < 0 {
			c.Errorf("catchUp.minRows", "must not be negative (default %d)", datacopy.DefaultMinRows)
		}
		if cu.MaxPasses < 0 || cu.MaxPasses > 100 {
			c.Errorf("catchUp.maxPasses", "must be between 1 and 100 (default %d), not %d", datacopy.DefaultMaxPasses, cu.MaxPasses)
		}
	}
	switch s.OnRollback {
	case "", OnRollbackEmpty, OnRollbackKeep:
	default:
		c.Errorf("onRollback", "%q is not a choice: use empty (delete the copied rows of the tables this migration provisioned) or keep", s.OnRollback)
	}
	s.Throttle.Check(c)
	checkDeferIndexes(c, s)
	s.Stores = stores.Pick(c.Spec, s.storeNames()...)
	s.TablesFromScript = provisionedFromScript(c, s.To)
}

// ApplyDefaults fills the batch size, concurrency and compensation.
func (s *Spec) ApplyDefaults(*config.PhaseSpec) {
	if s.BatchRows == 0 {
		s.BatchRows = datacopy.DefaultBatchRows
	}
	if s.Concurrency == 0 {
		s.Concurrency = datacopy.DefaultConcurrency
	}
	if s.OnRollback == "" {
		s.OnRollback = OnRollbackEmpty
	}
}

// Resources are the target tables: two migrations must not write the same
// tables.
func (s *Spec) Resources(spec *config.Spec) []string {
	return stores.WrittenResources(spec, s.To, s.MappingSpec, s.Tables)
}

// Pausable is true: a pause stops the copy at its next batch boundary, and
// resume continues from that checkpoint.
func (s *Spec) Pausable() bool { return true }

// MovesData is the copy's flow, from to to (stores.DataMover).
func (s *Spec) MovesData() stores.Flow { return stores.Flow{From: s.From, To: s.To} }

// HasCompensation is false for onRollback: keep.
func (s *Spec) HasCompensation() bool { return s.OnRollback != OnRollbackKeep }

// LoadsInto reports whether the copy fills store's tables, and whether it
// creates their foreign keys after its load: it does, with fanOut too,
// once every unit has finished (FinishesUnits).
func (s *Spec) LoadsInto(store string) (loads, createsForeignKeys bool) {
	return s.To == store, s.To == store
}

// FinishesUnits is true for a copy that fans out and creates foreign
// keys: no unit sees the whole load, so one action after them all
// creates the keys (config.UnitsFinisher). Not when the target's DDL came
// from a file, which says which keys exist.
func (s *Spec) FinishesUnits() bool { return s.Units > 0 && !s.TablesFromScript }

// CreatesIndexesIn reports whether the copy creates secondary indexes in
// store after its load.
func (s *Spec) CreatesIndexesIn(store string) bool { return s.CreateIndexes && s.To == store }

// Driver runs copy phases.
type Driver struct {
	activities.Driver
	Logger hclog.Logger
	// AfterCommit, if set, runs after each batch committed and before its
	// checkpoint (datacopy.Options.AfterCommit): for fault injection only.
	AfterCommit func(table string)
	// AfterForeignKeys, if set, runs after a fanned-out copy created its
	// foreign keys and before its activity returns: for fault injection
	// only.
	AfterForeignKeys func()
	// Cores is the CPUs the worker counts on when it plans key ranges
	// (datacopy.Sizing); 0: runtime.NumCPU(). The plan is made here, in
	// the unit planner or the copy activity, and reaches the workflow as
	// data (the units), never as workflow code reading the machine.
	Cores int
}

// sizing is how the phase's key ranges are sized on this worker.
func (d *Driver) sizing(s *Spec) *datacopy.Sizing {
	if s.SplitStreams > 0 {
		return &datacopy.Sizing{MaxStreams: s.SplitStreams}
	}
	cores := d.Cores
	if cores <= 0 {
		cores = runtime.NumCPU()
	}
	return &datacopy.Sizing{Cores: cores}
}

// New returns the copy driver.
func New(logger hclog.Logger) *Driver {
	d := &Driver{Logger: logger.Named(Key)}
	d.Driver = activities.Adapt(logger, activities.Phase[*Spec]{Key: Key, Run: d.run, Compensate: d.empty, Preflight: d.preflight,
		Ready: resolved, Errors: Errors})
	return d
}

func resolved(s *Spec) bool { return s.Stores != nil }

// run copies the phase's tables, or the unit in.Unit of a fan-out.
func (d *Driver) run(ctx context.Context, c *activities.Call[*Spec]) (activities.PhaseResult, error) {
	if c.In.AfterUnits {
		return d.finishUnits(ctx, c)
	}
	s, log := c.Spec, c.Log
	var rng *datacopy.Range
	if c.In.Unit != "" {
		table, r, err := datacopy.ParseUnit(c.In.Unit)
		if err != nil {
			return activities.PhaseResult{}, activities.ConfigError(err)
		}
		one := *s
		one.Tables = []string{datastore.Literal(table)} // a name, not a pattern: "order items", "a*b"
		s, rng = &one, r
		log = log.With("table", c.In.Unit)
	}
	return d.copy(ctx, s, c.In.Owner(), rng, c.Resume, log, c.Beat)
}

// FanOut says how many tables run at once as separate activities (0: the
// phase is one activity).
func (s *Spec) FanOut() int { return s.Units }

// Units lists the tables the phase copies, its patterns resolved on the
// source, for a phase that fans out.
func (d *Driver) Units(ctx context.Context, in activities.PhaseInput) ([]string, error) {
	units, err := d.units(ctx, in)
	return units, activities.Classify(err, Errors)
}

// EstimateRows says about how many rows the phase's tables hold in all
// and how many tables they are (activities.RowEstimator): the engine's
// estimates, a COUNT(*) for a table it has none of (SQLite, a PostgreSQL
// table never analysed).
func (d *Driver) EstimateRows(ctx context.Context, in activities.PhaseInput) (int64, int, error) {
	rows, tables, err := d.estimateRows(ctx, in)
	return rows, tables, activities.Classify(err, Errors)
}

func (d *Driver) estimateRows(ctx context.Context, in activities.PhaseInput) (int64, int, error) {
	s, err := activities.SpecOf[*Spec](Key, in.Phase)
	if err != nil {
		return 0, 0, err
	}
	if !resolved(s) {
		return 0, 0, activities.ConfigError(fmt.Errorf("phase %s: the copy section's stores are not resolved", in.Phase.Name))
	}
	from, err := stores.Open(ctx, s.Stores, s.From)
	if err != nil {
		return 0, 0, fmt.Errorf("copy: %w", err)
	}
	defer from.Close()
	tables, err := from.ResolveTables(ctx, s.Tables)
	if err != nil {
		return 0, 0, fmt.Errorf("copy: %w", err)
	}
	var rows int64
	for _, t := range tables {
		n, err := from.EstimateCount(ctx, t)
		if err == nil && n < 0 {
			n, err = from.Count(ctx, t)
		}
		if err != nil {
			return 0, 0, fmt.Errorf("copy: %w", err)
		}
		rows += n
	}
	return rows, len(tables), nil
}

func (d *Driver) units(ctx context.Context, in activities.PhaseInput) ([]string, error) {
	s, err := activities.SpecOf[*Spec](Key, in.Phase)
	if err != nil {
		return nil, err
	}
	if !resolved(s) {
		return nil, activities.ConfigError(fmt.Errorf("phase %s: the copy section's stores are not resolved", in.Phase.Name))
	}
	from, err := stores.Open(ctx, s.Stores, s.From)
	if err != nil {
		return nil, fmt.Errorf("copy: %w", err)
	}
	defer from.Close()
	tables, err := from.ResolveTables(ctx, s.Tables)
	if err != nil {
		return nil, fmt.Errorf("copy: %w", err)
	}
	if s.SplitRows <= 0 {
		return tables, nil
	}
	units, err := rangeUnits(ctx, from, tables, s.SplitRows, d.sizing(s), s.FullCopy, d.Logger)
	if err != nil {
		return nil, fmt.Errorf("copy: %w", err)
	}
	return units, nil
}

func (d *Driver) copy(ctx context.Context, s *Spec, owner string, rng *datacopy.Range, resume activities.Heartbeat, log hclog.Logger, beat func(activities.Heartbeat)) (activities.PhaseResult, error) {
	cp, err := datacopy.ParseCheckpoint([]byte(resume.Checkpoint))
	if err != nil {
		// Starting over is safe (the writes are upserts), only slower.
		log.Warn("unreadable checkpoint; copying from the start", "error", err)
		cp = datacopy.Checkpoint{}
	}
	if len(cp.Tables) > 0 {
		log.Info("resuming from checkpoint", "tables", len(cp.Tables), "rows_done", rowsDone(cp))
	}
	from, to, closeStores, err := s.openStores(ctx)
	if err != nil {
		return activities.PhaseResult{}, err
	}
	defer closeStores()
	// A spec without a validate phase has had no preflight: a copy onto
	// itself must still never start.
	if err := stores.RefuseSameDatabase(ctx, s.From, from, s.To, to); err != nil {
		return activities.PhaseResult{}, fmt.Errorf("copy: %w", err)
	}

	path, err := to.WritePath(ctx)
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("copy: %w", err)
	}
	if path == datastore.PathInsert && to.Engine == datastore.MySQL {
		log.Warn("LOAD DATA LOCAL INFILE is off on the target (local_infile=OFF): writing with multi-row INSERT, slower", "store", s.To)
	}
	probe, closeProbe, err := s.probe(ctx, from, to)
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("copy: %w", err)
	}
	defer closeProbe()
	mapped, err := s.mapped(ctx, from)
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("copy: %w", err)
	}
	hb := &beater{beat: beat}
	opts := datacopy.Options{
		From: from, To: to, Tables: s.Tables, Mapped: mapped,
		BatchRows: s.BatchRows, Concurrency: s.Concurrency, RowsPerSecond: float64(s.RowsPerSecond),
		SplitRows: s.SplitRows, Sizing: d.sizing(s), Range: rng, FullCopy: s.FullCopy, Probe: probe, Logger: log,
		AfterCommit: d.AfterCommit, DeferIndexes: s.IndexesDeferrable,
	}
	if s.CatchUp != nil {
		opts.CatchUp = &datacopy.CatchUp{Column: s.CatchUp.Column, Overlap: s.CatchUp.Overlap.D(),
			MaxLag: s.CatchUp.MaxLag.D(), MinRows: int64(s.CatchUp.MinRows), MaxPasses: s.CatchUp.MaxPasses}
	}
	res, err := datacopy.Run(ctx, opts, cp, hb.progress)
	// The checkpoint of the last committed batch, whatever happened: a
	// pause, a rollback or a retry goes on from exactly there.
	hb.stop(res)
	out := activities.PhaseResult{Records: rowsDone(res.Checkpoint)}
	if err != nil {
		if ctx.Err() != nil {
			log.Info("copy stopped at its checkpoint", "rows_done", out.Records)
			return out, ctx.Err()
		}
		return out, fmt.Errorf("copy: %w", err)
	}
	// Of a table's range units only the last range's creates the indexes,
	// so two units never create the same index at once.
	if s.CreateIndexes && (rng == nil || rng.To == nil) {
		if err := createIndexes(ctx, from, to, res.Tables, mapped); err != nil {
			return out, fmt.Errorf("copy: create indexes: %w", err)
		}
	}
	out.Summary = copySummary(s, res, path, to.Engine, mapped)
	if rng == nil && s.Units == 0 && !s.TablesFromScript {
		names := make([]string, len(res.Tables))
		for k, tp := range res.Tables {
			names[k] = tp.Table
		}
		keys, err := foreignKeys(ctx, from, to, owner, names, mapped, log)
		if err != nil {
			return out, fmt.Errorf("copy: %w", err)
		}
		if keys.Summary != "" {
			out.Summary += "; " + keys.Summary
		}
		out.Output = keys.Output
	}
	return out, nil
}

// finishUnits is what follows a fanned-out copy's units, once all have
// finished (FinishesUnits): the foreign keys of its tables, created as a
// copy that is one activity creates them after its load, parents first,
// pending keys recorded. Idempotent like that: a retry counts the keys an
// earlier attempt added as carried.
func (d *Driver) finishUnits(ctx context.Context, c *activities.Call[*Spec]) (activities.PhaseResult, error) {
	s, owner, log := c.Spec, c.In.Owner(), c.Log
	from, to, closeStores, err := s.openStores(ctx)
	if err != nil {
		return activities.PhaseResult{}, err
	}
	defer closeStores()
	// The tables the units copied: the same patterns resolved the same
	// way (Units), each once however many key ranges it was split into.
	tables, err := from.ResolveTables(ctx, s.Tables)
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("copy: %w", err)
	}
	mapped, err := s.mapped(ctx, from)
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("copy: %w", err)
	}
	keys, err := foreignKeys(ctx, from, to, owner, tables, mapped, log)
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("copy: %w", err)
	}
	if d.AfterForeignKeys != nil {
		d.AfterForeignKeys()
	}
	return activities.PhaseResult{Summary: keys.Summary, Output: keys.Output}, nil
}

// openStores opens the copy's source and target; closeStores closes both.
func (s *Spec) openStores(ctx context.Context) (from, to *datastore.Store, closeStores func(), err error) {
	if from, err = stores.Open(ctx, s.Stores, s.From); err != nil {
		return nil, nil, nil, fmt.Errorf("copy: %w", err)
	}
	if to, err = stores.Open(ctx, s.Stores, s.To); err != nil {
		from.Close()
		return nil, nil, nil, fmt.Errorf("copy: %w", err)
	}
	return from, to, func() { from.Close(); to.Close() }, nil
}

// keysDone is what creating a copy's foreign keys did, for its result.
type keysDone struct {
	// Summary is the keys' part of the phase's summary ("" when there
	// were none to create).
	Summary string
	// Output lists the keys not carried and why, one a line.
	Output string
}

// foreignKeys creates the foreign keys of the copied tables (source
// names) that this migration provisioned, records those left off only
// because rows violate them now, and says what it did.
func foreignKeys(ctx context.Context, from, to *datastore.Store, owner string, tables []string, mapped map[string]mapping.Table, log hclog.Logger) (keysDone, error) {
	fks, names, err := createForeignKeys(ctx, from, to, owner, tables, mapped)
	if err != nil {
		return keysDone{}, fmt.Errorf("create foreign keys: %w", err)
	}
	// Keys left off only because rows violate them now: a replicate
	// phase that has caught up, or the cut-over, tries them again.
	if err := datastore.RecordPendingForeignKeys(ctx, to, owner, names, fks.Pending); err != nil {
		return keysDone{}, err
	}
	done := keysDone{Summary: fks.Summary()}
	if len(fks.Pending) > 0 {
		done.Summary += fmt.Sprintf(" (%d of them only because rows violate them now, e.g. a child copied before its parent: a replicate phase that has caught up, or the cut-over, of this migration tries them again)", len(fks.Pending))
	}
	for _, n := range append(fks.NotCarried, fks.Violated...) {
		log.Warn("foreign key not carried over", "note", n)
	}
	done.Output = strings.Join(append(fks.NotCarried, fks.Violated...), "\n")
	return done, nil
}

// createForeignKeys gives the copied tables that this migration
// provisioned their source's foreign keys, now that their rows are in
// (on SQLite, where provision declared them, it checks the rows). A
// table the migration did not create is left as its owner made it.
func createForeignKeys(ctx context.Context, from, to *datastore.Store, owner string, tables []string, mapped map[string]mapping.Table) (datastore.ForeignKeyResult, []string, error) {
	var src []*datastore.Table
	var names []string
	for _, table := range tables {
		t, err := targetShape(ctx, from, table, mapped)
		if err != nil {
			return datastore.ForeignKeyResult{}, nil, err
		}
		who, err := to.ProvisionOwner(ctx, t.Name)
		if err != nil {
			return datastore.ForeignKeyResult{}, nil, err
		}
		if who != owner {
			continue
		}
		src = append(src, t)
		names = append(names, t.Name)
	}
	res, err := datastore.CreateForeignKeys(ctx, to, src)
	return res, names, err
}

func createIndexes(ctx context.Context, from, to *datastore.Store, tables []datacopy.TableProgress, mapped map[string]mapping.Table) error {
	var src []*datastore.Table
	for _, tp := range tables {
		t, err := targetShape(ctx, from, tp.Table, mapped)
		if err != nil {
			return err
		}
		src = append(src, t)
	}
	_, err := datastore.CreateIndexes(ctx, to, src)
	return err
}

// targetShape is a copied table as the target has it: the source's, or
// through its mapping the renamed table, columns, indexes and foreign keys.
func targetShape(ctx context.Context, from *datastore.Store, name string, mapped map[string]mapping.Table) (*datastore.Table, error) {
	t, err := from.Introspect(ctx, name)
	if err != nil {
		return nil, err
	}
	if m, ok := mapped[name]; ok {
		t, _, _ = datastore.TargetTable(t, m, mapped)
	}
	return t, nil
}

// mapped resolves the section's mapping on the live source: every table
// it maps, by source name; nil without a mapping.
func (s *Spec) mapped(ctx context.Context, from *datastore.Store) (map[string]mapping.Table, error) {
	return stores.MappedBySource(ctx, from, s.MappingSpec)
}

func rowsDone(cp datacopy.Checkpoint) int64 {
	var n int64
	for _, t := range cp.Tables {
		n += t.RowsDone
	}
	return n
}

// attemptRate is the copy's rate for its summary, with the time it
// counts: the rows over the time spent copying them, not the phase's whole
// run (opening the stores, creating indexes and foreign keys after the
// rows, the activity's scheduling), over which godwit status's phase line
// gives its rate ("1.6s, 20000 records at 12798/s" beside "23,708 rows/s
// over 844ms of copying"). A resumed copy says the rate is its last
// attempt's and how many rows earlier attempts had copied.
func attemptRate(res datacopy.Result) string {
	secs := res.Duration.Seconds()
	if secs <= 0 || res.Rows <= 0 {
		return ""
	}
	rate := stores.Humanize(int64(float64(res.Rows) / secs))
	took := roundDuration(res.Duration)
	if before := rowsDone(res.Checkpoint) - res.Rows; before > 0 {
		return fmt.Sprintf(", %s rows/s over the last attempt's %s of copying, which resumed after %s rows", rate, took, stores.Humanize(before))
	}
	return fmt.Sprintf(", %s rows/s over %s of copying", rate, took)
}

// roundDuration keeps two or three significant digits of d.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond)
	case d < time.Minute:
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Second)
}

func copySummary(s *Spec, res datacopy.Result, path datastore.WritePath, to datastore.Engine, mapped map[string]mapping.Table) string {
	var caught int64
	for _, t := range res.Checkpoint.Tables {
		caught += t.CatchUpRows
	}
	msg := fmt.Sprintf("copied %s rows of %s from %s to %s", stores.Humanize(rowsDone(res.Checkpoint)), migration.Count(len(res.Tables), "table"), s.From, s.To)
	if n := rangesCopied(res); n > 0 {
		msg += fmt.Sprintf(" in %d key range%s", n, map[bool]string{true: "s"}[n > 1])
	}
	msg += attemptRate(res)
	msg += fmt.Sprintf(" (written with %s)", writeHow(path, to))
	if path == datastore.PathInsert && to == datastore.MySQL {
		msg += "; LOAD DATA LOCAL INFILE is off on the target (local_infile=OFF), so the fast path was not used"
	}
	if full := fullCopied(res); len(full) > 0 {
		msg += fmt.Sprintf("; %s without a key copied in full, in one pass of multi-row INSERTs (not resumable)", strings.Join(full, ", "))
	}
	if s.CatchUp != nil {
		msg += fmt.Sprintf("; catch-up re-copied %s changed rows", stores.Humanize(caught))
	}
	if s.CreateIndexes {
		msg += "; secondary indexes created"
	}
	return msg + indexesNote(res, mapped)
}

// writeHow names a write path into engine e for a person.
func writeHow(p datastore.WritePath, e datastore.Engine) string {
	switch {
	case p == datastore.PathCopy:
		return "COPY"
	case p == datastore.PathLoadData:
		return "LOAD DATA LOCAL INFILE"
	case e == datastore.SQLite:
		return "prepared multi-row INSERTs"
	}
	return "multi-row INSERT"
}

// empty is the compensation: it deletes the rows of the copied tables
// that this migration's provision created, and leaves any other table
// alone, since it may have held rows of its own before the copy.
func (d *Driver) empty(ctx context.Context, c *activities.Call[*Spec]) (activities.PhaseResult, error) {
	s, owner, log := c.Spec, c.In.Owner(), c.Log
	if s.OnRollback == OnRollbackKeep {
		return activities.PhaseResult{Summary: "kept the copied rows in " + s.To + " (onRollback: keep)"}, nil
	}
	to, err := stores.Open(ctx, s.Stores, s.To)
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("empty copied tables: %w", err)
	}
	defer to.Close()
	all, err := to.ListTables(ctx)
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("empty copied tables: %w", err)
	}
	targets := s.Tables
	if s.MappingSpec != nil {
		targets = s.MappingSpec.TargetPatterns()
	}
	var emptied, kept []string
	for _, t := range matching(all, targets) {
		who, err := to.ProvisionOwner(ctx, t)
		if err != nil {
			return activities.PhaseResult{}, fmt.Errorf("empty copied tables: %w", err)
		}
		if who != owner {
			kept = append(kept, t)
			continue
		}
		emptied = append(emptied, t)
	}
	// All at once: tables from a DDL file may reference each other.
	if err := to.EmptyAll(ctx, emptied); err != nil {
		return activities.PhaseResult{}, fmt.Errorf("empty copied tables: %w", err)
	}
	log.Info("emptied copied tables", "emptied", emptied, "kept", kept)
	// A copy that stopped with its indexes deferred left them to build.
	built, failed, err := restoreDeferred(ctx, to, append(append([]string(nil), emptied...), kept...))
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("empty copied tables: %w", err)
	}
	var parts []string
	if len(emptied) > 0 {
		parts = append(parts, fmt.Sprintf("emptied %s in %s", migration.Names(emptied, migration.SummaryNames), s.To))
	}
	if len(kept) > 0 {
		parts = append(parts, fmt.Sprintf("left %s as they are: not created by this migration's provision, so emptying them could delete rows that were not copied", migration.Names(kept, migration.SummaryNames)))
	}
	if len(built) > 0 {
		parts = append(parts, "built the key and indexes the stopped copy had deferred on "+strings.Join(built, ", "))
	}
	for _, f := range failed {
		log.Warn("deferred indexes not built", "detail", f)
		parts = append(parts, "could not build the deferred indexes of "+f)
	}
	if len(parts) == 0 {
		return activities.PhaseResult{Summary: "no copied table left in " + s.To}, nil
	}
	return activities.PhaseResult{Records: int64(len(emptied)), Summary: strings.Join(parts, "; ")}, nil
}

// matching returns the names that match one of the patterns; unlike
// datastore.MatchTables a pattern may match nothing (already dropped).
func matching(names, patterns []string) []string {
	var out []string
	for _, n := range names {
		for _, p := range patterns {
			if ok, _ := glob.Match(p, n); ok {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

// beater keeps the copy's last heartbeat (batches report from several
// streams at once), for the final one that carries the run's checkpoint;
// the adapter's keep-alive repeats the last while no batch finishes (a
// long COUNT(*) at the start of a big table).
type beater struct {
	mu   sync.Mutex
	beat func(activities.Heartbeat)
	last activities.Heartbeat
}

func (b *beater) progress(p datacopy.Progress) {
	hb := Heartbeat(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.last = hb
	b.beat(hb)
}

// stop heartbeats the run's final checkpoint.
func (b *beater) stop(res datacopy.Result) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(res.Checkpoint.Tables) == 0 {
		return // planning failed before any table started: keep the last beat
	}
	hb := b.last
	cp, _ := marshalCheckpoint(res.Checkpoint)
	hb.Checkpoint = cp
	hb.Records = rowsDone(res.Checkpoint)
	b.last = hb
	b.beat(hb)
}

// SourceTables names the store the copy reads and its table patterns, for
// planning (godwit plan --measure samples them).
func (s *Spec) SourceTables() (store string, tables []string) { return s.From, s.Tables }

// RowsPerSecondLimit is the spec's rate (0: no limit), so godwit plan
// --measure estimates a throttled copy at its limit, not at the read rate.
func (s *Spec) RowsPerSecondLimit() int { return s.RowsPerSecond }

// WithRowsPerSecond returns the section with another rate (`godwit
// throttle` while the copy runs; 0: no limit).
func (s *Spec) WithRowsPerSecond(rps int) config.DriverSpec {
	c := *s
	c.RowsPerSecond = rps
	return &c
}

// MappingName is the mapping the section names (config.MappingUser).
func (s *Spec) MappingName() string { return s.Mapping }

// TakeMapping takes the mapping's stores before the spec is checked
// (config.MappingUser).
func (s *Spec) TakeMapping(m *mapping.Spec) { stores.TakeMapping(m, &s.From, &s.To) }

// SuccessCriteria is what a person checks once the copy is done (the
// plan's and runbook's success criteria): through a mapping with filters,
// the source counts only the rows they carry; none otherwise (the copy
// kind's own: equal row counts).
func (s *Spec) SuccessCriteria() []string {
	m := s.MappingSpec
	if m == nil {
		return nil
	}
	var filters []string
	for _, src := range slices.Sorted(maps.Keys(m.Tables)) {
		if w := m.Tables[src].Where; w != "" {
			filters = append(filters, src+": "+w)
		}
	}
	if len(filters) == 0 {
		return nil
	}
	return []string{"every table is copied: target row counts equal source row counts, counting on the source only the rows the mapping's filters carry (" +
		strings.Join(filters, "; ") + ")"}
}
