package cdc

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/mapping"
)

// Defaults of RunOptions.
const (
	DefaultBatchChanges = 5000
	DefaultWait         = 500 * time.Millisecond
	DefaultLagEvery     = time.Second
)

// Resolve picks the capture method for a source: the requested one if the
// engine supports it, else (auto) logical replication on PostgreSQL when
// wal_level is logical and triggers otherwise.
func Resolve(ctx context.Context, s *datastore.Store, m Method) (Method, error) {
	switch {
	case m == MethodTriggers:
		return m, nil
	case s.Engine != datastore.Postgres && m == MethodLogical:
		return "", fmt.Errorf("%w: logical replication is PostgreSQL's; %s sources use method triggers", ErrNotSupported, s.Engine)
	case s.Engine != datastore.Postgres:
		return MethodTriggers, nil
	}
	level, err := WALLevel(ctx, s)
	if err != nil {
		return "", err
	}
	if level == "logical" {
		return MethodLogical, nil
	}
	if m == MethodLogical {
		return "", fmt.Errorf("%w: wal_level is %s, logical replication needs wal_level=logical (a server restart), or use method triggers", ErrNotSupported, level)
	}
	return MethodTriggers, nil
}

// SetupResult says what Setup did.
type SetupResult struct {
	Method Method
	// Created lists the objects made by this call ("slot godwit_x", "trigger
	// godwit_tr_x_orders_i"); a repeated call finds them and lists none.
	Created []string
}

// Setup creates the capture objects; run it before the backfill starts, so
// that every change the backfill might miss is captured. It can be
// repeated: existing objects are kept.
func Setup(ctx context.Context, o Options) (SetupResult, error) {
	if err := o.check(); err != nil {
		return SetupResult{}, err
	}
	m, err := existingMethod(ctx, o)
	if err != nil {
		return SetupResult{}, err
	}
	if m == "" {
		if m, err = Resolve(ctx, o.Source, o.Method); err != nil {
			return SetupResult{}, err
		}
	}
	var created []string
	if m == MethodLogical {
		created, err = setupLogical(ctx, o)
	} else {
		created, err = setupTriggers(ctx, o)
	}
	o.logger().Info("change capture set up", "capture", o.Name, "method", m, "created", created)
	return SetupResult{Method: m, Created: created}, err
}

// existingMethod is the method of a capture already (partly) set up, or ""
// when there is none: a retry finishes what it started.
func existingMethod(ctx context.Context, o Options) (Method, error) {
	objs, err := listObjects(ctx, o.Source, o.Name)
	if err != nil {
		return "", err
	}
	var m Method
	for _, ob := range objs {
		switch ob.Kind {
		case "slot", "publication":
			m = MethodLogical
		case "table", "trigger":
			if m == "" {
				m = MethodTriggers
			}
		}
	}
	if m != "" && o.Method != MethodAuto && o.Method != m {
		return "", fmt.Errorf("%w: capture %s already exists with method %s, not %s: tear it down first", ErrNotSupported, o.Name, m, o.Method)
	}
	return m, nil
}

// Teardown removes every object of the capture (triggers, changelogs,
// functions, slot, publication), whatever the method; repeated, it
// removes nothing. It returns what it removed.
func Teardown(ctx context.Context, o Options) ([]string, error) {
	if o.Source == nil {
		return nil, fmt.Errorf("cdc: no source store")
	}
	if err := checkName(o.Name); err != nil {
		return nil, err
	}
	dropped, err := teardownTriggers(ctx, o.Source, o.Name)
	if err != nil {
		return dropped, err
	}
	if o.Source.Engine == datastore.Postgres {
		more, err := teardownLogical(ctx, o.Source, o.Name)
		dropped = append(dropped, more...)
		if err != nil {
			return dropped, err
		}
	}
	o.logger().Info("change capture removed", "capture", o.Name, "dropped", dropped)
	return dropped, nil
}

