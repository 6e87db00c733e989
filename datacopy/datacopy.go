// Package datacopy copies tables from one datastore to another: in batches
// read in primary-key order, written as upserts, throttled, several tables at
// once, resumable from a small checkpoint, with a catch-up pass for rows
// changed while it ran. It knows nothing of Temporal: a driver persists the
// checkpoint each progress callback hands it, and passes it back on retry.
package datacopy

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/mapping"
)

// Defaults for Options left zero.
const (
	DefaultBatchRows   = 5000
	DefaultConcurrency = 1
	DefaultOverlap     = time.Minute
	// DefaultDriftCheckEvery is how many batches pass between two checks
	// of the source table's columns.
	DefaultDriftCheckEvery = 10
	DefaultMaxLag          = 5 * time.Second
	DefaultMinRows         = 100
	DefaultMaxPasses       = 10
	// DefaultDirectBatchTime is about how long one batch of the PostgreSQL
	// → PostgreSQL direct path runs (Options.DirectBatchTime).
	DefaultDirectBatchTime = time.Second
	// DirectMaxRows bounds a direct batch's rows.
	DirectMaxRows = 1_000_000
	// DefaultCountDelay is Options.CountDelay's default. A 1M-row
	// pgbench copy (about 1.3 s) ran 5 % faster with no count beside it
	// (medians of six alternating runs, 1.26 s against 1.33 s): its
	// COUNT(*) took 116 ms of the same two cores during the first batches.
	DefaultCountDelay = 2 * time.Second
)

// Options say what to copy and how.
type Options struct {
	From, To *datastore.Store
	// Tables are names or glob patterns (datastore.ValidatePattern) resolved
	// on From. Each must already exist on To (see datastore.Provision) with
	// at least the source's columns.
	Tables []string
	// Mapped holds, by source table name, how a table's rows become the
	// target's (mapping.Table): the copy reads through it (renamed and
	// computed columns, filter) and writes the target table it names.
	// Tables not in it are copied to the same name and columns.
	Mapped map[string]mapping.Table
	// BatchRows is the rows read and written per batch (one target
	// transaction); default 5000. The direct path's batches start there
	// and grow (DirectBatchTime).
	BatchRows int
	// Concurrency is how many tables (or key ranges, see SplitRows) are
	// copied at once; default 1.
	Concurrency int
	// SplitRows, when positive, splits each table of more rows than this
	// into key ranges of about SplitRows rows on its leading key column
	// (PlanRanges), copied as separate entries of the checkpoint, up to
	// Concurrency at once. The ranges are planned once, when the table
	// starts, and kept in the checkpoint. 0: tables are not split.
	SplitRows int64
	// Sizing, when set, chooses how many key ranges a table of more than
	// SplitRows rows is cut into from the worker's cores and the table's
	// sampled rate (PlanRangesSized): fewer, larger ranges where more
	// would only compete. Nil: ranges of SplitRows rows, as many as that
	// makes.
	Sizing *Sizing
	// Range, when set, copies only this key range of the one table Tables
	// names (a unit of a fanned-out copy; see Unit and ParseUnit).
	Range *Range
	// FullCopy are names or glob patterns of tables without a primary key
	// that may be copied anyway, each in one pass that is not resumable
	// (datastore.FullCopy: the target's rows are deleted and all rows
	// copied in one transaction; an interrupted attempt starts again from
	// zero). A table without a key that no pattern matches is refused.
	FullCopy []string
	// RowsPerSecond caps the rows written per second across all tables;
	// 0 = no limit.
	RowsPerSecond float64
	// CatchUp, if set, re-copies the rows changed since the backfill began.
	CatchUp *CatchUp
	// NoDirect turns off the direct paths (PostgreSQL → PostgreSQL: binary
	// COPY streamed from source to target; PostgreSQL → MySQL/MariaDB:
	// text COPY streamed into LOAD DATA; rows never decoded), so every
	// batch goes through ReadBatch and WriteBatch; for comparisons.
	NoDirect bool
	// DirectBatchTime: the direct path's batches start at BatchRows rows
	// and grow (at most sixteenfold a batch, to DirectMaxRows) until one
	// takes about this long, since each batch's statements, round trips and
	// commit cost time the rows do not; the rows stream, so a batch's size
	// costs no memory. Default DefaultDirectBatchTime; negative = every
	// batch BatchRows rows. Throttled copies keep BatchRows.
	DirectBatchTime time.Duration
	// CountDelay is how long a copy runs before it counts the tables whose
	// totals are the planner's estimates (large ones: asyncCountRows). A
	// COUNT(*) scans the table while the copy reads it, on the same
	// cores; a table whose backfill ends before its count started takes
	// the rows it copied as its exact total instead. Default
	// DefaultCountDelay; negative: count at once.
	CountDelay time.Duration
	// DriftCheckEvery is how many committed batches of a table pass between
	// two checks that its source columns are still those introspected at
	// the start (and each stage is checked once more at its end); default
	// DefaultDriftCheckEvery, negative = never. A column added, dropped or
	// retyped fails the copy with a *datastore.DriftError (permanent).
	DriftCheckEvery int
	// DeferIndexes loads each PostgreSQL target table that is empty when
	// its backfill starts (a whole table, not a key range) without its
	// key, unique constraints and indexes, and builds them at the end of
	// its backfill (see deferindex.go): several times less work than
	// keeping them up row by row. The caller vouches that nothing else
	// writes the tables meanwhile (no background replication into them).
	// Tables where it is unsafe (see datastore.DeferIndexes; a key that is
	// not a number or a time) keep their indexes.
	DeferIndexes bool
	// Probe, if set, holds the writes while its value is over its maximum
	// (see throttle.go).
	Probe *Probe
	// AfterCommit, if set, is called after each batch's write committed
	// and before its checkpoint is taken: a fault-injection point for the
	// tests that kill a worker exactly there (the batch is on the target,
	// the checkpoint still says it is not).
	AfterCommit func(table string)
	Logger      hclog.Logger // nil = no logging
}

