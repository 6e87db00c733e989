package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/notify"
)

// fakePhases stands in for the phase activities: it records every call and
// lets a test decide each call's outcome.
type fakePhases struct {
	mu    sync.Mutex
	calls []string // "run:copy", "compensate:copy"
	// behave returns the outcome of a call; nil means success.
	behave func(ctx context.Context, call string, attempt int32) error
	// outputs returns the outputs of a successful call; may be nil.
	outputs func(in activities.PhaseInput) map[string]string
	// inputs keeps every call's input, for tests of what phases received.
	inputs []activities.PhaseInput
	// sent keeps them as the workflow sent them (PhaseInput.Applied makes
	// inputs of them, as the real activities do).
	sent []activities.PhaseInput
	// problems is what the preflight finds; preflights counts its runs.
	problems   []activities.Problem
	preflights int
	// events are the notifications sent.
	events []notify.Event
	// result, when set, completes a successful call's result (a lag).
	result func(ctx context.Context, in activities.PhaseInput, res *activities.PhaseResult) error
}

func (f *fakePhases) record(ctx context.Context, action activities.Action, in activities.PhaseInput) (activities.PhaseResult, error) {
	// What a driver gets from the real activity: the section with its
	// references resolved, the rate and the follower's bound applied.
	sent := in
	in, err := in.Applied(action)
	if err != nil {
		return activities.PhaseResult{}, temporal.NewNonRetryableApplicationError(err.Error(), activities.ErrTypeConfig, err)
	}
	call := fmt.Sprintf("%s:%s", action, in.Phase.Name)
	if in.Step > 0 {
		call = fmt.Sprintf("%s#%d", call, in.Step)
	}
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.inputs = append(f.inputs, in)
	f.sent = append(f.sent, sent)
	f.mu.Unlock()
	attempt := activity.GetInfo(ctx).Attempt
	if f.behave != nil {
		if err := f.behave(ctx, call, attempt); err != nil {
			var appErr *temporal.ApplicationError
			if errors.As(err, &appErr) && appErr.HasDetails() {
				return activities.PhaseResult{}, err // a result the test made (a checkpoint)
			}
			return activities.PhaseResult{}, activities.WithResult(err, activities.PhaseResult{Attempt: attempt})
		}
	}
	res := activities.PhaseResult{Phase: in.Phase.Name, Action: action, Attempt: attempt, Records: 10, Summary: "ok " + call}
	if f.result != nil {
		if err := f.result(ctx, in, &res); err != nil {
			return res, err
		}
	}
	if f.outputs != nil {
		res.Outputs = f.outputs(in)
	}
	return res, nil
}

// sentSection is the driver section of an input as the workflow sent
// it, decoded as the activity decodes it: a run on plans as data sends
// it raw.
func sentSection(t *testing.T, in activities.PhaseInput) config.DriverSpec {
	t.Helper()
	p, err := in.Phase.Decoded()
	require.NoError(t, err)
	return p.Driver
}

func (f *fakePhases) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

type harness struct {
	t     *testing.T
	env   *testsuite.TestWorkflowEnvironment
	fake  *fakePhases
	suite testsuite.WorkflowTestSuite
	// scheduled is the order the workflow scheduled its activities in.
	scheduled *scheduleLog
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, fake: &fakePhases{}}
	guard := newStatusGuard()
	h.suite.SetLogger(guard)
	t.Cleanup(func() { guard.check(t) })
	h.env = h.suite.NewTestWorkflowEnvironment()
	// The deadlock detector's 1 s can pass on a loaded CI machine under
	// -race without any deadlock; a real one still ends in the test timeout.
	h.scheduled = &scheduleLog{}
	h.env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: 30 * time.Second,
		Interceptors: []interceptor.WorkerInterceptor{h.scheduled}})
	h.env.RegisterWorkflowWithOptions(Migration, workflowRegisterOptions())
	h.env.RegisterWorkflowWithOptions(FanOutWindow, workflow.RegisterOptions{Name: FanOutWindowName})
	h.env.RegisterActivityWithOptions(func(ctx context.Context, in activities.PhaseInput) (activities.PhaseResult, error) {
		return h.fake.record(ctx, activities.ActionRun, in)
	}, activity.RegisterOptions{Name: activities.RunPhaseName})
	h.env.RegisterActivityWithOptions(func(ctx context.Context, in activities.PhaseInput) (activities.PhaseResult, error) {
		return h.fake.record(ctx, activities.ActionCompensate, in)
	}, activity.RegisterOptions{Name: activities.CompensatePhaseName})
	h.env.RegisterActivityWithOptions(func(ctx context.Context, in activities.PreflightInput) (activities.PreflightResult, error) {
		h.fake.mu.Lock()
		defer h.fake.mu.Unlock()
		h.fake.preflights++
		return activities.PreflightResult{Problems: h.fake.problems}, nil
	}, activity.RegisterOptions{Name: activities.PreflightName})
	h.env.RegisterActivityWithOptions(func(ctx context.Context, in activities.NotifyInput) error {
		h.fake.mu.Lock()
		defer h.fake.mu.Unlock()
		h.fake.events = append(h.fake.events, in.Event)
		return nil
	}, activity.RegisterOptions{Name: activities.NotifyName})
	return h
}

