package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/migration"
)

var t0 = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)

func filledBar(filled, width int) string {
	return "[" + strings.Repeat("█", filled) + strings.Repeat("░", width-filled) + "]"
}

// runningReport is a migration in its second of three phases, copy at 50%,
// so the overall progress is (100 + 50 + 0) / 3 = 50%.
func runningReport() (*migration.Report, time.Time) {
	r := migration.NewReport("orders", "Move orders to PG",
		[]migration.Phase{migration.PhaseValidate, migration.PhaseCopy, migration.PhaseShiftTraffic},
		map[migration.Phase]string{migration.PhaseShiftTraffic: "go-live"}, t0)
	r.Phases[0] = migration.PhaseReport{
		Phase: string(migration.PhaseValidate), Kind: migration.PhaseValidate, State: migration.PhaseCompleted, Progress: 100,
		StartTime: t0, EndTime: t0.Add(1500 * time.Millisecond), Attempts: 3,
		Summary: "legacy has 1000 rows",
	}
	r.Phases[1] = migration.PhaseReport{
		Phase: string(migration.PhaseCopy), Kind: migration.PhaseCopy, State: migration.PhaseRunning, Progress: 50,
		StartTime: t0.Add(2 * time.Second), Attempts: 1, Records: 500,
		Summary: "copied 500 of 1000 rows",
	}
	r.CurrentIndex = 1
	now := t0.Add(5 * time.Minute)
	r.Refresh(now)
	return r, now
}

// rolledBackReport ended ROLLED_BACK after copy failed: one phase of each
// of the other marks.
func rolledBackReport() (*migration.Report, time.Time) {
	r := migration.NewReport("orders", "",
		[]migration.Phase{migration.PhaseValidate, migration.PhaseProvision, migration.PhaseCopy,
			migration.PhaseShiftTraffic, migration.PhaseReconcile},
		map[migration.Phase]string{migration.PhaseShiftTraffic: "go-live"}, t0)
	r.Phases[0].State, r.Phases[0].Progress = migration.PhaseCompleted, 100
	r.Phases[1].State, r.Phases[1].Progress = migration.PhaseCompensated, 100
	r.Phases[2] = migration.PhaseReport{
		Phase: string(migration.PhaseCopy), Kind: migration.PhaseCopy, State: migration.PhaseFailed, Progress: 20,
		StartTime: t0.Add(time.Minute), EndTime: t0.Add(2 * time.Minute), Attempts: 2, Records: 200,
		Summary: "copied 200 of 1000 rows", // hidden by the error
		Error:   "exit status 1: disk full",
	}
	r.Phases[3] = migration.PhaseReport{
		Phase: string(migration.PhaseShiftTraffic), Kind: migration.PhaseShiftTraffic, State: migration.PhaseCancelled, Gate: "go-live", ApprovedBy: "alice",
	}
	r.Phases[4].State = migration.PhaseCompFailed
	r.Status = migration.StatusRolledBack
	r.Error = "phase copy failed: exit status 1: disk full"
	r.RollbackNote = "phase copy failed"
	r.AddIssue(t0.Add(2*time.Minute), string(migration.PhaseCopy), migration.SeverityError, "copy failed: disk full")
	r.EndTime = t0.Add(62*time.Minute + 3*time.Second)
	r.CurrentIndex = -1
	now := r.EndTime
	r.Refresh(now)
	return r, now
}

// liveDemoReport is the live demo's run once its rows were compared: 3
// tables created, 100,000 rows copied, the same rows compared by a hook.
func liveDemoReport() (*migration.Report, time.Time) {
	r := migration.NewPlannedReport("live-demo", "", []migration.PlannedPhase{
		{Name: "provision", Kind: migration.PhaseProvision, Driver: "provision"},
		{Name: "copy", Kind: migration.PhaseCopy, Driver: "copy"},
		{Name: "reconcile", Kind: migration.PhaseReconcile, Driver: "hook"},
		{Name: "shift-traffic", Kind: migration.PhaseShiftTraffic, Driver: "traffic", Gate: "go-live"},
	}, t0)
	for i, n := range []int64{3, 100000, 100000} {
		r.Phases[i].State, r.Phases[i].Progress, r.Phases[i].Attempts, r.Phases[i].Records = migration.PhaseCompleted, 100, 1, n
	}
	r.Status, r.WaitingGate, r.CurrentIndex = migration.StatusWaitingApproval, "go-live", 3
	now := t0.Add(10 * time.Minute)
	r.Refresh(now)
	return r, now
}

