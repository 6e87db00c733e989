package briefing

import (
	"fmt"
	"strings"
	"time"

	"github.com/godwit/godwit/migration"
)

// TeamUpdate fills the technical team update template at time now.
func TeamUpdate(r *migration.Report, obs Observations, now time.Time) Doc {
	d := Doc{
		{Label: "Migration", Value: r.Name},
		{Label: "Phase", Value: phaseLine(r)},
		{Label: "Duration", Value: durationLine(r, now)},
	}
	var done, running, upcoming, undone, notRun []string
	for i, p := range r.Phases {
		switch {
		case p.State == migration.PhaseCompleted:
			done = append(done, "✓ "+completedItem(p))
		case p.State == migration.PhaseRunning, p.State == migration.PhaseCompensating:
			running = append(running, "🔄 "+runningItem(p))
		case p.State == migration.PhasePaused:
			// Stopped at its checkpoint; resume goes on from there.
			running = append(running, "⏸ "+runningItem(p)+" - PAUSED")
		case p.State == migration.PhasePending && r.Status.Final():
			// Nothing is upcoming once the run has ended.
			notRun = append(notRun, fmt.Sprintf("■ %s - NOT RUN: the migration ended %s", p.Phase, r.Status))
		case p.State == migration.PhasePending:
			upcoming = append(upcoming, "⏳ "+upcomingItem(r, i, now))
		default:
			undone = append(undone, undoneMark(p.State)+" "+undoneItem(p))
		}
	}
	d = append(d,
		Field{Label: "Completed Tasks", Items: orNone(done)},
		Field{Label: "In Progress", Items: orNone(running)},
		Field{Label: "Upcoming", Items: orNone(upcoming)},
	)
	if len(undone) > 0 {
		d = append(d, Field{Label: "Failed or Undone", Items: undone})
	}
	if len(notRun) > 0 {
		d = append(d, Field{Label: "Not Run", Items: notRun})
	}
	var issues []string
	for _, is := range r.Issues {
		where := ""
		if is.Phase != "" {
			where = "phase " + is.Phase + ", "
		}
		issues = append(issues, fmt.Sprintf("⚠️ %s - %s - %s%s - resolution ETA: %s",
			is.Message, is.Severity, where, is.Time.UTC().Format("15:04 UTC"), resolution(r)))
	}
	d = append(d, Field{Label: "Issues", Items: orNone(issues)})
	m := r.Metrics
	d = append(d, Field{Label: "Metrics", Marker: "- ", Items: []string{
		"Migration Rate: " + rate(r),
		errorRateText(m),
		"System Load: " + load(obs),
	}})
	return d
}

func orNone(items []string) []string {
	if len(items) == 0 {
		return []string{"none"}
	}
	return items
}

// current returns the phase running or about to run.
func current(r *migration.Report) (migration.PhaseReport, bool) {
	if r.CurrentIndex < 0 || r.CurrentIndex >= len(r.Phases) {
		return migration.PhaseReport{}, false
	}
	return r.Phases[r.CurrentIndex], true
}

func phaseLine(r *migration.Report) string {
	p, ok := current(r)
	switch {
	case !ok && r.Status == migration.StatusCompleted:
		return fmt.Sprintf("all %d phases - COMPLETED", len(r.Phases))
	case !ok && r.Status.Final():
		return withNote("none running - "+string(r.Status), r.RollbackNote)
	case !ok:
		return "none started yet - " + string(r.Status)
	case r.Status == migration.StatusWaitingApproval:
		return fmt.Sprintf("%s - WAITING_APPROVAL (gate %s)", p.Phase, r.WaitingGate)
	case r.Paused && p.State == migration.PhasePending:
		return p.Phase + " - PAUSED (holds before it starts)"
	}
	text := fmt.Sprintf("%s - %s", p.Phase, p.State)
	if p.Step != "" && p.State == migration.PhaseRunning {
		text += ", step " + p.Step
	}
	return text
}

// durationLine is "started - expected end" of the current phase, or of the
// whole run once it ended.
func durationLine(r *migration.Report, now time.Time) string {
	if r.Status.Final() {
		if r.EndTime.IsZero() {
			return utc(r.StartTime) + " - ended"
		}
		return fmt.Sprintf("%s - %s (ended; took %s)", utc(r.StartTime), utc(r.EndTime),
			r.EndTime.Sub(r.StartTime).Round(time.Second))
	}
	p, ok := current(r)
	if !ok || p.StartTime.IsZero() {
		what := "the next phase"
		if ok {
			what = "phase " + p.Phase
		}
		switch {
		case r.Status == migration.StatusWaitingApproval:
			return fmt.Sprintf("%s has not started: it waits for approval of gate %s", what, r.WaitingGate)
		case r.Paused:
			return what + " has not started: the migration is paused"
		}
		return what + " has not started yet"
	}
	if p.State == migration.PhasePaused {
		return utc(p.StartTime) + " - expected end not estimated: the phase is paused"
	}
	end, ok := expectedEnd(p, now)
	if !ok {
		return utc(p.StartTime) + " - expected end not estimated: the phase has reported no progress yet"
	}
	return fmt.Sprintf("%s - %s (expected, from its progress so far)", utc(p.StartTime), utc(end))
}