// CatchUp configures the catch-up pass. Column must grow whenever a row
// changes (an updated_at timestamp, a version number). The pass copies rows
// whose Column is at least the value it had when the backfill started, less
// Overlap for time columns (a transaction can commit after a later one that
// carries an older timestamp). Deleted rows are not seen: reconcile finds them.
//
// Catch-up repeats passes (see MaxLag, MinRows, MaxPasses): each starts
// from the greatest value the previous one saw, so the passes shrink as
// the backfill's lag is closed.
type CatchUp struct {
	Column  string
	Overlap time.Duration // default DefaultOverlap; negative = none
	// MaxLag: a pass that took less than this ends the catch-up (the target
	// is then at most about that far behind); default DefaultMaxLag,
	// negative = never by duration.
	MaxLag time.Duration
	// MinRows: a pass that re-copied fewer rows ends the catch-up; default
	// DefaultMinRows, negative = never by count.
	MinRows int64
	// MaxPasses bounds the passes; default DefaultMaxPasses.
	MaxPasses int
}

// TableProgress is one table's progress; a table split into key ranges
// counts the rows of all its ranges.
type TableProgress struct {
	Table    string `json:"table"`
	Stage    Stage  `json:"stage"` // the earliest stage of its ranges
	RowsDone int64  `json:"rowsDone"`
	Total    int64  `json:"total"`
	// TotalEstimated says Total is still the planner's estimate (the
	// exact count is being taken beside the copy).
	TotalEstimated bool `json:"totalEstimated,omitempty"`
	// RowsPerSecond is this table's average rate since it started in this run.
	RowsPerSecond float64 `json:"rowsPerSecond"`
	// CatchUpRows counts the rows catch-up passes re-copied.
	CatchUpRows int64 `json:"catchUpRows,omitempty"`
	// Ranges and RangesDone count the table's key ranges in this run
	// (0 when it is not split).
	Ranges     int `json:"ranges,omitempty"`
	RangesDone int `json:"rangesDone,omitempty"`
	// Range is the one key range this run copies (Options.Range), "" for all.
	Range string `json:"range,omitempty"`
	// FullCopy says the table has no key and is copied in one pass that
	// is not resumable (Options.FullCopy).
	FullCopy bool `json:"fullCopy,omitempty"`
	// BuildingIndexes is how many indexes deferred for the load are
	// being built now (0: none).
	BuildingIndexes int `json:"buildingIndexes,omitempty"`
	// IndexesAfterLoad counts the indexes built after the load
	// (Options.DeferIndexes).
	IndexesAfterLoad int `json:"indexesAfterLoad,omitempty"`
}

// Progress is reported after every committed batch (never concurrently).
type Progress struct {
	Tables   []TableProgress `json:"tables"` // sorted by name
	RowsDone int64           `json:"rowsDone"`
	Total    int64           `json:"total"`
	// RowsPerSecond is the average rate of this run (rows written / time).
	RowsPerSecond float64 `json:"rowsPerSecond"`
	// ETA is the backfill rows left (Total − RowsDone over unfinished
	// tables) at RowsPerSecond; -1 until there is a rate to go by.
	ETA time.Duration `json:"eta"`
	// Throttle is the back-off probe's last reading (nil: no probe, or
	// not probed yet).
	Throttle *ThrottleStatus `json:"throttle,omitempty"`
	// Checkpoint is a snapshot to persist: resuming from it loses nothing.
	Checkpoint Checkpoint `json:"checkpoint"`
}

// Result is what a run did.
type Result struct {
	Checkpoint Checkpoint      `json:"checkpoint"` // final (or last committed, on error)
	Tables     []TableProgress `json:"tables"`
	Rows       int64           `json:"rows"` // rows written in this run, catch-up included
	Duration   time.Duration   `json:"duration"`
}

