package migration

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// attempts returns the attempts the phase made so far (running ones
// included) and how many of them failed, retried or not. A fanned-out
// phase counts its units' attempts: each unit done took one good attempt,
// each running one is one, and the failed ones are counted as they fail.
func (p PhaseReport) attempts() (attempts, failed int) {
	if p.Units > 0 {
		return p.UnitsDone + len(p.RunningUnits) + p.FailedAttempts, p.FailedAttempts
	}
	all := p.Attempts + p.EarlierAttempts
	switch {
	case p.State == PhaseFailed:
		return all, all
	case p.Attempts > 1:
		return all, all - 1
	}
	return all, p.EarlierAttempts
}

// work returns the pieces of work the phase stands for once it has run
// (itself, or its units when fanned out) and how many failed for good: a
// worker killed under a unit that its retry then finished is no failed
// work.
func (p PhaseReport) work() (work, failed int) {
	if p.Attempts == 0 && p.UnitsDone == 0 && len(p.RunningUnits) == 0 && p.FailedAttempts == 0 {
		return 0, 0
	}
	if p.State == PhaseFailed {
		failed = 1
	}
	return max(p.Units, 1), failed
}

// FailedReason is the run's stop reason when phase failed with msg: the
// report's Error from then on, which keeps the failure once a rollback has
// compensated the phase and cleared its own error.
func FailedReason(phase, msg string) string {
	return fmt.Sprintf("phase %s failed: %s", phase, msg)
}

// failedThenUndone says the run stopped because phase p failed and the
// rollback has since compensated it (or is at it): its work failed all the
// same, though its state no longer says FAILED.
func (r *Report) failedThenUndone(p PhaseReport) bool {
	switch p.State {
	case PhaseCompensating, PhaseCompensated, PhaseCompFailed, PhaseUndoneByHand:
		return strings.HasPrefix(r.Error, FailedReason(p.Phase, ""))
	}
	return false
}

// Rate is the phase's records per second over its whole run, every
// attempt and unit included (to now while it runs), the time a pause held
// it left out; 0 when it has no records or has not started.
func (p PhaseReport) Rate(now time.Time) float64 {
	end, ok := p.End(now)
	if p.Records <= 0 || !ok {
		return 0
	}
	secs := p.WorkingTime(end).Seconds()
	if secs <= 0 {
		return 0
	}
	return float64(p.Records) / secs
}

// End is where the phase's duration ends: its EndTime, or now (what a
// running or paused phase's duration runs to: Report.PhaseEnd); false when it has not started, or stopped without
// an end recorded (a phase a pause stopped and a rollback ended, in runs
// from before the workflow recorded one): counted on to now, its duration
// and rate would read as if it still moved.
func (p PhaseReport) End(now time.Time) (time.Time, bool) {
	switch {
	case p.StartTime.IsZero():
		return time.Time{}, false
	case !p.EndTime.IsZero():
		return p.EndTime, true
	case p.State == PhaseRunning || p.State == PhasePaused:
		return now, true
	}
	return time.Time{}, false
}

// unitDetailLines bounds the per-unit lines of a fanned-out phase's detail.
const unitDetailLines = 6

// mergeUnits adds the running units' heartbeats to a fanned-out phase:
// the rows of the units done (Records, from the workflow) plus each
// running unit's; progress is the units done plus each running unit's
// share, over all units; per-table counts are summed across the units
// (key ranges of one table add up); the failed attempts of running units
// count as they happen. A heartbeat of a unit the report no longer lists
// as running is ignored: it has finished since and is counted already.
func (p *PhaseReport) mergeUnits(units []UnitLive) {
	running := map[string]bool{}
	for _, u := range p.RunningUnits {
		running[u] = true
	}
	var (
		fractions []float64
		records   int64
		tables    []TableProgress
		lines     []string
		hidden    int
		// totals: the rows each running unit copies, by its heartbeat's
		// tables; rowsKnown while every running unit says them.
		totals    int64
		rowsKnown = true
	)
	for _, u := range units {
		if u.Attempt > 1 && (u.Unit == "" || running[u.Unit]) {
			p.FailedAttempts += u.Attempt - 1
			p.Attempts = max(p.Attempts, u.Attempt)
			if u.LastFailure != "" && p.Error == "" {
				name := u.Unit
				if name == "" {
					name = "(starting)"
				}
				p.Error = fmt.Sprintf("unit %s: attempt %d failed, retrying: %s", name, u.Attempt-1, u.LastFailure)
			}
		}
		if u.Unit == "" || !running[u.Unit] {
			continue
		}
		delete(running, u.Unit) // a unit counts once
		fractions = append(fractions, min(max(u.Percent, 0), 100)/100)
		records += u.Records
		tables = append(tables, u.Tables...)
		total := int64(0)
		for _, t := range u.Tables {
			total += t.Total
		}
		totals += total
		rowsKnown = rowsKnown && total > 0
		if d, _, _ := strings.Cut(u.Detail, "\n"); d != "" {
			if len(lines) < unitDetailLines {
				lines = append(lines, d)
			} else {
				hidden++
			}
		}
	}
	if p.Units > 0 {
		// Summed in one order whatever order Temporal lists the running
		// activities in (it changes after a kill): a float sum in another
		// order can differ in its last bit, and progress must not go back.
		slices.Sort(fractions)
		partial := 0.0
		for _, f := range fractions {
			partial += f
		}
		if p.RowsTotal > 0 {
			p.Progress = p.RowsProgress(p.Records + records)
		} else if share, ok := p.rowShare(len(fractions), records, totals, rowsKnown); ok {
			p.Progress = min(share, 99.9)
		} else {
			p.Progress = min(max(p.Progress, 100*(float64(p.UnitsDone)+partial)/float64(p.Units)), 99.9)
		}
	}
	p.Records += records
	p.Tables = SumTables(tables)
	if hidden > 0 {
		lines = append(lines, "… and "+Count(hidden, "more unit")+" running")
	}
	if p.RowsTotal > 0 {
		lines = append([]string{p.rowsLine(tables)}, lines...)
	}
	p.Detail = strings.Join(lines, "\n")
}

