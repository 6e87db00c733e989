package workflows

import (
	"fmt"
	"math"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
)

const (
	changeLag = "replication-lag"
	// lagV1: a replicate phase's lag is recorded in the report and upserted
	// as ReplicationLag; a gate with requireLag keeps that replication
	// running, in bounded activities, while it waits, and its approval is
	// refused while the lag is above the limit.
	lagV1 = 1

	changeReverseLag = "reverse-lag"
	// reverseLagV1: after a cut-over completes, its reverse replication
	// (new → legacy, config.Reverser) runs in the background and records
	// its lag, until a phase that uses the capture, a decommission, a
	// rollback or the run's end; a requireLag gate after the cut-over
	// measures it.
	reverseLagV1 = 1

	changeReplicationFailing = "replication-failing"
	// replicationFailingV1: a follower's failed attempts are kept in the
	// report (ReplicationFailing: since when, how many, the last error)
	// until one succeeds, so the status does not show the last lag
	// measured as if the replication kept up. Asked at the first failure.
	replicationFailingV1 = 1
)

// How long each bounded replicate activity of a requireLag gate runs: the
// first briefly, so the gate knows the lag within seconds, then longer, so
// a gate waiting a day costs a few thousand activities (continuing as new
// past activitiesPerRun). lagRetry is the pause after a failed one.
const (
	lagFirstRun = 2 * time.Second
	lagRun      = 10 * time.Second
	lagRetry    = 30 * time.Second
)

// FollowActivityPrefix starts the activity ID of every bounded replicate
// activity a follower runs (a requireLag gate's, a background one): they
// run beside the current phase's activity, which `godwit status` shows.
const FollowActivityPrefix = "follow-"

// lagGate is the lag condition of the gate waiting now, and the
// replication that measures it.
type lagGate struct {
	gate  string
	limit time.Duration
	f     *follower
}

// follower is a loop of bounded replicate activities of phase src: for a
// gate with requireLag while it waits, or in the background across
// phases. measured says it has returned a lag since the gate opened; err
// is its last failure, until one succeeds.
type follower struct {
	src      int
	phase    string
	measured bool
	err      string
	// reverse: a cut-over's reverse replication (config.Reverser), which
	// keeps no checkpoint here (r.lagCheckpoint is the forward capture's).
	reverse bool
	// stop cancels the loop and waits for its activity to end.
	stop func()
}

// lagOn reports whether this run records lags (changeLag).
func lagOn(ctx workflow.Context) bool {
	return workflow.GetVersion(ctx, changeLag, workflow.DefaultVersion, lagV1) >= lagV1
}

// reverseLagOn reports whether this run follows reverse replications
// (changeReverseLag). Asked only once a reverse one comes up, so other
// runs record no marker.
func reverseLagOn(ctx workflow.Context) bool {
	return workflow.GetVersion(ctx, changeReverseLag, workflow.DefaultVersion, reverseLagV1) >= reverseLagV1
}

// backgroundAfter says whether phase i's replication goes on in the
// background now that it completed with plan pp (config.Background):
// a cut-over's reverse one since changeReverseLag, and only while a
// later phase remains to run beside it.
func (r *run) backgroundAfter(ctx workflow.Context, i int, pp config.PhasePlan) bool {
	switch {
	case !pp.Background:
		return false
	case pp.Reverse:
		// Nothing to keep legacy current for when the run ends now, or
		// when the next phase, with no gate before it, would stop it.
		next := i + 1
		if next >= len(r.spec.Phases) || (r.spec.Phases[next].Approval == nil && r.usesCapture(i, true, next)) {
			return false
		}
		return reverseLagOn(ctx)
	}
	return lagOn(ctx)
}

// lagSource is config.LagSource for the gate before phase i (on the plan
// since changePlans); a run from before changeReverseLag passes over the
// cut-overs it did not follow.
func (r *run) lagSource(ctx workflow.Context, i int) int {
	before := func(i int) int {
		if r.plan != nil {
			return r.plan.LagSource(i)
		}
		return config.LagSource(r.spec.Phases, i)
	}
	src := before(i)
	for src >= 0 && r.followsReverse(src) && !reverseLagOn(ctx) {
		src = before(src)
	}
	return src
}

