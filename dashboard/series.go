package dashboard

import (
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/godwit/godwit/briefing"
	"github.com/godwit/godwit/drivers/reconcile"
	"github.com/godwit/godwit/migration"
)

// sample is one point of a run's charts, taken from a status report the
// dashboard read. A figure the report did not hold is NaN-free: has* say
// which ones are there.
type sample struct {
	At            time.Time
	RowsPerSecond float64
	hasRate       bool
	LagSeconds    float64
	hasLag        bool
	ReadWeight    float64
	WriteWeight   float64
	hasWeights    bool
	// ErrorRate is the share of the work (phases, units) that failed for
	// good, in percent; retried attempts that succeeded are not in it.
	ErrorRate float64
	// NewErrors and LegacyErrors are the gateway's error rates on each side
	// of the traffic phase's route over its stats window, in percent, for
	// a side that had requests in it.
	NewErrors, LegacyErrors float64
	hasNew, hasLegacy       bool
	// records is the run's records so far, to derive the next rate.
	records int64
}

// minSampleGap keeps refreshes of several viewers from crowding a series.
const minSampleGap = time.Second

// seriesStore keeps a bounded series per run, in this process's memory:
// the workflow never sees heartbeats, so the live points come from the
// reports the dashboard reads (see docs/dashboard.md).
type seriesStore struct {
	mu      sync.Mutex
	perRun  int
	maxRuns int
	runs    map[string]*runSeries
}

type runSeries struct {
	startTime time.Time // tells a new run of the same name apart
	points    []sample
	touched   time.Time
}

func newSeriesStore(perRun, maxRuns int) *seriesStore {
	return &seriesStore{perRun: perRun, maxRuns: maxRuns, runs: map[string]*runSeries{}}
}

// record adds a point from rep read at now, with the gateway's figures tr
// (nil when not read), and returns the run's series.
func (s *seriesStore) record(rep *migration.Report, tr *briefing.Traffic, now time.Time) []sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.runs[rep.Name]
	if rs == nil || !rs.startTime.Equal(rep.StartTime) {
		rs = &runSeries{startTime: rep.StartTime, touched: now}
		s.runs[rep.Name] = rs
		s.evict()
	}
	rs.touched = now
	if n := len(rs.points); n > 0 && now.Sub(rs.points[n-1].At) < minSampleGap {
		return append([]sample(nil), rs.points...)
	}
	// An ended run's figures no longer move: one point at its end is enough.
	if rep.Status.Final() && len(rs.points) > 0 && rs.points[len(rs.points)-1].At.Equal(rep.EndTime) {
		return append([]sample(nil), rs.points...)
	}
	at := now
	if rep.Status.Final() && !rep.EndTime.IsZero() {
		at = rep.EndTime
	}
	var prev *sample
	if n := len(rs.points); n > 0 {
		prev = &rs.points[n-1]
	}
	rs.points = append(rs.points, sampleOf(rep, tr, at, prev))
	if len(rs.points) > s.perRun {
		rs.points = rs.points[len(rs.points)-s.perRun:]
	}
	return append([]sample(nil), rs.points...)
}

// evict drops the runs looked at longest ago beyond maxRuns.
func (s *seriesStore) evict() {
	for len(s.runs) > s.maxRuns {
		var oldest string
		for name, rs := range s.runs {
			if oldest == "" || rs.touched.Before(s.runs[oldest].touched) {
				oldest = name
			}
		}
		delete(s.runs, oldest)
	}
}

