package briefing

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/gateway/api"
	"github.com/godwit/godwit/migration"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var t0 = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)

// runningReport is in its copy phase, half done after 5 minutes.
func runningReport() (*migration.Report, Observations, time.Time) {
	r := migration.NewReport("orders", "Move orders to PG",
		[]migration.Phase{migration.PhaseValidate, migration.PhaseCopy, migration.PhaseShiftTraffic, migration.PhaseReconcile},
		map[migration.Phase]string{migration.PhaseShiftTraffic: "go-live"}, t0)
	r.Phases[0] = migration.PhaseReport{Phase: "validate", Kind: migration.PhaseValidate, State: migration.PhaseCompleted,
		Progress: 100, StartTime: t0, EndTime: t0.Add(1500 * time.Millisecond), Attempts: 2, Summary: "legacy has 1000 rows"}
	r.Phases[1] = migration.PhaseReport{Phase: "copy", Kind: migration.PhaseCopy, State: migration.PhaseRunning,
		Progress: 50, StartTime: t0.Add(2 * time.Second), Attempts: 1, Records: 500}
	r.CurrentIndex = 1
	now := t0.Add(5*time.Minute + 2*time.Second)
	r.Refresh(now)
	return r, Observations{}, now
}

func waitingReport() (*migration.Report, Observations, time.Time) {
	r := migration.NewReport("orders", "",
		[]migration.Phase{migration.PhaseCopy, migration.PhaseShiftTraffic, migration.PhaseDecommission},
		map[migration.Phase]string{migration.PhaseShiftTraffic: "go-live"}, t0)
	r.Phases[0] = migration.PhaseReport{Phase: "copy", Kind: migration.PhaseCopy, State: migration.PhaseCompleted,
		Progress: 100, StartTime: t0, EndTime: t0.Add(10 * time.Minute), Attempts: 1, Records: 1000, Summary: "copied 1000 of 1000 rows"}
	r.Status, r.WaitingGate, r.CurrentIndex = migration.StatusWaitingApproval, "go-live", 1
	now := t0.Add(time.Hour)
	r.Refresh(now)
	return r, Observations{}, now
}

func rolledBackReport() (*migration.Report, Observations, time.Time) {
	r := migration.NewReport("orders", "",
		[]migration.Phase{migration.PhaseProvision, migration.PhaseCopy, migration.PhaseShiftTraffic},
		map[migration.Phase]string{migration.PhaseShiftTraffic: "go-live"}, t0)
	r.Phases[0] = migration.PhaseReport{Phase: "provision", Kind: migration.PhaseProvision, State: migration.PhaseCompensated,
		Progress: 100, StartTime: t0, EndTime: t0.Add(time.Minute), Attempts: 1}
	r.Phases[1] = migration.PhaseReport{Phase: "copy", Kind: migration.PhaseCopy, State: migration.PhaseFailed,
		Progress: 20, StartTime: t0.Add(time.Minute), EndTime: t0.Add(2 * time.Minute), Attempts: 2, Records: 200,
		Error: "exit status 1: disk full"}
	r.Status, r.Error, r.RollbackNote = migration.StatusRolledBack, "phase copy failed: exit status 1: disk full", "phase copy failed"
	r.AddIssue(t0.Add(2*time.Minute), "copy", migration.SeverityError, "copy failed: disk full")
	r.EndTime, r.CurrentIndex = t0.Add(3*time.Minute), -1
	r.Refresh(r.EndTime)
	return r, Observations{}, r.EndTime
}

func completedReport() (*migration.Report, Observations, time.Time) {
	r := migration.NewReport("orders", "",
		[]migration.Phase{migration.PhaseCopy, migration.PhaseShiftTraffic, migration.PhaseDecommission}, nil, t0)
	for i := range r.Phases {
		r.Phases[i].State, r.Phases[i].Progress = migration.PhaseCompleted, 100
		r.Phases[i].StartTime, r.Phases[i].EndTime = t0.Add(time.Duration(i)*time.Minute), t0.Add(time.Duration(i+1)*time.Minute)
		r.Phases[i].Attempts = 1
	}
	r.Phases[0].Records = 1000
	r.Status, r.EndTime, r.CurrentIndex = migration.StatusCompleted, t0.Add(3*time.Minute), -1
	r.Refresh(r.EndTime)
	return r, Observations{TrafficNote: "the migration has ended; the gateway's window no longer covers it"}, r.EndTime
}

// shiftingReport moves traffic, with the gateway's figures at hand.
func shiftingReport() (*migration.Report, Observations, time.Time) {
	r := migration.NewReport("orders", "",
		[]migration.Phase{migration.PhaseCopy, migration.PhaseShiftTraffic}, nil, t0)
	r.Phases[0].State, r.Phases[0].Progress, r.Phases[0].Records = migration.PhaseCompleted, 100, 1000
	r.Phases[1] = migration.PhaseReport{Phase: "shift-traffic", Kind: migration.PhaseShiftTraffic, State: migration.PhaseRunning,
		Progress: 40, StartTime: t0.Add(10 * time.Minute), Attempts: 1, Steps: 5, Step: "2 of 5: set weight 25"}
	r.CurrentIndex = 1
	now := t0.Add(20 * time.Minute)
	r.Refresh(now)
	obs := Observations{Traffic: &Traffic{
		Source: "gateway http://127.0.0.1:9090, route users",
		Stats: api.RouteStats{Route: "users", WindowSeconds: 60,
			Legacy: api.SideStats{Requests: 3000, Errors: 1, P95Ms: 40},
			New:    api.SideStats{Requests: 1000, Errors: 3, P95Ms: 46}},
	}}
	return r, obs, now
}

