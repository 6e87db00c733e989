package dashboard

import (
	"fmt"
	"html/template"
	"net/url"
	"strings"
	"time"

	"github.com/godwit/godwit/briefing"
	"github.com/godwit/godwit/control"
	"github.com/godwit/godwit/drivers/stores"
	"github.com/godwit/godwit/migration"
)

// funcs are the templates' only helpers: formatting, no decisions.
var funcs = template.FuncMap{
	"pct": func(v float64) string { return fmt.Sprintf("%.0f", v) },
}

// Page is what every page template gets.
type Page struct {
	Title string
	// Kind names the page's shape ("list", "run", "lastknown", "error"):
	// the script reloads the whole page when a refresh brings another.
	Kind    string
	Refresh int // seconds
	// Actions says whether actions are allowed (a token is configured).
	Actions bool
	Error   string
	// Plain says the page is in the plain view (names in words for
	// someone who is not an engineer); Home is the list in the page's
	// view, PlainHref and EngineerHref this page in each view.
	Plain                   bool
	Home                    string
	PlainHref, EngineerHref string
}

// statusOption is a status in the list's filter: its name, and its label
// in the page's view.
type statusOption struct{ Value, Label string }

// progress is a progress bar: its value and its words.
type progress struct {
	Percent float64
	Label   string // the accessible name, "copy progress"
	Text    string // "42%" or "42% — 120 / 1,000 rows"
}

// listView is the list page.
type listView struct {
	Page
	Filter   string
	Statuses []statusOption
	Rows     []listRow
	Empty    string
}

type listRow struct {
	Name, Href  string
	Status      string
	StatusClass string
	Phase       string
	Progress    *progress // nil when the report could not be read
	Started     string
	StartedISO  string
	Risk        string
	Problem     string // why the report could not be read
	// Why says, for a run rolled back or rolling back, whether a person
	// asked for it or a failure caused it (rollbackWhy); WhyClass colours it.
	Why, WhyClass string
	// AsOf is when the row's figures were recorded, when they come from
	// the run's memo (its last phase boundary) rather than a live report.
	AsOf, AsOfISO string
}

// runView is a run's page.
type runView struct {
	Page
	Name, Description   string
	Status, StatusClass string
	CurrentPhase        string
	Overall             progress
	Started, Ended      string
	Risk, Rollback      string
	UILink              string
	WaitingGate         string
	Paused              bool
	// PausedText says who paused the run, since when and why (Report.PauseText).
	PausedText string
	// Error is why the run failed; Outcome, for a rollback a person asked
	// for, who asked and why: a deliberate outcome, not shown as an error.
	Error, Outcome string
	// Now says in plain words what the run does, what comes next and
	// whether someone has to act (nowInWords).
	Now             string
	Phases          []phaseView
	Charts          []chart
	Executive, Team []docField
	Issues          []issueView
	NextSteps       []string
	// Can* say which actions the page offers now: allowed (a token is
	// configured) and making sense for the run; the other buttons are
	// disabled, with ActionsNote saying why when it is not obvious.
	CanApprove, CanPause, CanResume, CanRollback bool
	ActionsNote                                  string
	// Steerable is false once the run has ended: the page then shows no
	// action form at all, only the note (a finished run's page showed a
	// token field, name and reason boxes and four greyed-out buttons).
	Steerable bool
}

// lastKnownView is a running run's page when no worker answers its status
// query: the summary it kept in its memo at its last phase boundary,
// marked as such with its time and the reason it is not live.
type lastKnownView struct {
	Page
	Name, Status, StatusClass string
	Overall                   progress
	AsOf, AsOfISO             string
	// Warning is why the state is not live: no worker answered, and what
	// to check.
	Warning                      string
	Phase, Gate, Risk, LastError string
	UILink                       string
}

// newLastKnownView turns the last known summary nw carries into its page.
func (s *Server) newLastKnownView(nw *control.NoWorkerError) lastKnownView {
	sum := *nw.LastKnown
	v := lastKnownView{
		Page:    Page{Title: "Migration " + nw.Name + " (last known)", Kind: "lastknown", Refresh: int(s.opts.Refresh.Seconds()), Actions: s.opts.Token != ""},
		Name:    nw.Name,
		Status:  string(sum.Status),
		AsOf:    stamp(sum.UpdatedAt),
		Warning: nw.Error(),
		Phase:   sum.PhaseText(),
		Gate:    sum.Gate, Risk: sum.Risk, LastError: sum.Error,
		UILink:  s.uiLink(nw.Name),
		Overall: progress{Percent: sum.Progress, Label: "overall progress (last known)", Text: pctText(sum.Progress) + " (last known)"},
	}
	v.StatusClass = summaryClass(sum)
	if !sum.UpdatedAt.IsZero() {
		v.AsOfISO = sum.UpdatedAt.UTC().Format(time.RFC3339)
	}
	if sum.Phase != "" && sum.PhaseState != "" {
		v.Phase += " (" + string(sum.PhaseState) + ")"
	}
	return v
}

