package cutover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/cdc"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/drivers/replicate"
	"github.com/godwit/godwit/drivers/stores"
	"github.com/godwit/godwit/gateway/api"
	"github.com/godwit/godwit/gateway/client"
	"github.com/godwit/godwit/migration"
)

// Error types of the driver's failures (temporal.ApplicationError types).
const (
	// ErrTypeCatchUpTimeout: the target did not catch up within the
	// timeout; the switch was cancelled (writes released to legacy,
	// weights unchanged). Retryable: the lag may be lower on the next
	// attempt, and each attempt holds writes for at most the timeout; once
	// the phase's retries are spent the migration rolls back.
	ErrTypeCatchUpTimeout = "CutoverCatchUpTimeout"
	// ErrTypeGatewayRefused: the gateway refused a call for good (unknown
	// route, bad token). Not retryable.
	ErrTypeGatewayRefused = activities.ErrTypeGatewayRefused
)

// ErrCatchUpTimeout is wrapped by the error of a cut-over cancelled
// because the catch-up did not finish within the timeout.
var ErrCatchUpTimeout = errors.New("catch-up did not finish within the timeout")

// Driver runs cutover phases.
type Driver struct {
	activities.Driver
	Logger hclog.Logger
	// LagEvery is how often the catch-up measures the lag (default 100ms:
	// writes are held while it runs, so it checks often).
	LagEvery time.Duration
	// DrainEvery is how often the gateway is asked whether writes are
	// still in flight (default 50ms).
	DrainEvery time.Duration
	// HTTPClient carries the admin API calls; nil: the client's default.
	HTTPClient *http.Client
}

// New returns the cutover driver.
func New(logger hclog.Logger) *Driver {
	d := &Driver{Logger: logger.Named(Key), LagEvery: 100 * time.Millisecond, DrainEvery: 50 * time.Millisecond}
	d.Driver = activities.Adapt(logger, activities.Phase[*Spec]{Key: Key, Run: d.do, Compensate: d.do, Preflight: d.preflight,
		Ready: func(s *Spec) bool { return s.Stores != nil }, Errors: errorKinds})
	return d
}

// errorKinds: the gateway's permanent refusals and the captures' and
// stores' permanent errors are not retried; everything else (network,
// 5xx, a lost connection) is.
var errorKinds = append([]activities.ErrorKind{
	{Is: client.IsPermanent, Type: ErrTypeGatewayRefused},
	{Is: cdc.IsPermanent, Type: activities.ErrTypeConfig},
}, stores.Errors...)

// checkpoint is what the heartbeat carries: once the weights are set, a
// retry only releases the writes (it must not hold them again to catch up
// a capture that new's writes no longer feed).
type checkpoint struct {
	Switched bool `json:"switched"`
}

// do runs the cut-over, or (compensation) moves the route back to legacy
// with every write made on new.
func (d *Driver) do(ctx context.Context, c *activities.Call[*Spec]) (activities.PhaseResult, error) {
	s, in, resume, beat := c.Spec, c.In, c.Resume, c.Beat
	log := c.Log.With("route", s.Route)
	if c.Action == activities.ActionRun && s.RunFor > 0 {
		return d.followReverse(ctx, log, s, in.Migration, beat)
	}
	gw, err := d.client(s)
	if err != nil {
		return activities.PhaseResult{}, activities.ConfigError(err)
	}
	o, closeAll, err := d.open(ctx, s, in.Migration, log)
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("cut-over of %s: %w", s.Route, err)
	}
	defer closeAll()
	if c.Action == activities.ActionCompensate {
		return d.compensate(ctx, log, gw, s, o, beat)
	}
	var cp checkpoint
	if resume.Checkpoint != "" {
		_ = json.Unmarshal([]byte(resume.Checkpoint), &cp) // unreadable: start over, which is safe
	}
	if cp.Switched {
		// The reverse capture was set up before the weights moved; make
		// sure of it before new takes writes.
		if _, err := cdc.Setup(ctx, o.reverse.Options); err != nil {
			return activities.PhaseResult{}, fmt.Errorf("set up reverse replication on %s: %w", s.To, err)
		}
		if _, err := gw.ReleaseWrites(ctx, s.Route); err != nil {
			return activities.PhaseResult{}, fmt.Errorf("cut-over: %w", err)
		}
		out := activities.PhaseResult{Summary: fmt.Sprintf("route %s: writes moved to new by an earlier attempt; writes released", s.Route)}
		return retryForeignKeys(ctx, log, s, in.Owner(), o, out)
	}
	out, err := d.switchWrites(ctx, log, gw, s, o, beat)
	if err != nil {
		return out, err
	}
	return retryForeignKeys(ctx, log, s, in.Owner(), o, out)
}

