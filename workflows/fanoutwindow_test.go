package workflows

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
)

// fannedRated is a driver section for tests whose fanned-out phase takes
// a rate (a copy with fanOut).
type fannedRated struct {
	Limit         int `yaml:"limit" json:"limit"`
	RowsPerSecond int `yaml:"rowsPerSecond" json:"rowsPerSecond"`
}

func (f *fannedRated) Check(*config.CheckContext) {}
func (f *fannedRated) FanOut() int                { return f.Limit }
func (f *fannedRated) WithRowsPerSecond(rps int) config.DriverSpec {
	c := *f
	c.RowsPerSecond = rps
	return &c
}

func init() {
	config.RegisterDriver("fannedRated", func() config.DriverSpec { return &fannedRated{} })
}

// planUnits makes the harness's unit planning return names, and records
// which workflow ran it.
func planUnits(h *harness, names []string, ranIn *[]string) {
	registerUnitPlanner(h, func(ctx context.Context, in activities.PhaseInput) ([]string, error) {
		if ranIn != nil {
			*ranIn = append(*ranIn, activity.GetInfo(ctx).WorkflowExecution.ID)
		}
		return names, nil
	})
}

func unitNames(n int) []string {
	units := make([]string, n)
	for k := range units {
		units[k] = fmt.Sprintf("t [%d, %d)", k*10, (k+1)*10)
	}
	return units
}

// unitsIn returns the units the fake ran, by workflow ID.
func unitsIn(h *harness, calls map[string][]string) func(ctx context.Context, in activities.PhaseInput) {
	var mu sync.Mutex
	return func(ctx context.Context, in activities.PhaseInput) {
		mu.Lock()
		defer mu.Unlock()
		id := activity.GetInfo(ctx).WorkflowExecution.ID
		calls[id] = append(calls[id], in.Unit)
	}
}

// TestATwentyThousandUnitFanOutRunsInWindowsOfBoundedHistory: 20,000
// units, far past what one run's history holds (about 8,000), run in 20
// FanOutWindow children of 1,000 units each; the migration itself runs no
// unit, only the planning and one child per window, so its history grows
// by windows, not units; the figures add up over every unit.
func TestATwentyThousandUnitFanOutRunsInWindowsOfBoundedHistory(t *testing.T) {
	const n = 20_000
	h := newHarness(t)
	var planned []string
	planUnits(h, unitNames(n), &planned)
	byRun := map[string][]string{}
	record := unitsIn(h, byRun)
	h.fake.result = func(ctx context.Context, in activities.PhaseInput, _ *activities.PhaseResult) error {
		record(ctx, in)
		return nil
	}
	var children []string
	h.env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
		children = append(children, info.WorkflowType.Name+" "+info.WorkflowExecution.ID)
	})
	rep, err := h.run(mustSpec(t, `name: test
phases:
  - {phase: copy, fanned: {limit: 100}}
`))
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, rep.Status)

	require.Len(t, children, n/DefaultFanOutWindow, "one child per window of %d units", DefaultFanOutWindow)
	seen := map[string]bool{}
	for id, units := range byRun {
		require.True(t, strings.HasPrefix(id, FanOutIDPrefix+"test:"), "unit ran in %s, not in a window", id)
		require.LessOrEqual(t, len(units), DefaultFanOutWindow, "window %s", id)
		for _, u := range units {
			require.False(t, seen[u], "unit %s ran twice", u)
			seen[u] = true
		}
	}
	require.Len(t, seen, n, "every unit ran")
	require.Len(t, byRun, n/DefaultFanOutWindow)
	for _, c := range children {
		require.True(t, strings.HasPrefix(c, FanOutWindowName+" "+FanOutIDPrefix), c)
	}
	require.Equal(t, []string{"default-test-workflow-id"}, planned, "the migration ran only the planning")
	// A window costs the parent fanOutEventsPerWindow events at most: 20
	// windows stay far below one run's budget, as do 1,000 units a child.
	require.Less(t, len(children)*fanOutEventsPerWindow, HistoryEventsPerRun/10)
	require.Less(t, DefaultFanOutWindow*fanOutEventsPerUnit, HistoryEventsPerRun/4)

	p := rep.Phases[0]
	require.Equal(t, migration.PhaseCompleted, p.State)
	require.Equal(t, int64(10*n), p.Records, "records summed over every unit")
	require.Equal(t, n, p.Units)
	require.Equal(t, n, p.UnitsDone)
	require.Equal(t, fmt.Sprintf("%d of %d units done, 0 running", n, n), p.Step)
	require.True(t, strings.HasPrefix(p.Summary, "20000 units: t [0, 10): ok run:copy; t [10, 20): ok run:copy"), p.Summary)
	require.True(t, strings.HasSuffix(p.Summary, "; and 19980 more"), p.Summary)
}

// TestAFanOutOfOneWindowRunsInTheMigrationItself: a fan-out no larger
// than a window runs as before, one activity per unit in the migration.
func TestAFanOutOfOneWindowRunsInTheMigrationItself(t *testing.T) {
	h := newHarness(t)
	planUnits(h, unitNames(5), nil)
	byRun := map[string][]string{}
	record := unitsIn(h, byRun)
	h.fake.result = func(ctx context.Context, in activities.PhaseInput, _ *activities.PhaseResult) error {
		record(ctx, in)
		return nil
	}
	_, err := h.runInput(Input{Spec: mustSpec(t, `name: test
phases:
  - {phase: copy, fanned: {limit: 2}}
`), FanOutWindow: 5})
	require.NoError(t, err)
	require.Len(t, byRun, 1)
	require.Len(t, byRun["default-test-workflow-id"], 5)
}

