package replicate

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/cdc"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/drivers/stores"
	"github.com/godwit/godwit/mapping"
	"github.com/godwit/godwit/migration"
)

// Driver runs replicate phases.
type Driver struct {
	activities.Driver
	Logger hclog.Logger
	// LagEvery is how often the lag is measured; default cdc's.
	LagEvery time.Duration
	// PendingKeysEvery is how long a bounded run waits, after one of them
	// found a foreign key the copy left off still violated, before a
	// bounded run tries the keys again (default DefaultPendingKeysEvery):
	// each try checks the child table's rows, and a background replication
	// of a busy source runs bounded every few seconds.
	PendingKeysEvery time.Duration

	mu sync.Mutex
	// keysFailed is when a bounded run of a run (its owner key) last found
	// a pending key still violated; kept in memory, so a worker that
	// starts anew tries once at its first bounded run.
	keysFailed map[string]time.Time
}

// DefaultPendingKeysEvery is Driver.PendingKeysEvery's default.
const DefaultPendingKeysEvery = 5 * time.Minute

// pendingKeysDue says whether a bounded run of owner tries the pending
// keys now: not within PendingKeysEvery of a bounded run's failed try.
func (d *Driver) pendingKeysDue(owner string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	failed, ok := d.keysFailed[owner]
	return !ok || time.Since(failed) >= d.pendingKeysEvery()
}

func (d *Driver) pendingKeysEvery() time.Duration {
	if d.PendingKeysEvery == 0 {
		return DefaultPendingKeysEvery
	}
	return d.PendingKeysEvery
}

// pendingKeysTried records a bounded run's try: failed, it holds the next
// tries off; all carried, it forgets the owner. A try also forgets every
// owner whose hold has run out (one that holds nothing back any more): a
// run that ended with a key still violated would otherwise stay in a
// long-lived worker's memory for good.
func (d *Driver) pendingKeysTried(owner string, failed bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	every := d.pendingKeysEvery()
	for o, t := range d.keysFailed {
		if time.Since(t) >= every {
			delete(d.keysFailed, o)
		}
	}
	if !failed {
		delete(d.keysFailed, owner)
		return
	}
	if d.keysFailed == nil {
		d.keysFailed = map[string]time.Time{}
	}
	d.keysFailed[owner] = time.Now()
}

// New returns the replicate driver.
func New(logger hclog.Logger) *Driver {
	d := &Driver{Logger: logger.Named(Key)}
	d.Driver = activities.Adapt(logger, activities.Phase[*Spec]{Key: Key, Run: d.do, Compensate: d.do, Preflight: d.preflight,
		Ready: func(s *Spec) bool { return s.Stores != nil }, Errors: errorKinds})
	return d
}

// CaptureName is the name of a migration's capture of a store: the same
// for every phase of the migration, distinct for another migration or
// another source.
func CaptureName(migration string, st config.StoreSpec) string {
	return cdc.CaptureName(migration, sourceRef(st))
}

// ReverseCaptureName is the name of the capture of the new store that the
// cut-over sets up (reverse replication new → legacy): distinct from any
// forward capture's, of this store or another.
func ReverseCaptureName(migration string, newStore config.StoreSpec) string {
	return cdc.CaptureName(migration, "reverse:"+sourceRef(newStore))
}

func sourceRef(st config.StoreSpec) string {
	switch {
	case st.DSN.FromEnv != "":
		return "env:" + st.DSN.FromEnv
	case st.DSN.FromFile != "":
		return "file:" + st.DSN.FromFile
	}
	return ""
}

// do sets the capture up, applies changes until caught up, or drains and
// stops; the compensation (setup's) removes the capture.
func (d *Driver) do(ctx context.Context, c *activities.Call[*Spec]) (activities.PhaseResult, error) {
	s, action, in, resume := c.Spec, c.Action, c.In, c.Resume
	compensate := action == activities.ActionCompensate
	if compensate && !s.HasCompensation() {
		// The workflow compensates every phase that completed; the
		// capture is setup's to remove (HasCompensation says why).
		return activities.PhaseResult{Summary: fmt.Sprintf("nothing to undo: a %s has no compensation; the setup phase's compensation removes the capture", s.mode())}, nil
	}
	log := c.Log.With("mode", s.mode())
	o, closeAll, err := d.open(ctx, s, in.Migration, log, compensate, compensate || s.mode() != ModeSetup)
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("replicate: %w", err)
	}
	defer closeAll()
	switch {
	case action == activities.ActionCompensate:
		return d.teardown(ctx, s, in.Migration, o)
	case s.mode() == ModeSetup:
		return d.setup(ctx, s, o.Options)
	}
	return d.follow(ctx, s, in.Migration, in.Owner(), o, resume, c, log)
}

