package workflows

// The phase loop: each phase in order, as one action or a series of
// steps, and what its end (completed, failed, stopped) does to the report.

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/notify"
)

// execute runs the phases in order and returns why it stopped early, or nil
// when every phase completed.
func (r *run) execute(ctx workflow.Context) *stopCause {
	for i := r.startPhase; i < len(r.spec.Phases); i++ {
		r.report.CurrentIndex = i
		r.publish(ctx)
		midPhase := i == r.startPhase && r.startStep > 0
		if (r.bg != nil || r.budgetVersion >= historyBudgetV1) && !midPhase && r.nearBudget(ctx) {
			// The run spent its budget (before historyBudgetV1, only a
			// background replication could spend it between phases).
			r.startPhase, r.startStep = i, 0
			return &stopCause{continueAsNew: true}
		}
		if !midPhase {
			if stop := r.holdWhilePaused(ctx); stop != nil {
				return stop
			}
			if !r.gateAfterReadOnly(ctx, i) {
				if stop := r.awaitPhaseGateAndWindow(ctx, i); stop != nil {
					return stop
				}
			}
		}
		if r.needsCapture(i) {
			r.stopBackground()
		}
		if stop := r.runPhase(ctx, i); stop != nil {
			return stop
		}
	}
	return nil
}

// runPhase runs phase i: its preflight first when it is the first validate
// phase, then its steps or its single action. A rollback requested
// meanwhile interrupts it, unless the phase is past the point of no return.
func (r *run) runPhase(ctx workflow.Context, i int) *stopCause {
	spec := r.spec.Phases[i]
	pr := &r.report.Phases[i]
	if pr.State != migration.PhaseRunning {
		pr.State, pr.StartTime = migration.PhaseRunning, workflow.Now(ctx)
		r.publish(ctx)
		r.notify(ctx, notify.Event{Type: notify.PhaseStarted, Phase: spec.Name,
			Message: fmt.Sprintf("migration %s: phase %s started", r.spec.Name, spec.Name)})
	}
	r.publish(ctx)

	if r.version >= spineV1 && spec.Phase == migration.PhaseValidate && !r.preflightDone {
		if stop := r.preflight(ctx, i); stop != nil {
			return stop
		}
	}
	resolved, pp, err := r.phasePlan(i)
	if err != nil {
		return r.phaseFailed(ctx, i, err.Error(), activities.PhaseResult{})
	}
	if len(pp.Steps) > 0 {
		return r.runSteps(ctx, i, resolved, pp.Steps)
	}
	if pp.FanOut > 0 && r.version >= spineV1 {
		return r.runUnits(ctx, i, resolved, pp.FanOut)
	}
	res, stop := r.runAction(ctx, i, resolved, 0)
	if stop != nil && (stop.stepsAgain || stop.holdForPerson) {
		return r.phaseFailed(ctx, i, stop.reason, zeroResult)
	}
	if stop != nil {
		return stop
	}
	r.phaseCompleted(ctx, i, res)
	if r.backgroundAfter(ctx, i, pp) {
		r.startBackground(ctx, i)
	}
	return r.requested() // a rollback that raced the phase's end
}

// maxStepRestarts bounds how often a phase's steps start again (a plan
// that keeps changing under the gate): then the phase fails.
const maxStepRestarts = 3

// restartSteps prepares phase i's steps to run again from the first: the
// gates among them wait for a new approval, and earlier step outputs are
// forgotten.
func (r *run) restartSteps(ctx workflow.Context, i int, steps []config.Step, reason string) {
	for _, st := range steps {
		if st.Gate != "" {
			delete(r.approvals, st.Gate)
		}
	}
	r.prior[i] = map[string]string{}
	r.stepsDone[i] = 0
	pr := &r.report.Phases[i]
	pr.State, pr.Error = migration.PhaseRunning, ""
	msg := fmt.Sprintf("phase %s starts its steps again: %s", r.spec.Phases[i].Name, reason)
	r.addIssue(ctx, r.spec.Phases[i].Name, migration.SeverityWarning, msg)
	r.logger.Warn("steps start again", "phase", r.spec.Phases[i].Name, "reason", reason)
	r.publish(ctx)
}

