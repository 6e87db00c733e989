package workflows

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
)

// fannedFinished is a driver section for tests whose fanned-out phase has
// an action after its units (config.UnitsFinisher), as a copy's foreign
// keys.
type fannedFinished struct {
	Limit int `yaml:"limit" json:"limit"`
}

func (f *fannedFinished) Check(*config.CheckContext) {}
func (f *fannedFinished) FanOut() int                { return f.Limit }
func (f *fannedFinished) FinishesUnits() bool        { return true }

func init() {
	config.RegisterDriver("fannedFinished", func() config.DriverSpec { return &fannedFinished{} })
}

// finishHarness is a harness whose PlanUnits lists units and whose
// FinishUnits records "finish:PHASE" with the units run before it, then
// does what fail says (nil: returns keys carried).
func finishHarness(t *testing.T, units []string, fail func(attempt int32) error) (*harness, *[]int) {
	h := newHarness(t)
	registerUnitPlanner(h, func(ctx context.Context, in activities.PhaseInput) ([]string, error) {
		return units, nil
	})
	unitsBefore := &[]int{}
	h.env.RegisterActivityWithOptions(func(ctx context.Context, in activities.PhaseInput) (activities.PhaseResult, error) {
		attempt := activity.GetInfo(ctx).Attempt
		h.fake.mu.Lock()
		ran := 0
		for _, c := range h.fake.calls {
			if c == "run:"+in.Phase.Name {
				ran++
			}
		}
		*unitsBefore = append(*unitsBefore, ran)
		h.fake.calls = append(h.fake.calls, "finish:"+in.Phase.Name)
		h.fake.inputs = append(h.fake.inputs, in)
		h.fake.mu.Unlock()
		if in.Unit != "" {
			t.Errorf("FinishUnits got unit %q", in.Unit)
		}
		if fail != nil {
			if err := fail(attempt); err != nil {
				return activities.PhaseResult{}, activities.WithResult(err, activities.PhaseResult{Attempt: attempt})
			}
		}
		return activities.PhaseResult{Phase: in.Phase.Name, Attempt: attempt,
			Summary: "2 foreign keys carried (orders.orders_customer_fk, order_lines.order_lines_order_fk)",
			Output:  "invoices.invoices_order_fk: table orders is not on the target"}, nil
	}, activity.RegisterOptions{Name: activities.FinishUnitsName})
	return h, unitsBefore
}

// TestAFannedOutPhaseFinishesOnceEveryUnitHasFinished: a fan-out whose
// section has an action after its units (a copy's foreign keys) runs it
// once, after the last unit, in windows too, and the phase's summary ends
// with what it did, as a plain copy's does.
func TestAFannedOutPhaseFinishesOnceEveryUnitHasFinished(t *testing.T) {
	for _, tc := range []struct {
		name   string
		window int
	}{
		{"in one run", 0},
		{"in windows of 2 units", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, unitsBefore := finishHarness(t, []string{"customers", "orders", "order_lines"}, nil)
			rep, err := h.runInput(Input{Spec: mustSpec(t, `name: test
phases:
  - {phase: copy, fannedFinished: {limit: 2}}
  - {phase: reconcile, hook: `+hookOK+`}
`), FanOutWindow: tc.window})
			require.NoError(t, err)
			require.Equal(t, migration.StatusCompleted, rep.Status)
			calls := h.fake.Calls()
			require.Equal(t, []string{"run:copy", "run:copy", "run:copy", "finish:copy", "run:reconcile"}, calls)
			require.Equal(t, []int{3}, *unitsBefore, "it ran once, after all 3 units")
			cp := rep.Phases[0]
			require.Equal(t, migration.PhaseCompleted, cp.State)
			require.True(t, strings.HasPrefix(cp.Summary, "3 units: customers: ok run:copy; "), cp.Summary)
			require.True(t, strings.HasSuffix(cp.Summary, "; 2 foreign keys carried (orders.orders_customer_fk, order_lines.order_lines_order_fk)"), cp.Summary)
			require.Equal(t, int64(30), cp.Records, "the units' records, the finish adds none")
			require.Equal(t, "3 of 3 units done, 0 running", cp.Step, "the units' count once finished")
		})
	}
}

// TestAFannedOutPhaseWithNothingToFinishRunsNoFinish: a fan-out whose
// section finishes nothing (a reconcile's) completes after its units, as
// before finishUnitsV1.
func TestAFannedOutPhaseWithNothingToFinishRunsNoFinish(t *testing.T) {
	h, unitsBefore := finishHarness(t, []string{"a", "b"}, nil)
	rep, err := h.run(mustSpec(t, `name: test
phases:
  - {phase: copy, fanned: {limit: 2}}
`))
	require.NoError(t, err)
	require.Equal(t, []string{"run:copy", "run:copy"}, h.fake.Calls())
	require.Empty(t, *unitsBefore)
	require.Equal(t, "2 units: a: ok run:copy; b: ok run:copy", rep.Phases[0].Summary)
}

// TestAFinishThatFailsFailsThePhaseAndUndoesIt: the units' work is undone
// when what follows them fails for good; a failure a retry overcomes is
// counted as the phase's attempt.
func TestAFinishThatFailsFailsThePhaseAndUndoesIt(t *testing.T) {
	t.Run("for good", func(t *testing.T) {
		h, _ := finishHarness(t, []string{"a", "b"}, func(int32) error {
			return temporal.NewNonRetryableApplicationError("create foreign keys: connection refused", "Test", nil)
		})
		rep, err := h.run(mustSpec(t, `name: test
phases:
  - {phase: copy, retry: {maxAttempts: 1}, fannedFinished: {limit: 2}}
`))
		require.Error(t, err)
		require.Equal(t, []string{"run:copy", "run:copy", "finish:copy", "compensate:copy"}, h.fake.Calls())
		require.Equal(t, "phase copy failed: after its units: create foreign keys: connection refused", rep.Error)
		require.Equal(t, migration.StatusRolledBack, rep.Status)
	})
	t.Run("once, then retried", func(t *testing.T) {
		h, _ := finishHarness(t, []string{"a", "b"}, func(attempt int32) error {
			if attempt == 1 {
				return temporal.NewApplicationError("create foreign keys: connection reset", "Test")
			}
			return nil
		})
		rep, err := h.run(mustSpec(t, `name: test
phases:
  - {phase: copy, retry: {maxAttempts: 3, initialInterval: 1s}, fannedFinished: {limit: 2}}
`))
		require.NoError(t, err)
		require.Equal(t, []string{"run:copy", "run:copy", "finish:copy", "finish:copy"}, h.fake.Calls())
		require.Equal(t, 2, rep.Phases[0].Attempts)
		require.Contains(t, rep.Phases[0].Summary, "; 2 foreign keys carried")
	})
}