// cutOverReport is a run waiting at its decommission gate after a
// cut-over: 2,000 rows copied, 108 changes applied by the replicate phase
// and 3 by the cut-over's catch-up (once shown as 2111 records copied).
func cutOverReport() (*migration.Report, time.Time) {
	r := migration.NewPlannedReport("cutover", "", []migration.PlannedPhase{
		{Name: "provision", Kind: migration.PhaseProvision, Driver: "provision"},
		{Name: "capture", Kind: migration.PhaseProvision, Driver: "replicate"},
		{Name: "copy", Kind: migration.PhaseCopy, Driver: "copy"},
		{Name: "replicate", Kind: migration.PhaseCopy, Driver: "replicate"},
		{Name: "writes", Kind: migration.PhaseShiftTraffic, Driver: "cutover", Gate: "cut-over"},
		{Name: "stop-replication", Kind: migration.PhaseDecommission, Driver: "replicate", Gate: "decommission"},
	}, t0)
	for i, n := range []int64{1, 3, 2000, 108, 3} {
		r.Phases[i].State, r.Phases[i].Progress, r.Phases[i].Attempts, r.Phases[i].Records = migration.PhaseCompleted, 100, 1, n
	}
	r.Status, r.WaitingGate, r.CurrentIndex = migration.StatusWaitingApproval, "decommission", 5
	now := t0.Add(10 * time.Minute)
	r.Refresh(now)
	return r, now
}

func waitingReport() (*migration.Report, time.Time) {
	r := migration.NewReport("orders", "",
		[]migration.Phase{migration.PhaseCopy, migration.PhaseShiftTraffic},
		map[migration.Phase]string{migration.PhaseShiftTraffic: "go-live"}, t0)
	r.Phases[0].State, r.Phases[0].Progress = migration.PhaseCompleted, 100
	r.Status = migration.StatusWaitingApproval
	r.WaitingGate = "go-live"
	r.CurrentIndex = 1
	now := t0.Add(time.Hour)
	r.Refresh(now)
	return r, now
}

// pausedReport is runningReport paused during its copy.
func pausedReport() (*migration.Report, time.Time) {
	r, now := runningReport()
	r.Status, r.Paused = migration.StatusPaused, true
	r.ShowPaused()
	r.Refresh(now)
	return r, now
}

// lineWith returns the one line of out that contains s.
func lineWith(t *testing.T, out, s string) string {
	t.Helper()
	var found []string
	for l := range strings.SplitSeq(out, "\n") {
		if strings.Contains(l, s) {
			found = append(found, l)
		}
	}
	require.Len(t, found, 1, "lines containing %q in:\n%s", s, out)
	return found[0]
}