// run executes the workflow and returns its final report, taken from the
// result or from the error's details.
// registerUnitPlanner makes list the test's unit planning: PlanUnits, as
// runs before unitRowsV1 call it, and PlanSizedUnits, which gives the
// units with no estimate of their rows.
func registerUnitPlanner(h *harness, list func(ctx context.Context, in activities.PhaseInput) ([]string, error)) {
	h.env.RegisterActivityWithOptions(list, activity.RegisterOptions{Name: activities.PlanUnitsName})
	h.env.RegisterActivityWithOptions(func(ctx context.Context, in activities.PhaseInput) (activities.UnitsPlan, error) {
		units, err := list(ctx, in)
		return activities.UnitsPlan{Units: units}, err
	}, activity.RegisterOptions{Name: activities.PlanSizedUnitsName})
}

func (h *harness) run(spec config.Spec) (*migration.Report, error) {
	h.t.Helper()
	return h.runInput(Input{Spec: spec})
}

// runInput is run with a whole input (test knobs).
func (h *harness) runInput(in Input) (*migration.Report, error) {
	h.t.Helper()
	h.env.ExecuteWorkflow(WorkflowName, in)
	require.True(h.t, h.env.IsWorkflowCompleted())
	err := h.env.GetWorkflowError()
	var rep migration.Report
	if err == nil {
		require.NoError(h.t, h.env.GetWorkflowResult(&rep))
		require.False(h.t, rep.EndTime.IsZero(), "the final report has its end time")
		return &rep, nil
	}
	final, ok := ReportFromError(err)
	require.True(h.t, ok, "the workflow error carries no report: %v", err)
	rep = *final
	require.False(h.t, rep.EndTime.IsZero(), "the final report, in an error's details too, has its end time")
	return &rep, err
}

func (h *harness) query() migration.Report {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(QueryStatus)
	require.NoError(h.t, err)
	var rep migration.Report
	require.NoError(h.t, v.Get(&rep))
	return rep
}

// specWith builds a valid spec with the given phases, each a hook with a
// compensation, one attempt each unless changed.
func specWith(phases ...migration.Phase) config.Spec {
	yaml := "name: test\nphases:\n"
	for _, p := range phases {
		yaml += fmt.Sprintf("  - phase: %s\n    retry: {maxAttempts: 1}\n    hook:\n      run: {command: [\"true\"]}\n      compensate: {command: [\"true\"]}\n", p)
	}
	spec, err := config.ParseSpec([]byte(yaml))
	if err != nil {
		panic(err)
	}
	return *spec
}

func runs(phases ...migration.Phase) []string {
	out := make([]string, len(phases))
	for i, p := range phases {
		out[i] = "run:" + string(p)
	}
	return out
}

func compensations(phases ...migration.Phase) []string {
	out := make([]string, len(phases))
	for i, p := range phases {
		out[i] = "compensate:" + string(p)
	}
	return out
}

