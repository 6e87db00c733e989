package workflows

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
)

// followSpec is a driver section for tests that follows a replication
// (config.LagFollower), like a replicate catchUp.
type followSpec struct {
	From       string          `yaml:"from" json:"from,omitempty"`
	Background bool            `yaml:"background" json:"background,omitempty"`
	Stop       bool            `yaml:"stop" json:"stop,omitempty"`
	RunFor     config.Duration `yaml:"-" json:"runFor,omitempty"`
}

func (f *followSpec) Check(*config.CheckContext) {}
func (f *followSpec) FollowFor(d time.Duration) (config.DriverSpec, bool) {
	c := *f
	c.RunFor = config.Duration(d)
	return &c, !f.Stop
}
func (f *followSpec) CaptureSource() string { return f.From }
func (f *followSpec) InBackground() bool    { return f.Background && !f.Stop }

func init() {
	config.RegisterDriver("testfollow", func() config.DriverSpec { return &followSpec{} })
}

const lagSpec = `name: test
phases:
  - {phase: validate, hook: ` + hookOK + `}
  - {phase: copy, name: replicate, testfollow: {}}
  - phase: shift-traffic
    approval: {gate: go, requireLag: 5s}
    hook: ` + hookOK + `
`

// laggingReplication answers the follow phase: its own run returns a lag
// of 3s; the bounded runs a gate starts return 20s until caughtUp, then
// 1s. Each bounded run takes a moment (as a real one takes RunFor), and
// honours cancellation.
func laggingReplication(h *harness, caughtUp *atomic.Bool, bounded *atomic.Int32) {
	h.fake.result = func(ctx context.Context, in activities.PhaseInput, res *activities.PhaseResult) error {
		f, ok := in.Phase.Driver.(*followSpec)
		if !ok {
			return nil
		}
		if f.RunFor == 0 {
			res.Lag = &migration.ReplicationLag{Seconds: 3, Changes: 30}
			return nil
		}
		bounded.Add(1)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		res.Checkpoint = `{"applied":7}`
		res.Lag = &migration.ReplicationLag{Seconds: 20, Changes: 2000}
		if caughtUp.Load() {
			res.Lag = &migration.ReplicationLag{Seconds: 1, Changes: 3}
		}
		return nil
	}
}

func TestRequireLagRefusesApprovalWhileTheLagIsAboveTheLimit(t *testing.T) {
	h := newHarness(t)
	var caughtUp atomic.Bool
	var bounded atomic.Int32
	laggingReplication(h, &caughtUp, &bounded)
	var refusals []string
	approvedBy := ""
	var approve func()
	approve = func() {
		if h.query().WaitingGate != "go" {
			h.env.RegisterDelayedCallback(approve, 10*time.Millisecond)
			return
		}
		h.env.UpdateWorkflow(UpdateApprove, "", &testsuite.TestUpdateCallback{
			OnReject: func(err error) {
				refusals = append(refusals, err.Error())
				if strings.Contains(err.Error(), "measured 20s") {
					caughtUp.Store(true) // the replication catches up now
				}
				h.env.RegisterDelayedCallback(approve, 10*time.Millisecond)
			},
			OnAccept:   func() {},
			OnComplete: func(v any, err error) { approvedBy = v.(ApproveResult).By },
		}, ApproveRequest{Gate: "go", By: "erin"})
	}
	h.env.RegisterDelayedCallback(approve, 10*time.Millisecond)

	rep, err := h.run(mustSpec(t, lagSpec))
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, rep.Status)
	require.Equal(t, "erin", approvedBy)
	require.NotEmpty(t, refusals)
	require.Contains(t, refusals[0], "gate go requires the replication lag at or under 5s")
	sawHigh := false
	for _, r := range refusals {
		sawHigh = sawHigh || strings.Contains(r, "but phase replicate measured 20s (2000 changes behind)")
	}
	require.True(t, sawHigh, "a refusal names the lag measured: %q", refusals)
	require.Equal(t, 1.0, rep.Replication.Seconds, "the report keeps the last lag")

	// The bounded runs ran between the gate opening and the next phase,
	// which started only once the last of them had ended.
	calls := h.fake.Calls()
	require.Equal(t, []string{"run:validate", "run:replicate"}, calls[:2])
	require.Equal(t, "run:shift-traffic", calls[len(calls)-1])
	for _, c := range calls[2 : len(calls)-1] {
		require.Equal(t, "run:replicate", c)
	}
	require.Len(t, calls[2:len(calls)-1], int(bounded.Load()))
	for _, in := range h.fake.inputs[3 : len(calls)-1] {
		require.Equal(t, `{"applied":7}`, in.Resume, "each bounded run resumes from the last one's checkpoint")
	}
}

