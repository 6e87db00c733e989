package workflows

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
)

// Migration runs a migration's phases in order. Each completed phase
// registers its compensation; a failed phase, a failed gate, a `rollback`
// signal or cancellation runs the compensations last-in first-out on a
// disconnected context. Decommission is the point of no return.
func Migration(ctx workflow.Context, in Input) (*migration.Report, error) {
	r := newRun(ctx, in.Spec)
	if err := r.registerHandlers(ctx); err != nil {
		return nil, fmt.Errorf("register handlers: %w", err)
	}
	r.publish(ctx)

	stop := r.execute(ctx)
	if stop == nil {
		r.end(ctx, migration.StatusCompleted)
		return r.report, nil
	}
	r.report.Error = stop.reason
	if stop.pastNoReturn {
		r.end(ctx, migration.StatusFailed)
		return r.report, temporal.NewNonRetryableApplicationError(
			"migration failed past the point of no return: "+stop.reason, ErrTypeFailed, nil, r.snapshot(ctx))
	}

	r.report.Status = migration.StatusRollingBack
	r.report.RollbackNote = stop.reason
	r.publish(ctx)
	if err := r.compensate(ctx); err != nil {
		r.report.Error = fmt.Sprintf("%s; then rollback failed: %v", stop.reason, err)
		r.end(ctx, migration.StatusRollbackFailed)
		return r.report, temporal.NewNonRetryableApplicationError(
			"rollback failed: "+err.Error(), ErrTypeRollbackFailed, nil, r.snapshot(ctx))
	}
	r.end(ctx, migration.StatusRolledBack)
	if stop.cancelled {
		return r.report, temporal.NewCanceledError(r.snapshot(ctx))
	}
	return r.report, temporal.NewNonRetryableApplicationError(
		"migration rolled back: "+stop.reason, ErrTypeRolledBack, nil, r.snapshot(ctx))
}

// MinCompensationAttempts is the fewest attempts a compensation gets.
const MinCompensationAttempts = 3

// run is one migration's state. The report is the source of truth for what
// happened; the other fields are the controls people steer it with.
type run struct {
	spec   config.Spec
	report *migration.Report
	logger log.Logger

	paused         bool
	rollbackReason string // non-empty once a rollback is requested
	waitingGate    string
	approvals      map[string]string // gate -> who approved

	// compensations holds the indexes of phases whose compensation is
	// registered, in the order they were registered.
	compensations []int

	publishedPhase, publishedStatus string
}

// stopCause says why the phases stopped before the end.
type stopCause struct {
	reason       string
	pastNoReturn bool // the failure came at or after decommission: no rollback
	cancelled    bool // the workflow itself was cancelled
}

func newRun(ctx workflow.Context, spec config.Spec) *run {
	phases := make([]migration.Phase, len(spec.Phases))
	gates := map[migration.Phase]string{}
	for i, p := range spec.Phases {
		phases[i] = p.Phase
		if p.Approval != nil {
			gates[p.Phase] = p.Approval.Gate
		}
	}
	return &run{
		spec:      spec,
		report:    migration.NewReport(spec.Name, spec.Description, phases, gates, workflow.Now(ctx)),
		logger:    log.With(workflow.GetLogger(ctx), "migration", spec.Name),
		approvals: map[string]string{},
	}
}

// execute runs the phases in order and returns why it stopped early, or nil
// when every phase completed.
func (r *run) execute(ctx workflow.Context) *stopCause {
	for i := range r.spec.Phases {
		r.report.CurrentIndex = i
		r.publish(ctx)
		if stop := r.holdWhilePaused(ctx); stop != nil {
			return stop
		}
		if stop := r.awaitGate(ctx, i); stop != nil {
			return stop
		}
		if stop := r.holdWhilePaused(ctx); stop != nil {
			return stop
		}
		if stop := r.runPhase(ctx, i); stop != nil {
			return stop
		}
	}
	return nil
}

// requested returns the stop cause of a requested rollback, or nil.
func (r *run) requested() *stopCause {
	if r.rollbackReason == "" {
		return nil
	}
	return &stopCause{reason: r.rollbackReason}
}

func (r *run) cancelled() *stopCause {
	return &stopCause{reason: "the workflow was cancelled", cancelled: true}
}

