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

// lagGate is the lag condition of the gate waiting now.
type lagGate struct {
	gate  string
	limit time.Duration
	// phase is the replicate phase whose replication runs while the gate
	// waits; measured says it has returned a lag since the gate opened.
	phase    string
	measured bool
	// err is the last failure of that replication, until one succeeds.
	err string
}

// lagOn reports whether this run records lags (changeLag).
func lagOn(ctx workflow.Context) bool {
	return workflow.GetVersion(ctx, changeLag, workflow.DefaultVersion, lagV1) >= lagV1
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
	rounded := math.Round(l.Seconds*10) / 10
	if r.publishedLag != nil && *r.publishedLag == rounded {
		return
	}
	r.publishedLag = &rounded
	if err := workflow.UpsertTypedSearchAttributes(ctx, SearchAttrLag.ValueSet(rounded)); err != nil {
		r.logger.Warn("upsert search attribute", "name", SearchAttrLag.GetName(), "error", err)
	}
}

// followWhileWaiting starts, for the gate before phase i and its lag
// condition, a loop of bounded replicate activities of the latest earlier
// catchUp phase: each applies changes for a few seconds and returns the
// lag, which the approval's validator compares with the limit. The
// returned function stops the loop and waits for its activity to end (so
// no replication holds the capture when the next phase or a compensation
// starts). Past activitiesPerRun the loop ends and sets gateBreak: the
// gate then continues as new, waiting again in the next run.
func (r *run) followWhileWaiting(ctx workflow.Context, i int, a *config.Approval) func() {
	src := config.LagSource(r.spec.Phases, i)
	if src < 0 {
		return func() {} // the spec's check refuses this
	}
	lg := &lagGate{gate: a.Gate, limit: a.RequireLag.D(), phase: r.spec.Phases[src].Name}
	r.lagGate = lg
	lctx, cancel := workflow.WithCancel(ctx)
	done := false
	workflow.Go(lctx, func(g workflow.Context) {
		defer func() { done = true }()
		runFor := lagFirstRun
		for g.Err() == nil {
			if err := workflow.Await(g, func() bool { return !r.paused }); err != nil {
				return
			}
			if r.activities >= r.activitiesPerRun {
				r.gateBreak = true
				return
			}
			res, err := r.followOnce(g, src, a.Gate, runFor)
			switch {
			case g.Err() != nil:
				return
			case err != nil:
				lg.err = errorMessage(err)
				r.report.AddIssue(workflow.Now(g), r.spec.Phases[src].Name, migration.SeverityWarning,
					fmt.Sprintf("replication for gate %s failed (tried again in %s): %s", a.Gate, lagRetry, lg.err))
				r.publish(g)
				_ = workflow.Sleep(g, lagRetry)
			case res.Lag != nil:
				lg.err, lg.measured = "", true
				r.lagCheckpoint = res.Checkpoint
				r.recordLag(g, lg.phase, res.Lag)
				r.publish(g)
				runFor = lagRun
			}
		}
	})
	return func() {
		cancel()
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		_ = workflow.Await(dctx, func() bool { return done })
		r.lagGate = nil
	}
}

// followOnce runs phase src's replication bounded to runFor.
func (r *run) followOnce(ctx workflow.Context, src int, gate string, runFor time.Duration) (activities.PhaseResult, error) {
	var res activities.PhaseResult
	spec, err := r.spec.Phases[src].Resolve(r.outputs)
	if err != nil {
		return res, err
	}
	f, _ := spec.Driver.(config.LagFollower)
	d, ok := f.FollowFor(runFor)
	if !ok {
		return res, fmt.Errorf("phase %s does not follow a replication", spec.Name)
	}
	spec.Driver = d
	opts := activityOptions(spec)
	opts.Summary = fmt.Sprintf("%s: keep up while gate %s waits", spec.Name, gate)
	r.activities++
	in := activities.PhaseInput{Migration: r.spec.Name, Phase: spec, Resume: r.lagCheckpoint}
	err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), activities.RunPhaseName, in).Get(ctx, &res)
	return res, err
}

// checkLag is the approval's lag condition: nil when the lag last
// measured while the gate waits is at or under the limit.
func (lg *lagGate) check(rep *migration.Report, now time.Time) error {
	l := rep.Replication
	if !lg.measured || l == nil {
		msg := fmt.Sprintf("gate %s requires the replication lag at or under %s, and phase %s has not measured it since the gate opened "+
			"(it runs while the gate waits and reports within seconds): try again shortly", lg.gate, config.Duration(lg.limit), lg.phase)
		if lg.err != "" {
			msg += "; its last attempt failed: " + lg.err
		}
		return fmt.Errorf("%s", msg)
	}
	if l.Duration() > lg.limit {
		return fmt.Errorf("gate %s requires the replication lag at or under %s, but phase %s measured %s (%d changes behind) %s ago; "+
			"it keeps applying changes while the gate waits: try again once it has caught up (godwit status shows the lag)",
			lg.gate, config.Duration(lg.limit), lg.phase, l.Duration().Round(10*time.Millisecond), l.Changes,
			max(0, now.Sub(l.Measured)).Round(time.Second))
	}
	return nil
}
