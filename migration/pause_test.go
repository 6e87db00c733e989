package migration

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPausedAndWorkingTime(t *testing.T) {
	start := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return start.Add(time.Duration(m) * time.Minute) }
	tests := []struct {
		name            string
		pauses          []PauseSpan
		earlier         float64
		end             time.Time
		paused, working time.Duration
		text            string
	}{
		{name: "never paused", end: at(10), working: 10 * time.Minute, text: "10m0s"},
		{name: "a pause inside the phase", pauses: []PauseSpan{{at(2), at(32)}}, end: at(36),
			paused: 30 * time.Minute, working: 6 * time.Minute, text: "6m0s (paused 30m0s)"},
		{name: "a hold going on counts to end", pauses: []PauseSpan{{at(2), at(5)}, {at(8), time.Time{}}}, end: at(20),
			paused: 15 * time.Minute, working: 5 * time.Minute, text: "5m0s (paused 15m0s)"},
		{name: "a hold after the phase's end (stopped, then rolled back) is not its time",
			pauses: []PauseSpan{{at(4), at(40)}}, end: at(4), working: 4 * time.Minute, text: "4m0s"},
		{name: "holds dropped past the cap still count", earlier: 60, pauses: []PauseSpan{{at(1), at(2)}}, end: at(10),
			paused: 2 * time.Minute, working: 8 * time.Minute, text: "8m0s (paused 2m0s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := PhaseReport{StartTime: start, Pauses: tt.pauses, EarlierPausedSeconds: tt.earlier}
			require.Equal(t, tt.paused, p.PausedTime(tt.end))
			require.Equal(t, tt.working, p.WorkingTime(tt.end))
			require.Equal(t, tt.text, p.DurationText(tt.end))
		})
	}
}

// A copy held 30 minutes by a pause: its rate is over the time it worked.
func TestRateLeavesThePauseOut(t *testing.T) {
	start := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	p := PhaseReport{StartTime: start, EndTime: start.Add(40 * time.Minute), State: PhaseCompleted, Records: 6000,
		Pauses: []PauseSpan{{start.Add(5 * time.Minute), start.Add(35 * time.Minute)}}}
	require.InDelta(t, 10.0, p.Rate(start.Add(time.Hour)), 0.001, "6000 rows in 10 minutes of work")
}

func TestHoldsAreBounded(t *testing.T) {
	start := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	p := PhaseReport{StartTime: start}
	for k := range MaxPhasePauses + 5 {
		p.HoldStarted(start.Add(time.Duration(2*k+1) * time.Minute))
		p.HoldEnded(start.Add(time.Duration(2*k+2) * time.Minute))
	}
	require.Len(t, p.Pauses, MaxPhasePauses)
	require.Equal(t, 5*60.0, p.EarlierPausedSeconds)
	end := start.Add(time.Hour)
	require.Equal(t, time.Duration(MaxPhasePauses+5)*time.Minute, p.PausedTime(end), "every minute held still counts")
}

func TestPauseText(t *testing.T) {
	now := time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)
	r := &Report{Paused: true}
	require.Empty(t, r.PauseText(now), "a report from before who paused was kept says nothing")
	r.SetPause("ana", "waiting for DBA", now.Add(-20*time.Minute))
	require.Equal(t, "by ana since 2026-12-07 09:10:00 UTC (20m0s ago): waiting for DBA", r.PauseText(now))
	r.SetPause("bob", "still waiting", now)
	require.Equal(t, "by bob since 2026-12-07 09:10:00 UTC (20m0s ago): still waiting", r.PauseText(now), "a second pause keeps since when")
	r.ClearPause()
	r.SetPause("", strings.Repeat("x", 5000), now)
	require.LessOrEqual(t, len(r.PauseReason), MaxPauseReason)
	require.True(t, strings.HasPrefix(r.PauseText(now), "since 2026-12-07 09:30:00 UTC (0s ago): xxx"))
	r.Paused = false
	require.Empty(t, r.PauseText(now))
}
