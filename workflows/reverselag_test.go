package workflows

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/drivers/cutover"
	"github.com/godwit/godwit/migration"
)

// reverseSpec cuts the writes over (the real cutover section), waits at a
// gate with no phase running, then stops the replication.
const reverseSpec = `name: test
stores:
  legacy: {engine: sqlite, dsn: {fromEnv: A}}
  new: {engine: sqlite, dsn: {fromEnv: B}}
phases:
  - {phase: provision, name: capture, replicate: {from: legacy, to: new, tables: [a], mode: setup}}
  - {phase: copy, name: replicate, replicate: {from: legacy, to: new, tables: [a]}}
  - {phase: shift-traffic, name: writes, cutover: {gateway: {admin: "http://127.0.0.1:1"}, route: users, from: legacy, to: new, tables: [a]}}
  - {phase: reconcile, name: verify, approval: {gate: verified}, hook: ` + hookOK + `}
  - {phase: decommission, name: stop, replicate: {from: legacy, to: new, tables: [a], mode: stop}}
`

// reverseReplication answers the cut-over's bounded runs (the reverse
// replication) with a reverse lag of 0.3s, numbered by the changes they
// say are behind (so each measurement is told apart), and counts them.
func reverseReplication(h *harness, bounded *atomic.Int32) {
	// The spec's tables would be leased: nothing to lease here.
	h.env.RegisterActivityWithOptions(func(context.Context, activities.LeaseResourcesInput) ([]activities.LeaseResource, error) {
		return nil, nil
	}, activity.RegisterOptions{Name: activities.LeaseResourcesName})
	h.env.RegisterActivityWithOptions(func(context.Context, activities.AcquireLeasesInput) (activities.AcquireLeasesResult, error) {
		return activities.AcquireLeasesResult{}, nil
	}, activity.RegisterOptions{Name: activities.AcquireLeasesName})
	h.fake.result = func(ctx context.Context, in activities.PhaseInput, res *activities.PhaseResult) error {
		if in.Phase.Name == "stop" {
			// Long enough for a follower still running to schedule more
			// runs meanwhile (each takes 5 ms): the tests' "none after the
			// stop began" would see them.
			time.Sleep(60 * time.Millisecond)
		}
		c, ok := in.Phase.Driver.(*cutover.Spec)
		if !ok || c.RunFor == 0 {
			return nil
		}
		n := bounded.Add(1)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		res.Lag = &migration.ReplicationLag{Seconds: 0.3, Changes: int64(n), Reverse: true, From: c.To, To: c.From}
		return nil
	}
}

func reverseCalls(inputs []activities.PhaseInput) []int {
	var at []int
	for k, in := range inputs {
		if c, ok := in.Phase.Driver.(*cutover.Spec); ok && c.RunFor > 0 {
			at = append(at, k)
		}
	}
	return at
}

// approveOnceReverseLag approves gate once the reverse replication has
// measured its lag twice (the report's figure refreshed), keeping what the
// status said then.
func approveOnceReverseLag(h *harness, gate string, seen *[]migration.ReplicationLag, then func()) {
	var poll func()
	polls := 0
	poll = func() {
		rep := h.query()
		if l := rep.Replication; l != nil && l.Reverse && (len(*seen) == 0 || (*seen)[len(*seen)-1].Changes != l.Changes) {
			*seen = append(*seen, *l)
		}
		// Bounded: a run with no reverse replication goes on (and the
		// test's assertions fail) instead of waiting for ever.
		if polls++; polls < 2000 && (rep.WaitingGate != gate || len(*seen) < 2) {
			h.env.RegisterDelayedCallback(poll, 5*time.Millisecond)
			return
		}
		then()
	}
	h.env.RegisterDelayedCallback(poll, 5*time.Millisecond)
}

// After the cut-over completes, its reverse replication (new → legacy)
// runs in bounded activities while the run waits at the next gate,
// records its lag as the reverse one, and is stopped before the stop
// phase, which drains and removes it.
func TestReverseReplicationFollowsTheCutOverUntilTheStop(t *testing.T) {
	for name, last := range map[string]string{
		"replicate stop, which uses the capture":       "",
		"decommission hook, after which legacy may go": "  - {phase: decommission, name: stop, hook: " + hookOK + "}\n",
	} {
		spec := reverseSpec
		if last != "" {
			spec = strings.Split(reverseSpec, "  - {phase: decommission")[0] + last
		}
		t.Run(name, func(t *testing.T) { testReverseUntilTheStop(t, spec) })
	}
}

