package workflows

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/migration"
)

// driftError is what the copy driver returns when the source table changed
// shape: non-retryable, with the checkpoint the copy had reached.
func driftError() error {
	return temporal.NewApplicationErrorWithOptions("copy: copy kitchen: source table kitchen changed during the copy: column extra added (text)",
		activities.ErrTypeSchemaDrift, temporal.ApplicationErrorOptions{NonRetryable: true,
			Details: []any{activities.PhaseResult{Checkpoint: `{"kitchen":{"lastKey":"[\"420\"]"}}`}}})
}

func TestSchemaDriftPausesAndResumeGoesOnFromTheCheckpoint(t *testing.T) {
	h := newHarness(t)
	drifted := false
	h.fake.behave = func(_ context.Context, call string, _ int32) error {
		if call == "run:copy" && !drifted {
			drifted = true
			return driftError()
		}
		return nil
	}
	var paused migration.Report
	h.env.RegisterDelayedCallback(func() {
		paused = h.query()
		h.env.SignalWorkflow(SignalResume, PauseRequest{By: "dana"})
	}, time.Hour)
	rep, err := h.run(specWith(migration.PhaseProvision, migration.PhaseCopy, migration.PhaseReconcile))
	require.NoError(t, err)

	require.Equal(t, migration.StatusPaused, paused.Status, "the drift paused the migration instead of failing it")
	require.Equal(t, migration.PhaseRunning, paused.Phases[1].State)
	require.Contains(t, paused.Phases[1].Summary, "a source table changed shape")
	require.NotEmpty(t, paused.Issues)
	issue := paused.Issues[len(paused.Issues)-1]
	require.Equal(t, migration.SeverityWarning, issue.Severity)
	require.Contains(t, issue.Message, "column extra added (text)")
	require.Contains(t, issue.Message, "godwit resume test")
	require.Equal(t, PausedByGodwit, paused.PausedBy, "the run paused itself")
	require.Contains(t, paused.PauseReason, "phase copy found a source table changed: ")
	require.Len(t, paused.Phases[1].Pauses, 1, "the pause holds the copy it stopped")

	require.Equal(t, runs(migration.PhaseProvision, migration.PhaseCopy, migration.PhaseCopy, migration.PhaseReconcile), h.fake.Calls())
	require.Equal(t, `{"kitchen":{"lastKey":"[\"420\"]"}}`, h.fake.inputs[2].Resume, "the copy ran again from its checkpoint")
	require.Equal(t, migration.StatusCompleted, rep.Status)
	require.Equal(t, migration.PhaseCompleted, rep.Phases[1].State)
	p := rep.Phases[1]
	require.Equal(t, time.Hour, p.PausedTime(p.EndTime), "the hour the copy waited for its resume is not its time")
}

func TestSchemaDriftPauseCanBeRolledBack(t *testing.T) {
	h := newHarness(t)
	h.fake.behave = func(_ context.Context, call string, _ int32) error {
		if call == "run:copy" {
			return driftError()
		}
		return nil
	}
	h.env.RegisterDelayedCallback(func() {
		require.Equal(t, migration.StatusPaused, h.query().Status)
		h.env.SignalWorkflow(SignalRollback, RollbackRequest{By: "dana", Reason: "the new column is not ready"})
	}, time.Hour)
	rep, err := h.run(specWith(migration.PhaseProvision, migration.PhaseCopy, migration.PhaseReconcile))
	require.NoError(t, err, "a requested rollback that undid every phase completes the run")
	require.Equal(t, migration.StatusRolledBack, rep.Status)
	require.Equal(t, append(runs(migration.PhaseProvision, migration.PhaseCopy), compensations(migration.PhaseProvision)...), h.fake.Calls())
	require.Equal(t, migration.PhaseCancelled, rep.Phases[1].State)
	require.True(t, strings.Contains(rep.Phases[1].Error, "schema change"), rep.Phases[1].Error)
	p := rep.Phases[1]
	require.Len(t, p.Pauses, 1)
	require.False(t, p.Pauses[0].End.IsZero(), "the hold ended with the rollback")
	require.Zero(t, p.PausedTime(p.EndTime), "the copy ended when the drift stopped it: the hold after is no part of it")
	require.True(t, p.EndTime.Before(p.Pauses[0].End))
}

// Past the point of no return a drift fails the phase as any failure does:
// nothing can be undone there, and nothing waits.
func TestSchemaDriftInDecommissionFails(t *testing.T) {
	h := newHarness(t)
	h.fake.behave = func(_ context.Context, call string, _ int32) error {
		if call == "run:decommission" {
			return driftError()
		}
		return nil
	}
	rep, err := h.run(specWith(migration.PhaseCopy, migration.PhaseDecommission))
	require.Error(t, err)
	require.Equal(t, migration.StatusFailed, rep.Status)
}
