package migration

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// MaxPhasePauses bounds the pause spans a phase keeps, so a run paused and
// resumed over and over keeps a bounded report (and history).
const MaxPhasePauses = 20

// MaxPauseReason bounds a pause's reason, in bytes, like an issue's message.
const MaxPauseReason = 512

// SetPause records who paused the run, why and since when; a pause while
// paused replaces who and why and keeps since when.
func (r *Report) SetPause(by, reason string, now time.Time) {
	if len(reason) > MaxPauseReason {
		cut := MaxPauseReason - len("…")
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut] + "…"
	}
	r.PausedBy, r.PauseReason = by, reason
	if r.PausedSince.IsZero() {
		r.PausedSince = now
	}
}

// ClearPause forgets who paused the run, once it is resumed.
func (r *Report) ClearPause() {
	r.PausedBy, r.PauseReason, r.PausedSince = "", "", time.Time{}
}

// PauseText says who paused the run, since when and why, to follow the
// word "Paused": "by ana since 2026-12-07 17:02:00 UTC (20m0s ago):
// waiting for DBA"; "" when the run is not paused or the report does not
// know (runs from before it was kept).
func (r *Report) PauseText(now time.Time) string {
	if !r.Paused || r.PausedSince.IsZero() {
		return ""
	}
	s := ""
	if r.PausedBy != "" {
		s = "by " + r.PausedBy + " "
	}
	s += fmt.Sprintf("since %s (%s ago)", r.PausedSince.UTC().Format("2006-01-02 15:04:05 MST"), max(0, now.Sub(r.PausedSince)).Round(time.Second))
	if r.PauseReason != "" {
		s += ": " + r.PauseReason
	} else {
		s += " (no reason given)"
	}
	return s
}

// HoldStarted records that a pause holds the phase from now on.
func (p *PhaseReport) HoldStarted(now time.Time) {
	if len(p.Pauses) >= MaxPhasePauses {
		// The oldest hold has ended (only the last can go on) and lies
		// inside the phase: its time is kept, its bounds dropped.
		p.EarlierPausedSeconds += p.Pauses[0].End.Sub(p.Pauses[0].Start).Seconds()
		p.Pauses = append(p.Pauses[:0:0], p.Pauses[1:]...)
	}
	p.Pauses = append(p.Pauses, PauseSpan{Start: now})
}

// HoldEnded records that the hold going on ended now.
func (p *PhaseReport) HoldEnded(now time.Time) {
	if k := len(p.Pauses) - 1; k >= 0 && p.Pauses[k].End.IsZero() {
		p.Pauses[k].End = now
	}
}

// holding says a pause holds the phase now.
func (p PhaseReport) holding() bool {
	return len(p.Pauses) > 0 && p.Pauses[len(p.Pauses)-1].End.IsZero()
}

// PausedTime is how long the phase was held by pauses between its start
// and end (what End returned): a hold still going on counts to end, and a
// hold after the phase's end (a stopped phase rolled back while held) not
// at all.
func (p PhaseReport) PausedTime(end time.Time) time.Duration {
	total := time.Duration(p.EarlierPausedSeconds * float64(time.Second))
	for _, s := range p.Pauses {
		from, to := s.Start, s.End
		if to.IsZero() || to.After(end) {
			to = end
		}
		if from.Before(p.StartTime) {
			from = p.StartTime
		}
		if to.After(from) {
			total += to.Sub(from)
		}
	}
	return total
}

// WorkingTime is the phase's duration to end (what End returned) less the
// time a pause held it.
func (p PhaseReport) WorkingTime(end time.Time) time.Duration {
	return max(0, end.Sub(p.StartTime)-p.PausedTime(end))
}

// DurationText is the phase's duration to end (what End returned), the
// time a pause held it apart: "4m12s (paused 30m0s)", or "4m12s".
func (p PhaseReport) DurationText(end time.Time) string {
	text := p.WorkingTime(end).Round(100 * time.Millisecond).String()
	if paused := p.PausedTime(end); paused > 0 {
		text += fmt.Sprintf(" (paused %s)", paused.Round(time.Second))
	}
	return text
}