func TestRollbackAtALagGateStopsTheReplicationBeforeCompensating(t *testing.T) {
	h := newHarness(t)
	var caughtUp atomic.Bool
	var bounded atomic.Int32
	laggingReplication(h, &caughtUp, &bounded)
	var poll func()
	poll = func() {
		if bounded.Load() < 2 {
			h.env.RegisterDelayedCallback(poll, 10*time.Millisecond)
			return
		}
		h.env.SignalWorkflow(SignalRollback, RollbackRequest{Reason: "test", By: "erin"})
	}
	h.env.RegisterDelayedCallback(poll, 10*time.Millisecond)
	rep, err := h.run(mustSpec(t, lagSpec))
	require.NoError(t, err, "a requested rollback that undid every phase completes the run")
	require.Equal(t, migration.StatusRolledBack, rep.Status)
	calls := h.fake.Calls()
	n := len(calls)
	require.Equal(t, []string{"compensate:replicate", "compensate:validate"}, calls[n-2:],
		"compensations come after every replication run: %v", calls)
	for _, c := range calls[1 : n-2] {
		require.Equal(t, "run:replicate", c)
	}
}

func TestALagGateContinuesAsNewWithItsCheckpoint(t *testing.T) {
	h := newHarness(t)
	var caughtUp atomic.Bool
	var bounded atomic.Int32
	laggingReplication(h, &caughtUp, &bounded)
	h.env.ExecuteWorkflow(WorkflowName, Input{Spec: mustSpec(t, lagSpec), ActivitiesPerRun: 6})
	in := continuedAsNew(t, h)
	require.Equal(t, 2, in.Carry.Phase, "the next run waits at the same gate")
	require.Equal(t, 0, in.Carry.Step)
	require.Equal(t, `{"applied":7}`, in.Carry.LagCheckpoint)
	require.NotNil(t, in.Carry.Report.Replication)
	require.Equal(t, 4, int(bounded.Load()), "validate, replicate and 4 bounded runs: 6 activities")

	// The next run waits at the gate again, resuming the replication from
	// the carried checkpoint, and the gate opens once caught up.
	h2 := newHarness(t)
	caughtUp.Store(true)
	laggingReplication(h2, &caughtUp, &bounded)
	var try func()
	try = func() {
		h2.env.UpdateWorkflow(UpdateApprove, "", &testsuite.TestUpdateCallback{
			OnReject:   func(error) { h2.env.RegisterDelayedCallback(try, 10*time.Millisecond) },
			OnAccept:   func() {},
			OnComplete: func(any, error) {},
		}, ApproveRequest{Gate: "go", By: "erin"})
	}
	h2.env.RegisterDelayedCallback(try, 10*time.Millisecond)
	in.ActivitiesPerRun = 100
	h2.env.ExecuteWorkflow(WorkflowName, in)
	require.True(t, h2.env.IsWorkflowCompleted())
	require.NoError(t, h2.env.GetWorkflowError())
	require.Equal(t, `{"applied":7}`, h2.fake.inputs[0].Resume)
	require.Equal(t, "run:shift-traffic", h2.fake.Calls()[len(h2.fake.Calls())-1])
}

func TestRequireLagNeedsAnEarlierReplication(t *testing.T) {
	_, err := config.ParseSpec([]byte(`name: test
phases:
  - phase: shift-traffic
    approval: {gate: go, requireLag: 5s}
    hook: ` + hookOK + `
  - {phase: reconcile, name: replicate, testfollow: {}}
`))
	require.ErrorContains(t, err, "phases[0].approval.requireLag (line 4): needs an earlier replicate phase in mode catchUp")
}

const backgroundSpec = `name: test
phases:
  - {phase: validate, hook: ` + hookOK + `}
  - {phase: copy, name: replicate, testfollow: {from: legacy, background: true}}
  - {phase: shift-traffic, name: reads, hook: ` + hookOK + `}
  - {phase: reconcile, hook: ` + hookOK + `}
  - {phase: decommission, name: stop, testfollow: {from: legacy, stop: true}}
`

