package control

import (
	"context"
	"fmt"
	"strings"

	"go.temporal.io/sdk/client"

	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

// Running returns the report of a migration that can still be steered, or
// an Error saying why it cannot (missing: KindNotFound; ended: KindEnded).
func (m Migrations) Running(ctx context.Context, name string) (*migration.Report, error) {
	rep, err := m.Status(ctx, name)
	if err != nil {
		return nil, err
	}
	if rep.Status.Final() {
		return nil, &Error{Kind: KindEnded, Err: fmt.Errorf("migration %s has already ended (%s): nothing to steer", name, rep.Status)}
	}
	return rep, nil
}

// Pause asks a running migration to hold before its next phase. It returns
// the report as it was when asked. A migration already paused, or rolling
// back, is refused (KindRefused): the workflow would ignore the signal, and
// "pause sent" would mislead.
func (m Migrations) Pause(ctx context.Context, name string, req workflows.PauseRequest) (*migration.Report, error) {
	return m.signal(ctx, name, workflows.SignalPause, req)
}

// Resume lets a paused migration go on. It returns the report as it was
// when asked. A migration that is not paused is refused (KindRefused): the
// workflow ignores a resume then, so saying "resume sent" would let a
// person believe they had moved something on.
func (m Migrations) Resume(ctx context.Context, name string, req workflows.PauseRequest) (*migration.Report, error) {
	return m.signal(ctx, name, workflows.SignalResume, req)
}

func (m Migrations) signal(ctx context.Context, name, signal string, req workflows.PauseRequest) (*migration.Report, error) {
	rep, err := m.Running(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := pauseRefusal(name, signal, rep); err != nil {
		return nil, err
	}
	if err := m.Client.SignalWorkflow(withContext(ctx), name, "", signal, req); err != nil {
		return nil, Explain(name, err)
	}
	return rep, nil
}

// pauseRefusal says why a pause or resume would be ignored by the
// workflow (workflows.onPause, onResume), or nil.
func pauseRefusal(name, signal string, rep *migration.Report) error {
	where := fmt.Sprintf("%s, phase %s", rep.Status, rep.CurrentPhase)
	switch {
	case signal == workflows.SignalResume && !rep.Paused:
		return &Error{Kind: KindRefused, Err: fmt.Errorf("migration %s is not paused (%s): nothing to resume; see godwit status %s", name, where, name)}
	case signal == workflows.SignalPause && rep.Paused:
		return &Error{Kind: KindRefused, Err: fmt.Errorf("migration %s is already paused (%s); to let it go on: godwit resume %s", name, where, name)}
	case signal == workflows.SignalPause && (rep.Status == migration.StatusRollingBack || rep.Status == migration.StatusRollbackBlocked):
		return &Error{Kind: KindRefused, Err: fmt.Errorf("migration %s is %s: a rollback cannot be paused; see godwit status %s", name, rep.Status, name)}
	}
	return nil
}

// Approve opens the gate the migration waits at. The workflow refuses a
// gate that is not the one waiting (KindRefused), recording nothing.
func (m Migrations) Approve(ctx context.Context, name string, req workflows.ApproveRequest) (workflows.ApproveResult, error) {
	var res workflows.ApproveResult
	if _, err := m.Running(ctx, name); err != nil {
		return res, err
	}
	if err := m.Update(ctx, name, workflows.UpdateApprove, req, &res); err != nil {
		return res, fmt.Errorf("approve %s of migration %s: %w", req.Gate, name, err)
	}
	return res, nil
}

// Rollback asks the migration to undo what it did. It is refused
// (KindRefused) when the rollback is blocked or no longer available (past
// the point of no return); req.Reason must be given.
func (m Migrations) Rollback(ctx context.Context, name string, req workflows.RollbackRequest) error {
	if strings.TrimSpace(req.Reason) == "" {
		return &Error{Kind: KindRefused, Err: fmt.Errorf("rollback of %s needs a reason, for the record", name)}
	}
	rep, err := m.Running(ctx, name)
	if err != nil {
		return err
	}
	if rep.Status == migration.StatusRollbackBlocked {
		return &Error{Kind: KindRefused, Err: fmt.Errorf("the rollback of %s is blocked: %s\nnext: %s", name, rep.RollbackNote, strings.Join(rep.NextSteps, "\n      "))}
	}
	if rep.Rollback != migration.RollbackAvailable {
		return &Error{Kind: KindRefused, Err: fmt.Errorf("rollback of %s refused: %s (rollback: %s)", name, rep.RollbackNote, rep.Rollback)}
	}
	if err := m.Client.SignalWorkflow(withContext(ctx), name, "", workflows.SignalRollback, req); err != nil {
		return Explain(name, err)
	}
	return nil
}

// Update sends a workflow update and waits for its result. An error the
// workflow answered with (its validator refused the request) is KindRefused.
func (m Migrations) Update(ctx context.Context, name, update string, arg, result any) error {
	ctx = withContext(ctx)
	handle, err := m.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: name, UpdateName: update, Args: []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return Explain(name, err)
	}
	if err := handle.Get(ctx, result); err != nil {
		return &Error{Kind: KindRefused, Err: err}
	}
	return nil
}