// reverse is the reverse replication a cut-over sets up on the target
// (cdc.RunOptions.Reversed of o, o.Target open). With inverse, through
// the inverse of o's mapping if it has one (to run it; finding or
// removing its objects needs no mapping, and a mapping with no inverse
// has no reverse capture to run).
func (d *Driver) reverse(ctx context.Context, s *Spec, migration string, o cdc.RunOptions, inverse bool) (cdc.RunOptions, error) {
	dsn, err := stores.DSN(s.Stores, s.To)
	if err != nil {
		return o, err
	}
	var inv map[string]mapping.Table
	if inverse {
		if inv, err = stores.InverseByTarget(ctx, o.Source, o.Mapped); err != nil {
			return o, fmt.Errorf("mapping %s: %w", s.Mapping, err)
		}
	}
	return o.Reversed(ReverseCaptureName(migration, s.Stores[s.To]), dsn, inv), nil
}

// open connects to the source (and the target if needed) and resolves the
// tables (a compensation goes on without them: it finds the capture's
// objects by name, and a table may be gone).
func (d *Driver) open(ctx context.Context, s *Spec, migration string, log hclog.Logger, compensate, target bool) (cdc.RunOptions, func(), error) {
	var o cdc.RunOptions
	st := s.Stores[s.From]
	dsn, err := stores.DSN(s.Stores, s.From)
	if err != nil {
		return o, nil, err
	}
	from, err := stores.Open(ctx, s.Stores, s.From)
	if err != nil {
		return o, nil, err
	}
	closers := []func(){func() { from.Close() }}
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	method, _ := cdc.ParseMethod(s.Method)
	o.Options = cdc.Options{Source: from, SourceDSN: dsn, Name: CaptureName(migration, st), Method: method, Logger: log}
	names, err := from.ResolveTables(ctx, s.Tables)
	if err != nil && !compensate {
		closeAll()
		return o, nil, fmt.Errorf("store %s: %w", s.From, err)
	}
	o.Tables = names
	if s.MappingSpec != nil && !compensate {
		if o.Mapped, err = stores.MappedBySource(ctx, from, s.MappingSpec); err != nil {
			closeAll()
			return o, nil, fmt.Errorf("mapping %s on store %s: %w", s.Mapping, s.From, err)
		}
	}
	if target {
		to, err := stores.Open(ctx, s.Stores, s.To)
		if err != nil {
			closeAll()
			return o, nil, err
		}
		closers = append(closers, func() { to.Close() })
		o.Target = to
		if !compensate {
			// Changes applied to their own source would echo forever.
			if err := stores.RefuseSameDatabase(ctx, s.From, from, s.To, to); err != nil {
				closeAll()
				return o, nil, err
			}
		}
	}
	o.BatchChanges = s.BatchChanges
	o.LagEvery = d.LagEvery
	return o, closeAll, nil
}

func (d *Driver) setup(ctx context.Context, s *Spec, o cdc.Options) (activities.PhaseResult, error) {
	res, err := cdc.Setup(ctx, o)
	if err != nil {
		// A half-made capture helps no one and a failed phase has no
		// compensation: remove what this attempt made (nothing depends on
		// it before the copy); a retry starts clean.
		if dropped, terr := cdc.Teardown(context.WithoutCancel(ctx), o); terr != nil {
			d.Logger.Warn("could not remove a half-made capture", "capture", o.Name, "error", terr)
		} else if len(dropped) > 0 {
			d.Logger.Info("removed a half-made capture", "capture", o.Name, "dropped", dropped)
		}
		return activities.PhaseResult{}, fmt.Errorf("set up change capture on %s: %w", s.From, err)
	}
	msg := fmt.Sprintf("change capture %s of %s in %s set up (%s)", o.Name, migration.Count(len(o.Tables), "table"), s.From, res.Method)
	if len(res.Created) > 0 {
		msg += ": created " + countKinds(res.Created)
	} else {
		msg += ": already set up by an earlier attempt"
	}
	return activities.PhaseResult{Records: int64(len(res.Created)), Summary: msg, Output: strings.Join(res.Created, "\n")}, nil
}