// RunOptions configure Run.
type RunOptions struct {
	Options
	// Target is the store the changes are applied to; its tables exist
	// (provisioned) with at least the source's columns.
	Target *datastore.Store
	// BatchChanges bounds the changes applied in one target transaction
	// (default DefaultBatchChanges).
	BatchChanges int
	// Wait is how long a read waits for changes before reporting progress
	// anyway (default DefaultWait).
	Wait time.Duration
	// LagEvery is how often the lag is measured (default DefaultLagEvery).
	LagEvery time.Duration
	// Until, when set, ends Run (with no error) the first time it returns
	// true for a progress report; see CaughtUp. Nil: Run goes on until ctx
	// is cancelled.
	Until func(Progress) bool
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// reader is one capture method's source of changes.
type reader interface {
	// next returns the changes available, waiting up to wait for some.
	next(ctx context.Context, maxChanges int, wait time.Duration) (batch, error)
	// confirm tells the source that a batch is applied on the target.
	confirm(ctx context.Context, b batch) error
	lag(ctx context.Context, now time.Time) (Lag, error)
	close()
}

// Run applies the captured changes to the target, batch by batch, from
// the checkpoint (the zero Checkpoint: from the capture's start). After
// each batch is committed on the target it is confirmed to the source
// (the slot's flushed position advances; drained changelog rows go), then
// progress is reported with the new checkpoint. A cancelled ctx stops it
// between batches: it returns the checkpoint and ctx.Err().
func Run(ctx context.Context, o RunOptions, cp Checkpoint, progress func(Progress)) (Checkpoint, error) {
	if err := o.check(); err != nil {
		return cp, err
	}
	if o.Target == nil {
		return cp, fmt.Errorf("cdc %s: no target store", o.Name)
	}
	o.defaults()
	m, err := existingMethod(ctx, o.Options)
	if err != nil {
		return cp, err
	}
	if m == "" {
		return cp, fmt.Errorf("%w: no slot, publication or changelog named for capture %s (run Setup before the backfill)", ErrNotSetUp, o.Name)
	}
	if cp.Method != "" && cp.Method != m {
		// A checkpoint of another method means nothing here: start over
		// from the capture's start (replay is idempotent).
		cp = Checkpoint{Applied: cp.Applied}
	}
	cp.Method = m
	tables, err := planTables(ctx, o.Source, o.Target, o.Tables, o.Mapped)
	if err != nil {
		return cp, err
	}
	var r reader
	if m == MethodLogical {
		src := map[string]*datastore.Table{}
		for n, p := range tables {
			src[n] = p.src
		}
		r, err = openLogical(ctx, o.Options, src, cp)
	} else {
		r, err = openTriggers(ctx, o.Options, tables)
	}
	if err != nil {
		return cp, err
	}
	defer r.close()
	return loop(ctx, o, r, tables, cp, progress)
}

func (o *RunOptions) defaults() {
	if o.BatchChanges <= 0 {
		o.BatchChanges = DefaultBatchChanges
	}
	if o.Wait <= 0 {
		o.Wait = DefaultWait
	}
	if o.LagEvery <= 0 {
		o.LagEvery = DefaultLagEvery
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

func loop(ctx context.Context, o RunOptions, r reader, tables map[string]tablePair, cp Checkpoint, progress func(Progress)) (Checkpoint, error) {
	log := o.logger()
	hooks, err := originHooks(ctx, o.Target, o.Name)
	if err != nil {
		return cp, err
	}
	p := Progress{Method: cp.Method, Started: o.Now()}
	var lastLag time.Time
	for {
		if err := ctx.Err(); err != nil {
			return cp, err
		}
		b, err := r.next(ctx, o.BatchChanges, min(o.Wait, o.LagEvery))
		if err != nil {
			return cp, stopped(ctx, err)
		}
		if b.n > 0 || b.position != "" {
			if err := readBack(ctx, o.Source, tables, &b); err != nil {
				return cp, stopped(ctx, err)
			}
			if b, err = applyGrowing(ctx, o, r, tables, b, hooks); err != nil {
				return cp, stopped(ctx, err)
			}
			if err := r.confirm(ctx, b); err != nil {
				return cp, stopped(ctx, err)
			}
			cp.Applied += int64(b.n)
			p.AppliedThisRun += int64(b.n)
			if b.position != "" {
				cp.LSN = b.position
			}
		}
		now := o.Now()
		measured := false
		if now.Sub(lastLag) >= o.LagEvery {
			l, err := r.lag(ctx, now)
			if err != nil {
				return cp, stopped(ctx, err)
			}
			p.Lag, lastLag, measured = l, now, true
		}
		if b.n == 0 && !measured {
			continue
		}
		p.Checkpoint = cp
		if secs := now.Sub(p.Started).Seconds(); secs > 0 {
			p.ChangesPerSecond = float64(p.AppliedThisRun) / secs
		}
		if progress != nil {
			progress(p)
		}
		if b.n > 0 {
			log.Debug("applied changes", "changes", b.n, "lag_seconds", p.Lag.Seconds, "lag_changes", p.Lag.Changes)
		}
		if o.Until != nil && measured && o.Until(p) {
			return cp, nil
		}
	}
}

// fkRefusalHint says what to do when the target's foreign keys refuse a
// batch for good: most often a table the capture does not carry still
// references a row the source deleted or re-keyed (Sakila's film_actor on
// legacy, referencing an actor deleted on new after a cut-over of actor
// alone).
const fkRefusalHint = "the target's foreign keys refuse these changes: a row deleted on the source " +
	"(or whose key changed: applied as a delete, then an insert) may still be referenced on the target " +
	"by a table this capture does not carry, or a row may reference a parent the target lacks; " +
	"repair those rows on the target, or carry the referencing table too: the replication retries " +
	"the same changes until the target takes them"

// maxGrowth bounds how far applyGrowing widens a batch (×64, 320,000
// changes at the default batchChanges): a refusal the batch's width does
// not explain (a parent the capture does not carry) must not read a whole
// backlog into memory before it is reported.
const maxGrowth = 64

// applyGrowing applies b; when the target's foreign keys refuse a batch
// that was cut (a table had more changes than its share, see batch.cut), it
// reads the changes again with four times the room, until the target
// takes them or nothing is left out. Without it, a burst of parent rows
// larger than their table's share, then a child of the last of them, was
// refused for good: every retry read the same cut batch (the child, not
// its parent). The batch returned is the one applied, to be confirmed.
func applyGrowing(ctx context.Context, o RunOptions, r reader, tables map[string]tablePair, b batch, hooks datastore.TxHooks) (batch, error) {
	room := o.BatchChanges
	for {
		err := apply(ctx, o.Target, tables, b, hooks)
		if err != nil && datastore.IsForeignKeyViolation(err) && (!b.cut || room >= maxGrowth*o.BatchChanges) {
			return b, fmt.Errorf("%w (%s)", err, fkRefusalHint)
		}
		if err == nil || !b.cut || !datastore.IsForeignKeyViolation(err) {
			return b, err
		}
		room *= 4
		o.logger().Info("a foreign key of the target refused a batch that left changes out: reading it again with more room", "changes", room, "error", err)
		if b, err = r.next(ctx, room, 0); err != nil {
			return b, err
		}
		if err := readBack(ctx, o.Source, tables, &b); err != nil {
			return b, err
		}
	}
}

// stopped prefers the cancellation to the error it caused (a query cut
// short by it).
func stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// EffectiveLag is the greater of the lag's age and the time the pending
// changes take to apply at this run's rate: a backlog captured a moment
// ago is young, but not caught up.
func EffectiveLag(p Progress) time.Duration {
	lag := p.Lag.Duration()
	if p.Lag.Changes > 0 {
		if p.ChangesPerSecond <= 0 {
			return max(lag, time.Hour)
		}
		lag = max(lag, time.Duration(float64(p.Lag.Changes)/p.ChangesPerSecond*float64(time.Second)))
	}
	return lag
}

// CaughtUp returns an Until function: true once the effective lag
// (EffectiveLag) has stayed at or under maxLag for hold (measured by the
// progress reports' clock). hold 0: the first measurement under maxLag.
func CaughtUp(maxLag, hold time.Duration) func(Progress) bool {
	var since time.Time
	return func(p Progress) bool {
		if EffectiveLag(p) > maxLag {
			since = time.Time{}
			return false
		}
		if since.IsZero() {
			since = p.Lag.Measured
		}
		return p.Lag.Measured.Sub(since) >= hold
	}
}

// Drained returns an Until function: true once every change committed on
// the source before since is applied and nothing captured is pending. Run
// it with since = the moment the source's writes stopped (or later).
func Drained(since time.Time) func(Progress) bool {
	return func(p Progress) bool {
		return p.Lag.Changes == 0 && !p.Lag.Through.IsZero() && !p.Lag.Through.Before(since)
	}
}

// Reversed is the replication the other way, for after the write switch:
// the capture named name on o's target (whose DSN is targetDSN), applied
// to o's source; same batches and clock, method auto. Changes either
// stream applies are tagged with their origin, so the two run side by
// side without echoing each other's (origin.go). A mapped o (o.Mapped)
// needs inverse, the inverse mapping by target table name
// (mapping.Table.Inverse of each): the reverse capture is of those
// tables, each change read back from the target through its inverse;
// otherwise the tables are o's.
func (o RunOptions) Reversed(name, targetDSN string, inverse map[string]mapping.Table) RunOptions {
	r := o
	r.Source, r.SourceDSN, r.Target = o.Target, targetDSN, o.Source
	r.Name, r.Method, r.Until = name, MethodAuto, nil
	r.Mapped = inverse
	if len(inverse) > 0 {
		r.Tables = slices.Sorted(maps.Keys(inverse))
	}
	return r
}

// Passed returns an Until function: true once every change committed on
// the source before since is applied, whether or not newer ones are
// pending (for a source that keeps taking writes, where Drained may never
// see an empty capture).
func Passed(since time.Time) func(Progress) bool {
	return func(p Progress) bool {
		return !p.Lag.Through.IsZero() && !p.Lag.Through.Before(since)
	}
}
