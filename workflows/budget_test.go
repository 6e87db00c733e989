package workflows

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/migration"
)

// historyOf makes every run of the test report a history of that many
// events and bytes (the test environment reports none).
func historyOf(t *testing.T, events, bytes int, suggested bool) {
	t.Helper()
	was := historyUse
	historyUse = func(workflow.Context) (int, int, bool) { return events, bytes, suggested }
	t.Cleanup(func() { historyUse = was })
}

func TestARunOverItsHistoryBudgetContinuesAsNewBetweenPhases(t *testing.T) {
	spec := mustSpec(t, `name: test
phases:
  - {phase: validate, hook: `+hookOK+`}
  - {phase: reconcile, hook: `+hookOK+`}
`)
	for _, tc := range []struct {
		name          string
		events, bytes int
		suggested     bool
	}{
		{"events", HistoryEventsPerRun, 0, false},
		{"bytes", 100, HistoryBytesPerRun, false},
		{"suggested by the server", 100, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			historyOf(t, tc.events, tc.bytes, tc.suggested)
			h := newHarness(t)
			h.env.ExecuteWorkflow(WorkflowName, Input{Spec: spec})
			require.True(t, h.env.IsWorkflowCompleted())
			var can *workflow.ContinueAsNewError
			require.ErrorAs(t, h.env.GetWorkflowError(), &can, "a run over its history budget continues as new")
			require.Equal(t, runs(migration.PhaseValidate), h.fake.Calls(), "the first phase ran; a new run starts the second")
			var in Input
			require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &in))
			require.NotNil(t, in.Carry)
			require.Equal(t, 1, in.Carry.Phase)
			require.Equal(t, migration.PhaseCompleted, in.Carry.Report.Phases[0].State)
		})
	}
}

func TestARunUnderItsHistoryBudgetDoesNotContinueAsNew(t *testing.T) {
	historyOf(t, HistoryEventsPerRun-1, HistoryBytesPerRun-1, false)
	h := newHarness(t)
	rep, err := h.run(mustSpec(t, `name: test
phases:
  - {phase: validate, hook: `+hookOK+`}
  - {phase: reconcile, hook: `+hookOK+`}
`))
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, rep.Status)
}

func TestAStepPhaseOverItsHistoryBudgetContinuesAsNewAtItsNextStep(t *testing.T) {
	historyOf(t, HistoryEventsPerRun, 0, false)
	h := newHarness(t)
	h.env.ExecuteWorkflow(WorkflowName, Input{Spec: mustSpec(t, `name: test
phases:
  - {phase: copy, counted: {count: 5}}
`)})
	require.True(t, h.env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, h.env.GetWorkflowError(), &can)
	require.Equal(t, []string{"run:copy#1"}, h.fake.Calls(), "one step, then a new run")
	var in Input
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &in))
	require.Equal(t, 0, in.Carry.Phase)
	require.Equal(t, 1, in.Carry.Step)
}

// TestAFanOutOverTheHistoryBudgetFailsBeforeAnyUnit: a run from before
// fanOutWindowsV1 (in flight across the upgrade) keeps the old ceiling;
// since, such a fan-out runs in windows
// (TestATwentyThousandUnitFanOutRunsInWindowsOfBoundedHistory).
func TestAFanOutOverTheHistoryBudgetFailsBeforeAnyUnit(t *testing.T) {
	h := newHarness(t)
	h.env.OnGetVersion(changeFanOutWindows, workflow.DefaultVersion, fanOutWindowsV1).Return(workflow.DefaultVersion)
	n := MaxFanOutUnits + 1
	registerUnitPlanner(h, func(ctx context.Context, in activities.PhaseInput) ([]string, error) {
		units := make([]string, n)
		for k := range units {
			units[k] = fmt.Sprintf("t%d", k)
		}
		return units, nil
	})
	rep, err := h.run(mustSpec(t, `name: test
phases:
  - {phase: copy, fanned: {limit: 2}}
`))
	require.Error(t, err)
	require.Empty(t, h.fake.Calls(), "no unit ran")
	require.Equal(t, migration.PhaseFailed, rep.Phases[0].State)
	require.Contains(t, rep.Phases[0].Error, fmt.Sprintf("%d units are too many for one workflow run, so no unit was started", n))
	require.Contains(t, rep.Phases[0].Error, fmt.Sprintf("at most about %d units", MaxFanOutUnits))
	require.Contains(t, rep.Phases[0].Error, "Raise splitRows")
}

// TestAWindowedFanOutOverTheHistoryBudgetFailsBeforeAnyUnit: even in
// windows, units whose names alone would fill the run's bytes fail the
// phase before any starts, saying why.
func TestAWindowedFanOutOverTheHistoryBudgetFailsBeforeAnyUnit(t *testing.T) {
	historyOf(t, 1000, HistoryBytesPerRun-1000*fanOutBytesPerUnitWindowed, false)
	h := newHarness(t)
	planUnits(h, unitNames(2000), nil)
	rep, err := h.run(mustSpec(t, `name: test
phases:
  - {phase: copy, fanned: {limit: 2}}
`))
	require.Error(t, err)
	require.Empty(t, h.fake.Calls(), "no unit ran")
	require.Contains(t, rep.Phases[0].Error, "2000 units are too many for one workflow run, even in 2 windows of 1000 units, so no unit was started")
}

func TestALagFollowerOverItsHistoryBudgetContinuesAsNewAtTheGate(t *testing.T) {
	h := newHarness(t)
	var caughtUp atomic.Bool
	var bounded atomic.Int32
	laggingReplication(h, &caughtUp, &bounded)
	was := historyUse
	// The history reaches the budget after the follower's second run.
	historyUse = func(workflow.Context) (int, int, bool) {
		if bounded.Load() >= 2 {
			return HistoryEventsPerRun, 0, false
		}
		return 100, 0, false
	}
	t.Cleanup(func() { historyUse = was })
	h.env.ExecuteWorkflow(WorkflowName, Input{Spec: mustSpec(t, lagSpec)})
	in := continuedAsNew(t, h)
	require.Equal(t, 2, in.Carry.Phase, "the next run waits at the same gate")
	require.Equal(t, 0, in.Carry.Step)
	require.Equal(t, 2, int(bounded.Load()), "the follower stopped once the history reached the budget")
	require.NotEmpty(t, in.Carry.LagCheckpoint, "the follower's checkpoint is carried")
}