// Run copies opts.Tables, starting from resume (a zero Checkpoint for a
// fresh copy). It stops at the next batch boundary when ctx is cancelled
// and returns the checkpoint with an error wrapping ctx's. Errors that
// retrying cannot fix wrap datastore's sentinels (datastore.IsPermanent).
func Run(ctx context.Context, opts Options, resume Checkpoint, onProgress func(Progress)) (Result, error) {
	start := time.Now()
	if err := opts.normalize(); err != nil {
		return Result{Checkpoint: resume}, err
	}
	names, err := opts.From.ResolveTables(ctx, opts.Tables)
	if err != nil {
		return Result{Checkpoint: resume}, fmt.Errorf("copy: %w", err)
	}
	r := &run{opts: opts, log: opts.Logger, start: start, onProgress: onProgress,
		cp: resume.Clone(), live: map[string]*liveTable{}}
	if opts.RowsPerSecond > 0 {
		r.limiter = rate.NewLimiter(rate.Limit(opts.RowsPerSecond), opts.BatchRows)
	}
	if opts.Probe != nil {
		r.gate = newGate(*opts.Probe, r.log, r.report)
	}
	// Plan every table before copying any, so a missing target table or a
	// shape mismatch fails fast with nothing written.
	var plans []*tablePlan
	left := map[string]int{} // a table's entries not yet done
	for _, name := range names {
		ps, err := r.plan(ctx, name)
		if err != nil {
			return r.result(), err
		}
		plans = append(plans, ps...)
		left[name] += len(ps)
	}
	// A PostgreSQL parent's reads include its children's rows.
	var sources []*datastore.Table
	seen := map[string]bool{}
	for _, p := range plans {
		if !seen[p.table] {
			seen[p.table] = true
			sources = append(sources, p.source)
		}
	}
	if problems := datastore.InheritanceProblems(sources); len(problems) > 0 {
		return r.result(), fmt.Errorf("copy: %w: %s", datastore.ErrInheritedRows, problems[0])
	}
	plans = parentsFirst(plans)
	// Say what the target holds before the first batch: a resumed run
	// (after a pause, a retry or `godwit throttle`) would otherwise report
	// nothing, and its status 0 rows, until a batch of its own committed,
	// which a throttled or probe-held copy can take long to do.
	r.report()
	var stopCounts context.CancelFunc
	r.countCtx, stopCounts = context.WithCancel(ctx)
	r.countsAhead(plans)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Concurrency)
	for _, p := range plans {
		g.Go(func() error {
			if err := r.copyTable(gctx, p); err != nil {
				return err
			}
			return r.finishTable(gctx, p, left)
		})
	}
	err = g.Wait()
	// No count may change the checkpoint after Run returns it.
	stopCounts()
	r.counts.Wait()
	if err == nil {
		r.report()
	}
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return r.result(), err
}

// parentsFirst orders the plans so that a table comes after the tables its
// foreign keys reference (datastore.DependencyOrder): once the target has
// its foreign keys, a repeated copy (a retry, a catch-up pass) must not
// write a child row before its parent. The order is otherwise kept.
func parentsFirst(plans []*tablePlan) []*tablePlan {
	var tables []*datastore.Table
	seen := map[string]bool{}
	for _, p := range plans {
		if !seen[p.table] && p.source != nil {
			seen[p.table] = true
			tables = append(tables, p.source)
		}
	}
	rank := map[string]int{}
	for i, t := range datastore.DependencyOrder(tables) {
		rank[t.Name] = i
	}
	sort.SliceStable(plans, func(i, j int) bool { return rank[plans[i].table] < rank[plans[j].table] })
	return plans
}

