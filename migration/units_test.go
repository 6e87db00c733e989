package migration

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fannedOut is a run whose copy phase has 8 units: doneUnits done
// (100,000 rows each, failedDone failed attempts among them), the units
// named in running running, the rest not started.
func fannedOut(start time.Time, doneUnits, failedDone int, running ...string) *Report {
	r := NewPlannedReport("m", "", []PlannedPhase{{Name: "provision", Kind: PhaseProvision, Driver: "provision"},
		{Name: "copy", Kind: PhaseCopy, Driver: "copy"}}, start)
	r.CurrentIndex = 1
	r.Phases[0].State, r.Phases[0].Attempts, r.Phases[0].Records = PhaseCompleted, 1, 2
	p := &r.Phases[1]
	p.State, p.StartTime = PhaseRunning, start
	p.Units, p.UnitsDone, p.RunningUnits, p.FailedAttempts = 8, doneUnits, running, failedDone
	p.Records = int64(doneUnits) * 100_000
	p.Progress = 100 * float64(doneUnits) / 8 // the workflow's: units ended
	r.Refresh(start)
	return r
}

func unit(name string, attempt int, percent float64, rows int64, table string, total int64) UnitLive {
	return UnitLive{Unit: name, Live: Live{Attempt: attempt, Percent: percent, Records: rows,
		Detail: table + ": some rows\nsecond line",
		Tables: []TableProgress{{Table: table, RowsDone: rows, Total: total, RowsPerSecond: 1000}}}}
}

func TestMergeLiveSumsTheUnitsOfAFannedOutPhase(t *testing.T) {
	start := time.Unix(0, 0)
	// 5 units done (one after a retry), u5 and u6 running (u5 on its
	// second attempt after a worker was killed), u7 not started; u4's
	// heartbeat is still in the description though it has finished since
	// (the report counts it done), and u7 has none.
	r := fannedOut(start, 5, 1, "u5", "u6")
	u5 := unit("u5", 2, 40, 20_000, "orders [1, 50001)", 50_000)
	u5.LastFailure = "activity Heartbeat timeout"
	live := Live{Units: []UnitLive{
		unit("u4", 1, 90, 90_000, "customers", 100_000),
		u5,
		unit("u6", 1, 50, 25_000, "orders [50001, )", 50_000),
	}}
	r.MergeLive(live, start.Add(time.Minute))
	p := r.Phases[1]
	// By rows: 500,000 done and 45,000 running, over the 600,000 rows of
	// the 7 units seen and, for u7, their mean.
	assert.InDelta(t, 100*545_000/(600_000*8.0/7), p.Progress, 1e-9, "rows of the units done and running, over all 8 units' rows")
	assert.Equal(t, int64(500_000+45_000), p.Records, "rows of the units done plus the running ones', not u4's twice")
	assert.Equal(t, int64(500_000+45_000), r.Metrics.RecordsCopied, "provision's tables are not copied rows")
	assert.Equal(t, []TableProgress{{Table: "orders", RowsDone: 45_000, Total: 100_000, RowsPerSecond: 2000, ETASeconds: 27.5}}, p.Tables,
		"the key ranges of one table add up")
	assert.Equal(t, "orders [1, 50001): some rows\norders [50001, ): some rows", p.Detail)
	assert.Equal(t, 2, p.FailedAttempts, "the done unit's failed attempt and the running one's, as it happens")
	assert.Equal(t, "unit u5: attempt 1 failed, retrying: activity Heartbeat timeout", p.Error)
	assert.Equal(t, 1+5+2+2, r.Metrics.Attempts, "provision's, the units done, the running ones and the failed ones")
	assert.Equal(t, 2, r.Metrics.FailedAttempts)
	assert.Zero(t, r.Metrics.ErrorRate, "no work failed for good")
	assert.Equal(t, RiskMedium, r.Risk, "a unit runs on a retry")
	first := r.OverallProgress

	// Later: u5 finished on its second attempt, u6 goes on.
	r = fannedOut(start, 6, 2, "u6")
	r.MergeLive(Live{Units: []UnitLive{unit("u6", 1, 60, 30_000, "orders [50001, )", 50_000)}}, start.Add(2*time.Minute))
	p = r.Phases[1]
	assert.InDelta(t, 100*630_000/(650_000*8.0/7), p.Progress, 1e-9)
	assert.GreaterOrEqual(t, r.OverallProgress, first, "progress never goes back")
	assert.Equal(t, int64(630_000), r.Metrics.RecordsCopied)
	assert.Equal(t, 2, r.Metrics.FailedAttempts, "failed attempts stay counted")
	assert.Zero(t, r.Metrics.ErrorRate)
	assert.Equal(t, RiskLow, r.Risk, "a worker crash the retry survived is no risk")
	assert.Empty(t, p.Error)
}

