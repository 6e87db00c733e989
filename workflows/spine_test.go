package workflows

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
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
	"github.com/godwit/godwit/notify"
)

// countedSteps is a driver section for tests: Count action steps, with a
// gate before the step numbered GateAt (1-based), so a phase of thousands
// of steps has a small spec.
type countedSteps struct {
	Count  int    `yaml:"count" json:"count"`
	GateAt int    `yaml:"gateAt" json:"gateAt,omitempty"`
	Gate   string `yaml:"gate" json:"gate,omitempty"`
}

func (c *countedSteps) Check(cc *config.CheckContext) {
	if c.Count < 1 {
		cc.Errorf("count", "must be at least 1")
	}
}

func (c *countedSteps) PlanSteps() []config.Step {
	var steps []config.Step
	for k := 1; k <= c.Count; k++ {
		if k == c.GateAt {
			steps = append(steps, config.Step{Name: "gate " + c.Gate, Gate: c.Gate})
		}
		steps = append(steps, config.Step{Name: fmt.Sprintf("unit %d", k), Action: true})
	}
	return steps
}

// rated is a driver section for tests whose rate can change while it runs.
type rated struct {
	RowsPerSecond int `yaml:"rowsPerSecond" json:"rowsPerSecond"`
}

func (r *rated) Check(*config.CheckContext) {}
func (r *rated) Pausable() bool             { return true }
func (r *rated) WithRowsPerSecond(rps int) config.DriverSpec {
	c := *r
	c.RowsPerSecond = rps
	return &c
}

// fannedOut is a driver section for tests whose phase fans out.
type fannedOut struct {
	Limit int `yaml:"limit" json:"limit"`
}

func (f *fannedOut) Check(*config.CheckContext) {}
func (f *fannedOut) FanOut() int                { return f.Limit }

func init() {
	config.RegisterDriver("counted", func() config.DriverSpec { return &countedSteps{} })
	config.RegisterDriver("fanned", func() config.DriverSpec { return &fannedOut{} })
	config.RegisterDriver("rated", func() config.DriverSpec { return &rated{} })
}

func mustSpec(t *testing.T, yaml string) config.Spec {
	t.Helper()
	spec, err := config.ParseSpec([]byte(yaml))
	require.NoError(t, err)
	return *spec
}

const hookOK = `{run: {command: ["true"]}, compensate: {command: ["true"]}}`

func TestRepeatedKindsRunInSpecOrderUnderTheirNames(t *testing.T) {
	spec := mustSpec(t, `name: test
phases:
  - {phase: validate, hook: `+hookOK+`}
  - {phase: copy, hook: `+hookOK+`}
  - {phase: reconcile, name: reconcile-after-copy, hook: `+hookOK+`}
  - {phase: shift-traffic, name: shift-reads, hook: `+hookOK+`}
  - {phase: shift-traffic, name: shift-writes, hook: `+hookOK+`}
  - {phase: reconcile, name: reconcile-after-shift, retry: {maxAttempts: 1}, hook: `+hookOK+`}
  - {phase: decommission, name: retire-tables, hook: `+hookOK+`}
`)
	h := newHarness(t)
	h.fake.behave = func(_ context.Context, call string, _ int32) error {
		if call == "run:reconcile-after-shift" {
			return temporal.NewNonRetryableApplicationError("rows differ", "Test", nil)
		}
		return nil
	}
	rep, err := h.run(spec)
	require.Error(t, err)
	require.Equal(t, []string{
		"run:validate", "run:copy", "run:reconcile-after-copy", "run:shift-reads", "run:shift-writes", "run:reconcile-after-shift",
		"compensate:shift-writes", "compensate:shift-reads", "compensate:reconcile-after-copy", "compensate:copy", "compensate:validate",
	}, h.fake.Calls())
	require.Equal(t, migration.StatusRolledBack, rep.Status)
	require.Equal(t, "reconcile-after-shift", rep.Phases[5].Phase)
	require.Equal(t, migration.PhaseReconcile, rep.Phases[5].Kind)
	require.Equal(t, "reconcile-after-shift", rep.Issues[0].Phase)
	require.Contains(t, rep.Error, "phase reconcile-after-shift failed: rows differ")
	require.Equal(t, 1, h.fake.preflights, "the validate phase ran the preflight once")
}