// teardown removes the capture and, if a cut-over left one (its phase
// failed after setting it up), the reverse capture on the target: nothing
// of the migration's replication is left in either store.
func (d *Driver) teardown(ctx context.Context, s *Spec, migration string, o cdc.RunOptions) (activities.PhaseResult, error) {
	dropped, err := cdc.Teardown(ctx, o.Options)
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("remove change capture from %s: %w", s.From, err)
	}
	rev, err := d.reverse(ctx, s, migration, o, false)
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("remove reverse capture from %s: %w", s.To, err)
	}
	more, err := cdc.Teardown(ctx, rev.Options)
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("remove reverse capture from %s: %w", s.To, err)
	}
	dropped = append(dropped, more...)
	if len(dropped) == 0 {
		return activities.PhaseResult{Summary: "no change capture object of this migration left in " + s.From}, nil
	}
	return activities.PhaseResult{Records: int64(len(dropped)), Summary: "removed from " + s.From + ": " + countKinds(dropped),
		Output: strings.Join(dropped, "\n")}, nil
}

// follow applies changes until caught up (catchUp) or drained (stop; then
// removes the capture).
// owner is the run's (activities.PhaseInput.Owner), under which the copy
// recorded the foreign keys it left off.
func (d *Driver) follow(ctx context.Context, s *Spec, migration, owner string, o cdc.RunOptions, resume activities.Heartbeat, k activities.Beater, log hclog.Logger) (activities.PhaseResult, error) {
	if s.mode() == ModeStop && resume.Checkpoint != "" {
		// An earlier attempt may have drained and removed the capture,
		// then failed on the reverse one: go on with that.
		objs, err := cdc.Objects(ctx, o.Source, o.Name)
		if err != nil {
			return activities.PhaseResult{}, fmt.Errorf("look for the capture on %s: %w", s.From, err)
		}
		if len(objs) == 0 {
			return d.stopReverse(ctx, s, migration, o, k, activities.PhaseResult{Summary: "capture removed from " + s.From + " by an earlier attempt"})
		}
	}
	var cp cdc.Checkpoint
	if resume.Checkpoint != "" {
		if err := json.Unmarshal([]byte(resume.Checkpoint), &cp); err != nil {
			// Starting over is safe (replay is idempotent), only slower.
			log.Warn("unreadable checkpoint; replaying from the capture's position", "error", err)
			cp = cdc.Checkpoint{}
		}
	}
	maxLag, hold := s.MaxLag.D(), s.HoldFor.D()
	o.Until = cdc.CaughtUp(maxLag, hold)
	if s.mode() == ModeStop {
		// Everything committed before this attempt started: the writes
		// were stopped or moved before the phase began.
		maxLag, hold = 0, 0
		o.Until = cdc.Drained(time.Now())
	}
	bounded := s.RunFor > 0 && s.mode() == ModeCatchUp
	if bounded {
		// The lag of the last measurement after RunFor is the result.
		started, runFor := time.Now(), s.RunFor.D()
		o.Until = func(cdc.Progress) bool { return time.Since(started) >= runFor }
	}
	hb := &beater{k: k, spec: s, maxLag: maxLag, hold: hold, minInterval: time.Second}
	hb.set(cdc.Progress{Checkpoint: cp}, false)
	final, err := cdc.Run(ctx, o, cp, func(p cdc.Progress) { hb.set(p, true) })
	last := hb.stop(final)
	out := activities.PhaseResult{Records: final.Applied}
	if err != nil {
		if ctx.Err() != nil {
			log.Info("replication stopped at its checkpoint", "applied", final.Applied)
			return out, ctx.Err()
		}
		return out, fmt.Errorf("replicate from %s to %s: %w", s.From, s.To, err)
	}
	out.Lag = lagOf(last)
	out.Summary = fmt.Sprintf("caught up: lag %s, %s behind (under %s for %s); %s applied",
		roundLag(last.Lag), stores.HumanCount(last.Lag.Changes, "change"), maxLag, hold, stores.HumanCount(final.Applied, "change"))
	if bounded {
		cp, _ := json.Marshal(final)
		out.Checkpoint = string(cp)
		out.Summary = fmt.Sprintf("kept up for %s: lag %s, %s behind; %s applied",
			s.RunFor, out.Lag.Duration().Round(10*time.Millisecond), stores.HumanCount(last.Lag.Changes, "change"), stores.HumanCount(final.Applied, "change"))
	}
	fkNote := ""
	// A bounded run (in the background, or for a gate) tries them too when
	// it ends caught up and applied something: a parent it brought (one
	// fixed on the source after the first catchUp reported the orphan) lets
	// the key on now rather than at the stop or the cut-over; one that
	// applied nothing would find what the last try found, and one within
	// PendingKeysEvery of a bounded run's failed try waits (each try reads
	// the child table's rows; the stop and the cut-over always try).
	if !bounded || last.Lag.Changes == 0 && final.Applied > cp.Applied && d.pendingKeysDue(owner) {
		// Caught up (or drained): the parents a live copy had not seen
		// are on the target now; add the keys they held off.
		fks, err := datastore.RetryPendingForeignKeys(ctx, o.Target, owner)
		if err != nil {
			return out, fmt.Errorf("replicate: foreign keys left off by the copy into %s: %w", s.To, err)
		}
		if bounded {
			d.pendingKeysTried(owner, len(fks.Failed) > 0)
		}
		for _, f := range fks.Failed {
			if !bounded { // reported once, not at every bounded run
				log.Warn("foreign key still not carried", "note", f)
			}
			out.Warnings = append(out.Warnings, "foreign key still NOT carried to "+s.To+": "+f)
		}
		for _, c := range fks.Carried {
			log.Info("foreign key the copy had left off added", "key", c)
		}
		if sum := fks.Summary(); sum != "" {
			fkNote = "; " + sum
			out.Summary += fkNote
		}
	}
	if s.mode() == ModeStop {
		dropped, err := cdc.Teardown(ctx, o.Options)
		if err != nil {
			return out, fmt.Errorf("remove change capture from %s: %w", s.From, err)
		}
		out.Summary = fmt.Sprintf("drained (%s applied) and removed the capture from %s: %s%s", stores.HumanCount(final.Applied, "change"), s.From, countKinds(dropped), fkNote)
		out.Output = strings.Join(dropped, "\n")
		return d.stopReverse(ctx, s, migration, o, k, out)
	}
	return out, nil
}

