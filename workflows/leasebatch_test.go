package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/migration"
)

// batchWatch records a run's calls of the lease activities of
// leaseBatchV1, and any lease taken the older ways (which must not be).
type batchWatch struct {
	mu       sync.Mutex
	acquired []activities.AcquireLeasesInput
	released [][]string
	children int
	listed   int
}

// watchBatchLeases answers AcquireLeases with res and err.
func watchBatchLeases(h *harness, res activities.AcquireLeasesResult, err error) *batchWatch {
	w := &batchWatch{}
	h.env.RegisterActivityWithOptions(func(_ context.Context, in activities.AcquireLeasesInput) (activities.AcquireLeasesResult, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.acquired = append(w.acquired, in)
		return res, err
	}, activity.RegisterOptions{Name: activities.AcquireLeasesName})
	h.env.RegisterActivityWithOptions(func(_ context.Context, in activities.ReleaseLeasesInput) error {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.released = append(w.released, in.IDs)
		return nil
	}, activity.RegisterOptions{Name: activities.ReleaseLeasesName})
	h.env.RegisterActivityWithOptions(func(context.Context, activities.LeaseResourcesInput) ([]activities.LeaseResource, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.listed++
		return nil, nil
	}, activity.RegisterOptions{Name: activities.LeaseResourcesName})
	h.env.RegisterWorkflowWithOptions(func(workflow.Context, LeaseInput) error {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.children++
		return nil
	}, workflow.RegisterOptions{Name: LeaseWorkflowName})
	return w
}

func batchIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = activities.LeaseKeyID(fmt.Sprintf("store:db/t%04d", i))
	}
	return ids
}

func TestLeasesAreTakenAndReleasedByOneActivityEach(t *testing.T) {
	h := newHarness(t)
	ids := batchIDs(3)
	w := watchBatchLeases(h, activities.AcquireLeasesResult{IDs: ids}, nil)
	rep, err := h.run(mustSpec(t, leasedWorkflowSpec))
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, rep.Status)
	require.Len(t, w.acquired, 1, "every lease in one activity")
	require.Equal(t, "leased", w.acquired[0].Holder)
	require.Equal(t, "leased", w.acquired[0].Spec.Name)
	require.NotEmpty(t, w.acquired[0].HolderRun, "the run taking them, so a retry knows its own")
	require.Equal(t, [][]string{ids}, w.released, "every lease released, in one activity, at the end")
	require.Zero(t, w.children, "no lease child workflow")
	require.Zero(t, w.listed, "no separate listing")
	sch := h.scheduled.get()
	require.Equal(t, activities.AcquireLeasesName, sch[0], "before any phase: %v", sch)
	require.Equal(t, activities.ReleaseLeasesName, sch[len(sch)-1], "after every phase: %v", sch)
}

func TestALeaseAnotherMigrationHoldsStopsTheRunBeforeAnyPhase(t *testing.T) {
	h := newHarness(t)
	w := watchBatchLeases(h, activities.AcquireLeasesResult{Held: &activities.LeaseConflict{Name: "table orders of store new", Holder: "other-run"}}, nil)
	rep, err := h.run(mustSpec(t, leasedWorkflowSpec))
	require.Error(t, err)
	require.Equal(t, "resource table orders of store new is held by migration other-run: wait for it to end, or roll it back", rep.Error)
	require.Empty(t, h.fake.Calls(), "no phase ran")
	require.Empty(t, w.released, "nothing to release: the activity took none")
}

func TestLeasesThatCannotBeTakenStopTheRunBeforeAnyPhase(t *testing.T) {
	h := newHarness(t)
	w := watchBatchLeases(h, activities.AcquireLeasesResult{},
		temporal.NewNonRetryableApplicationError("lease table orders of store new: store new: cannot read its DSN: ORDERS_DSN is not set", activities.ErrTypeConfig, nil))
	rep, err := h.run(mustSpec(t, leasedWorkflowSpec))
	require.Error(t, err)
	require.Equal(t, "leases: lease table orders of store new: store new: cannot read its DSN: ORDERS_DSN is not set", rep.Error)
	require.Empty(t, h.fake.Calls(), "no phase ran")
	require.Empty(t, w.released)
}