// runSteps runs a multi-step phase's steps one by one from where an
// earlier run left off. Pause holds between steps, gates wait for
// approval, and the run continues as new when its history grows long.
//
// Since changeGateAfterPlan, the phase's own gate waits after the
// read-only steps it begins with (late), and a decommission keeps
// BeforeNoReturn while only such steps and gates have run (guarded): a
// rollback is still possible there, and read-only steps register no
// compensation, since they did nothing to undo.
func (r *run) runSteps(ctx workflow.Context, i int, spec config.PhaseSpec, steps []config.Step) (stop *stopCause) {
	pr := &r.report.Phases[i]
	pr.Steps = len(steps)
	first := 0
	if i == r.startPhase {
		first = r.startStep
	}
	late := r.gateAfterReadOnly(ctx, i)
	guarded := spec.Phase.PointOfNoReturn() && r.gateAfterPlanOn(ctx)
	change := config.FirstChange(steps)
	if late || guarded {
		defer func() { r.stoppedBeforeChange(ctx, i, stop) }()
	}
	var last activities.PhaseResult
	restarts := 0
	if r.prior[i] == nil {
		r.prior[i] = map[string]string{}
	}
	for k := first; k < len(steps); k++ {
		st := steps[k]
		pr.Step = fmt.Sprintf("%d of %d: %s", k+1, len(steps), st.Name)
		pr.Progress = 100 * float64(k) / float64(len(steps))
		if guarded {
			pr.BeforeNoReturn = k < change || (late && k == change)
		}
		r.publish(ctx)
		if k > first {
			if stop := r.holdWhilePaused(ctx); stop != nil {
				return stop
			}
		}
		if r.promoted[i] != "" && (st.Gate != "" || st.Wait > 0 || st.Check) {
			r.logger.Info("step skipped: promoted", "phase", spec.Name, "step", st.Name)
			r.stepsDone[i] = k + 1
			continue
		}
		if st.Action && r.nearBudget(ctx) {
			r.startPhase, r.startStep = i, k
			return &stopCause{continueAsNew: true}
		}
		if late && k == change && pr.ApprovedBy == "" {
			pr.Step = fmt.Sprintf("%d of %d: gate %s, then %s", k+1, len(steps), spec.Approval.Gate, st.Name)
			if stop := r.awaitPhaseGateAndWindow(ctx, i); stop != nil {
				if stop.continueAsNew {
					r.startPhase, r.startStep = i, k
				}
				return stop
			}
			pr.Step = fmt.Sprintf("%d of %d: %s", k+1, len(steps), st.Name)
		}
		if guarded && k == change {
			pr.BeforeNoReturn = false
			r.publish(ctx)
		}
		switch {
		case st.Gate != "":
			by, stop := r.awaitGate(ctx, spec.Name, st.Gate, 0)
			if stop != nil && stop.continueAsNew {
				// A background replication spent the budget: the next
				// run waits at this step's gate.
				r.startPhase, r.startStep = i, k
			}
			if stop != nil {
				return stop
			}
			r.logger.Info("step gate approved", "phase", spec.Name, "gate", st.Gate, "by", by)
		case st.Wait > 0:
			if stop := r.waitStep(ctx, i, st); stop != nil {
				return stop
			}
		case st.Action:
			res, stop := r.runAction(ctx, i, spec, k+1)
			if stop != nil && stop.stepsAgain && restarts < maxStepRestarts {
				restarts++
				if late {
					// The phase's gate asks again, with the new plan.
					delete(r.approvals, spec.Approval.Gate)
					pr.ApprovedBy = ""
				}
				r.restartSteps(ctx, i, steps, stop.reason)
				k = -1 // the loop goes on at the first step
				continue
			}
			if stop != nil && stop.stepsAgain {
				return r.phaseFailed(ctx, i, fmt.Sprintf("%s (its steps started again %d times already)", stop.reason, restarts), zeroResult)
			}
			if stop != nil && stop.holdForPerson {
				if stop := r.holdForPerson(ctx, spec.Name, k, stop.reason); stop != nil {
					return stop
				}
				k-- // the same step again (or skipped, if promoted)
				continue
			}
			if stop != nil {
				return stop
			}
			r.actionStepDone(i, st, res, late || guarded)
			last = res
		}
		r.stepsDone[i] = k + 1
		if stop := r.requested(); stop != nil {
			return stop
		}
	}
	last.Records = pr.Records
	last.Outputs = r.prior[i]
	r.phaseCompleted(ctx, i, last)
	return r.requested()
}

