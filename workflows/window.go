package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/godwit/godwit/migration"
)

// windowAnswer is when the spec's window next opens, as recorded in
// history (a side effect: time zone data must not make replays differ).
type windowAnswer struct {
	Opens time.Time `json:"opens"`
	Never bool      `json:"never,omitempty"`
}

// awaitWindow holds disruptive phase i until the spec's window opens, or
// until someone approves the window gate with a reason.
func (r *run) awaitWindow(ctx workflow.Context, i int) *stopCause {
	w := r.spec.Window
	if w == nil || !r.spec.Phases[i].IsDisruptive() {
		return nil
	}
	if workflow.GetVersion(ctx, changeWindow, workflow.DefaultVersion, windowV1) == workflow.DefaultVersion {
		return nil
	}
	phase := r.spec.Phases[i].Name
	var ans windowAnswer
	now := workflow.Now(ctx)
	err := workflow.SideEffect(ctx, func(workflow.Context) any {
		t, ok := w.NextOpen(now)
		return windowAnswer{Opens: t, Never: !ok}
	}).Get(&ans)
	switch {
	case err != nil:
		return r.phaseFailed(ctx, i, "window: "+err.Error(), zeroResult)
	case ans.Never:
		return r.phaseFailed(ctx, i, fmt.Sprintf("its window %s does not open within two weeks: fix window in the spec", w.Describe()), zeroResult)
	case !ans.Opens.After(now):
		return nil
	}
	r.waitingGate, r.report.WaitingGate = WindowGate, WindowGate
	r.setStatus(migration.StatusWaitingWindow)
	r.report.Window, r.report.WindowOpens = w.Describe(), ans.Opens
	r.publish(ctx)
	r.logger.Info("waiting for the window", "phase", phase, "opens", ans.Opens)
	opened := func() bool { return r.approvals[WindowGate] != "" || r.rollbackReason != "" }
	_, err = workflow.AwaitWithTimeout(ctx, ans.Opens.Sub(now), opened)
	r.waitingGate, r.report.WaitingGate = "", ""
	r.report.Window, r.report.WindowOpens = "", time.Time{}
	switch {
	case err != nil:
		return r.cancelled()
	case r.rollbackReason != "":
		return r.requested()
	}
	if by := r.approvals[WindowGate]; by != "" {
		// One override opens the window for this phase only.
		delete(r.approvals, WindowGate)
		r.addIssue(ctx, phase, migration.SeverityWarning,
			fmt.Sprintf("phase %s started outside its window, approved by %s: %s", phase, by, r.windowReason))
	}
	r.setStatus(r.runningStatus())
	r.publish(ctx)
	return nil
}