// backgroundReplication answers the follow phases as laggingReplication
// does (caught up), makes reads and reconcile take a moment (so the
// background replication runs beside them), and records, when the stop
// phase or a compensation starts, how many bounded runs the test
// environment still runs (it resolves a cancelled activity at once).
func backgroundReplication(h *harness, bounded *atomic.Int32, runningAtExclusive *[]int32) {
	var caughtUp atomic.Bool
	caughtUp.Store(true)
	var running atomic.Int32
	laggingReplication(h, &caughtUp, bounded)
	follow := h.fake.result
	h.fake.result = func(ctx context.Context, in activities.PhaseInput, res *activities.PhaseResult) error {
		f, ok := in.Phase.Driver.(*followSpec)
		switch {
		case ok && f.RunFor > 0:
			running.Add(1)
			defer running.Add(-1)
		case in.Phase.Name == "stop" || activity.GetInfo(ctx).ActivityType.Name == activities.CompensatePhaseName:
			*runningAtExclusive = append(*runningAtExclusive, running.Load())
			// A moment, in which a replication still running would
			// schedule more runs (the tests' "none after" would see them).
			time.Sleep(30 * time.Millisecond)
		case in.Phase.Name == "reads" || in.Phase.Name == "reconcile":
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(40 * time.Millisecond):
			}
		}
		return follow(ctx, in, res)
	}
}

func boundedCalls(inputs []activities.PhaseInput) []int {
	var at []int
	for k, in := range inputs {
		if f, ok := in.Phase.Driver.(*followSpec); ok && f.RunFor > 0 {
			at = append(at, k)
		}
	}
	return at
}

func TestBackgroundReplicationRunsAcrossPhasesUntilTheStop(t *testing.T) {
	h := newHarness(t)
	var bounded atomic.Int32
	var atExclusive []int32
	backgroundReplication(h, &bounded, &atExclusive)
	rep, err := h.run(mustSpec(t, backgroundSpec))
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, rep.Status)
	calls := h.fake.Calls()
	require.Equal(t, []string{"run:validate", "run:replicate"}, calls[:2])
	sch := h.scheduled.get() // the workflow's order, not the fake's goroutines'
	require.Equal(t, "RunPhase:stop", sch[len(sch)-1], "%v", sch)
	at := boundedCalls(h.fake.inputs)
	require.NotEmpty(t, at, "the replication went on after its phase: %v", calls)
	require.Greater(t, at[0], 1, "it starts once its phase is done")
	// In the workflow's own order (scheduleLog): the fake's is its
	// goroutines'.
	scheduled := h.scheduled.get()
	before, after, stopAt := followsAround(scheduled, "RunPhase:stop")
	require.GreaterOrEqual(t, stopAt, 0, "%v", scheduled)
	require.Positive(t, before, "%v", scheduled)
	require.Zero(t, after, "none after the stop began: %v", scheduled)
	// (That the stop waits for the cancelled run to end is the server's
	// WaitForCancellation, which the test environment does not model: the
	// integration test checks it in the history.)
	require.Len(t, atExclusive, 1)
	require.NotNil(t, rep.Replication)
	require.Equal(t, "stop", rep.Replication.Phase, "the last lag is the stop's")
}

func TestRollbackStopsTheBackgroundReplicationBeforeCompensating(t *testing.T) {
	h := newHarness(t)
	var bounded atomic.Int32
	var atExclusive []int32
	backgroundReplication(h, &bounded, &atExclusive)
	var poll func()
	poll = func() {
		if bounded.Load() < 2 {
			h.env.RegisterDelayedCallback(poll, 5*time.Millisecond)
			return
		}
		h.env.SignalWorkflow(SignalRollback, RollbackRequest{Reason: "test", By: "erin"})
	}
	h.env.RegisterDelayedCallback(poll, 5*time.Millisecond)
	rep, err := h.run(mustSpec(t, backgroundSpec))
	require.NoError(t, err, "a requested rollback that undid every phase completes the run")
	require.Equal(t, migration.StatusRolledBack, rep.Status)
	require.NotEmpty(t, atExclusive)
	require.Equal(t, "replicate", rep.Replication.Phase)
	require.Equal(t, 1.0, rep.Replication.Seconds, "the background runs' lag is the report's (3s at the phase's end)")
	calls := h.fake.Calls()
	require.NotEmpty(t, boundedCalls(h.fake.inputs))
	first := 0
	for k, c := range calls {
		if strings.HasPrefix(c, "compensate:") {
			first = k
			break
		}
	}
	require.Greater(t, first, 0)
	scheduled := h.scheduled.get()
	firstComp := ""
	for _, e := range scheduled {
		if strings.HasPrefix(e, activities.CompensatePhaseName+":") {
			firstComp = e
			break
		}
	}
	before, after, _ := followsAround(scheduled, firstComp)
	require.Positive(t, before, "%v", scheduled)
	require.Zero(t, after, "no replication after the compensations began: %v", scheduled)
}