// TestAFailedUnitInAWindowStopsThePhaseAndRollsBack: the unit that fails
// for good stops its window and the windows after it; the phase fails
// naming the unit, and what the others did is undone.
func TestAFailedUnitInAWindowStopsThePhaseAndRollsBack(t *testing.T) {
	h := newHarness(t)
	planUnits(h, []string{"a", "b", "c", "d", "e", "f"}, nil)
	h.fake.behave = func(ctx context.Context, call string, _ int32) error {
		if len(h.fake.Calls()) == 3 { // c, in the second window
			return temporal.NewNonRetryableApplicationError("table c has no primary key", "Test", nil)
		}
		return nil
	}
	rep, err := h.runInput(Input{Spec: mustSpec(t, `name: test
phases:
  - {phase: copy, retry: {maxAttempts: 1}, fanned: {limit: 1}}
`), FanOutWindow: 2})
	require.Error(t, err)
	require.Equal(t, []string{"run:copy", "run:copy", "run:copy", "compensate:copy"}, h.fake.Calls(),
		"d, e and f never started; the phase was undone")
	var units []string
	for _, in := range h.fake.inputs {
		units = append(units, in.Unit)
	}
	require.Equal(t, []string{"a", "b", "c"}, units[:3], "in order")
	require.Equal(t, "phase copy failed: unit c: table c has no primary key", rep.Error)
	require.Equal(t, migration.StatusRolledBack, rep.Status)
	require.Equal(t, 2, rep.Phases[0].UnitsDone)
	require.Equal(t, int64(20), rep.Phases[0].Records)
}

// TestPauseAndThrottleReachTheUnitsOfARunningWindow: a pause sent while
// a window runs holds its units not yet started, a throttle gives them
// the new rate, and resume lets them go; the next window starts at the
// new rate too.
func TestPauseAndThrottleReachTheUnitsOfARunningWindow(t *testing.T) {
	h := newHarness(t)
	planUnits(h, []string{"a", "b", "c", "d", "e", "f"}, nil)
	h.fake.behave = func(ctx context.Context, call string, _ int32) error {
		if len(h.fake.Calls()) != 1 {
			return nil
		}
		h.env.SignalWorkflow(SignalPause, PauseRequest{By: "ops"})
		h.env.UpdateWorkflow(UpdateThrottle, "t", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("rejected: %v", err) }, OnAccept: func() {}, OnComplete: func(any, error) {},
		}, ThrottleRequest{RowsPerSecond: 2000, By: "ops"})
		// Unit a ends once the controls reached its window.
		time.Sleep(300 * time.Millisecond)
		return nil
	}
	h.env.RegisterDelayedCallback(func() {
		// The unit started before the pause reached the window may run;
		// the one after it waits.
		require.LessOrEqual(t, len(h.fake.Calls()), 2, "c waits while paused")
		require.Equal(t, migration.StatusPaused, h.query().Status)
		h.env.SignalWorkflow(SignalResume, PauseRequest{By: "ops"})
	}, time.Hour)
	rep, err := h.runInput(Input{Spec: mustSpec(t, `name: test
phases:
  - {phase: copy, fannedRated: {limit: 1, rowsPerSecond: 500}}
`), FanOutWindow: 3})
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, rep.Status)
	var rates []string
	for _, in := range h.fake.inputs {
		rates = append(rates, fmt.Sprintf("%s@%d", in.Unit, in.Phase.Driver.(*fannedRated).RowsPerSecond))
	}
	require.Equal(t, "a@500", rates[0])
	require.Equal(t, []string{"c@2000", "d@2000", "e@2000", "f@2000"}, rates[2:], "the units after the throttle take its rate")
	require.Equal(t, 6, rep.Phases[0].UnitsDone)
}

// TestARollbackCancelsTheRunningWindow: a rollback while a window runs
// cancels its running unit and starts no other; the phase is cancelled
// and what its units did is undone.
func TestARollbackCancelsTheRunningWindow(t *testing.T) {
	h := newHarness(t)
	planUnits(h, []string{"a", "b", "c", "d", "e", "f"}, nil)
	h.fake.behave = func(ctx context.Context, call string, _ int32) error {
		if call != "run:copy" || len(h.fake.Calls()) != 3 {
			return nil
		}
		h.env.SignalWorkflow(SignalRollback, RollbackRequest{By: "ops", Reason: "stop"})
		select {
		case <-ctx.Done():
			return temporal.NewCanceledError()
		case <-time.After(10 * time.Second):
			return nil
		}
	}
	rep, err := h.runInput(Input{Spec: mustSpec(t, `name: test
phases:
  - {phase: copy, heartbeatTimeout: 1s, fanned: {limit: 1}}
`), FanOutWindow: 2})
	require.NoError(t, err, "a requested rollback that undid everything completes")
	require.Equal(t, migration.StatusRolledBack, rep.Status)
	require.Equal(t, []string{"run:copy", "run:copy", "run:copy", "compensate:copy"}, h.fake.Calls(), "c was cancelled, d never started")
	require.Equal(t, 2, rep.Phases[0].UnitsDone)
	require.Equal(t, migration.PhaseCompensated, rep.Phases[0].State, "%+v", rep.Phases[0])
}