// RowsProgress is a fanned-out phase's progress with done rows copied of
// its planned total (RowsTotal, an estimate: more rows than it holds never
// pass 100), never 100 before the phase completes.
func (p PhaseReport) RowsProgress(done int64) float64 {
	return min(100*float64(done)/float64(max(p.RowsTotal, done)), 99.9)
}

// rowsLine is a fanned-out phase's rows of its planned total, as a copy
// in one activity heads its detail: "all 4 tables: 200,000 / about
// 408,200 rows, 30,000 rows/s, ETA 7s". The rate is the running units'.
func (p PhaseReport) rowsLine(running []TableProgress) string {
	var rate float64
	for _, t := range running {
		rate += t.RowsPerSecond
	}
	total := max(p.RowsTotal, p.Records)
	what := "all " + Count(p.TablesTotal, "table")
	if p.TablesTotal <= 1 {
		what = "all rows" // one table's key ranges: "all 1 table" reads oddly
	}
	line := fmt.Sprintf("%s: %s / about %s rows, %s rows/s", what,
		thousands(p.Records), thousands(total), thousands(int64(rate)))
	if left := total - p.Records; left > 0 && rate > 0 {
		line += ", ETA " + etaText(time.Duration(float64(left)/rate*float64(time.Second)))
	}
	return line
}

// thousands writes n with a comma every three digits, as the copy's
// detail does (stores.Humanize, which this package cannot import).
func thousands(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && r != '-' && s[i-1] != '-' && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// etaText is a time left, as the copy's detail words it.
func etaText(d time.Duration) string {
	if d < time.Second {
		return "<1s"
	}
	return d.Round(time.Second).String()
}

// rowShare is a fanned-out phase's progress by rows, when they are known:
// the rows of the units done (Records, before the running units' are
// added) and of the running ones, over those units' rows and, for each
// unit not started yet, the mean of theirs (key ranges are planned about
// equal). A 1,000-row table done beside three large ranges 10% through
// is then about 10%, not the 32% of counting units. Not known (false)
// when a running unit's heartbeat gives no total (a hook's units), or
// units are done without rows: progress then counts units.
func (p PhaseReport) rowShare(running int, runningRows, runningTotal int64, rowsKnown bool) (float64, bool) {
	known := p.UnitsDone + running
	if !rowsKnown || known == 0 || (p.UnitsDone > 0 && p.Records <= 0) {
		return 0, false
	}
	seen := float64(p.Records + runningTotal)
	notStarted := max(p.Units-known, 0)
	total := seen + float64(notStarted)*seen/float64(known)
	if total <= 0 {
		return 0, false
	}
	return 100 * float64(p.Records+runningRows) / total, true
}

// SumTables adds up the progress of the same table reported by several
// units: the key ranges of a split table ("orders [1, 5000)") count as
// the table. The order is the tables' first appearance.
func SumTables(in []TableProgress) []TableProgress {
	var out []TableProgress
	at := map[string]int{}
	for _, t := range in {
		name, _, _ := strings.Cut(t.Table, " [")
		k, ok := at[name]
		if !ok {
			at[name] = len(out)
			t.Table = name
			out = append(out, t)
			continue
		}
		s := &out[k]
		s.RowsDone += t.RowsDone
		s.Total += t.Total
		s.RowsPerSecond += t.RowsPerSecond
		s.Done = s.Done && t.Done
	}
	for k := range out {
		s := &out[k]
		s.ETASeconds = 0
		if left := s.Total - s.RowsDone; !s.Done && left > 0 && s.RowsPerSecond > 0 {
			s.ETASeconds = float64(left) / s.RowsPerSecond
		}
	}
	return out
}

// AttemptCounts returns the attempts the phase made so far (its units'
// when fanned out, running ones included) and how many failed.
func (p PhaseReport) AttemptCounts() (attempts, failed int) { return p.attempts() }

// CountsRows says the phase's Records are rows (copied or compared) or
// changes applied, not objects such as tables created.
func (p PhaseReport) CountsRows() bool { return p.recordsAre() != recordsOther }

// MergeWindow adds what the running window of a windowed fan-out has done
// so far to the running phase (the workflow counts a window's units only
// once the window ends): its units done, their rows and failed attempts,
// and the units running in it now, whose live progress MergeLive then
// adds.
func (r *Report) MergeWindow(unitsDone int, records int64, failedAttempts int, running []string) {
	if r.CurrentIndex < 0 || r.CurrentIndex >= len(r.Phases) {
		return
	}
	p := &r.Phases[r.CurrentIndex]
	if p.Units == 0 || (p.State != PhaseRunning && p.State != PhasePaused) {
		return
	}
	p.UnitsDone = min(p.UnitsDone+unitsDone, p.Units)
	p.Records += records
	p.FailedAttempts += failedAttempts
	p.RunningUnits = running
	if p.RowsTotal > 0 {
		p.Progress = min(100*float64(p.Records)/float64(max(p.RowsTotal, p.Records)), 99.9)
	} else {
		p.Progress = min(max(p.Progress, 100*float64(p.UnitsDone)/float64(p.Units)), 99.9)
	}
	if strings.Contains(p.Step, " units done, ") {
		p.Step = fmt.Sprintf("%d of %d units done, %d running", p.UnitsDone, p.Units, len(running))
	}
}
