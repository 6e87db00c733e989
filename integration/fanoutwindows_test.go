package integration

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

// TestACopyFannedOutInWindowsCopiesEveryRow: a PostgreSQL table of
// 60,000 rows split into 6 key ranges, run in windows of 2 units
// (Input.FanOutWindow), so three FanOutWindow children copy it, two units
// at once; the target holds exactly the source's rows, the phase's
// figures add up over every unit, and every window is a workflow of its
// own type under the fan-out prefix. With GODWIT_RECORD_HISTORY set it
// records the migration's history and its first window's.
func TestACopyFannedOutInWindowsCopiesEveryRow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src, dst := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store, "CREATE TABLE plain (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL)")
	seedPlain(t, src, 60_000)
	r := newDataRun(t, "it-fanout-windows", src, dst, `
  - phase: provision
    provision: {from: legacy, to: new, tables: [plain]}
  - phase: copy
    copy: {from: legacy, to: new, tables: [plain], batchRows: 2000, splitRows: 10000, splitStreams: 8, fanOut: 2}
`)
	spec, err := config.LoadSpec(r.spec)
	require.NoError(t, err)
	run, err := env.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: r.name, TaskQueue: env.taskQueue},
		workflows.WorkflowName, workflows.Input{Spec: *spec, FanOutWindow: 2})
	require.NoError(t, err)
	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	dbtest.AssertSameRows(t, src.Store, dst.Store, "plain")
	p := final.Phases[1]
	require.Equal(t, int64(60_000), p.Records, "records summed over the windows")
	require.Equal(t, 6, p.Units)
	require.Equal(t, 6, p.UnitsDone)
	require.Equal(t, "6 of 6 units done, 0 running", p.Step)
	// `godwit output` reads the units' results out of the windows.
	out, err := godwit(t, "output", r.name, "copy")
	require.NoError(t, err, out)
	require.Equal(t, 6, strings.Count(out, "== copy run, attempt "), out)

	var windows []string
	for k := 1; k <= 3; k++ {
		id := windowID(r.name, run.GetRunID(), "copy", k)
		desc, err := env.client.DescribeWorkflowExecution(ctx, id, "")
		require.NoError(t, err, "window %d", k)
		info := desc.GetWorkflowExecutionInfo()
		require.Equal(t, workflows.FanOutWindowName, info.GetType().GetName())
		require.Equal(t, enums.WORKFLOW_EXECUTION_STATUS_COMPLETED, info.GetStatus())
		require.Equal(t, r.name, info.GetParentExecution().GetWorkflowId())
		windows = append(windows, id)
	}
	_, err = env.client.DescribeWorkflowExecution(ctx, windowID(r.name, run.GetRunID(), "copy", 4), "")
	require.Error(t, err, "three windows, no fourth")

	events := recordRun(t, r.name, "", "fanout-windows.json")
	started, phaseRuns := 0, 0
	for _, ev := range events {
		if a := ev.GetStartChildWorkflowExecutionInitiatedEventAttributes(); a != nil && a.GetWorkflowType().GetName() == workflows.FanOutWindowName {
			started++
		}
		if ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == "RunPhase" {
			phaseRuns++
		}
	}
	require.Equal(t, 3, started)
	require.Equal(t, 1, phaseRuns, "the provision ran in the migration, no unit did")
	child := recordRun(t, windows[0], "", "fanout-window-child.json")
	units := 0
	for _, ev := range child {
		if ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == "RunPhase" {
			units++
		}
	}
	require.Equal(t, 2, units, "a window runs its two units")
}

// windowID is the workflow ID of window k of a migration's phase.
func windowID(name, runID, phase string, k int) string {
	return workflows.FanOutIDPrefix + name + ":" + runID[:8] + ":" + phase + ":w" + strconv.Itoa(k)
}