// switchWrites sets up the reverse capture on new, then moves the route's
// writes to new with the forward capture drained. A switch cancelled
// before the weights moved removes the reverse capture again (a failed
// phase gets no compensation); once the weights may have moved it stays,
// so that every write new took is captured.
func (d *Driver) switchWrites(ctx context.Context, log hclog.Logger, gw *client.Replicas, s *Spec, o pair, beat func(activities.Heartbeat)) (activities.PhaseResult, error) {
	var setup cdc.SetupResult
	m, err := d.move(ctx, log, gw, s, o.forward, moveTo{read: 100, write: 100, from: "legacy", to: "new", what: "cut-over",
		// Before writes can reach new: every write new takes is
		// captured. New takes only the forward stream's writes until the
		// weights move, which the capture skips (their origin), so it is
		// set up before the hold: creating a changelog and triggers per
		// table (or a slot) takes seconds that clients' writes would
		// otherwise wait.
		ready: func(ctx context.Context) error {
			var err error
			setup, err = cdc.Setup(ctx, o.reverse.Options)
			if err != nil {
				return fmt.Errorf("set up reverse replication on %s: %w", s.To, err)
			}
			return nil
		},
		switched: func() {
			cp, _ := json.Marshal(checkpoint{Switched: true})
			beat(activities.Heartbeat{Percent: 100, Checkpoint: string(cp), Detail: fmt.Sprintf("route %s: weights 100/100; releasing writes", s.Route)})
		}}, beat)
	if err != nil {
		if !m.weightsTried {
			d.dropReverse(ctx, log, o)
		}
		return activities.PhaseResult{}, err
	}
	log.Info("writes cut over to new", "held", m.held, "applied", m.applied, "reverse", setup.Method)
	return activities.PhaseResult{
		Records: m.early + m.applied,
		Summary: m.cutOverSummary(s.Route, setup.Method),
		Outputs: map[string]string{"heldFor": m.held.String(), "reverseCapture": o.reverse.Name},
	}, nil
}

// retryForeignKeys adds the foreign keys the copy left off because a
// child row had arrived before its parent: the forward capture is
// drained, so every parent the source has is on new. It runs once the
// writes are released (validating a key over a large table must not hold
// them), which is as safe: a key added on PostgreSQL (NOT VALID, then
// VALIDATE) or MySQL/MariaDB holds for every write from then on, and the
// rows before it are checked. A key still violated is reported, with its
// orphan rows, in the summary.
//
// owner is the run's (activities.PhaseInput.Owner): the copy recorded the
// keys under it.
func retryForeignKeys(ctx context.Context, log hclog.Logger, s *Spec, owner string, o pair, out activities.PhaseResult) (activities.PhaseResult, error) {
	fks, err := datastore.RetryPendingForeignKeys(ctx, o.forward.Target, owner)
	if err != nil {
		return out, fmt.Errorf("cut-over of %s: foreign keys left off by the copy into %s: %w", s.Route, s.To, err)
	}
	for _, f := range fks.Failed {
		log.Warn("foreign key still not carried", "note", f)
		out.Warnings = append(out.Warnings, "foreign key still NOT carried to "+s.To+": "+f)
	}
	if sum := fks.Summary(); sum != "" {
		out.Summary += "; " + sum
	}
	return out, nil
}