func TestRenderText(t *testing.T) {
	tests := []struct {
		name   string
		report func() (*migration.Report, time.Time)
		// lines must each be a whole line of the output.
		lines []string
		// contains must each be in the output, absent must not.
		contains, absent []string
		// marks maps a phase line's "N. phase" to its mark.
		marks map[string]string
	}{
		{
			name:   "running",
			report: runningReport,
			lines: []string{
				"Migration orders — IN_PROGRESS",
				"  Move orders to PG",
				"  Started    " + t0.Local().Format(time.DateTime) + " (5m0s ago)",
				"  Phase      2 of 3: copy",
				"  Progress   " + filledBar(15, 30) + "  50.0%",
				"  Rollback   AVAILABLE",
				"        legacy has 1000 rows",
				"        copied 500 of 1000 rows",
				"  Records copied 500   Rate 100 records/min   Error rate 0.0%   Issues 0",
				"  Attempts 4, 2 failed (an attempt retried well is no failed work: not in the error rate)",
				"Next steps",
				"  - wait for phase copy to finish: godwit status orders --watch",
				`  - to abort: godwit rollback orders --reason "..."`,
			},
			contains: []string{
				filledBar(20, 20) + " 100.0%  COMPLETED           1.5s, 3 attempts",
				filledBar(10, 20) + "  50.0%  RUNNING             4m58s, 500 records",
				filledBar(0, 20) + "   0.0%  PENDING             gate go-live\n",
			},
			absent: []string{"Ended", "\nIssues", "Waiting", "Error  ", "error:", "approved by"},
			marks:  map[string]string{"1. validate": "✓", "2. copy": "▶", "3. shift-traffic": "·"},
		},
		{
			name:   "rolled back",
			report: rolledBackReport,
			lines: []string{
				"Migration orders — ROLLED_BACK",
				"  Ended      " + t0.Add(62*time.Minute+3*time.Second).Local().Format(time.DateTime) + " (took 1h2m3s)",
				"  Rollback   DONE (phase copy failed)",
				"  Error      phase copy failed: exit status 1: disk full",
				"        error: exit status 1: disk full",
				"Issues",
				"  " + t0.Add(2*time.Minute).Local().Format(time.TimeOnly) + " ERROR   copy copy failed: disk full",
				"Next steps",
			},
			contains: []string{
				"gate go-live approved by alice",
				"COMPLETED",
				"FAILED              1m0s, 2 attempts, 200 records at 3/s\n",
				"  Records copied 200   Rate 3 records/min   Error rate 100.0%   Issues 1",
			},
			absent: []string{"copied 200 of 1000 rows", "Waiting"},
			marks: map[string]string{
				"1. validate": "✓", "2. provision": "↺", "3. copy": "✗",
				"4. shift-traffic": "■", "5. reconcile": "✗",
			},
		},
		{
			name:   "copied and compared rows apart",
			report: liveDemoReport,
			lines: []string{
				"  Records copied 100000   Records compared 100000   Rate 10000 records/min   Error rate 0.0%   Issues 0",
			},
			absent: []string{"200003", "200000"},
			marks:  map[string]string{"1. provision": "✓", "2. copy": "✓", "3. reconcile": "✓"},
		},
		{
			name:   "changes applied apart from rows copied",
			report: cutOverReport,
			lines: []string{
				"  Records copied 2000   Changes applied 111   Rate 200 records/min   Error rate 0.0%   Issues 0",
			},
			absent: []string{"Records copied 2111", "Records copied 2112", "Records copied 2115"},
		},
		{
			name:   "waiting for approval",
			report: waitingReport,
			lines: []string{
				"Migration orders — WAITING_APPROVAL",
				"  Waiting    for approval of gate \"go-live\" before phase shift-traffic; to continue: godwit approve orders --gate go-live",
				"  Phase      2 of 2: shift-traffic",
				"  Progress   " + filledBar(22, 30) + "  75.0%", // the copy done weighs RowsShare
				`  - approve gate "go-live" to continue: godwit approve orders --gate go-live`,
				`  - or roll back: godwit rollback orders --reason "..."`,
			},
			absent: []string{"Ended", "\nIssues", "\n  Move", "Paused"},
			marks:  map[string]string{"1. copy": "✓", "2. shift-traffic": "·"},
		},
		{
			name:   "paused",
			report: pausedReport,
			lines: []string{
				"Migration orders — PAUSED",
				"  Paused     phase copy stopped at 50.0%; nothing runs until: godwit resume orders",
				"  - resume to continue: godwit resume orders",
			},
			absent: []string{"Waiting"},
			marks:  map[string]string{"2. copy": "‖"},
		},
		{
			name: "waiting for approval while paused",
			report: func() (*migration.Report, time.Time) {
				r, now := waitingReport()
				r.Paused = true
				r.Refresh(now)
				return r, now
			},
			lines: []string{
				"  Waiting    for approval of gate \"go-live\" before phase shift-traffic; to continue: godwit approve orders --gate go-live",
				"  Paused     too: once that wait is over, nothing runs until: godwit resume orders",
			},
		},
		{
			// Rolled back while paused: the run has ended, so no resume is
			// waited for (the trial's run said "nothing runs until: godwit
			// resume" under ROLLED_BACK).
			name: "rolled back while paused",
			report: func() (*migration.Report, time.Time) {
				r, now := pausedReport()
				r.Status, r.CurrentIndex, r.EndTime = migration.StatusRolledBack, -1, now
				r.Phases[1].State = migration.PhaseCancelled
				r.Refresh(now)
				return r, now
			},
			lines:  []string{"Migration orders — ROLLED_BACK"},
			absent: []string{"Paused", "godwit resume"},
		},
		{
			name: "waiting at a gate among a phase's steps",
			report: func() (*migration.Report, time.Time) {
				r, now := waitingReport()
				r.Phases[1].State, r.Phases[1].Step = migration.PhaseRunning, "6 of 7: gate go-live"
				r.Refresh(now)
				return r, now
			},
			lines: []string{
				"  Waiting    for approval of gate \"go-live\" in phase shift-traffic; to continue: godwit approve orders --gate go-live",
			},
		},
		{
			name: "waiting for a window",
			report: func() (*migration.Report, time.Time) {
				r, now := waitingReport()
				r.Status, r.WaitingGate = migration.StatusWaitingWindow, ""
				r.Window, r.WindowOpens = "Sat 02:00-06:00 UTC", now.Add(3*time.Hour)
				r.Refresh(now)
				return r, now
			},
			lines: []string{
				"Migration orders — WAITING_WINDOW",
				"  Waiting    for the window Sat 02:00-06:00 UTC before phase shift-traffic; it starts on its own at 2025-03-14 13:00 UTC (in 3h0m0s), or now: godwit approve orders --gate window",
			},
			absent: []string{"Paused"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, now := tt.report()
			var buf bytes.Buffer
			renderText(&buf, r, now)
			out := buf.String()
			lines := strings.Split(out, "\n")
			// What the report derives is shown as it is.
			require.NotEmpty(t, r.NextSteps)
			want := append([]string{
				"  Phase      " + r.CurrentPhase,
				"  Risk       " + r.Risk,
			}, tt.lines...)
			for _, s := range r.NextSteps {
				want = append(want, "  - "+s)
			}
			for _, l := range want {
				assert.Contains(t, lines, l, "output:\n%s", out)
			}
			for _, s := range tt.contains {
				assert.Contains(t, out, s)
			}
			for _, s := range tt.absent {
				assert.NotContains(t, out, s)
			}
			for phase, mark := range tt.marks {
				assert.True(t, strings.HasPrefix(lineWith(t, out, phase), "  "+mark+" "+phase+" "),
					"phase %s should be marked %s:\n%s", phase, mark, out)
			}
			// The sections come in a fixed order.
			idx := func(s string) int { return strings.Index(out, s) }
			assert.Less(t, idx("Migration "), idx("\nPhases\n"))
			assert.Less(t, idx("\nPhases\n"), idx("\nMetrics\n"))
			if i := idx("\nIssues\n"); i >= 0 {
				assert.Less(t, idx("\nMetrics\n"), i)
				assert.Less(t, i, idx("\nNext steps\n"))
			}
		})
	}
}

