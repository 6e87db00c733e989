package migration

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Report is the status report of one migration run: what the `status` query
// returns and what `godwit status` renders. Fields a person reads first come
// first. The derived fields (progress, metrics, next steps, risk, rollback)
// are filled by Refresh, so every producer computes them the same way.
type Report struct {
	Name         string    `json:"name"`
	Description  string    `json:"description,omitempty"`
	Status       Status    `json:"status"`
	StartTime    time.Time `json:"startTime"`
	EndTime      time.Time `json:"endTime,omitzero"`
	UpdatedTime  time.Time `json:"updatedTime"`
	CurrentPhase string    `json:"currentPhase"` // "3 of 5: copy"
	// CurrentIndex is the 0-based index in Phases of the phase running or
	// about to run; -1 before the first and after the last.
	CurrentIndex    int           `json:"currentIndex"`
	OverallProgress float64       `json:"overallProgress"` // percent, 0-100
	Phases          []PhaseReport `json:"phases"`
	Metrics         Metrics       `json:"metrics"`
	NextSteps       []string      `json:"nextSteps"`
	Risk            string        `json:"risk"`
	Rollback        string        `json:"rollback"`
	// RollbackNote says why rollback is not available, or why one ran.
	RollbackNote string `json:"rollbackNote,omitempty"`
	WaitingGate  string `json:"waitingGate,omitempty"`
	// Window describes the window a disruptive phase waits for, and
	// WindowOpens when it opens (while the status is WAITING_WINDOW).
	Window      string    `json:"window,omitempty"`
	WindowOpens time.Time `json:"windowOpens,omitzero"`
	// WorkerLoad is the load of the worker host running the current
	// phase, from its heartbeats (live status only).
	WorkerLoad string `json:"workerLoad,omitempty"`
	// Replication is the last lag a replicate phase measured (at its end,
	// or while a gate with requireLag waits); nil before any.
	Replication *ReplicationLag `json:"replication,omitempty"`
	// ReplicationFailing is the replication that runs beside the phases
	// (in the background, or while a gate with requireLag waits) while
	// its attempts fail; nil once one succeeds. Replication is then the
	// last lag measured before, not the current one.
	ReplicationFailing *ReplicationFailure `json:"replicationFailing,omitempty"`
	Paused             bool                `json:"paused"`
	// PausedBy, PauseReason and PausedSince say who paused the run, why
	// and when, while it is paused (a pause signal's payload; "godwit" for
	// a pause the run took itself, on a schema change or a step that
	// needs a decision). Empty in runs from before they were kept
	// (workflow change pause-who) and in a pause with no payload
	// (PausedBy, PauseReason).
	PausedBy    string    `json:"pausedBy,omitempty"`
	PauseReason string    `json:"pauseReason,omitempty"`
	PausedSince time.Time `json:"pausedSince,omitzero"`
	Issues      []Issue   `json:"issues,omitempty"`
	// IssuesDropped counts the occurrences of issues left out of Issues
	// to keep the report (and the run's history) bounded (NoteIssue).
	IssuesDropped int    `json:"issuesDropped,omitempty"`
	Error         string `json:"error,omitempty"`
	// Series is the run's figures at its phase and step boundaries, kept
	// by the workflow (AddPoint), bounded by MaxSeries.
	Series []Point `json:"series,omitempty"`
}

// PhaseReport is the progress of one phase.
type PhaseReport struct {
	// Phase is the phase's name (its kind unless the spec names it).
	Phase string `json:"phase"`
	Kind  Phase  `json:"kind,omitempty"`
	// Driver is the key of the driver that does the phase's work ("copy",
	// "hook", ...); empty in reports recorded before it was kept.
	Driver   string     `json:"driver,omitempty"`
	State    PhaseState `json:"state"`
	Progress float64    `json:"progress"` // percent, 0-100
	Gate     string     `json:"gate,omitempty"`
	// Steps is the number of steps of a multi-step phase; Step is the
	// current or last one, "k of n: name".
	Steps int    `json:"steps,omitempty"`
	Step  string `json:"step,omitempty"`
	// Outputs are the values the phase handed to later phases.
	Outputs map[string]string `json:"outputs,omitempty"`
	// Detail is the running phase's progress in words, from its last
	// heartbeat (per table rows, rate, ETA); only in live status.
	Detail    string    `json:"detail,omitempty"`
	StartTime time.Time `json:"startTime,omitzero"`
	EndTime   time.Time `json:"endTime,omitzero"`
	Attempts  int       `json:"attempts,omitempty"`
	// EarlierAttempts counts the failed attempts (a worker killed, an
	// error retried) of the phase's activities that a pause or a new
	// throttle stopped, the run then starting the phase again from its
	// checkpoint: Attempts counts only the last activity's.
	EarlierAttempts int    `json:"earlierAttempts,omitempty"`
	Records         int64  `json:"records,omitempty"`
	Summary         string `json:"summary,omitempty"`
	Error           string `json:"error,omitempty"`
	// ApprovedBy names who opened the phase's gate.
	ApprovedBy string `json:"approvedBy,omitempty"`
	// BeforeNoReturn is set while a decommission has run only steps that
	// change nothing (its plan, its gate): it has started, but a rollback
	// is still possible.
	BeforeNoReturn bool `json:"beforeNoReturn,omitempty"`
	// Tables is the running copy's progress per table, from its last
	// heartbeat; only in live status.
	Tables []TableProgress `json:"tables,omitempty"`
	// Units is the number of units (tables, key ranges) of a fanned-out
	// phase, 0 for a phase that is not; UnitsDone counts those finished
	// well (their rows are in Records) and RunningUnits names those
	// running (at most fanOut of them).
	Units        int      `json:"units,omitempty"`
	UnitsDone    int      `json:"unitsDone,omitempty"`
	RunningUnits []string `json:"runningUnits,omitempty"`
	// RowsTotal is about how many rows a fanned-out phase's units hold in
	// all, over TablesTotal tables, as its driver estimated them when it
	// planned the units (a copy's); 0 when unknown. Its status then reads
	// rows copied of this total, as a copy in one activity does.
	RowsTotal   int64 `json:"rowsTotal,omitempty"`
	TablesTotal int   `json:"tablesTotal,omitempty"`
	// FailedAttempts counts the failed attempts of a fanned-out phase's
	// units, retried or not (a phase that is not fanned out derives them
	// from Attempts and State).
	FailedAttempts int `json:"failedAttempts,omitempty"`
	// Pauses are the stretches the phase, started, was held by a pause
	// (nothing of it started while held; see PausedTime); the last has no
	// End while the hold goes on. At most MaxPhasePauses are kept; the
	// time of those dropped is in EarlierPausedSeconds.
	Pauses               []PauseSpan `json:"pauses,omitempty"`
	EarlierPausedSeconds float64     `json:"earlierPausedSeconds,omitempty"`
}

