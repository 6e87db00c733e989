package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/godwit/godwit/migration"
)

// stallAfter is how long a wait goes on while the run shows no change at
// all: a bound on liveness, not a speed check. A loaded machine (load 15
// on two cores) slows a run down but does not stop it moving.
const stallAfter = 5 * time.Minute

// waitWhileMoving polls cond until it holds. It waits as long as the run's
// report keeps changing (status, phase, step, progress, records, the
// running phase's detail), and fails only when nothing has changed for
// stallAfter (or at once when the run has ended), saying what it waited
// for and what it saw last.
func waitWhileMoving(t *testing.T, what string, report func() migration.Report, cond func(migration.Report) bool) migration.Report {
	t.Helper()
	last, since := "", time.Now()
	for {
		rep := report()
		if cond(rep) {
			return rep
		}
		if rep.Status.Final() {
			// An ended run changes no more: what it waits for will not come.
			t.Fatalf("waited for %s; the run ended first: %s", what, describeReport(rep))
		}
		if key := movement(rep); key != last {
			last, since = key, time.Now()
		}
		if time.Since(since) > stallAfter {
			t.Fatalf("waited for %s; the run showed no change for %s; it was: %s", what, stallAfter, describeReport(rep))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// movement is what changes while a run makes progress.
func movement(r migration.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%s|%d", r.Status, r.CurrentPhase, r.WaitingGate, len(r.Issues))
	for _, p := range r.Phases {
		fmt.Fprintf(&b, "|%s %.1f %d %d %s %s", p.State, p.Progress, p.Records, p.Attempts, p.Step, p.Detail)
	}
	return b.String()
}

// describeReport says where a run stands, for a failure message.
func describeReport(r migration.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "status %s at %s", r.Status, r.CurrentPhase)
	if r.WaitingGate != "" {
		fmt.Fprintf(&b, ", waiting at gate %s", r.WaitingGate)
	}
	for _, p := range r.Phases {
		fmt.Fprintf(&b, "; %s %s %.0f%%", p.Phase, p.State, p.Progress)
		if p.Detail != "" {
			fmt.Fprintf(&b, " (%s)", p.Detail)
		}
		if p.Error != "" {
			fmt.Fprintf(&b, " error: %s", p.Error)
		}
	}
	if r.Error != "" {
		fmt.Fprintf(&b, "; error: %s", r.Error)
	}
	for _, is := range r.Issues {
		fmt.Fprintf(&b, "; issue: %s %s", is.Severity, is.Message)
	}
	return b.String()
}
