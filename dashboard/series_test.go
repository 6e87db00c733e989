package dashboard

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/briefing"
	"github.com/godwit/godwit/gateway/api"
	"github.com/godwit/godwit/migration"
)

func TestSeriesIsBoundedPerRunAndAcrossRuns(t *testing.T) {
	s := newSeriesStore(3, 2)
	rep := waitingReport()
	var got []sample
	for i := range 5 {
		got = s.record(rep, nil, t0.Add(time.Duration(i)*time.Second))
	}
	require.Len(t, got, 3, "at most perRun points")
	assert.Equal(t, t0.Add(4*time.Second), got[2].At)
	assert.Equal(t, t0.Add(2*time.Second), got[0].At, "the oldest points go first")

	got = s.record(rep, nil, t0.Add(4*time.Second+100*time.Millisecond))
	assert.Len(t, got, 3, "a read within a second of the last adds no point")

	other := copyingReport()
	s.record(other, nil, t0.Add(10*time.Second))
	third := rolledBackReport()
	s.record(third, nil, t0.Add(11*time.Second))
	assert.Len(t, s.runs, 2, "at most maxRuns runs")
	assert.NotContains(t, s.runs, "orders", "the run looked at longest ago goes")

	again := copyingReport()
	again.StartTime = t0.Add(time.Hour)
	got = s.record(again, nil, t0.Add(2*time.Hour))
	assert.Len(t, got, 1, "a new run of the same name starts a new series")
}

func TestSampleFigures(t *testing.T) {
	rep := waitingReport()
	rep.Replication = &migration.ReplicationLag{Seconds: 1.5}
	rep.Phases[2].Outputs = map[string]string{"READ_WEIGHT": "25", "WRITE_WEIGHT": "0"}
	prev := sample{At: t0, records: 400}
	p := sampleOf(rep, nil, t0.Add(2*time.Second), &prev)
	assert.True(t, p.hasRate)
	assert.InDelta(t, 300, p.RowsPerSecond, 0.001, "records gained since the last point over the seconds between")
	assert.True(t, p.hasLag)
	assert.InDelta(t, 1.5, p.LagSeconds, 0.001)
	assert.True(t, p.hasWeights)
	assert.Equal(t, 25.0, p.ReadWeight)

	first := sampleOf(rep, nil, t0, nil)
	assert.False(t, first.hasRate, "one point gives no rate")
	assert.False(t, first.hasNew || first.hasLegacy, "no gateway read, no gateway figure")

	tr := &briefing.Traffic{Stats: api.RouteStats{New: api.SideStats{Requests: 200, ErrorRate: 0.025}}}
	gw := sampleOf(rep, tr, t0, nil)
	assert.True(t, gw.hasNew)
	assert.InDelta(t, 2.5, gw.NewErrors, 0.001, "the gateway's error rate on new, in percent")
	assert.False(t, gw.hasLegacy, "a side without requests has no rate to draw")

	rep.Phases[1].Outputs = map[string]string{"differences": "7"}
	assert.Equal(t, []finding{{Phase: "copy", Differences: 7}}, findings(rep))
}

func TestChartLabels(t *testing.T) {
	empty := timeChart("c", "Replication lag", "s", "no replicate phase has measured its lag.", nil,
		series{"lag", "s1", func(p sample) (float64, bool) { return p.LagSeconds, p.hasLag }})
	assert.Equal(t, "Replication lag: no samples yet. no replicate phase has measured its lag.", empty.Label)
	assert.Empty(t, empty.Lines)

	pts := []sample{{At: t0, LagSeconds: 2, hasLag: true}, {At: t0.Add(10 * time.Second), LagSeconds: 1, hasLag: true}}
	c := timeChart("c", "Replication lag", "s", "", pts,
		series{"lag", "s1", func(p sample) (float64, bool) { return p.LagSeconds, p.hasLag }})
	require.Len(t, c.Lines, 1)
	assert.Equal(t, "0.0,0.0 300.0,50.0", c.Lines[0].Points, "the highest point at the top, time across")
	assert.Contains(t, c.Label, "latest lag 1 s; highest 2 s.")
	assert.Empty(t, c.Note)

	// A run with no error at all: the axis needs a top, the label must
	// still say the highest error rate was 0, not the axis's 1.
	zeros := []sample{{At: t0}, {At: t0.Add(10 * time.Second)}}
	z := timeChart("c", "Error rate", "%", "", zeros,
		series{"errors", "s1", func(p sample) (float64, bool) { return p.ErrorRate, true }})
	assert.Contains(t, z.Label, "latest errors 0 %; highest 0 %.")
	assert.Equal(t, "0.0,100.0 300.0,100.0", z.Lines[0].Points, "zeros drawn at the bottom")
	// The visible caption too: "top 1 %" under a run without an error read
	// as a peak error rate of 1% to a reader of the page.
	assert.Equal(t, "0 %", z.YMax, "the caption says the highest figure, not the axis's 1")
	assert.Equal(t, "2 s", c.YMax)
	f := findingsChart([]finding{{Phase: "reconcile", Differences: 0}})
	assert.Equal(t, "0 rows", f.YMax, "no difference found reads 0, not the axis's 1")
}

