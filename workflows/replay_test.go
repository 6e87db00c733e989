package workflows

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	// Recorded runs use every driver: their specs must decode as the
	// worker's do, or the replay would take another path.
	"github.com/godwit/godwit/drivers"
)

// recordedHistories lists the recorded histories: JSON files, and the
// large ones gzipped (*.json.gz, a 300-table run is 3.6 MB of JSON and
// 0.2 MB gzipped), which historyFile opens.
func recordedHistories(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/histories/*.json")
	require.NoError(t, err)
	zipped, err := filepath.Glob("testdata/histories/*.json.gz")
	require.NoError(t, err)
	return append(files, zipped...)
}

// historyFile is the path of f's JSON: f itself, or a gzipped f unzipped
// into the test's temporary directory.
func historyFile(t *testing.T, f string) string {
	t.Helper()
	if !strings.HasSuffix(f, ".gz") {
		return f
	}
	in, err := os.Open(f)
	require.NoError(t, err)
	defer in.Close()
	zr, err := gzip.NewReader(in)
	require.NoError(t, err, f)
	out := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(f), ".gz"))
	w, err := os.Create(out)
	require.NoError(t, err)
	_, err = io.Copy(w, zr)
	require.NoError(t, err, f)
	require.NoError(t, w.Close())
	return out
}

// TestReplayRecordedHistories replays histories recorded from real runs
// (integration tests with GODWIT_RECORD_HISTORY set): migrations of every
// driver kind and rare path, and the Preflight and Lease workflows. A
// workflow change that is not deterministic for runs already in flight
// fails here: put it behind workflow.GetVersion instead.
func TestReplayRecordedHistories(t *testing.T) {
	files := recordedHistories(t)
	require.NotEmpty(t, files, "no recorded histories: the replay test would prove nothing")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			// Logging on in replay, so the guard sees every status move
			// the recorded run makes on today's code.
			r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{EnableLoggingInReplay: true})
			require.NoError(t, err)
			Register(r)
			guard := newStatusGuard()
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(guard, historyFile(t, f)))
			guard.check(t)
		})
	}
}

// TestReplayCatchesAChangedWorkflow proves the replay test can fail: each
// recorded history replayed against workflows that decide differently (no
// command at all) is reported as nondeterministic.
func TestReplayCatchesAChangedWorkflow(t *testing.T) {
	files := recordedHistories(t)
	changed := func(ctx workflow.Context, _ any) error {
		// An activity no recorded run ever scheduled, as its first command.
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
		return workflow.ExecuteActivity(ctx, "NeverRecorded").Get(ctx, nil)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			for _, name := range []string{WorkflowName, PreflightWorkflowName, LeaseWorkflowName, FanOutWindowName} {
				r.RegisterWorkflowWithOptions(changed, workflow.RegisterOptions{Name: name})
			}
			require.Error(t, r.ReplayWorkflowHistoryFromJSONFile(nil, historyFile(t, f)))
		})
	}
}

// TestEveryDriverHasARecordedHistory: a run from before plans-as-data
// calls a driver's code while it replays (its spec section decodes, its
// planner decides), and a run since carries its section raw to the
// activities; each registered driver needs a recorded run whose spec uses
// its section, or a change to it could break runs in flight unseen.
// Record one from an integration test (recordHistory) when adding a
// driver.
func TestEveryDriverHasARecordedHistory(t *testing.T) {
	files := recordedHistories(t)
	used := map[string]bool{}
	for _, f := range files {
		for key := range recordedPhaseSections(t, f) {
			used[key] = true
		}
	}
	// The build's drivers, not every registered key: tests of this
	// package register stand-ins of their own.
	keys := []string{"hook"}
	for key := range drivers.Builtin(hclog.NewNullLogger()) {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		require.True(t, used[key], "no recorded history's spec has a phase with a %s: section: record one (integration test calling recordHistory, run with GODWIT_RECORD_HISTORY=$PWD/workflows/testdata/histories)", key)
	}
}

// recordedPhaseSections returns the keys of every phase of the spec a
// recorded Migration run started with (none for other workflows).
func recordedPhaseSections(t *testing.T, file string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(historyFile(t, file))
	require.NoError(t, err)
	var h struct {
		Events []struct {
			Started *struct {
				Type  struct{ Name string } `json:"workflowType"`
				Input struct {
					Payloads []struct{ Data []byte } `json:"payloads"`
				} `json:"input"`
			} `json:"workflowExecutionStartedEventAttributes"`
		} `json:"events"`
	}
	require.NoError(t, json.Unmarshal(b, &h), file)
	require.NotEmpty(t, h.Events, file)
	started := h.Events[0].Started
	require.NotNil(t, started, "%s: the first event is not the run's start", file)
	keys := map[string]bool{}
	if started.Type.Name != WorkflowName || len(started.Input.Payloads) == 0 {
		return keys
	}
	var in struct {
		Spec struct {
			Phases []map[string]json.RawMessage `json:"phases"`
		} `json:"spec"`
	}
	require.NoError(t, json.Unmarshal(started.Input.Payloads[0].Data, &in), "%s: the run's input", file)
	for _, p := range in.Spec.Phases {
		for k := range p {
			keys[k] = true
		}
	}
	return keys
}
