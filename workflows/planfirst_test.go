package workflows

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
)

// plannedSteps is a driver section for tests shaped like terraform's: a
// read-only plan, an optional gate, then an apply.
type plannedSteps struct {
	Gate string `yaml:"gate" json:"gate,omitempty"`
}

func (p *plannedSteps) Check(*config.CheckContext) {}

func (p *plannedSteps) PlanSteps() []config.Step {
	steps := []config.Step{{Name: "plan", Action: true, ReadOnly: true}}
	if p.Gate != "" {
		steps = append(steps, config.Step{Name: "approve the plan", Gate: p.Gate})
	}
	return append(steps, config.Step{Name: "apply", Action: true})
}

func init() {
	config.RegisterDriver("planned", func() config.DriverSpec { return &plannedSteps{} })
}

// plannedDecommission is validate, provision and a decommission whose
// steps plan then apply; gate is the decommission's section (a phase gate
// or the driver's own).
func plannedDecommission(t *testing.T, gate string) config.Spec {
	t.Helper()
	spec, err := config.ParseSpec([]byte(`name: test
phases:
  - phase: validate
    retry: {maxAttempts: 1}
    hook: {run: {command: ["true"]}}
  - phase: provision
    retry: {maxAttempts: 1}
    hook: {run: {command: ["true"]}, compensate: {command: ["true"]}}
  - phase: decommission
    retry: {maxAttempts: 1}
` + gate))
	require.NoError(t, err)
	return *spec
}

const phaseGateAfterPlan = "    approval: {gate: retire}\n    planned: {}\n"

// approveWhenWaiting approves gate once the run waits there, after check.
func (h *harness) approveWhenWaiting(gate string, check func(migration.Report)) {
	h.env.RegisterDelayedCallback(func() {
		rep := h.query()
		check(rep)
		h.env.UpdateWorkflow(UpdateApprove, "approve", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { h.t.Errorf("approval of %s rejected: %v", gate, err) },
			OnAccept:   func() {},
			OnComplete: func(any, error) {},
		}, ApproveRequest{Gate: gate, By: "dave"})
	}, time.Hour)
}

func TestThePhaseGateOfAPlannedDecommissionWaitsAfterThePlan(t *testing.T) {
	h := newHarness(t)
	h.approveWhenWaiting("retire", func(rep migration.Report) {
		require.Equal(t, migration.StatusWaitingApproval, rep.Status)
		require.Equal(t, "retire", rep.WaitingGate)
		require.Equal(t, []string{"run:validate", "run:provision", "run:decommission#1"}, h.fake.Calls(),
			"the plan runs before the gate, the apply after it")
		d := rep.Phases[2]
		require.Equal(t, "ok run:decommission#1", d.Summary, "the gate shows the plan's result")
		require.Equal(t, "2 of 2: gate retire, then apply", d.Step)
		require.True(t, d.BeforeNoReturn)
		require.Equal(t, migration.RollbackAvailable, rep.Rollback, "nothing is destroyed yet: %s", rep.RollbackNote)
	})
	rep, err := h.run(plannedDecommission(t, phaseGateAfterPlan))
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, rep.Status)
	require.Equal(t, []string{"run:validate", "run:provision", "run:decommission#1", "run:decommission#2"}, h.fake.Calls())
	require.Equal(t, "dave", rep.Phases[2].ApprovedBy)
	require.False(t, rep.Phases[2].BeforeNoReturn)
}

