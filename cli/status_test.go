package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/control"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

// notStartedReport is a run that has not started its first phase.
func notStartedReport() *migration.Report {
	r := migration.NewReport("orders", "", []migration.Phase{migration.PhaseValidate, migration.PhaseCopy, migration.PhaseShiftTraffic}, nil, t0)
	r.Refresh(t0)
	return r
}

func running(r *migration.Report) wfState { return wfState{report: r} }
func ended(r *migration.Report) wfState   { return wfState{ended: true, report: r} }

// only drops the time the report helpers return with the report.
func only(r *migration.Report, _ time.Time) *migration.Report { return r }

func completedReport() *migration.Report {
	r := migration.NewReport("orders", "", []migration.Phase{migration.PhaseCopy}, nil, t0)
	r.Phases[0].State, r.Phases[0].Progress, r.Phases[0].Records = migration.PhaseCompleted, 100, 1000
	r.Status = migration.StatusCompleted
	r.EndTime = t0.Add(10 * time.Minute)
	r.Refresh(r.EndTime)
	return r
}

func failedReport() *migration.Report {
	r := migration.NewReport("orders", "", []migration.Phase{migration.PhaseDecommission}, nil, t0)
	r.Phases[0].State, r.Phases[0].Error = migration.PhaseFailed, "mv: permission denied"
	r.Status = migration.StatusFailed
	r.Error = "phase decommission failed: mv: permission denied"
	r.EndTime = t0.Add(time.Minute)
	r.Refresh(r.EndTime)
	return r
}

// overTheWire returns err as a client sees it after the server carried it:
// encoded to a failure and decoded again, wrapped by the SDK.
func overTheWire(err error) error {
	fc := temporal.GetDefaultFailureConverter()
	return fmt.Errorf("workflow execution error (type: Migration): %w", fc.FailureToError(fc.ErrorToFailure(err)))
}

func heartbeat(t *testing.T, hb any) *commonpb.Payloads {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayloads(hb)
	require.NoError(t, err)
	return p
}

func pendingActivity(name string, attempt int32, details *commonpb.Payloads, failure string) *workflowpb.PendingActivityInfo {
	pa := &workflowpb.PendingActivityInfo{
		ActivityType:     &commonpb.ActivityType{Name: name},
		Attempt:          attempt,
		HeartbeatDetails: details,
	}
	if failure != "" {
		pa.LastFailure = &failurepb.Failure{Message: failure}
	}
	return pa
}