func TestFirstDecommissionIsThePointOfNoReturn(t *testing.T) {
	spec := mustSpec(t, `name: test
phases:
  - {phase: copy, hook: `+hookOK+`}
  - {phase: decommission, name: retire-tables, hook: `+hookOK+`}
  - {phase: decommission, name: retire-route, retry: {maxAttempts: 1}, hook: `+hookOK+`}
`)
	h := newHarness(t)
	h.fake.behave = func(_ context.Context, call string, _ int32) error {
		switch call {
		case "run:retire-tables":
			h.env.SignalWorkflow(SignalRollback, RollbackRequest{Reason: "too late", By: "bob"})
			time.Sleep(200 * time.Millisecond)
		case "run:retire-route":
			return temporal.NewNonRetryableApplicationError("route busy", "Test", nil)
		}
		return nil
	}
	rep, err := h.run(spec)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, ErrTypeFailed, appErr.Type(), "a failure after the first decommission started is not rolled back")
	require.Equal(t, []string{"run:copy", "run:retire-tables", "run:retire-route"}, h.fake.Calls())
	require.Equal(t, migration.StatusFailed, rep.Status)
	require.Equal(t, "rollback refused: decommission retire-tables has started: it is the point of no return", rep.Issues[0].Message)
}

func TestOutputsArePassedToLaterPhases(t *testing.T) {
	spec := mustSpec(t, `name: test
phases:
  - phase: provision
    name: infra-green
    outputs: [url]
    hook: `+hookOK+`
  - phase: shift-traffic
    hook:
      run: {command: [./shift.sh, "${phases.infra-green.outputs.url}"], env: {TARGET: "${phases.infra-green.outputs.url}/api"}}
`)
	h := newHarness(t)
	h.fake.outputs = func(in activities.PhaseInput) map[string]string {
		if in.Phase.Name == "infra-green" {
			return map[string]string{"url": `http://green:8080/"q"`, "undeclared": "dropped"}
		}
		return nil
	}
	rep, err := h.run(spec)
	require.NoError(t, err)
	shift := h.fake.inputs[1].Phase.Hook().Run
	require.Equal(t, []string{"./shift.sh", `http://green:8080/"q"`}, shift.Command)
	require.Equal(t, `http://green:8080/"q"/api`, shift.Env["TARGET"])
	// The workflow resolves nothing: the activity does, with the outputs
	// the phase's references name.
	sent := h.fake.sent[1]
	require.Equal(t, "${phases.infra-green.outputs.url}", sentSection(t, sent).(*config.Hook).Run.Command[1])
	require.Equal(t, config.Outputs{"infra-green": {"url": `http://green:8080/"q"`}}, sent.Outputs)
	require.Equal(t, map[string]string{"url": `http://green:8080/"q"`}, rep.Phases[0].Outputs, "only declared outputs are kept")
}

func TestAMissingOutputFailsThePhaseThatNeedsIt(t *testing.T) {
	spec := mustSpec(t, `name: test
phases:
  - {phase: provision, outputs: [url], hook: `+hookOK+`}
  - phase: copy
    hook: {run: {command: [./copy.sh, "${phases.provision.outputs.url}"]}}
`)
	h := newHarness(t)
	rep, err := h.run(spec)
	require.Error(t, err)
	require.Equal(t, []string{"run:provision", "compensate:provision"}, h.fake.Calls(), "copy never ran with a hole in its settings")
	require.Equal(t, migration.StatusRolledBack, rep.Status)
	require.Contains(t, rep.Phases[1].Error, "no value for ${phases.provision.outputs.url}")
}

func TestPreflightProblemsFailTheValidatePhase(t *testing.T) {
	h := newHarness(t)
	h.fake.problems = []activities.Problem{
		{Phase: "copy", Message: "store legacy: connection refused"},
		{Phase: "copy", Message: "table users has no primary key"},
	}
	rep, err := h.run(specWith(migration.PhaseValidate, migration.PhaseCopy))
	require.Error(t, err)
	require.Empty(t, h.fake.Calls(), "nothing runs after a failed preflight")
	require.Equal(t, migration.PhaseFailed, rep.Phases[0].State)
	require.Equal(t, "preflight found 2 problems: phase copy: store legacy: connection refused; phase copy: table users has no primary key", rep.Phases[0].Error)
}

// A problem several phases found (an environment variable every phase's
// store reads) is one problem in the phase's error, naming the phases:
// not one line per phase to read and compare.
func TestPreflightProblemsFoundBySeveralPhasesAreListedOnce(t *testing.T) {
	h := newHarness(t)
	h.fake.problems = []activities.Problem{
		{Phase: "provision", Message: "store legacy: environment variable LEGACY_DSN is not set"},
		{Phase: "copy", Message: "store legacy: environment variable LEGACY_DSN is not set"},
		{Phase: "copy", Message: "table users has no primary key"},
	}
	rep, err := h.run(specWith(migration.PhaseValidate, migration.PhaseProvision, migration.PhaseCopy))
	require.Error(t, err)
	require.Equal(t, "preflight found 2 problems: phases provision, copy: store legacy: environment variable LEGACY_DSN is not set; phase copy: table users has no primary key", rep.Phases[0].Error)
}