// dropReverse removes the reverse capture of a switch that did not happen.
func (d *Driver) dropReverse(ctx context.Context, log hclog.Logger, o pair) {
	// Bounded: a lock on new can hold the drop, and the phase's error
	// should not wait for it.
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if dropped, err := cdc.Teardown(tctx, o.reverse.Options); err != nil {
		log.Warn("could not remove the reverse capture of a cancelled cut-over; the replicate setup phase's compensation removes it", "capture", o.reverse.Name, "error", err)
	} else if len(dropped) > 0 {
		log.Info("removed the reverse capture of a cancelled cut-over", "dropped", dropped)
	}
}

// moveTo is where a move sends the route, and the words for it.
type moveTo struct {
	read, write int
	from, to    string // the sides, "legacy" and "new"
	what        string // "cut-over" or "rollback"
	// ready, if set, runs after the catch-up before the hold, while
	// writes still go to the side being left (the cut-over sets the
	// reverse capture up there).
	ready    func(ctx context.Context) error
	switched func() // called once the weights are set
}

// moved says how a move went.
type moved struct {
	before api.RouteStatus
	held   time.Duration
	// early is what the catch-up before the hold applied, applied what
	// the one with writes held did.
	early, applied int64
	weightsTried   bool // the weights may have changed
}

// cutOverSummary is a cut-over's summary: the move, the changes applied
// and the reverse replication set up by method.
func (m moved) cutOverSummary(route string, method cdc.Method) string {
	return fmt.Sprintf("route %s cut over to new (read and write weights 100, were %d/%d): writes held for %s, %s applied in the catch-up (%d before the hold); reverse replication new → legacy set up (%s)",
		route, m.before.Weights.Read, m.before.Weights.Write, m.held, stores.HumanCount(m.early+m.applied, "change"), m.early, method)
}

// backOnLegacySummary is a cut-over rollback's summary: the move back, the
// changes made on new applied to legacy, the reverse capture's objects
// removed from store.
func (m moved) backOnLegacySummary(route, store string, dropped int) string {
	return fmt.Sprintf("route %s back on legacy (weights 0/0, were %d/%d): writes held for %s, %s made on new applied to legacy (%d before the hold, %d while writes were held); reverse capture removed from %s (%s)",
		route, m.before.Weights.Read, m.before.Weights.Write, m.held, stores.HumanCount(m.early+m.applied, "change"), m.early, m.applied, store, migration.Count(dropped, "object"))
}

// maxEarlyPasses bounds the catch-up passes before the hold.
const maxEarlyPasses = 10

// catchUpBeforeHold applies the capture's backlog while writes still go
// on, so that the hold covers only what is written meanwhile: a rollback
// after hours on new finds hours of reverse changes, and a cut-over after
// a long gate the forward changes since the last replicate phase. Each
// pass drains the changes committed before it started, within the move's
// timeout; it stops once a pass takes less than half the timeout (what is
// left fits in the hold), or after a pass that applied nothing in the
// whole timeout (a stuck target: the held catch-up then fails as it
// should, and releases the writes).
func (d *Driver) catchUpBeforeHold(ctx context.Context, s *Spec, capture cdc.RunOptions, to moveTo, timeout time.Duration, beat func(activities.Heartbeat)) (int64, error) {
	var total int64
	for pass := 1; pass <= maxEarlyPasses; pass++ {
		start := time.Now()
		pctx, cancel := context.WithTimeout(ctx, timeout)
		capture.Until = cdc.Drained(start)
		var applied int64
		_, err := cdc.Run(pctx, capture, cdc.Checkpoint{}, func(p cdc.Progress) {
			applied = p.AppliedThisRun
			beat(activities.Heartbeat{Records: total + applied, Detail: fmt.Sprintf("route %s (%s): catching up %s before holding writes (pass %d): %s behind, %d applied",
				s.Route, to.what, to.to, pass, stores.HumanCount(p.Lag.Changes, "change"), total+applied)})
		})
		timedOut := pctx.Err() != nil
		cancel()
		total += applied
		switch {
		case ctx.Err() != nil:
			return total, ctx.Err()
		case err != nil && !timedOut:
			return total, fmt.Errorf("catch-up before the %s of %s: %w", to.what, s.Route, err)
		case err == nil && time.Since(start) < timeout/2, applied == 0:
			return total, nil
		}
	}
	return total, nil
}

