package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
)

// A phase name the run's spec does not have is a typo, not a phase that
// has not run yet: `godwit output` says so, with the phases it has.
func TestOutputOfAPhaseTheSpecDoesNotHave(t *testing.T) {
	spec := &config.Spec{Name: "orders", Phases: []config.PhaseSpec{
		{Phase: migration.PhaseValidate, Name: "validate", Driver: &config.Hook{}},
		{Phase: migration.PhaseCopy, Name: "copy-orders", Driver: &config.Hook{}},
		{Phase: migration.PhaseReconcile, Name: "reconcile", Driver: &config.Hook{}},
	}}
	r, _ := runningReport()
	c := &fakeClient{states: []wfState{{report: r}}, startSpec: spec}

	out, _, err := godwit(t, c.dial, "output", "orders", "copy-order")
	require.Error(t, err, out)
	assert.Equal(t, `migration orders has no phase named "copy-order" (did you mean "copy-orders"?); its phases: validate, copy-orders, reconcile`, err.Error())

	// A phase the spec has that has not run yet keeps the plain answer.
	out, _, err = godwit(t, c.dial, "output", "orders", "reconcile")
	require.NoError(t, err)
	assert.Equal(t, "no hook output recorded for orders reconcile: a phase that has not run yet, or was cancelled while running, has none\n", out)
}

// The attempt a pause stopped is listed with its number: when a worker
// was killed before the pause, it reads attempt 2, the trace of the
// retry (the activity the resume starts begins at attempt 1 again).
func TestOutputListsTheAttemptAPauseStopped(t *testing.T) {
	dc := converter.GetDefaultDataConverter()
	stopped := activities.PhaseResult{Phase: "copy", Kind: migration.PhaseCopy, Action: activities.ActionRun, Attempt: 2, Output: "unit 10\n", Checkpoint: "10"}
	details, err := dc.ToPayloads(stopped)
	require.NoError(t, err)
	ev := &historypb.HistoryEvent{EventId: 12, Attributes: &historypb.HistoryEvent_ActivityTaskCanceledEventAttributes{
		ActivityTaskCanceledEventAttributes: &historypb.ActivityTaskCanceledEventAttributes{Details: details}}}
	r, ok, err := attemptFromEvent(dc, ev)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, int32(2), r.Attempt)
	assert.Equal(t, "unit 10\n", r.Output)
	assert.Equal(t, ", stopped at its checkpoint (a pause, a new throttle or a rollback)", r.failure)

	bare := &historypb.HistoryEvent{EventId: 13, Attributes: &historypb.HistoryEvent_ActivityTaskCanceledEventAttributes{
		ActivityTaskCanceledEventAttributes: &historypb.ActivityTaskCanceledEventAttributes{}}}
	_, ok, err = attemptFromEvent(dc, bare)
	require.NoError(t, err)
	assert.False(t, ok, "a cancellation without the activity's result has nothing to show")
}