// A preflight's summaries count in the singular for one: "1 phase",
// "1 problem" ("preflight passed for 1 phases" before). The passed one is
// the validate phase's summary until its own action's replaces it.
func TestPreflightSummariesCountOneInTheSingular(t *testing.T) {
	passed := func(spec config.Spec) string {
		h := newHarness(t)
		var summary string
		h.fake.behave = func(_ context.Context, call string, _ int32) error {
			if call == "run:validate" {
				summary = h.query().Phases[0].Summary
			}
			return nil
		}
		_, err := h.run(spec)
		require.NoError(t, err)
		return summary
	}
	require.Equal(t, "preflight passed for 1 phase", passed(specWith(migration.PhaseValidate)))
	require.Equal(t, "preflight passed for 2 phases", passed(specWith(migration.PhaseValidate, migration.PhaseCopy)))

	h := newHarness(t)
	h.fake.problems = []activities.Problem{{Phase: "copy", Message: "store legacy: connection refused"}}
	rep, err := h.run(specWith(migration.PhaseValidate, migration.PhaseCopy))
	require.Error(t, err)
	require.Equal(t, "preflight found 1 problem: phase copy: store legacy: connection refused", rep.Phases[0].Error)
}

func TestStepsHoldOnPauseAndWaitAtTheirGate(t *testing.T) {
	spec := mustSpec(t, `name: test
phases:
  - phase: shift-traffic
    hook:
      steps:
        - {name: "set 10%", run: {command: ["true"]}}
        - {gate: half}
        - {wait: 1h}
        - {name: "set 100%", run: {command: ["true"]}}
      compensate: {command: ["true"]}
`)
	h := newHarness(t)
	h.fake.behave = func(_ context.Context, call string, _ int32) error {
		if call == "run:shift-traffic#1" {
			h.env.SignalWorkflow(SignalPause, PauseRequest{By: "carol"})
		}
		return nil
	}
	h.env.RegisterDelayedCallback(func() {
		rep := h.query()
		require.Equal(t, migration.StatusPaused, rep.Status)
		require.Equal(t, "1 of 1: shift-traffic, step 2 of 4: gate half", rep.CurrentPhase)
		require.Empty(t, rep.WaitingGate, "pause holds before the gate step")
		h.env.SignalWorkflow(SignalResume, PauseRequest{By: "carol"})
	}, 30*time.Minute)
	h.env.RegisterDelayedCallback(func() {
		rep := h.query()
		require.Equal(t, migration.StatusWaitingApproval, rep.Status)
		require.Equal(t, "half", rep.WaitingGate)
		require.Equal(t, []string{"run:shift-traffic#1"}, h.fake.Calls())
		h.env.UpdateWorkflow(UpdateApprove, "ok", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("approval rejected: %v", err) }, OnAccept: func() {},
			OnComplete: func(v any, err error) {
				require.NoError(t, err)
				require.Equal(t, ApproveResult{Gate: "half", Phase: "shift-traffic", By: "dave"}, v)
			},
		}, ApproveRequest{Gate: "half", By: "dave"})
	}, time.Hour)
	h.env.RegisterDelayedCallback(func() {
		require.Equal(t, []string{"run:shift-traffic#1"}, h.fake.Calls(), "the wait step holds the phase")
	}, 90*time.Minute)
	rep, err := h.run(spec)
	require.NoError(t, err)
	require.Equal(t, []string{"run:shift-traffic#1", "run:shift-traffic#4"}, h.fake.Calls())
	require.Equal(t, 4, rep.Phases[0].Steps)
	require.GreaterOrEqual(t, rep.Phases[0].EndTime.Sub(rep.StartTime), 2*time.Hour)
}