// sampleOf reads a point's figures from rep and the gateway's tr. The rate
// is the running copy's per-table rates when its heartbeat has them, else
// the records gained since the previous point.
func sampleOf(rep *migration.Report, tr *briefing.Traffic, at time.Time, prev *sample) sample {
	p := sample{At: at, records: rep.Metrics.RecordsCopied, ErrorRate: 100 * rep.Metrics.ErrorRate}
	if cur, ok := currentPhase(rep); ok && cur.State == migration.PhaseRunning && len(cur.Tables) > 0 {
		for _, t := range cur.Tables {
			p.RowsPerSecond += t.RowsPerSecond
		}
		p.hasRate = true
	} else if prev != nil && at.After(prev.At) && !rep.Status.Final() {
		p.RowsPerSecond = max(0, float64(p.records-prev.records)/at.Sub(prev.At).Seconds())
		p.hasRate = true
	}
	if l := rep.Replication; l != nil {
		// After a cut-over the last forward lag is history, not a level;
		// while the replication fails it is no level either, nor once the
		// run has ended (nothing replicates for it any more).
		_, ended := rep.CutOverAfterLag()
		p.LagSeconds, p.hasLag = l.Duration().Seconds(), ended.IsZero() && rep.ReplicationFailing == nil && !rep.Status.Final()
	}
	if r, w, ok := rep.Weights(); ok {
		p.ReadWeight, p.WriteWeight, p.hasWeights = r, w, true
	}
	if tr != nil {
		if n := tr.Stats.New; n.Requests > 0 {
			p.NewErrors, p.hasNew = 100*n.ErrorRate, true
		}
		if l := tr.Stats.Legacy; l.Requests > 0 {
			p.LegacyErrors, p.hasLegacy = 100*l.ErrorRate, true
		}
	}
	return p
}

// merged is the run's chart points: those the workflow kept at its
// boundaries (rep.Series, which outlive this process) and the live ones
// this process read (live), in time order.
func merged(rep *migration.Report, live []sample) []sample {
	out := make([]sample, 0, len(rep.Series)+len(live))
	_, lagEnded := rep.CutOverAfterLag()
	for i, p := range rep.Series {
		s := sample{At: p.At, records: p.Records, ErrorRate: 100 * p.ErrorRate}
		// The rate between two boundaries is the records gained over the
		// time between: an average over the phase, not a peak.
		if prev := gainedSince(rep.Series, i); i > 0 && p.Records > 0 && p.At.After(prev.At) {
			s.RowsPerSecond, s.hasRate = max(0, float64(p.Records-prev.Records)/p.At.Sub(prev.At).Seconds()), true
		}
		if p.LagSeconds != nil && (lagEnded.IsZero() || p.At.Before(lagEnded)) && !runEnded(rep, p.At) {
			s.LagSeconds, s.hasLag = *p.LagSeconds, true
		}
		if p.ReadWeight != nil && p.WriteWeight != nil {
			s.ReadWeight, s.WriteWeight, s.hasWeights = *p.ReadWeight, *p.WriteWeight, true
		}
		out = append(out, s)
	}
	out = append(out, live...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// runEnded says rep is a run that had ended at at: its end point repeats
// the last lag measured, which is no lag of a replication still running.
func runEnded(rep *migration.Report, at time.Time) bool {
	return rep.Status.Final() && !rep.EndTime.IsZero() && !at.Before(rep.EndTime)
}

// gainedSince returns the point the records of series[i] were gained
// since (itself for the first). A boundary inside a running phase (a pause asked for, a
// throttle, a step) repeats the records the workflow last learned, when an
// activity ended: the rows a copy moved since then arrive all at once at
// the next activity's end. So a gain is spread back to the first point of
// the stretch that repeats the previous figure, not over the last gap
// only, which drew a paused copy of 500 rows/s as a 45,000 rows/s peak.
func gainedSince(series []migration.Point, i int) migration.Point {
	if i == 0 {
		return series[0]
	}
	j := i - 1
	if series[i].Records <= series[j].Records {
		return series[j]
	}
	for j > 0 && series[j-1].Records == series[j].Records {
		j--
	}
	return series[j]
}

// finding is one reconcile phase's count of differing rows.
type finding struct {
	Phase       string
	Differences float64
}

// findings lists the reconcile phases that reported their differences.
func findings(rep *migration.Report) []finding {
	var out []finding
	for _, p := range rep.Phases {
		if v, err := strconv.ParseFloat(p.Outputs[reconcile.OutputDifferences], 64); err == nil {
			out = append(out, finding{Phase: p.Phase, Differences: v})
		}
	}
	return out
}

func currentPhase(rep *migration.Report) (migration.PhaseReport, bool) {
	if rep.CurrentIndex < 0 || rep.CurrentIndex >= len(rep.Phases) {
		return migration.PhaseReport{}, false
	}
	return rep.Phases[rep.CurrentIndex], true
}