var reports = map[string]func() (*migration.Report, Observations, time.Time){
	"running":     runningReport,
	"waiting":     waitingReport,
	"rolled-back": rolledBackReport,
	"completed":   completedReport,
	"shifting":    shiftingReport,
}

// placeholder matches what is left of an unfilled template field:
// "[X.XX%]", "[Phase Name]".
var placeholder = regexp.MustCompile(`\[[A-Z][^\]]*\]`)

func TestGolden(t *testing.T) {
	for name, mk := range reports {
		for _, f := range Formats {
			t.Run(name+"/"+string(f), func(t *testing.T) {
				r, obs, now := mk()
				var buf bytes.Buffer
				require.NoError(t, Write(&buf, f, r, obs, now))
				out := buf.String()
				assert.NotRegexp(t, placeholder, out)
				assert.NotContains(t, out, "NaN")
				assert.NotContains(t, out, "Inf")
				golden := filepath.Join("testdata", name+"."+string(f)+".golden")
				if *update {
					require.NoError(t, os.WriteFile(golden, buf.Bytes(), 0o644))
				}
				want, err := os.ReadFile(golden)
				require.NoError(t, err, "run go test ./briefing -update to write the golden files")
				assert.Equal(t, string(want), out)
			})
		}
	}
}

// fieldValue returns the value of the line "label: value" in out.
func fieldValue(t *testing.T, out, label string) string {
	t.Helper()
	for l := range strings.SplitSeq(out, "\n") {
		l = strings.TrimPrefix(l, "- ")
		if v, ok := strings.CutPrefix(l, label+": "); ok {
			return v
		}
	}
	t.Fatalf("no %q in:\n%s", label, out)
	return ""
}

func render(t *testing.T, f Format, r *migration.Report, obs Observations, now time.Time) string {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, Write(&buf, f, r, obs, now))
	return buf.String()
}

func TestExecutiveSummaryFollowsTheReport(t *testing.T) {
	for name, mk := range reports {
		t.Run(name, func(t *testing.T) {
			r, obs, now := mk()
			out := render(t, FormatExec, r, obs, now)
			assert.Equal(t, string(r.Status), fieldValue(t, out, "Migration Status"))
			assert.Equal(t, r.CurrentPhase, fieldValue(t, out, "Current Phase"))
			assert.Equal(t, r.Risk, fieldValue(t, out, "Risk Assessment"))
			assert.True(t, strings.HasPrefix(fieldValue(t, out, "Rollback Status"), r.Rollback))
			for i, s := range r.NextSteps {
				assert.Contains(t, out, "\n"+string(rune('1'+i))+". "+s+"\n")
			}
		})
	}
}