// holdWhilePaused keeps the next phase from starting until `resume`.
func (r *run) holdWhilePaused(ctx workflow.Context) *stopCause {
	if stop := r.requested(); stop != nil {
		return stop
	}
	if !r.paused {
		return nil
	}
	r.report.Status = migration.StatusPaused
	r.publish(ctx)
	r.logger.Info("paused before phase", "phase", r.currentPhase())
	if err := workflow.Await(ctx, func() bool { return !r.paused || r.rollbackReason != "" }); err != nil {
		return r.cancelled()
	}
	if stop := r.requested(); stop != nil {
		return stop
	}
	r.report.Status = migration.StatusInProgress
	r.publish(ctx)
	return nil
}

// awaitGate waits for an `approve` of the phase's gate, if it has one.
func (r *run) awaitGate(ctx workflow.Context, i int) *stopCause {
	gate := r.spec.Phases[i].Approval
	if gate == nil {
		return nil
	}
	r.waitingGate = gate.Gate
	r.report.WaitingGate = gate.Gate
	r.report.Status = migration.StatusWaitingApproval
	r.publish(ctx)
	r.logger.Info("waiting for approval", "gate", gate.Gate, "phase", r.spec.Phases[i].Phase)
	opened := func() bool { return r.approvals[gate.Gate] != "" || r.rollbackReason != "" }
	ok, err := true, error(nil)
	if gate.Timeout > 0 {
		ok, err = workflow.AwaitWithTimeout(ctx, gate.Timeout.D(), opened)
	} else {
		err = workflow.Await(ctx, opened)
	}
	r.waitingGate, r.report.WaitingGate = "", ""
	switch {
	case err != nil:
		return r.cancelled()
	case r.rollbackReason != "":
		return r.requested()
	case !ok:
		reason := fmt.Sprintf("gate %s was not approved within %s", gate.Gate, gate.Timeout)
		r.report.AddIssue(workflow.Now(ctx), r.spec.Phases[i].Phase, migration.SeverityError, reason)
		return &stopCause{reason: reason}
	}
	r.report.Phases[i].ApprovedBy = r.approvals[gate.Gate]
	r.report.Status = migration.StatusInProgress
	if r.paused {
		r.report.Status = migration.StatusPaused
	}
	r.publish(ctx)
	return nil
}

// runPhase runs phase i's activity. A rollback requested meanwhile cancels
// the activity, unless the phase is the point of no return.
func (r *run) runPhase(ctx workflow.Context, i int) *stopCause {
	spec := r.spec.Phases[i]
	pr := &r.report.Phases[i]
	pr.State, pr.StartTime = migration.PhaseRunning, workflow.Now(ctx)
	r.publish(ctx)

	actCtx, cancel := workflow.WithCancel(ctx)
	actCtx = workflow.WithActivityOptions(actCtx, activityOptions(spec))
	fut := workflow.ExecuteActivity(actCtx, activities.RunPhaseName, activities.PhaseInput{Migration: r.spec.Name, Phase: spec})
	done := false
	if !spec.Phase.PointOfNoReturn() {
		workflow.Go(ctx, func(gctx workflow.Context) {
			_ = workflow.Await(gctx, func() bool { return done || r.rollbackReason != "" })
			if !done {
				cancel()
			}
		})
	}
	var res activities.PhaseResult
	err := fut.Get(ctx, &res)
	done = true
	pr.EndTime = workflow.Now(ctx)

	if err == nil {
		pr.State, pr.Progress = migration.PhaseCompleted, 100
		pr.Attempts, pr.Records, pr.Summary = int(res.Attempt), res.Records, res.Summary
		if res.Attempt > 1 {
			// Retries that end well still say something about the systems.
			r.report.AddIssue(workflow.Now(ctx), spec.Phase, migration.SeverityWarning,
				fmt.Sprintf("phase %s succeeded on attempt %d of %d", spec.Phase, res.Attempt, spec.Retry.MaxAttempts))
		}
		r.compensations = append(r.compensations, i)
		r.publish(ctx)
		return r.requested() // a rollback that raced the phase's end
	}

	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		pr.State = migration.PhaseCancelled
		pr.Error = "cancelled before it finished"
		if spec.CompensatePartial {
			r.compensations = append(r.compensations, i)
		}
		if stop := r.requested(); stop != nil {
			r.publish(ctx)
			return stop
		}
		r.publish(ctx)
		return r.cancelled()
	}

	msg := errorMessage(err)
	pr.State, pr.Error = migration.PhaseFailed, msg
	if res, ok := failedResult(err); ok {
		pr.Attempts, pr.Summary = int(res.Attempt), res.Summary
	}
	r.report.AddIssue(workflow.Now(ctx), spec.Phase, migration.SeverityError, msg)
	if spec.CompensatePartial {
		r.compensations = append(r.compensations, i)
	}
	r.publish(ctx)
	r.logger.Error("phase failed", "phase", spec.Phase, "error", msg)
	return &stopCause{
		reason:       fmt.Sprintf("phase %s failed: %s", spec.Phase, msg),
		pastNoReturn: spec.Phase.PointOfNoReturn(),
	}
}