func TestPhasesRunInOrderAndComplete(t *testing.T) {
	h := newHarness(t)
	rep, err := h.run(specWith(migration.AllPhases...))
	require.NoError(t, err)
	require.Equal(t, runs(migration.AllPhases...), h.fake.Calls())
	require.Equal(t, migration.StatusCompleted, rep.Status)
	require.Equal(t, 100.0, rep.OverallProgress)
	// Every phase reports 10 records: only the copy phase's are rows
	// copied, and the reconcile phase's rows compared.
	require.Equal(t, int64(10), rep.Metrics.RecordsCopied)
	require.Equal(t, int64(10), rep.Metrics.RecordsCompared)
	for _, p := range rep.Phases {
		require.Equal(t, "hook", p.Driver, "the report names phase %s's driver", p.Phase)
	}
	for _, p := range rep.Phases {
		require.Equal(t, migration.PhaseCompleted, p.State, p.Phase)
	}
	require.Equal(t, migration.RollbackNotAvailable, rep.Rollback)
}

func TestOmittedPhasesAreSkipped(t *testing.T) {
	h := newHarness(t)
	rep, err := h.run(specWith(migration.PhaseValidate, migration.PhaseShiftTraffic))
	require.NoError(t, err)
	require.Equal(t, runs(migration.PhaseValidate, migration.PhaseShiftTraffic), h.fake.Calls())
	require.Len(t, rep.Phases, 2)
}

func TestFailureCompensatesCompletedPhasesInReverse(t *testing.T) {
	all := migration.AllPhases
	for i, failing := range all[:len(all)-1] { // decommission has its own test
		t.Run(string(failing), func(t *testing.T) {
			h := newHarness(t)
			h.fake.behave = func(_ context.Context, call string, _ int32) error {
				if call == "run:"+string(failing) {
					return temporal.NewNonRetryableApplicationError("boom in "+string(failing), "Test", nil)
				}
				return nil
			}
			rep, err := h.run(specWith(all...))
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, err, &appErr, "a rollback after a failure fails the run")
			require.Equal(t, ErrTypeRolledBack, appErr.Type())

			done := all[:i]
			want := append(runs(all[:i+1]...), compensations(reversed(done)...)...)
			require.Equal(t, want, h.fake.Calls())
			require.Equal(t, migration.StatusRolledBack, rep.Status)
			require.Equal(t, migration.PhaseFailed, rep.Phases[i].State)
			require.Contains(t, rep.Phases[i].Error, "boom in "+string(failing))
			require.Contains(t, rep.Error, "phase "+string(failing)+" failed")
			for j := range done {
				require.Equal(t, migration.PhaseCompensated, rep.Phases[j].State)
			}
			for j := i + 1; j < len(all); j++ {
				require.Equal(t, migration.PhasePending, rep.Phases[j].State)
			}
		})
	}
}

func reversed(ps []migration.Phase) []migration.Phase {
	out := make([]migration.Phase, len(ps))
	for i, p := range ps {
		out[len(ps)-1-i] = p
	}
	return out
}

func TestDecommissionFailureIsNotRolledBack(t *testing.T) {
	h := newHarness(t)
	h.fake.behave = func(_ context.Context, call string, _ int32) error {
		if call == "run:decommission" {
			return temporal.NewNonRetryableApplicationError("cannot drop legacy", "Test", nil)
		}
		return nil
	}
	rep, err := h.run(specWith(migration.AllPhases...))
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, ErrTypeFailed, appErr.Type())
	require.Equal(t, runs(migration.AllPhases...), h.fake.Calls(), "no compensation may run past the point of no return")
	require.Equal(t, migration.StatusFailed, rep.Status)
	require.Equal(t, migration.RollbackNotAvailable, rep.Rollback)
}

