package workflows

import (
	"context"
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

// leaseWatch records the lease workflows a run starts and the leases it
// releases, with lease resources as the LeaseResources activity gives them.
type leaseWatch struct {
	mu       sync.Mutex
	started  map[string]LeaseInput // workflow ID -> input
	released []string
	asked    []activities.LeaseResourcesInput
}

func watchLeases(h *harness, list []activities.LeaseResource) *leaseWatch {
	return watchLeasesHeld(h, list, true)
}

// childLeases keeps h's run on the path of runs started before
// leaseBatchV1: a child workflow per lease, a signal to release each.
func childLeases(h *harness) {
	h.env.OnGetVersion(changeLeaseBatch, workflow.DefaultVersion, leaseBatchV1).Return(workflow.DefaultVersion)
}

// watchLeasesHeld is watchLeases whose leases, unless held, end at once
// (the test environment waits for running children at continue-as-new).
func watchLeasesHeld(h *harness, list []activities.LeaseResource, held bool) *leaseWatch {
	w := &leaseWatch{started: map[string]LeaseInput{}}
	h.env.RegisterActivityWithOptions(func(_ context.Context, in activities.LeaseResourcesInput) ([]activities.LeaseResource, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.asked = append(w.asked, in)
		return list, nil
	}, activity.RegisterOptions{Name: activities.LeaseResourcesName})
	h.env.RegisterWorkflowWithOptions(func(ctx workflow.Context, in LeaseInput) error {
		id := workflow.GetInfo(ctx).WorkflowExecution.ID
		w.mu.Lock()
		w.started[id] = in
		w.mu.Unlock()
		if !held {
			return nil
		}
		workflow.GetSignalChannel(ctx, SignalRelease).Receive(ctx, nil)
		w.mu.Lock()
		w.released = append(w.released, id)
		w.mu.Unlock()
		return nil
	}, workflow.RegisterOptions{Name: LeaseWorkflowName})
	childLeases(h)
	return w
}

const leasedWorkflowSpec = `name: leased
resources: [store:env:ORDERS_DSN/orders]
phases:
  - {phase: copy, hook: ` + hookOK + `}
`

func TestLeasesAreTakenUnderTheKeyedIDsAndReleased(t *testing.T) {
	h := newHarness(t)
	list := []activities.LeaseResource{
		{ID: activities.LeaseKeyID("store:123/db/public/orders"), Name: "table orders of store new", Legacy: []string{"store:env:ORDERS_DSN/orders"}},
		{ID: activities.LeaseKeyID("route:http://gw/orders"), Name: "route:http://gw/orders", Legacy: []string{"route:http://gw/orders"}},
	}
	w := watchLeases(h, list)
	rep, err := h.run(mustSpec(t, leasedWorkflowSpec))
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, rep.Status)
	require.Len(t, w.asked, 1, "the leases come from one activity")
	require.Equal(t, "leased", w.asked[0].Holder)
	require.Len(t, w.started, 2)
	for _, l := range list {
		in, ok := w.started[l.ID]
		require.True(t, ok, "no lease started under %s", l.ID)
		require.Equal(t, l.Name, in.Resource, "the readable name travels in the lease's input")
		require.Equal(t, "leased", in.Holder)
		require.False(t, strings.Contains(l.ID, "orders") || strings.Contains(l.ID, "ORDERS_DSN"), l.ID)
	}
	require.ElementsMatch(t, []string{list[0].ID, list[1].ID}, w.released, "every lease is released at the end")
}

func TestAnOldFormLeaseHeldStopsTheRunBeforeAnyPhase(t *testing.T) {
	h := newHarness(t)
	w := watchLeases(h, []activities.LeaseResource{{
		ID: activities.LeaseKeyID("store:123/db/public/orders"), Name: "table orders of store new",
		Legacy: []string{"store:env:ORDERS_DSN/orders"}, LegacyHolder: "old-run",
	}})
	rep, err := h.run(mustSpec(t, leasedWorkflowSpec))
	require.Error(t, err)
	require.Equal(t, "resource table orders of store new is held by migration old-run: wait for it to end, or roll it back", rep.Error)
	require.Empty(t, h.fake.Calls(), "no phase ran")
	require.Empty(t, w.started, "no lease was taken")
	require.Empty(t, w.released)
}

func TestARunWithoutResourcesAsksForNoLeases(t *testing.T) {
	h := newHarness(t)
	w := watchLeases(h, nil)
	rep, err := h.run(mustSpec(t, `name: free
phases:
  - {phase: copy, hook: `+hookOK+`}
`))
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, rep.Status)
	require.Empty(t, w.asked)
	require.Empty(t, w.started)
}

func TestContinueAsNewCarriesTheKeyedLeases(t *testing.T) {
	h := newHarness(t)
	watchLeasesHeld(h, []activities.LeaseResource{{ID: activities.LeaseKeyID("k"), Name: "k", Legacy: []string{"k"}}}, false)
	h.env.ExecuteWorkflow(WorkflowName, Input{Spec: mustSpec(t, `name: carried
resources: [k]
phases:
  - {phase: copy, counted: {count: 5}}
`), ActivitiesPerRun: 2})
	require.True(t, h.env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, h.env.GetWorkflowError(), &can)
	var in Input
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &in))
	require.NotNil(t, in.Carry)
	require.Equal(t, []string{activities.LeaseKeyID("k")}, in.Carry.LeaseIDs)
	require.Empty(t, in.Carry.Leases)
}

func TestLeasesThatCannotBeKeyedStopTheRunBeforeAnyPhase(t *testing.T) {
	h := newHarness(t)
	childLeases(h)
	h.env.RegisterActivityWithOptions(func(context.Context, activities.LeaseResourcesInput) ([]activities.LeaseResource, error) {
		return nil, temporal.NewNonRetryableApplicationError("lease table orders of store new: store new: cannot read its DSN: ORDERS_DSN is not set", activities.ErrTypeConfig, nil)
	}, activity.RegisterOptions{Name: activities.LeaseResourcesName})
	rep, err := h.run(mustSpec(t, leasedWorkflowSpec))
	require.Error(t, err)
	require.Equal(t, "leases: lease table orders of store new: store new: cannot read its DSN: ORDERS_DSN is not set", rep.Error)
	require.Empty(t, h.fake.Calls(), "no phase ran")
}