func TestRollbackAtAPlannedDecommissionsGateChangesNothing(t *testing.T) {
	for name, section := range map[string]string{
		"the phase's gate, after the plan": phaseGateAfterPlan,
		"the driver's own gate":            "    planned: {gate: retire}\n",
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.env.RegisterDelayedCallback(func() {
				rep := h.query()
				require.Equal(t, "retire", rep.WaitingGate)
				require.Equal(t, migration.RollbackAvailable, rep.Rollback, rep.RollbackNote)
				h.env.SignalWorkflow(SignalRollback, RollbackRequest{Reason: "not yet", By: "erin"})
			}, time.Hour)
			rep, err := h.run(plannedDecommission(t, section))
			require.NoError(t, err, "a requested rollback that undid every phase completes the run")
			require.Equal(t, migration.StatusRolledBack, rep.Status)
			require.Equal(t, []string{"run:validate", "run:provision", "run:decommission#1", "compensate:provision", "compensate:validate"}, h.fake.Calls(),
				"no apply, and no compensation of a decommission that only planned")
			require.Equal(t, migration.PhaseCancelled, rep.Phases[2].State)
			require.Equal(t, "stopped before it changed anything: rollback requested by erin: not yet", rep.Phases[2].Error)
			require.Equal(t, migration.PhaseCompensated, rep.Phases[1].State)
		})
	}
}

func TestAFailedPlanOfADecommissionRollsBack(t *testing.T) {
	h := newHarness(t)
	h.fake.behave = func(_ context.Context, call string, _ int32) error {
		if call == "run:decommission#1" {
			return temporal.NewNonRetryableApplicationError("the plan would destroy x", "TerraformDestroyNotAllowed", nil)
		}
		return nil
	}
	rep, err := h.run(plannedDecommission(t, phaseGateAfterPlan))
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, ErrTypeRolledBack, appErr.Type(), "nothing was destroyed: the rest can be undone")
	require.Equal(t, migration.StatusRolledBack, rep.Status)
	require.Equal(t, []string{"run:validate", "run:provision", "run:decommission#1", "compensate:provision", "compensate:validate"}, h.fake.Calls())
	require.Equal(t, migration.PhaseFailed, rep.Phases[2].State)
}

func TestRollbackIsRefusedOnceTheDecommissionApplies(t *testing.T) {
	h := newHarness(t)
	h.fake.behave = func(_ context.Context, call string, _ int32) error {
		if call == "run:decommission#2" {
			h.env.SignalWorkflow(SignalRollback, RollbackRequest{Reason: "too late", By: "bob"})
			time.Sleep(200 * time.Millisecond) // let the workflow take the signal while the apply runs
		}
		return nil
	}
	h.approveWhenWaiting("retire", func(migration.Report) {})
	rep, err := h.run(plannedDecommission(t, phaseGateAfterPlan))
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, rep.Status)
	require.Len(t, rep.Issues, 1)
	require.Equal(t, "rollback refused: decommission has started: it is the point of no return", rep.Issues[0].Message)
}

func TestAChangedPlanAsksAtThePhaseGateAgain(t *testing.T) {
	h := newHarness(t)
	applies := 0
	h.fake.behave = func(_ context.Context, call string, _ int32) error {
		if call == "run:decommission#2" {
			applies++
			if applies == 1 {
				return temporal.NewNonRetryableApplicationError("the plan changed since it was approved", activities.ErrTypeStepsAgain, nil)
			}
		}
		return nil
	}
	asked := 0
	var approve func()
	approve = func() {
		rep := h.query()
		require.Equal(t, "retire", rep.WaitingGate)
		asked++
		if asked == 2 {
			require.Empty(t, rep.Phases[2].ApprovedBy, "the first approval was of the old plan")
			require.Equal(t, migration.RollbackAvailable, rep.Rollback, "nothing applied yet: %s", rep.RollbackNote)
		}
		h.env.UpdateWorkflow(UpdateApprove, fmt.Sprintf("approve-%d", asked), &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { t.Errorf("approval rejected: %v", err) },
			OnAccept:   func() {},
			OnComplete: func(any, error) {},
		}, ApproveRequest{Gate: "retire", By: "dave"})
		if asked == 1 {
			h.env.RegisterDelayedCallback(approve, time.Hour)
		}
	}
	h.env.RegisterDelayedCallback(approve, time.Hour)
	rep, err := h.run(plannedDecommission(t, phaseGateAfterPlan))
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, rep.Status)
	require.Equal(t, 2, asked, "the gate asked again with the new plan")
	require.Equal(t, []string{"run:validate", "run:provision", "run:decommission#1", "run:decommission#2", "run:decommission#1", "run:decommission#2"}, h.fake.Calls())
}