// PauseSpan is a stretch of time a phase was held by a pause.
type PauseSpan struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end,omitzero"` // zero while it goes on
}

// TableProgress is one table of a running copy as its heartbeat tells it.
type TableProgress struct {
	Table    string `json:"table"`
	RowsDone int64  `json:"rowsDone"`
	Total    int64  `json:"total"`
	// TotalEstimated says Total is the planner's estimate until the exact
	// count, taken beside the copy, comes in.
	TotalEstimated bool `json:"totalEstimated,omitempty"`
	// RowsPerSecond is the table's average rate so far; 0 before one.
	RowsPerSecond float64 `json:"rowsPerSecond,omitempty"`
	// ETASeconds is the time left at that rate; 0 when unknown or done.
	ETASeconds float64 `json:"etaSeconds,omitempty"`
	Done       bool    `json:"done,omitempty"`
}

// Metrics are the run's key figures.
type Metrics struct {
	// RecordsCopied counts the rows the copy work wrote to the target: a
	// copy driver's rows (every unit of a fanned-out copy, and its own
	// catch-up pass, which copies rows again) and a hook's records in a
	// copy phase. Not the tables a provision created, nor the rows a
	// reconcile compared, nor the changes a change capture applied.
	RecordsCopied int64 `json:"recordsCopied"`
	// RecordsCompared counts the rows the reconcile phases checked.
	RecordsCompared int64 `json:"recordsCompared"`
	// ChangesApplied counts the changes a change capture applied: a
	// replicate phase's catch-up (and a stop's drain of the reverse
	// capture) and a cut-over's catch-up while writes were held. A change
	// is a row's insert, update or delete replayed on the other side, not
	// a row copied: one row changed ten times is ten changes.
	ChangesApplied   int64   `json:"changesApplied,omitempty"`
	RecordsPerMinute float64 `json:"recordsPerMinute"`
	// ErrorRate is the share of the work that failed for good, 0-1: the
	// phases (or units of a fanned-out phase) that failed over those run.
	// An attempt that failed and was retried well is not failed work: it
	// counts in FailedAttempts.
	ErrorRate float64 `json:"errorRate"`
	// Attempts counts the phase (and unit) attempts made so far, running
	// ones included; FailedAttempts those that failed, retried or not.
	Attempts          int `json:"attempts"`
	FailedAttempts    int `json:"failedAttempts"`
	IssuesEncountered int `json:"issuesEncountered"`
}

// Issue is something that went wrong or was refused during the run.
type Issue struct {
	Time     time.Time `json:"time"`
	Phase    string    `json:"phase,omitempty"` // the phase's name`
	Severity string    `json:"severity"`        // WARNING or ERROR
	Message  string    `json:"message"`
	// Count is how often the same issue (phase, severity, message) was
	// seen, and LastSeen when last; 0 (reports before NoteIssue) means once.
	Count    int       `json:"count,omitempty"`
	LastSeen time.Time `json:"lastSeen,omitzero"`
}

// Times returns how often the issue was seen (at least once).
func (i Issue) Times() int { return max(i.Count, 1) }

// Issue severities.
const (
	SeverityWarning = "WARNING"
	SeverityError   = "ERROR"
)

// PlannedPhase is a phase as the report first shows it.
type PlannedPhase struct {
	Name string
	Kind Phase
	// Driver is the key of the phase's driver section.
	Driver string
	Gate   string
	Steps  int
}

// NewReport returns the report of a run whose phases are named by their
// kinds, before any phase started.
func NewReport(name, description string, phases []Phase, gates map[Phase]string, start time.Time) *Report {
	plan := make([]PlannedPhase, len(phases))
	for i, p := range phases {
		plan[i] = PlannedPhase{Name: string(p), Kind: p, Gate: gates[p]}
	}
	return NewPlannedReport(name, description, plan, start)
}