func TestRollbackInTheMiddleOfAMultiStepPhaseUndoesIt(t *testing.T) {
	spec := mustSpec(t, `name: test
phases:
  - {phase: copy, hook: `+hookOK+`}
  - phase: shift-traffic
    hook:
      steps:
        - {run: {command: ["true"]}}
        - {run: {command: ["true"]}}
        - {run: {command: ["true"]}}
      compensate: {command: ["true"]}
`)
	h := newHarness(t)
	h.fake.behave = func(ctx context.Context, call string, _ int32) error {
		if call != "run:shift-traffic#2" {
			return nil
		}
		h.env.SignalWorkflow(SignalRollback, RollbackRequest{Reason: "errors", By: "alice"})
		for {
			activity.RecordHeartbeat(ctx)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	rep, err := h.run(spec)
	require.NoError(t, err, "a requested rollback that undid every phase completes the run")
	require.Equal(t, []string{"run:copy", "run:shift-traffic#1", "run:shift-traffic#2", "compensate:shift-traffic", "compensate:copy"}, h.fake.Calls())
	require.Equal(t, 1, h.fake.inputs[3].StepsDone, "the compensation knows how far the phase got")
	require.Equal(t, migration.StatusRolledBack, rep.Status)
}

// TestPauseStopsAResumableActionAndRunsItAgainOnResume: the test
// environment resolves a cancelled activity at once and without the
// details the activity returns, so the checkpoint's way back (in the
// cancellation's details) is checked on a real server, by
// integration.TestPauseStopsAResumableHookAtItsCheckpoint.
func TestPauseStopsAResumableActionAndRunsItAgainOnResume(t *testing.T) {
	spec := mustSpec(t, `name: test
phases:
  - phase: copy
    heartbeatTimeout: 1s # heartbeats tell the activity of its cancellation
    hook: {resumable: true, run: {command: ["true"]}, compensate: {command: ["true"]}}
  - {phase: reconcile, hook: `+hookOK+`}
`)
	h := newHarness(t)
	first := true
	var pausedWhileStopped migration.Status
	h.fake.behave = func(ctx context.Context, call string, _ int32) error {
		if call != "run:copy" || !first {
			return nil
		}
		first = false
		h.env.SignalWorkflow(SignalPause, PauseRequest{By: "carol"})
		for {
			activity.RecordHeartbeat(ctx, activities.Heartbeat{Checkpoint: "row 42"})
			select {
			case <-ctx.Done():
				pausedWhileStopped = h.query().Status
				h.env.SignalWorkflow(SignalResume, PauseRequest{By: "carol"})
				return temporal.NewCanceledError(activities.PhaseResult{Checkpoint: "row 42"})
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	rep, err := h.run(spec)
	require.NoError(t, err)
	require.Equal(t, migration.StatusPaused, pausedWhileStopped, "pause stopped the running action")
	require.Equal(t, []string{"run:copy", "run:copy", "run:reconcile"}, h.fake.Calls(), "resume ran the action again, then went on")
	require.Equal(t, migration.StatusCompleted, rep.Status)
	require.Equal(t, migration.PhaseCompleted, rep.Phases[0].State)
}

func TestPauseLetsANonResumableActionFinish(t *testing.T) {
	h := newHarness(t)
	h.fake.behave = func(ctx context.Context, call string, _ int32) error {
		if call == "run:copy" {
			h.env.SignalWorkflow(SignalPause, PauseRequest{By: "carol"})
			time.Sleep(100 * time.Millisecond)
			if ctx.Err() != nil {
				t.Error("pause cancelled an action that cannot resume")
			}
		}
		return nil
	}
	h.env.RegisterDelayedCallback(func() {
		require.Equal(t, migration.PhaseCompleted, h.query().Phases[0].State)
		h.env.SignalWorkflow(SignalResume, PauseRequest{})
	}, time.Hour)
	rep, err := h.run(specWith(migration.PhaseCopy, migration.PhaseReconcile))
	require.NoError(t, err)
	require.Equal(t, runs(migration.PhaseCopy, migration.PhaseReconcile), h.fake.Calls())
	require.Equal(t, migration.StatusCompleted, rep.Status)
}

func TestAPhaseOfFiveThousandStepsContinuesAsNew(t *testing.T) {
	spec := mustSpec(t, `name: test
phases:
  - {phase: validate, hook: `+hookOK+`}
  - {phase: copy, counted: {count: 5000, gateAt: 4500, gate: late}}
`)
	in := Input{Spec: spec}
	var h *harness
	var all []string
	runsDone, gateSeen := 0, false
	for {
		h = newHarness(t)
		h.env.RegisterDelayedCallback(func() {
			if h.query().WaitingGate != "late" {
				return
			}
			gateSeen = true
			h.env.UpdateWorkflow(UpdateApprove, "g", &testsuite.TestUpdateCallback{
				OnReject: func(err error) { t.Errorf("rejected: %v", err) }, OnAccept: func() {}, OnComplete: func(any, error) {},
			}, ApproveRequest{Gate: "late", By: "erin"})
		}, time.Minute)
		h.env.ExecuteWorkflow(WorkflowName, in)
		require.True(t, h.env.IsWorkflowCompleted())
		runsDone++
		calls := h.fake.Calls()
		all = append(all, calls...)
		var can *workflow.ContinueAsNewError
		err := h.env.GetWorkflowError()
		if !errors.As(err, &can) {
			require.NoError(t, err)
			break
		}
		require.LessOrEqual(t, len(calls), DefaultActivitiesPerRun, "a run stays within its activity budget")
		in = Input{}
		require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &in))
		require.NotNil(t, in.Carry)
		require.Equal(t, 1, in.Carry.Phase)
	}
	want := []string{"run:validate"}
	for k := 1; k <= 5001; k++ {
		if k != 4500 { // the gate step
			want = append(want, fmt.Sprintf("run:copy#%d", k))
		}
	}
	require.Equal(t, want, all, "every step ran once, in order, across the runs")
	var rep migration.Report
	require.NoError(t, h.env.GetWorkflowResult(&rep))
	require.Equal(t, migration.StatusCompleted, rep.Status)
	require.True(t, gateSeen, "the gate step waited for approval")
	require.Equal(t, 5001, rep.Phases[1].Steps)
	require.Greater(t, runsDone, 10)
	require.Equal(t, int64(5000*10), rep.Phases[1].Records, "every step's records counted once")
}

func TestWebhooksHearOfPhasesGatesPausesAndRollbacks(t *testing.T) {
	spec := mustSpec(t, `name: test
notifications:
  - {kind: slack, url: {fromEnv: SLACK_URL}}
phases:
  - {phase: copy, hook: `+hookOK+`}
  - {phase: shift-traffic, approval: {gate: go}, hook: `+hookOK+`}
`)
	h := newHarness(t)
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(SignalPause, PauseRequest{By: "carol"})
		h.env.SignalWorkflow(SignalRollback, RollbackRequest{By: "alice", Reason: "not today"})
	}, time.Hour)
	rep, err := h.run(spec)
	require.NoError(t, err, "a requested rollback that undid every phase completes the run")
	require.Equal(t, migration.StatusRolledBack, rep.Status)
	// Notifications go out in the background: order them as sent, by the
	// sequence number in their IDs.
	seq := func(ev notify.Event) int {
		parts := strings.Split(ev.ID, "/")
		n, _ := strconv.Atoi(parts[len(parts)-2])
		return n
	}
	sort.Slice(h.fake.events, func(i, j int) bool { return seq(h.fake.events[i]) < seq(h.fake.events[j]) })
	var got []string
	ids := map[string]bool{}
	for _, ev := range h.fake.events {
		got = append(got, string(ev.Type)+" "+ev.Phase+ev.Gate)
		require.Equal(t, "test", ev.Migration)
		require.False(t, ids[ev.ID], "event IDs are unique: %s", ev.ID)
		ids[ev.ID] = true
	}
	require.Equal(t, []string{
		"phase.started copy", "phase.completed copy", "gate.waiting shift-trafficgo",
		"migration.paused ", "rollback.started ", "rollback.finished ",
	}, got)
	require.Contains(t, h.fake.events[2].Message, "godwit approve test --gate go")
	require.Equal(t, "rollback requested by alice: not today", h.fake.events[4].Reason)
}

func windowSpec(t *testing.T, window string) config.Spec {
	return mustSpec(t, `name: test
window: `+window+`
phases:
  - {phase: copy, hook: `+hookOK+`}
  - {phase: shift-traffic, name: switch-writes, disruptive: true, hook: `+hookOK+`}
  - {phase: decommission, hook: `+hookOK+`}
`)
}

func TestDisruptivePhasesWaitForTheWindowAcrossZonesAndDST(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	// Saturday 24 October 2026, 10:00 in Berlin (08:00 UTC). The window is
	// 02:00-04:00 Berlin time; that night summer time ends at 03:00.
	start := time.Date(2026, 10, 24, 10, 0, 0, 0, berlin)
	h := newHarness(t)
	h.env.SetStartTime(start)
	h.env.RegisterDelayedCallback(func() {
		rep := h.query()
		require.Equal(t, migration.StatusWaitingWindow, rep.Status)
		require.Equal(t, "window", rep.WaitingGate)
		require.Equal(t, time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC), rep.WindowOpens.UTC(), "02:00 CEST, the first 02:00 of the night")
		require.Contains(t, rep.NextSteps[0], "phase switch-writes waits for its window 02:00–04:00 (Europe/Berlin), which opens at 2026-10-25 00:00 UTC")
		require.Equal(t, []string{"run:copy"}, h.fake.Calls())
	}, time.Hour)
	rep, err := h.run(windowSpec(t, `{timezone: Europe/Berlin, preferred: [{start: "02:00", end: "04:00"}]}`))
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, rep.Status)
	require.Equal(t, time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC), rep.Phases[1].StartTime.UTC(), "the disruptive phase started when the window opened")
	require.Equal(t, time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC), rep.Phases[2].StartTime.UTC(), "decommission found the window still open")
}

