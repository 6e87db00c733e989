package dashboard

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/godwit/godwit/migration"
)

// Views of the pages: the engineer view names statuses and states as the
// report, the CLI and the API do (IN_PROGRESS, COMPENSATED, "5 of 5:
// done"); the plain view says them in words for someone who is not an
// engineer ("Running", "Undone (rolled back)", "All 5 steps done"). Only
// the pages change: the JSON API always speaks the report's names.
const (
	ViewEngineer = "engineer"
	ViewPlain    = "plain"
)

// viewParam is the query parameter that picks a page's view.
const viewParam = "view"

// view is the view a request asks for (?view=plain|engineer), or the
// dashboard's default.
func (s *Server) view(r *http.Request) string {
	switch v := r.URL.Query().Get(viewParam); v {
	case ViewPlain, ViewEngineer:
		return v
	}
	return s.opts.View
}

// withView is href in view: a link keeps the view its page is in, unless
// that is the dashboard's default.
func (s *Server) withView(href, view string) string {
	if view == s.opts.View {
		return href
	}
	return href + "?" + viewParam + "=" + url.QueryEscape(view)
}

// viewLinks fills the page's links to itself in each view.
func (s *Server) viewLinks(p *Page, path, view string) {
	p.Plain = view == ViewPlain
	p.Home = s.withView("/", view)
	p.PlainHref = path + "?" + viewParam + "=" + ViewPlain
	p.EngineerHref = path + "?" + viewParam + "=" + ViewEngineer
}

// plainStatuses are a run's statuses in plain words.
var plainStatuses = map[migration.Status]string{
	migration.StatusInProgress:      "Running",
	migration.StatusPaused:          "Paused",
	migration.StatusWaitingApproval: "Waiting for approval",
	migration.StatusWaitingWindow:   "Waiting for its time window",
	migration.StatusRollingBack:     "Being undone (rolling back)",
	migration.StatusRollbackBlocked: "Undo stuck: needs a person",
	migration.StatusCompleted:       "Done",
	migration.StatusRolledBack:      "Undone (rolled back)",
	migration.StatusRollbackFailed:  "Undo given up: needs a person",
	migration.StatusFailed:          "Failed: needs a person",
}

// plainStatus is a run's status in plain words; a status Godwit does not
// name (a run Temporal ended outside Godwit: TERMINATED, TIMED_OUT) reads
// as stopped outside Godwit.
func plainStatus(s string) string {
	if w, ok := plainStatuses[migration.Status(s)]; ok {
		return w
	}
	return "Stopped outside Godwit (" + strings.ToLower(strings.ReplaceAll(s, "_", " ")) + ")"
}

// plainPhaseStates are a phase's shown states (PhaseReport.ShownState,
// NOT_RUN) in plain words.
var plainPhaseStates = map[string]string{
	string(migration.PhasePending):      "Not started yet",
	string(migration.PhaseRunning):      "Running",
	string(migration.PhasePaused):       "Paused",
	string(migration.PhaseCompleted):    "Done",
	string(migration.PhaseFailed):       "Failed",
	string(migration.PhaseCancelled):    "Stopped",
	string(migration.PhaseCompensating): "Being undone",
	string(migration.PhaseCompensated):  "Undone (rolled back)",
	string(migration.PhaseCompFailed):   "Undo failed",
	string(migration.PhaseUndoneByHand): "Undone by hand",
	"NOT_RUN":                           "Will not run",
	"NOT_UNDONE":                        "Not undone: nothing was set up to undo it",
	"NOTHING_TO_UNDO":                   "Nothing to undo",
}

func plainPhaseState(shown string) string {
	if w, ok := plainPhaseStates[shown]; ok {
		return w
	}
	return sentence(shown)
}

// plainRollback is whether the run can be undone, in plain words.
var plainRollback = map[string]string{
	migration.RollbackAvailable:    "Can still be undone",
	migration.RollbackNotAvailable: "Can no longer be undone",
	migration.RollbackInProgress:   "Being undone",
	migration.RollbackDone:         "Undone",
}

// statusCode matches a run's status name in a sentence built elsewhere
// ("not measured: the migration ended COMPLETED; …").
var statusCode = regexp.MustCompile(`\b(` + strings.Join(migration.StatusNames(), "|") + `)\b`)

// plainCodes puts the status names in text in plain words.
func plainCodes(text string) string {
	return statusCode.ReplaceAllStringFunc(text, func(code string) string { return strings.ToLower(plainStatus(code)) })
}