// NewPlannedReport returns the report of a run that has not started a
// phase yet.
func NewPlannedReport(name, description string, plan []PlannedPhase, start time.Time) *Report {
	r := &Report{
		Name: name, Description: description, Status: StatusInProgress,
		StartTime: start, CurrentIndex: -1,
	}
	for _, p := range plan {
		r.Phases = append(r.Phases, PhaseReport{Phase: p.Name, Kind: p.Kind, Driver: p.Driver, State: PhasePending, Gate: p.Gate, Steps: p.Steps})
	}
	r.Refresh(start)
	return r
}

// kind returns the phase's kind; reports from before phases had names
// carry none, and their name was their kind.
func (p PhaseReport) kind() Phase {
	if p.Kind != "" {
		return p.Kind
	}
	return Phase(p.Phase)
}

type recordsMeaning int

const (
	recordsOther    recordsMeaning = iota // tables created, objects removed, steps
	recordsCopied                         // rows written to the target
	recordsCompared                       // rows checked against the source
	recordsChanges                        // changes a change capture applied
)

// recordsAre says what the phase's Records count. The driver decides when
// the report knows it: a copy driver copies and a reconcile driver compares
// in whatever phase they run, a cut-over applies the changes of its
// catch-up, a replicate phase applies changes except as a provision phase
// (its setup, which counts the capture objects it created), and the
// drivers that count objects (tables created, names retired) never count
// rows. A hook, an unknown driver or a report without drivers go by the
// phase's kind.
//
// The keys are the drivers' own (config's driver sections): the report
// carries only the key, not what its driver counts. Saying it in the
// phase's report (a kind of records filled from the phase's result) would
// change what the workflow records, hence a workflow version.
func (p PhaseReport) recordsAre() recordsMeaning {
	switch p.Driver {
	case "copy":
		return recordsCopied
	case "reconcile":
		return recordsCompared
	case "cutover":
		return recordsChanges
	case "replicate":
		if p.kind() == PhaseProvision {
			return recordsOther
		}
		return recordsChanges
	case "provision", "retire", "terraform", "traffic", "compat":
		return recordsOther
	}
	switch p.kind() {
	case PhaseCopy:
		return recordsCopied
	case PhaseReconcile:
		return recordsCompared
	}
	return recordsOther
}

// AddIssue records an issue at time now about the phase named phase.
// Runs recorded before NoteIssue keep using it: every issue is a new
// entry.
func (r *Report) AddIssue(now time.Time, phase string, severity, message string) {
	r.Issues = append(r.Issues, Issue{Time: now, Phase: phase, Severity: severity, Message: message})
}

// MaxIssues bounds the issues a report keeps: a failing follower that
// notes an issue every 30 s for a week must not grow the report (which the
// run carries through continue-as-new and returns in every query).
const MaxIssues = 50

// MaxIssueMessage bounds an issue's message, in bytes: MaxIssues of them
// stay far below Temporal's 2 MB limit on the report a run returns and
// carries through continue-as-new, whatever a person records or an error
// says.
const MaxIssueMessage = 2048

// ClipIssueMessage returns message cut to at most MaxIssueMessage bytes:
// its beginning and its end are kept (what happened, and who recorded it
// or how the error ended), the middle is replaced by how many bytes were
// left out. Cuts fall on character boundaries.
func ClipIssueMessage(message string) string {
	if len(message) <= MaxIssueMessage {
		return message
	}
	// The note " … (N bytes not kept) … " takes at most 40 bytes.
	const room = 40
	head, tail := (MaxIssueMessage-room)*3/4, len(message)-(MaxIssueMessage-room)/4
	for head > 0 && !utf8.RuneStart(message[head]) {
		head--
	}
	for tail < len(message) && !utf8.RuneStart(message[tail]) {
		tail++
	}
	return fmt.Sprintf("%s … (%d bytes not kept) … %s", message[:head], tail-head, message[tail:])
}

// NoteIssue records an issue like AddIssue, but an issue already in the
// report (same phase, severity and message) is counted again, with its
// last-seen time, instead of added; past MaxIssues the warning seen least
// recently (or, when there is none, the error) is dropped and counted in
// IssuesDropped.
func (r *Report) NoteIssue(now time.Time, phase string, severity, message string) {
	for k := len(r.Issues) - 1; k >= 0; k-- {
		is := &r.Issues[k]
		if is.Phase == phase && is.Severity == severity && is.Message == message {
			is.Count, is.LastSeen = is.Times()+1, now
			return
		}
	}
	r.Issues = append(r.Issues, Issue{Time: now, Phase: phase, Severity: severity, Message: message, Count: 1, LastSeen: now})
	r.capIssues()
}

// CompactIssues merges repeated issues into one entry each (counted) and
// caps the list, for a report carried from a run that used AddIssue.
func (r *Report) CompactIssues() {
	old := r.Issues
	r.Issues = nil
	for _, is := range old {
		merged := false
		for k := range r.Issues {
			kept := &r.Issues[k]
			if kept.Phase == is.Phase && kept.Severity == is.Severity && kept.Message == is.Message {
				kept.Count = kept.Times() + is.Times()
				kept.LastSeen = latest(kept.LastSeen, is.Time, is.LastSeen)
				merged = true
				break
			}
		}
		if !merged {
			is.Count, is.LastSeen = is.Times(), latest(is.Time, is.LastSeen)
			r.Issues = append(r.Issues, is)
		}
	}
	r.capIssues()
}

