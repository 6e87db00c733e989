package migration

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAddPointTakesTheReportsFigures(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	r := NewPlannedReport("orders", "", []PlannedPhase{{Name: "copy", Kind: PhaseCopy}, {Name: "shift", Kind: PhaseShiftTraffic}}, t0)
	r.Metrics.RecordsCopied, r.Metrics.ErrorRate = 1200, 0.5
	r.AddPoint(t0, nil)
	require.Len(t, r.Series, 1)
	assert.Equal(t, Point{At: t0, Records: 1200, ErrorRate: 0.5}, r.Series[0], "no lag, no weights yet")

	r.Replication = &ReplicationLag{Seconds: 2.5}
	r.Phases[0].Outputs = map[string]string{OutputReadWeight: "10", OutputWriteWeight: "0"}
	r.AddPoint(t0.Add(time.Second), nil)
	p := r.Series[1]
	require.NotNil(t, p.LagSeconds)
	assert.Equal(t, 2.5, *p.LagSeconds)
	require.NotNil(t, p.ReadWeight)
	assert.Equal(t, 10.0, *p.ReadWeight, "a phase's weights")

	r.AddPoint(t0.Add(time.Second), map[string]string{OutputReadWeight: "50", OutputWriteWeight: "25"})
	require.Len(t, r.Series, 2, "a point at the last one's time replaces it")
	assert.Equal(t, 50.0, *r.Series[1].ReadWeight, "the running steps' weights are newer than a phase's")
	assert.Equal(t, 25.0, *r.Series[1].WriteWeight)
}

func TestSeriesIsBoundedAndKeepsItsSpan(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	r := NewPlannedReport("orders", "", []PlannedPhase{{Name: "copy", Kind: PhaseCopy}}, t0)
	for i := range 1000 {
		r.Metrics.RecordsCopied = int64(i)
		r.AddPoint(t0.Add(time.Duration(i)*time.Second), nil)
		require.LessOrEqual(t, len(r.Series), MaxSeries, "after %d points", i+1)
	}
	assert.Equal(t, t0, r.Series[0].At, "the first point stays: the series spans the whole run")
	assert.Equal(t, t0.Add(999*time.Second), r.Series[len(r.Series)-1].At, "the last point is the latest")
	for i := 1; i < len(r.Series); i++ {
		require.True(t, r.Series[i].At.After(r.Series[i-1].At), "in time order at %d", i)
	}
	assert.Greater(t, len(r.Series), MaxSeries/2, "thinning keeps most of the budget")
}