// blockUntilCancelled makes the phase's run call onStart, then block until
// its context is cancelled (as a rollback does), heartbeating so the cancel
// is delivered. The test environment's clock stands still while an activity
// runs, so signals for a running phase are sent from onStart.
func blockUntilCancelled(phase migration.Phase, onStart func()) func(context.Context, string, int32) error {
	return func(ctx context.Context, call string, _ int32) error {
		if call != "run:"+string(phase) {
			return nil
		}
		onStart()
		for {
			activity.RecordHeartbeat(ctx)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
}

func TestRollbackSignalInEachPhase(t *testing.T) {
	all := migration.AllPhases
	for i, phase := range all[:len(all)-1] {
		t.Run(string(phase), func(t *testing.T) {
			h := newHarness(t)
			h.fake.behave = blockUntilCancelled(phase, func() {
				h.env.SignalWorkflow(SignalRollback, RollbackRequest{Reason: "p99 too high", By: "alice"})
			})
			rep, err := h.run(specWith(all...))
			require.NoError(t, err, "a requested rollback that undid every phase completes the run")

			want := append(runs(all[:i+1]...), compensations(reversed(all[:i])...)...)
			require.Equal(t, want, h.fake.Calls())
			require.Equal(t, migration.StatusRolledBack, rep.Status)
			require.Equal(t, migration.PhaseCancelled, rep.Phases[i].State)
			require.Equal(t, "rollback requested by alice: p99 too high", rep.Error)
		})
	}
}

func TestRollbackIsRefusedDuringDecommission(t *testing.T) {
	h := newHarness(t)
	h.fake.behave = func(ctx context.Context, call string, _ int32) error {
		if call == "run:decommission" {
			h.env.SignalWorkflow(SignalRollback, RollbackRequest{Reason: "too late", By: "bob"})
			time.Sleep(200 * time.Millisecond) // let the workflow take the signal while decommission runs
		}
		return nil
	}
	rep, err := h.run(specWith(migration.PhaseValidate, migration.PhaseDecommission))
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, rep.Status)
	require.Equal(t, runs(migration.PhaseValidate, migration.PhaseDecommission), h.fake.Calls())
	require.Len(t, rep.Issues, 1)
	require.Equal(t, "rollback refused: decommission has started: it is the point of no return", rep.Issues[0].Message)
}

func TestRollbackIsRefusedAfterCompletion(t *testing.T) {
	r := migration.NewReport("m", "", []migration.Phase{migration.PhaseValidate}, nil, time.Unix(0, 0))
	r.Status = migration.StatusCompleted
	r.Refresh(time.Unix(60, 0))
	require.Equal(t, migration.RollbackNotAvailable, r.Rollback)
}

func TestPauseHoldsNextPhaseUntilResume(t *testing.T) {
	h := newHarness(t)
	h.fake.behave = func(_ context.Context, call string, _ int32) error {
		if call == "run:validate" {
			// Paused while validate runs: validate finishes, copy waits.
			h.env.SignalWorkflow(SignalPause, PauseRequest{By: "carol"})
		}
		return nil
	}
	h.env.RegisterDelayedCallback(func() {
		rep := h.query()
		require.Equal(t, migration.StatusPaused, rep.Status)
		require.Equal(t, runs(migration.PhaseValidate), h.fake.Calls(), "no phase may start while paused")
		require.Equal(t, migration.PhasePending, rep.Phases[1].State)
		require.Contains(t, strings.Join(rep.NextSteps, "\n"), "godwit resume test")
		h.env.SignalWorkflow(SignalResume, PauseRequest{By: "carol"})
	}, time.Hour)
	rep, err := h.run(specWith(migration.PhaseValidate, migration.PhaseCopy))
	require.NoError(t, err)
	require.Equal(t, runs(migration.PhaseValidate, migration.PhaseCopy), h.fake.Calls())
	require.GreaterOrEqual(t, rep.Phases[1].StartTime.Sub(rep.StartTime), time.Hour, "copy started before resume")
	require.False(t, rep.Paused)
}

func TestRollbackWhilePaused(t *testing.T) {
	h := newHarness(t)
	h.fake.behave = func(_ context.Context, call string, _ int32) error {
		if call == "run:validate" {
			h.env.SignalWorkflow(SignalPause, PauseRequest{})
		}
		return nil
	}
	h.env.RegisterDelayedCallback(func() {
		require.Equal(t, migration.StatusPaused, h.query().Status)
		h.env.SignalWorkflow(SignalRollback, RollbackRequest{Reason: "changed our minds"})
	}, time.Hour)
	rep, err := h.run(specWith(migration.PhaseValidate, migration.PhaseCopy))
	require.NoError(t, err, "a requested rollback that undid every phase completes the run")
	require.Equal(t, []string{"run:validate", "compensate:validate"}, h.fake.Calls())
	require.Equal(t, migration.StatusRolledBack, rep.Status)
}

func gatedSpec(timeout string) config.Spec {
	yaml := `name: test
phases:
  - phase: copy
    hook: {run: {command: ["true"]}, compensate: {command: ["true"]}}
  - phase: shift-traffic
    approval: {gate: go-live` + timeout + `}
    hook: {run: {command: ["true"]}, compensate: {command: ["true"]}}
`
	spec, err := config.ParseSpec([]byte(yaml))
	if err != nil {
		panic(err)
	}
	return *spec
}

func TestApproveGate(t *testing.T) {
	h := newHarness(t)
	h.env.RegisterDelayedCallback(func() {
		rep := h.query()
		require.Equal(t, migration.StatusWaitingApproval, rep.Status)
		require.Equal(t, "go-live", rep.WaitingGate)
		require.Equal(t, runs(migration.PhaseCopy), h.fake.Calls(), "the gated phase must not start before approval")

		h.env.UpdateWorkflow(UpdateApprove, "wrong", &testsuite.TestUpdateCallback{
			OnReject: func(err error) {
				require.EqualError(t, err, `gate "nope" is not waiting for approval; the waiting gate is "go-live"`)
			},
			OnAccept:   func() { t.Error("approval of a gate that is not waiting was accepted") },
			OnComplete: func(any, error) {},
		}, ApproveRequest{Gate: "nope", By: "dave"})

		h.env.UpdateWorkflow(UpdateApprove, "right", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("approval rejected: %v", err) },
			OnAccept: func() {},
			OnComplete: func(v any, err error) {
				require.NoError(t, err)
				require.Equal(t, ApproveResult{Gate: "go-live", Phase: "shift-traffic", By: "dave"}, v)
			},
		}, ApproveRequest{Gate: "go-live", By: "dave"})
	}, time.Hour)
	rep, err := h.run(gatedSpec(""))
	require.NoError(t, err)
	require.Equal(t, runs(migration.PhaseCopy, migration.PhaseShiftTraffic), h.fake.Calls())
	require.Equal(t, "dave", rep.Phases[1].ApprovedBy)
}