// capIssues drops the issues seen least recently, warnings before errors,
// until MaxIssues are left: one that keeps coming back stays.
func (r *Report) capIssues() {
	for len(r.Issues) > MaxIssues {
		drop, dropWarning := 0, false
		for k, is := range r.Issues {
			warning := is.Severity != SeverityError
			seen, dropSeen := latest(is.Time, is.LastSeen), latest(r.Issues[drop].Time, r.Issues[drop].LastSeen)
			if (warning && !dropWarning) || (warning == dropWarning && seen.Before(dropSeen)) {
				drop, dropWarning = k, warning
			}
		}
		r.IssuesDropped += r.Issues[drop].Times()
		r.Issues = append(r.Issues[:drop], r.Issues[drop+1:]...)
	}
}

func latest(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if t.After(out) {
			out = t
		}
	}
	return out
}

// Refresh recomputes the derived fields from the phase states at time now.
func (r *Report) Refresh(now time.Time) {
	r.UpdatedTime = now
	r.CurrentPhase = r.currentPhaseText()
	r.OverallProgress = r.overallProgress()
	r.Metrics = r.metrics(now)
	r.Rollback, r.RollbackNote = r.rollbackAvailability()
	r.Risk = r.risk()
	r.NextSteps = r.nextSteps()
}

func (r *Report) currentPhaseText() string {
	n := len(r.Phases)
	switch {
	case n == 0:
		return "none"
	case r.CurrentIndex < 0 && r.Status == StatusCompleted:
		return fmt.Sprintf("%d of %d: done", n, n)
	case r.CurrentIndex < 0 && r.Status.Final():
		return fmt.Sprintf("none: %s", strings.ToLower(strings.ReplaceAll(string(r.Status), "_", " ")))
	case r.CurrentIndex < 0:
		return fmt.Sprintf("0 of %d: not started", n)
	}
	cur := r.Phases[r.CurrentIndex]
	text := fmt.Sprintf("%d of %d: %s", r.CurrentIndex+1, n, cur.Phase)
	if cur.Step != "" && (cur.State == PhaseRunning || cur.State == PhasePending) {
		text += ", " + StepWords(cur.Step)
	}
	return text
}

// RowsShare is the share of the overall progress the phases that move
// or compare rows carry together, when the run has others too.
const RowsShare = 0.75

// overallProgress weighs the phases by the work they do: those that move
// or compare rows (a copy, a reconcile, a backfill: RowPhase) carry
// RowsShare of the bar between them, the others (validate, provision,
// a cut-over, hooks: seconds to minutes) the rest; within each group
// phases count alike. A plain mean made a 1-second validate weigh as much
// as a 1-hour copy, and a run whose copy had barely started read 50%.
// A run with only one kind of phase is the plain mean of its phases.
func (r *Report) overallProgress() float64 {
	if len(r.Phases) == 0 {
		return 100
	}
	var rows, other []float64
	for _, p := range r.Phases {
		pct := p.Progress
		if p.State == PhaseCompleted {
			pct = 100
		}
		if p.RowPhase() {
			rows = append(rows, pct)
		} else {
			other = append(other, pct)
		}
	}
	switch {
	case len(rows) == 0:
		return mean(other)
	case len(other) == 0:
		return mean(rows)
	}
	return RowsShare*mean(rows) + (1-RowsShare)*mean(other)
}

func mean(v []float64) float64 {
	var sum float64
	for _, x := range v {
		sum += x
	}
	return sum / float64(len(v))
}

// RowPhase says the phase moves or compares rows (a copy, a reconcile, a
// backfill): the bulk of a migration's time, which the overall progress
// weighs as such.
func (p PhaseReport) RowPhase() bool {
	switch p.recordsAre() {
	case recordsCopied, recordsCompared:
		return true
	}
	return p.Driver == "backfill"
}

func (r *Report) metrics(now time.Time) Metrics {
	m := Metrics{IssuesEncountered: r.IssuesDropped}
	for _, is := range r.Issues {
		m.IssuesEncountered += is.Times()
	}
	var work, failedWork int
	for _, p := range r.Phases {
		switch p.recordsAre() {
		case recordsCopied:
			m.RecordsCopied += p.Records
		case recordsCompared:
			m.RecordsCompared += p.Records
		case recordsChanges:
			m.ChangesApplied += p.Records
		}
		attempts, failed := p.attempts()
		m.Attempts += attempts
		m.FailedAttempts += failed
		w, f := p.work()
		if r.failedThenUndone(p) {
			w, f = max(w, 1), max(f, 1)
		}
		work += w
		failedWork += f
	}
	if work > 0 {
		m.ErrorRate = float64(failedWork) / float64(work)
	}
	end := now
	if !r.EndTime.IsZero() {
		end = r.EndTime
	}
	if minutes := end.Sub(r.StartTime).Minutes(); minutes > 0 {
		m.RecordsPerMinute = float64(m.RecordsCopied) / minutes
	}
	return m
}

// rollbackAvailability follows the rule that decommission is the point of no
// return: once it has started, there is no legacy side left to return to
// (unless it has only planned so far: BeforeNoReturn).
func (r *Report) rollbackAvailability() (string, string) {
	switch r.Status {
	case StatusRollingBack, StatusRollbackBlocked:
		return RollbackInProgress, r.RollbackNote
	case StatusRolledBack, StatusRollbackFailed:
		return RollbackDone, r.RollbackNote
	case StatusCompleted:
		return RollbackNotAvailable, "the migration has completed"
	}
	for _, p := range r.Phases {
		if p.kind().PointOfNoReturn() && p.State != PhasePending && !p.BeforeNoReturn {
			what := "decommission"
			if p.Phase != string(PhaseDecommission) {
				what = "decommission " + p.Phase
			}
			return RollbackNotAvailable, what + " has started: it is the point of no return"
		}
	}
	if r.Status == StatusFailed {
		return RollbackNotAvailable, "the migration has failed and ended"
	}
	return RollbackAvailable, ""
}

