package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/godwit/godwit/migration"
)

// renderText writes the report for people: a header, a progress bar per
// phase, metrics, issues and next steps.
func renderText(w io.Writer, r *migration.Report, now time.Time) {
	renderTextGate(w, r, now, 0)
}

// renderTextGate is renderText for a run waiting at a gate that opens only
// with the replication lag at or under gateLag (its requireLag, read from
// the run's spec; 0: none or not known).
func renderTextGate(w io.Writer, r *migration.Report, now time.Time, gateLag time.Duration) {
	fmt.Fprintf(w, "Migration %s — %s\n", r.Name, r.Status)
	if r.Description != "" {
		fmt.Fprintf(w, "  %s\n", r.Description)
	}
	fmt.Fprintf(w, "  Started    %s (%s ago)\n", r.StartTime.Local().Format(time.DateTime), since(r.StartTime, now))
	if !r.EndTime.IsZero() {
		fmt.Fprintf(w, "  Ended      %s (took %s)\n", r.EndTime.Local().Format(time.DateTime), r.EndTime.Sub(r.StartTime).Round(time.Second))
	}
	fmt.Fprintf(w, "  Phase      %s\n", r.CurrentPhase)
	fmt.Fprintf(w, "  Progress   %s %5.1f%%\n", bar(r.OverallProgress, 30), r.OverallProgress)
	rollback := r.Rollback
	by, reason, requested := r.RequestedRollback()
	switch {
	case requested:
		// Not an error: a person asked for it.
		rollback += " (" + migration.RequestText(by, reason) + ")"
	case r.RollbackNote != "":
		rollback += " (" + r.RollbackNote + ")"
	}
	fmt.Fprintf(w, "  Rollback   %s\n", rollback)
	fmt.Fprintf(w, "  Risk       %s\n", r.Risk)
	for _, l := range waitingLines(r, now, gateLag) {
		fmt.Fprintf(w, "  %s\n", l)
	}
	if f := r.ReplicationFailing; f != nil {
		// The last lag measured is from before the failures: shown as the
		// lag it would read as a replication that keeps up.
		fmt.Fprintf(w, "  Lag        not known: the replication of phase %s is failing since %s (%s ago), %s, the last %s ago: %s\n",
			f.Phase, f.Since.Local().Format(time.DateTime), since(f.Since, now), migration.Count(f.Attempts, "failed attempt"), since(f.Last, now), f.Error)
		if l := r.Replication; l != nil {
			fmt.Fprintf(w, "             last measured before the failures: %s, %s behind (by phase %s %s ago)\n",
				l.Duration().Round(10*time.Millisecond), migration.Count(int(l.Changes), "change"), l.Phase, since(l.Measured, now))
		}
	} else if l := r.Replication; l != nil {
		last := fmt.Sprintf("%s, %s behind (measured by phase %s %s ago)",
			l.Duration().Round(10*time.Millisecond), migration.Count(int(l.Changes), "change"), l.Phase, since(l.Measured, now))
		switch cut, _ := r.CutOverAfterLag(); {
		case r.Status.Final():
			// The replication ended with the run (a rollback drained the
			// reverse capture into legacy, a stop the forward one): its
			// last figure, shown as live, read as changes still waiting.
			dir := ""
			if l.Reverse {
				dir = fmt.Sprintf("reverse (%s → %s) ", l.From, l.To)
			}
			fmt.Fprintf(w, "  Lag        not running: the replication ended with the run (%s); last measured %s%s\n", r.Status, dir, last)
		case l.Reverse:
			// Measured after the cut-over, by the reverse replication that
			// keeps legacy current until a stop, a decommission or a
			// rollback (which drains the rest).
			fmt.Fprintf(w, "  Lag        reverse (%s → %s) %s, %s behind (measured by phase %s %s ago)\n",
				l.From, l.To, l.Duration().Round(10*time.Millisecond), migration.Count(int(l.Changes), "change"), l.Phase, since(l.Measured, now))
		case cut != "":
			// The forward figure would read as live; it stopped moving at
			// the cut-over, and the reverse stream has not been measured
			// yet (or never is, in a run from before the reverse follower).
			fmt.Fprintf(w, "  Lag        legacy → new: ended at cut-over %s; last measured before it: %s\n", cut, last)
			fmt.Fprintf(w, "             new → legacy: not measured yet; new's writes wait in the reverse capture until the reverse replication after the cut-over, a rollback or a replicate stop phase applies them\n")
		default:
			fmt.Fprintf(w, "  Lag        %s\n", last)
		}
	}
	if r.Error != "" && !(requested && r.Error == r.RollbackNote) {
		fmt.Fprintf(w, "  Error      %s\n", r.Error)
	}

	fmt.Fprintln(w, "\nPhases")
	for i, p := range r.Phases {
		extra := []string{}
		state, notRun := p.ShownState(), p.NotRun(r.Status)
		if notRun {
			state = "NOT_RUN" // the run ended before it: it never runs
		}
		if p.Gate != "" {
			gate := "gate " + p.Gate
			if p.ApprovedBy != "" {
				gate += " approved by " + p.ApprovedBy
			} else if notRun {
				gate += " (never opened)"
			}
			extra = append(extra, gate)
		}
		if end, ok := p.End(r.PhaseEnd(p, now)); ok {
			extra = append(extra, p.DurationText(end))
		}
		extra = append(extra, attemptsText(p)...)
		if p.Records > 0 {
			records := migration.Count(int(p.Records), "record")
			if rate := p.Rate(r.PhaseEnd(p, now)); rate > 0 && p.CountsRows() {
				// Over the whole phase, every attempt and unit: a retried
				// copy's summary gives only its last attempt's rate.
				records += fmt.Sprintf(" at %.0f/s", rate)
			}
			extra = append(extra, records)
		}
		fmt.Fprintf(w, "  %s %d. %-14s %s %5.1f%%  %-19s %s\n", phaseMark(p.State), i+1, p.Phase,
			bar(p.Progress, 20), p.Progress, state, strings.Join(extra, ", "))
		if p.Step != "" && p.State == migration.PhaseRunning {
			fmt.Fprintf(w, "        %s\n", migration.StepWords(p.Step))
		}
		if p.Error != "" {
			fmt.Fprintf(w, "        error: %s\n", p.Error)
		}
		// A running phase's detail is its live progress (a replication's
		// lag and applied count): a retried attempt shows it under the
		// previous attempt's error, not instead of it.
		if p.Detail != "" {
			for _, line := range strings.Split(strings.TrimRight(p.Detail, "\n"), "\n") {
				fmt.Fprintf(w, "        %s\n", line)
			}
		} else if p.Error == "" && p.Summary != "" {
			fmt.Fprintf(w, "        %s\n", p.ShownSummary())
		}
		if len(p.Outputs) > 0 {
			keys := make([]string, 0, len(p.Outputs))
			for k := range p.Outputs {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(w, "        output %s = %s\n", k, p.Outputs[k])
			}
		}
	}

	m := r.Metrics
	fmt.Fprintln(w, "\nMetrics")
	// Changes applied and rows compared are their own figures, shown once
	// there are some: added to the rows copied they would overstate it.
	apart := ""
	if m.ChangesApplied > 0 {
		apart += fmt.Sprintf("   Changes applied %d", m.ChangesApplied)
	}
	if m.RecordsCompared > 0 {
		apart += fmt.Sprintf("   Records compared %d", m.RecordsCompared)
	}
	fmt.Fprintf(w, "  Records copied %d%s   Rate %.0f records/min   Error rate %.1f%%   Issues %d\n",
		m.RecordsCopied, apart, m.RecordsPerMinute, m.ErrorRate*100, m.IssuesEncountered)
	if m.FailedAttempts > 0 {
		// Apart from the error rate: a retry that went on to succeed
		// (a worker killed under a unit) is no failed work.
		fmt.Fprintf(w, "  Attempts %d, %d failed (an attempt retried well is no failed work: not in the error rate)\n",
			m.Attempts, m.FailedAttempts)
	}
	if len(r.Issues) > 0 {
		fmt.Fprintln(w, "\nIssues")
		for _, is := range r.Issues {
			seen := ""
			if is.Times() > 1 {
				seen = fmt.Sprintf(" (%d times, last at %s)", is.Times(), is.LastSeen.Local().Format(time.TimeOnly))
			}
			fmt.Fprintf(w, "  %s %-7s %s %s%s\n", is.Time.Local().Format(time.TimeOnly), is.Severity, is.Phase, is.Message, seen)
		}
		if r.IssuesDropped > 0 {
			fmt.Fprintf(w, "  (%s of other issues not kept)\n", migration.Count(r.IssuesDropped, "older occurrence"))
		}
	}
	if len(r.NextSteps) > 0 {
		fmt.Fprintln(w, "\nNext steps")
		for _, s := range r.NextSteps {
			fmt.Fprintf(w, "  - %s\n", s)
		}
	}
}

