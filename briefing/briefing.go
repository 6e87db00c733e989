// Package briefing writes the Migration Architect method's two status
// templates, the executive summary and the technical team update, from a
// live migration.Report, as plain text or as Markdown for a ticket.
//
// Every figure comes from the report or from Observations the caller made
// (the gateway's traffic, the stores' load). A figure nobody measured says
// so in words and why ("not measured: no traffic phase"): the templates never
// carry a placeholder or an invented number.
package briefing

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/godwit/godwit/gateway/api"
	"github.com/godwit/godwit/migration"
)

// Format names one of the templates.
type Format string

// The formats `godwit status --format` accepts beside its plain text.
const (
	// FormatExec is the executive summary.
	FormatExec Format = "exec"
	// FormatTeam is the technical team update.
	FormatTeam Format = "team"
	// FormatMarkdown is both, as Markdown for pasting into a ticket.
	FormatMarkdown Format = "markdown"
)

// Formats lists every format, for help texts and validation.
var Formats = []Format{FormatExec, FormatTeam, FormatMarkdown}

// Observations are figures from outside the report. Each is optional; when
// one is missing its note says why, in words a reader can act on.
type Observations struct {
	// Traffic is what the gateway saw on the migration's route.
	Traffic *Traffic
	// TrafficNote says why Traffic is nil, e.g. "the gateway did not
	// answer: connection refused". Empty: the default reason is derived
	// from the report (no traffic phase, or none started yet).
	TrafficNote string
	// Load is one line per system ("legacy (postgres): 12 connections,
	// replication lag 0.4s"); nil when nobody measured it.
	Load []string
	// LoadNote says why Load is nil.
	LoadNote string
}

// Traffic is a gateway route's figures over its stats window.
type Traffic struct {
	// Source names where they came from: "gateway http://gw:9090, route users".
	Source string
	Stats  api.RouteStats
}

// timeLayout is the templates' "YYYY-MM-DD HH:MM UTC".
const timeLayout = "2006-01-02 15:04 UTC"

// Write renders the report in format f at time now.
func Write(w io.Writer, f Format, r *migration.Report, obs Observations, now time.Time) error {
	switch f {
	case FormatExec:
		writeText(w, ExecutiveSummary(r, obs))
	case FormatTeam:
		writeText(w, TeamUpdate(r, obs, now))
	case FormatMarkdown:
		fmt.Fprintf(w, "## Migration %s\n\n", r.Name)
		if r.Description != "" {
			fmt.Fprintf(w, "%s\n\n", r.Description)
		}
		fmt.Fprint(w, "### Executive summary\n\n")
		writeMarkdown(w, ExecutiveSummary(r, obs))
		fmt.Fprint(w, "\n### Technical team update\n\n")
		writeMarkdown(w, TeamUpdate(r, obs, now))
	default:
		return fmt.Errorf("format %q: use one of %s", f, formatList())
	}
	return nil
}