func (r *Report) risk() string {
	switch r.Status {
	case StatusRollbackFailed, StatusFailed, StatusRollbackBlocked:
		return RiskHigh
	case StatusRollingBack:
		return RiskMedium
	case StatusCompleted, StatusRolledBack:
		return RiskLow
	}
	current := r.currentPhase()
	errorIssues := 0
	for _, is := range r.Issues {
		if is.Severity == SeverityError {
			errorIssues++
		}
	}
	switch {
	case current == PhaseDecommission:
		return RiskHigh
	case current == PhaseShiftTraffic && errorIssues > 0:
		return RiskHigh
	case current == PhaseShiftTraffic, errorIssues > 0, r.Metrics.ErrorRate > 0, r.retrying():
		return RiskMedium
	}
	return RiskLow
}

// retrying says the current phase runs on a retry: while it may still
// fail, the risk is raised; once the retry succeeded, it is not.
func (r *Report) retrying() bool {
	if r.CurrentIndex < 0 || r.CurrentIndex >= len(r.Phases) {
		return false
	}
	p := r.Phases[r.CurrentIndex]
	if p.State != PhaseRunning {
		return false
	}
	if p.Units > 0 {
		return p.Error != "" // a running unit's attempt failed (mergeUnits)
	}
	return p.Attempts > 1
}

// inPlaceSchemaChange says every phase is an expand, backfill or contract:
// a schema changed in place, with no legacy and new side.
func (r *Report) inPlaceSchemaChange() bool {
	for _, p := range r.Phases {
		switch p.Driver {
		case "expand", "backfill", "contract":
		default:
			return false
		}
	}
	return len(r.Phases) > 0
}

// currentPhase returns the kind of the current phase.
func (r *Report) currentPhase() Phase {
	if r.CurrentIndex < 0 || r.CurrentIndex >= len(r.Phases) {
		return ""
	}
	return r.Phases[r.CurrentIndex].kind()
}

// repairedRollback counts the compensations that failed during a
// rollback (their issues) and names the phases a person marked undone by
// hand (rollback --skip).
func (r *Report) repairedRollback() (failed int, byHand []string) {
	for _, is := range r.Issues {
		if strings.HasPrefix(is.Message, "compensation failed") {
			failed += is.Times()
		}
	}
	for _, p := range r.Phases {
		if p.State == PhaseUndoneByHand {
			byHand = append(byHand, p.Phase)
		}
	}
	return failed, byHand
}

// currentName returns the name of the current phase.
func (r *Report) currentName() string {
	if r.CurrentIndex < 0 || r.CurrentIndex >= len(r.Phases) {
		return ""
	}
	return r.Phases[r.CurrentIndex].Phase
}

func (r *Report) nextSteps() []string {
	name := r.Name
	switch r.Status {
	case StatusCompleted:
		return []string{"none: the migration is complete"}
	case StatusRolledBack:
		if by, reason, ok := r.RequestedRollback(); ok {
			check := "check the legacy side serves as before (traffic, data), and tell the teams that depend on it"
			if r.inPlaceSchemaChange() {
				// No legacy side: the table was changed where it is.
				check = fmt.Sprintf("check the application reads and writes the schema as it was before the expand "+
					"(each expand phase's line says what its rollback did; anything left: godwit cleanup %s --dry-run), and tell the teams that depend on it", name)
			}
			first := fmt.Sprintf("nothing failed: the rollback was %s, and every completed phase that could be undone was", RequestText(by, reason))
			if failed, byHand := r.repairedRollback(); failed > 0 || len(byHand) > 0 {
				// A compensation failed and a person repaired the
				// rollback (rollback --retry or --skip): "nothing failed"
				// was not so.
				first = fmt.Sprintf("the rollback was %s; %s failed on the way and was repaired by a person (see issues)",
					RequestText(by, reason), Count(failed, "compensation"))
				if len(byHand) > 0 {
					first += fmt.Sprintf("; %s marked undone by hand, not by Godwit: check %s really is",
						strings.Join(byHand, ", "), map[bool]string{true: "it", false: "each"}[len(byHand) == 1])
				}
				first += "; every other completed phase that could be undone was"
			}
			return []string{
				first,
				check,
				"when what made you roll back is dealt with, start again: godwit start -f <spec>",
			}
		}
		return []string{"find the cause (see error and issues), fix it, then start again: godwit start -f <spec>"}
	case StatusRollbackFailed:
		return []string{
			"the rollback did not finish: undo the phases marked COMPENSATION_FAILED by hand (see their errors)",
			"then start again once the systems are consistent: godwit start -f <spec>",
		}
	case StatusFailed:
		return []string{"find the cause (see error and issues); nothing was rolled back automatically"}
	case StatusRollingBack:
		if by, reason, ok := r.RequestedRollback(); ok {
			return []string{fmt.Sprintf("the rollback was %s; wait for the compensations to finish: godwit status %s --watch", RequestText(by, reason), name)}
		}
		return []string{"wait for the compensations to finish: godwit status " + name + " --watch"}
	case StatusRollbackBlocked:
		blocked := r.currentName()
		return []string{
			fmt.Sprintf("the compensation of %s failed for good (see its error); fix the cause, then retry it: godwit rollback %s --retry", blocked, name),
			fmt.Sprintf("or, having undone %s by hand: godwit rollback %s --skip %s", blocked, name, blocked),
			fmt.Sprintf("or give up and end the migration as ROLLBACK_FAILED: godwit rollback %s --abandon", name),
		}
	case StatusWaitingWindow:
		return []string{
			fmt.Sprintf("phase %s waits for its window %s, which opens at %s (in %s)", r.currentName(), r.Window,
				r.WindowOpens.UTC().Format("2006-01-02 15:04 MST"), r.WindowOpens.Sub(r.UpdatedTime).Round(time.Minute)),
			fmt.Sprintf("to start it now anyway: godwit approve %s --gate window --reason \"...\"", name),
			fmt.Sprintf("or roll back: godwit rollback %s --reason \"...\"", name),
		}
	case StatusWaitingApproval:
		approve := fmt.Sprintf("approve gate %q to continue: godwit approve %s --gate %s", r.WaitingGate, name, r.WaitingGate)
		if r.CurrentIndex >= 0 && r.CurrentIndex < len(r.Phases) && r.Phases[r.CurrentIndex].Driver == "contract" {
			// The gate is where the old shape goes for good: say what must
			// hold first, not only how to open it.
			approve = fmt.Sprintf("approve gate %q once no code reads or writes what the contract removes (the new code is out everywhere; "+
				"the contract is the point of no return, no rollback after it): godwit approve %s --gate %s", r.WaitingGate, name, r.WaitingGate)
		}
		steps := []string{approve}
		if r.Paused {
			steps = append(steps, "the migration is also paused: after approval it waits for godwit resume "+name)
		}
		return append(steps, fmt.Sprintf("or roll back: godwit rollback %s --reason \"...\"", name))
	}
	var steps []string
	if r.Paused {
		steps = append(steps, "resume to continue: godwit resume "+name)
	} else if p := r.currentName(); p != "" {
		steps = append(steps, fmt.Sprintf("wait for phase %s to finish: godwit status %s --watch", p, name))
	}
	if r.Rollback == RollbackAvailable {
		steps = append(steps, fmt.Sprintf("to abort: godwit rollback %s --reason \"...\"", name))
	}
	return steps
}