type phaseView struct {
	Number                  int
	Name, Kind              string
	State, StateClass       string
	Current                 bool
	Progress                progress
	Duration, Step, Summary string
	Detail, Error           string
	Gate, ApprovedBy        string
	Attempts                int
	Tables                  []tableView
}

type tableView struct {
	Progress progress
	Rate     string
	ETA      string
}

type issueView struct {
	Time, Severity, Phase, Message string
}

type docField struct {
	Label, Value string
	Items        []string
	Numbered     bool
}

// reportClass is statusClass for a run whose report is read: a rollback a
// person asked for is a deliberate outcome, never coloured as a failure.
func reportClass(rep *migration.Report) string {
	if _, _, ok := rep.RequestedRollback(); ok && (rep.Status == migration.StatusRollingBack || rep.Status == migration.StatusRolledBack) {
		return "attention"
	}
	return statusClass(string(rep.Status))
}

// summaryClass is reportClass for a run known by its memo summary.
func summaryClass(sum migration.Summary) string {
	if sum.RequestedRollback && (sum.Status == migration.StatusRollingBack || sum.Status == migration.StatusRolledBack) {
		return "attention"
	}
	return statusClass(string(sum.Status))
}

// rollbackWhy says why a run rolls back or was rolled back: on request or
// after a failure. Both read ROLLED_BACK, and in the list a run undone on
// purpose and one undone because something went wrong looked the same; the
// reader the list is for must tell them apart without opening each run.
func rollbackWhy(sum migration.Summary, plain bool) (text, class string) {
	if sum.Status != migration.StatusRollingBack && sum.Status != migration.StatusRolledBack {
		return "", ""
	}
	switch {
	case sum.RequestedRollback:
		if plain {
			return "Asked for by a person; nothing failed", "attention"
		}
		return "on request", "attention"
	case sum.Error != "":
		if plain {
			return "After a failure: open it to see why", "bad"
		}
		return "after a failure", "bad"
	}
	return "", ""
}

// statusClass names the CSS class of a status: its colour family.
func statusClass(s string) string {
	switch migration.Status(s) {
	case migration.StatusCompleted:
		return "ok"
	case migration.StatusRolledBack, migration.StatusPaused, migration.StatusWaitingApproval, migration.StatusWaitingWindow:
		return "attention"
	case migration.StatusFailed, migration.StatusRollbackFailed, migration.StatusRollbackBlocked, migration.StatusRollingBack:
		return "bad"
	}
	return "running"
}

func phaseClass(s migration.PhaseState) string {
	switch s {
	case migration.PhaseCompleted:
		return "ok"
	case migration.PhaseRunning, migration.PhaseCompensating:
		return "running"
	case migration.PhasePaused:
		return "attention"
	case migration.PhaseFailed, migration.PhaseCompFailed:
		return "bad"
	case migration.PhaseCompensated, migration.PhaseCancelled, migration.PhaseUndoneByHand:
		return "attention"
	}
	return "pending"
}

func runHref(name string) string { return "/migrations/" + url.PathEscape(name) }

