package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/encoding/protojson"

	historypb "go.temporal.io/api/history/v1"

	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

// demo is one run of examples/demo.yaml in its own directory under a name
// of its own, so tests can run side by side.
type demo struct {
	t    *testing.T
	name string
	dir  string
	spec string
}

// newDemo prepares the demo under name. batchPause replaces the copy's
// pause between batches ("0.3" in the example): tests that must catch the
// copy while it runs slow it down, so a loaded machine cannot make them miss
// it.
func newDemo(t *testing.T, name, batchPause string) *demo {
	t.Helper()
	return newDemoFrom(t, "demo.yaml", name, batchPause)
}

// newDemoFrom is newDemo for another of the examples on the demo's files.
func newDemoFrom(t *testing.T, example, name, batchPause string) *demo {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "examples", example))
	require.NoError(t, err)
	d := &demo{t: t, name: name, dir: t.TempDir()}
	text := strings.ReplaceAll(string(src), "/tmp/godwit-demo", d.dir)
	require.Contains(t, text, "sleep 0.3", "the demo's copy pause moved: update newDemo")
	text = strings.ReplaceAll(text, "sleep 0.3", "sleep "+batchPause)
	text = regexp.MustCompile(`(?m)^name: .*$`).ReplaceAllString(text, "name: "+name)
	d.spec = filepath.Join(d.dir, "spec.yaml")
	require.NoError(t, os.WriteFile(d.spec, []byte(text), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(d.dir, "legacy"), 0o755))
	var rows strings.Builder
	for i := 1; i <= 1000; i++ {
		fmt.Fprintf(&rows, "%d,user%d@example.com,user %d\n", i, i, i)
	}
	require.NoError(t, os.WriteFile(filepath.Join(d.dir, "legacy/users.csv"), []byte(rows.String()), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(d.dir, "routing"), []byte("new=0 legacy=100\n"), 0o644))
	return d
}

func (d *demo) start() {
	d.t.Helper()
	out, err := godwit(d.t, "start", "-f", d.spec)
	require.NoError(d.t, err, out)
	require.Contains(d.t, out, "started migration "+d.name)
}

func (d *demo) status() migration.Report {
	d.t.Helper()
	out, err := godwit(d.t, "status", d.name, "-o", "json")
	require.NoError(d.t, err, out)
	var rep migration.Report
	require.NoError(d.t, json.Unmarshal([]byte(out), &rep), out)
	return rep
}

// waitFor polls the status query until cond holds, for as long as the
// run keeps moving (waitWhileMoving).
func (d *demo) waitFor(what string, cond func(migration.Report) bool) migration.Report {
	d.t.Helper()
	return waitWhileMoving(d.t, what, d.status, cond)
}

// result waits for the run's end and returns the final report.
func (d *demo) result() (migration.Report, error) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var rep migration.Report
	err := env.client.GetWorkflow(ctx, d.name, "").Get(ctx, &rep)
	if err != nil {
		final, ok := workflows.ReportFromError(err)
		require.True(d.t, ok, "the run ended without a report: %v", err)
		rep = *final
	}
	return rep, err
}

func (d *demo) read(path string) string {
	d.t.Helper()
	b, err := os.ReadFile(filepath.Join(d.dir, path))
	require.NoError(d.t, err)
	return string(b)
}

func (d *demo) exists(path string) bool {
	_, err := os.Stat(filepath.Join(d.dir, path))
	return err == nil
}

func waitingAt(gate string) func(migration.Report) bool {
	return func(r migration.Report) bool { return r.WaitingGate == gate }
}

func TestDemoMigrationCompletes(t *testing.T) {
	t.Parallel()
	d := newDemo(t, "it-demo-complete", "0.8")
	legacy := d.read("legacy/users.csv")
	d.start()

	running := d.waitFor("copy to run", func(r migration.Report) bool {
		return r.CurrentIndex == 2 && r.Phases[2].State == migration.PhaseRunning
	})
	require.Equal(t, migration.StatusInProgress, running.Status)
	require.Equal(t, "3 of 6: copy", running.CurrentPhase)
	require.Equal(t, migration.RollbackAvailable, running.Rollback)

	rep := d.waitFor("the go-live gate", waitingAt("go-live"))
	require.Equal(t, migration.StatusWaitingApproval, rep.Status)
	require.InDelta(t, 50.0, rep.OverallProgress, 0.01)
	require.Equal(t, int64(1000), rep.Metrics.RecordsCopied)

	out, err := godwit(t, "approve", d.name, "--gate", "nope")
	require.Error(t, err)
	require.Contains(t, out+err.Error(), `gate "nope" is not waiting for approval; the waiting gate is "go-live"`)
	out, err = godwit(t, "approve", d.name, "--gate", "go-live", "--by", "it")
	require.NoError(t, err, out)
	require.Contains(t, out, "gate go-live approved by it")

	final, err := d.result()
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.Equal(t, "it", final.Phases[3].ApprovedBy)
	require.Equal(t, legacy, d.read("target/users.csv"), "the copy must hold every legacy row")
	require.Equal(t, "new=100 legacy=0\n", d.read("routing"))
	require.False(t, d.exists("legacy"), "decommission retires the legacy store")
	require.True(t, d.exists("legacy.decommissioned"))

	recordHistory(t, d.name)
}