// Live is what Temporal knows of the running phase's activity but the
// workflow does not: its heartbeat progress and its retries so far.
type Live struct {
	Percent     float64
	Records     int64
	Attempt     int
	MaxAttempts int    // the phase's retry policy's limit; 0: none or unknown
	LastFailure string // the previous attempt's error, "" if none
	Detail      string // the driver's progress in words, shown under the phase
	Host        string // the worker host's load in words
	// Tables is a copy's progress per table (nil for other drivers).
	Tables []TableProgress
	// Units are the running units of a fanned-out phase, one Live each
	// (the fields above are then the first one's).
	Units []UnitLive
	// Finishing: what a fanned-out phase runs once every unit is done (a
	// copy's foreign keys) is running; the fields above are its own.
	Finishing bool
}

// UnitLive is one running unit of a fanned-out phase as Temporal knows it.
type UnitLive struct {
	// Unit names it, from its heartbeat; "" before its first one.
	Unit string
	Live
}

// PhaseEnd is the time a phase's duration and rate run to: its end once
// it has one; for a phase a pause stopped at its checkpoint, the run's last
// update, which is that pause's boundary (nothing changes a paused run's
// report while it waits); otherwise now. Counting to now made a paused
// copy read "51s, 55000 records at 1075/s" after 18 s of work at 3,000
// rows/s, its duration growing and its rate falling while nothing ran.
// A phase whose hold the report records (Pauses) runs to now: its
// working time leaves the hold out, and its paused time grows.
func (r *Report) PhaseEnd(p PhaseReport, now time.Time) time.Time {
	switch {
	case !p.EndTime.IsZero():
		return p.EndTime
	case p.holding():
		return now
	case p.State == PhasePaused && r.UpdatedTime.After(p.StartTime) && r.UpdatedTime.Before(now):
		return r.UpdatedTime
	}
	return now
}

// ShowPaused marks the running phase PAUSED while the run is paused: no
// activity runs then, and RUNNING at the progress it stopped at would read
// as a copy that hangs.
func (r *Report) ShowPaused() {
	if r.Status != StatusPaused || r.CurrentIndex < 0 || r.CurrentIndex >= len(r.Phases) {
		return
	}
	if p := &r.Phases[r.CurrentIndex]; p.State == PhaseRunning {
		p.State = PhasePaused
	}
}

// MergeIdleUnits is MergeLive for a fanned-out phase none of whose units
// reports live progress now (between two units, or before the first
// heartbeat): its rows of the planned total still head its detail, as
// when its units report. Other phases are left as they are.
func (r *Report) MergeIdleUnits() {
	if r.CurrentIndex < 0 || r.CurrentIndex >= len(r.Phases) {
		return
	}
	if p := &r.Phases[r.CurrentIndex]; p.Units > 0 && (p.State == PhaseRunning || p.State == PhasePaused) {
		p.mergeUnits(nil)
	}
}