func TestRenderTextPhaseDurationOfRunningPhaseUsesNow(t *testing.T) {
	r, now := runningReport()
	var a, b bytes.Buffer
	renderText(&a, r, now)
	renderText(&b, r, now.Add(time.Minute))
	assert.Contains(t, lineWith(t, a.String(), "2. copy"), "4m58s")
	assert.Contains(t, lineWith(t, b.String(), "2. copy"), "5m58s")
	// A finished phase's duration does not move.
	assert.Contains(t, lineWith(t, b.String(), "1. validate"), "1.5s")
	assert.Contains(t, b.String(), "(6m0s ago)")
}

// A phase a pause stopped keeps the duration and rate it had when it
// stopped: the pause is not work (the trial's paused copy read "36s at
// 1527/s", then "51.2s at 1075/s" 15 s later, nothing having run).
func TestRenderTextPausedPhaseDurationStopsAtThePause(t *testing.T) {
	r, now := pausedReport()
	var a, b bytes.Buffer
	renderText(&a, r, now.Add(time.Second))
	renderText(&b, r, now.Add(10*time.Minute))
	at, later := lineWith(t, a.String(), "2. copy"), lineWith(t, b.String(), "2. copy")
	assert.Contains(t, at, "4m58s")
	assert.Contains(t, later, "4m58s, 500 records at 2/s", "ten minutes of pause later")
	assert.Equal(t, at, later)
}

func TestRenderTextStartedInTheFuture(t *testing.T) {
	// A clock skew between the worker and this machine must not show a
	// negative age.
	r, _ := runningReport()
	var buf bytes.Buffer
	renderText(&buf, r, t0.Add(-time.Minute))
	assert.Contains(t, buf.String(), "(0s ago)")
}

func TestBar(t *testing.T) {
	tests := []struct {
		percent float64
		width   int
		filled  int
	}{
		{0, 30, 0},
		{50, 30, 15},
		{100, 30, 30},
		{99.9, 20, 19},
		{5, 20, 1},
		{4.9, 20, 0},
		{150, 30, 30},
		{-10, 30, 0},
		{50, 0, 0},
	}
	for _, tt := range tests {
		got := bar(tt.percent, tt.width)
		assert.Equal(t, filledBar(tt.filled, tt.width), got, "bar(%v, %d)", tt.percent, tt.width)
		assert.Equal(t, tt.width+2, len([]rune(got)), "bar(%v, %d) width", tt.percent, tt.width)
	}
}

