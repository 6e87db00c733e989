package workflows

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/notify"
)

const (
	changeDriftPause = "drift-pause"
	// driftPauseV1: a phase that finds its source table changed shape
	// (activities.ErrTypeSchemaDrift) pauses the migration instead of
	// failing it; resume runs the phase again from its checkpoint.
	driftPauseV1 = 1
)

// pauseOnDrift handles a phase action that failed because a source table
// changed shape during a copy or replication. Going on would copy the
// wrong shape, and a rollback would throw away the work done for what a
// person can fix, so the migration pauses with an issue that says what
// changed. Resume runs the action again from the checkpoint it reached
// (*resume); rollback undoes as usual. handled is false for any other
// error, for a phase past the point of no return (it fails, as any
// failure there), and for runs recorded before this change.
func (r *run) pauseOnDrift(ctx workflow.Context, i int, spec config.PhaseSpec, err error, resume *string) (stop *stopCause, handled bool) {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != activities.ErrTypeSchemaDrift || spec.Phase.PointOfNoReturn() {
		return nil, false
	}
	if workflow.GetVersion(ctx, changeDriftPause, workflow.DefaultVersion, driftPauseV1) < driftPauseV1 {
		return nil, false
	}
	if res, ok := failedResult(err); ok && res.Checkpoint != "" {
		*resume = res.Checkpoint
	}
	msg := errorMessage(err)
	pr := &r.report.Phases[i]
	pr.Summary = "paused: a source table changed shape; resume goes on from the checkpoint"
	r.addIssue(ctx, spec.Name, migration.SeverityWarning, fmt.Sprintf(
		"%s — the migration is paused: make the target's table match (or undo the change on the source), then `godwit resume %s` goes on from the checkpoint; or `godwit rollback %s --reason ...`",
		msg, r.spec.Name, r.spec.Name))
	r.paused, r.report.Paused = true, true
	r.pausedBy(ctx, PausedByGodwit, "phase "+spec.Name+" found a source table changed: "+msg)
	r.logger.Warn("paused: source schema changed", "phase", spec.Name, "error", msg)
	r.notify(ctx, notify.Event{Type: notify.Paused, Phase: spec.Name, Reason: msg,
		Message: fmt.Sprintf("migration %s paused: phase %s found a source table changed: %s", r.spec.Name, spec.Name, msg)})
	stoppedAt := workflow.Now(ctx)
	if stop := r.holdWhilePaused(ctx); stop != nil {
		r.endStopped(ctx, i, stoppedAt)
		pr.State, pr.Error = migration.PhaseCancelled, "paused on a source schema change, then rolled back"
		if spec.CompensatePartial && !contains(r.compensations, i) {
			r.compensations = append(r.compensations, i)
		}
		return stop, true
	}
	pr.Summary = "resumed after a source schema change"
	return nil, true
}