// plainWhere says where a run stands, as its current phase does ("3 of 5:
// copy", "5 of 5: done"), in plain words: each phase is a step.
func plainWhere(status migration.Status, index, count int, phase string) string {
	switch {
	case count == 0:
		return "No steps"
	case index < 0 && status == migration.StatusCompleted:
		return fmt.Sprintf("All %d steps done", count)
	case index < 0 && status.Final():
		return "No step running: " + strings.ToLower(plainStatus(string(status)))
	case index < 0:
		return fmt.Sprintf("Not started yet (%d steps)", count)
	}
	return fmt.Sprintf("Step %d of %d: %s", index+1, count, phase)
}

// sentence turns a name like LOW or NOT_AVAILABLE into "Low", "Not available".
func sentence(code string) string {
	w := strings.ToLower(strings.ReplaceAll(code, "_", " "))
	if w == "" {
		return w
	}
	return strings.ToUpper(w[:1]) + w[1:]
}

// plainRun rewrites a run page's names in plain words.
func plainRun(v *runView, rep *migration.Report) {
	v.Status = plainStatus(string(rep.Status))
	v.Now = nowInWords(rep, plainUnits)
	current := ""
	if i := rep.CurrentIndex; i >= 0 && i < len(rep.Phases) {
		current = rep.Phases[i].Phase
	}
	v.CurrentPhase = plainWhere(rep.Status, rep.CurrentIndex, len(rep.Phases), current)
	v.Risk = sentence(rep.Risk)
	if w, ok := plainRollback[rep.Rollback]; ok {
		v.Rollback = withNote(w, rollbackNote(rep))
	}
	if rep.Status.Final() && v.ActionsNote != "" && v.Actions {
		v.ActionsNote = fmt.Sprintf("The migration has ended (%s): nothing to steer.", strings.ToLower(v.Status))
	}
	for k := range v.Phases {
		pv := &v.Phases[k]
		pv.State = plainPhaseState(pv.State)
		if g := plainGate(rep, k); g != "" {
			pv.Gate, pv.ApprovedBy = g, ""
		}
		if p := rep.Phases[k]; p.Step != "" && p.Units == 0 {
			pv.Step = "part " + p.Step
		} else if p.Steps > 0 && p.Step == "" {
			pv.Step = fmt.Sprintf("%d parts", p.Steps)
		}
	}
	for k := range v.Issues {
		v.Issues[k].Severity = sentence(v.Issues[k].Severity)
	}
	for k := range v.Charts {
		v.Charts[k].Label, v.Charts[k].Note = plainCodes(v.Charts[k].Label), plainCodes(v.Charts[k].Note)
	}
	for k, f := range v.Executive {
		v.Executive[k].Value = plainCodes(f.Value)
		for j, item := range f.Items {
			v.Executive[k].Items[j] = plainCodes(item)
		}
		switch f.Label {
		case "Migration Status":
			v.Executive[k].Value = v.Status
		case "Current Phase":
			v.Executive[k].Value = v.CurrentPhase
		case "Risk Assessment":
			v.Executive[k].Value = v.Risk
		case "Rollback Status":
			v.Executive[k].Value = v.Rollback
		}
	}
	// The team update is for engineers: it names states as they do.
	v.Team = nil
}

// plainGate says what phase k's gate means for the reader: whether a person
// must approve before it starts, is awaited now, did approve, or never got
// there. "gate go-live" under "Not started yet" said none of that to
// someone who does not know what a gate is.
func plainGate(rep *migration.Report, k int) string {
	p := rep.Phases[k]
	switch {
	case p.Gate == "":
		return ""
	case p.ApprovedBy != "":
		return fmt.Sprintf("Approved by %s (gate %s)", p.ApprovedBy, p.Gate)
	case rep.WaitingGate == p.Gate && k == rep.CurrentIndex:
		return fmt.Sprintf("Waiting for a person to approve it (gate %s)", p.Gate)
	case p.NotRun(rep.Status):
		return fmt.Sprintf("Never reached its approval (gate %s)", p.Gate)
	}
	return fmt.Sprintf("A person must approve it before it starts (gate %s)", p.Gate)
}

// plainRow rewrites a list row's names in plain words, from the run's
// summary (the memo's, or its report's).
func plainRow(row *listRow, sum migration.Summary) {
	where := plainWhere(sum.Status, sum.PhaseIndex, sum.PhaseCount, sum.Phase)
	if strings.HasPrefix(row.Phase, "ended outside Godwit") {
		// endedOutside: how Temporal ended it, and its last boundary.
		row.Phase = "Ended outside Godwit; last known: " + strings.ToLower(plainStatus(string(sum.Status))) + ", " + strings.ToLower(where[:1]) + where[1:]
	} else {
		row.Phase = where
	}
	row.Status = plainStatus(row.Status)
	if row.Risk != "-" {
		row.Risk = sentence(row.Risk)
	}
}