func TestBackgroundReplicationSurvivesContinueAsNew(t *testing.T) {
	h := newHarness(t)
	var bounded atomic.Int32
	var atExclusive []int32
	backgroundReplication(h, &bounded, &atExclusive)
	h.env.ExecuteWorkflow(WorkflowName, Input{Spec: mustSpec(t, backgroundSpec), ActivitiesPerRun: 5})
	in := continuedAsNew(t, h)
	require.Equal(t, 2, in.Carry.Background, "the replicate phase's replication goes on in the next run")
	require.Equal(t, `{"applied":7}`, in.Carry.LagCheckpoint)
	require.Equal(t, 0, in.Carry.Step)

	h2 := newHarness(t)
	backgroundReplication(h2, &bounded, &atExclusive)
	in.ActivitiesPerRun = 100
	h2.env.ExecuteWorkflow(WorkflowName, in)
	require.True(t, h2.env.IsWorkflowCompleted())
	require.NoError(t, h2.env.GetWorkflowError())
	at := boundedCalls(h2.fake.inputs)
	require.NotEmpty(t, at, "the next run started the replication again: %v", h2.fake.Calls())
	require.Equal(t, `{"applied":7}`, h2.fake.inputs[at[0]].Resume)
	sch := h2.scheduled.get() // the workflow's order, not the fake's goroutines'
	require.Equal(t, "RunPhase:stop", sch[len(sch)-1], "%v", sch)
}

func TestBackgroundOnlyOnACatchUpSpecCheck(t *testing.T) {
	_, err := config.ParseSpec([]byte(`name: t
stores:
  legacy: {engine: sqlite, dsn: {fromEnv: A}}
  new: {engine: sqlite, dsn: {fromEnv: B}}
phases:
  - {phase: provision, name: capture, replicate: {from: legacy, to: new, tables: [a], mode: setup, background: true}}
`))
	require.ErrorContains(t, err, "background (line 6): applies to a catchUp")
}

// A background replication that spends the budget while a step gate waits
// continues the run as new at that step: the next run waits at the same
// gate, with the replication going on.
func TestBackgroundReplicationAtAStepGateContinuesAsNewAtThatStep(t *testing.T) {
	spec := mustSpec(t, `name: test
phases:
  - {phase: validate, hook: `+hookOK+`}
  - {phase: copy, name: replicate, testfollow: {from: legacy, background: true}}
  - {phase: shift-traffic, counted: {count: 2, gateAt: 2, gate: apply}}
`)
	h := newHarness(t)
	var bounded atomic.Int32
	var atExclusive []int32
	backgroundReplication(h, &bounded, &atExclusive)
	h.env.ExecuteWorkflow(WorkflowName, Input{Spec: spec, ActivitiesPerRun: 6})
	in := continuedAsNew(t, h)
	require.Equal(t, 2, in.Carry.Phase)
	require.Equal(t, 1, in.Carry.Step, "the next run picks up at the gate step")
	require.Equal(t, 2, in.Carry.Background)

	h2 := newHarness(t)
	backgroundReplication(h2, &bounded, &atExclusive)
	var try func()
	try = func() {
		if h2.query().WaitingGate != "apply" {
			h2.env.RegisterDelayedCallback(try, 5*time.Millisecond)
			return
		}
		h2.env.UpdateWorkflow(UpdateApprove, "", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("refused: %v", err) }, OnAccept: func() {}, OnComplete: func(any, error) {},
		}, ApproveRequest{Gate: "apply", By: "erin"})
	}
	h2.env.RegisterDelayedCallback(try, 5*time.Millisecond)
	in.ActivitiesPerRun = 100
	h2.env.ExecuteWorkflow(WorkflowName, in)
	require.True(t, h2.env.IsWorkflowCompleted())
	require.NoError(t, h2.env.GetWorkflowError())
	// The background replication runs beside the phase until the run
	// ends, so one of its bounded activities may come after the step.
	calls := h2.fake.Calls()
	var phases []string
	for _, c := range calls {
		if c != "run:replicate" {
			phases = append(phases, c)
		}
	}
	require.Equal(t, []string{"run:shift-traffic#3"}, phases, "only the step after the gate ran: %v", calls)
}