// attemptsText says how many attempts a phase took: for a fanned-out
// phase its units' attempts and how many failed, as they happen.
func attemptsText(p migration.PhaseReport) []string {
	attempts, failed := p.AttemptCounts()
	switch {
	case p.Units > 0 && failed > 0:
		return []string{fmt.Sprintf("%d of %d units done, %s (%d failed)", p.UnitsDone, p.Units, migration.Count(attempts, "attempt"), failed)}
	case p.Units > 0:
		return []string{fmt.Sprintf("%d of %d units done", p.UnitsDone, p.Units)}
	case p.EarlierAttempts > 0:
		return []string{fmt.Sprintf("%d attempts (%d failed, %d before a pause or a new throttle started it again)", attempts, failed, p.EarlierAttempts)}
	case p.Attempts > 1:
		return []string{fmt.Sprintf("%d attempts", p.Attempts)}
	}
	return nil
}

// waitingLines say, under the header, what a run that is not moving waits
// for and the command that moves it on: a gate and who may open it, a
// window and when it opens, a pause and who lifts it.
func waitingLines(r *migration.Report, now time.Time, gateLag time.Duration) []string {
	phase := ""
	if r.CurrentIndex >= 0 && r.CurrentIndex < len(r.Phases) {
		phase = r.Phases[r.CurrentIndex].Phase
	}
	before := ""
	switch {
	case phase == "":
	case r.Phases[r.CurrentIndex].State == migration.PhaseRunning:
		before = " in phase " + phase // a gate among the phase's steps
	default:
		before = " before phase " + phase
	}
	var out []string
	switch {
	case r.Status == migration.StatusWaitingApproval && r.WaitingGate != "" && gateLag > 0:
		last := "not measured yet"
		if l := r.Replication; l != nil {
			last = fmt.Sprintf("last %s, %s ago", l.Duration().Round(10*time.Millisecond), since(l.Measured, now))
		}
		out = append(out, fmt.Sprintf("Waiting    for approval of gate %q%s, accepted only once the replication lag is at or under %s (%s); then: godwit approve %s --gate %s",
			r.WaitingGate, before, gateLag, last, r.Name, r.WaitingGate))
	case r.Status == migration.StatusWaitingApproval && r.WaitingGate != "":
		out = append(out, fmt.Sprintf("Waiting    for approval of gate %q%s; to continue: godwit approve %s --gate %s",
			r.WaitingGate, before, r.Name, r.WaitingGate))
	case r.Status == migration.StatusWaitingWindow:
		opens := "when it opens"
		if !r.WindowOpens.IsZero() {
			opens = fmt.Sprintf("at %s (in %s)", r.WindowOpens.UTC().Format("2006-01-02 15:04 MST"), max(0, r.WindowOpens.Sub(now)).Round(time.Minute))
		}
		out = append(out, fmt.Sprintf("Waiting    for the window %s%s; it starts on its own %s, or now: godwit approve %s --gate window",
			r.Window, before, opens, r.Name))
	}
	// A run that ended while paused keeps the flag; nothing waits for a
	// resume any more.
	if r.Paused && !r.Status.Final() {
		if who := r.PauseText(now); who != "" {
			out = append(out, "Paused     "+who)
		}
		switch {
		case r.Status == migration.StatusWaitingApproval || r.Status == migration.StatusWaitingWindow:
			out = append(out, "Paused     too: once that wait is over, nothing runs until: godwit resume "+r.Name)
		case phase != "" && r.Phases[r.CurrentIndex].State == migration.PhasePaused:
			out = append(out, fmt.Sprintf("Paused     phase %s stopped at %.1f%%; nothing runs until: godwit resume %s",
				phase, r.Phases[r.CurrentIndex].Progress, r.Name))
		default:
			out = append(out, "Paused     nothing runs until: godwit resume "+r.Name)
		}
	}
	return out
}

func bar(percent float64, width int) string {
	filled := int(percent / 100 * float64(width))
	filled = max(0, min(width, filled))
	return "[" + strings.Repeat("█", filled) + strings.Repeat("░", width-filled) + "]"
}

func phaseMark(s migration.PhaseState) string {
	switch s {
	case migration.PhaseCompleted:
		return "✓"
	case migration.PhaseRunning:
		return "▶"
	case migration.PhasePaused:
		return "‖"
	case migration.PhaseFailed, migration.PhaseCompFailed:
		return "✗"
	case migration.PhaseCompensating, migration.PhaseCompensated:
		return "↺"
	case migration.PhaseCancelled:
		return "■"
	}
	return "·"
}

func since(t, now time.Time) time.Duration {
	if now.Before(t) {
		return 0
	}
	return now.Sub(t).Round(time.Second)
}