// MergeLive adds the running phase's live progress to the report, so a
// long phase shows movement and retries show up as they happen rather than
// only when retries run out.
func (r *Report) MergeLive(live Live, now time.Time) {
	if r.CurrentIndex < 0 || r.CurrentIndex >= len(r.Phases) {
		return
	}
	p := &r.Phases[r.CurrentIndex]
	// A phase shown PAUSED whose activity still runs is stopping at its
	// next checkpoint (the pause just came): its live progress is the
	// one to show, not the 0 the workflow has until the activity returns.
	running := p.State == PhaseRunning || p.State == PhasePaused
	if !running && p.State != PhaseCompensating {
		return
	}
	if p.Units > 0 && running && live.Finishing {
		// Every unit is done; a step that retries here (a foreign key
		// the copied rows break) is the phase's, and must show: the
		// units alone read as all done with the phase still running.
		p.mergeUnits(nil)
		what := "finishing the phase after its units"
		if d, _, _ := strings.Cut(live.Detail, "\n"); d != "" {
			what += ": " + d
		}
		p.Detail = strings.TrimPrefix(p.Detail+"\n"+what, "\n")
		p.Attempts = max(p.Attempts, live.Attempt)
		if live.LastFailure != "" && live.Attempt > 1 {
			p.FailedAttempts += live.Attempt - 1
			p.Error = fmt.Sprintf("after its units: attempt %d failed, retrying: %s", live.Attempt-1, live.LastFailure)
		}
		r.WorkerLoad = live.Host
		r.Refresh(now)
		if live.LastFailure != "" && live.Attempt > 1 && r.Status == StatusInProgress {
			r.NextSteps = append([]string{retryingStep(p.Phase, live)}, r.NextSteps...)
		}
		return
	}
	if p.Units > 0 && running {
		p.mergeUnits(live.Units)
		r.stopping(p)
		r.WorkerLoad = live.Host
		r.Refresh(now)
		return
	}
	if running {
		p.Progress = min(p.stepProgress(live.Percent), 99.9) // 100 only once it completed
		p.Records = live.Records
		p.Detail = live.Detail
		p.Tables = live.Tables
		r.stopping(p)
	}
	r.WorkerLoad = live.Host
	p.Attempts = live.Attempt
	if live.LastFailure != "" {
		p.Error = fmt.Sprintf("attempt %d failed, retrying: %s", live.Attempt-1, live.LastFailure)
	}
	r.Refresh(now)
	if live.LastFailure != "" && running && r.Status == StatusInProgress {
		r.NextSteps = append([]string{retryingStep(p.Phase, live)}, r.NextSteps...)
	}
}

// retryingStep is the next step of a phase whose attempts fail: "wait for
// it to finish" alone read as if nothing needed doing while a trial's
// shift retried on a gateway replica that had been killed, and ran out of
// attempts before anyone started it again.
func retryingStep(phase string, live Live) string {
	of := fmt.Sprintf("attempt %d of %d", live.Attempt, live.MaxAttempts)
	if live.MaxAttempts <= 0 {
		of = fmt.Sprintf("attempt %d", live.Attempt)
	}
	if strings.Contains(strings.ToLower(live.LastFailure), "heartbeat timeout") {
		// The attempt's worker went away; the service it drove did not
		// fail (a trial's killed worker read as "start a service again").
		return fmt.Sprintf("phase %s's attempt %d stopped sending heartbeats (its worker was killed, lost its connection or hung) and %s "+
			"took it over (from its last checkpoint, if it keeps one): keep godwit-worker running on the task queue; if attempts keep timing out, "+
			"read the workers' logs before the attempts run out, or the phase fails and the migration rolls back", phase, live.Attempt-1, of)
	}
	return fmt.Sprintf("phase %s is retrying (%s) after the error shown under it: fix what it names (a gateway replica, service or database "+
		"that does not answer: start it again) before the attempts run out, or the phase fails and the migration rolls back", phase, of)
}

// stopping replaces the live rates of running phase p whose activity a
// rollback is cancelling (it ends at its next checkpoint): its last
// heartbeat's rows/s and ETA would read as a copy still moving. Its rows
// and progress stay: they are where it stops. (A pause is left alone: a
// phase that cannot stop at a checkpoint runs on to its end under it.)
func (r *Report) stopping(p *PhaseReport) {
	if r.Status != StatusRollingBack && !r.Status.Final() {
		return
	}
	tables := make([]TableProgress, len(p.Tables))
	for k, t := range p.Tables {
		t.RowsPerSecond, t.ETASeconds = 0, 0
		tables[k] = t
	}
	if len(tables) > 0 {
		p.Tables = tables
	}
	if p.Detail != "" || len(p.Tables) > 0 {
		p.Detail = fmt.Sprintf("stopping: the rollback cancelled it; it ends at its next checkpoint, %s in", Count(int(p.Records), "record"))
	}
}

// stepProgress is the phase's progress when its running activity is at
// percent: of a multi-step phase, the steps done plus the running step's
// share (a traffic analysis's heartbeat counts its samples, not the
// phase's steps, and shown as is the bar would jump back at every step);
// of any other phase, percent itself.
func (p PhaseReport) stepProgress(percent float64) float64 {
	percent = min(max(percent, 0), 100)
	var k, n int
	if _, err := fmt.Sscanf(p.Step, "%d of %d", &k, &n); err != nil || p.Steps <= 1 || n != p.Steps || k < 1 || k > n {
		return percent
	}
	return 100 * (float64(k-1) + percent/100) / float64(n)
}