// expectedEnd extrapolates a running phase's end from its progress: the
// rest goes at the pace so far.
func expectedEnd(p migration.PhaseReport, now time.Time) (time.Time, bool) {
	if p.State != migration.PhaseRunning || p.Progress <= 0 || p.StartTime.IsZero() || now.Before(p.StartTime) {
		return time.Time{}, false
	}
	elapsed := p.WorkingTime(now) // the pace of its work, not of its pauses
	rest := time.Duration(float64(elapsed) * (100 - p.Progress) / p.Progress)
	return now.Add(rest), true
}

func completedItem(p migration.PhaseReport) string {
	var extra []string
	if !p.StartTime.IsZero() && !p.EndTime.IsZero() {
		extra = append(extra, p.DurationText(p.EndTime))
	}
	if p.Attempts > 1 {
		extra = append(extra, fmt.Sprintf("%d attempts", p.Attempts))
	}
	if p.Records > 0 {
		extra = append(extra, fmt.Sprintf("%d records", p.Records))
	}
	if p.ApprovedBy != "" {
		extra = append(extra, fmt.Sprintf("gate %s approved by %s", p.Gate, p.ApprovedBy))
	}
	text := p.Phase
	if len(extra) > 0 {
		text += " (" + strings.Join(extra, ", ") + ")"
	}
	if p.Summary != "" {
		text += ": " + p.Summary
	}
	return text
}

func runningItem(p migration.PhaseReport) string {
	if p.State == migration.PhaseCompensating {
		return p.Phase + " - being undone (compensation running)"
	}
	text := p.Phase
	if p.Step != "" {
		text += ", step " + p.Step
	}
	text += fmt.Sprintf(" - %.0f%% complete", p.Progress)
	if p.Records > 0 {
		text += fmt.Sprintf(" (%d records)", p.Records)
	}
	if p.Error != "" {
		text += "; " + p.Error
	}
	return text
}

// upcomingItem says when the pending phase i is expected to start: after
// the phase before it, at the time that one is expected to end when it is
// running and has progress, and after its gate when it has one.
func upcomingItem(r *migration.Report, i int, now time.Time) string {
	p := r.Phases[i]
	var start string
	switch {
	case r.Status == migration.StatusWaitingApproval && i == r.CurrentIndex:
		start = "when gate " + r.WaitingGate + " is approved"
	case r.Paused && i == r.CurrentIndex:
		start = "on godwit resume " + r.Name
	case i == r.CurrentIndex:
		start = "now"
	case i > 0:
		prev := r.Phases[i-1]
		start = "after " + prev.Phase
		if end, ok := expectedEnd(prev, now); ok {
			start += ", about " + utc(end)
		}
		if p.Gate != "" {
			start += ", then when gate " + p.Gate + " is approved"
		}
	default:
		start = "first"
	}
	return fmt.Sprintf("%s - expected start: %s", p.Phase, start)
}

// undoneMark tells a phase that was undone from one that failed or was
// stopped, as the plain status does.
func undoneMark(s migration.PhaseState) string {
	switch s {
	case migration.PhaseCompensated:
		return "↺"
	case migration.PhaseCancelled:
		return "■"
	}
	return "✗"
}

func undoneItem(p migration.PhaseReport) string {
	if undone := p.UndoneText(); undone != "" {
		return p.Phase + " - " + undone
	}
	text := fmt.Sprintf("%s - %s", p.Phase, p.State)
	if p.Error != "" {
		text += ": " + p.Error
	}
	return text
}

// resolution is what Godwit knows of when an issue gets resolved: nothing
// beyond what the run's state implies.
func resolution(r *migration.Report) string {
	switch r.Status {
	case migration.StatusRolledBack:
		if by, reason, ok := r.RequestedRollback(); ok {
			return "none needed for the run: the rollback was " + migration.RequestText(by, reason)
		}
		return "none needed for the run: it was rolled back; fix the cause before starting again"
	case migration.StatusCompleted:
		return "none needed: the migration completed"
	}
	return "not tracked by Godwit (set by the person who owns it)"
}

func rate(r *migration.Report) string {
	m := r.Metrics
	if m.RecordsCopied == 0 {
		return "not measured: no copy phase has reported rows yet"
	}
	return fmt.Sprintf("%.0f records/minute (%d records copied since %s)", m.RecordsPerMinute, m.RecordsCopied, utc(r.StartTime))
}

func load(obs Observations) string {
	if len(obs.Load) > 0 {
		return strings.Join(obs.Load, "; ")
	}
	if obs.LoadNote != "" {
		return "not measured: " + obs.LoadNote
	}
	return "not measured: Godwit does not read the stores' or hosts' CPU, memory or connections yet"
}

// errorRateText is the error rate, work that failed for good, with the
// failed attempts beside it: a retry that succeeded is no failed work.
func errorRateText(m migration.Metrics) string {
	text := fmt.Sprintf("Error Rate: %.2f%% (phases or units that failed for good / run)", m.ErrorRate*100)
	if m.FailedAttempts > 0 {
		text += fmt.Sprintf("; %d of %d attempts failed", m.FailedAttempts, m.Attempts)
	}
	return text
}
