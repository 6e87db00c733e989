package workflows

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/notify"
)

// registerHandlers installs the `status` query, the `approve` update and a
// loop that applies the pause, resume and rollback signals as they arrive.
func (r *run) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (migration.Report, error) {
		return r.snapshot(ctx), nil
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateApprove, r.approve,
		workflow.UpdateHandlerOptions{Validator: r.validateApprove}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdatePromote, r.onPromote,
		workflow.UpdateHandlerOptions{Validator: r.validatePromote}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateThrottle, r.onThrottle,
		workflow.UpdateHandlerOptions{Validator: r.validateThrottle}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateRecord, r.onRecord,
		workflow.UpdateHandlerOptions{Validator: r.validateRecord}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateRepair, r.onRepair,
		workflow.UpdateHandlerOptions{Validator: r.validateRepair}); err != nil {
		return err
	}
	workflow.Go(ctx, r.receiveSignals)
	return nil
}

// validateRepair rejects, before anything is written to history, a repair
// of a rollback that is not blocked, or a skip of another phase.
func (r *run) validateRepair(ctx workflow.Context, req RepairRequest) error {
	switch {
	case r.blockedPhase == "" || r.repair != nil:
		return fmt.Errorf("no rollback is blocked (status %s): repair applies only to ROLLBACK_BLOCKED", r.report.Status)
	case req.Action != RepairRetry && req.Action != RepairSkip && req.Action != RepairAbandon:
		return fmt.Errorf("repair action %q: use retry, skip or abandon", req.Action)
	case req.Action == RepairSkip && req.Phase != r.blockedPhase:
		return fmt.Errorf("skip names phase %q, but the rollback is blocked at phase %q: skip only the phase you undid by hand", req.Phase, r.blockedPhase)
	}
	return nil
}

func (r *run) onRepair(ctx workflow.Context, req RepairRequest) (string, error) {
	if req.By == "" {
		req.By = "unknown"
	}
	phase := r.blockedPhase
	r.repair = &req
	return phase, nil
}

// validateApprove rejects, before anything is written to history, an
// approval of a gate that is not waiting.
func (r *run) validateApprove(ctx workflow.Context, req ApproveRequest) error {
	switch {
	case req.Gate == "":
		return errors.New("approve needs a gate name")
	case r.waitingGate == "":
		return fmt.Errorf("no gate is waiting for approval (status %s, phase %s)",
			r.report.Status, r.report.CurrentPhase)
	case req.Gate != r.waitingGate:
		return fmt.Errorf("gate %q is not waiting for approval; the waiting gate is %q", req.Gate, r.waitingGate)
	case req.Gate == WindowGate && req.Reason == "":
		return errors.New("starting a disruptive phase outside its window needs a reason: godwit approve NAME --gate window --reason \"...\"")
	case r.lagGate != nil && req.Gate == r.lagGate.gate:
		return r.lagGate.check(r.report, workflow.Now(ctx))
	}
	return nil
}

func (r *run) approve(ctx workflow.Context, req ApproveRequest) (ApproveResult, error) {
	by := req.By
	if by == "" {
		by = "unknown"
	}
	r.approvals[req.Gate] = by
	if req.Gate == WindowGate {
		r.windowReason = req.Reason
	}
	r.logger.Info("gate approved", "gate", req.Gate, "by", by)
	return ApproveResult{Gate: req.Gate, Phase: string(r.currentPhase()), By: by}, nil
}

func (r *run) receiveSignals(ctx workflow.Context) {
	pause := workflow.GetSignalChannel(ctx, SignalPause)
	resume := workflow.GetSignalChannel(ctx, SignalResume)
	rollback := workflow.GetSignalChannel(ctx, SignalRollback)
	for {
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(pause, func(c workflow.ReceiveChannel, _ bool) {
			var req PauseRequest
			c.Receive(ctx, &req)
			r.onPause(ctx, req)
		})
		sel.AddReceive(resume, func(c workflow.ReceiveChannel, _ bool) {
			var req PauseRequest
			c.Receive(ctx, &req)
			r.onResume(ctx, req)
		})
		sel.AddReceive(rollback, func(c workflow.ReceiveChannel, _ bool) {
			var req RollbackRequest
			c.Receive(ctx, &req)
			r.onRollback(ctx, req)
		})
		sel.Select(ctx)
	}
}

func (r *run) onPause(ctx workflow.Context, req PauseRequest) {
	if r.report.Status.Final() || r.report.Status == migration.StatusRollingBack || r.report.Status == migration.StatusRollbackBlocked {
		r.addIssue(ctx, r.currentPhase(), migration.SeverityWarning,
			fmt.Sprintf("pause ignored: the migration is %s", r.report.Status))
		return
	}
	r.paused = true
	r.report.Paused = true
	r.pausedBy(ctx, req.By, req.Reason)
	if r.report.Status == migration.StatusInProgress {
		r.setStatus(migration.StatusPaused)
	}
	r.logger.Info("pause requested", "by", req.By, "reason", req.Reason)
	r.publish(ctx)
	r.notify(ctx, notify.Event{Type: notify.Paused, By: req.By, Reason: req.Reason,
		Message: fmt.Sprintf("migration %s paused by %s", r.spec.Name, byName(req.By))})
}

func (r *run) onResume(ctx workflow.Context, req PauseRequest) {
	if !r.paused {
		return
	}
	r.paused = false
	r.report.Paused = false
	if r.pauseWhoOn(ctx) {
		r.report.ClearPause()
	}
	if r.report.Status == migration.StatusPaused {
		r.setStatus(migration.StatusInProgress)
	}
	r.logger.Info("resume requested", "by", req.By)
	r.publish(ctx)
	r.notify(ctx, notify.Event{Type: notify.Resumed, By: req.By,
		Message: fmt.Sprintf("migration %s resumed by %s", r.spec.Name, byName(req.By))})
}