// newRunView turns a report into the run page's view at time now.
// tr is what the gateway saw on the traffic phase's route (nil when not
// read; trafficNote says why, when it matters).
func (s *Server) newRunView(rep *migration.Report, points []sample, tr *briefing.Traffic, trafficNote string, now time.Time) runView {
	v := runView{
		Page:         Page{Title: "Migration " + rep.Name, Kind: "run", Refresh: int(s.opts.Refresh.Seconds()), Actions: s.opts.Token != ""},
		Name:         rep.Name,
		Description:  rep.Description,
		Status:       string(rep.Status),
		StatusClass:  reportClass(rep),
		CurrentPhase: rep.CurrentPhase,
		Overall:      progress{Percent: rep.OverallProgress, Label: "overall progress", Text: fmt.Sprintf("%.0f%%", rep.OverallProgress)},
		Started:      stamp(rep.StartTime),
		Risk:         rep.Risk,
		Rollback:     withNote(rep.Rollback, rollbackNote(rep)),
		UILink:       s.uiLink(rep.Name),
		WaitingGate:  rep.WaitingGate,
		Paused:       rep.Paused,
		Error:        rep.Error,
		NextSteps:    rep.NextSteps,
		Now:          nowInWords(rep, engineerUnits),
		PausedText:   rep.PauseText(now),
	}
	// Only while it rolls back and once it has: a requested rollback whose
	// compensation then failed (ROLLBACK_FAILED, ROLLBACK_BLOCKED) keeps
	// that failure as its error.
	if by, reason, ok := rep.RequestedRollback(); ok && (rep.Status == migration.StatusRollingBack || rep.Status == migration.StatusRolledBack) {
		verb := "Rolled back"
		if rep.Status == migration.StatusRollingBack {
			verb = "Rolling back"
		}
		v.Outcome = fmt.Sprintf("%s on request: nothing failed; the rollback was %s.", verb, migration.RequestText(by, reason))
		v.Error = ""
	}
	if !rep.EndTime.IsZero() {
		v.Ended = fmt.Sprintf("%s (took %s)", stamp(rep.EndTime), rep.EndTime.Sub(rep.StartTime).Round(time.Second))
	}
	for i, p := range rep.Phases {
		v.Phases = append(v.Phases, newPhaseView(i, p, i == rep.CurrentIndex, rep.Status, rep.PhaseEnd(p, now)))
	}
	for _, is := range rep.Issues {
		v.Issues = append(v.Issues, issueView{Time: stamp(is.Time), Severity: is.Severity, Phase: is.Phase, Message: is.Message})
	}
	v.Charts = charts(rep, points, trafficNote)
	obs := observations(rep, tr, trafficNote)
	v.Executive = docFields(briefing.ExecutiveSummary(rep, obs))
	v.Team = docFields(briefing.TeamUpdate(rep, obs, now))
	final := rep.Status.Final()
	v.Steerable = !final
	live := v.Actions && !final
	v.CanApprove = live && rep.WaitingGate != ""
	v.CanPause = live && !rep.Paused && rep.Status != migration.StatusRollingBack && rep.Status != migration.StatusRollbackBlocked
	v.CanResume = live && rep.Paused
	v.CanRollback = live && rep.Rollback == migration.RollbackAvailable
	switch {
	case !v.Actions:
		v.ActionsNote = "Read-only: start the dashboard with " + TokenEnv + " set to allow actions."
	case final:
		v.ActionsNote = fmt.Sprintf("The migration has ended (%s): nothing to steer.", rep.Status)
	}
	return v
}

// newPhaseView is phase i's view; end is what its duration runs to
// (Report.PhaseEnd).
func newPhaseView(i int, p migration.PhaseReport, current bool, run migration.Status, end time.Time) phaseView {
	pv := phaseView{
		Number: i + 1, Name: p.Phase, Kind: string(p.Kind), State: p.ShownState(), StateClass: phaseClass(p.State),
		Current: current, Summary: p.ShownSummary(), Detail: p.Detail, Error: p.Error, Gate: p.Gate,
		ApprovedBy: p.ApprovedBy, Attempts: p.Attempts,
	}
	if p.NotRun(run) {
		// An ended run's pending phase never runs: "PENDING, gate go-live"
		// would read as a gate still waiting for someone.
		pv.State = "NOT_RUN"
		if pv.Gate != "" {
			pv.Gate += " (never opened)"
		}
	}
	if pv.Gate != "" {
		pv.Gate = "gate " + pv.Gate
	}
	percent := p.Progress
	if p.State == migration.PhaseCompleted {
		percent = 100
	}
	pv.Progress = progress{Percent: percent, Label: "phase " + p.Phase + " progress", Text: fmt.Sprintf("%.0f%%", percent)}
	if p.Records > 0 {
		pv.Progress.Text += fmt.Sprintf(", %s records", stores.Humanize(p.Records))
	}
	if p.Step != "" {
		pv.Step = migration.StepWords(p.Step)
	} else if p.Steps > 0 {
		pv.Step = fmt.Sprintf("%d steps", p.Steps)
	}
	if end, ok := p.End(end); ok {
		pv.Duration = p.DurationText(end)
	}
	for _, t := range p.Tables {
		tv := tableView{Progress: progress{Label: "table " + t.Table + " copy progress",
			Text: fmt.Sprintf("%s: %s / %s rows", t.Table, stores.Humanize(t.RowsDone), stores.TotalText(t.Total, t.TotalEstimated))}}
		switch {
		case t.Done:
			tv.Progress.Percent = 100
			tv.Progress.Text += ", done"
		case t.Total > 0:
			tv.Progress.Percent = min(100, 100*float64(t.RowsDone)/float64(t.Total))
		}
		if t.RowsPerSecond > 0 {
			tv.Rate = stores.Humanize(int64(t.RowsPerSecond)) + " rows/s"
		}
		if t.ETASeconds > 0 {
			tv.ETA = "ETA " + (time.Duration(t.ETASeconds * float64(time.Second))).Round(time.Second).String()
		}
		pv.Tables = append(pv.Tables, tv)
	}
	return pv
}