// waitStep holds phase i on a step's durable timer; a rollback or a
// promote ends it early.
func (r *run) waitStep(ctx workflow.Context, i int, st config.Step) *stopCause {
	fired, err := workflow.AwaitWithTimeout(ctx, st.Wait, func() bool { return r.rollbackReason != "" || r.promoted[i] != "" })
	switch {
	case err != nil:
		return r.cancelled()
	case fired && r.rollbackReason != "":
		return r.requested()
	}
	return nil
}

// holdForPerson pauses the run at step k of phase for a person's
// decision: resume runs the step again, promote skips it, rollback undoes
// the phase.
func (r *run) holdForPerson(ctx workflow.Context, phase string, k int, reason string) *stopCause {
	r.addIssue(ctx, phase, migration.SeverityWarning,
		fmt.Sprintf("phase %s paused at step %d for a decision: %s; resume to run the step again, promote to go on, or roll back", phase, k+1, reason))
	r.paused, r.report.Paused = true, true
	r.pausedBy(ctx, PausedByGodwit, fmt.Sprintf("phase %s step %d needs a decision: %s", phase, k+1, reason))
	return r.holdWhilePaused(ctx)
}

// actionStepDone records an action step of phase i that succeeded: its
// records, summary and outputs, and the phase's compensation once the
// step may have changed something (a read-only step before a gate that
// guards the change has not).
func (r *run) actionStepDone(i int, st config.Step, res activities.PhaseResult, gated bool) {
	pr := &r.report.Phases[i]
	pr.Records += res.Records
	pr.Attempts = int(res.Attempt)
	pr.Summary = res.Summary
	// Sorted: workflow code must not depend on map iteration order.
	for _, name := range slices.Sorted(maps.Keys(res.Outputs)) {
		r.prior[i][name] = res.Outputs[name]
	}
	if !contains(r.compensations, i) && !(gated && st.ReadOnly) {
		// The phase has had effects: a rollback from here on must undo
		// them, though the phase is not finished.
		r.compensations = append(r.compensations, i)
	}
}