func TestLiveProgress(t *testing.T) {
	hb := heartbeat(t, activities.Heartbeat{Percent: 42.5, Records: 425, Checkpoint: "425"})
	tests := []struct {
		name    string
		pending []*workflowpb.PendingActivityInfo
		want    migration.Live
		ok      bool
	}{
		{name: "none"},
		{
			name:    "other activities only",
			pending: []*workflowpb.PendingActivityInfo{pendingActivity("SomethingElse", 2, hb, "x")},
		},
		{
			name:    "first attempt with heartbeat",
			pending: []*workflowpb.PendingActivityInfo{pendingActivity(activities.RunPhaseName, 1, hb, "")},
			want:    migration.Live{Percent: 42.5, Records: 425, Attempt: 1},
			ok:      true,
		},
		{
			name: "retry shows the last failure",
			pending: []*workflowpb.PendingActivityInfo{
				pendingActivity("SomethingElse", 1, nil, ""),
				pendingActivity(activities.RunPhaseName, 3, hb, "exit status 1"),
			},
			want: migration.Live{Percent: 42.5, Records: 425, Attempt: 3, LastFailure: "exit status 1"},
			ok:   true,
		},
		{
			name: "the retry policy's limit comes along, so the next steps can say how many attempts are left",
			pending: func() []*workflowpb.PendingActivityInfo {
				pa := pendingActivity(activities.RunPhaseName, 8, nil, "replica did not acknowledge")
				pa.MaximumAttempts = 200
				return []*workflowpb.PendingActivityInfo{pa}
			}(),
			want: migration.Live{Attempt: 8, MaxAttempts: 200, LastFailure: "replica did not acknowledge"},
			ok:   true,
		},
		{
			name:    "a failure on the first attempt is not a retry",
			pending: []*workflowpb.PendingActivityInfo{pendingActivity(activities.RunPhaseName, 1, nil, "stale")},
			want:    migration.Live{Attempt: 1},
			ok:      true,
		},
		{
			name:    "compensation",
			pending: []*workflowpb.PendingActivityInfo{pendingActivity(activities.CompensatePhaseName, 2, nil, "boom")},
			want:    migration.Live{Attempt: 2, LastFailure: "boom"},
			ok:      true,
		},
		{
			name: "undecodable heartbeat is ignored",
			pending: []*workflowpb.PendingActivityInfo{pendingActivity(activities.RunPhaseName, 1,
				heartbeat(t, "not a heartbeat"), "")},
			want: migration.Live{Attempt: 1},
			ok:   true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := control.LiveProgress(converter.GetDefaultDataConverter(), tt.pending)
			assert.Equal(t, tt.ok, ok)
			if ok {
				assert.Len(t, got.Units, 1, "the phase activity is its one unit")
			}
			got.Units = nil
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestExplain(t *testing.T) {
	err := control.Explain("demo", fmt.Errorf("describe: %w", serviceerror.NewNotFound("workflow not found for ID: demo")))
	assert.EqualError(t, err, "no migration named \"demo\" in this namespace: see `godwit list`")

	cause := errors.New("deadline exceeded")
	err = control.Explain("demo", cause)
	assert.EqualError(t, err, "migration demo: deadline exceeded")
	assert.ErrorIs(t, err, cause)
}

func TestFinalReport(t *testing.T) {
	failed := failedReport()
	rolledBack, _ := rolledBackReport()
	terminated := errors.New("workflow execution error: terminated")
	tests := []struct {
		name    string
		run     *fakeRun
		want    *migration.Report
		wantErr string
	}{
		{name: "result", run: &fakeRun{report: completedReport()}, want: completedReport()},
		{
			name: "failure details",
			run:  &fakeRun{err: overTheWire(temporal.NewApplicationError(failed.Error, "MigrationFailed", *failed))},
			want: failed,
		},
		{
			name: "cancellation details",
			run:  &fakeRun{err: overTheWire(temporal.NewCanceledError(*rolledBack))},
			want: rolledBack,
		},
		{
			name:    "failure without details",
			run:     &fakeRun{id: "orders", err: overTheWire(temporal.NewApplicationError("panic", "PanicError"))},
			wantErr: "migration orders ended without a report (terminated or timed out outside Godwit): ",
		},
		{
			name:    "failure with other details",
			run:     &fakeRun{id: "orders", err: overTheWire(temporal.NewApplicationError("odd", "Odd", "a string"))},
			wantErr: "migration orders ended without a report",
		},
		{
			name:    "terminated",
			run:     &fakeRun{id: "orders", err: terminated},
			wantErr: "migration orders ended without a report",
		},
		// Said in the user's terms, not the SDK's ("workflow execution
		// error (type: , workflowID: …): terminated").
		{
			name: "terminated by hand",
			run:  &fakeRun{id: "orders", err: fmt.Errorf("workflow execution error (type: , workflowID: orders): %w", &temporal.TerminatedError{})},
			wantErr: "migration orders was terminated outside Godwit (temporal workflow terminate, or the Temporal UI) and ended without a report: " +
				"nothing rolled it back, so what it changed stays (what Godwit added to carry it: `godwit status orders`; to remove that: `godwit cleanup orders`)",
		},
		{
			name:    "timed out",
			run:     &fakeRun{id: "orders", err: temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_START_TO_CLOSE, nil)},
			wantErr: "migration orders timed out (its workflow's run or execution timeout) and ended without a report",
		},
		{
			name:    "cancelled without a report",
			run:     &fakeRun{id: "orders", err: temporal.NewCanceledError()},
			wantErr: "migration orders was cancelled outside Godwit and ended without a report",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := control.FinalReport(t.Context(), tt.run)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.ErrorIs(t, err, tt.run.err)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, jsonRoundTrip(t, tt.want), jsonRoundTrip(t, got))
		})
	}
}