// A fanned-out copy's progress is by rows: a small table done beside
// three large key ranges barely started is not a quarter of the copy, and
// one large range done beside three 90% through is not a quarter either.
func TestMergeLiveCountsAFannedOutCopyByRows(t *testing.T) {
	start := time.Unix(0, 0)
	r := fannedOut(start, 1, 0, "u1", "u2", "u3")
	p := &r.Phases[1]
	p.Units, p.Records, p.Progress = 4, 1_000, 25
	r.MergeLive(Live{Units: []UnitLive{
		unit("u1", 1, 10, 100_000, "orders [1, 1000001)", 1_000_000),
		unit("u2", 1, 10, 100_000, "orders [1000001, 2000001)", 1_000_000),
		unit("u3", 1, 10, 100_000, "orders [2000001, )", 1_000_000),
	}}, start.Add(time.Minute))
	assert.InDelta(t, 100*301_000/3_001_000.0, r.Phases[1].Progress, 1e-9, "rows, not units: about 10%%, not 32.5%%")

	r = fannedOut(start, 1, 0, "u1", "u2", "u3")
	p = &r.Phases[1]
	p.Units, p.Records, p.Progress = 4, 250_000, 25
	r.MergeLive(Live{Units: []UnitLive{
		unit("u1", 1, 90, 225_000, "orders [250001, 500001)", 250_000),
		unit("u2", 1, 90, 225_000, "orders [500001, 750001)", 250_000),
		unit("u3", 1, 90, 225_000, "orders [750001, )", 250_000),
	}}, start.Add(time.Minute))
	assert.InDelta(t, 92.5, r.Phases[1].Progress, 1e-9, "1 of 4 done and 3 at 90%% is 92.5%%, not 25%%")

	// A hook's units say no rows: progress counts units and their shares.
	r = fannedOut(start, 1, 0, "u1")
	p = &r.Phases[1]
	p.Units, p.Records, p.Progress = 4, 0, 25
	r.MergeLive(Live{Units: []UnitLive{{Unit: "u1", Live: Live{Attempt: 1, Percent: 50}}}}, start.Add(time.Minute))
	assert.InDelta(t, 100*1.5/4, r.Phases[1].Progress, 1e-9)
}

func TestMergeLiveNeverShowsAFannedOutPhaseDoneBeforeItIs(t *testing.T) {
	r := fannedOut(time.Unix(0, 0), 7, 0, "u7")
	r.MergeLive(Live{Units: []UnitLive{unit("u7", 1, 100, 100_000, "t", 100_000)}}, time.Unix(60, 0))
	require.Less(t, r.Phases[1].Progress, 100.0)
}

func TestAFailedUnitIsFailedWork(t *testing.T) {
	r := fannedOut(time.Unix(0, 0), 3, 2)
	r.Phases[1].State = PhaseFailed
	r.Refresh(time.Unix(60, 0))
	assert.InDelta(t, 1.0/9, r.Metrics.ErrorRate, 1e-9, "1 unit of 8 and the provision phase ran, 1 failed for good")
	assert.Equal(t, 1+3+2, r.Metrics.Attempts)
}

func TestPhaseRateIsOverTheWholePhase(t *testing.T) {
	start := time.Unix(0, 0)
	p := PhaseReport{Records: 600_000, StartTime: start, EndTime: start.Add(time.Minute)}
	assert.Equal(t, 10_000.0, p.Rate(start.Add(time.Hour)), "to its end once ended")
	p.EndTime, p.State = time.Time{}, PhaseRunning
	assert.Equal(t, 5_000.0, p.Rate(start.Add(2*time.Minute)), "to now while it runs")
	p.State = PhaseCancelled
	assert.Zero(t, p.Rate(start.Add(2*time.Minute)), "not to now once stopped without an end recorded")
	assert.Zero(t, PhaseReport{}.Rate(start))
}

func TestErrorRateKeepsAFailedPhaseItsRollbackUndid(t *testing.T) {
	start := time.Unix(0, 0)
	r := NewReport("m", "", []Phase{PhaseValidate, PhaseCopy, PhaseShiftTraffic}, nil, start)
	for i := range r.Phases {
		r.Phases[i].State, r.Phases[i].Attempts = PhaseCompleted, 1
	}
	// The analysis saw an error rate of 1.0: the traffic phase fails and
	// the run rolls back, the way the workflow records it.
	msg := "analysis failed: error rate 1.00 > 0.05"
	traffic := &r.Phases[2]
	traffic.State, traffic.Error = PhaseFailed, msg
	r.Error = FailedReason(traffic.Phase, msg)
	r.Refresh(start.Add(time.Minute))
	require.InDelta(t, 1.0/3, r.Metrics.ErrorRate, 1e-9, "the failed phase, before the rollback")

	r.Status, r.CurrentIndex = StatusRollingBack, 2
	traffic.State, traffic.Error = PhaseCompensating, ""
	r.Refresh(start.Add(2 * time.Minute))
	require.InDelta(t, 1.0/3, r.Metrics.ErrorRate, 1e-9, "while its compensation runs")

	traffic.State = PhaseCompensated
	r.Phases[1].State = PhaseCompensated // completed, then undone: no failed work
	r.Status, r.CurrentIndex = StatusRolledBack, -1
	r.Refresh(start.Add(3 * time.Minute))
	require.InDelta(t, 1.0/3, r.Metrics.ErrorRate, 1e-9, "after the rollback undid it")
}