func (o *Options) normalize() error {
	if o.From == nil || o.To == nil {
		return errors.New("copy: From and To stores are required")
	}
	if o.BatchRows == 0 {
		o.BatchRows = DefaultBatchRows
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.BatchRows < 0 || o.Concurrency < 0 || o.RowsPerSecond < 0 || o.SplitRows < 0 {
		return fmt.Errorf("copy: batchRows, concurrency, splitRows and rowsPerSecond must not be negative")
	}
	if o.Range != nil && len(o.Tables) != 1 {
		return fmt.Errorf("copy: a key range is copied from exactly one table, not %d", len(o.Tables))
	}
	if o.DriftCheckEvery == 0 {
		o.DriftCheckEvery = DefaultDriftCheckEvery
	}
	if o.DirectBatchTime == 0 {
		o.DirectBatchTime = DefaultDirectBatchTime
	}
	if o.CountDelay == 0 {
		o.CountDelay = DefaultCountDelay
	}
	if cu := o.CatchUp; cu != nil {
		c := *cu // the caller's struct stays as it was
		if c.Overlap == 0 {
			c.Overlap = DefaultOverlap
		}
		if c.MaxLag == 0 {
			c.MaxLag = DefaultMaxLag
		}
		if c.MinRows == 0 {
			c.MinRows = DefaultMinRows
		}
		if c.MaxPasses == 0 {
			c.MaxPasses = DefaultMaxPasses
		}
		if c.MaxPasses < 0 {
			return fmt.Errorf("copy: catchUp.maxPasses must not be negative")
		}
		o.CatchUp = &c
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Probe != nil {
		p := *o.Probe // the caller's struct stays as it was
		if err := p.normalize(); err != nil {
			return err
		}
		o.Probe = &p
	}
	return nil
}

type run struct {
	opts       Options
	log        hclog.Logger
	limiter    *rate.Limiter
	gate       *gate // nil: no back-off probe
	start      time.Time
	onProgress func(Progress)

	mu       sync.Mutex // guards cp, live, written
	cp       Checkpoint
	live     map[string]*liveTable
	written  int64
	reportMu sync.Mutex // the callback is never called concurrently

	// countCtx bounds the counts taken beside the copy (countsAhead,
	// startCount); counts tracks them, so none outlives Run.
	countCtx context.Context
	counts   sync.WaitGroup
}

// liveTable is what this run measured of a table.
type liveTable struct {
	started time.Time
	written int64
	// building is how many deferred indexes are being built.
	building int
}

// tablePlan is a table's (or one key range's) source shape and the
// target view it is written through.
type tablePlan struct {
	// name is the checkpoint entry's key: the table's name, or the table
	// and its range (Unit) for one range of a split table.
	name   string
	table  string
	rng    *datastore.KeyRange // nil: the whole table
	source *datastore.Table
	target *datastore.Table
	state  *TableCheckpoint
	full   bool // no key: copied in one pass (copyFull)
	// batches counts the batches committed in this run (for drift checks).
	batches int
	// counting is the exact count of a table whose total is still the
	// planner's estimate, started once (startCount).
	countOnce sync.Once
	counted   chan struct{}
	// backfilled is closed when the table's backfill has ended (once): a
	// count still waiting for CountDelay is not needed any more.
	backfilled     chan struct{}
	backfilledOnce sync.Once
	// countSkipped says the backfill ended before the count started: the
	// rows it copied are the total (countAfter).
	countSkipped bool
}

func (r *run) plan(ctx context.Context, name string) ([]*tablePlan, error) {
	src, err := r.opts.From.Introspect(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("copy %s: source: %w", name, err)
	}
	full := false
	if err := src.CheckCopyable(); err != nil {
		if full = r.fullCopy(name); !full {
			return nil, fmt.Errorf("copy %s: %w (or list it in fullCopy to copy it in one pass that is not resumable)", name, err)
		}
	}
	m, mapped := r.opts.Mapped[name]
	targetName := name
	if mapped {
		targetName = m.Target
	}
	dst, err := r.opts.To.Introspect(ctx, targetName)
	if err != nil {
		return nil, fmt.Errorf("copy %s: target (provision it first): %w", name, err)
	}
	if err := r.targetKey(ctx, dst); err != nil {
		return nil, fmt.Errorf("copy %s: target: %w", name, err)
	}
	var view *datastore.Table
	if mapped {
		src, view, err = datastore.MapTable(src, dst, m)
	} else {
		view, err = dst.Project(src.ColumnNames())
	}
	if err != nil {
		return nil, fmt.Errorf("copy %s: target: %w", name, err)
	}
	if r.opts.CatchUp != nil && !full && src.Column(r.opts.CatchUp.Column) == nil {
		return nil, fmt.Errorf("copy %s: %w: catch-up column %q not in the source table", name, datastore.ErrShapeMismatch, r.opts.CatchUp.Column)
	}
	if full {
		return r.planFull(ctx, src, view)
	}
	entries, err := r.entries(ctx, src)
	if err != nil {
		return nil, err
	}
	var plans []*tablePlan
	for key, state := range entries {
		if _, err := datastore.DecodeKey(src, state.LastKey); len(state.LastKey) > 0 && err != nil {
			return nil, fmt.Errorf("copy %s: checkpoint does not fit the table: %w", key, err)
		}
		p := &tablePlan{name: key, table: name, source: src, target: view, state: state, backfilled: make(chan struct{})}
		if state.Range != nil {
			if p.rng, err = state.Range.KeyRange(src); err != nil {
				return nil, fmt.Errorf("copy %s: checkpoint: %w", key, err)
			}
		}
		plans = append(plans, p)
	}
	sort.Slice(plans, func(i, j int) bool { return plans[i].name < plans[j].name })
	r.mu.Lock()
	if r.cp.Tables == nil {
		r.cp.Tables = map[string]*TableCheckpoint{}
	}
	for _, p := range plans {
		r.cp.Tables[p.name] = p.state
		r.live[p.name] = &liveTable{}
	}
	r.mu.Unlock()
	return plans, nil
}

// asyncCountRows is the planner's estimate from which a table is counted
// beside its backfill rather than before it.
const asyncCountRows = 100_000

// countBeside waits for the exact count of a table whose checkpoint holds
// only the estimate, taken on its own connection while the backfill runs
// once the copy has run for CountDelay; the count is started now if
// countsAhead has not come to it yet. The returned function, called when
// the backfill has ended, drops a count still waiting for CountDelay (the
// rows copied are then the total: countAfter) and waits for one that
// started: a table is never done with an estimate.
func (r *run) countBeside(ctx context.Context, p *tablePlan) func() {
	done := r.startCount(p)
	return func() {
		p.backfilledOnce.Do(func() { close(p.backfilled) })
		select {
		case <-done:
		case <-ctx.Done():
		}
	}
}

// countStarted, when set (by tests), is called as a count beside a
// backfill starts.
var countStarted func(table string)

// countWait is how long a count starting now waits for CountDelay.
func (r *run) countWait() time.Duration {
	if r.opts.CountDelay < 0 {
		return 0
	}
	return max(0, r.opts.CountDelay-time.Since(r.start))
}

// countsAhead counts, one after the other in the background, the tables
// whose totals are still estimates, in the order they will be copied: a
// table waiting for its turn (concurrency 1 is the default) would
// otherwise show its estimate — "about 200,000 rows" for a table that
// had shrunk to 10,000 — until its backfill started, and the copy's
// percentage and ETA with it.
func (r *run) countsAhead(plans []*tablePlan) {
	r.counts.Add(1)
	go func() {
		defer r.counts.Done()
		for _, p := range plans {
			select {
			case <-r.startCount(p):
			case <-r.countCtx.Done():
				return
			}
		}
	}()
}

// startCount starts p's exact count if its total is an estimate (once;
// a table's backfill and countsAhead may both ask) and returns a channel
// closed when it has ended. A count that fails leaves the estimate, and
// the table's backfill counts again when it ends (countAfter).
func (r *run) startCount(p *tablePlan) <-chan struct{} {
	p.countOnce.Do(func() {
		p.counted = make(chan struct{})
		r.mu.Lock()
		estimated := p.state.TotalEstimated
		r.mu.Unlock()
		if !estimated || r.countCtx.Err() != nil {
			close(p.counted)
			return
		}
		r.counts.Add(1)
		go func() {
			defer r.counts.Done()
			defer close(p.counted)
			if wait := r.countWait(); wait > 0 {
				t := time.NewTimer(wait)
				defer t.Stop()
				select {
				case <-t.C:
				case <-p.backfilled:
					r.mu.Lock()
					p.countSkipped = true
					r.mu.Unlock()
					return
				case <-r.countCtx.Done():
					return
				}
			}
			if countStarted != nil {
				countStarted(p.name)
			}
			n, err := r.opts.From.CountRange(r.countCtx, p.source, p.rng)
			if err != nil {
				if r.countCtx.Err() == nil {
					r.log.Warn("counting the table beside its copy failed: it is counted again when its backfill ends", "table", p.name, "error", err)
				}
				return
			}
			r.mu.Lock()
			p.state.Total, p.state.TotalEstimated = n, false
			r.mu.Unlock()
		}()
	})
	return p.counted
}

// countAfter counts a table whose count beside its backfill failed, now
// that its rows are in: a table is never done with an estimate. If this
// count fails too (a statement_timeout shorter than a scan of the table),
// the rows the backfill copied are its total, with a warning: failing a
// copy whose rows are all in for a figure of its progress would cost
// the whole copy again.
func (r *run) countAfter(ctx context.Context, p *tablePlan, log hclog.Logger) error {
	r.mu.Lock()
	estimated, skipped := p.state.TotalEstimated, p.countSkipped
	if estimated && skipped {
		// The backfill ended before CountDelay: it read every row there
		// was, and a count now would scan the table again for that figure.
		p.state.Total, p.state.TotalEstimated = p.state.RowsDone, false
		estimated = false
	}
	r.mu.Unlock()
	if !estimated {
		return nil
	}
	n, err := r.opts.From.CountRange(ctx, p.source, p.rng)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.mu.Lock()
		n = p.state.RowsDone
		r.mu.Unlock()
		log.Warn("counting the table failed again: its total is the rows its backfill copied", "rows", n, "error", err)
	}
	r.mu.Lock()
	p.state.Total, p.state.TotalEstimated = n, false
	r.mu.Unlock()
	return nil
}

// firstState counts the table (or its range r; a known count is passed
// in) and, for a catch-up, takes the watermark — before the backfill
// reads a row, so every later change is at or above it.
func (r *run) firstState(ctx context.Context, src *datastore.Table, rg *Range, count *int64) (*TableCheckpoint, error) {
	st := &TableCheckpoint{Stage: StageBackfill, Range: rg}
	var kr *datastore.KeyRange
	if rg != nil {
		st.Table = src.Name
		var err error
		if kr, err = rg.KeyRange(src); err != nil {
			return nil, fmt.Errorf("copy %s: %w", src.Name, err)
		}
	}
	if r.opts.CatchUp != nil {
		w, err := r.opts.From.MaxRange(ctx, src, r.opts.CatchUp.Column, kr)
		if err != nil {
			return nil, fmt.Errorf("copy %s: %w", src.Name, err)
		}
		if w != nil {
			if st.Watermark, err = datastore.EncodeValue(w); err != nil {
				return nil, fmt.Errorf("copy %s: watermark: %w", src.Name, err)
			}
		}
	}
	if count != nil {
		st.Total = *count
		return st, nil
	}
	if rg == nil && src.Where == "" {
		// A large table is counted beside its backfill (countBeside):
		// an exact COUNT(*) scans it, 75 ms a million rows on PostgreSQL,
		// and every table's count used to come before any row moved.
		if est, err := r.opts.From.EstimateCount(ctx, src.Name); err == nil && est >= asyncCountRows {
			st.Total, st.TotalEstimated = est, true
			return st, nil
		}
	}
	n, err := r.opts.From.CountRange(ctx, src, kr)
	if err != nil {
		return nil, fmt.Errorf("copy %s: %w", src.Name, err)
	}
	st.Total = n
	return st, nil
}

func (r *run) copyTable(ctx context.Context, p *tablePlan) error {
	r.mu.Lock()
	r.live[p.name].started = time.Now()
	stage := p.state.Stage
	r.mu.Unlock()
	log := r.log.With("table", p.name)
	if stage == StageBackfill && p.full {
		return r.copyFull(ctx, p, log)
	}
	if stage == StageBackfill {
		counted := r.countBeside(ctx, p)
		if err := r.deferIndexes(ctx, p, log); err != nil {
			return err
		}
		r.mu.Lock()
		lastKey, done, total, estimated := p.state.LastKey, p.state.RowsDone, p.state.Total, p.state.TotalEstimated
		r.mu.Unlock()
		log.Info("backfill", "from_key", lastKey, "rows_done", done, "total", total, "total_estimated", estimated)
		err := r.pass(ctx, p, p.rangeFilter())
		counted()
		if err == nil {
			err = r.countAfter(ctx, p, log)
		}
		if err == nil {
			err = r.checkDrift(ctx, p)
		}
		if err == nil {
			err = r.restoreIndexes(ctx, p, log)
		}
		if err != nil {
			return r.failDeferred(ctx, p, err, log)
		}
		next := StageDone
		if r.opts.CatchUp != nil {
			next = StageCatchUp
		}
		r.setStage(p, next)
		stage = next
	}
	if stage == StageCatchUp {
		if err := r.catchUp(ctx, p, log); err != nil {
			return err
		}
		r.setStage(p, StageDone)
	}
	log.Info("copied", "rows_done", p.state.RowsDone, "catch_up_rows", p.state.CatchUpRows)
	return nil
}

// catchUp repeats catch-up passes until the source is nearly still: each
// pass first takes the column's greatest value (the next pass's
// watermark), then copies the rows at or above its own watermark less the
// overlap. It stops after a pass that took less than MaxLag or re-copied
// fewer than MinRows rows, or after MaxPasses passes (the lag may then
// still be above MaxLag: it says so in its log; a later catch-up, e.g. at
// cutover, closes it).
func (r *run) catchUp(ctx context.Context, p *tablePlan, log hclog.Logger) error {
	cu := r.opts.CatchUp
	for {
		r.mu.Lock()
		next := p.state.NextWatermark
		r.mu.Unlock()
		if next == "" {
			w, err := r.opts.From.MaxRange(ctx, p.source, cu.Column, p.rng)
			if err != nil {
				return fmt.Errorf("copy %s: %w", p.name, err)
			}
			if w != nil {
				if next, err = datastore.EncodeValue(w); err != nil {
					return fmt.Errorf("copy %s: watermark: %w", p.name, err)
				}
			}
			r.mu.Lock()
			p.state.NextWatermark = next
			r.mu.Unlock()
		}
		filter, err := r.catchUpFilter(p)
		if err != nil {
			return err
		}
		r.mu.Lock()
		before, pass := p.state.CatchUpRows, p.state.CatchUpPasses+1
		r.mu.Unlock()
		log.Info("catch-up pass", "pass", pass, "column", cu.Column, "since", filter)
		start := time.Now()
		if err := r.pass(ctx, p, filter); err != nil {
			return err
		}
		if err := r.checkDrift(ctx, p); err != nil {
			return err
		}
		took := time.Since(start)
		r.mu.Lock()
		found := p.state.CatchUpRows - before
		p.state.CatchUpPasses = pass
		p.state.LastKey = nil
		if p.state.NextWatermark != "" {
			p.state.Watermark = p.state.NextWatermark
		}
		p.state.NextWatermark = ""
		r.mu.Unlock()
		r.report()
		switch {
		case took < cu.MaxLag:
			log.Info("catch-up settled: the pass took less than maxLag", "pass", pass, "rows", found, "took", took)
			return nil
		case found < cu.MinRows:
			log.Info("catch-up settled: the pass found few changed rows", "pass", pass, "rows", found, "took", took)
			return nil
		case pass >= cu.MaxPasses:
			log.Warn("catch-up stopped after maxPasses with the lag still above maxLag", "passes", pass, "rows", found, "took", took, "max_lag", cu.MaxLag)
			return nil
		}
	}
}

func (r *run) catchUpFilter(p *tablePlan) (*datastore.Filter, error) {
	r.mu.Lock()
	w := p.state.Watermark
	r.mu.Unlock()
	if w == "" {
		return p.rangeFilter(), nil // the table was empty when the backfill began: every row is new
	}
	col := p.source.Column(r.opts.CatchUp.Column)
	since, err := datastore.DecodeValue(col.Type, w)
	if err != nil {
		return nil, fmt.Errorf("copy %s: watermark: %w", p.name, err)
	}
	if t, ok := since.(time.Time); ok && r.opts.CatchUp.Overlap > 0 {
		since = t.Add(-r.opts.CatchUp.Overlap)
	}
	return &datastore.Filter{Column: col.Name, Since: since, Range: p.rng}, nil
}

// rangeFilter restricts a backfill to the plan's key range (nil: none).
func (p *tablePlan) rangeFilter() *datastore.Filter {
	if p.rng == nil {
		return nil
	}
	return &datastore.Filter{Range: p.rng}
}

func (r *run) setStage(p *tablePlan, s Stage) {
	r.mu.Lock()
	p.state.Stage = s
	p.state.LastKey = nil
	r.mu.Unlock()
	r.report()
}

// pass copies the rows after the checkpoint's LastKey (matching filter),
// batch by batch, until a short batch says the table is done. The next
// batch is read while the current one is written, so the source and the
// target work at the same time; the checkpoint still moves only after a
// batch's write has committed.
func (r *run) pass(ctx context.Context, p *tablePlan, filter *datastore.Filter) error {
	var err error
	switch {
	case !r.opts.NoDirect && r.opts.From.CanCopyDirect(ctx, r.opts.To, p.source, p.target, filter):
		err = r.passDirect(ctx, p, filter, r.opts.From.CopyDirect)
	case !r.opts.NoDirect && r.opts.From.CanLoadDirect(ctx, r.opts.To, p.source, p.target, filter):
		err = r.passDirect(ctx, p, filter, r.opts.From.LoadDirect)
	case !r.opts.NoDirect && r.opts.From.CanSQLiteDirect(ctx, r.opts.To, p.source, p.target, filter):
		err = r.passDirect(ctx, p, filter, r.opts.From.SQLiteDirect)
		if errors.Is(err, datastore.ErrNotDirect) {
			// The batch wrote nothing; the rest goes the decoded way,
			// which carries the value or names its row.
			r.log.Info("a value the direct path does not carry: the rest of the table is copied decoded", "table", p.name, "value", err)
			err = r.passDecoded(ctx, p, filter)
		}
	default:
		err = r.passDecoded(ctx, p, filter)
	}
	if err == nil || ctx.Err() != nil || errors.Is(err, datastore.ErrSchemaDrift) || r.opts.DriftCheckEvery < 0 {
		return err
	}
	// A batch that fails because the table changed under it (a column
	// gone, a type the target cannot take) is reported as the change.
	if derr := r.opts.From.CheckDrift(ctx, p.source); errors.Is(derr, datastore.ErrSchemaDrift) {
		return fmt.Errorf("copy %s: %w (the batch failed: %v)", p.name, derr, err)
	}
	return err
}

// passDecoded is pass through ReadBatch and WriteBatch (any engine pair).
func (r *run) passDecoded(ctx context.Context, p *tablePlan, filter *datastore.Filter) error {
	r.mu.Lock()
	lastKey := append([]string(nil), p.state.LastKey...)
	r.mu.Unlock()
	var after []any
	if len(lastKey) > 0 {
		var err error
		if after, err = datastore.DecodeKey(p.source, lastKey); err != nil {
			return fmt.Errorf("copy %s: %w", p.name, err)
		}
	}
	readCtx, cancel := context.WithCancel(ctx)
	defer cancel() // an abandoned read-ahead stops with the pass
	next := r.readAhead(readCtx, p, after, filter)
	for {
		// The batch boundary: the place a cancellation takes effect.
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("copy %s: stopped: %w", p.name, err)
		}
		res := <-next
		if res.err != nil {
			return fmt.Errorf("copy %s: %w", p.name, res.err)
		}
		rows := res.rows
		if len(rows) == 0 {
			return nil
		}
		last := rows[len(rows)-1]
		key := make([]any, 0, len(p.source.PrimaryKey))
		for _, i := range p.source.KeyIndexes() {
			key = append(key, last[i])
		}
		if len(rows) == r.opts.BatchRows {
			next = r.readAhead(readCtx, p, key, filter)
		}
		if r.limiter != nil {
			if err := r.limiter.WaitN(ctx, len(rows)); err != nil {
				return fmt.Errorf("copy %s: stopped while throttled: %w", p.name, ctxErrOr(ctx, err))
			}
		}
		if err := r.hold(ctx, p); err != nil {
			return err
		}
		if err := r.opts.To.WriteBatchIn(ctx, p.target, rows, p.rng); err != nil {
			return fmt.Errorf("copy %s: %w", p.name, err)
		}
		if err := r.commit(ctx, p, key, int64(len(rows))); err != nil {
			return err
		}
		if len(rows) < r.opts.BatchRows {
			return nil
		}
	}
}