func TestPhaseMark(t *testing.T) {
	tests := map[migration.PhaseState]string{
		migration.PhasePending:      "·",
		migration.PhaseRunning:      "▶",
		migration.PhaseCompleted:    "✓",
		migration.PhaseFailed:       "✗",
		migration.PhaseCompFailed:   "✗",
		migration.PhaseCompensating: "↺",
		migration.PhaseCompensated:  "↺",
		migration.PhaseCancelled:    "■",
		"SOMETHING_NEW":             "·",
	}
	for state, mark := range tests {
		assert.Equal(t, mark, phaseMark(state), "phaseMark(%s)", state)
	}
}

func TestRenderTextRequestedRollbackIsNotAnError(t *testing.T) {
	r, now := rolledBackReport()
	r.Error = migration.RollbackRequestNote("alice", "p99 too high")
	r.RollbackNote = r.Error
	r.Refresh(now)
	var b bytes.Buffer
	renderText(&b, r, now)
	out := b.String()
	assert.Contains(t, out, "  Rollback   DONE (asked for by alice: p99 too high)\n")
	assert.NotContains(t, out, "Error      rollback requested", "a rollback a person asked for is not an error")
	assert.NotContains(t, out, "find the cause")
	assert.Contains(t, out, "nothing failed: the rollback was asked for by alice: p99 too high")
}

// A replicate phase on its second attempt shows the first attempt's
// failure and, under it, its live lag and applied count (the heartbeat's
// detail): the error does not hide them.
func TestRenderTextRetriedReplicationShowsItsLiveLag(t *testing.T) {
	r := migration.NewReport("orders", "",
		[]migration.Phase{migration.PhaseValidate, migration.PhaseCopy}, nil, t0)
	r.Phases[0].State = migration.PhaseCompleted
	r.Phases[1].State = migration.PhaseRunning
	r.Phases[1].StartTime = t0
	r.CurrentIndex = 1
	detail := "legacy → new (logical): lag 0s, 0 changes behind\napplied 1,234 changes, 56 changes/s in this attempt; done once the lag stays under 2s for 3s"
	r.MergeLive(migration.Live{Attempt: 2, LastFailure: "replication stream: connection reset", Records: 1234, Detail: detail}, t0.Add(time.Minute))
	var b bytes.Buffer
	renderText(&b, r, t0.Add(time.Minute))
	out := b.String()
	assert.Contains(t, out, "error: attempt 1 failed, retrying: replication stream: connection reset")
	assert.Contains(t, out, "        legacy → new (logical): lag 0s, 0 changes behind\n")
	assert.Contains(t, out, "        applied 1,234 changes, 56 changes/s in this attempt")
	assert.Less(t, strings.Index(out, "error: attempt 1"), strings.Index(out, "lag 0s"), "the failure comes first, then the live lag")
}

func TestRenderTextShowsAPausedPhaseWithItsProgress(t *testing.T) {
	r, now := runningReport()
	r.Status, r.Paused = migration.StatusPaused, true
	r.ShowPaused()
	r.Refresh(now)
	var buf bytes.Buffer
	renderText(&buf, r, now)
	line := lineWith(t, buf.String(), "2. copy")
	assert.True(t, strings.HasPrefix(line, "  ‖ 2. copy "), "the paused phase is marked ‖: %q", line)
	assert.Contains(t, line, filledBar(10, 20)+"  50.0%  PAUSED")
}

// TestRenderTextFannedOutPhaseShowsItsUnitsSummed renders a copy fanned
// out in 8 units (5 done, one after a retry; 2 running, one on its second
// attempt; 1 not started) with the running units' heartbeats merged.
func TestRenderTextFannedOutPhaseShowsItsUnitsSummed(t *testing.T) {
	r := migration.NewPlannedReport("orders", "", []migration.PlannedPhase{
		{Name: "copy", Kind: migration.PhaseCopy, Driver: "copy"}}, t0)
	r.CurrentIndex = 0
	p := &r.Phases[0]
	p.State, p.StartTime, p.Step = migration.PhaseRunning, t0, "5 of 8 units done, 2 running"
	p.Units, p.UnitsDone, p.RunningUnits, p.FailedAttempts = 8, 5, []string{"u5", "u6"}, 1
	p.Records, p.Progress = 500_000, 62.5
	now := t0.Add(time.Minute)
	r.MergeLive(migration.Live{Units: []migration.UnitLive{
		{Unit: "u5", Live: migration.Live{Attempt: 2, Percent: 40, Records: 20_000, LastFailure: "worker killed", Detail: "orders [1, 50001): 20,000 / 50,000 rows"}},
		{Unit: "u6", Live: migration.Live{Attempt: 1, Percent: 60, Records: 30_000, Detail: "orders [50001, ): 30,000 / 50,000 rows"}},
	}}, now)
	var b bytes.Buffer
	renderText(&b, r, now)
	out := b.String()
	for _, want := range []string{
		"  Progress   " + filledBar(22, 30) + "  75.0%", // (5 + 0.4 + 0.6) / 8
		"RUNNING             1m0s, 5 of 8 units done, 9 attempts (2 failed), 550000 records at 9167/s",
		"        error: unit u5: attempt 1 failed, retrying: worker killed",
		"        orders [1, 50001): 20,000 / 50,000 rows\n        orders [50001, ): 30,000 / 50,000 rows\n",
		"  Records copied 550000   Rate 550000 records/min   Error rate 0.0%   Issues 0",
		"  Attempts 9, 2 failed (an attempt retried well is no failed work: not in the error rate)",
	} {
		assert.Contains(t, out, want)
	}
}