func TestLeasesTakenByActivityAreReleasedWhenTheRunFails(t *testing.T) {
	h := newHarness(t)
	ids := batchIDs(2)
	w := watchBatchLeases(h, activities.AcquireLeasesResult{IDs: ids}, nil)
	h.fake.behave = func(_ context.Context, call string, _ int32) error {
		if call == "run:copy" {
			return temporal.NewNonRetryableApplicationError("boom", "test", nil)
		}
		return nil
	}
	rep, err := h.run(mustSpec(t, leasedWorkflowSpec))
	require.Error(t, err)
	require.Equal(t, migration.StatusRolledBack, rep.Status)
	require.Equal(t, [][]string{ids}, w.released, "released whatever the outcome")
}

func TestContinueAsNewCarriesTheLeasesTakenByActivity(t *testing.T) {
	h := newHarness(t)
	ids := batchIDs(2)
	w := watchBatchLeases(h, activities.AcquireLeasesResult{IDs: ids}, nil)
	h.env.ExecuteWorkflow(WorkflowName, Input{Spec: mustSpec(t, `name: carried
resources: [k, l]
phases:
  - {phase: copy, counted: {count: 5}}
`), ActivitiesPerRun: 2})
	require.True(t, h.env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, h.env.GetWorkflowError(), &can)
	var in Input
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &in))
	require.NotNil(t, in.Carry)
	require.Equal(t, ids, in.Carry.LeaseIDs)
	require.True(t, in.Carry.LeasesByActivity, "the next run releases them by activity")
	require.Empty(t, w.released, "held across continue-as-new")

	// The next runs take none again; the last releases the carried ones.
	var acquired int
	for run := 2; ; run++ {
		require.Less(t, run, 10, "the chain never ended")
		h := newHarness(t)
		w := watchBatchLeases(h, activities.AcquireLeasesResult{IDs: batchIDs(5)}, nil)
		h.env.ExecuteWorkflow(WorkflowName, in)
		require.True(t, h.env.IsWorkflowCompleted())
		acquired += len(w.acquired)
		if err := h.env.GetWorkflowError(); errors.As(err, &can) {
			require.Empty(t, w.released, "run %d", run)
			in = Input{}
			require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &in))
			continue
		}
		require.NoError(t, h.env.GetWorkflowError())
		require.Zero(t, acquired, "taken once, by the first run")
		require.Equal(t, [][]string{ids}, w.released)
		return
	}
}

// leaseCommands runs a migration over n tables and returns what it
// scheduled to take and release its leases (activities, children,
// signals), with each activity's input or result size left out.
func leaseCommands(t *testing.T, n int, children bool) []string {
	t.Helper()
	h := newHarness(t)
	names := make([]string, n)
	list := make([]activities.LeaseResource, n)
	for i := range names {
		names[i] = fmt.Sprintf("store:env:ORDERS_DSN/t%04d", i)
		list[i] = activities.LeaseResource{ID: activities.LeaseKeyID(names[i]), Name: names[i], Legacy: []string{names[i]}}
	}
	if children {
		watchLeases(h, list)
	} else {
		watchBatchLeases(h, activities.AcquireLeasesResult{IDs: batchIDs(n)}, nil)
	}
	spec := mustSpec(t, `name: tables
phases:
  - {phase: copy, hook: `+hookOK+`}
`)
	spec.Resources = names
	rep, err := h.run(spec)
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, rep.Status)
	var out []string
	for _, e := range h.scheduled.get() {
		if strings.Contains(e, "Lease") || strings.HasPrefix(e, "signal:") || strings.HasPrefix(e, "child:") {
			out = append(out, e)
		}
	}
	return out
}

// TestLeaseCommandsDoNotGrowWithTheTables: since leaseBatchV1 a run over
// 500 tables schedules what one over 50 does to take and release its
// leases (so its history holds as many lease events); before, a child and
// a signal per table.
func TestLeaseCommandsDoNotGrowWithTheTables(t *testing.T) {
	few, many := leaseCommands(t, 50, false), leaseCommands(t, 500, false)
	require.Equal(t, []string{activities.AcquireLeasesName, activities.ReleaseLeasesName}, few)
	require.Equal(t, few, many)

	few, many = leaseCommands(t, 50, true), leaseCommands(t, 500, true)
	require.Len(t, few, 1+2*50, "the child path: a child and a signal per table")
	require.Len(t, many, 1+2*500)
}
