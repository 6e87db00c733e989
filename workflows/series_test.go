package workflows

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/godwit/godwit/migration"
)

// The run keeps a series of its figures at its boundaries: the status
// query returns it while a gate waits, and the final report has it, in
// time order, from the run's start to its end.
func TestSeriesIsKeptAtBoundariesAndQueried(t *testing.T) {
	h := newHarness(t)
	var atGate migration.Report
	h.env.RegisterDelayedCallback(func() {
		atGate = h.query()
		h.env.UpdateWorkflow(UpdateApprove, "approve", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("approval rejected: %v", err) },
			OnAccept: func() {}, OnComplete: func(any, error) {},
		}, ApproveRequest{Gate: "go-live", By: "dave"})
	}, time.Hour)
	rep, err := h.run(gatedSpec(""))
	require.NoError(t, err)

	require.NotEmpty(t, atGate.Series, "the status query returns the series")
	require.Equal(t, migration.StatusWaitingApproval, atGate.Status)
	require.Greater(t, len(rep.Series), len(atGate.Series), "the boundaries after the gate added points")
	require.LessOrEqual(t, len(rep.Series), migration.MaxSeries)
	require.Equal(t, atGate.Series[0], rep.Series[0], "the series goes on from the start")
	for i := 1; i < len(rep.Series); i++ {
		require.True(t, rep.Series[i].At.After(rep.Series[i-1].At), "points in time order: %v", rep.Series)
	}
	require.False(t, rep.Series[len(rep.Series)-1].At.Before(rep.EndTime), "the last point is the run's end")
}

// The series travels in the continue-as-new input, and the next run goes
// on from it.
func TestSeriesIsCarriedAcrossContinueAsNew(t *testing.T) {
	h := newHarness(t)
	h.env.ExecuteWorkflow(WorkflowName, Input{Spec: steppedSpec(t), ActivitiesPerRun: 2})
	in := continuedAsNew(t, h)
	carried := in.Carry.Report.Series
	require.NotEmpty(t, carried, "the first run's points are in the carry")

	h2 := newHarness(t)
	in.ActivitiesPerRun = 100
	h2.env.ExecuteWorkflow(WorkflowName, in)
	require.True(t, h2.env.IsWorkflowCompleted())
	require.NoError(t, h2.env.GetWorkflowError())
	var rep migration.Report
	require.NoError(t, h2.env.GetWorkflowResult(&rep))
	require.Greater(t, len(rep.Series), len(carried), "the next run added its own points")
	require.Equal(t, carried[0].At, rep.Series[0].At, "the next run's series starts with the first run's")
}

// continuedAsNew returns the input the harness's run handed to the next
// run when it continued as new.
func continuedAsNew(t *testing.T, h *harness) Input {
	t.Helper()
	require.True(t, h.env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(h.env.GetWorkflowError(), &can), "the run continued as new: %v", h.env.GetWorkflowError())
	var in Input
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &in))
	require.NotNil(t, in.Carry)
	return in
}