// jsonRoundTrip returns r as it looks after the wire, for comparison
// (times lose their monotonic clock and location).
func jsonRoundTrip(t *testing.T, r *migration.Report) string {
	t.Helper()
	b, err := json.Marshal(r)
	require.NoError(t, err)
	return string(b)
}

func TestWaitResult(t *testing.T) {
	rolledBack, _ := rolledBackReport()
	tests := []struct {
		name     string
		run      *fakeRun
		wantCode int    // 0: no exit error
		wantMsg  string // the exit error's message, or the error
		rendered []string
	}{
		{
			name:     "completed",
			run:      &fakeRun{id: "orders", report: completedReport()},
			rendered: []string{"Migration orders — COMPLETED", "(10m0s ago)"},
		},
		{
			name:     "failed",
			run:      &fakeRun{id: "orders", err: overTheWire(temporal.NewApplicationError("x", "MigrationFailed", *failedReport()))},
			wantCode: 2,
			wantMsg:  "migration orders ended FAILED: phase decommission failed: mv: permission denied",
			rendered: []string{"Migration orders — FAILED", "(1m0s ago)"},
		},
		{
			name:     "rolled back",
			run:      &fakeRun{id: "orders", err: overTheWire(temporal.NewCanceledError(*rolledBack))},
			wantCode: 2,
			wantMsg:  "migration orders ended ROLLED_BACK: phase copy failed: exit status 1: disk full",
			rendered: []string{"Migration orders — ROLLED_BACK", "(1h2m3s ago)"},
		},
		{
			// A rollback a person asked for completes the run (the
			// workflow's changeRolledBackResult): still ROLLED_BACK, exit 2.
			name:     "rolled back on request, the run completed",
			run:      &fakeRun{id: "orders", report: rolledBack},
			wantCode: 2,
			wantMsg:  "migration orders ended ROLLED_BACK: phase copy failed: exit status 1: disk full",
			rendered: []string{"Migration orders — ROLLED_BACK", "(1h2m3s ago)"},
		},
		{
			name:    "no report",
			run:     &fakeRun{id: "orders", err: errors.New("terminated")},
			wantMsg: "migration orders ended without a report (terminated or timed out outside Godwit): terminated",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			a := &app{out: &out, errOut: io.Discard}
			err := a.waitResult(t.Context(), tt.run)
			var exit *exitError
			switch {
			case tt.wantCode != 0:
				require.ErrorAs(t, err, &exit)
				assert.Equal(t, tt.wantCode, exit.code)
				assert.Equal(t, tt.wantMsg, exit.msg)
			case tt.wantMsg != "":
				require.Error(t, err)
				assert.False(t, errors.As(err, &exit), "a run without a report is an error, not exit code 2")
				assert.EqualError(t, err, tt.wantMsg)
			default:
				require.NoError(t, err)
			}
			// The report is rendered as of its last update, not now.
			for _, w := range tt.rendered {
				assert.Contains(t, out.String(), w)
			}
			if tt.rendered == nil {
				assert.Empty(t, out.String())
			}
		})
	}
}

