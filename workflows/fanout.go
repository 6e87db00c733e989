package workflows

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
)

// runUnits runs a fanned-out phase: its driver lists the units (tables),
// and each runs as its own activity, at most limit at once, so the workers
// on the task queue share them and each resumes from its own checkpoint.
// More units than a window holds run in windows (runWindows) since
// fanOutWindowsV1.
// Pause holds the units not yet started; rollback cancels the running
// ones; the first unit that fails for good stops the others.
func (r *run) runUnits(ctx workflow.Context, i int, spec config.PhaseSpec, limit int) *stopCause {
	pr := &r.report.Phases[i]
	opts := activityOptions(spec)
	opts.Summary = spec.Name + ": list units"
	opts.HeartbeatTimeout = 0
	var plan activities.UnitsPlan
	r.activities++
	var err error
	if workflow.GetVersion(ctx, changeUnitRows, workflow.DefaultVersion, unitRowsV1) >= unitRowsV1 {
		err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), activities.PlanSizedUnitsName,
			r.phaseInput(i, spec)).Get(ctx, &plan)
	} else {
		err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), activities.PlanUnitsName,
			r.phaseInput(i, spec)).Get(ctx, &plan.Units)
	}
	if err != nil {
		return r.actionFailed(ctx, i, spec, err)
	}
	units := plan.Units
	pr.RowsTotal, pr.TablesTotal = plan.Rows, plan.Tables
	if len(units) == 0 {
		r.phaseCompleted(ctx, i, activities.PhaseResult{Summary: "nothing to do: no units"})
		return r.requested()
	}
	if r.windowed(ctx, len(units)) {
		if why := r.windowsOverBudget(ctx, len(units)); why != "" {
			return r.phaseFailed(ctx, i, why, activities.PhaseResult{})
		}
		return r.runWindows(ctx, i, spec, limit, units)
	}
	if why := r.fanOutOverBudget(ctx, len(units)); why != "" {
		// Better now than the server terminating the run mid-copy.
		return r.phaseFailed(ctx, i, why, activities.PhaseResult{})
	}
	cctx, cancelAll := workflow.WithCancel(ctx)
	if !spec.Phase.PointOfNoReturn() {
		workflow.Go(ctx, func(g workflow.Context) {
			_ = workflow.Await(g, func() bool { return r.rollbackReason != "" })
			cancelAll()
		})
	}
	sem := workflow.NewSemaphore(ctx, int64(max(limit, 1)))
	var (
		started, finished, succeeded int
		records                      int64
		failure                      error
		failedUnit                   string
		summaries                    = make([]string, len(units))
		attempts                     int32
	)
	// The report names the running units and counts the attempts as they
	// end, so the status can add the running units' heartbeats to the
	// units done (migration.Report.MergeLive). Report fields only: no
	// command changes, so every recorded history replays as before.
	pr.Units, pr.UnitsDone, pr.RunningUnits, pr.FailedAttempts = len(units), 0, nil, 0
	unitEnded := func(unit string) {
		for k, u := range pr.RunningUnits {
			if u == unit {
				pr.RunningUnits = append(pr.RunningUnits[:k:k], pr.RunningUnits[k+1:]...)
				break
			}
		}
	}
	progress := func() {
		pr.Step = fmt.Sprintf("%d of %d units done, %d running", finished, len(units), started-finished)
		pr.Progress = unitsProgress(pr, finished, records)
		pr.Records = records
		r.publish(ctx)
	}
	for j, unit := range units {
		if failure != nil || r.rollbackReason != "" {
			break
		}
		if stop := r.holdWhilePaused(ctx); stop != nil {
			break // the running units are cancelled by the rollback
		}
		if err := sem.Acquire(ctx, 1); err != nil {
			break // the workflow was cancelled
		}
		if failure != nil || r.rollbackReason != "" {
			sem.Release(1)
			break
		}
		started++
		r.activities++
		pr.RunningUnits = append(pr.RunningUnits, unit)
		progress()
		j, unit := j, unit
		workflow.Go(ctx, func(g workflow.Context) {
			defer sem.Release(1)
			uopts := activityOptions(spec)
			uopts.Summary = spec.Name + ": " + unit
			var res activities.PhaseResult
			// A unit started after `throttle` takes the new rate.
			in := r.throttledInput(i, spec)
			in.Unit = unit
			err := workflow.ExecuteActivity(workflow.WithActivityOptions(cctx, uopts), activities.RunPhaseName, in).Get(g, &res)
			finished++
			unitEnded(unit)
			if err != nil {
				pr.FailedAttempts += failedAttempts(err)
				if failure == nil {
					failure, failedUnit = err, unit
					cancelAll()
				}
				return
			}
			succeeded++
			pr.UnitsDone = succeeded
			pr.FailedAttempts += max(int(res.Attempt)-1, 0)
			records += res.Records
			attempts = max(attempts, res.Attempt)
			if res.Summary != "" {
				summaries[j] = unit + ": " + res.Summary
			}
			if !contains(r.compensations, i) {
				// A unit has had effects: a rollback from here on must
				// undo the phase, though it is not finished.
				r.compensations = append(r.compensations, i)
			}
			progress()
		})
	}
	_ = workflow.Await(ctx, func() bool { return finished == started })
	progress()
	var canceled *temporal.CanceledError
	switch {
	case failure != nil && !errors.As(failure, &canceled):
		return r.phaseFailed(ctx, i, fmt.Sprintf("unit %s: %s", failedUnit, errorMessage(failure)), activities.PhaseResult{Attempt: attempts})
	case r.rollbackReason != "":
		pr.State, pr.Error = migration.PhaseCancelled, fmt.Sprintf("cancelled with %d of %d units done", succeeded, len(units))
		r.publish(ctx)
		return r.requested()
	case failure != nil || succeeded < len(units):
		return r.cancelled()
	}
	// In the units' order, the first 20: the result stays small.
	res, stop := r.finishUnits(ctx, cctx, i, spec, len(units), activities.PhaseResult{Records: records, Summary: unitsSummary(len(units), firstSummaries(nil, summaries)), Attempt: max(attempts, 1)})
	if stop != nil {
		return stop
	}
	r.phaseCompleted(ctx, i, res)
	return r.requested()
}