func TestApproveWhenNoGateWaitsIsRejected(t *testing.T) {
	h := newHarness(t)
	rejected := false
	h.fake.behave = func(_ context.Context, call string, _ int32) error {
		return nil
	}
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(UpdateApprove, "early", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { rejected = strings.Contains(err.Error(), "no gate is waiting") },
			OnAccept:   func() {},
			OnComplete: func(any, error) {},
		}, ApproveRequest{Gate: "go-live"})
	}, 0)
	_, err := h.run(gatedSpec(", timeout: 1m"))
	require.True(t, rejected, "approve before the gate is reached must be rejected")
	require.Error(t, err, "the gate was never approved, so it must time out")
}

func TestGateTimeoutRollsBack(t *testing.T) {
	h := newHarness(t)
	rep, err := h.run(gatedSpec(", timeout: 30m"))
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, ErrTypeRolledBack, appErr.Type())
	require.Equal(t, []string{"run:copy", "compensate:copy"}, h.fake.Calls())
	require.Equal(t, "gate go-live was not approved within 30m0s", rep.Error)
}

func TestRetriesHonoured(t *testing.T) {
	cases := []struct {
		name        string
		maxAttempts int
		wantStatus  migration.Status
		wantRuns    int
	}{
		{"succeeds on the third of three attempts", 3, migration.StatusCompleted, 3},
		{"rolls back when two attempts are not enough", 2, migration.StatusRolledBack, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.fake.behave = func(_ context.Context, call string, attempt int32) error {
				if call == "run:copy" && attempt < 3 {
					return temporal.NewApplicationError("transient", "Test")
				}
				return nil
			}
			spec := specWith(migration.PhaseValidate, migration.PhaseCopy)
			spec.Phases[1].Retry.MaxAttempts = tc.maxAttempts
			rep, _ := h.run(spec)
			require.Equal(t, tc.wantStatus, rep.Status)
			copies := 0
			for _, c := range h.fake.Calls() {
				if c == "run:copy" {
					copies++
				}
			}
			require.Equal(t, tc.wantRuns, copies)
			require.Equal(t, tc.maxAttempts, rep.Phases[1].Attempts)
			if tc.wantStatus == migration.StatusCompleted {
				require.Len(t, rep.Issues, 1)
				require.Equal(t, "phase copy succeeded on attempt 3 of 3", rep.Issues[0].Message)
				require.Equal(t, migration.SeverityWarning, rep.Issues[0].Severity)
			}
		})
	}
}

