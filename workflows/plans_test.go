package workflows

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
)

// shiftingSteps stands for a driver whose planner a worker upgrade
// changes: its phase has as many action steps as shiftingCount says when
// PlanSteps is called.
type shiftingSteps struct{}

var shiftingCount atomic.Int32

func (*shiftingSteps) Check(*config.CheckContext) {}
func (*shiftingSteps) PlanSteps() []config.Step {
	steps := make([]config.Step, shiftingCount.Load())
	for k := range steps {
		steps[k] = config.Step{Name: "step", Action: true}
	}
	return steps
}

func init() {
	config.RegisterDriver("shifting", func() config.DriverSpec { return &shiftingSteps{} })
}

const shiftingSpec = `name: test
phases:
  - {phase: validate, hook: ` + hookOK + `}
  - {phase: copy, shifting: {}}
`

// withShifting sets the shifting driver's step count for one test.
func withShifting(t *testing.T, n int32) {
	t.Helper()
	was := shiftingCount.Load()
	shiftingCount.Store(n)
	t.Cleanup(func() { shiftingCount.Store(was) })
}

// TestARunFollowsThePlanItStartedWithWhenItsDriverChanges: the driver's
// planner answers differently once the run has started (a worker
// upgraded mid-run); the run still takes the steps planned at its start,
// made once and recorded. A run from before changePlans asks the driver
// when the phase comes, and takes the new steps.
func TestARunFollowsThePlanItStartedWithWhenItsDriverChanges(t *testing.T) {
	for _, tc := range []struct {
		name  string
		old   bool
		calls []string
	}{
		{"plans as data", false, []string{"run:validate", "run:copy#1", "run:copy#2"}},
		{"a run from before plans-as-data", true, []string{"run:validate", "run:copy#1", "run:copy#2", "run:copy#3", "run:copy#4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			withShifting(t, 2)
			h := newHarness(t)
			if tc.old {
				h.env.OnGetVersion(changePlans, workflow.DefaultVersion, plansV1).Return(workflow.DefaultVersion)
			}
			h.fake.behave = func(_ context.Context, call string, _ int32) error {
				if call == "run:validate" {
					shiftingCount.Store(4) // the driver changes under the run
				}
				return nil
			}
			rep, err := h.run(mustSpec(t, shiftingSpec))
			require.NoError(t, err)
			require.Equal(t, migration.StatusCompleted, rep.Status)
			require.Equal(t, tc.calls, h.fake.Calls())
		})
	}
}

// TestARunTakesThePlanItsInputCarries: `godwit start` makes the plan; the
// run decides with it, not with what the driver says now.
func TestARunTakesThePlanItsInputCarries(t *testing.T) {
	withShifting(t, 3)
	spec := mustSpec(t, shiftingSpec)
	plan := config.PlanSpec(&spec)
	require.Len(t, plan.Phases[1].Steps, 3)
	shiftingCount.Store(1) // a worker whose driver plans one step
	h := newHarness(t)
	rep, err := h.runInput(Input{Spec: spec, Plan: &plan})
	require.NoError(t, err)
	require.Equal(t, []string{"run:validate", "run:copy#1", "run:copy#2", "run:copy#3"}, h.fake.Calls())
	require.Equal(t, 3, rep.Phases[1].Steps)
}

// TestContinueAsNewCarriesThePlan: the next run gets the plan in its
// input and follows it, whatever the driver says by then.
func TestContinueAsNewCarriesThePlan(t *testing.T) {
	withShifting(t, 3)
	historyOf(t, HistoryEventsPerRun, 0, false)
	h := newHarness(t)
	h.env.ExecuteWorkflow(WorkflowName, Input{Spec: mustSpec(t, `name: test
phases:
  - {phase: copy, shifting: {}}
`)})
	require.True(t, h.env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, h.env.GetWorkflowError(), &can)
	require.Equal(t, []string{"run:copy#1"}, h.fake.Calls(), "one step, then a new run")
	var in Input
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &in))
	require.NotNil(t, in.Plan, "the plan goes on with the run")
	require.Len(t, in.Plan.Phases[0].Steps, 3)

	historyOf(t, 100, 0, false)
	shiftingCount.Store(6)
	next := newHarness(t)
	rep, err := next.runInput(in)
	require.NoError(t, err)
	require.Equal(t, []string{"run:copy#2", "run:copy#3"}, next.fake.Calls(), "the carried plan, not the driver's six steps")
	require.Equal(t, migration.StatusCompleted, rep.Status)
}

// TestAPlanThatDoesNotFitTheSpecIsMadeAgain: a client's plan for another
// spec (a phase short) is not trusted: the run makes its own, once.
func TestAPlanThatDoesNotFitTheSpecIsMadeAgain(t *testing.T) {
	withShifting(t, 2)
	spec := mustSpec(t, shiftingSpec)
	wrong := config.Plan{Phases: []config.PhasePlan{{Driver: "hook"}}}
	h := newHarness(t)
	rep, err := h.runInput(Input{Spec: spec, Plan: &wrong})
	require.NoError(t, err)
	require.Equal(t, []string{"run:validate", "run:copy#1", "run:copy#2"}, h.fake.Calls())
	require.Equal(t, migration.StatusCompleted, rep.Status)
}

// TestAStepNameShowsTheValueItsReferenceGot: steps planned from the
// section as written show the values of its references once known, as
// they did when the workflow planned from the resolved section.
func TestAStepNameShowsTheValueItsReferenceGot(t *testing.T) {
	h := newHarness(t)
	h.fake.outputs = func(in activities.PhaseInput) map[string]string {
		if in.Phase.Name == "up" {
			return map[string]string{"url": "http://green"}
		}
		return nil
	}
	rep, err := h.run(mustSpec(t, `name: test
phases:
  - {phase: provision, name: up, outputs: [url], hook: `+hookOK+`}
  - phase: shift-traffic
    hook: {steps: [{run: {command: [./shift.sh, "${phases.up.outputs.url}"]}}]}
`))
	require.NoError(t, err)
	require.Equal(t, "1 of 1: ./shift.sh http://green", rep.Phases[1].Step)
}

// TestEveryActivityOfARunKnowsItsRun: each phase's activity gets the run's
// key (its chain's first run ID), the same across continue-as-new, so what
// a provision creates is owned by this run of the migration, not by every
// run of its name (changeRunKey; a later run of the same name no longer
// takes over and drops what an earlier completed run created).
func TestEveryActivityOfARunKnowsItsRun(t *testing.T) {
	withShifting(t, 3)
	historyOf(t, HistoryEventsPerRun, 0, false)
	var runs []string
	record := func(in activities.PhaseInput) map[string]string {
		runs = append(runs, in.Run)
		return nil
	}
	h := newHarness(t)
	h.fake.outputs = record
	h.env.ExecuteWorkflow(WorkflowName, Input{Spec: mustSpec(t, `name: test
phases:
  - {phase: copy, shifting: {}}
`)})
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, h.env.GetWorkflowError(), &can)
	var in Input
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &in))
	require.Len(t, runs, 1)
	require.NotEmpty(t, runs[0], "the activity was not told its run")
	require.Equal(t, runs[0], in.Carry.RunKey, "the run's key does not go on with the run")

	historyOf(t, 100, 0, false)
	next := newHarness(t)
	next.fake.outputs = record
	_, err := next.runInput(in)
	require.NoError(t, err)
	require.Equal(t, []string{runs[0], runs[0], runs[0]}, runs, "a continued run's activities got another run's key")
}