const (
	changeUnitRows = "unit-rows"
	// unitRowsV1: a fan-out plans its units with PlanSizedUnits, which
	// adds the rows its driver estimates they hold (a copy's), kept in the
	// report (PhaseReport.RowsTotal): its progress is then rows copied of
	// that total, as a copy in one activity reports it, not units done.
	unitRowsV1 = 1
)

// unitsProgress is a fanned-out phase's progress with done units finished
// holding records rows: by rows when the plan estimated them (never 100
// before the phase completes), else by units.
func unitsProgress(pr *migration.PhaseReport, done int, records int64) float64 {
	if pr.RowsTotal > 0 {
		return pr.RowsProgress(records)
	}
	return 100 * float64(done) / float64(pr.Units)
}

const (
	changeFinishUnits = "finish-units"
	// finishUnitsV1: once every unit of a fan-out whose plan says so
	// (config.PhasePlan.FinishUnits) has finished, one FinishUnits
	// activity runs what no unit could (a copy's foreign keys, over all
	// its tables) before the phase completes. Asked only for such a
	// phase, so runs of other fan-outs record no marker.
	finishUnitsV1 = 1
)

// finishUnits runs what follows phase i's units once all n have finished
// (finishUnitsV1), on cctx, which a rollback cancels, and returns the
// phase's result with its summary, notes and warnings added: res as it
// is when the phase has nothing to finish. A stop cause when it failed or
// was cancelled.
func (r *run) finishUnits(ctx, cctx workflow.Context, i int, spec config.PhaseSpec, n int, res activities.PhaseResult) (activities.PhaseResult, *stopCause) {
	if r.plan == nil || !r.plan.Phases[i].FinishUnits {
		return res, nil
	}
	if workflow.GetVersion(ctx, changeFinishUnits, workflow.DefaultVersion, finishUnitsV1) < finishUnitsV1 {
		return res, nil
	}
	pr := &r.report.Phases[i]
	unitsStep := pr.Step
	pr.Step = fmt.Sprintf("%d of %d units done, finishing after them", n, n)
	r.publish(ctx)
	opts := activityOptions(spec)
	opts.Summary = spec.Name + ": after the units"
	r.activities++
	var out activities.PhaseResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(cctx, opts), activities.FinishUnitsName, r.phaseInput(i, spec)).Get(ctx, &out)
	switch {
	case err == nil:
	case isCanceled(err) && r.rollbackReason != "":
		pr.State, pr.Error = migration.PhaseCancelled, fmt.Sprintf("cancelled with its %d units done, before what follows them", n)
		r.publish(ctx)
		return res, r.requested()
	case isCanceled(err):
		return res, r.cancelled()
	default:
		failed, _ := failedResult(err)
		return res, r.phaseFailed(ctx, i, "after its units: "+errorMessage(err),
			activities.PhaseResult{Summary: res.Summary, Attempt: max(failed.Attempt, 1)})
	}
	pr.Step = unitsStep
	if out.Summary != "" {
		res.Summary += "; " + out.Summary
	}
	res.Output = out.Output
	res.Warnings = append(res.Warnings, out.Warnings...)
	res.Attempt = max(res.Attempt, out.Attempt)
	return res, nil
}

// failedAttempts counts the attempts behind a unit's error: all of them
// when its activity says how many there were, none when it was cancelled
// (a rollback or another unit's failure stopped it), else the last one.
func failedAttempts(err error) int {
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		return 0
	}
	if res, ok := failedResult(err); ok && res.Attempt > 0 {
		return int(res.Attempt)
	}
	return 1
}
