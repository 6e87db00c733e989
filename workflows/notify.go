package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/notify"
)

// notifyDrain bounds how long a migration that has ended waits for its
// last notifications: a receiver that is down must not hold the run.
const notifyDrain = time.Minute

// notify sends ev to the spec's webhooks in the background: the migration
// never waits for a receiver, except briefly at its end (drainNotices).
func (r *run) notify(ctx workflow.Context, ev notify.Event) {
	if r.notifyVersion < notifyV1 || len(r.spec.Notifications) == 0 {
		return
	}
	r.notices++
	info := workflow.GetInfo(ctx)
	ev.ID = notify.NewEventID(info.WorkflowExecution.ID, info.WorkflowExecution.RunID, r.notices, ev.Type)
	ev.Migration, ev.Time = r.spec.Name, workflow.Now(ctx)
	ev.Status, ev.Progress = string(r.report.Status), r.report.OverallProgress
	if ev.Message == "" {
		ev.Message = fmt.Sprintf("%s: %s", r.spec.Name, ev.Type)
	}
	actx, _ := workflow.NewDisconnectedContext(ctx)
	actx = workflow.WithActivityOptions(actx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		Summary:             "notify: " + string(ev.Type),
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			MaximumAttempts:        10,
			NonRetryableErrorTypes: []string{activities.ErrTypeNotifyRejected},
		},
	})
	f := workflow.ExecuteActivity(actx, activities.NotifyName, activities.NotifyInput{Notifications: r.spec.Notifications, Event: ev})
	r.pendingNotices = append(r.pendingNotices, f)
}

// drainNotices waits, at most notifyDrain, for the notifications still
// being sent, so the last ones (completed, rolled back) go out.
func (r *run) drainNotices(ctx workflow.Context) {
	if len(r.pendingNotices) == 0 {
		return
	}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	deadline := workflow.Now(dctx).Add(notifyDrain)
	for _, f := range r.pendingNotices {
		left := deadline.Sub(workflow.Now(dctx))
		if left <= 0 {
			break
		}
		_, _ = workflow.AwaitWithTimeout(dctx, left, f.IsReady)
		if f.IsReady() {
			if err := f.Get(dctx, nil); err != nil {
				r.logger.Warn("notification not delivered", "error", errorMessage(err))
			}
		}
	}
	r.pendingNotices = nil
}