// move is a switch of the route without losing a write, either way:
//
//  0. catch up while writes still go on (catchUpBeforeHold);
//  1. hold the route's writes at the gateway (they wait there);
//  2. wait until the writes already past the hold have finished;
//  3. drain the capture of the side being left (cdc.Run until lag 0);
//  4. set the weights;
//  5. release the writes: they go on to the other side.
//
// Steps 2 and 3 share the timeout; past it the move is cancelled: writes
// released to the side being left, weights unchanged, a retryable
// ErrTypeCatchUpTimeout.
func (d *Driver) move(ctx context.Context, log hclog.Logger, gw *client.Replicas, s *Spec, capture cdc.RunOptions, to moveTo, beat func(activities.Heartbeat)) (moved, error) {
	var m moved
	timeout := s.Timeout.D()
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	var err error
	if m.before, err = gw.Route(ctx, s.Route); err != nil {
		return m, fmt.Errorf("cut-over: %w", err)
	}
	if m.early, err = d.catchUpBeforeHold(ctx, s, capture, to, timeout, beat); err != nil {
		return m, err
	}
	if to.ready != nil {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		err = to.ready(rctx)
		cancel()
		switch {
		case err != nil && ctx.Err() != nil:
			return m, ctx.Err()
		case err != nil:
			return m, fmt.Errorf("%s of %s, before holding writes: %w", to.what, s.Route, err)
		}
	}
	// Introspected before the hold; their sequences are moved inside it.
	keyed, err := sequenced(ctx, capture)
	if err != nil {
		return m, fmt.Errorf("%s of %s, before holding writes: %w", to.what, s.Route, err)
	}
	released := false
	release := func() error {
		if released {
			return nil
		}
		// Writes must go on even when ctx is cancelled (pause, rollback).
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		_, err := gw.ReleaseWrites(rctx, s.Route)
		released = err == nil
		return err
	}
	// The hold releases itself if this worker dies: the timeout, plus time
	// to set the weights and release.
	if _, err := gw.HoldWrites(ctx, s.Route, timeout+30*time.Second); err != nil {
		// The replicas that took the hold while another did not answer
		// release it now: left held, every write through them (a load
		// balancer sends them all there meanwhile) would wait and get 503
		// for the hold's whole TTL.
		if relErr := release(); relErr != nil {
			log.Warn("hold not acknowledged by every replica; releasing the others failed too, the gateway releases them at the hold's end",
				"error", relErr)
		}
		return m, fmt.Errorf("cut-over: %w", err)
	}
	heldAt := time.Now()
	defer func() {
		if err := release(); err != nil {
			log.Error("could not release the route's writes; the gateway releases them at the hold's end", "error", err)
		}
	}()
	beat(activities.Heartbeat{Detail: fmt.Sprintf("route %s (%s): writes held; waiting for writes in flight, then catching up %s (at most %s)", s.Route, to.what, to.to, timeout)})

	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var final cdc.Progress
	err = gw.WaitWritesDrained(cctx, s.Route, d.DrainEvery)
	if err == nil {
		// Every write the side being left will see is committed now:
		// drain up to this moment.
		capture.Until = cdc.Drained(time.Now())
		_, err = cdc.Run(cctx, capture, cdc.Checkpoint{}, func(p cdc.Progress) {
			final = p
			beat(activities.Heartbeat{Records: p.AppliedThisRun, Detail: fmt.Sprintf("route %s (%s): writes held for %s; catching up %s: %s behind, %d applied",
				s.Route, to.what, time.Since(heldAt).Round(time.Millisecond), to.to, stores.HumanCount(p.Lag.Changes, "change"), p.AppliedThisRun)})
		})
	}
	if err == nil {
		// The rows replication inserted carry their keys, which a
		// PostgreSQL sequence does not see: the side taking the writes
		// must hand out keys past them.
		err = syncSequences(cctx, capture.Target, keyed)
	}
	m.applied = final.AppliedThisRun
	if err != nil {
		relErr := release()
		m.held = time.Since(heldAt).Round(time.Millisecond)
		switch {
		case ctx.Err() != nil:
			return m, ctx.Err()
		case cctx.Err() != nil:
			behind := "lag not measured yet"
			if !final.Lag.Measured.IsZero() {
				behind = stores.HumanCount(final.Lag.Changes, "change") + " still behind"
			}
			msg := fmt.Sprintf("%s of route %s cancelled: %v (%s; %s): writes released to %s after %s, weights left at read %d, write %d",
				to.what, s.Route, ErrCatchUpTimeout, timeout, behind, to.from, m.held, m.before.Weights.Read, m.before.Weights.Write)
			if relErr != nil {
				msg += fmt.Sprintf("; releasing writes failed (the gateway releases them by itself within %s): %v", timeout+30*time.Second, relErr)
			}
			log.Warn(to.what+" cancelled: catch-up too slow", "timeout", timeout, "behind", final.Lag.Changes)
			return m, temporal.NewApplicationErrorWithCause(msg, ErrTypeCatchUpTimeout, fmt.Errorf("%w: %v", ErrCatchUpTimeout, err))
		case errors.As(err, new(*client.Error)):
			return m, fmt.Errorf("cut-over: %w", err)
		}
		return m, fmt.Errorf("catch-up before the %s of %s: %w", to.what, s.Route, err)
	}
	m.weightsTried = true
	if _, err := gw.SetWeights(ctx, s.Route, to.read, to.write); err != nil {
		// The weights did not change (or the call's answer was lost and a
		// retry sets them again): writes go back to where they were.
		return m, fmt.Errorf("cut-over: %w", err)
	}
	if to.switched != nil {
		to.switched()
	}
	if err := release(); err != nil {
		return m, fmt.Errorf("cut-over: %w", err)
	}
	m.held = time.Since(heldAt).Round(time.Millisecond)
	return m, nil
}