func TestStatusCommand(t *testing.T) {
	runningRep, _ := runningReport()
	rolledBack, _ := rolledBackReport()
	hb := heartbeat(t, activities.Heartbeat{Percent: 75, Records: 750})
	tests := []struct {
		name      string
		args      []string
		states    []wfState
		want      []string // in the output
		wantErr   string
		wantCode  int
		queries   int
		describes int
	}{
		{
			name:    "running, text",
			args:    []string{"status", "orders"},
			states:  []wfState{running(only(runningReport()))},
			want:    []string{"Migration orders — IN_PROGRESS\n", "  Phase      2 of 3: copy\n", "▶ 2. copy"},
			queries: 1, describes: 1,
		},
		{
			name: "taking its leases before the first phase",
			args: []string{"status", "orders"},
			states: []wfState{{report: notStartedReport(), children: []*workflowpb.PendingChildExecutionInfo{
				{WorkflowId: "godwit-lease:k:1", WorkflowTypeName: workflows.LeaseWorkflowName},
				{WorkflowId: "godwit-lease:k:2", WorkflowTypeName: workflows.LeaseWorkflowName},
			}}},
			want:    []string{"  Phase      0 of 3: not started (taking a lease on each table and resource it drives: 2 leases held so far)\n"},
			queries: 1, describes: 1,
		},
		{
			name: "taking its leases in one activity before the first phase",
			args: []string{"status", "orders"},
			states: []wfState{{report: notStartedReport(), pending: []*workflowpb.PendingActivityInfo{
				pendingActivity(activities.AcquireLeasesName, 1, heartbeat(t, activities.LeaseProgress{Done: 1200, Total: 7800}), ""),
			}}},
			want:    []string{"  Phase      0 of 3: not started (taking a lease on each table and resource it drives: 1200 of 7800 leases held so far)\n"},
			queries: 1, describes: 1,
		},
		{
			name: "running, live progress from the heartbeat",
			args: []string{"status", "orders"},
			states: []wfState{{report: runningRep, pending: []*workflowpb.PendingActivityInfo{
				pendingActivity(activities.RunPhaseName, 2, hb, "connection reset")}}},
			want: []string{
				"  Progress   " + filledBar(20, 30) + "  68.8%", // 0.75 × 75 (copy) + 0.25 × (100 + 0) / 2
				"2 attempts, 750 records",
				"error: attempt 1 failed, retrying: connection reset",
			},
			queries: 1, describes: 1,
		},
		{
			name:    "ended: read from the result, no query (needs no worker)",
			args:    []string{"status", "orders"},
			states:  []wfState{ended(only(rolledBackReport()))},
			want:    []string{"Migration orders — ROLLED_BACK\n", "(took 1h2m3s)"},
			queries: 0, describes: 1,
		},
		{
			name:    "ended by failure",
			args:    []string{"status", "orders"},
			states:  []wfState{{ended: true, runErr: overTheWire(temporal.NewApplicationError("x", "MigrationFailed", *failedReport()))}},
			want:    []string{"Migration orders — FAILED\n", "error: mv: permission denied"},
			queries: 0, describes: 1,
		},
		{
			name:      "missing",
			args:      []string{"status", "nope"},
			states:    []wfState{{describeErr: serviceerror.NewNotFound("workflow not found")}},
			wantErr:   "no migration named \"nope\" in this namespace: see `godwit list`",
			describes: 1,
		},
		{
			name:      "query fails",
			args:      []string{"status", "orders"},
			states:    []wfState{{report: runningRep, queryErr: errors.New("no worker polling")}},
			wantErr:   "migration orders: no worker polling",
			queries:   1,
			describes: 1,
		},
		{
			name:      "watch until rolled back",
			args:      []string{"status", "orders", "--watch", "--interval", "1ms"},
			states:    []wfState{running(only(runningReport())), running(only(runningReport())), ended(rolledBack)},
			want:      []string{"Migration orders — IN_PROGRESS\n", "Migration orders — ROLLED_BACK\n"},
			wantErr:   "migration orders ended ROLLED_BACK",
			wantCode:  2,
			queries:   2,
			describes: 3,
		},
		{
			name:      "watch until completed",
			args:      []string{"status", "orders", "-w", "--interval", "1ms"},
			states:    []wfState{running(only(runningReport())), ended(completedReport())},
			want:      []string{"Migration orders — IN_PROGRESS\n", "Migration orders — COMPLETED\n"},
			queries:   1,
			describes: 2,
		},
		{
			name:      "watch stops on an error",
			args:      []string{"status", "orders", "-w", "--interval", "1ms"},
			states:    []wfState{running(only(runningReport())), {describeErr: errors.New("unavailable")}},
			want:      []string{"Migration orders — IN_PROGRESS\n"},
			wantErr:   "migration orders: unavailable",
			queries:   1,
			describes: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &fakeClient{states: tt.states}
			out, _, err := godwit(t, c.dial, tt.args...)
			switch {
			case tt.wantCode != 0:
				var exit *exitError
				require.ErrorAs(t, err, &exit)
				assert.Equal(t, tt.wantCode, exit.code)
				assert.Equal(t, tt.wantErr, exit.msg)
			case tt.wantErr != "":
				assert.EqualError(t, err, tt.wantErr)
			default:
				require.NoError(t, err)
			}
			for _, w := range tt.want {
				assert.Contains(t, out, w)
			}
			assert.NotContains(t, out, "\033[", "no terminal control codes when the output is not a terminal")
			assert.Equal(t, tt.queries, c.queries, "status queries")
			assert.Equal(t, tt.describes, c.describes, "describes")
			assert.Equal(t, c.dials, c.closed, "every client dialed is closed")
			assert.Positive(t, c.closed, "the client is closed")
		})
	}
}

