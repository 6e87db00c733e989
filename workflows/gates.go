package workflows

// The waits people end: a pause between phases, a phase's gate and
// window, a step's gate.

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/notify"
)

// holdWhilePaused keeps the next phase from starting until `resume`.
func (r *run) holdWhilePaused(ctx workflow.Context) *stopCause {
	if stop := r.requested(); stop != nil {
		return stop
	}
	if !r.paused {
		return nil
	}
	held := r.heldPhase(ctx)
	if held != nil {
		held.HoldStarted(workflow.Now(ctx))
	}
	r.setStatus(migration.StatusPaused)
	r.publish(ctx)
	r.logger.Info("paused before phase", "phase", r.currentPhase())
	err := workflow.Await(ctx, func() bool { return !r.paused || r.rollbackReason != "" })
	if held != nil {
		held.HoldEnded(workflow.Now(ctx))
	}
	if err != nil {
		return r.cancelled()
	}
	if stop := r.requested(); stop != nil {
		return stop
	}
	r.setStatus(migration.StatusInProgress)
	r.publish(ctx)
	return nil
}

// pauseWhoOn says whether this run follows changePauseWho. It is asked
// only when a pause comes, so a run never paused records no marker.
func (r *run) pauseWhoOn(ctx workflow.Context) bool {
	if !r.pauseWhoAsked {
		r.pauseWho = workflow.GetVersion(ctx, changePauseWho, workflow.DefaultVersion, pauseWhoV1)
		r.pauseWhoAsked = true
	}
	return r.pauseWho >= pauseWhoV1
}

// heldPhase is the report of the phase a pause is about to hold, when one
// has started and not ended (the pause holds it between its steps, units
// or windows, or stopped its action at a checkpoint), since
// changePauseWho; nil between phases, where no phase's time runs.
func (r *run) heldPhase(ctx workflow.Context) *migration.PhaseReport {
	i := r.report.CurrentIndex
	if i < 0 || i >= len(r.report.Phases) {
		return nil
	}
	pr := &r.report.Phases[i]
	if pr.State != migration.PhaseRunning || pr.StartTime.IsZero() || !pr.EndTime.IsZero() || !r.pauseWhoOn(ctx) {
		return nil
	}
	return pr
}

// pausedBy records who paused the run and why, since changePauseWho.
func (r *run) pausedBy(ctx workflow.Context, by, reason string) {
	if r.pauseWhoOn(ctx) {
		r.report.SetPause(by, reason, workflow.Now(ctx))
	}
}

// awaitPhaseGateAndWindow waits for the phase's gate, then for the spec's
// window, holding while paused after each.
func (r *run) awaitPhaseGateAndWindow(ctx workflow.Context, i int) *stopCause {
	if stop := r.awaitPhaseGate(ctx, i); stop != nil {
		return stop
	}
	if stop := r.holdWhilePaused(ctx); stop != nil {
		return stop
	}
	if stop := r.awaitWindow(ctx, i); stop != nil {
		return stop
	}
	return r.holdWhilePaused(ctx)
}

// gateAfterPlanOn says whether this run follows changeGateAfterPlan. It
// is asked only when a phase it concerns comes up, so a run without one
// records no marker.
func (r *run) gateAfterPlanOn(ctx workflow.Context) bool {
	if !r.gateAfterPlanAsked {
		r.gateAfterPlan = workflow.GetVersion(ctx, changeGateAfterPlan, workflow.DefaultVersion, gateAfterPlanV1)
		r.gateAfterPlanAsked = true
	}
	return r.gateAfterPlan >= gateAfterPlanV1
}

// gateAfterReadOnly says whether phase i's own gate waits inside its
// steps, after the read-only ones (config.PhaseSpec.GateAfterReadOnly).
func (r *run) gateAfterReadOnly(ctx workflow.Context, i int) bool {
	p := r.spec.Phases[i]
	if r.plan != nil {
		return r.plan.Phases[i].GateAfterReadOnly(p.Approval != nil) && r.gateAfterPlanOn(ctx)
	}
	return p.GateAfterReadOnly() && r.gateAfterPlanOn(ctx)
}

// awaitPhaseGate waits for an `approve` of the phase's gate, if it has one.
func (r *run) awaitPhaseGate(ctx workflow.Context, i int) *stopCause {
	gate := r.spec.Phases[i].Approval
	if gate == nil {
		return nil
	}
	stopFollowing := func() {}
	if gate.RequireLag > 0 && lagOn(ctx) {
		stopFollowing = r.followWhileWaiting(ctx, i, gate)
	}
	by, stop := r.awaitGate(ctx, r.spec.Phases[i].Name, gate.Gate, gate.Timeout.D())
	stopFollowing()
	if stop != nil && stop.continueAsNew {
		r.startPhase, r.startStep = i, 0
	}
	if stop == nil {
		r.report.Phases[i].ApprovedBy = by
		r.publish(ctx)
	}
	return stop
}

// awaitGate waits for an `approve` of gate (for ever when timeout is 0)
// and returns who approved it.
func (r *run) awaitGate(ctx workflow.Context, phase, gate string, timeout time.Duration) (string, *stopCause) {
	r.waitingGate = gate
	r.report.WaitingGate = gate
	r.setStatus(migration.StatusWaitingApproval)
	r.publish(ctx)
	r.notify(ctx, notify.Event{Type: notify.GateWaiting, Phase: phase, Gate: gate,
		Message: fmt.Sprintf("migration %s waits at gate %s: godwit approve %s --gate %s", r.spec.Name, gate, r.spec.Name, gate)})
	r.logger.Info("waiting for approval", "gate", gate, "phase", phase)
	since := workflow.Now(ctx)
	defer r.timeGate(ctx, since)
	promotedNow := func() bool {
		i := r.report.CurrentIndex
		return i >= 0 && r.promoted[i] != "" && gate != r.phaseGate(i)
	}
	opened := func() bool { return r.approvals[gate] != "" || r.rollbackReason != "" || promotedNow() || r.gateBreak }
	ok, err := true, error(nil)
	if timeout > 0 {
		ok, err = workflow.AwaitWithTimeout(ctx, timeout, opened)
	} else {
		err = workflow.Await(ctx, opened)
	}
	r.waitingGate, r.report.WaitingGate = "", ""
	switch {
	case err != nil:
		return "", r.cancelled()
	case r.rollbackReason != "":
		return "", r.requested()
	case r.gateBreak && r.approvals[gate] == "":
		// The gate's replication filled this run's history (requireLag):
		// the next run waits at the same gate.
		r.gateBreak = false
		return "", &stopCause{continueAsNew: true}
	case promotedNow() && r.approvals[gate] == "":
		r.logger.Info("step gate skipped: promoted", "gate", gate)
		r.setStatus(migration.StatusInProgress)
		return r.promoted[r.report.CurrentIndex], nil
	case !ok:
		reason := fmt.Sprintf("gate %s was not approved within %s", gate, config.Duration(timeout))
		r.addIssue(ctx, phase, migration.SeverityError, reason)
		return "", &stopCause{reason: reason}
	}
	r.setStatus(r.runningStatus())
	return r.approvals[gate], nil
}

// phaseGate returns the gate before phase i ("" if none).
func (r *run) phaseGate(i int) string {
	if a := r.spec.Phases[i].Approval; a != nil {
		return a.Gate
	}
	return ""
}