// compensate runs the registered compensations last-in first-out. It stops
// at the first one that fails for good: undoing an earlier phase while a
// later one is still in effect (dropping the target while traffic still
// reaches it) would do more harm than stopping.
func (r *run) compensate(ctx workflow.Context) error {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	for k := len(r.compensations) - 1; k >= 0; k-- {
		i := r.compensations[k]
		spec := r.spec.Phases[i]
		pr := &r.report.Phases[i]
		r.report.CurrentIndex = i
		pr.State, pr.Error = migration.PhaseCompensating, ""
		r.publish(dctx)

		opts := activityOptions(spec)
		opts.WaitForCancellation = false
		// An undo is retried even where the action was not (validate's
		// maxAttempts: 1): giving up on it leaves the systems half-migrated.
		opts.RetryPolicy.MaximumAttempts = max(opts.RetryPolicy.MaximumAttempts, MinCompensationAttempts)
		actCtx := workflow.WithActivityOptions(dctx, opts)
		var res activities.PhaseResult
		err := workflow.ExecuteActivity(actCtx, activities.CompensatePhaseName,
			activities.PhaseInput{Migration: r.spec.Name, Phase: spec}).Get(dctx, &res)
		if err != nil {
			msg := errorMessage(err)
			pr.State, pr.Error = migration.PhaseCompFailed, msg
			r.report.AddIssue(workflow.Now(dctx), spec.Phase, migration.SeverityError, "compensation failed: "+msg)
			r.publish(dctx)
			return fmt.Errorf("compensate %s: %s", spec.Phase, msg)
		}
		pr.State, pr.Progress, pr.Summary = migration.PhaseCompensated, 0, res.Summary
		r.publish(dctx)
	}
	return nil
}

// end records the run's final status. A run that completed or rolled back
// has no current phase; one that failed keeps the phase it failed in.
func (r *run) end(ctx workflow.Context, status migration.Status) {
	r.report.Status = status
	if status == migration.StatusCompleted || status == migration.StatusRolledBack {
		r.report.CurrentIndex = -1
	}
	r.report.EndTime = workflow.Now(ctx)
	r.publish(ctx)
	r.logger.Info("migration ended", "status", status)
}

// publish refreshes the report and upserts the search attributes when the
// phase or status changed, so history gets an event only on a real change.
func (r *run) publish(ctx workflow.Context) {
	r.report.Refresh(workflow.Now(ctx))
	// Not a command, so not in history: safe to change at any time.
	workflow.SetCurrentDetails(ctx, r.report.Headline())
	phase, status := string(r.currentPhase()), string(r.report.Status)
	if phase == "" {
		phase = "none"
	}
	if phase == r.publishedPhase && status == r.publishedStatus {
		return
	}
	r.publishedPhase, r.publishedStatus = phase, status
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		SearchAttrPhase.ValueSet(phase), SearchAttrStatus.ValueSet(status)); err != nil {
		r.logger.Warn("upsert search attributes", "error", err)
	}
}

// snapshot returns a refreshed copy of the report, for queries and errors.
func (r *run) snapshot(ctx workflow.Context) migration.Report {
	rep := *r.report
	rep.Phases = append([]migration.PhaseReport(nil), r.report.Phases...)
	rep.Issues = append([]migration.Issue(nil), r.report.Issues...)
	rep.Refresh(workflow.Now(ctx))
	return rep
}

func (r *run) currentPhase() migration.Phase {
	if i := r.report.CurrentIndex; i >= 0 && i < len(r.spec.Phases) {
		return r.spec.Phases[i].Phase
	}
	return ""
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
