package workflows

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"

	// Recorded runs use every driver: their specs must decode as the
	// worker's do, or the replay would take another path.
	_ "github.com/godwit/godwit/drivers"
)

// TestReplayRecordedHistories replays histories recorded from real runs
// (integration tests with GODWIT_RECORD_HISTORY set). A workflow change that
// is not deterministic for runs already in flight fails here: put it behind
// workflow.GetVersion instead.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/histories/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files, "no recorded histories: the replay test would prove nothing")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(Migration, workflowRegisterOptions())
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(nil, f))
		})
	}
}