// commit records a batch the target has committed: its last key becomes
// the checkpoint, and the progress callback gets it.
func (r *run) commit(ctx context.Context, p *tablePlan, key []any, n int64) error {
	if r.opts.AfterCommit != nil {
		r.opts.AfterCommit(p.name)
	}
	enc, err := datastore.EncodeKey(p.source, key)
	if err != nil {
		return fmt.Errorf("copy %s: %w", p.name, err)
	}
	r.mu.Lock()
	p.state.LastKey = enc
	if p.state.Stage == StageBackfill {
		p.state.RowsDone += n
	} else {
		p.state.CatchUpRows += n
	}
	r.live[p.name].written += n
	r.written += n
	r.mu.Unlock()
	r.report()
	p.batches++
	if r.opts.DriftCheckEvery > 0 && p.batches%r.opts.DriftCheckEvery == 0 {
		return r.checkDrift(ctx, p)
	}
	return nil
}

// checkDrift fails the copy when the source table's columns are no longer
// those it was planned with: going on would copy the wrong shape.
func (r *run) checkDrift(ctx context.Context, p *tablePlan) error {
	if r.opts.DriftCheckEvery < 0 {
		return nil
	}
	if err := r.opts.From.CheckDrift(ctx, p.source); err != nil {
		return fmt.Errorf("copy %s: %w", p.name, err)
	}
	return nil
}