// TestRenderTextSaysWhatAnUndoDid: a phase "compensated" without a
// compensation is not shown as COMPENSATED (issue 22, item 10).
func TestRenderTextSaysWhatAnUndoDid(t *testing.T) {
	r, now := rolledBackReport()
	r.Phases[0].State, r.Phases[0].Summary = migration.PhaseCompensated, migration.NoCompensationSummary
	r.Phases[1].Summary = "dropped 3 tables this migration created in new"
	r.Phases[2].State, r.Phases[2].Summary, r.Phases[2].Error = migration.PhaseCompensated, migration.NoCompensationSummary, ""
	var out bytes.Buffer
	renderText(&out, r, now)
	text := out.String()
	assert.Regexp(t, `1\. validate .* NOTHING_TO_UNDO `, text, "a validate phase changes nothing")
	assert.Contains(t, text, "        nothing to undo: a validate phase checks, it changes nothing\n")
	assert.Contains(t, text, "NOT_UNDONE          1m0s, 2 attempts, 200 records at 3/s\n        no compensation configured\n")
	assert.Regexp(t, `2\. provision .* COMPENSATED `, text)
	assert.Regexp(t, `3\. copy .* NOT_UNDONE `, text)
	assert.NotRegexp(t, `1\. validate .* COMPENSATED`, text)
}

// After the cut-over the replicate phase's last lag is history: the Lag
// line says the forward replication ended there and that the reverse one
// is not measured, instead of showing the old figure as if it were live.
func TestRenderTextLagAfterTheCutOver(t *testing.T) {
	r := migration.NewPlannedReport("orders", "", []migration.PlannedPhase{
		{Name: "catch-up", Kind: migration.PhaseCopy, Driver: "replicate"},
		{Name: "switch", Kind: migration.PhaseShiftTraffic, Driver: "cutover"},
	}, t0)
	r.Phases[0].State, r.Phases[0].StartTime, r.Phases[0].EndTime = migration.PhaseCompleted, t0, t0.Add(time.Minute)
	r.Replication = &migration.ReplicationLag{Phase: "catch-up", Seconds: 1.5, Changes: 7, Measured: t0.Add(time.Minute)}
	r.CurrentIndex = 1
	render := func(now time.Time) string {
		r.Refresh(now)
		var b bytes.Buffer
		renderText(&b, r, now)
		return b.String()
	}

	before := render(t0.Add(time.Minute))
	assert.Contains(t, before, "  Lag        1.5s, 7 changes behind (measured by phase catch-up 0s ago)\n", "before the cut-over the lag is current")

	r.Phases[1].State, r.Phases[1].StartTime = migration.PhaseRunning, t0.Add(2*time.Minute)
	during := render(t0.Add(3 * time.Minute))
	assert.Contains(t, during, "  Lag        legacy → new: ended at cut-over switch; last measured before it: 1.5s, 7 changes behind (measured by phase catch-up 2m0s ago)\n")
	assert.Contains(t, during, "new → legacy: not measured")

	r.Phases[1].State, r.Phases[1].EndTime = migration.PhaseCompleted, t0.Add(4*time.Minute)
	after := render(t0.Add(10 * time.Minute))
	assert.Contains(t, after, "legacy → new: ended at cut-over switch")
	assert.NotContains(t, after, "  Lag        1.5s", "the old figure is not shown as the current lag")

	// Once the reverse replication that follows the cut-over measured its
	// lag, the line is that one's, live.
	r.Replication = &migration.ReplicationLag{Phase: "switch", Seconds: 0.3, Changes: 2, Measured: t0.Add(9 * time.Minute),
		Reverse: true, From: "new", To: "legacy"}
	reverse := render(t0.Add(10 * time.Minute))
	assert.Contains(t, reverse, "  Lag        reverse (new → legacy) 300ms, 2 changes behind (measured by phase switch 1m0s ago)\n")
	assert.NotContains(t, reverse, "ended at cut-over")
	assert.NotContains(t, reverse, "not measured")
}

