package workflows

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/migration"
)

// TestAFanOutsProgressIsRowsOfItsPlannedTotal: a fan-out whose planning
// estimated its rows (unitRowsV1) keeps the total in the report and
// counts its progress as rows copied of it, not units done: 2 units of
// 10 rows done of 100 rows planned is 20%, not two thirds.
func TestAFanOutsProgressIsRowsOfItsPlannedTotal(t *testing.T) {
	h := newHarness(t)
	h.env.RegisterActivityWithOptions(func(ctx context.Context, in activities.PhaseInput) (activities.UnitsPlan, error) {
		return activities.UnitsPlan{Units: []string{"a", "b", "c"}, Rows: 100, Tables: 3}, nil
	}, activity.RegisterOptions{Name: activities.PlanSizedUnitsName})
	var during migration.PhaseReport
	h.fake.behave = func(ctx context.Context, call string, _ int32) error {
		if len(h.fake.Calls()) == 3 { // the third unit, the first two done
			during = h.query().Phases[0]
		}
		return nil
	}
	rep, err := h.run(mustSpec(t, `name: test
phases:
  - {phase: copy, fanned: {limit: 1}}
`))
	require.NoError(t, err)
	require.Equal(t, "2 of 3 units done, 1 running", during.Step)
	require.Equal(t, int64(20), during.Records)
	require.InDelta(t, 20, during.Progress, 1e-9, "rows of the planned total")
	require.Equal(t, int64(100), during.RowsTotal)
	p := rep.Phases[0]
	require.Equal(t, migration.PhaseCompleted, p.State)
	require.Equal(t, 100.0, p.Progress)
	require.Equal(t, int64(100), p.RowsTotal)
	require.Equal(t, 3, p.TablesTotal)
}