// compensate moves the route back to legacy. With reverse replication set
// up (the cut-over completed), writes are held, the reverse capture is
// drained to legacy, and only then the weights move back: every write made
// on new is on legacy. If the drain does not finish within the timeout,
// the compensation fails (retryable) with writes released to new: never a
// switch back with changes missing. Then the reverse capture is removed.
func (d *Driver) compensate(ctx context.Context, log hclog.Logger, gw *client.Replicas, s *Spec, o pair, beat func(activities.Heartbeat)) (activities.PhaseResult, error) {
	objs, err := cdc.Objects(ctx, o.reverse.Source, o.reverse.Name)
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("look for the reverse capture on %s: %w", s.To, err)
	}
	if len(objs) == 0 {
		// No reverse capture: the cut-over never let writes reach new.
		if _, err := gw.SetWeights(ctx, s.Route, 0, 0); err != nil {
			return activities.PhaseResult{}, fmt.Errorf("cut-over: %w", err)
		}
		if _, err := gw.ReleaseWrites(ctx, s.Route); err != nil {
			return activities.PhaseResult{}, fmt.Errorf("cut-over: %w", err)
		}
		log.Info("route moved back to legacy; no reverse capture to drain")
		return activities.PhaseResult{Summary: fmt.Sprintf("route %s back on legacy (weights 0/0), writes released; no reverse replication was set up, so new took no writes", s.Route)}, nil
	}
	m, err := d.move(ctx, log, gw, s, o.reverse, moveTo{read: 0, write: 0, from: "new", to: "legacy", what: "rollback"}, beat)
	if err != nil {
		return activities.PhaseResult{}, err
	}
	dropped, err := cdc.Teardown(ctx, o.reverse.Options)
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("remove the reverse capture from %s: %w", s.To, err)
	}
	log.Info("route moved back to legacy with the writes made on new", "held", m.held, "applied", m.applied, "dropped", dropped)
	return activities.PhaseResult{
		Records: m.early + m.applied,
		Summary: m.backOnLegacySummary(s.Route, s.To, len(dropped)),
		Outputs: map[string]string{"heldFor": m.held.String()},
	}, nil
}