func TestBusinessHoursHoldDecommissionUntilTheyEnd(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	// Monday 9 March 2026, 11:00 in New York, the day after summer time began.
	h := newHarness(t)
	h.env.SetStartTime(time.Date(2026, 3, 9, 11, 0, 0, 0, ny))
	spec := mustSpec(t, `name: test
window: {timezone: America/New_York, businessHours: [{days: [mon-fri], start: "08:00", end: "18:00"}]}
phases:
  - {phase: copy, hook: `+hookOK+`}
  - {phase: decommission, hook: `+hookOK+`}
`)
	rep, err := h.run(spec)
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, rep.Status)
	require.Equal(t, time.Date(2026, 3, 9, 22, 0, 0, 0, time.UTC), rep.Phases[1].StartTime.UTC(), "18:00 EDT is 22:00 UTC")
}

func TestApprovingTheWindowGateNeedsAReasonAndStartsNow(t *testing.T) {
	h := newHarness(t)
	h.env.SetStartTime(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	h.env.RegisterDelayedCallback(func() {
		require.Equal(t, migration.StatusWaitingWindow, h.query().Status)
		h.env.UpdateWorkflow(UpdateApprove, "no-reason", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { require.ErrorContains(t, err, "needs a reason") },
			OnAccept: func() { t.Error("window override without a reason accepted") }, OnComplete: func(any, error) {},
		}, ApproveRequest{Gate: WindowGate, By: "erin"})
		h.env.UpdateWorkflow(UpdateApprove, "ok", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("rejected: %v", err) }, OnAccept: func() {}, OnComplete: func(any, error) {},
		}, ApproveRequest{Gate: WindowGate, By: "erin", Reason: "incident 4711"})
	}, time.Hour)
	rep, err := h.run(windowSpec(t, `{preferred: [{start: "02:00", end: "04:00"}]}`))
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, rep.Status)
	require.Contains(t, rep.Issues[0].Message, "phase switch-writes started outside its window, approved by erin: incident 4711")
	require.GreaterOrEqual(t, rep.EndTime.Sub(rep.StartTime), 14*time.Hour, "the override opened the window for one phase only: decommission waited")
}