func TestNonRetryableErrorIsNotRetried(t *testing.T) {
	h := newHarness(t)
	h.fake.behave = func(_ context.Context, call string, _ int32) error {
		if call == "run:copy" {
			return temporal.NewApplicationError("no such program", activities.ErrTypeHookMissing)
		}
		return nil
	}
	spec := specWith(migration.PhaseCopy)
	spec.Phases[0].Retry.MaxAttempts = 5
	_, err := h.run(spec)
	require.Error(t, err)
	require.Equal(t, []string{"run:copy"}, h.fake.Calls(), "one attempt, and nothing completed to compensate")
}

// blockedSpec fails reconcile, so the rollback runs, and the
// compensation of shift-traffic fails for good until fixed says otherwise.
func blockedHarness(t *testing.T, fixed *bool) (*harness, config.Spec) {
	h := newHarness(t)
	h.fake.behave = func(_ context.Context, call string, _ int32) error {
		switch {
		case call == "run:reconcile":
			return temporal.NewNonRetryableApplicationError("mismatch", "Test", nil)
		case call == "compensate:shift-traffic" && !*fixed:
			return temporal.NewApplicationError("router unreachable", "Test")
		}
		return nil
	}
	spec := specWith(migration.PhaseProvision, migration.PhaseCopy, migration.PhaseShiftTraffic, migration.PhaseReconcile)
	spec.Phases[2].Retry.MaxAttempts = 3
	return h, spec
}

var blockedRuns = append(runs(migration.PhaseProvision, migration.PhaseCopy, migration.PhaseShiftTraffic, migration.PhaseReconcile),
	"compensate:shift-traffic", "compensate:shift-traffic", "compensate:shift-traffic")

// repairAt sends a repair update once the rollback is blocked, checking
// what the report says then.
func (h *harness) repairAt(req RepairRequest, rejectFirst *RepairRequest) {
	h.env.RegisterDelayedCallback(func() {
		rep := h.query()
		require.Equal(h.t, migration.StatusRollbackBlocked, rep.Status)
		require.Equal(h.t, migration.RiskHigh, rep.Risk)
		require.Equal(h.t, migration.PhaseCompFailed, rep.Phases[2].State)
		require.Contains(h.t, rep.NextSteps[0], "godwit rollback test --retry")
		require.Contains(h.t, rep.NextSteps[1], "godwit rollback test --skip shift-traffic")
		require.Contains(h.t, rep.NextSteps[2], "godwit rollback test --abandon")
		require.Equal(h.t, blockedRuns, h.fake.Calls(), "earlier compensations wait while the rollback is blocked")
		if rejectFirst != nil {
			h.env.UpdateWorkflow(UpdateRepair, "bad", &testsuite.TestUpdateCallback{
				OnReject:   func(error) {},
				OnAccept:   func() { h.t.Error("a bad repair was accepted") },
				OnComplete: func(any, error) {},
			}, *rejectFirst)
		}
		h.env.UpdateWorkflow(UpdateRepair, "ok", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { h.t.Errorf("repair rejected: %v", err) }, OnAccept: func() {},
			OnComplete: func(v any, err error) {
				require.NoError(h.t, err)
				require.Equal(h.t, "shift-traffic", v)
			},
		}, req)
	}, time.Hour)
}