// followReverse applies the reverse capture (new → legacy) for about
// s.RunFor and returns with its lag: the workflow's loop after a completed
// cut-over, so legacy stays current and a rollback's drain is short. It
// starts from the capture's own position (the slot's confirmed one, the
// changelog rows left), never from a checkpoint handed in, which may be
// the forward capture's.
func (d *Driver) followReverse(ctx context.Context, log hclog.Logger, s *Spec, run string, beat func(activities.Heartbeat)) (activities.PhaseResult, error) {
	o, closeAll, err := d.open(ctx, s, run, log)
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("reverse replication of %s: %w", s.Route, err)
	}
	defer closeAll()
	rev := o.reverse
	// The cut-over's fine-grained clock is for a catch-up with writes
	// held; a background loop measures at cdc's pace.
	rev.LagEvery, rev.Wait = 0, 0
	started, runFor := time.Now(), s.RunFor.D()
	rev.Until = func(cdc.Progress) bool { return time.Since(started) >= runFor }
	var last cdc.Progress
	var beaten time.Time
	detail := func(p cdc.Progress) string {
		return fmt.Sprintf("reverse replication %s → %s (%s): lag %s, %s behind\napplied %s in this run, %s changes/s; keeps %s current until a stop, a decommission or a rollback",
			s.To, s.From, p.Checkpoint.Method, p.Lag.Duration().Round(10*time.Millisecond), stores.HumanCount(p.Lag.Changes, "change"),
			stores.HumanCount(p.AppliedThisRun, "change"), stores.Humanize(int64(p.ChangesPerSecond)), s.From)
	}
	final, err := cdc.Run(ctx, rev, cdc.Checkpoint{}, func(p cdc.Progress) {
		last = p
		if time.Since(beaten) >= time.Second {
			beat(activities.Heartbeat{Records: p.AppliedThisRun, Detail: detail(p)})
			beaten = time.Now()
		}
	})
	if err != nil {
		if ctx.Err() != nil {
			return activities.PhaseResult{Records: final.Applied}, ctx.Err()
		}
		return activities.PhaseResult{Records: final.Applied}, fmt.Errorf("reverse replication from %s to %s: %w", s.To, s.From, err)
	}
	lag := &migration.ReplicationLag{Seconds: cdc.EffectiveLag(last).Seconds(), Changes: last.Lag.Changes, Measured: last.Lag.Measured,
		Reverse: true, From: s.To, To: s.From}
	return activities.PhaseResult{
		Records: final.Applied,
		Lag:     lag,
		Summary: fmt.Sprintf("reverse replication %s → %s kept up for %s: lag %s, %s behind; %s applied",
			s.To, s.From, s.RunFor, lag.Duration().Round(10*time.Millisecond), stores.HumanCount(lag.Changes, "change"), stores.HumanCount(final.Applied, "change")),
	}, nil
}

// pair is the replication both ways: forward legacy → new (drained at the
// cut-over) and reverse new → legacy (set up at the cut-over, drained by
// the rollback).
type pair struct {
	forward, reverse cdc.RunOptions
}