func TestRollbackBySignalUndoesHookEffects(t *testing.T) {
	t.Parallel()
	d := newDemo(t, "it-demo-rollback", "0.1")
	d.start()
	d.waitFor("the go-live gate", waitingAt("go-live"))
	require.True(t, d.exists("target/users.csv"), "copy ran before the gate")

	out, err := godwit(t, "rollback", d.name, "--reason", "p99 too high")
	require.NoError(t, err, out)

	final, err := d.result()
	require.NoError(t, err, "a requested rollback that undid every phase completes the run")
	require.Equal(t, migration.StatusRolledBack, final.Status)
	require.Contains(t, final.Error, "p99 too high")
	require.False(t, d.exists("target"), "provision's compensation removes the target store")
	require.Equal(t, "new=0 legacy=100\n", d.read("routing"), "traffic never moved")
	require.True(t, d.exists("legacy/users.csv"), "legacy is untouched")
	require.Equal(t, migration.PhaseCompensated, final.Phases[1].State)
	require.Equal(t, migration.PhaseCompensated, final.Phases[2].State)
	recordHistory(t, d.name)

	// A finished migration can no longer be steered.
	out, err = godwit(t, "rollback", d.name, "--reason", "again")
	require.Error(t, err)
	require.Contains(t, err.Error(), "has already ended (ROLLED_BACK)")
}

func TestRollbackCancelsARunningPhase(t *testing.T) {
	t.Parallel()
	d := newDemo(t, "it-demo-cancel", "3")
	d.start()
	d.waitFor("copy to run", func(r migration.Report) bool {
		return r.CurrentIndex == 2 && r.Phases[2].State == migration.PhaseRunning
	})
	out, err := godwit(t, "rollback", d.name, "--reason", "stop the copy")
	require.NoError(t, err, out)

	final, _ := d.result()
	require.Equal(t, migration.StatusRolledBack, final.Status)
	require.Equal(t, migration.PhaseCancelled, final.Phases[2].State)
	require.False(t, d.exists("target"))
}

func TestStartingARunningMigrationIsRefused(t *testing.T) {
	t.Parallel()
	d := newDemo(t, "it-demo-duplicate", "3") // still copying when paused
	d.start()
	out, err := godwit(t, "start", "-f", d.spec)
	require.Error(t, err, out)
	require.Contains(t, err.Error(), `migration "it-demo-duplicate" is already running`)

	out, err = godwit(t, "pause", d.name)
	require.NoError(t, err, out)
	paused := d.waitFor("pause", func(r migration.Report) bool { return r.Status == migration.StatusPaused })
	require.True(t, paused.Paused)
	out, err = godwit(t, "list")
	require.NoError(t, err, out)
	require.Regexp(t, `it-demo-duplicate\s+PAUSED`, out)
	out, err = godwit(t, "list", "--status", "paused")
	require.NoError(t, err, out)
	require.Contains(t, out, "it-demo-duplicate")
	out, err = godwit(t, "list", "--status", "completed")
	require.NoError(t, err, out)
	require.NotContains(t, out, "it-demo-duplicate")

	out, err = godwit(t, "rollback", d.name, "--reason", "cleanup")
	require.NoError(t, err, out)
	final, _ := d.result()
	require.Equal(t, migration.StatusRolledBack, final.Status)
}

func TestStatusOfUnknownMigration(t *testing.T) {
	t.Parallel()
	_, err := godwit(t, "status", "no-such-migration")
	require.EqualError(t, err, `no migration named "no-such-migration" in this namespace: see `+"`godwit list`")
}

// runHistory returns one run's whole history (runID "" for the latest).
func runHistory(t *testing.T, workflowID, runID string) *historypb.History {
	t.Helper()
	iter := env.client.GetWorkflowHistory(context.Background(), workflowID, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var h historypb.History
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		h.Events = append(h.Events, ev)
	}
	return &h
}

// historyJSON renders a history as the replayer reads it.
func historyJSON(t *testing.T, h *historypb.History) []byte {
	t.Helper()
	b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(h)
	require.NoError(t, err)
	return b
}

// historyText returns the latest run's whole history as JSON text.
func historyText(t *testing.T, workflowID string) string {
	t.Helper()
	return string(historyJSON(t, runHistory(t, workflowID, "")))
}

// recordHistory saves the run's history as JSON for the replay test in
// workflows/, when GODWIT_RECORD_HISTORY names a directory (e.g.
// workflows/testdata/histories). Record anew only when a workflow change is
// meant to be compatible with a new history shape.
func recordHistory(t *testing.T, workflowID string) {
	t.Helper()
	if os.Getenv("GODWIT_RECORD_HISTORY") == "" {
		return
	}
	recordRun(t, workflowID, "", strings.TrimPrefix(workflowID, "it-")+".json")
}

func TestFailedReconcileRollsBackOnItsOwn(t *testing.T) {
	t.Parallel()
	d := newDemoFrom(t, "demo-broken.yaml", "it-demo-broken", "0.05")
	d.start()
	final, err := d.result()
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, migration.StatusRolledBack, final.Status)
	require.Equal(t, "phase reconcile failed: run reconcile: exited with code 1: mismatch: legacy has 1000 rows, target 990", final.Error)
	for i, state := range []migration.PhaseState{
		migration.PhaseCompensated, migration.PhaseCompensated, migration.PhaseCompensated,
		migration.PhaseCompensated, migration.PhaseFailed, migration.PhasePending,
	} {
		require.Equal(t, state, final.Phases[i].State, final.Phases[i].Phase)
	}
	require.Equal(t, "new=0 legacy=100\n", d.read("routing"), "traffic went back to legacy")
	require.False(t, d.exists("target"))
	require.True(t, d.exists("legacy/users.csv"), "legacy untouched: decommission never ran")
}