// The running units' shares add up to the same progress, to the last bit,
// whatever order Temporal lists them in (it changes after a worker is
// killed): a float sum in another order can differ in its last bit, and a
// status read twice must not see progress go back.
func TestMergeLiveSumsUnitsInOneOrder(t *testing.T) {
	start := time.Unix(0, 0)
	a, b, c := unit("u1", 1, 10, 1, "t", 10), unit("u2", 1, 20, 2, "t", 10), unit("u3", 1, 30, 3, "t", 10)
	var got []float64
	for _, order := range [][]UnitLive{{a, b, c}, {c, b, a}, {b, c, a}} {
		r := fannedOut(start, 0, 0, "u1", "u2", "u3")
		r.Phases[1].Progress = 0
		r.MergeLive(Live{Units: order}, start.Add(time.Minute))
		got = append(got, r.Phases[1].Progress)
	}
	require.Equal(t, got[0], got[1])
	require.Equal(t, got[0], got[2])
}

// A windowed fan-out: the workflow counts a window's units when the window
// ends; the status adds what the running window has done so far and the
// units it runs now, whose live progress then counts too.
func TestMergeWindowAddsTheRunningWindowsUnits(t *testing.T) {
	start := time.Unix(0, 0)
	r := fannedOut(start, 2, 0) // two units done in windows that ended
	r.Phases[1].Step = "2 of 8 units done, 2 running"
	r.MergeWindow(1, 100_000, 1, []string{"u4"})
	r.MergeLive(Live{Units: []UnitLive{unit("u4", 2, 50, 50_000, "t", 100_000)}}, start.Add(time.Minute))
	p := r.Phases[1]
	assert.Equal(t, 3, p.UnitsDone)
	assert.InDelta(t, 100*(3+0.5)/8, p.Progress, 1e-9)
	assert.Equal(t, int64(200_000+100_000+50_000), p.Records)
	assert.Equal(t, 1+1, p.FailedAttempts, "the window's done unit's retry and the running unit's")
	assert.Equal(t, "3 of 8 units done, 1 running", p.Step)
	assert.Equal(t, []string{"u4"}, p.RunningUnits)

	// With the rows planned, a window's units count by rows even while
	// none of its units runs (between two units, no live heartbeat).
	r = fannedOut(start, 2, 0)
	r.Phases[1].Step = "2 of 8 units done, 0 running"
	r.Phases[1].RowsTotal, r.Phases[1].TablesTotal = 1_000_000, 1
	r.MergeWindow(1, 100_000, 0, nil)
	assert.InDelta(t, 30, r.Phases[1].Progress, 1e-9, "300,000 of 1,000,000 rows")
	r.MergeLive(Live{}, start.Add(time.Minute))
	assert.Equal(t, "all rows: 300,000 / about 1,000,000 rows, 0 rows/s", r.Phases[1].Detail, "one table's key ranges")
}

// A phase a pause (or a new throttle) started again as a new activity
// keeps the failed attempts of the one it stopped.
func TestEarlierAttemptsCountAsFailedAttempts(t *testing.T) {
	p := PhaseReport{State: PhaseCompleted, Attempts: 1, EarlierAttempts: 1}
	attempts, failed := p.AttemptCounts()
	assert.Equal(t, [2]int{2, 1}, [2]int{attempts, failed})
	p.State, p.Attempts = PhaseFailed, 3
	attempts, failed = p.AttemptCounts()
	assert.Equal(t, [2]int{4, 4}, [2]int{attempts, failed})
}

// One unit left out of the detail is "1 more unit running".
func TestMergeLiveCountsOneHiddenUnitInTheSingular(t *testing.T) {
	start := time.Unix(0, 0)
	names := []string{"u0", "u1", "u2", "u3", "u4", "u5", "u6"}
	r := fannedOut(start, 1, 0, names...)
	var live Live
	for _, n := range names {
		live.Units = append(live.Units, unit(n, 1, 10, 1_000, "t_"+n, 100_000))
	}
	r.MergeLive(live, start.Add(time.Minute))
	assert.Contains(t, r.Phases[1].Detail, "\n… and 1 more unit running")
}