// open connects to both stores and resolves the tables.
func (d *Driver) open(ctx context.Context, s *Spec, migration string, log hclog.Logger) (pair, func(), error) {
	var o pair
	dsn := map[string]string{}
	for _, name := range []string{s.From, s.To} {
		v, err := stores.DSN(s.Stores, name)
		if err != nil {
			return o, nil, err
		}
		dsn[name] = v
	}
	from, err := stores.Open(ctx, s.Stores, s.From)
	if err != nil {
		return o, nil, err
	}
	to, err := stores.Open(ctx, s.Stores, s.To)
	if err != nil {
		from.Close()
		return o, nil, err
	}
	closeAll := func() { from.Close(); to.Close() }
	names, err := from.ResolveTables(ctx, s.Tables)
	if err != nil {
		closeAll()
		return o, nil, fmt.Errorf("store %s: %w", s.From, err)
	}
	f := cdc.RunOptions{Target: to, LagEvery: d.LagEvery, Wait: d.LagEvery}
	f.Options = cdc.Options{Source: from, SourceDSN: dsn[s.From], Name: replicate.CaptureName(migration, s.Stores[s.From]), Tables: names, Logger: log}
	// A mapped capture drains through the mapping, and the reverse one
	// applies new's changes to legacy through its inverse.
	if f.Mapped, err = stores.MappedBySource(ctx, from, s.MappingSpec); err != nil {
		closeAll()
		return o, nil, fmt.Errorf("mapping %s on store %s: %w", s.Mapping, s.From, err)
	}
	inverse, err := stores.InverseByTarget(ctx, from, f.Mapped)
	if err != nil {
		closeAll()
		return o, nil, fmt.Errorf("mapping %s: %w", s.Mapping, err)
	}
	o.forward = f
	o.reverse = f.Reversed(replicate.ReverseCaptureName(migration, s.Stores[s.To]), dsn[s.To], inverse)
	return o, closeAll, nil
}

// client returns an admin API client of every replica, with the token
// read on this worker.
func (d *Driver) client(s *Spec) (*client.Replicas, error) {
	token := ""
	if s.Gateway.Token != nil {
		var err error
		if token, err = activities.ResolveSecret(*s.Gateway.Token); err != nil {
			return nil, fmt.Errorf("gateway token: %w", err)
		}
	}
	return client.NewReplicas(s.Gateway.Admin, client.Options{Token: token, HTTPClient: d.HTTPClient})
}

// preflight checks, changing nothing, that the gateway's admin API answers
// and knows the route, that both stores are reachable, the source tables
// exist and are writable (reverse replication applies to them), that the
// reverse capture can be made on new, and that the capture exists on the
// source or an earlier phase sets it up.
func (d *Driver) preflight(ctx context.Context, spec *config.Spec, phase config.PhaseSpec, s *Spec) []string {
	var problems []string
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if gw, err := d.client(s); err != nil {
		problems = append(problems, err.Error())
	} else {
		// Each replica is asked on its own, so a problem names the replica.
		for _, admin := range gw.URLs() {
			if _, err := gw.Each()[admin].Route(ctx, s.Route); err != nil {
				problems = append(problems, explain(s, admin, err))
			}
		}
	}
	plan := stores.Before(spec, phase.Name)
	from, to, more, closeStores := stores.OpenPair(ctx, spec, plan, s.From, s.To)
	defer closeStores()
	problems = append(problems, more...)
	if from != nil {
		names, missing, err := stores.ResolveEach(ctx, from, s.From, s.Tables)
		reversed, more := reverseTables(ctx, s, from, names)
		problems = append(problems, more...)
		problems = append(problems, reverseProblems(ctx, s, from, to, names, reversed)...)
		if err != nil {
			problems = append(problems, stores.Problem(s.From, err))
		}
		problems = append(problems, missing...)
		objs, err := cdc.Objects(ctx, from, replicate.CaptureName(spec.Name, spec.Stores[s.From]))
		switch {
		case err != nil:
			problems = append(problems, stores.Problem(s.From, err))
		case len(objs) == 0 && !setUpEarlier(spec, phase.Name, s.From):
			problems = append(problems, fmt.Sprintf("store %s: no change capture of this migration exists and no earlier replicate phase with mode: setup creates one", s.From))
		}
	}
	return problems
}