func TestStatusJSON(t *testing.T) {
	rep, _ := runningReport()
	c := &fakeClient{states: []wfState{{report: rep, pending: []*workflowpb.PendingActivityInfo{
		pendingActivity(activities.RunPhaseName, 1, heartbeat(t, activities.Heartbeat{Percent: 80, Records: 800}), "")}}}}
	out, _, err := godwit(t, c.dial, "status", "orders", "-o", "json")
	require.NoError(t, err)
	var got migration.Report
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, "orders", got.Name)
	assert.Equal(t, migration.StatusInProgress, got.Status)
	assert.Equal(t, "2 of 3: copy", got.CurrentPhase)
	require.Len(t, got.Phases, 3)
	assert.Equal(t, 80.0, got.Phases[1].Progress, "live heartbeat merged")
	assert.Equal(t, int64(800), got.Phases[1].Records)
	assert.InDelta(t, 0.75*80+0.25*(100+0)/2, got.OverallProgress, 0.01)
	assert.Contains(t, out, "\n  \"name\": \"orders\"", "indented")
}

func TestStatusJSONKeepsChangesApartFromRowsCopied(t *testing.T) {
	rep, _ := cutOverReport()
	c := &fakeClient{states: []wfState{{report: rep}}}
	out, _, err := godwit(t, c.dial, "status", "cutover", "-o", "json")
	require.NoError(t, err)
	var got struct {
		Metrics map[string]any `json:"metrics"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	assert.Equal(t, 2000.0, got.Metrics["recordsCopied"], "metrics.recordsCopied counts the rows copied only: %s", out)
	assert.Equal(t, 111.0, got.Metrics["changesApplied"], "the replicate and cut-over phases' changes: %s", out)
}

func TestWatchJSON(t *testing.T) {
	c := &fakeClient{states: []wfState{running(only(runningReport())), ended(completedReport())}}
	out, _, err := godwit(t, c.dial, "status", "orders", "--watch", "-o", "json", "--interval", "1ms")
	require.NoError(t, err)
	dec := json.NewDecoder(strings.NewReader(out))
	var statuses []migration.Status
	for dec.More() {
		var r migration.Report
		require.NoError(t, dec.Decode(&r))
		statuses = append(statuses, r.Status)
	}
	assert.Equal(t, []migration.Status{migration.StatusInProgress, migration.StatusCompleted}, statuses)
}

func TestWatchStopsWhenCancelled(t *testing.T) {
	// Ctrl-C stops watching and leaves the migration running.
	c := &fakeClient{states: []wfState{running(only(runningReport()))}}
	var out bytes.Buffer
	a := &app{out: &out, errOut: io.Discard}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := a.watch(ctx, c, "orders", "text", time.Hour)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, out.String(), "Migration orders — IN_PROGRESS")
	assert.Empty(t, c.signals)
}

func TestStatusWithoutWorkerTimesOutClearly(t *testing.T) {
	old := queryTimeout
	queryTimeout = 50 * time.Millisecond
	t.Cleanup(func() { queryTimeout = old })

	c := &fakeClient{states: []wfState{{queryBlocks: true}}, noPollers: true}
	_, _, err := godwit(t, c.dial, "status", "orders")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "migration orders is running but no worker answered its status query within 50ms: is godwit-worker running on task queue")

	// Workers poll the queue but are too busy to answer in time (a run of
	// 300 tables, two workers on two loaded cores): not "is it running?".
	c = &fakeClient{states: []wfState{{queryBlocks: true}}}
	_, _, err = godwit(t, c.dial, "status", "orders")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no worker answered its status query within 50ms, though workers poll task queue")
	assert.Contains(t, err.Error(), "they are busy")
}

func memoOf(t *testing.T, s migration.Summary) *commonpb.Memo {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(s)
	require.NoError(t, err)
	return &commonpb.Memo{Fields: map[string]*commonpb.Payload{workflows.MemoSummary: p}}
}

func TestStatusWithoutWorkerShowsTheLastKnownState(t *testing.T) {
	old := queryTimeout
	queryTimeout = 50 * time.Millisecond
	t.Cleanup(func() { queryTimeout = old })

	sum := migration.Summary{
		Status: migration.StatusWaitingApproval, Phase: "shift-traffic", PhaseIndex: 3, PhaseCount: 6,
		PhaseState: migration.PhasePending, Gate: "go-live", Progress: 50, Risk: "MEDIUM",
		Error:     "phase copy succeeded on attempt 2",
		UpdatedAt: time.Date(2026, 12, 6, 15, 4, 5, 0, time.UTC),
	}
	c := &fakeClient{states: []wfState{{queryBlocks: true, memo: memoOf(t, sum)}}}
	out, _, err := godwit(t, c.dial, "status", "orders")
	require.Error(t, err, "the status is not live: the command still fails")
	assert.Contains(t, err.Error(), "no worker answered its status query within 50ms")
	assert.Equal(t, `Migration orders — last known at 2026-12-06T15:04:05Z (no worker answers: this is the state at the last phase boundary, not live)
  Status: WAITING_APPROVAL
  Phase: 4 of 6: shift-traffic (PENDING)
  Waiting gate: go-live
  Overall progress: 50.0%
  Risk: MEDIUM
  Last error: phase copy succeeded on attempt 2
`, out)

	out, _, err = godwit(t, c.dial, "status", "orders", "-o", "json")
	require.Error(t, err)
	var got struct {
		LastKnown migration.Summary `json:"lastKnown"`
		Warning   string            `json:"warning"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, sum, got.LastKnown)
	assert.Contains(t, got.Warning, "no worker answered")

	// The server may give up first, before the CLI's own deadline.
	for _, serverErr := range []error{
		serviceerror.NewDeadlineExceeded("query timed out before a worker could process it"),
		serviceerror.NewFailedPrecondition("no poller seen for task queue recently, worker may be down"),
	} {
		c = &fakeClient{states: []wfState{{queryErr: serverErr, memo: memoOf(t, sum)}}}
		out, _, err = godwit(t, c.dial, "status", "orders")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "no worker answered its status query (the server: "+serverErr.Error()+")")
		assert.Contains(t, out, "last known at 2026-12-06T15:04:05Z", serverErr)
	}

	// A run from before the memo: only the warning, as before.
	c = &fakeClient{states: []wfState{{queryBlocks: true}}}
	out, _, err = godwit(t, c.dial, "status", "orders")
	require.Error(t, err)
	assert.Empty(t, out)
}