func testReverseUntilTheStop(t *testing.T, spec string) {
	h := newHarness(t)
	var bounded atomic.Int32
	reverseReplication(h, &bounded)
	var seen []migration.ReplicationLag
	approveOnceReverseLag(h, "verified", &seen, func() {
		h.env.UpdateWorkflow(UpdateApprove, "", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("refused: %v", err) }, OnAccept: func() {}, OnComplete: func(any, error) {},
		}, ApproveRequest{Gate: "verified", By: "erin"})
	})
	rep, err := h.run(mustSpec(t, spec))
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, rep.Status)

	calls := h.fake.Calls()
	at := reverseCalls(h.fake.inputs)
	require.NotEmpty(t, at, "the reverse replication ran after the cut-over: %v", calls)
	writes := indexOf(calls, "run:writes")
	require.Greater(t, at[0], writes, "it starts once the cut-over is done")
	// In the order the workflow scheduled them: the fake's own order is
	// its goroutines' (see scheduleLog).
	scheduled := h.scheduled.get()
	before, after, stopAt := followsAround(scheduled, "RunPhase:stop")
	require.GreaterOrEqual(t, stopAt, 0, "%v", scheduled)
	require.Positive(t, before, "it ran before the stop: %v", scheduled)
	require.Zero(t, after, "none after the stop began: %v", scheduled)
	for _, k := range at {
		require.Equal(t, "run:writes", calls[k], "the cut-over phase's section runs it")
		require.Empty(t, h.fake.inputs[k].Resume, "no forward checkpoint is handed to the reverse capture")
	}
	require.GreaterOrEqual(t, len(seen), 2, "the status showed the reverse lag, refreshed")
	for _, l := range seen {
		require.True(t, l.Reverse)
		require.Equal(t, "writes", l.Phase)
		require.Equal(t, "new", l.From)
		require.Equal(t, "legacy", l.To)
	}
	require.True(t, seen[1].Measured.After(seen[0].Measured) || seen[1].Measured.Equal(seen[0].Measured))
	name, _ := rep.CutOverAfterLag()
	require.Empty(t, name, "the reverse lag is no history of the forward one")
}

// A rollback at the gate after the cut-over stops the reverse replication
// before the first compensation, the cut-over's, which drains the rest.
func TestRollbackStopsTheReverseReplicationBeforeCompensating(t *testing.T) {
	h := newHarness(t)
	var bounded atomic.Int32
	reverseReplication(h, &bounded)
	var seen []migration.ReplicationLag
	approveOnceReverseLag(h, "verified", &seen, func() {
		h.env.SignalWorkflow(SignalRollback, RollbackRequest{Reason: "test", By: "erin"})
	})
	rep, err := h.run(mustSpec(t, reverseSpec))
	require.NoError(t, err, "a requested rollback that undid every phase completes the run")
	require.Equal(t, migration.StatusRolledBack, rep.Status)
	calls := h.fake.Calls()
	first := -1
	for k, c := range calls {
		if strings.HasPrefix(c, "compensate:") {
			first = k
			break
		}
	}
	require.Positive(t, first, "%v", calls)
	require.Equal(t, "compensate:writes", calls[first])
	at := reverseCalls(h.fake.inputs)
	require.NotEmpty(t, at)
	scheduled := h.scheduled.get()
	before, after, compAt := followsAround(scheduled, "CompensatePhase:writes")
	require.GreaterOrEqual(t, compAt, 0, "%v", scheduled)
	require.Positive(t, before, "%v", scheduled)
	require.Zero(t, after, "no reverse replication after the compensations began: %v", scheduled)
	require.True(t, rep.Replication.Reverse)
}

// A cut-over that is the last phase, or that the stop follows with no
// gate between, leaves nothing to run beside: no reverse replication
// starts (it would be cancelled at once).
func TestNoReverseReplicationWhenNothingRunsBesideIt(t *testing.T) {
	before, after, _ := strings.Cut(reverseSpec, "  - {phase: reconcile")
	_, stop, _ := strings.Cut(after, "\n")
	for name, spec := range map[string]string{"cut-over last": before, "stop right after": before + stop} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			var bounded atomic.Int32
			reverseReplication(h, &bounded)
			rep, err := h.run(mustSpec(t, spec))
			require.NoError(t, err)
			require.Equal(t, migration.StatusCompleted, rep.Status)
			require.Empty(t, reverseCalls(h.fake.inputs), "%v", h.fake.Calls())
		})
	}
}

func indexOf(calls []string, c string) int {
	for k, x := range calls {
		if x == c {
			return k
		}
	}
	return -1
}

// A gate with requireLag after the cut-over measures the reverse
// replication (the one running then), not the forward one that ended.
func TestRequireLagAfterTheCutOverMeasuresTheReverseReplication(t *testing.T) {
	h := newHarness(t)
	var bounded atomic.Int32
	reverseReplication(h, &bounded)
	spec := strings.Replace(reverseSpec, "approval: {gate: verified}", "approval: {gate: verified, requireLag: 1s}", 1)
	var refused []string
	var approve func()
	approve = func() {
		h.env.UpdateWorkflow(UpdateApprove, "", &testsuite.TestUpdateCallback{
			OnReject: func(err error) {
				refused = append(refused, err.Error())
				h.env.RegisterDelayedCallback(approve, 5*time.Millisecond)
			},
			OnAccept: func() {}, OnComplete: func(any, error) {},
		}, ApproveRequest{Gate: "verified", By: "erin"})
	}
	h.env.RegisterDelayedCallback(approve, 5*time.Millisecond)
	rep, err := h.run(mustSpec(t, spec))
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, rep.Status)
	for _, r := range refused {
		require.NotContains(t, r, "phase replicate", "the forward replication is not the gate's")
	}
	calls := h.fake.Calls()
	at := reverseCalls(h.fake.inputs)
	require.NotEmpty(t, at, "%v", calls)
	require.Equal(t, 1, strings.Count(strings.Join(calls, ","), "run:replicate,"), "no forward follower ran at the gate: %v", calls)
	scheduled := h.scheduled.get()
	_, after, stopAt := followsAround(scheduled, "RunPhase:stop")
	require.GreaterOrEqual(t, stopAt, 0, "%v", scheduled)
	require.Zero(t, after, "none after the stop began: %v", scheduled)
}