// charts are the run page's charts, each drawn even without samples;
// trafficNote says why the gateway's stats were not read, when it matters.
func charts(rep *migration.Report, points []sample, trafficNote string) []chart {
	gatewayNote := "no traffic phase has sent requests through the gateway while the dashboard watched."
	if trafficNote != "" {
		gatewayNote = "the gateway's stats were not read: " + trafficNote + "."
	}
	return []chart{
		timeChart("chart-rate", "Copy rate", "rows/s", "no copy has reported rows yet.", points,
			series{"rows/s", "s1", func(p sample) (float64, bool) { return p.RowsPerSecond, p.hasRate }}),
		timeChart("chart-lag", "Replication lag", "s", "no replicate phase has measured its lag.", points,
			series{"lag", "s1", func(p sample) (float64, bool) { return p.LagSeconds, p.hasLag }}),
		timeChart("chart-weights", "Traffic weights on new", "%", "no traffic phase has set weights.", points,
			series{"reads", "s1", func(p sample) (float64, bool) { return p.ReadWeight, p.hasWeights }},
			series{"writes", "s2", func(p sample) (float64, bool) { return p.WriteWeight, p.hasWeights }}),
		timeChart("chart-errors", "Error rate (work failed for good)", "%", "the dashboard has read no report yet.", points,
			series{"errors", "s3", func(p sample) (float64, bool) { return p.ErrorRate, true }}),
		timeChart("chart-gateway-errors", "Gateway error rate", "%", gatewayNote, points,
			series{"new", "s1", func(p sample) (float64, bool) { return p.NewErrors, p.hasNew }},
			series{"legacy", "s2", func(p sample) (float64, bool) { return p.LegacyErrors, p.hasLegacy }}),
		findingsChart(findings(rep)),
	}
}

// observations are the figures the dashboard has beside the report: the
// gateway's (as godwit status --format reads them) and the worker's load
// from the heartbeat. It does not ask the stores (godwit status --format
// does), so the templates say so.
func observations(rep *migration.Report, tr *briefing.Traffic, trafficNote string) briefing.Observations {
	obs := briefing.Observations{Traffic: tr, TrafficNote: trafficNote}
	if rep.WorkerLoad != "" && !rep.Status.Final() {
		obs.Load = []string{rep.WorkerLoad}
	} else {
		obs.LoadNote = "the dashboard does not query the stores; godwit status " + rep.Name + " --format team does"
	}
	return obs
}

func docFields(d briefing.Doc) []docField {
	out := make([]docField, len(d))
	for i, f := range d {
		out[i] = docField{Label: f.Label, Value: f.Value, Items: f.Items, Numbered: f.Marker == "#"}
	}
	return out
}

func (s *Server) uiLink(name string) string {
	ns := s.opts.Namespace
	if ns == "" {
		ns = "default"
	}
	return strings.TrimRight(s.opts.UIURL, "/") + "/namespaces/" + url.PathEscape(ns) + "/workflows/" + url.PathEscape(name)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// rollbackNote is the report's rollback note, unless it only repeats the
// run's error, which the page shows already (a rollback after a failure
// noted that failure: the page printed the same long message twice).
func rollbackNote(rep *migration.Report) string {
	if rep.Error != "" && rep.RollbackNote == rep.Error {
		return ""
	}
	return rep.RollbackNote
}

func withNote(v, note string) string {
	if note == "" {
		return v
	}
	return v + " (" + note + ")"
}
