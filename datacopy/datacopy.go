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
)

// Options say what to copy and how.
type Options struct {
	From, To *datastore.Store
	// Tables are names or glob patterns (datastore.ValidatePattern) resolved
	// on From. Each must already exist on To (see datastore.Provision) with
	// at least the source's columns.
	Tables []string
	// BatchRows is the rows read and written per batch (one target
	// transaction); default 5000. The direct path's batches start there
	// and grow (DirectBatchTime).
	BatchRows int
	// Concurrency is how many tables are copied at once; default 1.
	Concurrency int
	// RowsPerSecond caps the rows written per second across all tables;
	// 0 = no limit.
	RowsPerSecond float64
	// CatchUp, if set, re-copies the rows changed since the backfill began.
	CatchUp *CatchUp
	// NoDirect turns off the PostgreSQL → PostgreSQL direct path (binary
	// COPY streamed from source to target, rows never decoded), so every
	// batch goes through ReadBatch and WriteBatch; for comparisons.
	NoDirect bool
	// DirectBatchTime: the direct path's batches start at BatchRows rows
	// and grow (at most fourfold a batch, to DirectMaxRows) until one takes
	// about this long, since each batch's statements, round trips and
	// commit cost time the rows do not; the rows stream, so a batch's size
	// costs no memory. Default DefaultDirectBatchTime; negative = every
	// batch BatchRows rows. Throttled copies keep BatchRows.
	DirectBatchTime time.Duration
	// DriftCheckEvery is how many committed batches of a table pass between
	// two checks that its source columns are still those introspected at
	// the start (and each stage is checked once more at its end); default
	// DefaultDriftCheckEvery, negative = never. A column added, dropped or
	// retyped fails the copy with a *datastore.DriftError (permanent).
	DriftCheckEvery int
	Logger          hclog.Logger // nil = no logging
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

// TableProgress is one table's progress.
type TableProgress struct {
	Table    string `json:"table"`
	Stage    Stage  `json:"stage"`
	RowsDone int64  `json:"rowsDone"`
	Total    int64  `json:"total"`
	// RowsPerSecond is this table's average rate since it started in this run.
	RowsPerSecond float64 `json:"rowsPerSecond"`
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
	// Plan every table before copying any, so a missing target table or a
	// shape mismatch fails fast with nothing written.
	var plans []*tablePlan
	for _, name := range names {
		p, err := r.plan(ctx, name)
		if err != nil {
			return r.result(), err
		}
		plans = append(plans, p)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Concurrency)
	for _, p := range plans {
		g.Go(func() error { return r.copyTable(gctx, p) })
	}
	err = g.Wait()
	if err == nil {
		r.report()
	}
	if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return r.result(), err
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
	if o.BatchRows < 0 || o.Concurrency < 0 || o.RowsPerSecond < 0 {
		return fmt.Errorf("copy: batchRows, concurrency and rowsPerSecond must not be negative")
	}
	if o.DriftCheckEvery == 0 {
		o.DriftCheckEvery = DefaultDriftCheckEvery
	}
	if o.DirectBatchTime == 0 {
		o.DirectBatchTime = DefaultDirectBatchTime
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
	return nil
}

type run struct {
	opts       Options
	log        hclog.Logger
	limiter    *rate.Limiter
	start      time.Time
	onProgress func(Progress)

	mu       sync.Mutex // guards cp, live, written
	cp       Checkpoint
	live     map[string]*liveTable
	written  int64
	reportMu sync.Mutex // the callback is never called concurrently
}

// liveTable is what this run measured of a table.
type liveTable struct {
	started time.Time
	written int64
}

// tablePlan is a table's source shape and the target view it is written through.
type tablePlan struct {
	name   string
	source *datastore.Table
	target *datastore.Table
	state  *TableCheckpoint
	// batches counts the batches committed in this run (for drift checks).
	batches int
}

func (r *run) plan(ctx context.Context, name string) (*tablePlan, error) {
	src, err := r.opts.From.Introspect(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("copy %s: source: %w", name, err)
	}
	if err := src.CheckCopyable(); err != nil {
		return nil, fmt.Errorf("copy %s: %w", name, err)
	}
	dst, err := r.opts.To.Introspect(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("copy %s: target (provision it first): %w", name, err)
	}
	view, err := dst.Project(src.ColumnNames())
	if err != nil {
		return nil, fmt.Errorf("copy %s: target: %w", name, err)
	}
	if r.opts.CatchUp != nil && src.Column(r.opts.CatchUp.Column) == nil {
		return nil, fmt.Errorf("copy %s: %w: catch-up column %q not in the source table", name, datastore.ErrShapeMismatch, r.opts.CatchUp.Column)
	}
	r.mu.Lock()
	state := r.cp.Tables[name]
	r.mu.Unlock()
	if state == nil {
		if state, err = r.firstState(ctx, src); err != nil {
			return nil, err
		}
	} else if _, err := datastore.DecodeKey(src, state.LastKey); len(state.LastKey) > 0 && err != nil {
		return nil, fmt.Errorf("copy %s: checkpoint does not fit the table: %w", name, err)
	}
	r.mu.Lock()
	if r.cp.Tables == nil {
		r.cp.Tables = map[string]*TableCheckpoint{}
	}
	r.cp.Tables[name] = state
	r.live[name] = &liveTable{}
	r.mu.Unlock()
	return &tablePlan{name: name, source: src, target: view, state: state}, nil
}

// firstState counts the table and, for a catch-up, takes the watermark —
// before the backfill reads a row, so every later change is at or above it.
func (r *run) firstState(ctx context.Context, src *datastore.Table) (*TableCheckpoint, error) {
	st := &TableCheckpoint{Stage: StageBackfill}
	if r.opts.CatchUp != nil {
		w, err := r.opts.From.Max(ctx, src, r.opts.CatchUp.Column)
		if err != nil {
			return nil, fmt.Errorf("copy %s: %w", src.Name, err)
		}
		if w != nil {
			if st.Watermark, err = datastore.EncodeValue(w); err != nil {
				return nil, fmt.Errorf("copy %s: watermark: %w", src.Name, err)
			}
		}
	}
	n, err := r.opts.From.Count(ctx, src.Name)
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
	if stage == StageBackfill {
		log.Info("backfill", "from_key", p.state.LastKey, "rows_done", p.state.RowsDone, "total", p.state.Total)
		if err := r.pass(ctx, p, nil); err != nil {
			return err
		}
		if err := r.checkDrift(ctx, p); err != nil {
			return err
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
	if err := datastore.SyncAutoIncrement(ctx, r.opts.To, p.target); err != nil {
		return fmt.Errorf("copy %s: %w", p.name, err)
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
			w, err := r.opts.From.Max(ctx, p.source, cu.Column)
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
		return nil, nil // the table was empty when the backfill began: every row is new
	}
	col := p.source.Column(r.opts.CatchUp.Column)
	since, err := datastore.DecodeValue(col.Type, w)
	if err != nil {
		return nil, fmt.Errorf("copy %s: watermark: %w", p.name, err)
	}
	if t, ok := since.(time.Time); ok && r.opts.CatchUp.Overlap > 0 {
		since = t.Add(-r.opts.CatchUp.Overlap)
	}
	return &datastore.Filter{Column: col.Name, Since: since}, nil
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
	if !r.opts.NoDirect && r.opts.From.CanCopyDirect(ctx, r.opts.To, p.source, p.target, filter) {
		err = r.passDirect(ctx, p, filter)
	} else {
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
		if err := r.opts.To.WriteBatch(ctx, p.target, rows); err != nil {
			return fmt.Errorf("copy %s: %w", p.name, err)
		}
		if err := r.commit(ctx, p, filter, key, int64(len(rows))); err != nil {
			return err
		}
		if len(rows) < r.opts.BatchRows {
			return nil
		}
	}
}

// commit records a batch the target has committed: its last key becomes
// the checkpoint, and the progress callback gets it.
func (r *run) commit(ctx context.Context, p *tablePlan, filter *datastore.Filter, key []any, n int64) error {
	enc, err := datastore.EncodeKey(p.source, key)
	if err != nil {
		return fmt.Errorf("copy %s: %w", p.name, err)
	}
	r.mu.Lock()
	p.state.LastKey = enc
	if filter == nil && p.state.Stage == StageBackfill {
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

// passDirect is pass for PostgreSQL → PostgreSQL: each batch streams from
// the source's binary COPY into the target's (datastore.CopyDirect), so
// the source and target already work at once and rows are never decoded.
// The checkpoint is the batch's last key, as in pass.
func (r *run) passDirect(ctx context.Context, p *tablePlan, filter *datastore.Filter) error {
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
		started := time.Now()
		b, err := r.opts.From.CopyDirect(ctx, r.opts.To, p.source, p.target, after, limit, filter)
		if err != nil {
			return fmt.Errorf("copy %s: %w", p.name, ctxErrOr(ctx, err))
		}
		if b.Keys == 0 {
			return nil
		}
		if err := r.commit(ctx, p, filter, b.LastKey, b.Rows); err != nil {
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
// growing at most fourfold a batch and never below BatchRows. Throttled,
// batches stay at BatchRows: the limiter's burst.
func (r *run) nextDirectLimit(limit int, took time.Duration) int {
	if r.limiter != nil || r.opts.DirectBatchTime < 0 || took <= 0 {
		return r.opts.BatchRows
	}
	n := int(float64(limit) * r.opts.DirectBatchTime.Seconds() / took.Seconds())
	return max(r.opts.BatchRows, min(n, 4*limit, DirectMaxRows))
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

// snapshot builds a Progress under the lock.
func (r *run) snapshot() Progress {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	p := Progress{Checkpoint: r.cp.Clone()}
	names := make([]string, 0, len(r.live))
	for n := range r.live {
		names = append(names, n)
	}
	sort.Strings(names)
	var left int64
	for _, n := range names {
		st, lt := r.cp.Tables[n], r.live[n]
		tp := TableProgress{Table: n, Stage: st.Stage, RowsDone: st.RowsDone, Total: st.Total}
		if !lt.started.IsZero() {
			if secs := now.Sub(lt.started).Seconds(); secs > 0 {
				tp.RowsPerSecond = float64(lt.written) / secs
			}
		}
		if st.Stage == StageBackfill && st.Total > st.RowsDone {
			left += st.Total - st.RowsDone
		}
		p.Tables = append(p.Tables, tp)
		p.RowsDone += st.RowsDone
		p.Total += st.Total
	}
	p.ETA = -1
	if secs := now.Sub(r.start).Seconds(); secs > 0 && r.written > 0 {
		p.RowsPerSecond = float64(r.written) / secs
		p.ETA = time.Duration(float64(left) / p.RowsPerSecond * float64(time.Second))
	}
	return p
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