// While the replication fails, the chart draws no lag at the last value
// measured: that would read as a replication keeping up.
func TestLagChartStopsWhileTheReplicationFails(t *testing.T) {
	rep := migration.NewPlannedReport("orders", "", []migration.PlannedPhase{
		{Name: "catch-up", Kind: migration.PhaseCopy, Driver: "replicate"},
		{Name: "reads", Kind: migration.PhaseShiftTraffic, Driver: "traffic"},
	}, t0)
	rep.Replication = &migration.ReplicationLag{Phase: "catch-up", Seconds: 0, Measured: t0.Add(time.Minute)}
	rep.Phases[0].State = migration.PhaseCompleted
	assert.True(t, sampleOf(rep, nil, t0.Add(90*time.Second), nil).hasLag)
	rep.NoteReplicationFailure(t0.Add(2*time.Minute), "catch-up", "slot gone")
	assert.False(t, sampleOf(rep, nil, t0.Add(3*time.Minute), nil).hasLag)
}

func TestLagChartStopsAtTheCutOver(t *testing.T) {
	rep := migration.NewPlannedReport("orders", "", []migration.PlannedPhase{
		{Name: "catch-up", Kind: migration.PhaseCopy, Driver: "replicate"},
		{Name: "switch", Kind: migration.PhaseShiftTraffic, Driver: "cutover"},
	}, t0)
	lag := 1.5
	rep.Replication = &migration.ReplicationLag{Phase: "catch-up", Seconds: lag, Measured: t0.Add(time.Minute)}
	rep.Series = []migration.Point{{At: t0.Add(time.Minute), LagSeconds: &lag}, {At: t0.Add(3 * time.Minute), LagSeconds: &lag}}
	rep.Phases[0].State = migration.PhaseCompleted
	assert.True(t, sampleOf(rep, nil, t0.Add(90*time.Second), nil).hasLag, "before the cut-over the lag is drawn")

	rep.Phases[1].State, rep.Phases[1].StartTime, rep.CurrentIndex = migration.PhaseRunning, t0.Add(2*time.Minute), 1
	assert.False(t, sampleOf(rep, nil, t0.Add(4*time.Minute), nil).hasLag,
		"after the cut-over the forward lag is history: no flat line at its last value")
	points := merged(rep, nil)
	require.Len(t, points, 2)
	assert.True(t, points[0].hasLag, "the point before the cut-over keeps its lag")
	assert.False(t, points[1].hasLag, "the point after it draws none")
}

// A copy paused twice: each pause adds a boundary point that repeats the
// records the workflow last learned, and the rows moved since arrive with
// the activity's end seconds later. The rate is spread over the stretch
// they were copied in, not drawn as a peak over the last few seconds (the
// trial's run showed 45,686 rows/s for a copy throttled to 500).
func TestCopyRateOfAPausedCopyIsNotAPeak(t *testing.T) {
	rep := migration.NewReport("orders", "", []migration.Phase{migration.PhaseCopy}, nil, t0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	rep.Series = []migration.Point{
		{At: at(0), Records: 0},
		{At: at(1), Records: 0},       // the copy starts
		{At: at(60), Records: 0},      // pause asked for: the workflow knows no rows yet
		{At: at(61), Records: 30000},  // the copy stopped at its checkpoint
		{At: at(62), Records: 30000},  // resume
		{At: at(120), Records: 30000}, // pause asked for again
		{At: at(121), Records: 60000}, // stopped again
	}
	points := merged(rep, nil)
	require.Len(t, points, 7)
	for i, p := range points {
		assert.LessOrEqual(t, p.RowsPerSecond, 600.0, "point %d at %s: %v rows/s", i, p.At.Sub(t0), p.RowsPerSecond)
	}
	assert.InDelta(t, 30000.0/61, points[3].RowsPerSecond, 0.01, "the first 30,000 rows over the 61s since the start")
	assert.InDelta(t, 30000.0/60, points[6].RowsPerSecond, 0.01, "the next 30,000 over the 60s since the first stop")
	assert.Zero(t, points[4].RowsPerSecond, "nothing gained between stop and resume")
}

// An ended run (completed, failed, rolled back) draws no lag at its end:
// its end point and the dashboard's point at the end repeated the last lag
// measured, a level line to the end read as a replication still behind.
func TestLagChartStopsAtTheRunsEnd(t *testing.T) {
	for _, status := range []migration.Status{migration.StatusCompleted, migration.StatusFailed, migration.StatusRolledBack} {
		t.Run(string(status), func(t *testing.T) {
			rep := migration.NewPlannedReport("orders", "", []migration.PlannedPhase{
				{Name: "catch-up", Kind: migration.PhaseCopy, Driver: "replicate"},
			}, t0)
			lag := 4.0
			rep.Replication = &migration.ReplicationLag{Phase: "catch-up", Seconds: lag, Measured: t0.Add(time.Minute)}
			rep.Series = []migration.Point{{At: t0.Add(time.Minute), LagSeconds: &lag}, {At: t0.Add(5 * time.Minute), LagSeconds: &lag}}
			rep.Phases[0].State = migration.PhaseRunning
			assert.True(t, sampleOf(rep, nil, t0.Add(2*time.Minute), nil).hasLag, "a running run's lag is drawn")

			rep.Status, rep.EndTime = status, t0.Add(5*time.Minute)
			assert.False(t, sampleOf(rep, nil, rep.EndTime, nil).hasLag, "no lag at the end")
			points := merged(rep, nil)
			require.Len(t, points, 2)
			assert.True(t, points[0].hasLag, "the lag measured while it ran stays drawn")
			assert.False(t, points[1].hasLag, "the end point draws none")
		})
	}
}
