package migration

import (
	"fmt"
	"strings"
	"time"
)

// Summary is a compact copy of a report, kept where a reader needs no
// worker (the Migration workflow's memo) and refreshed at phase boundaries
// only: a phase started or ended, a gate waits, the run paused or ended.
// Between boundaries it lags the live report (a copy's rows, a step).
type Summary struct {
	Status Status `json:"status"`
	// Phase is the phase running or about to run ("" before the first and
	// after the last); PhaseIndex its 0-based index (-1 then) of PhaseCount.
	Phase      string `json:"phase,omitempty"`
	PhaseIndex int    `json:"phaseIndex"`
	PhaseCount int    `json:"phaseCount"`
	// PhaseState is the current phase's state at the boundary.
	PhaseState PhaseState `json:"phaseState,omitempty"`
	// Step is the current phase's step, "k of n: name", when known.
	Step string `json:"step,omitempty"`
	// Gate is the gate waiting for approval, if any.
	Gate     string  `json:"gate,omitempty"`
	Progress float64 `json:"progress"` // overall percent at the boundary
	Risk     string  `json:"risk,omitempty"`
	// Error is the run's or the current phase's last error, on one line.
	Error string `json:"error,omitempty"`
	// RequestedRollback says a person asked for the rollback (it is not a
	// failure), as Report.RequestedRollback.
	RequestedRollback bool      `json:"requestedRollback,omitempty"`
	UpdatedAt         time.Time `json:"updatedAt"`
}

// maxSummaryError bounds the error a summary keeps, so the memo stays small.
const maxSummaryError = 300

// Summary returns the report's summary as of now. Its error is the report's
// own (activities redact errors before they reach the report).
func (r *Report) Summary(now time.Time) Summary {
	s := Summary{
		Status: r.Status, PhaseIndex: r.CurrentIndex, PhaseCount: len(r.Phases),
		Gate: r.WaitingGate, Progress: r.OverallProgress, Risk: r.Risk,
		Error: r.Error, UpdatedAt: now,
	}
	if i := r.CurrentIndex; i >= 0 && i < len(r.Phases) {
		p := r.Phases[i]
		s.Phase, s.PhaseState, s.Step = p.Phase, p.State, p.Step
		if s.Error == "" {
			s.Error = p.Error
		}
	} else {
		s.PhaseIndex = -1
	}
	s.Error = oneLine(s.Error, maxSummaryError)
	_, _, s.RequestedRollback = r.RequestedRollback()
	return s
}

// Boundary is what must change for a summary to be worth recording again:
// not a step, not progress, not the time.
func (s Summary) Boundary() string {
	return fmt.Sprintf("%s|%d|%s|%s|%s", s.Status, s.PhaseIndex, s.PhaseState, s.Gate, s.Error)
}

// Lines returns the summary as "label: value" lines for a person, the
// error last.
func (s Summary) Lines() []string {
	phase := s.PhaseText()
	if s.Phase != "" && s.PhaseState != "" {
		phase += " (" + string(s.PhaseState) + ")"
	}
	lines := []string{"Status: " + string(s.Status), "Phase: " + phase}
	if s.Gate != "" {
		lines = append(lines, "Waiting gate: "+s.Gate)
	}
	lines = append(lines, fmt.Sprintf("Overall progress: %.1f%%", s.Progress))
	if s.Risk != "" {
		lines = append(lines, "Risk: "+s.Risk)
	}
	if s.Error != "" {
		lines = append(lines, "Last error: "+s.Error)
	}
	return lines
}

// PhaseText is the current phase as the report writes it ("3 of 5: copy,
// step 2 of 4: batch").
func (s Summary) PhaseText() string {
	n := s.PhaseCount
	switch {
	case n == 0:
		return "none"
	case s.Phase == "" && s.Status == StatusCompleted:
		return fmt.Sprintf("%d of %d: done", n, n)
	case s.Phase == "" && s.Status.Final():
		return fmt.Sprintf("none: %s", strings.ToLower(strings.ReplaceAll(string(s.Status), "_", " ")))
	case s.Phase == "":
		return fmt.Sprintf("0 of %d: not started", n)
	}
	text := fmt.Sprintf("%d of %d: %s", s.PhaseIndex+1, n, s.Phase)
	if s.Step != "" && (s.PhaseState == PhaseRunning || s.PhaseState == PhasePending) {
		text += ", " + StepWords(s.Step)
	}
	return text
}

// oneLine folds text onto one line and cuts it to max runes.
func oneLine(text string, max int) string {
	text = strings.Join(strings.Fields(text), " ")
	if r := []rune(text); len(r) > max {
		text = string(r[:max-1]) + "…"
	}
	return text
}