// A replication that fails while a gate waits is in the report as failing
// (since when, how often, the last error) until an attempt succeeds: the
// lag its phase measured before is not shown as the current one.
func TestAFailingReplicationIsReportedUntilAnAttemptSucceeds(t *testing.T) {
	h := newHarness(t)
	var failing atomic.Bool
	failing.Store(true)
	h.fake.result = func(ctx context.Context, in activities.PhaseInput, res *activities.PhaseResult) error {
		f, ok := in.Phase.Driver.(*followSpec)
		switch {
		case !ok:
			return nil
		case f.RunFor == 0:
			res.Lag = &migration.ReplicationLag{Seconds: 0, Changes: 0}
		case failing.Load():
			return temporal.NewNonRetryableApplicationError("replication slot godwit_x is gone", "CaptureLost", nil)
		default:
			select { // a moment, as a real bounded run takes its RunFor
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
			res.Lag = &migration.ReplicationLag{Seconds: 1, Changes: 3}
		}
		return nil
	}
	var whileFailing migration.Report
	h.env.RegisterDelayedCallback(func() {
		whileFailing = h.query()
		failing.Store(false)
		h.approveWhenLagIsKnown("go")
	}, 2*time.Minute)

	rep, err := h.run(mustSpec(t, lagSpec))
	require.NoError(t, err)
	f := whileFailing.ReplicationFailing
	require.NotNil(t, f, "the failing replication is in the report")
	require.Equal(t, "replicate", f.Phase)
	require.GreaterOrEqual(t, f.Attempts, 3, "one attempt every %s for 2 minutes", lagRetry)
	require.Contains(t, f.Error, "replication slot godwit_x is gone")
	require.True(t, f.Since.Before(f.Last), "since the first failure: %v, %v", f.Since, f.Last)
	require.Equal(t, migration.StatusCompleted, rep.Status)
	require.Nil(t, rep.ReplicationFailing, "an attempt that succeeded ends the failure")
	require.Equal(t, 1.0, rep.Replication.Seconds)
}

// approveWhenLagIsKnown approves gate once the workflow accepts it.
func (h *harness) approveWhenLagIsKnown(gate string) {
	var approve func()
	approve = func() {
		h.env.UpdateWorkflow(UpdateApprove, "", &testsuite.TestUpdateCallback{
			OnReject:   func(error) { h.env.RegisterDelayedCallback(approve, 10*time.Millisecond) },
			OnAccept:   func() {},
			OnComplete: func(any, error) {},
		}, ApproveRequest{Gate: gate, By: "erin"})
	}
	approve()
}

// A gate's refusal counts one change behind in the singular.
func TestLagGateRefusalCountsOneChangeInTheSingular(t *testing.T) {
	now := time.Unix(1000, 0)
	lg := &lagGate{gate: "go", limit: time.Second, f: &follower{phase: "replicate", measured: true}}
	rep := &migration.Report{Replication: &migration.ReplicationLag{Phase: "replicate", Seconds: 3, Changes: 1, Measured: now}}
	err := lg.check(rep, now)
	require.Error(t, err)
	require.Contains(t, err.Error(), "but phase replicate measured 3s (1 change behind) 0s ago")
}

// A run that published a ReplicationLag unsets it when it ends: a query
// for replications behind (ReplicationLag > 5) finds runs behind now, not
// runs that ended behind. The report keeps the last lag measured.
func TestAnEndedRunUnsetsItsReplicationLag(t *testing.T) {
	h := newHarness(t)
	h.fake.result = func(_ context.Context, in activities.PhaseInput, res *activities.PhaseResult) error {
		if _, ok := in.Phase.Driver.(*followSpec); ok {
			res.Lag = &migration.ReplicationLag{Seconds: 7, Changes: 70}
		}
		return nil
	}
	var lags []string
	h.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		// An upsert that only unsets reaches the mock empty: the
		// workflow's one such upsert is the lag's.
		if v, ok := sa.GetFloat64(SearchAttrLag); ok {
			lags = append(lags, fmt.Sprint(v))
		} else if sa.Size() == 0 {
			lags = append(lags, "unset")
		}
	}).Return(nil)
	rep, err := h.run(mustSpec(t, `name: test
phases:
  - {phase: validate, hook: `+hookOK+`}
  - {phase: copy, name: replicate, testfollow: {}}
`))
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, rep.Status)
	require.Equal(t, []string{"7", "unset"}, lags)
	require.NotNil(t, rep.Replication, "the report keeps the last lag measured")
	require.Equal(t, 7.0, rep.Replication.Seconds)
}
