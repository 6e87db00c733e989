package workflows

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
)

// memoUpserts records the summaries a run upserts into its memo.
func memoUpserts(t *testing.T, h *harness) *[]migration.Summary {
	t.Helper()
	var got []migration.Summary
	h.env.OnUpsertMemo(mock.Anything).Run(func(args mock.Arguments) {
		memo := args.Get(0).(map[string]any)
		require.Len(t, memo, 1, "the memo holds the summary only")
		sum, ok := memo[MemoSummary].(migration.Summary)
		require.True(t, ok, "memo field %s is a migration.Summary, got %T", MemoSummary, memo[MemoSummary])
		got = append(got, sum)
	}).Return(nil)
	return &got
}

// brief writes a summary as "status phase#index/count state gate error".
func brief(s migration.Summary) string {
	out := fmt.Sprintf("%s %s#%d/%d %s", s.Status, s.Phase, s.PhaseIndex, s.PhaseCount, s.PhaseState)
	if s.Gate != "" {
		out += " gate=" + s.Gate
	}
	if s.Error != "" {
		out += " error=" + s.Error
	}
	return out
}

func TestMemoSummaryIsUpsertedAtPhaseBoundariesOnly(t *testing.T) {
	h := newHarness(t)
	upserts := memoUpserts(t, h)
	var atGate []migration.Summary
	h.env.RegisterDelayedCallback(func() {
		atGate = append(atGate, *upserts...)
		h.env.UpdateWorkflow(UpdateApprove, "approve", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("approval rejected: %v", err) },
			OnAccept: func() {}, OnComplete: func(any, error) {},
		}, ApproveRequest{Gate: "go-live", By: "dave"})
	}, time.Hour)
	_, err := h.run(gatedSpec(""))
	require.NoError(t, err)

	var got []string
	for _, s := range *upserts {
		got = append(got, brief(s))
	}
	require.Equal(t, []string{
		"IN_PROGRESS #-1/2 ",
		"IN_PROGRESS copy#0/2 PENDING",
		"IN_PROGRESS copy#0/2 RUNNING",
		"IN_PROGRESS copy#0/2 COMPLETED",
		"IN_PROGRESS shift-traffic#1/2 PENDING",
		"WAITING_APPROVAL shift-traffic#1/2 PENDING gate=go-live",
		"IN_PROGRESS shift-traffic#1/2 PENDING",
		"IN_PROGRESS shift-traffic#1/2 RUNNING",
		"IN_PROGRESS shift-traffic#1/2 COMPLETED",
		"COMPLETED #-1/2 ",
	}, got)

	require.NotEmpty(t, atGate)
	last := atGate[len(atGate)-1]
	require.Equal(t, "go-live", last.Gate, "the memo shows the gate while it waits")
	require.Equal(t, 75.0, last.Progress, "the copy done weighs migration.RowsShare")
	require.False(t, last.UpdatedAt.IsZero(), "the summary has the workflow's time")
	end := (*upserts)[len(*upserts)-1]
	require.False(t, end.UpdatedAt.Before(last.UpdatedAt))
	require.Equal(t, 100.0, end.Progress)
}

func TestMemoSummaryKeepsTheLastErrorOnOneLine(t *testing.T) {
	h := newHarness(t)
	upserts := memoUpserts(t, h)
	h.fake.behave = func(_ context.Context, call string, _ int32) error {
		if call == "run:copy" {
			return temporal.NewNonRetryableApplicationError("rows lost:\n  users 3\n  orders 1", "Test", nil)
		}
		return nil
	}
	_, err := h.run(specWith(migration.PhaseValidate, migration.PhaseCopy))
	require.Error(t, err)
	var failed *migration.Summary
	for i, s := range *upserts {
		if s.PhaseState == migration.PhaseFailed {
			failed = &(*upserts)[i]
			break
		}
	}
	require.NotNil(t, failed, "the failed phase is a boundary: %v", *upserts)
	require.Equal(t, "copy", failed.Phase)
	require.Equal(t, "rows lost: users 3 orders 1", failed.Error)
	end := (*upserts)[len(*upserts)-1]
	require.Equal(t, migration.StatusRolledBack, end.Status)
	require.Contains(t, end.Error, "phase copy failed: rows lost: users 3 orders 1")
}

func TestMemoSummaryIsNotUpsertedPerStep(t *testing.T) {
	h := newHarness(t)
	upserts := memoUpserts(t, h)
	rep, err := h.run(steppedSpec(t))
	require.NoError(t, err)
	steps := rep.Phases[0].Steps
	require.Greater(t, steps, 2, "a phase of several steps")
	running := 0
	for _, s := range *upserts {
		if s.Phase == rep.Phases[0].Phase && s.PhaseState == migration.PhaseRunning {
			running++
		}
	}
	require.Equal(t, 1, running, "one upsert when the phase starts, none per step: %v", *upserts)
}

// steppedSpec is one phase of five action steps.
func steppedSpec(t *testing.T) config.Spec {
	return mustSpec(t, `name: test
phases:
  - phase: copy
    counted: {count: 5}
`)
}