// Headline is a few lines a person can take in at a glance: the Temporal UI
// shows it as the run's current details.
//
// The Temporal UI renders it as Markdown, so it is a list (plain lines
// would run together) and commands are code spans (`--gate` would become
// an en dash and `<spec>` would vanish).
func (r *Report) Headline() string {
	var b strings.Builder
	fmt.Fprintf(&b, "- **%s**: phase %s, %.0f%% done\n", r.Status, MarkdownText(r.CurrentPhase), r.OverallProgress)
	fmt.Fprintf(&b, "- rollback %s, risk %s\n", r.Rollback, r.Risk)
	if by, reason, ok := r.RequestedRollback(); ok {
		fmt.Fprintf(&b, "- rollback %s\n", MarkdownText(RequestText(by, reason)))
	}
	if len(r.NextSteps) > 0 {
		fmt.Fprintf(&b, "- next: %s\n", MarkdownCommand(r.NextSteps[0]))
	}
	b.WriteString(r.gateHeadline())
	return b.String()
}

// gateHeadline is what the person at a gate inside a phase must see (a
// Terraform plan: what the apply will add, change and destroy) and where
// to read it in full, values included; "" when no such gate waits.
func (r *Report) gateHeadline() string {
	if r.WaitingGate == "" || r.CurrentIndex < 0 || r.CurrentIndex >= len(r.Phases) {
		return ""
	}
	p := r.Phases[r.CurrentIndex]
	if p.State != PhaseRunning || p.Summary == "" {
		return "" // a gate before its phase: nothing of the phase ran yet
	}
	return fmt.Sprintf("- gate %s shows %s: %s\n- what it printed (a Terraform plan in full, with its values): `godwit output %s %s`\n",
		MarkdownText(r.WaitingGate), MarkdownText(p.Phase), MarkdownText(p.Summary), r.Name, p.Phase)
}

// MarkdownCommand writes a next step for Markdown: the godwit command it
// ends with as a code span, the words before it escaped.
func MarkdownCommand(step string) string {
	i := strings.Index(step, "godwit ")
	if i < 0 {
		return MarkdownText(step)
	}
	cmd := strings.TrimRight(step[i:], ".")
	return MarkdownText(step[:i]) + "`" + strings.ReplaceAll(cmd, "`", "'") + "`"
}

// MarkdownText escapes the characters Markdown would read as markup.
func MarkdownText(s string) string {
	return markdownEscaper.Replace(s)
}

var markdownEscaper = strings.NewReplacer(`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "<", `&lt;`, ">", `&gt;`, "[", `\[`, "]", `\]`, "#", `\#`, "|", `\|`)

// ReplicationLag is how far a replication's target was behind its source
// when a replicate phase last measured it.
type ReplicationLag struct {
	// Phase is the replicate phase that measured it.
	Phase string `json:"phase,omitempty"`
	// Seconds is the effective lag: the greater of the oldest unapplied
	// change's age and the time the pending changes take at the apply rate.
	Seconds float64 `json:"seconds"`
	// Changes are the changes captured and not yet applied.
	Changes int64 `json:"changes"`
	// Measured is when (the worker's clock; the workflow's once recorded).
	Measured time.Time `json:"measured"`
	// Reverse marks the lag of a cut-over's reverse replication (From is
	// new, To legacy), measured while it keeps legacy current after the
	// cut-over; Phase is then the cut-over phase.
	Reverse bool   `json:"reverse,omitempty"`
	From    string `json:"from,omitempty"`
	To      string `json:"to,omitempty"`
}

// CutOverAfterLag names the cut-over phase (driver "cutover") that started
// after Replication was measured, and when it started; "" when none did,
// or when Replication is the reverse replication's (Reverse). From the
// cut-over on writes go to new and the forward replication that lag
// measured is over: the figure is history. Runs since the workflow
// change reverse-lag measure the reverse replication (new → legacy) the
// cut-over set up from then on, while it keeps legacy current; in older
// runs no phase measures it (its changes wait in the capture on new until
// a rollback or a replicate stop applies them).
func (r *Report) CutOverAfterLag() (string, time.Time) {
	l := r.Replication
	if l == nil || l.Reverse {
		return "", time.Time{}
	}
	for _, p := range r.Phases {
		if p.Driver == "cutover" && !p.StartTime.IsZero() && !l.Measured.After(p.StartTime) {
			return p.Phase, p.StartTime
		}
	}
	return "", time.Time{}
}

// ReplicationFailure is a replication whose attempts fail one after the
// other: which, since when, how often and the last error.
type ReplicationFailure struct {
	// Phase is the replicate phase whose replication fails.
	Phase string `json:"phase"`
	// Since is when the first failed attempt in a row ended, Last the
	// latest (the workflow's clock).
	Since time.Time `json:"since"`
	Last  time.Time `json:"last"`
	// Attempts counts the failed attempts in a row.
	Attempts int    `json:"attempts"`
	Error    string `json:"error"`
}

// NoteReplicationFailure records a failed attempt of phase's replication
// at now: the first of a row starts a new ReplicationFailing.
func (r *Report) NoteReplicationFailure(now time.Time, phase, err string) {
	f := r.ReplicationFailing
	if f == nil || f.Phase != phase {
		f = &ReplicationFailure{Phase: phase, Since: now}
		r.ReplicationFailing = f
	}
	f.Attempts++
	f.Last, f.Error = now, ClipIssueMessage(err)
}

// Duration is Seconds as a time.Duration.
func (l ReplicationLag) Duration() time.Duration {
	return time.Duration(l.Seconds * float64(time.Second))
}