// TestStatusAtALagGate: at a gate with requireLag, status says the approval
// is accepted only once the lag is under the limit, with the last lag
// measured, instead of only "approve to continue" (which would be refused).
func TestStatusAtALagGate(t *testing.T) {
	rep, now := waitingReport()
	rep.Replication = &migration.ReplicationLag{Phase: "catch-up", Seconds: 4.2, Changes: 120, Measured: now.Add(-3 * time.Second)}
	spec := &config.Spec{Name: "orders", Phases: []config.PhaseSpec{
		{Name: "copy", Phase: migration.PhaseCopy},
		{Name: "shift-traffic", Phase: migration.PhaseShiftTraffic, Approval: &config.Approval{Gate: "go-live", RequireLag: config.Duration(time.Second)}},
	}}
	c := &fakeClient{states: []wfState{{report: rep}}, startSpec: spec}
	dial := func(context.Context) (client.Client, error) { return c, nil }
	out, _, err := run(t, dial, "status", "orders", "--leftovers=false")
	require.NoError(t, err)
	assert.Regexp(t, `\n  Waiting    for approval of gate "go-live" before phase shift-traffic, accepted only once the replication lag is at or under 1s \(last 4\.2s, \S+ ago\); then: godwit approve orders --gate go-live\n`, out)

	spec.Phases[1].Approval.RequireLag = 0
	c = &fakeClient{states: []wfState{{report: rep}}, startSpec: spec}
	out, _, err = run(t, func(context.Context) (client.Client, error) { return c, nil }, "status", "orders", "--leftovers=false")
	require.NoError(t, err)
	assert.Contains(t, out, "\n  Waiting    for approval of gate \"go-live\" before phase shift-traffic; to continue: godwit approve orders --gate go-live\n")
}

