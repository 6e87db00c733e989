// Package activities holds the thin Temporal activities around Godwit's
// domain packages: they resolve secrets, heartbeat, call a phase driver and
// decide, once, which errors are worth retrying.
package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
)

// Activity names, stable because recorded histories and the workflow use them.
const (
	RunPhaseName        = "RunPhase"
	CompensatePhaseName = "CompensatePhase"
)

// Error types that retry policies name as non-retryable: retrying cannot
// help until a person changes the spec or the worker's environment.
const (
	ErrTypeConfig      = "ConfigError"
	ErrTypeHookMissing = "HookNotFound"
	ErrTypeHookFailed  = "HookFailed"
)

// NonRetryableErrorTypes lists the error types no retry policy should retry.
var NonRetryableErrorTypes = []string{ErrTypeConfig, ErrTypeHookMissing}

// Action says whether a phase is done or undone.
type Action string

// Actions.
const (
	ActionRun        Action = "run"
	ActionCompensate Action = "compensate"
)

// PhaseInput asks for one phase to be run or compensated. It holds the
// phase's spec, which names secrets but never holds them.
type PhaseInput struct {
	Migration string           `json:"migration"`
	Phase     config.PhaseSpec `json:"phase"`
}

// PhaseResult is a phase's outcome, small enough for workflow history.
type PhaseResult struct {
	Phase    migration.Phase `json:"phase"`
	Action   Action          `json:"action"`
	Attempt  int32           `json:"attempt"`
	Records  int64           `json:"records,omitempty"`
	Summary  string          `json:"summary,omitempty"`
	Output   string          `json:"output,omitempty"`
	Duration config.Duration `json:"duration"`
}

// Heartbeat is what a running phase reports as it goes: progress for people
// (`godwit status` reads it from the pending activity, costing no history)
// and a checkpoint for itself (a retry, on any worker, resumes from it).
type Heartbeat struct {
	Percent    float64 `json:"percent,omitempty"`
	Records    int64   `json:"records,omitempty"`
	Checkpoint string  `json:"checkpoint,omitempty"`
}

// Driver does the work of a phase. Each kind of phase action (command hook
// now; data copy, reconcile and traffic later) is one Driver.
type Driver interface {
	// Do performs action for the phase; it must be idempotent, since a
	// retry or a second compensation may repeat it. resume is the last
	// heartbeat of an earlier attempt (zero on the first); beat records
	// progress and must be called regularly on long work.
	Do(ctx context.Context, action Action, in PhaseInput, resume Heartbeat, beat func(Heartbeat)) (PhaseResult, error)
}

// Activities are the phase activities a worker registers.
type Activities struct {
	Logger hclog.Logger
	// Hook runs command hooks; tests may swap it.
	Hook Driver
}

// New returns the activities with the real drivers.
func New(logger hclog.Logger) *Activities {
	return &Activities{Logger: logger, Hook: &HookDriver{Logger: logger.Named("hook")}}
}

// RunPhase performs a phase's action.
func (a *Activities) RunPhase(ctx context.Context, in PhaseInput) (PhaseResult, error) {
	return a.do(ctx, ActionRun, in)
}

// CompensatePhase undoes a phase's action.
func (a *Activities) CompensatePhase(ctx context.Context, in PhaseInput) (PhaseResult, error) {
	return a.do(ctx, ActionCompensate, in)
}

func (a *Activities) do(ctx context.Context, action Action, in PhaseInput) (PhaseResult, error) {
	info := activity.GetInfo(ctx)
	driver, err := a.driverFor(in.Phase)
	if err != nil {
		return PhaseResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeConfig, err)
	}
	start := time.Now()
	a.Logger.Info("phase started", "migration", in.Migration, "phase", in.Phase.Phase, "action", action, "attempt", info.Attempt)
	var resume Heartbeat
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &resume); err != nil {
			a.Logger.Warn("unreadable checkpoint of the previous attempt; starting over", "phase", in.Phase.Phase, "error", err)
			resume = Heartbeat{}
		}
	}
	res, err := driver.Do(ctx, action, in, resume, func(hb Heartbeat) { activity.RecordHeartbeat(ctx, hb) })
	res.Phase, res.Action, res.Attempt = in.Phase.Phase, action, info.Attempt
	res.Duration = config.Duration(time.Since(start).Round(time.Millisecond))
	if err != nil {
		a.Logger.Warn("phase failed", "migration", in.Migration, "phase", in.Phase.Phase, "action", action, "attempt", info.Attempt, "error", err)
		return res, WithResult(err, res)
	}
	a.Logger.Info("phase finished", "migration", in.Migration, "phase", in.Phase.Phase, "action", action, "duration", res.Duration)
	return res, nil
}

func (a *Activities) driverFor(p config.PhaseSpec) (Driver, error) {
	if p.Hook != nil {
		return a.Hook, nil
	}
	return nil, fmt.Errorf("phase %s has no driver configured", p.Phase)
}

// WithResult attaches the partial result (attempt, output) to an
// application error as its details, so the workflow can report what the
// failed attempt printed. Cancellation and other errors pass unchanged.
func WithResult(err error, res PhaseResult) error {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		return err
	}
	opts := temporal.ApplicationErrorOptions{NonRetryable: appErr.NonRetryable(), Cause: errors.Unwrap(appErr), Details: []any{res}}
	return temporal.NewApplicationErrorWithOptions(appErr.Message(), appErr.Type(), opts)
}

// noCompensation is the summary of compensating a phase that has nothing
// to undo: not an error, since a phase may have no side effects.
const noCompensation = "no compensation configured"