func TestAStepThatFindsThePlanChangedStartsThePhaseAgainAndTheGateAsksAgain(t *testing.T) {
	spec := mustSpec(t, `name: test
phases:
  - phase: provision
    counted: {count: 2, gateAt: 2, gate: apply}
`)
	h := newHarness(t)
	applies := 0
	h.fake.behave = func(_ context.Context, call string, _ int32) error {
		if call == "run:provision#3" { // the step after the gate: apply
			applies++
			if applies == 1 {
				return temporal.NewNonRetryableApplicationError("the plan changed since it was approved", activities.ErrTypeStepsAgain, nil)
			}
		}
		return nil
	}
	approvals := 0
	approve := func() {
		h.env.UpdateWorkflow(UpdateApprove, fmt.Sprint("a", approvals), &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("rejected: %v", err) }, OnAccept: func() {}, OnComplete: func(any, error) {},
		}, ApproveRequest{Gate: "apply", By: "dave"})
		approvals++
	}
	h.env.RegisterDelayedCallback(approve, time.Hour)
	h.env.RegisterDelayedCallback(func() {
		rep := h.query()
		require.Equal(t, "apply", rep.WaitingGate, "the gate asks again")
		require.Contains(t, rep.Issues[0].Message, "phase provision starts its steps again: the plan changed since it was approved")
		approve()
	}, 2*time.Hour)
	rep, err := h.run(spec)
	require.NoError(t, err)
	require.Equal(t, 2, approvals)
	require.Equal(t, []string{"run:provision#1", "run:provision#3", "run:provision#1", "run:provision#3"}, h.fake.Calls())
	require.Equal(t, migration.StatusCompleted, rep.Status)
}

func TestPromoteSkipsTheRemainingWaitsAndGates(t *testing.T) {
	spec := mustSpec(t, `name: test
phases:
  - phase: shift-traffic
    approval: {gate: start}
    hook:
      steps:
        - {name: "10%", run: {command: ["true"]}}
        - {wait: 2h}
        - {gate: half}
        - {name: "100%", run: {command: ["true"]}}
      compensate: {command: ["true"]}
`)
	h := newHarness(t)
	reject := func(name string, req PromoteRequest, want string) {
		h.env.UpdateWorkflow(UpdatePromote, name, &testsuite.TestUpdateCallback{
			OnReject: func(err error) { require.ErrorContains(t, err, want) },
			OnAccept: func() { t.Errorf("promote %s accepted", name) }, OnComplete: func(any, error) {},
		}, req)
	}
	h.env.RegisterDelayedCallback(func() {
		reject("at-phase-gate", PromoteRequest{By: "ann"}, "promote applies to a running phase of steps")
		h.env.UpdateWorkflow(UpdateApprove, "start", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("rejected: %v", err) }, OnAccept: func() {}, OnComplete: func(any, error) {},
		}, ApproveRequest{Gate: "start", By: "ann"})
	}, time.Minute)
	h.env.RegisterDelayedCallback(func() {
		require.Contains(t, h.query().CurrentPhase, "step 2 of 4: wait 2h0m0s")
		h.env.UpdateWorkflow(UpdatePromote, "ok", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("rejected: %v", err) }, OnAccept: func() {},
			OnComplete: func(v any, err error) { require.Equal(t, "shift-traffic", v) },
		}, PromoteRequest{By: "ann", Reason: "bake time enough"})
		reject("twice", PromoteRequest{By: "bob"}, "already promoted by ann")
	}, 30*time.Minute)
	rep, err := h.run(spec)
	require.NoError(t, err)
	require.Equal(t, []string{"run:shift-traffic#1", "run:shift-traffic#4"}, h.fake.Calls())
	require.Less(t, rep.EndTime.Sub(rep.StartTime), time.Hour, "neither the wait nor the gate held the promoted phase")
	require.Contains(t, rep.Issues[0].Message, "phase shift-traffic promoted by ann: its remaining waits, gates and checks are skipped: bake time enough")
}