// followsReverse says whether phase src's replication is a reverse one
// (config.Reverser), from the plan since changePlans.
func (r *run) followsReverse(src int) bool {
	if r.plan != nil {
		return r.plan.Phases[src].Reverse
	}
	return config.FollowsReverse(r.spec.Phases[src].Driver)
}

// recordLag keeps a replicate phase's lag in the report and upserts the
// search attribute when its value (to a tenth of a second) changed.
func (r *run) recordLag(ctx workflow.Context, phase string, lag *migration.ReplicationLag) {
	l := *lag
	l.Phase = phase
	if l.Measured.IsZero() {
		l.Measured = workflow.Now(ctx)
	}
	r.report.Replication = &l
	// Set only since changeReplicationFailing: a lag measured after the
	// failures is the current state again.
	r.report.ReplicationFailing = nil
	rounded := math.Round(l.Seconds*10) / 10
	if r.publishedLag != nil && *r.publishedLag == rounded {
		return
	}
	r.publishedLag = &rounded
	if err := workflow.UpsertTypedSearchAttributes(ctx, SearchAttrLag.ValueSet(rounded)); err != nil {
		r.logger.Warn("upsert search attribute", "name", SearchAttrLag.GetName(), "error", err)
	}
}

// unpublishLag unsets the ReplicationLag search attribute of a run that
// ends, since changeEndedLag: its report keeps the last lag measured (the
// status says when), but nothing replicates any more. A run continued as
// new has not published one itself but carries the report of a run that
// did (the attribute is carried over with it).
func (r *run) unpublishLag(ctx workflow.Context) {
	if r.publishedLag == nil && r.report.Replication == nil || workflow.GetVersion(ctx, changeEndedLag, workflow.DefaultVersion, endedLagV1) < endedLagV1 {
		return
	}
	r.publishedLag = nil
	if err := workflow.UpsertTypedSearchAttributes(ctx, SearchAttrLag.ValueUnset()); err != nil {
		r.logger.Warn("unset search attribute", "name", SearchAttrLag.GetName(), "error", err)
	}
}

// followWhileWaiting starts, for the gate before phase i and its lag
// condition, the replication of the latest earlier catchUp phase, unless
// it already runs in the background; the approval's validator compares
// its lag with the limit. The returned function ends what it started.
func (r *run) followWhileWaiting(ctx workflow.Context, i int, a *config.Approval) func() {
	src := r.lagSource(ctx, i)
	if src < 0 {
		return func() {} // the spec's check refuses this
	}
	f, own := r.bg, false
	if f == nil || f.src != src {
		f, own = r.startFollower(ctx, src, "keep up while gate "+a.Gate+" waits"), true
	}
	f.measured = false
	r.lagGate = &lagGate{gate: a.Gate, limit: a.RequireLag.D(), f: f}
	return func() {
		if own {
			f.stop()
		}
		r.lagGate = nil
	}
}

// startFollower starts a loop of bounded replicate activities of phase
// src: each applies changes for a few seconds and returns the lag, kept in
// the report and the search attribute. Past activitiesPerRun the loop ends
// and sets gateBreak, so a waiting gate continues as new. stop cancels it
// and waits for its activity to end, so no replication holds the capture
// when the next phase or a compensation starts.
func (r *run) startFollower(ctx workflow.Context, src int, what string) *follower {
	f := &follower{src: src, phase: r.spec.Phases[src].Name, reverse: r.followsReverse(src)}
	lctx, cancel := workflow.WithCancel(ctx)
	done := false
	workflow.Go(lctx, func(g workflow.Context) {
		defer func() { done = true }()
		runFor := lagFirstRun
		for g.Err() == nil {
			if err := workflow.Await(g, func() bool { return !r.paused }); err != nil {
				return
			}
			if r.nearBudget(g) {
				r.gateBreak = true
				return
			}
			res, err := r.followOnce(g, f, what, runFor)
			switch {
			case g.Err() != nil:
				return
			case err != nil:
				f.err = errorMessage(err)
				if workflow.GetVersion(g, changeReplicationFailing, workflow.DefaultVersion, replicationFailingV1) >= replicationFailingV1 {
					r.report.NoteReplicationFailure(workflow.Now(g), f.phase, f.err)
				}
				r.addIssue(g, f.phase, migration.SeverityWarning,
					fmt.Sprintf("replication (%s) failed, tried again in %s: %s", what, lagRetry, f.err))
				r.publish(g)
				_ = workflow.Sleep(g, lagRetry)
			case res.Lag != nil:
				f.err, f.measured = "", true
				if !f.reverse {
					r.lagCheckpoint = res.Checkpoint
				}
				r.recordLag(g, f.phase, res.Lag)
				r.publish(g)
				runFor = lagRun
			}
		}
	})
	f.stop = func() {
		cancel()
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		_ = workflow.Await(dctx, func() bool { return done })
	}
	return f
}