// TestWindowsGoOnAfterTheirWorkerIsKilled: the only worker of a windowed
// copy is killed with SIGKILL twice while windows run, and replaced; the
// windows go on where they were: each unit was scheduled once (a killed
// unit retried, from its checkpoint), no finished unit ran again, and the
// target holds exactly the source's rows.
func TestWindowsGoOnAfterTheirWorkerIsKilled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	queue := "it-fanout-windows-kills"
	worker := startWorkerAt(t, env.address, queue)
	src, dst := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store, "CREATE TABLE plain (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL)")
	seedPlain(t, src, 60_000)
	// 2,500 rows/s a unit: 4 s a range, two at once, three windows.
	r := newDataRun(t, "it-fanout-windows-kills", src, dst, `
  - phase: provision
    provision: {from: legacy, to: new, tables: [plain]}
  - phase: copy
    heartbeatTimeout: 3s
    retry: {maxAttempts: 20, initialInterval: 200ms, maxInterval: 1s}
    copy: {from: legacy, to: new, tables: [plain], batchRows: 500, rowsPerSecond: 2500, splitRows: 10000, splitStreams: 8, fanOut: 2}
`)
	spec, err := config.LoadSpec(r.spec)
	require.NoError(t, err)
	run, err := env.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: r.name, TaskQueue: queue},
		workflows.WorkflowName, workflows.Input{Spec: *spec, FanOutWindow: 2})
	require.NoError(t, err)
	for kill := 1; kill <= 2; kill++ {
		time.Sleep(4 * time.Second)
		worker.kill()
		copied, err := dst.Store.Count(ctx, "plain")
		require.NoError(t, err)
		t.Logf("kill %d: %d rows on the target", kill, copied)
		worker = startWorkerAt(t, env.address, queue)
	}
	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	dbtest.AssertSameRows(t, src.Store, dst.Store, "plain")
	require.Equal(t, 6, final.Phases[1].UnitsDone)
	require.Equal(t, int64(60_000), final.Phases[1].Records)

	scheduled := map[string]int{}
	for k := 1; k <= 3; k++ {
		for _, ev := range runHistory(t, windowID(r.name, run.GetRunID(), "copy", k), "").Events {
			if a := ev.GetActivityTaskScheduledEventAttributes(); a.GetActivityType().GetName() == "RunPhase" {
				scheduled[a.GetActivityId()+"@"+strconv.Itoa(k)]++
			}
		}
	}
	require.Len(t, scheduled, 6, "six units in three windows: %v", scheduled)
	for unit, n := range scheduled {
		require.Equal(t, 1, n, "unit %s scheduled again", unit)
	}
}

// TestTheStatusOfAWindowedCopyCountsItsRunningWindow: while a window runs,
// `godwit status` shows the units it has done and the one it runs (its
// live rows), not only the windows that ended: the units done read 1 or
// 2 of a window of 3 at some point, the progress never goes back, and
// the end adds up.
func TestTheStatusOfAWindowedCopyCountsItsRunningWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src, dst := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store, "CREATE TABLE plain (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL)")
	seedPlain(t, src, 60_000)
	r := newDataRun(t, "it-fanout-window-status", src, dst, `
  - phase: provision
    provision: {from: legacy, to: new, tables: [plain]}
  - phase: copy
    copy: {from: legacy, to: new, tables: [plain], batchRows: 1000, rowsPerSecond: 5000, splitRows: 10000, splitStreams: 8, fanOut: 1}
`)
	spec, err := config.LoadSpec(r.spec)
	require.NoError(t, err)
	_, err = env.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: r.name, TaskQueue: env.taskQueue},
		workflows.WorkflowName, workflows.Input{Spec: *spec, FanOutWindow: 3})
	require.NoError(t, err)
	var last migration.PhaseReport
	rep := r.waitFor("a unit done inside the running window", func(rep migration.Report) bool {
		p := rep.Phases[1]
		if p.State != migration.PhaseRunning || p.Units == 0 {
			return false
		}
		require.GreaterOrEqual(t, p.Progress, last.Progress, "progress went back: %+v then %+v", last, p)
		last = p
		return p.UnitsDone%3 != 0 && len(p.RunningUnits) == 1 && p.Records > int64(p.UnitsDone)*10_000
	})
	p := rep.Phases[1]
	require.Equal(t, 6, p.Units)
	require.Regexp(t, `^[1-5] of 6 units done, 1 running$`, p.Step)
	require.NotEmpty(t, p.Detail, "the running unit's progress in words")
	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, int64(60_000), final.Phases[1].Records)
	dbtest.AssertSameRows(t, src.Store, dst.Store, "plain")
}