func TestAStepThatAsksAPersonPausesThereAndRunsAgainOnResume(t *testing.T) {
	spec := mustSpec(t, `name: test
phases:
  - {phase: shift-traffic, counted: {count: 3}}
`)
	h := newHarness(t)
	tries := 0
	h.fake.behave = func(_ context.Context, call string, _ int32) error {
		if call == "run:shift-traffic#2" {
			tries++
			if tries == 1 {
				return temporal.NewNonRetryableApplicationError("error rate 0.02 above 0.01", activities.ErrTypeHoldForPerson, nil)
			}
		}
		return nil
	}
	h.env.RegisterDelayedCallback(func() {
		rep := h.query()
		require.Equal(t, migration.StatusPaused, rep.Status)
		require.Contains(t, rep.Issues[0].Message, "phase shift-traffic paused at step 2 for a decision: error rate 0.02 above 0.01")
		require.Equal(t, PausedByGodwit, rep.PausedBy)
		require.Equal(t, "phase shift-traffic step 2 needs a decision: error rate 0.02 above 0.01", rep.PauseReason)
		h.env.SignalWorkflow(SignalResume, PauseRequest{By: "dave"})
	}, time.Hour)
	rep, err := h.run(spec)
	require.NoError(t, err)
	require.Equal(t, []string{"run:shift-traffic#1", "run:shift-traffic#2", "run:shift-traffic#2", "run:shift-traffic#3"}, h.fake.Calls())
	require.Equal(t, migration.StatusCompleted, rep.Status)
}

func TestAFannedOutPhaseRunsEachUnitAsItsOwnActivity(t *testing.T) {
	spec := mustSpec(t, `name: test
phases:
  - {phase: copy, fanned: {limit: 2}}
  - {phase: reconcile, hook: `+hookOK+`}
`)
	h := newHarness(t)
	registerUnitPlanner(h, func(ctx context.Context, in activities.PhaseInput) ([]string, error) {
		return []string{"customers", "orders", "order_lines", "invoices", "payments"}, nil
	})
	var mu sync.Mutex
	running, most := 0, 0
	h.fake.behave = func(ctx context.Context, call string, _ int32) error {
		if call != "run:copy" {
			return nil
		}
		mu.Lock()
		running++
		most = max(most, running)
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		running--
		mu.Unlock()
		return nil
	}
	rep, err := h.run(spec)
	require.NoError(t, err)
	var units []string
	for _, in := range h.fake.inputs {
		if in.Phase.Name == "copy" {
			units = append(units, in.Unit)
		}
	}
	sort.Strings(units)
	require.Equal(t, []string{"customers", "invoices", "order_lines", "orders", "payments"}, units, "each unit ran once")
	require.LessOrEqual(t, most, 2, "at most the limit at once")
	require.Equal(t, int64(50), rep.Phases[0].Records, "records summed over the units")
	require.Equal(t, "5 of 5 units done, 0 running", rep.Phases[0].Step)
}

func TestAFailedUnitStopsThePhaseAndRollsBackWhatTheOthersDid(t *testing.T) {
	spec := mustSpec(t, `name: test
phases:
  - {phase: copy, retry: {maxAttempts: 1}, fanned: {limit: 1}}
`)
	h := newHarness(t)
	registerUnitPlanner(h, func(ctx context.Context, in activities.PhaseInput) ([]string, error) {
		return []string{"a", "b", "c"}, nil
	})
	h.fake.behave = func(ctx context.Context, call string, _ int32) error {
		if len(h.fake.Calls()) == 2 { // the second unit
			return temporal.NewNonRetryableApplicationError("table b has no primary key", "Test", nil)
		}
		return nil
	}
	rep, err := h.run(spec)
	require.Error(t, err)
	require.Equal(t, []string{"run:copy", "run:copy", "compensate:copy"}, h.fake.Calls(), "c never started; the phase was undone")
	require.Equal(t, "phase copy failed: unit b: table b has no primary key", rep.Error)
	require.Equal(t, migration.StatusRolledBack, rep.Status)
}