// stopReverse ends the reverse replication a cut-over started, if any:
// the changes made on the target up to now are applied to the source
// (which keeps its last state until it is retired), then the reverse
// capture is removed. The point of no return: a rollback can no longer
// bring the writes back.
func (d *Driver) stopReverse(ctx context.Context, s *Spec, migration string, o cdc.RunOptions, k activities.Beater, out activities.PhaseResult) (activities.PhaseResult, error) {
	rev, err := d.reverse(ctx, s, migration, o, false)
	if err != nil {
		return out, fmt.Errorf("stop reverse replication: %w", err)
	}
	objs, err := cdc.Objects(ctx, rev.Source, rev.Name)
	if err != nil {
		return out, fmt.Errorf("look for the reverse capture on %s: %w", s.To, err)
	}
	if len(objs) == 0 {
		return out, nil
	}
	if rev, err = d.reverse(ctx, s, migration, o, true); err != nil {
		return out, fmt.Errorf("stop reverse replication: %w", err)
	}
	// Writes go on on the target: everything before now, not an empty
	// capture.
	rev.Until = cdc.Passed(time.Now())
	swapped := *s
	swapped.From, swapped.To, swapped.Mode = s.To, s.From, ModeStop
	hb := &beater{k: k, spec: &swapped, minInterval: time.Second}
	final, err := cdc.Run(ctx, rev, cdc.Checkpoint{}, func(p cdc.Progress) { hb.set(p, true) })
	hb.stop(final)
	if err != nil {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		return out, fmt.Errorf("reverse replication from %s to %s: %w", s.To, s.From, err)
	}
	dropped, err := cdc.Teardown(ctx, rev.Options)
	if err != nil {
		return out, fmt.Errorf("remove the reverse capture from %s: %w", s.To, err)
	}
	out.Summary += fmt.Sprintf("; reverse replication stopped (%s made on %s applied to %s) and its capture removed from %s: %s",
		stores.HumanCount(final.Applied, "change"), s.To, s.From, s.To, countKinds(dropped))
	out.Output = strings.TrimPrefix(out.Output+"\n"+strings.Join(dropped, "\n"), "\n")
	return out, nil
}