// startBackground starts phase src's replication in the background, once
// the phase is done (its section asks for it: config.Background); one
// running before is stopped first.
func (r *run) startBackground(ctx workflow.Context, src int) {
	r.stopBackground()
	what := "keep up in the background"
	if r.followsReverse(src) {
		what = "reverse replication in the background, keeping legacy current"
	}
	r.bg = r.startFollower(ctx, src, what)
	r.logger.Info("replication goes on in the background", "phase", r.bg.phase)
}

// stopBackground stops the background replication, if any.
func (r *run) stopBackground() {
	if r.bg == nil {
		return
	}
	r.bg.stop()
	r.logger.Info("background replication stopped", "phase", r.bg.phase)
	r.bg = nil
}

// needsCapture reports whether phase i uses the capture the background
// replication follows, so that replication must stop before it starts.
// A reverse replication also stops before a decommission: past it there
// is no rollback to keep legacy current for, and a retire may take legacy
// away.
func (r *run) needsCapture(i int) bool {
	return r.bg != nil && r.usesCapture(r.bg.src, r.bg.reverse, i)
}

// usesCapture reports whether phase i uses the capture phase src's
// replication follows (reverse: a cut-over's reverse replication).
func (r *run) usesCapture(src int, reverse bool, i int) bool {
	if reverse && r.spec.Phases[i].Phase.PointOfNoReturn() {
		return true
	}
	if r.plan != nil {
		cs := r.plan.Phases[i].CaptureSource
		return cs != "" && cs == r.plan.Phases[src].CaptureSource
	}
	u, ok := r.spec.Phases[i].Driver.(config.CaptureUser)
	bgu, bgok := r.spec.Phases[src].Driver.(config.CaptureUser)
	return ok && bgok && u.CaptureSource() == bgu.CaptureSource()
}

// followOnce runs f's replication bounded to runFor.
func (r *run) followOnce(ctx workflow.Context, f *follower, what string, runFor time.Duration) (activities.PhaseResult, error) {
	var res activities.PhaseResult
	in, err := r.followInput(f.src, runFor)
	if err != nil {
		return res, err
	}
	spec := in.Phase
	opts := activityOptions(spec)
	opts.Summary = spec.Name + ": " + what
	r.activities++
	r.follows++
	// Told apart from the current phase's activity by `godwit status`.
	opts.ActivityID = fmt.Sprintf("%s%d", FollowActivityPrefix, r.follows)
	if !f.reverse {
		// The forward capture's position: a reverse one keeps its own.
		in.Resume = r.lagCheckpoint
	}
	err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), activities.RunPhaseName, in).Get(ctx, &res)
	return res, err
}

// check is the approval's lag condition: nil when the lag last
// measured while the gate waits is at or under the limit.
func (lg *lagGate) check(rep *migration.Report, now time.Time) error {
	l := rep.Replication
	if !lg.f.measured || l == nil || l.Phase != lg.f.phase {
		msg := fmt.Sprintf("gate %s requires the replication lag at or under %s, and phase %s has not measured it since the gate opened "+
			"(it runs while the gate waits and reports within seconds): try again shortly", lg.gate, config.Duration(lg.limit), lg.f.phase)
		if lg.f.err != "" {
			msg += "; its last attempt failed: " + lg.f.err
		}
		return fmt.Errorf("%s", msg)
	}
	if l.Duration() > lg.limit {
		return fmt.Errorf("gate %s requires the replication lag at or under %s, but phase %s measured %s (%s behind) %s ago; "+
			"it keeps applying changes while the gate waits: try again once it has caught up (godwit status shows the lag)",
			lg.gate, config.Duration(lg.limit), lg.f.phase, l.Duration().Round(10*time.Millisecond), migration.Count(int(l.Changes), "change"),
			max(0, now.Sub(l.Measured)).Round(time.Second))
	}
	return nil
}
