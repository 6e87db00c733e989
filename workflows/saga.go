package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/migration"
)

// The saga's undo: the compensations registered as phases ran (saga in
// run), run last-in first-out, and held for a person when one fails.

// compensate runs the registered compensations last-in first-out. It stops
// at the first one that fails for good: undoing an earlier phase while a
// later one is still in effect (dropping the target while traffic still
// reaches it) would do more harm than stopping.
//
// Since changeRepair, a compensation that fails for good blocks the
// rollback instead of ending it: the migration waits in ROLLBACK_BLOCKED
// until a person retries it, skips it (having undone it by hand) or
// abandons the rollback.
func (r *run) compensate(ctx workflow.Context) error {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	for k := len(r.compensations) - 1; k >= 0; k-- {
		i := r.compensations[k]
		for {
			err := r.compensateOne(dctx, i)
			if err == nil {
				break
			}
			if workflow.GetVersion(dctx, changeRepair, workflow.DefaultVersion, repairV1) == workflow.DefaultVersion {
				return err
			}
			req := r.awaitRepair(dctx, i, err)
			if req.Action == RepairAbandon {
				return fmt.Errorf("%v; rollback abandoned by %s", err, req.By)
			}
			if req.Action == RepairSkip {
				pr := &r.report.Phases[i]
				pr.State, pr.Error = migration.PhaseUndoneByHand, ""
				pr.Summary = "undone by hand, by " + req.By
				msg := fmt.Sprintf("compensation of %s skipped by %s: undone by hand", r.spec.Phases[i].Name, req.By)
				if req.Reason != "" {
					msg += ": " + req.Reason
				}
				r.addIssue(dctx, r.spec.Phases[i].Name, migration.SeverityWarning, msg)
				r.publish(dctx)
				break
			}
			// RepairRetry: run the same compensation again.
		}
	}
	return nil
}

// compensateOne runs phase i's compensation.
func (r *run) compensateOne(dctx workflow.Context, i int) error {
	{
		spec := r.spec.Phases[i]
		pr := &r.report.Phases[i]
		r.report.CurrentIndex = i
		pr.State, pr.Error = migration.PhaseCompensating, ""
		r.publish(dctx)

		opts := activityOptions(spec)
		opts.Summary = spec.Name + ": compensate"
		opts.WaitForCancellation = false
		// An undo is retried even where the action was not (validate's
		// maxAttempts: 1): giving up on it leaves the systems half-migrated.
		opts.RetryPolicy.MaximumAttempts = max(opts.RetryPolicy.MaximumAttempts, MinCompensationAttempts)
		actCtx := workflow.WithActivityOptions(dctx, opts)
		var res activities.PhaseResult
		in := r.compensationInput(i, spec)
		in.StepsDone, in.Prior = r.stepsDone[i], r.prior[i]
		err := workflow.ExecuteActivity(actCtx, activities.CompensatePhaseName, in).Get(dctx, &res)
		if err != nil {
			msg := errorMessage(err)
			pr.State, pr.Error = migration.PhaseCompFailed, msg
			r.addIssue(dctx, spec.Name, migration.SeverityError, "compensation failed: "+msg)
			r.publish(dctx)
			return fmt.Errorf("compensate %s: %s", spec.Name, msg)
		}
		pr.State, pr.Progress, pr.Summary = migration.PhaseCompensated, 0, res.Summary
		r.countPhase(dctx, spec.Phase, "compensated")
		r.publish(dctx)
	}
	return nil
}

const (
	// changeRepairNote: a repaired rollback (retry, skip) gets back the
	// note of why it runs, instead of keeping "blocked: …" to its end.
	changeRepairNote = "repair-restores-rollback-note"
	repairNoteV1     = 1
)

// awaitRepair holds a blocked rollback until a `repair` update says what
// to do; the update's validator has checked the request.
func (r *run) awaitRepair(ctx workflow.Context, i int, cause error) RepairRequest {
	r.blockedPhase = r.spec.Phases[i].Name
	r.repair = nil
	r.setStatus(migration.StatusRollbackBlocked)
	why := r.report.RollbackNote
	r.report.RollbackNote = fmt.Sprintf("blocked: %v", cause)
	workflow.GetMetricsHandler(ctx).Counter(MetricBlocked).Inc(1)
	r.publish(ctx)
	r.logger.Error("rollback blocked: waiting for a person", "phase", r.blockedPhase, "error", cause)
	_ = workflow.Await(ctx, func() bool { return r.repair != nil })
	req := *r.repair
	r.blockedPhase, r.repair = "", nil
	if workflow.GetVersion(ctx, changeRepairNote, workflow.DefaultVersion, repairNoteV1) >= repairNoteV1 &&
		req.Action != RepairAbandon {
		// The rollback goes on: it is no longer blocked (a run that
		// ended ROLLED_BACK said "DONE (blocked: …)" with the old cause).
		r.report.RollbackNote = why
	}
	r.setStatus(migration.StatusRollingBack)
	r.logger.Warn("rollback repair", "action", req.Action, "by", req.By, "phase", r.spec.Phases[i].Name)
	r.publish(ctx)
	return req
}