// stoppedBeforeChange records phase i, stopped (by a rollback, a gate's
// timeout) before any of its steps changed anything, as cancelled: it has
// nothing to undo, and must not read as still running.
func (r *run) stoppedBeforeChange(ctx workflow.Context, i int, stop *stopCause) {
	pr := &r.report.Phases[i]
	if stop == nil || stop.continueAsNew || pr.State != migration.PhaseRunning || contains(r.compensations, i) {
		return
	}
	pr.State, pr.EndTime = migration.PhaseCancelled, workflow.Now(ctx)
	pr.Error = "stopped before it changed anything: " + stop.reason
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// runAction runs the phase's action (step 0) or one of its steps as an
// activity. A rollback cancels it (not past the point of no return); a
// pause stops a pausable action at its checkpoint, holds, and then runs it
// again from there.
func (r *run) runAction(ctx workflow.Context, i int, spec config.PhaseSpec, step int) (activities.PhaseResult, *stopCause) {
	pausable := false
	if r.plan != nil {
		pausable = r.plan.Phases[i].Pausable && r.version >= spineV1 && step == 0
	} else if p, ok := spec.Driver.(config.Pausable); ok && r.version >= spineV1 {
		pausable = p.Pausable() && step == 0
	}
	resume := ""
	for {
		in := r.throttledInput(i, spec)
		spec = in.Phase
		throttledTo, throttleSet := r.throttle[i]
		r.activities++
		actCtx, cancel := workflow.WithCancel(ctx)
		opts := activityOptions(spec)
		// The Temporal UI shows this instead of only "RunPhase".
		opts.Summary = spec.Name + ": run"
		if step > 0 {
			opts.Summary = fmt.Sprintf("%s: step %s", spec.Name, r.report.Phases[i].Step)
		}
		actCtx = workflow.WithActivityOptions(actCtx, opts)
		in.Step, in.Resume = step, resume
		if step > 0 && len(r.prior[i]) > 0 {
			in.Prior = r.prior[i]
		}
		fut := workflow.ExecuteActivity(actCtx, activities.RunPhaseName, in)
		done, forPause, forThrottle := false, false, false
		rethrottled := func() bool {
			now, set := r.throttle[i]
			return pausable && (set != throttleSet || now != throttledTo)
		}
		if !spec.Phase.PointOfNoReturn() || r.report.Phases[i].BeforeNoReturn {
			workflow.Go(ctx, func(gctx workflow.Context) {
				err := workflow.Await(gctx, func() bool {
					return done || r.rollbackReason != "" || (pausable && r.paused) || rethrottled()
				})
				if !done {
					forPause = err == nil && r.rollbackReason == "" && pausable && r.paused
					forThrottle = err == nil && r.rollbackReason == "" && !forPause && rethrottled()
					cancel()
				}
			})
		}
		var res activities.PhaseResult
		err := fut.Get(ctx, &res)
		done = true
		if err == nil {
			return res, nil
		}
		var canceled *temporal.CanceledError
		if errors.As(err, &canceled) && forThrottle && r.rollbackReason == "" {
			// Stopped at its checkpoint to take the new rate: go on from
			// there at once.
			var stopped activities.PhaseResult
			if canceled.HasDetails() && canceled.Details(&stopped) == nil && stopped.Checkpoint != "" {
				resume = stopped.Checkpoint
			}
			r.keepEarlierAttempts(ctx, i, stopped)
			r.logger.Info("phase restarted at its checkpoint with a new throttle", "phase", spec.Name, "rowsPerSecond", r.throttle[i])
			continue
		}
		if errors.As(err, &canceled) && forPause && r.rollbackReason == "" {
			var stopped activities.PhaseResult
			if canceled.HasDetails() && canceled.Details(&stopped) == nil && stopped.Checkpoint != "" {
				resume = stopped.Checkpoint
			}
			r.keepEarlierAttempts(ctx, i, stopped)
			pr := &r.report.Phases[i]
			pr.Summary = "stopped by pause at its checkpoint; resume goes on from there"
			if stopped.Records > 0 {
				pr.Records = stopped.Records
			}
			if workflow.GetVersion(ctx, changePausedProgress, workflow.DefaultVersion, pausedProgressV1) >= pausedProgressV1 {
				pr.Progress = min(max(stopped.Percent, 0), 99.9) // 100 only once it completed
			}
			r.logger.Info("paused a running phase at its checkpoint", "phase", spec.Name, "checkpoint", resume)
			stoppedAt := workflow.Now(ctx)
			if stop := r.holdWhilePaused(ctx); stop != nil {
				r.endStopped(ctx, i, stoppedAt)
				r.report.Phases[i].State = migration.PhaseCancelled
				r.report.Phases[i].Error = "interrupted by pause, then rolled back"
				if spec.CompensatePartial {
					r.compensations = append(r.compensations, i)
				}
				return res, stop
			}
			continue
		}
		if stop, handled := r.pauseOnDrift(ctx, i, spec, err, &resume); handled {
			if stop != nil {
				return res, stop
			}
			continue
		}
		return res, r.actionFailed(ctx, i, spec, err)
	}
}

// endStopped records when phase i, which a pause stopped and a rollback
// then ended, stopped (since changeStoppedEnd): without an end its
// duration and rate were counted on to now, as if it still moved.
func (r *run) endStopped(ctx workflow.Context, i int, stoppedAt time.Time) {
	if workflow.GetVersion(ctx, changeStoppedEnd, workflow.DefaultVersion, stoppedEndV1) >= stoppedEndV1 {
		r.report.Phases[i].EndTime = stoppedAt
	}
}

// keepEarlierAttempts keeps the failed attempts of phase i's activity
// that a pause or a new throttle stopped (stopped is what it returned),
// since changeEarlierAttempts: the phase runs again as a new activity,
// whose attempts start at 1, and its report would otherwise keep no
// trace of a worker killed or an error retried before.
func (r *run) keepEarlierAttempts(ctx workflow.Context, i int, stopped activities.PhaseResult) {
	if stopped.Attempt <= 1 {
		return // asked only when there is something to keep
	}
	if workflow.GetVersion(ctx, changeEarlierAttempts, workflow.DefaultVersion, earlierAttemptsV1) < earlierAttemptsV1 {
		return
	}
	r.report.Phases[i].EarlierAttempts += int(stopped.Attempt) - 1
}

// actionFailed records a phase activity that did not succeed: cancelled
// (by a rollback or the workflow's cancellation) or failed for good.
func (r *run) actionFailed(ctx workflow.Context, i int, spec config.PhaseSpec, err error) *stopCause {
	pr := &r.report.Phases[i]
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		pr.EndTime = workflow.Now(ctx)
		pr.State = migration.PhaseCancelled
		pr.Error = "cancelled before it finished"
		if spec.CompensatePartial && !contains(r.compensations, i) {
			r.compensations = append(r.compensations, i)
		}
		if stop := r.requested(); stop != nil {
			r.publish(ctx)
			return stop
		}
		r.publish(ctx)
		return r.cancelled()
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == activities.ErrTypeStepsAgain {
		return &stopCause{reason: errorMessage(err), stepsAgain: true}
	}
	if errors.As(err, &appErr) && appErr.Type() == activities.ErrTypeHoldForPerson {
		return &stopCause{reason: errorMessage(err), holdForPerson: true}
	}
	res, _ := failedResult(err)
	return r.phaseFailed(ctx, i, errorMessage(err), res)
}

// phaseFailed records phase i as failed for good with msg.
func (r *run) phaseFailed(ctx workflow.Context, i int, msg string, res activities.PhaseResult) *stopCause {
	spec := r.spec.Phases[i]
	pr := &r.report.Phases[i]
	pr.EndTime = workflow.Now(ctx)
	pr.State, pr.Error = migration.PhaseFailed, msg
	if res.Attempt > 0 {
		pr.Attempts, pr.Summary = int(res.Attempt), res.Summary
	}
	r.addIssue(ctx, spec.Name, migration.SeverityError, msg)
	if spec.CompensatePartial && !contains(r.compensations, i) {
		r.compensations = append(r.compensations, i)
	}
	r.countPhase(ctx, spec.Phase, "failed")
	r.publish(ctx)
	r.notify(ctx, notify.Event{Type: notify.PhaseFailed, Phase: spec.Name, Error: msg,
		Message: fmt.Sprintf("migration %s: phase %s failed: %s", r.spec.Name, spec.Name, msg)})
	r.logger.Error("phase failed", "phase", spec.Name, "error", msg)
	return &stopCause{
		reason:       migration.FailedReason(spec.Name, msg),
		pastNoReturn: spec.Phase.PointOfNoReturn() && !pr.BeforeNoReturn,
	}
}

// phaseCompleted records phase i as done, registers its compensation and
// keeps the outputs it declared.
func (r *run) phaseCompleted(ctx workflow.Context, i int, res activities.PhaseResult) {
	spec := r.spec.Phases[i]
	pr := &r.report.Phases[i]
	pr.EndTime = workflow.Now(ctx)
	pr.State, pr.Progress = migration.PhaseCompleted, 100
	pr.Attempts, pr.Records, pr.Summary = int(res.Attempt), res.Records, res.Summary
	switch {
	case pr.EarlierAttempts > 0: // only since changeEarlierAttempts
		attempts, failed := pr.AttemptCounts()
		r.addIssue(ctx, spec.Name, migration.SeverityWarning,
			fmt.Sprintf("phase %s succeeded after %s, %d failed (%d before a pause or a new throttle started it again)",
				spec.Name, migration.Count(attempts, "attempt"), failed, pr.EarlierAttempts))
	case res.Attempt > 1:
		// Retries that end well still say something about the systems.
		r.addIssue(ctx, spec.Name, migration.SeverityWarning,
			fmt.Sprintf("phase %s succeeded on attempt %d of %d", spec.Name, res.Attempt, spec.Retry.MaxAttempts))
	}
	if len(res.Warnings) > 0 && workflow.GetVersion(ctx, changePhaseWarnings, workflow.DefaultVersion, phaseWarningsV1) >= phaseWarningsV1 {
		for _, w := range res.Warnings {
			r.addIssue(ctx, spec.Name, migration.SeverityWarning, w)
		}
	}
	if len(spec.Outputs) > 0 {
		kept := map[string]string{}
		for _, name := range spec.Outputs {
			if v, ok := res.Outputs[name]; ok {
				kept[name] = v
			}
		}
		r.outputs[spec.Name] = kept
		pr.Outputs = kept
	}
	if !contains(r.compensations, i) {
		r.compensations = append(r.compensations, i)
	}
	if res.Lag != nil && lagOn(ctx) {
		r.recordLag(ctx, spec.Name, res.Lag)
	}
	r.countPhase(ctx, spec.Phase, "completed")
	r.publish(ctx)
	r.notify(ctx, notify.Event{Type: notify.PhaseCompleted, Phase: spec.Name,
		Message: fmt.Sprintf("migration %s: phase %s completed", r.spec.Name, spec.Name)})
}

func activityOptions(p config.PhaseSpec) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: p.Timeout.D(),
		HeartbeatTimeout:    p.HeartbeatTimeout.D(),
		// Wait for a cancelled phase to stop before compensating, so the
		// compensation never races the action it undoes.
		WaitForCancellation: true,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        p.Retry.InitialInterval.D(),
			BackoffCoefficient:     p.Retry.BackoffCoefficient,
			MaximumInterval:        p.Retry.MaxInterval.D(),
			MaximumAttempts:        int32(p.Retry.MaxAttempts),
			NonRetryableErrorTypes: activities.NonRetryableErrorTypes,
		},
	}
}

// errorMessage digs the application's own message out of Temporal's
// wrapping, which a person does not need to read.
func errorMessage(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	var timeoutErr *temporal.TimeoutError
	if errors.As(err, &timeoutErr) {
		return fmt.Sprintf("timed out (%s)", timeoutErr.TimeoutType())
	}
	return err.Error()
}

// failedResult returns the result a failed phase attempt attached to its
// error (activities.WithResult), if any.
func failedResult(err error) (activities.PhaseResult, bool) {
	var appErr *temporal.ApplicationError
	var res activities.PhaseResult
	if errors.As(err, &appErr) && appErr.HasDetails() && appErr.Details(&res) == nil {
		return res, true
	}
	return res, false
}

// zeroResult is the result of a phase that failed before its activity ran.
var zeroResult activities.PhaseResult

// throttled returns spec with the rate set by `throttle` for phase i, if
// any and if its driver takes one.
func (r *run) throttled(i int, spec config.PhaseSpec) config.PhaseSpec {
	rps, set := r.throttle[i]
	t, ok := spec.Driver.(config.Throttler)
	if !set || !ok {
		return spec
	}
	spec.Driver = t.WithRowsPerSecond(rps)
	return spec
}