func TestThrottleRestartsTheRunningCopyAtItsCheckpointWithTheNewRate(t *testing.T) {
	spec := mustSpec(t, `name: test
phases:
  - {phase: copy, heartbeatTimeout: 1s, rated: {rowsPerSecond: 500}}
`)
	h := newHarness(t)
	first := true
	h.fake.behave = func(ctx context.Context, call string, _ int32) error {
		if !first {
			return nil
		}
		first = false
		h.env.UpdateWorkflow(UpdateThrottle, "t", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("rejected: %v", err) }, OnAccept: func() {}, OnComplete: func(any, error) {},
		}, ThrottleRequest{RowsPerSecond: 2000, By: "ops"})
		for {
			activity.RecordHeartbeat(ctx, activities.Heartbeat{Checkpoint: "row 7"})
			select {
			case <-ctx.Done():
				return temporal.NewCanceledError(activities.PhaseResult{Checkpoint: "row 7"})
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	rep, err := h.run(spec)
	require.NoError(t, err)
	require.Equal(t, []string{"run:copy", "run:copy"}, h.fake.Calls(), "stopped and run again")
	require.Equal(t, 500, h.fake.inputs[0].Phase.Driver.(*rated).RowsPerSecond)
	require.Equal(t, 2000, h.fake.inputs[1].Phase.Driver.(*rated).RowsPerSecond, "the second run takes the new rate")
	// The workflow changes no driver section: the activity applies the rate.
	require.Equal(t, 500, sentSection(t, h.fake.sent[1]).(*rated).RowsPerSecond)
	require.Equal(t, 2000, *h.fake.sent[1].RowsPerSecond)
	require.Contains(t, rep.Issues[0].Message, "phase copy throttled to 2000 rows/s by ops")
	require.Equal(t, migration.StatusCompleted, rep.Status)
}

func TestThrottleIsRefusedForADriverWithoutARate(t *testing.T) {
	h := newHarness(t)
	h.fake.behave = func(ctx context.Context, call string, _ int32) error {
		h.env.UpdateWorkflow(UpdateThrottle, "t", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { require.ErrorContains(t, err, "phase copy's hook driver takes no rate") },
			OnAccept: func() { t.Error("throttle of a hook accepted") }, OnComplete: func(any, error) {},
		}, ThrottleRequest{RowsPerSecond: 10})
		return nil
	}
	_, err := h.run(specWith(migration.PhaseCopy))
	require.NoError(t, err)
}

// TestAFannedOutPhaseCountsItsUnitsAndTheirFailedAttempts checks the
// report of a fanned-out phase names its units and counts the failed
// attempts of a unit that a retry then finished: failed attempts, not
// failed work, so the error rate stays 0 and the risk LOW.
func TestAFannedOutPhaseCountsItsUnitsAndTheirFailedAttempts(t *testing.T) {
	spec := mustSpec(t, `name: test
phases:
  - {phase: copy, retry: {maxAttempts: 3, initialInterval: 1s}, fanned: {limit: 2}}
`)
	h := newHarness(t)
	registerUnitPlanner(h, func(ctx context.Context, in activities.PhaseInput) ([]string, error) {
		return []string{"a", "b", "c", "d"}, nil
	})
	var mu sync.Mutex
	failures := 0
	h.fake.behave = func(ctx context.Context, call string, attempt int32) error {
		mu.Lock()
		defer mu.Unlock()
		if call == "run:copy" && attempt == 1 && failures < 2 {
			failures++
			return errors.New("worker lost")
		}
		return nil
	}
	rep, err := h.run(spec)
	require.NoError(t, err)
	p := rep.Phases[0]
	require.Equal(t, migration.PhaseCompleted, p.State)
	require.Equal(t, 4, p.Units)
	require.Equal(t, 4, p.UnitsDone)
	require.Empty(t, p.RunningUnits)
	require.Equal(t, 2, p.FailedAttempts, "each unit's failed attempt counted")
	require.Equal(t, 6, rep.Metrics.Attempts)
	require.Equal(t, 2, rep.Metrics.FailedAttempts)
	require.Zero(t, rep.Metrics.ErrorRate, "no work failed for good")
	require.Equal(t, migration.RiskLow, rep.Risk)
}

// A copy a pause stopped and a rollback then ended has an end: the
// status does not count its duration and rate on to now, as if it still
// moved.
func TestACopyStoppedByAPauseThenRolledBackHasAnEnd(t *testing.T) {
	spec := mustSpec(t, `name: test
phases:
  - phase: copy
    heartbeatTimeout: 1s # heartbeats tell the activity of its cancellation
    hook: {resumable: true, run: {command: ["true"]}, compensate: {command: ["true"]}}
  - {phase: reconcile, hook: `+hookOK+`}
`)
	h := newHarness(t)
	h.fake.behave = func(ctx context.Context, call string, _ int32) error {
		if call != "run:copy" {
			return nil
		}
		h.env.SignalWorkflow(SignalPause, PauseRequest{By: "carol"})
		for {
			activity.RecordHeartbeat(ctx, activities.Heartbeat{Checkpoint: "row 42"})
			select {
			case <-ctx.Done():
				h.env.RegisterDelayedCallback(func() {
					h.env.SignalWorkflow(SignalRollback, RollbackRequest{Reason: "enough", By: "carol"})
				}, time.Minute)
				return temporal.NewCanceledError(activities.PhaseResult{Checkpoint: "row 42"})
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	rep, err := h.run(spec)
	require.NoError(t, err)
	require.Equal(t, migration.StatusRolledBack, rep.Status)
	p := rep.Phases[0]
	require.False(t, p.EndTime.IsZero(), "the phase the pause stopped ended when the rollback came: %+v", p)
	require.False(t, p.EndTime.Before(p.StartTime))
}