// A run that ended (here rolled back after its cut-over, the rollback
// draining the reverse capture into legacy) shows its last lag as history:
// the reverse replication's figure read as changes still behind.
func TestRenderTextLagOfAnEndedRun(t *testing.T) {
	r := migration.NewPlannedReport("orders", "", []migration.PlannedPhase{
		{Name: "catch-up", Kind: migration.PhaseCopy, Driver: "replicate"},
		{Name: "switch", Kind: migration.PhaseShiftTraffic, Driver: "cutover"},
	}, t0)
	r.Phases[0].State, r.Phases[0].StartTime, r.Phases[0].EndTime = migration.PhaseCompensated, t0, t0.Add(time.Minute)
	r.Phases[1].State, r.Phases[1].StartTime, r.Phases[1].EndTime = migration.PhaseCompensated, t0.Add(2*time.Minute), t0.Add(4*time.Minute)
	r.Replication = &migration.ReplicationLag{Phase: "switch", Seconds: 0.3, Changes: 2, Measured: t0.Add(3 * time.Minute),
		Reverse: true, From: "new", To: "legacy"}
	r.Status, r.EndTime, r.CurrentIndex = migration.StatusRolledBack, t0.Add(5*time.Minute), -1
	now := t0.Add(10 * time.Minute)
	r.Refresh(now)
	var b strings.Builder
	renderText(&b, r, now)
	out := b.String()
	assert.Contains(t, out, "  Lag        not running: the replication ended with the run (ROLLED_BACK); last measured reverse (new → legacy) 300ms, 2 changes behind (measured by phase switch 7m0s ago)\n")
	assert.NotContains(t, out, "  Lag        reverse (new → legacy) 300ms", "the last figure shown as live")
}

// A phase still pending when its run was rolled back never runs: it reads
// NOT_RUN and its gate as never opened, not PENDING with a gate that seems
// to wait for someone.
func TestStatusShowsAPhaseTheEndedRunNeverReachedAsNotRun(t *testing.T) {
	r := migration.NewReport("orders", "", []migration.Phase{migration.PhaseCopy, migration.PhaseReconcile},
		map[migration.Phase]string{migration.PhaseReconcile: "go-live"}, t0)
	r.Phases[0].State = migration.PhaseCompensated
	r.Status, r.EndTime, r.CurrentIndex = migration.StatusRolledBack, t0.Add(time.Minute), -1
	r.Refresh(r.EndTime)
	var b strings.Builder
	renderText(&b, r, r.EndTime)
	var line string
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.Contains(l, "2. reconcile") {
			line = l
		}
	}
	assert.Contains(t, line, "NOT_RUN")
	assert.Contains(t, line, "gate go-live (never opened)")
	assert.NotContains(t, line, "PENDING")
}

// While the replication fails, the Lag line says so (since when, how many
// attempts, the error), not the lag measured before as if it kept up.
func TestRenderTextLagWhileTheReplicationFails(t *testing.T) {
	r := migration.NewPlannedReport("orders", "", []migration.PlannedPhase{
		{Name: "catch-up", Kind: migration.PhaseCopy, Driver: "replicate"},
		{Name: "reads", Kind: migration.PhaseShiftTraffic, Driver: "hook"},
	}, t0)
	r.Phases[0].State, r.Phases[0].StartTime, r.Phases[0].EndTime = migration.PhaseCompleted, t0, t0.Add(time.Minute)
	r.Replication = &migration.ReplicationLag{Phase: "catch-up", Seconds: 0, Changes: 0, Measured: t0.Add(time.Minute)}
	r.CurrentIndex = 1
	r.Phases[1].State, r.Phases[1].StartTime = migration.PhaseRunning, t0.Add(time.Minute)
	for k := range 3 {
		r.NoteReplicationFailure(t0.Add(2*time.Minute+time.Duration(k)*30*time.Second), "catch-up", "replication slot godwit_orders is gone")
	}
	now := t0.Add(5 * time.Minute)
	r.Refresh(now)
	var b bytes.Buffer
	renderText(&b, r, now)
	text := b.String()
	assert.Contains(t, text, "  Lag        not known: the replication of phase catch-up is failing since ")
	assert.Contains(t, text, " (3m0s ago), 3 failed attempts, the last 2m0s ago: replication slot godwit_orders is gone\n")
	assert.Contains(t, text, "last measured before the failures: 0s, 0 changes behind (by phase catch-up 4m0s ago)\n")
	assert.NotContains(t, text, "  Lag        0s")
}