func TestTrafficFigures(t *testing.T) {
	stats := func(legacyReq, legacyErr, newReq, newErr uint64, legacyP95, newP95 float64) Observations {
		return Observations{Traffic: &Traffic{Source: "gw", Stats: api.RouteStats{WindowSeconds: 120,
			Legacy: api.SideStats{Requests: legacyReq, Errors: legacyErr, P95Ms: legacyP95},
			New:    api.SideStats{Requests: newReq, Errors: newErr, P95Ms: newP95}}}}
	}
	tests := []struct {
		name              string
		report            func() (*migration.Report, Observations, time.Time)
		obs               *Observations
		availability, imp string
	}{
		{
			name: "traffic phase not started", report: runningReport,
			availability: "not measured: traffic phase shift-traffic has not started",
			imp:          "not measured: traffic phase shift-traffic has not started",
		},
		{
			name: "without a traffic phase at all",
			report: func() (*migration.Report, Observations, time.Time) {
				r := migration.NewReport("x", "", []migration.Phase{migration.PhaseCopy}, nil, t0)
				return r, Observations{}, t0
			},
			availability: "not measured: no traffic phase", imp: "not measured: no traffic phase",
		},
		{
			name: "gateway unreachable", report: shiftingReport,
			obs:          &Observations{TrafficNote: "gateway http://gw:9090 did not answer: connection refused"},
			availability: "not measured: gateway http://gw:9090 did not answer: connection refused",
			imp:          "not measured: gateway http://gw:9090 did not answer: connection refused",
		},
		{
			name: "errors on both sides count", report: shiftingReport, obs: ptr(stats(900, 5, 100, 5, 10, 12)),
			availability: "99.00% (990 of 1000 requests answered without error over the last 2m0s, gw)",
			imp:          "+20% p95 latency (new 12.0 ms vs legacy 10.0 ms over the last 2m0s, gw)",
		},
		{
			name: "new faster", report: shiftingReport, obs: ptr(stats(10, 0, 10, 0, 20, 15)),
			availability: "100.00% (20 of 20 requests answered without error over the last 2m0s, gw)",
			imp:          "-25% p95 latency (new 15.0 ms vs legacy 20.0 ms over the last 2m0s, gw)",
		},
		{
			name: "no requests", report: shiftingReport, obs: ptr(stats(0, 0, 0, 0, 0, 0)),
			availability: "not measured: no requests through the gw in the last 2m0s",
			imp:          "not measured: no request reached new in the last 2m0s (gw)",
		},
		{
			name: "all traffic on new", report: shiftingReport, obs: ptr(stats(0, 0, 50, 1, 0, 30)),
			availability: "98.00% (49 of 50 requests answered without error over the last 2m0s, gw)",
			imp:          "not measured: no legacy latency to compare with in the last 2m0s (gw); new p95 30.0 ms",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, obs, now := tt.report()
			if tt.obs != nil {
				obs = *tt.obs
			}
			out := render(t, FormatExec, r, obs, now)
			assert.Equal(t, tt.availability, fieldValue(t, out, "System Availability"))
			assert.Equal(t, tt.imp, fieldValue(t, out, "Performance Impact"))
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestExpectedEndExtrapolatesProgress(t *testing.T) {
	r, obs, now := runningReport()
	// copy started at t0+2s and is half done 5 minutes later: 5 more.
	out := render(t, FormatTeam, r, obs, now)
	assert.Equal(t, "2025-03-14 09:00 UTC - 2025-03-14 09:10 UTC (expected, from its progress so far)", fieldValue(t, out, "Duration"))
	assert.Contains(t, out, "⏳ shift-traffic - expected start: after copy, about 2025-03-14 09:10 UTC, then when gate go-live is approved\n")

	r.Phases[1].Progress = 0
	r.Refresh(now)
	out = render(t, FormatTeam, r, obs, now)
	assert.Contains(t, fieldValue(t, out, "Duration"), "expected end not estimated")
	assert.Contains(t, out, "⏳ shift-traffic - expected start: after copy, then when gate go-live is approved\n")
}

func TestSystemLoad(t *testing.T) {
	r, _, now := runningReport()
	tests := []struct {
		obs  Observations
		want string
	}{
		{Observations{}, "not measured: Godwit does not read the stores' or hosts' CPU, memory or connections yet"},
		{Observations{LoadNote: "store legacy refused the query"}, "not measured: store legacy refused the query"},
		{Observations{Load: []string{"legacy: 12 connections", "new: 3 connections"}}, "legacy: 12 connections; new: 3 connections"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, fieldValue(t, render(t, FormatTeam, r, tt.obs, now), "System Load"))
	}
}

func TestUnknownFormat(t *testing.T) {
	r, obs, now := runningReport()
	err := Write(&bytes.Buffer{}, "pdf", r, obs, now)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exec, team, markdown")
}

func TestTeamUpdateSaysWhatWillNeverRunAndWhatWasNotUndone(t *testing.T) {
	r, obs, now := rolledBackReport()
	r.Phases[0].Summary = migration.NoCompensationSummary
	var b bytes.Buffer
	writeText(&b, TeamUpdate(r, obs, now))
	out := b.String()
	assert.Contains(t, out, "Upcoming:\nnone\n", "an ended run has nothing upcoming")
	assert.Contains(t, out, "Not Run:\n■ shift-traffic - NOT RUN: the migration ended ROLLED_BACK\n")
	assert.Contains(t, out, "provision - NOT UNDONE: it has no compensation, its effects remain")
	assert.NotContains(t, out, "provision - COMPENSATED")
}

func TestRequestedRollbackInTheBriefing(t *testing.T) {
	r, obs, now := rolledBackReport()
	r.Error = migration.RollbackRequestNote("alice", "p99 too high")
	r.RollbackNote = r.Error
	r.Refresh(now)
	var b bytes.Buffer
	writeMarkdown(&b, append(ExecutiveSummary(r, obs), TeamUpdate(r, obs, now)...))
	out := b.String()
	assert.Contains(t, out, "**Rollback Status:** DONE (rollback asked for by alice: p99 too high)")
	assert.Contains(t, out, "resolution ETA: none needed for the run: the rollback was asked for by alice: p99 too high")
	assert.Contains(t, out, "`godwit start -f <spec>`")
	assert.NotContains(t, out, "find the cause")
}

func TestTeamUpdateShowsAPausedPhaseInProgress(t *testing.T) {
	r, obs, now := runningReport()
	r.Status, r.Paused = migration.StatusPaused, true
	r.ShowPaused()
	r.Refresh(now)
	var b bytes.Buffer
	writeText(&b, TeamUpdate(r, obs, now))
	out := b.String()
	assert.Contains(t, out, "In Progress:\n⏸ copy", "a paused copy is still in progress")
	assert.Contains(t, out, "- PAUSED")
	assert.Contains(t, out, "expected end not estimated: the phase is paused")
	assert.NotContains(t, out, "Failed or Undone")
}
