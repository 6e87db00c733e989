package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

// The tests in this file drive the workflow's rarer paths on the dev
// server — a window gate, promote, the throttle and record updates,
// notifications, continue-as-new, a failing fan-out, the Preflight and
// Lease workflows — and, with GODWIT_RECORD_HISTORY set, record their
// histories for the replay test in workflows/. Each asserts the path was
// really taken, so a recorded history covers what its name says.

// recordRun saves one run of a workflow (runID "" for the latest) as file
// in GODWIT_RECORD_HISTORY, when set, and returns the run's events.
func recordRun(t *testing.T, workflowID, runID, file string) []*historypb.HistoryEvent {
	t.Helper()
	h := runHistory(t, workflowID, runID)
	if dir := os.Getenv("GODWIT_RECORD_HISTORY"); dir != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, file), historyJSON(t, h), 0o644))
	}
	return h.Events
}

// hasEvent reports whether any event passes match.
func hasEvent(events []*historypb.HistoryEvent, match func(*historypb.HistoryEvent) bool) bool {
	for _, ev := range events {
		if match(ev) {
			return true
		}
	}
	return false
}

// updateAccepted matches an accepted workflow update of the given name.
func updateAccepted(name string) func(*historypb.HistoryEvent) bool {
	return func(ev *historypb.HistoryEvent) bool {
		return ev.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest().GetInput().GetName() == name
	}
}

// TestWindowPromoteAndNotificationsOnARealServer: a disruptive phase
// outside its window waits at the window gate until a person opens it
// with a reason; a phase of steps waiting an hour is promoted to its last
// step; every event reaches the spec's webhook.
func TestWindowPromoteAndNotificationsOnARealServer(t *testing.T) {
	t.Parallel()
	var heard atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		heard.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(hook.Close)
	urlFile := filepath.Join(t.TempDir(), "hook-url")
	require.NoError(t, os.WriteFile(urlFile, []byte(hook.URL+"\n"), 0o600))

	// The window opens tomorrow only: the disruptive phase is outside it.
	tomorrow := strings.ToLower(time.Now().UTC().Add(24 * time.Hour).Weekday().String()[:3])
	d := newSpec(t, "it-hist-window", fmt.Sprintf(`
window:
  timezone: UTC
  preferred: [{days: [%s], start: "10:00", end: "11:00"}]
notifications:
  - kind: json
    url: {fromFile: %s}
phases:
  - phase: shift-traffic
    name: shift
    hook:
      steps:
        - {run: {dir: DIR, command: [sh, -c, 'echo 10 >> weight']}}
        - {wait: 1h}
        - {gate: all-in}
        - {run: {dir: DIR, command: [sh, -c, 'echo 100 >> weight']}}
      compensate: {dir: DIR, command: [sh, -c, 'echo 0 >> weight']}
  - phase: decommission
    name: retire
    hook: {run: {dir: DIR, command: [sh, -c, 'echo retired > retired']}}
`, tomorrow, urlFile))
	d.start()
	d.waitFor("the wait step", func(r migration.Report) bool { return strings.Contains(r.CurrentPhase, "step 2 of 4") })
	out, err := godwit(t, "promote", d.name, "--reason", "all good at 10%")
	require.NoError(t, err, out)

	d.waitFor("the window gate", waitingAt(workflows.WindowGate))
	require.Equal(t, "10\n100\n", d.read("weight"), "promote skipped the wait and the gate, not the last step")
	require.False(t, d.exists("retired"), "the disruptive phase waits for its window")
	out, err = godwit(t, "approve", d.name, "--gate", workflows.WindowGate, "--reason", "agreed with the on-call")
	require.NoError(t, err, out)

	final, err := d.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.True(t, d.exists("retired"))
	require.Positive(t, heard.Load(), "the webhook heard of the run")
	events := recordRun(t, d.name, "", "hist-window-promote.json")
	require.True(t, hasEvent(events, updateAccepted(workflows.UpdatePromote)), "the history holds the promote")
	require.True(t, hasEvent(events, updateAccepted(workflows.UpdateApprove)), "the history holds the window's approval")
	require.True(t, hasEvent(events, func(ev *historypb.HistoryEvent) bool {
		return ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == activities.NotifyName
	}), "the history holds a notification")
}