// countKinds sums objects up by kind: "2 tables, 6 triggers" (the
// names go to the phase's output).
func countKinds(objects []string) string {
	counts := map[string]int{}
	var order []string
	for _, o := range objects {
		kind, _, _ := strings.Cut(o, " ")
		if counts[kind] == 0 {
			order = append(order, kind)
		}
		counts[kind]++
	}
	parts := make([]string, len(order))
	for i, k := range order {
		name := k
		if k == "table" {
			name = "changelog table"
		}
		parts[i] = migration.Count(counts[k], name)
	}
	return strings.Join(parts, ", ")
}

// lagOf is the lag a phase returns: the effective lag, as catchUp
// judges it, so a gate's limit means what maxLag means.
func lagOf(p cdc.Progress) *migration.ReplicationLag {
	return &migration.ReplicationLag{Seconds: cdc.EffectiveLag(p).Seconds(), Changes: p.Lag.Changes, Measured: p.Lag.Measured}
}

func roundLag(l cdc.Lag) time.Duration { return l.Duration().Round(10 * time.Millisecond) }

// errorKinds: a captured table that changed shape pauses the migration;
// permanent cdc and datastore errors are ConfigErrors; anything else is
// retried.
var errorKinds = []activities.ErrorKind{
	{Is: activities.IsError(cdc.ErrSchemaDrift), Type: activities.ErrTypeSchemaDrift},
	{Is: cdc.IsPermanent, Type: activities.ErrTypeConfig},
}

// Detail is the replication's state in words for `godwit status`.
func Detail(s *Spec, p cdc.Progress, maxLag, hold time.Duration) string {
	lag := fmt.Sprintf("lag %s, %s behind", roundLag(p.Lag), stores.HumanCount(p.Lag.Changes, "change"))
	if p.Lag.Bytes > 0 {
		lag += fmt.Sprintf(" (%s KiB of WAL)", stores.Humanize(p.Lag.Bytes/1024))
	}
	target := fmt.Sprintf("done once the lag stays under %s for %s", maxLag, hold)
	if s.mode() == ModeStop {
		target = "draining what was written before this phase, then removing the capture"
	}
	method := p.Method
	if method == "" {
		method = p.Checkpoint.Method
	}
	return fmt.Sprintf("%s → %s (%s): %s\napplied %s, %s changes/s in this attempt; %s",
		s.From, s.To, method, lag, stores.HumanCount(p.Checkpoint.Applied, "change"), stores.Humanize(int64(p.ChangesPerSecond)), target)
}

// beater turns the replication's progress into heartbeats: at most one a
// second (each batch reports, and there can be hundreds a second); the
// adapter's keep-alive repeats the latest progress, sent or not, while
// nothing changes.
type beater struct {
	mu          sync.Mutex
	k           activities.Beater
	spec        *Spec
	maxLag      time.Duration
	hold        time.Duration
	last        cdc.Progress
	lastBeat    time.Time
	minInterval time.Duration
}

// set records progress, and sends it if send and the last beat is old
// enough. The keep-alive's lock is taken after b's is released: the two
// never wait on each other.
func (b *beater) set(p cdc.Progress, send bool) {
	b.mu.Lock()
	b.last = p
	hb := b.heartbeat()
	send = send && time.Since(b.lastBeat) >= b.minInterval
	if send {
		b.lastBeat = time.Now()
	}
	b.mu.Unlock()
	if send {
		b.k.Beat(hb)
	} else {
		b.k.Follow(func() activities.Heartbeat { return hb })
	}
}

func (b *beater) heartbeat() activities.Heartbeat {
	cp, _ := json.Marshal(b.last.Checkpoint)
	return activities.Heartbeat{
		Records:    b.last.Checkpoint.Applied,
		Checkpoint: string(cp),
		Detail:     Detail(b.spec, b.last, b.maxLag, b.hold),
	}
}

// stop heartbeats the final checkpoint.
func (b *beater) stop(final cdc.Checkpoint) cdc.Progress {
	b.mu.Lock()
	if final.Method != "" {
		b.last.Checkpoint = final
	}
	hb, last := b.heartbeat(), b.last
	b.mu.Unlock()
	b.k.Beat(hb)
	return last
}