func TestAFailedCompensationBlocksTheRollbackUntilAbandoned(t *testing.T) {
	fixed := false
	h, spec := blockedHarness(t, &fixed)
	h.repairAt(RepairRequest{Action: RepairAbandon, By: "ops"}, nil)
	rep, err := h.run(spec)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, ErrTypeRollbackFailed, appErr.Type())
	require.Equal(t, migration.StatusRollbackFailed, rep.Status)
	require.Equal(t, blockedRuns, h.fake.Calls(), "a failed compensation is retried, and earlier ones must not run after it")
	require.Equal(t, migration.PhaseCompFailed, rep.Phases[2].State)
	require.Contains(t, rep.Phases[2].Error, "router unreachable")
	require.Contains(t, rep.Error, "rollback abandoned by ops")
	require.Equal(t, migration.PhaseCompleted, rep.Phases[1].State, "copy was not undone")
}

func TestRetryingABlockedRollbackFinishesIt(t *testing.T) {
	fixed := false
	h, spec := blockedHarness(t, &fixed)
	h.env.RegisterDelayedCallback(func() { fixed = true }, 30*time.Minute)
	h.repairAt(RepairRequest{Action: RepairRetry, By: "ops"}, &RepairRequest{Action: "undo-everything"})
	rep, err := h.run(spec)
	require.Error(t, err)
	require.Equal(t, migration.StatusRolledBack, rep.Status)
	require.Equal(t, append(blockedRuns, "compensate:shift-traffic", "compensate:copy", "compensate:provision"), h.fake.Calls())
	require.Equal(t, migration.PhaseCompensated, rep.Phases[2].State)
	require.Equal(t, migration.RollbackDone, rep.Rollback)
	require.NotContains(t, rep.RollbackNote, "blocked", "the rollback went on and finished: its note says why it ran, not that it was blocked")
	require.Equal(t, rep.Error, rep.RollbackNote)
}

func TestSkippingTheBlockedPhaseGoesOnWithTheRest(t *testing.T) {
	fixed := false
	h, spec := blockedHarness(t, &fixed)
	h.repairAt(RepairRequest{Action: RepairSkip, Phase: "shift-traffic", By: "ops", Reason: "router reset by hand"},
		&RepairRequest{Action: RepairSkip, Phase: "copy", By: "ops"})
	rep, err := h.run(spec)
	require.Error(t, err)
	require.Equal(t, migration.StatusRolledBack, rep.Status)
	require.Equal(t, append(blockedRuns, "compensate:copy", "compensate:provision"), h.fake.Calls())
	require.Equal(t, migration.PhaseUndoneByHand, rep.Phases[2].State)
	last := rep.Issues[len(rep.Issues)-1]
	require.Equal(t, "compensation of shift-traffic skipped by ops: undone by hand: router reset by hand", last.Message)
}

func TestRepairIsRejectedWhenNothingIsBlocked(t *testing.T) {
	h := newHarness(t)
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(UpdateRepair, "early", &testsuite.TestUpdateCallback{
			OnReject: func(err error) {
				require.EqualError(t, err, "no rollback is blocked (status WAITING_APPROVAL): repair applies only to ROLLBACK_BLOCKED")
			},
			OnAccept: func() { t.Error("repair accepted with nothing blocked") }, OnComplete: func(any, error) {},
		}, RepairRequest{Action: RepairRetry})
		h.env.SignalWorkflow(SignalRollback, RollbackRequest{Reason: "done testing"})
	}, time.Hour)
	_, _ = h.run(gatedSpec(""))
}

func TestCancelledWorkflowStillRollsBack(t *testing.T) {
	h := newHarness(t)
	h.fake.behave = blockUntilCancelled(migration.PhaseCopy, func() { h.env.CancelWorkflow() })
	rep, err := h.run(specWith(migration.PhaseProvision, migration.PhaseCopy))
	var canceled *temporal.CanceledError
	require.ErrorAs(t, err, &canceled)
	require.Equal(t, []string{"run:provision", "run:copy", "compensate:provision"}, h.fake.Calls())
	require.Equal(t, migration.StatusRolledBack, rep.Status)
}