func TestLiveProgressKeepsEveryUnitOfAFannedOutPhase(t *testing.T) {
	a := heartbeat(t, activities.Heartbeat{Percent: 40, Records: 400, Unit: "orders"})
	b := heartbeat(t, activities.Heartbeat{Percent: 10, Records: 100, Unit: "customers"})
	got, ok := control.LiveProgress(converter.GetDefaultDataConverter(), []*workflowpb.PendingActivityInfo{
		pendingActivity(activities.RunPhaseName, 1, a, ""),
		pendingActivity(activities.RunPhaseName, 2, b, "worker lost"),
		pendingActivity(activities.RunPhaseName, 1, nil, ""),
	})
	require.True(t, ok)
	require.Len(t, got.Units, 3)
	assert.Equal(t, migration.UnitLive{Unit: "orders", Live: migration.Live{Percent: 40, Records: 400, Attempt: 1}}, got.Units[0])
	assert.Equal(t, migration.UnitLive{Unit: "customers", Live: migration.Live{Percent: 10, Records: 100, Attempt: 2, LastFailure: "worker lost"}}, got.Units[1])
	assert.Equal(t, migration.UnitLive{Live: migration.Live{Attempt: 1}}, got.Units[2], "no heartbeat yet: no name")
}

// A fanned-out copy whose units are all done runs what follows them (its
// foreign keys, activities.FinishUnits); when that retries, the status
// says so. It showed every unit done and the phase running, and nothing
// of the step failing behind it.
func TestStatusShowsTheStepAfterAFannedOutPhasesUnitsRetrying(t *testing.T) {
	rep, _ := runningReport()
	p := &rep.Phases[1]
	p.Units, p.UnitsDone, p.Records, p.Progress, p.Summary = 4, 4, 1000, 99.9, ""
	hb := heartbeat(t, activities.Heartbeat{Percent: 50, Detail: "creating 3 foreign keys"})
	c := &fakeClient{states: []wfState{{report: rep, pending: []*workflowpb.PendingActivityInfo{
		pendingActivity(activities.FinishUnitsName, 3, hb, `copy: foreign key orders_customer_id_fkey: 3 rows of orders reference no row of customers`)}}}}
	out, _, err := godwit(t, c.dial, "status", "orders", "--leftovers=false")
	require.NoError(t, err)
	assert.Contains(t, out, "finishing the phase after its units: creating 3 foreign keys")
	assert.Contains(t, out, "after its units: attempt 2 failed, retrying: copy: foreign key orders_customer_id_fkey: 3 rows of orders reference no row of customers")
	assert.Contains(t, out, "Next steps\n  - phase copy is retrying (attempt 3")

	out, _, err = godwit(t, c.dial, "status", "orders", "-o", "json")
	require.NoError(t, err)
	var got migration.Report
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, 3, got.Phases[1].Attempts)
	assert.Equal(t, int64(1000), got.Phases[1].Records, "the units' rows stay")
}