// TestThrottleAndRecordUpdatesOnARealServer: a copy limited to a slow
// rate is sped up by `godwit throttle` while it runs, and a manual change
// recorded with `godwit set-weight` would need a gateway, so the record
// update is sent as the CLI sends it; both are issues of the run.
func TestThrottleAndRecordUpdatesOnARealServer(t *testing.T) {
	t.Parallel()
	src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, src.Store, "CREATE TABLE plain (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL)")
	seedPlain(t, src, 3000)
	r := newDataRun(t, "it-hist-throttle", src, dst, `  - phase: provision
    provision: {from: legacy, to: new, tables: [plain]}
  - phase: copy
    copy: {from: legacy, to: new, tables: [plain], batchRows: 100, rowsPerSecond: 50}
`)
	r.start()
	r.waitFor("the copy to run", func(rep migration.Report) bool {
		return rep.Phases[1].State == migration.PhaseRunning
	})
	ctx := context.Background()
	upd, err := env.client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: r.name, UpdateName: workflows.UpdateRecord, WaitForStage: client.WorkflowUpdateStageCompleted,
		Args: []any{workflows.RecordRequest{By: "it", Message: "weights set by hand on the gateway"}},
	})
	require.NoError(t, err)
	require.NoError(t, upd.Get(ctx, nil))
	out, err := godwit(t, "throttle", r.name, "0")
	require.NoError(t, err, out)

	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.Equal(t, int64(3000), final.Phases[1].Records)
	var messages []string
	for _, is := range final.Issues {
		messages = append(messages, is.Message)
	}
	joined := strings.Join(messages, "\n")
	require.Contains(t, joined, "weights set by hand on the gateway")
	require.Contains(t, joined, "phase copy throttled to ")
	events := recordRun(t, r.name, "", "hist-throttle-record.json")
	require.True(t, hasEvent(events, updateAccepted(workflows.UpdateThrottle)))
	require.True(t, hasEvent(events, updateAccepted(workflows.UpdateRecord)))
}

// TestAFailingFanOutRollsBack: one unit of a fanned-out copy fails for
// good (its target table is missing); the phase fails and the run rolls
// back what ran.
func TestAFailingFanOutRollsBack(t *testing.T) {
	t.Parallel()
	src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.SQLite)
	for _, name := range []string{"f_a", "f_b", "f_c"} {
		dbtest.Exec(t, src.Store, fmt.Sprintf("CREATE TABLE %s (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL)", name),
			fmt.Sprintf("INSERT INTO %s VALUES (1, 'one'), (2, 'two')", name))
	}
	// f_c has no table on the target: its unit fails.
	dbtest.Exec(t, dst.Store, "CREATE TABLE f_a (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL)",
		"CREATE TABLE f_b (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL)")
	r := newDataRun(t, "it-hist-fanout-fails", src, dst, `  - phase: copy
    copy: {from: legacy, to: new, tables: ["f_*"], fanOut: 3}
`)
	r.start()
	final, err := r.result()
	require.Error(t, err)
	require.Equal(t, migration.StatusRolledBack, final.Status, final.Error)
	require.Contains(t, final.Error, "f_c")
	recordRun(t, r.name, "", "hist-fanout-fails.json")
}

// TestContinueAsNewCarriesARunOn: a background replication past a small
// activity budget makes the run continue as new; the next run goes on
// where the first stopped and completes.
func TestContinueAsNewCarriesARunOn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, src.Store, dbtest.KitchenDDL(src.Store.Engine, "kitchen")...)
	k, err := src.Store.Introspect(ctx, "kitchen")
	require.NoError(t, err)
	require.NoError(t, src.Store.WriteBatch(ctx, k, dbtest.KitchenRows(0, 100)))
	r := newDataRun(t, "it-hist-continue", src, dst, backgroundPhases)
	spec, err := config.LoadSpec(r.spec)
	require.NoError(t, err)
	run, err := env.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: r.name, TaskQueue: env.taskQueue},
		workflows.WorkflowName, workflows.Input{Spec: *spec, ActivitiesPerRun: 4})
	require.NoError(t, err)
	first := run.GetRunID()
	r.waitFor("the reads-moved gate", waitingAt("reads-moved"))
	out, err := godwit(t, "approve", r.name, "--gate", "reads-moved")
	require.NoError(t, err, out)
	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	dbtest.AssertSameRows(t, src.Store, dst.Store, "kitchen")

	// Follow the chain of runs from the first. (hist-continue-run*.json
	// were recorded before the report kept its series; these have it.)
	runID, n := first, 0
	var firstEnd time.Time
	for runID != "" {
		n++
		events := recordRun(t, r.name, runID, fmt.Sprintf("series-continue-run%d.json", n))
		if n == 1 {
			firstEnd = events[len(events)-1].GetEventTime().AsTime()
		}
		runID = events[len(events)-1].GetWorkflowExecutionContinuedAsNewEventAttributes().GetNewExecutionRunId()
		require.Less(t, n, 50, "runaway chain of runs")
	}
	require.GreaterOrEqual(t, n, 2, "the run continued as new at least once")

	// The series the run kept at its boundaries crossed the continue-as-new.
	require.NotEmpty(t, final.Series, "the final report has the run's series")
	require.LessOrEqual(t, len(final.Series), migration.MaxSeries)
	require.True(t, final.Series[0].At.Before(firstEnd), "the series starts in the first run (%s), before it continued as new at %s",
		final.Series[0].At, firstEnd)
	require.Equal(t, int64(100), final.Series[len(final.Series)-1].Records, "the last point has every row copied")
}