// A fan-out's progress reads as it is after the phase, not as a step
// ("step 3 of 8 units done" in a 300-table trial's status).
func TestAFanOutsProgressIsNotCalledAStep(t *testing.T) {
	start := time.Unix(0, 0)
	r := fannedOut(start, 3, 0, "u3")
	r.Phases[1].Step = "3 of 8 units done, 1 running"
	r.Refresh(start)
	assert.Equal(t, "2 of 2: copy, 3 of 8 units done, 1 running", r.CurrentPhase)
	r.Phases[1].Units, r.Phases[1].Step = 0, "2 of 5"
	r.Refresh(start)
	assert.Equal(t, "2 of 2: copy, step 2 of 5", r.CurrentPhase, "a phase run as steps keeps its word")
}

// TestMergeLiveReadsAFannedOutCopyAsRowsOfItsPlannedTotal: with the rows
// its units hold estimated when they were planned (RowsTotal), a fanned-
// out copy reads as a copy in one activity does: rows copied of that
// total, a line heading its detail with the running units' rate and an
// ETA, also while no running unit has heartbeated yet (the mean of the
// units seen would have nothing to go on) and when small tables are done
// beside large key ranges (which the mean would read wrong).
func TestMergeLiveReadsAFannedOutCopyAsRowsOfItsPlannedTotal(t *testing.T) {
	start := time.Unix(0, 0)
	r := fannedOut(start, 2, 0, "u3", "u4")
	p := &r.Phases[1]
	p.Units, p.Records, p.Progress = 7, 200_000, 100*2/7.0
	p.RowsTotal, p.TablesTotal = 408_200, 4
	r.MergeLive(Live{Units: []UnitLive{
		unit("u3", 1, 20, 20_000, "big [200001, 300001)", 100_000),
		unit("u4", 1, 10, 10_000, "big [300001, )", 100_000),
	}}, start.Add(time.Minute))
	p = &r.Phases[1]
	assert.InDelta(t, 100*230_000/408_200.0, p.Progress, 1e-9, "rows of the planned total, not units")
	assert.Equal(t, "all 4 tables: 230,000 / about 408,200 rows, 2,000 rows/s, ETA 1m29s\nbig [200001, 300001): some rows\nbig [300001, ): some rows", p.Detail)

	// No running unit has heartbeated yet: still rows of the total.
	r = fannedOut(start, 2, 0, "u3", "u4")
	p = &r.Phases[1]
	p.Units, p.Records, p.Progress = 7, 200_000, 100*2/7.0
	p.RowsTotal, p.TablesTotal = 408_200, 4
	r.MergeLive(Live{}, start.Add(time.Minute))
	assert.InDelta(t, 100*200_000/408_200.0, r.Phases[1].Progress, 1e-9)
	assert.Equal(t, "all 4 tables: 200,000 / about 408,200 rows, 0 rows/s", r.Phases[1].Detail)

	// More rows than estimated: never 100% before the phase completes.
	r = fannedOut(start, 2, 0, "u3")
	p = &r.Phases[1]
	p.Units, p.Records, p.RowsTotal, p.TablesTotal = 7, 500_000, 408_200, 4
	r.MergeLive(Live{}, start.Add(time.Minute))
	assert.Equal(t, 99.9, r.Phases[1].Progress)
	assert.Equal(t, "all 4 tables: 500,000 / about 500,000 rows, 0 rows/s", r.Phases[1].Detail)
}

// Between two units (one done, the next not yet reporting), no unit has
// live progress: the phase's rows of its planned total still head its
// detail, as they do while units report. Before, the status showed no
// detail at such moments (a status test read it empty under load).
func TestAFannedOutCopyBetweenUnitsStillShowsItsRows(t *testing.T) {
	start := time.Unix(0, 0)
	r := fannedOut(start, 1, 0)
	p := &r.Phases[1]
	p.Units, p.UnitsDone, p.Records, p.RowsTotal, p.TablesTotal = 8, 3, 30_000, 76_000, 2
	r.MergeIdleUnits()
	head, _, _ := strings.Cut(r.Phases[1].Detail, "\n")
	assert.Equal(t, "all 2 tables: 30,000 / about 76,000 rows, 0 rows/s", head)
	assert.InDelta(t, 100*30_000/76_000.0, r.Phases[1].Progress, 1e-9)

	// A phase not fanned out is left as it is.
	r = fannedOut(start, 1, 0)
	r.Phases[1].Units, r.Phases[1].Detail = 0, "orders: 5 / 10 rows"
	r.MergeIdleUnits()
	assert.Equal(t, "orders: 5 / 10 rows", r.Phases[1].Detail)
}