// onRollback starts a rollback unless decommission has begun (the point of
// no return) or the run is over; a refusal is recorded as an issue, since
// a signal cannot answer its sender.
func (r *run) onRollback(ctx workflow.Context, req RollbackRequest) {
	r.report.Refresh(workflow.Now(ctx))
	if r.rollbackReason != "" {
		return
	}
	if r.report.Rollback != migration.RollbackAvailable {
		msg := fmt.Sprintf("rollback refused: %s", r.report.RollbackNote)
		r.addIssue(ctx, r.currentPhase(), migration.SeverityWarning, msg)
		r.logger.Warn("rollback refused", "reason", r.report.RollbackNote, "by", req.By)
		r.publish(ctx)
		return
	}
	// The same text as before migration.RollbackRequestNote existed, so
	// runs in flight and recorded histories read the same.
	reason := migration.RollbackRequestNote(req.By, req.Reason)
	r.rollbackReason = reason
	r.report.RollbackNote = reason
	r.setStatus(migration.StatusRollingBack)
	r.logger.Warn("rollback requested", "by", req.By, "reason", req.Reason)
	r.publish(ctx)
}

func byName(by string) string {
	if by == "" {
		return "someone"
	}
	return by
}

// validatePromote accepts a promote only while a phase of steps runs (or
// waits at one of its step gates) and the migration can still go back.
func (r *run) validatePromote(ctx workflow.Context, req PromoteRequest) error {
	i := r.report.CurrentIndex
	switch {
	case r.report.Status.Final() || r.rollbackReason != "":
		return fmt.Errorf("nothing to promote: the migration is %s", r.report.Status)
	case i < 0 || i >= len(r.spec.Phases) || r.report.Phases[i].Steps == 0 || r.report.Phases[i].State != migration.PhaseRunning:
		return fmt.Errorf("promote applies to a running phase of steps (a traffic shift); the current phase is %s (%s)",
			r.report.CurrentPhase, r.report.Status)
	case r.promoted[i] != "":
		return fmt.Errorf("phase %s was already promoted by %s", r.spec.Phases[i].Name, r.promoted[i])
	case r.spec.Phases[i].Phase.PointOfNoReturn():
		return fmt.Errorf("phase %s is past the point of no return: promote makes no sense there", r.spec.Phases[i].Name)
	}
	return nil
}

func (r *run) onPromote(ctx workflow.Context, req PromoteRequest) (string, error) {
	by := req.By
	if by == "" {
		by = "unknown"
	}
	i := r.report.CurrentIndex
	r.promoted[i] = by
	msg := fmt.Sprintf("phase %s promoted by %s: its remaining waits, gates and checks are skipped", r.spec.Phases[i].Name, by)
	if req.Reason != "" {
		msg += ": " + req.Reason
	}
	r.addIssue(ctx, r.spec.Phases[i].Name, migration.SeverityWarning, msg)
	r.publish(ctx)
	return r.spec.Phases[i].Name, nil
}

func (r *run) validateRecord(ctx workflow.Context, req RecordRequest) error {
	if req.Message == "" {
		return errors.New("record needs a message")
	}
	if r.report.Status.Final() {
		return fmt.Errorf("the migration has ended (%s)", r.report.Status)
	}
	return nil
}

func (r *run) onRecord(ctx workflow.Context, req RecordRequest) (string, error) {
	by := req.By
	if by == "" {
		by = "unknown"
	}
	r.addIssue(ctx, r.currentPhase(), migration.SeverityWarning, req.Message+" (by "+by+")")
	r.publish(ctx)
	return r.currentPhase(), nil
}

// validateThrottle accepts a new rate only for a running phase whose
// driver takes one.
func (r *run) validateThrottle(ctx workflow.Context, req ThrottleRequest) error {
	i := r.report.CurrentIndex
	switch {
	case req.RowsPerSecond < 0:
		return errors.New("rows per second must be 0 (no limit) or more")
	case r.report.Status.Final() || r.rollbackReason != "":
		return fmt.Errorf("nothing to throttle: the migration is %s", r.report.Status)
	case i < 0 || i >= len(r.spec.Phases) || r.report.Phases[i].State != migration.PhaseRunning:
		return fmt.Errorf("throttle applies to a running phase; the current phase is %s (%s)", r.report.CurrentPhase, r.report.Status)
	}
	if !r.throttles(i) {
		return fmt.Errorf("phase %s's %s driver takes no rate: throttle applies to a copy", r.spec.Phases[i].Name, r.driverKey(i))
	}
	return nil
}

func (r *run) onThrottle(ctx workflow.Context, req ThrottleRequest) (string, error) {
	by := req.By
	if by == "" {
		by = "unknown"
	}
	i := r.report.CurrentIndex
	r.throttle[i] = req.RowsPerSecond
	limit := fmt.Sprintf("%d rows/s", req.RowsPerSecond)
	if req.RowsPerSecond == 0 {
		limit = "no limit"
	}
	r.addIssue(ctx, r.spec.Phases[i].Name, migration.SeverityWarning,
		fmt.Sprintf("phase %s throttled to %s by %s; it takes the rate at its next checkpoint", r.spec.Phases[i].Name, limit, by))
	r.publish(ctx)
	return r.spec.Phases[i].Name, nil
}
