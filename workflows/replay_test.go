package workflows

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	// Recorded runs use every driver: their specs must decode as the
	// worker's do, or the replay would take another path.
	_ "github.com/godwit/godwit/drivers"
)

// TestReplayRecordedHistories replays histories recorded from real runs
// (integration tests with GODWIT_RECORD_HISTORY set): migrations of every
// driver kind and rare path, and the Preflight and Lease workflows. A
// workflow change that is not deterministic for runs already in flight
// fails here: put it behind workflow.GetVersion instead.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/histories/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files, "no recorded histories: the replay test would prove nothing")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			Register(r)
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(nil, f))
		})
	}
}

// TestReplayCatchesAChangedWorkflow proves the replay test can fail: each
// recorded history replayed against workflows that decide differently (no
// command at all) is reported as nondeterministic.
func TestReplayCatchesAChangedWorkflow(t *testing.T) {
	files, err := filepath.Glob("testdata/histories/*.json")
	require.NoError(t, err)
	changed := func(ctx workflow.Context, _ any) error {
		// An activity no recorded run ever scheduled, as its first command.
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
		return workflow.ExecuteActivity(ctx, "NeverRecorded").Get(ctx, nil)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			for _, name := range []string{WorkflowName, PreflightWorkflowName, LeaseWorkflowName} {
				r.RegisterWorkflowWithOptions(changed, workflow.RegisterOptions{Name: name})
			}
			require.Error(t, r.ReplayWorkflowHistoryFromJSONFile(nil, f))
		})
	}
}