func TestCompensatePartialUndoesTheInterruptedPhase(t *testing.T) {
	h := newHarness(t)
	h.fake.behave = func(_ context.Context, call string, _ int32) error {
		if call == "run:copy" {
			return temporal.NewNonRetryableApplicationError("disk full", "Test", nil)
		}
		return nil
	}
	spec := specWith(migration.PhaseProvision, migration.PhaseCopy)
	spec.Phases[1].CompensatePartial = true
	_, err := h.run(spec)
	require.Error(t, err)
	require.Equal(t, []string{"run:provision", "run:copy", "compensate:copy", "compensate:provision"}, h.fake.Calls())
}

func TestStatusQueryWhileRunning(t *testing.T) {
	h := newHarness(t)
	h.env.RegisterDelayedCallback(func() {
		rep := h.query()
		require.Equal(t, migration.StatusWaitingApproval, rep.Status)
		require.Equal(t, "2 of 2: shift-traffic", rep.CurrentPhase)
		require.Equal(t, 75.0, rep.OverallProgress, "the copy done weighs migration.RowsShare")
		require.Equal(t, migration.RollbackAvailable, rep.Rollback)
		require.Equal(t, migration.PhaseCompleted, rep.Phases[0].State)
		h.env.SignalWorkflow(SignalRollback, RollbackRequest{Reason: "enough"})
	}, time.Minute)
	_, err := h.run(gatedSpec(""))
	require.NoError(t, err, "a requested rollback that undid every phase completes the run")
}

func TestSearchAttributesFollowTheRun(t *testing.T) {
	h := newHarness(t)
	h.fake.behave = func(_ context.Context, call string, _ int32) error {
		if call == "run:copy" {
			return temporal.NewNonRetryableApplicationError("boom", "Test", nil)
		}
		return nil
	}
	var upserts []string
	h.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		status, _ := sa.GetKeyword(SearchAttrStatus)
		phase, _ := sa.GetKeyword(SearchAttrPhase)
		upserts = append(upserts, phase+"/"+status)
	}).Return(nil)
	_, err := h.run(specWith(migration.PhaseValidate, migration.PhaseCopy))
	require.Error(t, err)
	require.Equal(t, []string{
		"none/IN_PROGRESS", "validate/IN_PROGRESS", "copy/IN_PROGRESS",
		"copy/ROLLING_BACK", "validate/ROLLING_BACK", "none/ROLLED_BACK",
	}, upserts)
}

func TestCompensationIsRetriedEvenWhenTheActionIsNot(t *testing.T) {
	h := newHarness(t)
	h.fake.behave = func(_ context.Context, call string, attempt int32) error {
		switch {
		case call == "run:copy":
			return temporal.NewNonRetryableApplicationError("boom", "Test", nil)
		case call == "compensate:provision" && attempt < MinCompensationAttempts:
			return temporal.NewApplicationError("target busy", "Test")
		}
		return nil
	}
	rep, _ := h.run(specWith(migration.PhaseProvision, migration.PhaseCopy)) // maxAttempts: 1 each
	require.Equal(t, migration.StatusRolledBack, rep.Status)
	require.Equal(t, []string{"run:provision", "run:copy",
		"compensate:provision", "compensate:provision", "compensate:provision"}, h.fake.Calls())
}

// A phase that completes with warnings (a replicate phase whose retried
// foreign key is still violated) puts each in the run's issues, so
// `godwit status` shows them, not only the phase's summary.
func TestPhaseWarningsBecomeIssues(t *testing.T) {
	h := newHarness(t)
	h.fake.result = func(_ context.Context, in activities.PhaseInput, res *activities.PhaseResult) error {
		if in.Phase.Name == "copy" {
			res.Warnings = []string{"foreign key still NOT carried to new: payment.payment_rental_fk: 2 rows of payment reference a missing row of rental"}
		}
		return nil
	}
	rep, err := h.run(specWith(migration.PhaseValidate, migration.PhaseCopy))
	require.NoError(t, err)
	require.Len(t, rep.Issues, 1)
	require.Equal(t, "copy", rep.Issues[0].Phase)
	require.Equal(t, migration.SeverityWarning, rep.Issues[0].Severity)
	require.Contains(t, rep.Issues[0].Message, "payment.payment_rental_fk: 2 rows of payment")
}
