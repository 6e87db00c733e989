package migration

import (
	"fmt"
	"strings"
)

// Why a rollback ran and what a compensation did are recorded as text in
// the report (the workflow's state and its recorded histories hold them so);
// these functions write and read that text in one place, so the status
// can say "asked for by alice" instead of calling a request an error.

// rollbackRequested starts the note of a rollback a person asked for.
const rollbackRequested = "rollback requested"

// RollbackRequestNote is the note of a rollback asked for by by (may be
// empty) for reason (may be empty): "rollback requested by alice: p99 too
// high".
func RollbackRequestNote(by, reason string) string {
	note := rollbackRequested
	if by != "" {
		note += " by " + by
	}
	if reason != "" {
		note += ": " + reason
	}
	return note
}

// RequestedRollback says whether the run's rollback was asked for by a
// person (godwit rollback, or the rollback signal), and who and why; by
// is "someone" when the request did not say.
func (r *Report) RequestedRollback() (by, reason string, ok bool) {
	note := r.RollbackNote
	if r.Status == StatusRollbackFailed || r.Status == StatusRolledBack || r.Status == StatusRollingBack {
		if r.Error != "" {
			note = r.Error
		}
	}
	if note != rollbackRequested && !strings.HasPrefix(note, rollbackRequested+" by ") && !strings.HasPrefix(note, rollbackRequested+": ") {
		return "", "", false
	}
	rest := strings.TrimPrefix(note, rollbackRequested)
	if strings.HasPrefix(rest, " by ") {
		rest = strings.TrimPrefix(rest, " by ")
		by, reason, _ = strings.Cut(rest, ": ")
	} else {
		reason = strings.TrimPrefix(rest, ": ")
	}
	// A failed rollback appends its error: "...; then rollback failed: ...".
	reason, _, _ = strings.Cut(reason, "; then rollback failed: ")
	if by == "" {
		by = "someone"
	}
	return by, reason, true
}

// RequestText says who asked for the rollback and why, for a person.
func RequestText(by, reason string) string {
	if reason == "" {
		return fmt.Sprintf("asked for by %s (no reason given)", by)
	}
	return fmt.Sprintf("asked for by %s: %s", by, reason)
}

// NoCompensationSummary is the summary of compensating a phase that has no
// compensation: its state says COMPENSATED, yet its effects remain.
const NoCompensationSummary = "no compensation configured"

// UndoneText is what a phase's undo did, for a person: a phase compensated
// without a compensation was not undone, and one with nothing to undo
// changed nothing; "" when the state says it all.
func (p PhaseReport) UndoneText() string {
	if p.State != PhaseCompensated {
		return ""
	}
	switch {
	case strings.HasPrefix(p.Summary, NoCompensationSummary) && p.kind() == PhaseValidate:
		// A validate phase checks (the README's preflight-only phase is
		// a hook running "true"): saying its effects remain would send a
		// person looking for effects it never had. godwit plan says the
		// same: "nothing to undo: the phase changes nothing".
		return "NOTHING TO UNDO: a validate phase checks, it changes nothing"
	case strings.HasPrefix(p.Summary, NoCompensationSummary):
		return "NOT UNDONE: it has no compensation, its effects remain"
	case strings.HasPrefix(p.Summary, "nothing to undo"):
		return "NOTHING TO UNDO: " + strings.TrimPrefix(strings.TrimPrefix(p.Summary, "nothing to undo"), ": ")
	}
	return ""
}

// ShownSummary is the phase's summary as a person should read it: a
// validate phase the rollback passed over says it changed nothing, not
// "no compensation configured" under NOTHING_TO_UNDO.
func (p PhaseReport) ShownSummary() string {
	if p.State == PhaseCompensated && p.kind() == PhaseValidate && strings.HasPrefix(p.Summary, NoCompensationSummary) {
		return "nothing to undo: a validate phase checks, it changes nothing"
	}
	return p.Summary
}

// ShownState is the phase's state as a person should read it: COMPENSATED
// only when a compensation undid something. A phase compensated without
// a compensation reads NOT_UNDONE (its effects remain), one whose
// compensation found nothing to undo NOTHING_TO_UNDO. The report's State
// (and its JSON) keep COMPENSATED, which scripts rely on.
func (p PhaseReport) ShownState() string {
	switch text := p.UndoneText(); {
	case strings.HasPrefix(text, "NOT UNDONE"):
		return "NOT_UNDONE"
	case strings.HasPrefix(text, "NOTHING TO UNDO"):
		return "NOTHING_TO_UNDO"
	}
	return string(p.State)
}

// NotRun is whether the phase will never run: it was still pending when
// its run ended (rolled back, failed or abandoned before it). Its state
// stays PENDING in the report; a person reads NOT_RUN, and its gate as
// never opened, not as one still waiting.
func (p PhaseReport) NotRun(run Status) bool {
	return p.State == PhasePending && run.Final()
}