// directCopier copies one batch without decoding its rows
// (datastore.Store.CopyDirect, LoadDirect).
type directCopier func(ctx context.Context, to *datastore.Store, src, dst *datastore.Table, after []any, limit int, filter *datastore.Filter) (datastore.DirectBatch, error)

// passDirect is pass for PostgreSQL → PostgreSQL (each batch streams from
// the source's binary COPY into the target's, datastore.CopyDirect) and
// PostgreSQL → MySQL/MariaDB (from the source's text COPY into LOAD DATA,
// datastore.LoadDirect): the source and target already work at once and
// rows are never decoded. The checkpoint is the batch's last key, as in
// pass.
func (r *run) passDirect(ctx context.Context, p *tablePlan, filter *datastore.Filter, copyBatch directCopier) error {
	r.mu.Lock()
	lastKey := append([]string(nil), p.state.LastKey...)
	r.mu.Unlock()
	var after []any
	if len(lastKey) > 0 {
		var err error
		if after, err = datastore.DecodeKey(p.source, lastKey); err != nil {
			return fmt.Errorf("copy %s: %w", p.name, err)
		}
	}
	limit := r.opts.BatchRows
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("copy %s: stopped: %w", p.name, err)
		}
		if r.limiter != nil {
			if err := r.limiter.WaitN(ctx, limit); err != nil {
				return fmt.Errorf("copy %s: stopped while throttled: %w", p.name, ctxErrOr(ctx, err))
			}
		}
		if err := r.hold(ctx, p); err != nil {
			return err
		}
		started := time.Now()
		b, err := copyBatch(ctx, r.opts.To, p.source, p.target, after, limit, filter)
		if err != nil {
			// The direct copiers name the table themselves ("copy t: ...").
			if ctx.Err() != nil {
				return fmt.Errorf("copy %s: %w", p.name, ctx.Err())
			}
			return err
		}
		if b.Keys == 0 {
			return nil
		}
		if err := r.commit(ctx, p, b.LastKey, b.Rows); err != nil {
			return err
		}
		after = b.LastKey
		if b.Keys < limit {
			return nil
		}
		limit = r.nextDirectLimit(limit, time.Since(started))
	}
}

