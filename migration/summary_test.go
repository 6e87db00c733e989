package migration

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestSummary(t *testing.T) {
	now := time.Date(2026, 12, 6, 15, 0, 0, 0, time.UTC)
	plan := []PlannedPhase{{Name: "copy", Kind: PhaseCopy}, {Name: "shift", Kind: PhaseShiftTraffic, Gate: "go-live", Steps: 3}}
	for _, tc := range []struct {
		name  string
		setup func(r *Report)
		phase string
		want  Summary
	}{
		{
			name:  "before the first phase",
			setup: func(*Report) {},
			phase: "0 of 2: not started",
			want:  Summary{Status: StatusInProgress, PhaseIndex: -1, PhaseCount: 2, UpdatedAt: now},
		},
		{
			name: "a step of a running phase",
			setup: func(r *Report) {
				r.CurrentIndex = 1
				r.Phases[0].State, r.Phases[1].State, r.Phases[1].Step = PhaseCompleted, PhaseRunning, "2 of 3: 50%"
			},
			phase: "2 of 2: shift, step 2 of 3: 50%",
			want: Summary{Status: StatusInProgress, Phase: "shift", PhaseIndex: 1, PhaseCount: 2, PhaseState: PhaseRunning,
				Step: "2 of 3: 50%", Progress: 75, UpdatedAt: now}, // the copy done: RowsShare
		},
		{
			name: "a failed phase's error on one line, cut",
			setup: func(r *Report) {
				r.CurrentIndex = 0
				r.Phases[0].State, r.Phases[0].Error = PhaseFailed, "rows lost:\n\tusers 3\n"+strings.Repeat("x", 400)
			},
			phase: "1 of 2: copy",
			want: Summary{Status: StatusInProgress, Phase: "copy", PhaseIndex: 0, PhaseCount: 2, PhaseState: PhaseFailed,
				Error: "rows lost: users 3 " + strings.Repeat("x", maxSummaryError-20) + "…", UpdatedAt: now},
		},
		{
			name:  "rolled back",
			setup: func(r *Report) { r.Status, r.Error = StatusRolledBack, "phase copy failed: boom" },
			phase: "none: rolled back",
			want: Summary{Status: StatusRolledBack, PhaseIndex: -1, PhaseCount: 2, Error: "phase copy failed: boom",
				UpdatedAt: now},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewPlannedReport("orders", "", plan, now)
			tc.setup(r)
			r.Refresh(now)
			got := r.Summary(now)
			tc.want.Risk = r.Risk // the report decides the risk
			assert.Equal(t, tc.want, got)
			assert.Equal(t, r.CurrentPhase, got.PhaseText(), "the summary names the phase as the report does")
			assert.Equal(t, tc.phase, got.PhaseText())
		})
	}
}

func TestSummaryBoundaryIgnoresStepsProgressAndTime(t *testing.T) {
	a := Summary{Status: StatusInProgress, Phase: "copy", PhaseIndex: 0, PhaseState: PhaseRunning, Step: "1 of 9: a", Progress: 10, UpdatedAt: time.Unix(1, 0)}
	b := a
	b.Step, b.Progress, b.UpdatedAt = "7 of 9: g", 70, time.Unix(99, 0)
	assert.Equal(t, a.Boundary(), b.Boundary(), "a step, progress or time is no boundary")
	b.PhaseState = PhaseCompleted
	assert.NotEqual(t, a.Boundary(), b.Boundary(), "a phase that ends is")
	c := a
	c.Gate = "go-live"
	assert.NotEqual(t, a.Boundary(), c.Boundary(), "a gate that waits is")
}