// A phase with one record says "1 record", not "1 records".
func TestRenderTextCountsOneRecordInTheSingular(t *testing.T) {
	r := migration.NewPlannedReport("orders", "", []migration.PlannedPhase{{Name: "provision", Kind: migration.PhaseProvision, Driver: "provision"}}, t0)
	r.Phases[0].State, r.Phases[0].Records, r.Phases[0].Attempts = migration.PhaseCompleted, 1, 1
	r.Phases[0].StartTime, r.Phases[0].EndTime = t0, t0.Add(time.Second)
	r.Status, r.CurrentIndex, r.EndTime = migration.StatusCompleted, -1, t0.Add(time.Second)
	r.Refresh(r.EndTime)
	var b bytes.Buffer
	renderText(&b, r, r.EndTime)
	assert.Contains(t, b.String(), ", 1 record\n")
	assert.NotContains(t, b.String(), "1 records")
}

// A copy a pause stopped and a rollback ended, in a run from before the
// workflow recorded its end, shows no duration or rate that keep moving:
// the same line an hour later.
func TestRenderTextAStoppedPhaseWithoutAnEndDoesNotMove(t *testing.T) {
	r := migration.NewPlannedReport("orders", "", []migration.PlannedPhase{{Name: "copy", Kind: migration.PhaseCopy, Driver: "copy"}}, t0)
	p := &r.Phases[0]
	p.State, p.StartTime, p.Records, p.Attempts = migration.PhaseCancelled, t0, 50_000, 1
	p.Error = "interrupted by pause, then rolled back"
	r.Status, r.CurrentIndex, r.EndTime = migration.StatusRolledBack, -1, t0.Add(10*time.Minute)
	line := func(now time.Time) string {
		r.Refresh(now)
		var b bytes.Buffer
		renderText(&b, r, now)
		for _, l := range strings.Split(b.String(), "\n") {
			if strings.Contains(l, "1. copy") {
				return l
			}
		}
		return ""
	}
	first := line(t0.Add(11 * time.Minute))
	assert.Contains(t, first, "50000 records")
	assert.NotContains(t, first, "/s", "no rate drawn to now")
	assert.Equal(t, first, line(t0.Add(71*time.Minute)), "nothing moves an hour later")
}

// One change behind is "1 change behind".
func TestRenderTextLagOfOneChange(t *testing.T) {
	r := migration.NewPlannedReport("orders", "", []migration.PlannedPhase{{Name: "catch-up", Kind: migration.PhaseCopy, Driver: "replicate"}}, t0)
	r.Phases[0].State = migration.PhaseRunning
	r.CurrentIndex = 0
	r.Replication = &migration.ReplicationLag{Phase: "catch-up", Seconds: 0.2, Changes: 1, Measured: t0}
	r.Refresh(t0)
	var b bytes.Buffer
	renderText(&b, r, t0)
	assert.Contains(t, b.String(), "  Lag        200ms, 1 change behind (measured by phase catch-up 0s ago)\n")
}

// A paused run says who paused it, since when and why; a completed
// phase a pause held shows its working time and the pause apart, and its
// rate over the working time.
func TestRenderTextSaysWhoPausedAndLeavesThePauseOutOfAPhasesTime(t *testing.T) {
	r, now := runningReport()
	r.Status, r.Paused = migration.StatusPaused, true
	r.SetPause("ana", "waiting for DBA", now.Add(-20*time.Minute))
	r.Phases[0].Pauses = []migration.PauseSpan{{Start: t0.Add(500 * time.Millisecond), End: t0.Add(500*time.Millisecond + 30*time.Minute)}}
	r.Phases[0].EndTime = t0.Add(1500*time.Millisecond + 30*time.Minute)
	r.Refresh(now)
	var buf bytes.Buffer
	renderText(&buf, r, now)
	out := buf.String()
	assert.Contains(t, out, "\n  Paused     by ana since 2025-03-14 08:45:00 UTC (20m0s ago): waiting for DBA\n", "who paused, in the header")
	assert.Contains(t, lineWith(t, out, "1. validate"), "1.5s (paused 30m0s)")

	// A pause with no payload: who and why unknown, since when known.
	r.ClearPause()
	r.SetPause("", "", now.Add(-time.Minute))
	buf.Reset()
	renderText(&buf, r, now)
	assert.Contains(t, lineWith(t, buf.String(), "Paused     since"), "(1m0s ago) (no reason given)")
}