// reverseTables are the tables the reverse capture on new captures: the
// legacy tables, or a mapping's target tables; with a mapping, each rule
// with no inverse against legacy's live schema (a dropped NOT NULL column)
// is a problem.
func reverseTables(ctx context.Context, s *Spec, from *datastore.Store, tables []string) ([]string, []string) {
	if s.MappingSpec == nil {
		return tables, nil
	}
	forward, err := stores.MappedBySource(ctx, from, s.MappingSpec)
	if err != nil {
		return nil, []string{fmt.Sprintf("mapping %s on store %s: %v", s.Mapping, s.From, err)}
	}
	var problems []string
	if _, err := stores.InverseByTarget(ctx, from, forward); err != nil {
		problems = append(problems, fmt.Sprintf("cutover sets up reverse replication (new → legacy) through the inverse of mapping %s: %v", s.Mapping, err))
	}
	out := make([]string, 0, len(forward))
	for _, n := range tables {
		if m, ok := forward[n]; ok {
			out = append(out, m.Target)
		}
	}
	return out, problems
}

// reverseProblems checks that reverse replication can run: the capture
// can be made on new (of reversed, its tables there), and this worker's
// user can write legacy's tables.
func reverseProblems(ctx context.Context, s *Spec, from, to *datastore.Store, tables, reversed []string) []string {
	var problems []string
	for _, n := range tables {
		if err := from.CheckWrite(ctx, n); err != nil {
			problems = append(problems, fmt.Sprintf("store %s: the user cannot write table %s, which reverse replication (new → legacy, for a rollback after the cut-over) needs: %v", s.From, n, err))
		}
	}
	if to != nil {
		// Method auto, as cdc.RunOptions.Reversed sets it, mapped or not.
		problems = append(problems, replicate.CaptureProblems(ctx, to, s.To, "", reversed)...)
	}
	return problems
}

// setUpEarlier reports whether a phase before this one sets up a capture
// of store from.
func setUpEarlier(spec *config.Spec, phase, from string) bool {
	for _, p := range spec.Phases {
		if p.Name == phase {
			return false
		}
		if r, ok := p.Driver.(*replicate.Spec); ok && r.From == from && r.Mode == replicate.ModeSetup {
			return true
		}
	}
	return false
}

// explain turns a failed route lookup on the replica at admin into a
// sentence a person can act on.
func explain(s *Spec, admin string, err error) string {
	var ce *client.Error
	if errors.As(err, &ce) {
		switch ce.Status {
		case 0:
			return fmt.Sprintf("the gateway's admin API at %s is not reachable from this worker: %s", admin, ce.Message)
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Sprintf("the gateway at %s refused the admin token (set gateway.token to the gateway's admin token)", admin)
		case http.StatusNotFound:
			return fmt.Sprintf("route %q does not exist on the gateway at %s", s.Route, admin)
		}
	}
	return fmt.Sprintf("gateway at %s: %v", admin, err)
}

// sequenced returns the tables of capture's target whose keys a
// PostgreSQL sequence hands out (serial, identity), introspected; none on
// other engines, whose auto-increment follows the keys written.
func sequenced(ctx context.Context, capture cdc.RunOptions) ([]*datastore.Table, error) {
	if capture.Target == nil || capture.Target.Engine != datastore.Postgres {
		return nil, nil
	}
	var out []*datastore.Table
	for _, name := range capture.Tables {
		if mt, ok := capture.Mapped[name]; ok && mt.Target != "" {
			name = mt.Target
		}
		t, err := capture.Target.Introspect(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("introspect %s: %w", name, err)
		}
		if slices.ContainsFunc(t.Columns, func(c datastore.Column) bool { return c.AutoIncrement }) {
			out = append(out, t)
		}
	}
	return out, nil
}

// syncSequences moves the sequences of tables past their highest keys.
func syncSequences(ctx context.Context, s *datastore.Store, tables []*datastore.Table) error {
	for _, t := range tables {
		if err := datastore.SyncAutoIncrement(ctx, s, t); err != nil {
			return err
		}
	}
	return nil
}