// nextDirectLimit sizes the next direct batch to take about
// DirectBatchTime at the rate the last one (limit rows in took) went,
// growing at most sixteenfold a batch (fourfold took five batches to reach
// the steady rate on a 1M-row table, three of them slower than it) and
// never below BatchRows. Throttled, batches stay at BatchRows: the
// limiter's burst.
func (r *run) nextDirectLimit(limit int, took time.Duration) int {
	if r.limiter != nil || r.opts.DirectBatchTime < 0 || took <= 0 {
		return r.opts.BatchRows
	}
	n := int(float64(limit) * r.opts.DirectBatchTime.Seconds() / took.Seconds())
	return max(r.opts.BatchRows, min(n, 16*limit, DirectMaxRows))
}

// batchRead is one read-ahead's outcome.
type batchRead struct {
	rows [][]any
	err  error
}

// readAhead reads the batch after the given key in the background.
func (r *run) readAhead(ctx context.Context, p *tablePlan, after []any, filter *datastore.Filter) <-chan batchRead {
	ch := make(chan batchRead, 1)
	go func() {
		rows, err := r.opts.From.ReadBatch(ctx, p.source, after, r.opts.BatchRows, filter)
		ch <- batchRead{rows: rows, err: err}
	}()
	return ch
}

func ctxErrOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// snapshot builds a Progress under the lock. The key ranges of a table
// add up to one TableProgress.
func (r *run) snapshot() Progress {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	p := Progress{Checkpoint: r.cp.Clone()}
	keys := make([]string, 0, len(r.live))
	for k := range r.live {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	byTable := map[string]*TableProgress{}
	started := map[string]time.Time{}
	written := map[string]int64{}
	var order []string
	var left int64
	for _, k := range keys {
		st, lt := r.cp.Tables[k], r.live[k]
		name := st.tableOf(k)
		tp := byTable[name]
		if tp == nil {
			tp = &TableProgress{Table: name, Stage: StageDone}
			byTable[name] = tp
			order = append(order, name)
		}
		if stageOrder(st.Stage) < stageOrder(tp.Stage) {
			tp.Stage = st.Stage
		}
		tp.RowsDone += st.RowsDone
		tp.Total += st.Total
		tp.TotalEstimated = tp.TotalEstimated || st.TotalEstimated
		tp.CatchUpRows += st.CatchUpRows
		tp.FullCopy = tp.FullCopy || st.FullCopy
		tp.BuildingIndexes += lt.building
		tp.IndexesAfterLoad += st.IndexesAfterLoad
		if st.Range != nil {
			tp.Ranges++
			if st.Stage == StageDone {
				tp.RangesDone++
			}
			if r.opts.Range != nil {
				tp.Range = st.Range.String()
			}
		}
		if !lt.started.IsZero() && (started[name].IsZero() || lt.started.Before(started[name])) {
			started[name] = lt.started
		}
		written[name] += lt.written
		if st.Stage == StageBackfill && st.Total > st.RowsDone {
			left += st.Total - st.RowsDone
		}
		p.RowsDone += st.RowsDone
		p.Total += st.Total
	}
	sort.Strings(order)
	for _, name := range order {
		tp := byTable[name]
		if t0 := started[name]; !t0.IsZero() {
			if secs := now.Sub(t0).Seconds(); secs > 0 {
				tp.RowsPerSecond = r.throttled(float64(written[name]) / secs)
			}
		}
		p.Tables = append(p.Tables, *tp)
	}
	p.ETA = -1
	if r.gate != nil {
		p.Throttle = r.gate.snapshot()
	}
	if secs := now.Sub(r.start).Seconds(); secs > 0 && r.written > 0 {
		p.RowsPerSecond = r.throttled(float64(r.written) / secs)
		p.ETA = time.Duration(float64(left) / p.RowsPerSecond * float64(time.Second))
	}
	return p
}

// throttled caps a measured rate at RowsPerSecond: the limiter lets the
// first batch through at once, so early in a throttled run (and right
// after `godwit throttle` restarts it) rows/time overstates the rate the
// rest will go at, and the ETA would read "<1s" at 20%.
func (r *run) throttled(rate float64) float64 {
	if r.opts.RowsPerSecond > 0 {
		return min(rate, r.opts.RowsPerSecond)
	}
	return rate
}

// stageOrder ranks stages in the order a table goes through them.
func stageOrder(s Stage) int {
	switch s {
	case StageBackfill:
		return 0
	case StageCatchUp:
		return 1
	}
	return 2
}

func (r *run) report() {
	if r.onProgress == nil {
		return
	}
	r.reportMu.Lock()
	defer r.reportMu.Unlock()
	r.onProgress(r.snapshot())
}

func (r *run) result() Result {
	p := r.snapshot()
	r.mu.Lock()
	defer r.mu.Unlock()
	return Result{Checkpoint: p.Checkpoint, Tables: p.Tables, Rows: r.written, Duration: time.Since(r.start)}
}