func formatList() string {
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// Field is one line of a template ("Risk Assessment: LOW") or a labelled
// list ("Next Steps:" then numbered items).
type Field struct {
	Label string
	Value string
	// Items, when set, are the field's list; Marker is how text prints each
	// item's start: "- ", "#" (numbered) or "" (the item carries its mark).
	Items  []string
	Marker string
	// Commands says each item may end in a godwit command, which Markdown
	// shows as a code span (else `--gate` is an en dash, `<spec>` vanishes).
	Commands bool
}

// Doc is a filled template: its fields in order.
type Doc []Field

func writeText(w io.Writer, d Doc) {
	for _, f := range d {
		if f.Items == nil {
			fmt.Fprintf(w, "%s: %s\n", f.Label, f.Value)
			continue
		}
		fmt.Fprintf(w, "%s:\n", f.Label)
		for i, it := range f.Items {
			fmt.Fprintf(w, "%s%s\n", marker(f.Marker, i), it)
		}
	}
}

func marker(m string, i int) string {
	if m == "#" {
		return fmt.Sprintf("%d. ", i+1)
	}
	return m
}

func writeMarkdown(w io.Writer, d Doc) {
	for i, f := range d {
		if f.Items == nil {
			// Two trailing spaces: a line break inside the paragraph.
			fmt.Fprintf(w, "**%s:** %s  \n", f.Label, f.Value)
			continue
		}
		fmt.Fprintf(w, "**%s:**\n\n", f.Label)
		for j, it := range f.Items {
			m := "- "
			if f.Marker == "#" {
				m = fmt.Sprintf("%d. ", j+1)
			}
			if f.Commands {
				it = migration.MarkdownCommand(it)
			}
			fmt.Fprintf(w, "%s%s\n", m, it)
		}
		if i < len(d)-1 {
			fmt.Fprintln(w)
		}
	}
}

// ExecutiveSummary fills the executive summary template.
func ExecutiveSummary(r *migration.Report, obs Observations) Doc {
	steps := r.NextSteps
	if len(steps) == 0 {
		steps = []string{"none: nothing is waiting for a person"}
	}
	return Doc{
		{Label: "Migration", Value: r.Name},
		{Label: "Migration Status", Value: string(r.Status)},
		{Label: "Start Time", Value: utc(r.StartTime)},
		{Label: "Current Phase", Value: r.CurrentPhase},
		{Label: "Overall Progress", Value: fmt.Sprintf("%.0f%%", r.OverallProgress)},
		{Label: "Key Metrics", Marker: "- ", Items: []string{
			"System Availability: " + availability(r, obs),
			"Data Migration Progress: " + dataProgress(r),
			"Performance Impact: " + performanceImpact(r, obs),
			fmt.Sprintf("Issues Encountered: %d", r.Metrics.IssuesEncountered),
		}},
		{Label: "Next Steps", Marker: "#", Items: steps, Commands: true},
		{Label: "Risk Assessment", Value: r.Risk},
		{Label: "Rollback Status", Value: rollbackStatus(r)},
	}
}

func utc(t time.Time) string {
	if t.IsZero() {
		return "not started"
	}
	return t.UTC().Format(timeLayout)
}

func withNote(v, note string) string {
	if note == "" {
		return v
	}
	return v + " (" + note + ")"
}

// trafficPhase returns the first phase that moves traffic, and whether
// there is one.
func trafficPhase(r *migration.Report) (migration.PhaseReport, bool) {
	for _, p := range r.Phases {
		if p.Kind == migration.PhaseShiftTraffic || (p.Kind == "" && p.Phase == string(migration.PhaseShiftTraffic)) {
			return p, true
		}
	}
	return migration.PhaseReport{}, false
}

// trafficMissing says why there are no gateway figures.
func trafficMissing(r *migration.Report, obs Observations) string {
	p, ok := trafficPhase(r)
	switch {
	case !ok:
		return "not measured: no traffic phase"
	case obs.TrafficNote != "":
		return "not measured: " + obs.TrafficNote
	case p.State == migration.PhasePending:
		return fmt.Sprintf("not measured: traffic phase %s has not started", p.Phase)
	}
	return fmt.Sprintf("not measured: no gateway figures were read for traffic phase %s", p.Phase)
}

// availability is the share of requests the gateway's sides answered
// without a 5xx, transport error or timeout. New's errors include requests
// legacy then served in its place, so it errs low, never high.
func availability(r *migration.Report, obs Observations) string {
	if obs.Traffic == nil {
		return trafficMissing(r, obs)
	}
	s := obs.Traffic.Stats
	req := s.Legacy.Requests + s.New.Requests
	if req == 0 {
		return fmt.Sprintf("not measured: no requests through the %s in the last %s", obs.Traffic.Source, window(s))
	}
	errs := s.Legacy.Errors + s.New.Errors
	return fmt.Sprintf("%.2f%% (%d of %d requests answered without error over the last %s, %s)",
		100*(1-float64(errs)/float64(req)), req-errs, req, window(s), obs.Traffic.Source)
}

func window(s api.RouteStats) string {
	return (time.Duration(s.WindowSeconds * float64(time.Second))).Round(time.Second).String()
}

// performanceImpact compares new's p95 latency with legacy's.
func performanceImpact(r *migration.Report, obs Observations) string {
	if obs.Traffic == nil {
		return trafficMissing(r, obs)
	}
	s := obs.Traffic.Stats
	switch {
	case s.New.Requests == 0:
		return fmt.Sprintf("not measured: no request reached new in the last %s (%s)", window(s), obs.Traffic.Source)
	case s.Legacy.Requests == 0 || s.Legacy.P95Ms <= 0:
		return fmt.Sprintf("not measured: no legacy latency to compare with in the last %s (%s); new p95 %.1f ms",
			window(s), obs.Traffic.Source, s.New.P95Ms)
	}
	change := 100 * (s.New.P95Ms - s.Legacy.P95Ms) / s.Legacy.P95Ms
	return fmt.Sprintf("%+.0f%% p95 latency (new %.1f ms vs legacy %.1f ms over the last %s, %s)",
		change, s.New.P95Ms, s.Legacy.P95Ms, window(s), obs.Traffic.Source)
}

// dataProgress is the mean progress of the copy phases.
func dataProgress(r *migration.Report) string {
	var sum float64
	var n int
	var records int64
	for _, p := range r.Phases {
		if p.Kind != migration.PhaseCopy && !(p.Kind == "" && p.Phase == string(migration.PhaseCopy)) {
			continue
		}
		n++
		records += p.Records
		if p.State == migration.PhaseCompleted {
			sum += 100
		} else {
			sum += p.Progress
		}
	}
	if n == 0 {
		return "not applicable: the migration has no copy phase"
	}
	text := fmt.Sprintf("%.2f%%", sum/float64(n))
	var notes []string
	if records > 0 {
		notes = append(notes, fmt.Sprintf("%d records copied", records))
	}
	if r.Status == migration.StatusRolledBack || r.Status == migration.StatusRollingBack {
		notes = append(notes, "the migration is being or has been rolled back")
	}
	if len(notes) > 0 {
		text += " (" + strings.Join(notes, "; ") + ")"
	}
	return text
}

// rollbackStatus is the rollback's state and why: who asked for it, when
// a person did.
func rollbackStatus(r *migration.Report) string {
	if by, reason, ok := r.RequestedRollback(); ok {
		return withNote(r.Rollback, "rollback "+migration.RequestText(by, reason))
	}
	return withNote(r.Rollback, r.RollbackNote)
}