// TestPreflightAndLeaseWorkflowsOnARealServer runs the Preflight workflow
// as `godwit preflight` does, and a migration that holds a lease, then
// records both workflows' histories.
func TestPreflightAndLeaseWorkflowsOnARealServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newSpec(t, "it-hist-lease", `
resources: [store:hist/public.items]
phases:
  - phase: validate
    hook: {run: {command: ["true"]}}
  - phase: shift-traffic
    approval: {gate: go}
    hook: {run: {command: ["true"]}}
`)
	spec, err := config.LoadSpec(d.spec)
	require.NoError(t, err)
	pf, err := env.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "it-hist-preflight", TaskQueue: env.taskQueue},
		workflows.PreflightWorkflowName, activities.PreflightInput{Spec: *spec})
	require.NoError(t, err)
	var res activities.PreflightResult
	require.NoError(t, pf.Get(ctx, &res))
	require.Empty(t, res.Problems)
	recordRun(t, "it-hist-preflight", "", "hist-preflight.json")

	d.start()
	d.waitFor("the gate", waitingAt("go"))
	out, err := godwit(t, "approve", d.name, "--gate", "go")
	require.NoError(t, err, out)
	final, err := d.result()
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, final.Status)
	waitLeaseEnded(t, activities.LeaseKeyID("store:hist/public.items"))
	events := recordRun(t, activities.LeaseKeyID("store:hist/public.items"), "", "hist-lease.json")
	require.Equal(t, workflows.LeaseWorkflowName, events[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowType().GetName())
	deadline := time.Now().Add(time.Minute)
	for !hasEvent(events, func(ev *historypb.HistoryEvent) bool {
		return ev.GetWorkflowExecutionSignaledEventAttributes().GetSignalName() == workflows.SignalRelease
	}) {
		require.True(t, time.Now().Before(deadline), "the lease was never released by a signal")
		time.Sleep(200 * time.Millisecond)
		events = recordRun(t, activities.LeaseKeyID("store:hist/public.items"), "", "hist-lease.json")
	}
}

// TestRetireTakesTheLegacyTablesOutOfService: a small copy, then a
// decommission phase of the retire driver renames the legacy table out of
// the way; the recorded history is the retire driver's.
func TestRetireTakesTheLegacyTablesOutOfService(t *testing.T) {
	t.Parallel()
	src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, src.Store, "CREATE TABLE plain (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL)")
	seedPlain(t, src, 20)
	r := newDataRun(t, "it-hist-retire", src, dst, `  - phase: provision
    provision: {from: legacy, to: new, tables: [plain]}
  - phase: copy
    copy: {from: legacy, to: new, tables: [plain]}
  - phase: decommission
    retire: {store: legacy, tables: [plain]}
`)
	r.start()
	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.Equal(t, "renamed plain to plain_retired in legacy (rename them back to undo)", final.Phases[2].Summary)
	names, err := src.Store.ListTables(context.Background())
	require.NoError(t, err)
	require.Equal(t, []string{"plain_retired"}, names, "the legacy table is out of the way")
	recordRun(t, r.name, "", "hist-retire.json")
}

// TestALongRecordedMessageIsClipped: a record update carrying 10 KB
// becomes one issue of at most migration.MaxIssueMessage bytes that keeps
// its beginning and who recorded it (issuesV2), and the run goes on.
func TestALongRecordedMessageIsClipped(t *testing.T) {
	t.Parallel()
	d := newSpec(t, "it-hist-issue-clipped", `
phases:
  - phase: validate
    hook: {run: {command: ["true"]}}
  - phase: copy
    approval: {gate: go}
    hook: {run: {command: ["true"]}}
`)
	d.start()
	d.waitFor("the go gate", waitingAt("go"))
	ctx := context.Background()
	upd, err := env.client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: d.name, UpdateName: workflows.UpdateRecord, WaitForStage: client.WorkflowUpdateStageCompleted,
		Args: []any{workflows.RecordRequest{By: "it", Message: "weights set by hand: " + strings.Repeat("x", 10000)}},
	})
	require.NoError(t, err)
	require.NoError(t, upd.Get(ctx, nil))
	out, err := godwit(t, "approve", d.name, "--gate", "go")
	require.NoError(t, err, out)

	final, err := d.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.Len(t, final.Issues, 1, "%+v", final.Issues)
	msg := final.Issues[0].Message
	require.LessOrEqual(t, len(msg), migration.MaxIssueMessage, "the message was kept whole")
	require.True(t, strings.HasPrefix(msg, "weights set by hand: xxx"), msg[:40])
	require.True(t, strings.HasSuffix(msg, "xxx (by it)"), "who recorded it is kept: %q", msg[len(msg)-60:])
	events := recordRun(t, d.name, "", "hist-issue-clipped.json")
	require.True(t, hasEvent(events, updateAccepted(workflows.UpdateRecord)))
}
