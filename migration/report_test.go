package migration

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

// report builds a refreshed report whose phases have the given states, in
// the given order; current is the CurrentIndex.
func report(status Status, current int, phases ...PhaseReport) *Report {
	r := &Report{Name: "demo", Status: status, StartTime: t0, CurrentIndex: current, Phases: phases}
	r.Refresh(t0.Add(time.Minute))
	return r
}

func ph(p Phase, s PhaseState) PhaseReport { return PhaseReport{Phase: string(p), Kind: p, State: s} }

func TestNewReport(t *testing.T) {
	gates := map[Phase]string{PhaseShiftTraffic: "go-live"}
	r := NewReport("demo", "move users", []Phase{PhaseCopy, PhaseShiftTraffic, PhaseDecommission}, gates, t0)

	assert.Equal(t, "demo", r.Name)
	assert.Equal(t, "move users", r.Description)
	assert.Equal(t, StatusInProgress, r.Status)
	assert.Equal(t, t0, r.StartTime)
	assert.Equal(t, t0, r.UpdatedTime, "refreshed at the start time")
	assert.True(t, r.EndTime.IsZero())
	assert.Equal(t, -1, r.CurrentIndex)
	assert.Equal(t, "0 of 3: not started", r.CurrentPhase)
	assert.Zero(t, r.OverallProgress)
	assert.Equal(t, []PhaseReport{
		{Phase: string(PhaseCopy), Kind: PhaseCopy, State: PhasePending},
		{Phase: string(PhaseShiftTraffic), Kind: PhaseShiftTraffic, State: PhasePending, Gate: "go-live"},
		{Phase: string(PhaseDecommission), Kind: PhaseDecommission, State: PhasePending},
	}, r.Phases)
	assert.Equal(t, RollbackAvailable, r.Rollback)
	assert.Equal(t, RiskLow, r.Risk)
	assert.Equal(t, []string{`to abort: godwit rollback demo --reason "..."`}, r.NextSteps)
}

func TestRefreshSetsUpdatedTime(t *testing.T) {
	r := NewReport("demo", "", []Phase{PhaseCopy}, nil, t0)
	r.Refresh(t0.Add(time.Hour))
	assert.Equal(t, t0.Add(time.Hour), r.UpdatedTime)
}

func TestCurrentPhaseText(t *testing.T) {
	three := func() []PhaseReport {
		return []PhaseReport{ph(PhaseProvision, PhasePending), ph(PhaseCopy, PhasePending), ph(PhaseReconcile, PhasePending)}
	}
	tests := []struct {
		name    string
		status  Status
		current int
		phases  []PhaseReport
		want    string
	}{
		{"no phases is none", StatusInProgress, -1, nil, "none"},
		{"no phases is none even when completed", StatusCompleted, -1, nil, "none"},
		{"before the first phase is not started", StatusInProgress, -1, three(), "0 of 3: not started"},
		{"first phase running counts from one", StatusInProgress, 0, three(), "1 of 3: provision"},
		{"second phase running names it", StatusInProgress, 1, three(), "2 of 3: copy"},
		{"last phase running", StatusInProgress, 2, three(), "3 of 3: reconcile"},
		{"waiting at a gate names the gated phase", StatusWaitingApproval, 1, three(), "2 of 3: copy"},
		{"completed run is done", StatusCompleted, -1, three(), "3 of 3: done"},
		{"compensating phase during rollback is named", StatusRollingBack, 0, three(), "1 of 3: provision"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := report(tt.status, tt.current, tt.phases...)
			assert.Equal(t, tt.want, r.CurrentPhase)
		})
	}
}

func TestOverallProgress(t *testing.T) {
	tests := []struct {
		name   string
		phases []PhaseReport
		want   float64
	}{
		{"no phases is complete", nil, 100},
		{"all pending is zero", []PhaseReport{ph(PhaseCopy, PhasePending), ph(PhaseReconcile, PhasePending)}, 0},
		{"completed counts as 100 whatever its progress field", []PhaseReport{
			{Phase: string(PhaseCopy), Kind: PhaseCopy, State: PhaseCompleted, Progress: 0},
			ph(PhaseReconcile, PhasePending),
		}, 50},
		{"phases that move rows weigh RowsShare, the others the rest", []PhaseReport{
			ph(PhaseProvision, PhaseCompleted),
			{Phase: string(PhaseCopy), Kind: PhaseCopy, State: PhaseRunning, Progress: 50},
			ph(PhaseReconcile, PhasePending),
		}, 0.75*25 + 0.25*100},
		{"a copy barely started is not half the run, however many short phases are done", []PhaseReport{
			ph(PhaseValidate, PhaseCompleted),
			ph(PhaseProvision, PhaseCompleted),
			{Phase: "schema", Kind: PhaseProvision, Driver: "hook", State: PhaseCompleted},
			{Phase: "setup", Kind: PhaseProvision, Driver: "replicate", State: PhaseCompleted},
			{Phase: string(PhaseCopy), Kind: PhaseCopy, Driver: "copy", State: PhaseRunning, Progress: 1},
			ph(PhaseShiftTraffic, PhasePending),
		}, 0.75*1 + 0.25*(4*100.0/5)},
		{"a backfill moves rows", []PhaseReport{
			{Phase: "expand", Kind: PhaseProvision, Driver: "expand", State: PhaseCompleted},
			{Phase: "backfill", Kind: PhaseCopy, Driver: "backfill", State: PhaseRunning, Progress: 10},
		}, 0.75*10 + 0.25*100},
		{"only short phases: their mean", []PhaseReport{
			ph(PhaseValidate, PhaseCompleted), ph(PhaseShiftTraffic, PhasePending),
		}, 50},
		{"non-completed phases count their own progress", []PhaseReport{
			{Phase: string(PhaseCopy), Kind: PhaseCopy, State: PhaseFailed, Progress: 40},
			{Phase: string(PhaseReconcile), Kind: PhaseReconcile, State: PhaseCompensated, Progress: 0},
			{Phase: string(PhaseDecommission), Kind: PhaseDecommission, State: PhaseCancelled, Progress: 20},
		}, 20},
		{"all completed is 100", []PhaseReport{ph(PhaseCopy, PhaseCompleted), ph(PhaseReconcile, PhaseCompleted)}, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := report(StatusInProgress, -1, tt.phases...)
			assert.InDelta(t, tt.want, r.OverallProgress, 1e-9)
		})
	}
}

func TestMetrics(t *testing.T) {
	tests := []struct {
		name string
		// build returns the report and the time to refresh at.
		build func() (*Report, time.Time)
		want  Metrics
	}{
		{
			name: "records copied counts the copy phases only, compared rows apart",
			build: func() (*Report, time.Time) {
				// The live demo: 3 tables created, 100,000 rows copied and
				// compared (a hook compares), once shown as 200,003 copied.
				return &Report{StartTime: t0, Phases: []PhaseReport{
					{Phase: "provision", Kind: PhaseProvision, Driver: "provision", State: PhaseCompleted, Records: 3, Attempts: 1},
					{Phase: "copy", Kind: PhaseCopy, Driver: "copy", State: PhaseCompleted, Records: 100000, Attempts: 1},
					{Phase: "reconcile", Kind: PhaseReconcile, Driver: "hook", State: PhaseCompleted, Records: 100000, Attempts: 1},
				}}, t0.Add(10 * time.Minute)
			},
			want: Metrics{RecordsCopied: 100000, RecordsCompared: 100000, RecordsPerMinute: 10000},
		},
		{
			name: "the driver decides over the phase's kind",
			build: func() (*Report, time.Time) {
				return &Report{StartTime: t0, Phases: []PhaseReport{
					// A change capture's catch-up in a copy phase applies
					// changes, which are not rows copied.
					{Phase: "replicate", Kind: PhaseCopy, Driver: "replicate", State: PhaseCompleted, Records: 50, Attempts: 1},
					// A copy run as a provision phase still copies rows.
					{Phase: "seed", Kind: PhaseProvision, Driver: "copy", State: PhaseCompleted, Records: 20, Attempts: 1},
					// Tables created in a copy phase are not rows.
					{Phase: "tables", Kind: PhaseCopy, Driver: "provision", State: PhaseCompleted, Records: 4, Attempts: 1},
					{Phase: "check", Kind: PhaseValidate, Driver: "reconcile", State: PhaseRunning, Records: 30, Attempts: 1},
					{Phase: "retire", Kind: PhaseDecommission, Driver: "retire", State: PhaseCompleted, Records: 3, Attempts: 1},
				}}, t0.Add(10 * time.Minute)
			},
			want: Metrics{RecordsCopied: 20, RecordsCompared: 30, ChangesApplied: 50, RecordsPerMinute: 2},
		},
		{
			name: "changes applied by replicate and cut-over are their own figure",
			build: func() (*Report, time.Time) {
				// TestRollbackAfterCutOverBringsWritesMadeOnNewBack's run,
				// once shown as 2111 records copied.
				return &Report{StartTime: t0, Phases: []PhaseReport{
					{Phase: "provision", Kind: PhaseProvision, Driver: "provision", State: PhaseCompleted, Records: 1, Attempts: 1},
					// The capture's setup counts the objects it created.
					{Phase: "capture", Kind: PhaseProvision, Driver: "replicate", State: PhaseCompleted, Records: 3, Attempts: 1},
					{Phase: "copy", Kind: PhaseCopy, Driver: "copy", State: PhaseCompleted, Records: 2000, Attempts: 1},
					{Phase: "replicate", Kind: PhaseCopy, Driver: "replicate", State: PhaseCompleted, Records: 108, Attempts: 1},
					{Phase: "writes", Kind: PhaseShiftTraffic, Driver: "cutover", State: PhaseCompleted, Records: 3, Attempts: 1},
					// A stop drains the reverse capture: changes too.
					{Phase: "stop-replication", Kind: PhaseDecommission, Driver: "replicate", State: PhaseCompleted, Records: 21, Attempts: 1},
				}}, t0.Add(10 * time.Minute)
			},
			want: Metrics{RecordsCopied: 2000, ChangesApplied: 132, RecordsPerMinute: 200},
		},
		{
			name: "a report without drivers goes by the phases' kinds",
			build: func() (*Report, time.Time) {
				return &Report{StartTime: t0, Phases: []PhaseReport{
					{Phase: string(PhaseProvision), State: PhaseCompleted, Records: 3, Attempts: 1},
					{Phase: string(PhaseCopy), Kind: PhaseCopy, State: PhaseCompleted, Records: 700, Attempts: 1},
					{Phase: string(PhaseReconcile), Kind: PhaseReconcile, State: PhaseRunning, Records: 300, Attempts: 1},
				}}, t0.Add(10 * time.Minute)
			},
			want: Metrics{RecordsCopied: 700, RecordsCompared: 300, RecordsPerMinute: 70},
		},
		{
			name: "records per minute runs to now while the run goes on",
			build: func() (*Report, time.Time) {
				return &Report{StartTime: t0, Phases: []PhaseReport{
					{Phase: string(PhaseCopy), Kind: PhaseCopy, State: PhaseRunning, Records: 1000, Attempts: 1},
				}}, t0.Add(4 * time.Minute)
			},
			want: Metrics{RecordsCopied: 1000, RecordsPerMinute: 250},
		},
		{
			name: "records per minute stops at the end time once ended",
			build: func() (*Report, time.Time) {
				return &Report{StartTime: t0, EndTime: t0.Add(5 * time.Minute), Status: StatusCompleted, Phases: []PhaseReport{
					{Phase: string(PhaseCopy), Kind: PhaseCopy, State: PhaseCompleted, Records: 1000, Attempts: 1},
				}}, t0.Add(time.Hour)
			},
			want: Metrics{RecordsCopied: 1000, RecordsPerMinute: 200},
		},
		{
			name: "no elapsed time gives no rate",
			build: func() (*Report, time.Time) {
				return &Report{StartTime: t0, Phases: []PhaseReport{
					{Phase: string(PhaseCopy), Kind: PhaseCopy, State: PhaseRunning, Records: 1000},
				}}, t0
			},
			want: Metrics{RecordsCopied: 1000},
		},
		{
			name: "no attempts gives no error rate",
			build: func() (*Report, time.Time) {
				return &Report{StartTime: t0, Phases: []PhaseReport{ph(PhaseCopy, PhasePending), ph(PhaseReconcile, PhaseFailed)}}, t0
			},
			want: Metrics{},
		},
		{
			name: "a completed phase's attempts before the last count as failed attempts, not failed work",
			build: func() (*Report, time.Time) {
				return &Report{StartTime: t0, Phases: []PhaseReport{
					{Phase: string(PhaseCopy), Kind: PhaseCopy, State: PhaseCompleted, Attempts: 3},
				}}, t0
			},
			want: Metrics{Attempts: 3, FailedAttempts: 2},
		},
		{
			name: "a failed phase's attempts all count as failed, and the phase as failed work",
			build: func() (*Report, time.Time) {
				return &Report{StartTime: t0, Phases: []PhaseReport{
					{Phase: string(PhaseProvision), Kind: PhaseProvision, State: PhaseCompleted, Attempts: 1},
					{Phase: string(PhaseCopy), Kind: PhaseCopy, State: PhaseFailed, Attempts: 3},
				}}, t0
			},
			want: Metrics{ErrorRate: 1.0 / 2, Attempts: 4, FailedAttempts: 3},
		},
		{
			name: "a running phase's current attempt does not count as failed",
			build: func() (*Report, time.Time) {
				return &Report{StartTime: t0, Phases: []PhaseReport{
					{Phase: string(PhaseProvision), Kind: PhaseProvision, State: PhaseCompleted, Attempts: 1},
					{Phase: string(PhaseCopy), Kind: PhaseCopy, State: PhaseRunning, Attempts: 2},
				}}, t0
			},
			want: Metrics{Attempts: 3, FailedAttempts: 1},
		},
		{
			name: "first-attempt successes give a zero error rate",
			build: func() (*Report, time.Time) {
				return &Report{StartTime: t0, Phases: []PhaseReport{
					{Phase: string(PhaseProvision), Kind: PhaseProvision, State: PhaseCompleted, Attempts: 1},
					{Phase: string(PhaseCopy), Kind: PhaseCopy, State: PhaseCompleted, Attempts: 1},
				}}, t0
			},
			want: Metrics{},
		},
		{
			name: "issues encountered counts every issue",
			build: func() (*Report, time.Time) {
				r := &Report{StartTime: t0}
				r.AddIssue(t0, string(PhaseCopy), SeverityWarning, "slow")
				r.AddIssue(t0, string(PhaseCopy), SeverityError, "broken")
				return r, t0
			},
			want: Metrics{IssuesEncountered: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, now := tt.build()
			r.CurrentIndex = -1
			if r.Status == "" {
				r.Status = StatusInProgress
			}
			r.Refresh(now)
			assert.Equal(t, tt.want.RecordsCopied, r.Metrics.RecordsCopied, "records copied")
			assert.Equal(t, tt.want.RecordsCompared, r.Metrics.RecordsCompared, "records compared")
			assert.Equal(t, tt.want.ChangesApplied, r.Metrics.ChangesApplied, "changes applied")
			assert.InDelta(t, tt.want.RecordsPerMinute, r.Metrics.RecordsPerMinute, 1e-9, "records per minute")
			assert.InDelta(t, tt.want.ErrorRate, r.Metrics.ErrorRate, 1e-9, "error rate")
			if tt.want.Attempts > 0 {
				assert.Equal(t, tt.want.Attempts, r.Metrics.Attempts, "attempts")
			}
			assert.Equal(t, tt.want.FailedAttempts, r.Metrics.FailedAttempts, "failed attempts")
			assert.Equal(t, tt.want.IssuesEncountered, r.Metrics.IssuesEncountered, "issues")
		})
	}
}

func TestAddIssue(t *testing.T) {
	r := &Report{}
	r.AddIssue(t0, string(PhaseCopy), SeverityError, "broken")
	assert.Equal(t, []Issue{{Time: t0, Phase: string(PhaseCopy), Severity: SeverityError, Message: "broken"}}, r.Issues)
}

func TestRollbackAvailability(t *testing.T) {
	tests := []struct {
		name     string
		status   Status
		current  int
		phases   []PhaseReport
		note     string // RollbackNote before Refresh
		want     string
		wantNote string // substring of the note; "" means the note must be empty
	}{
		{"available while in progress", StatusInProgress, 0,
			[]PhaseReport{ph(PhaseCopy, PhaseRunning), ph(PhaseDecommission, PhasePending)}, "", RollbackAvailable, ""},
		{"available before the first phase", StatusInProgress, -1,
			[]PhaseReport{ph(PhaseCopy, PhasePending)}, "", RollbackAvailable, ""},
		{"available while paused before decommission", StatusPaused, 1,
			[]PhaseReport{ph(PhaseCopy, PhaseCompleted), ph(PhaseDecommission, PhasePending)}, "", RollbackAvailable, ""},
		{"available while decommission waits at its gate", StatusWaitingApproval, 1,
			[]PhaseReport{ph(PhaseCopy, PhaseCompleted), ph(PhaseDecommission, PhasePending)}, "", RollbackAvailable, ""},
		{"not available once decommission runs", StatusInProgress, 1,
			[]PhaseReport{ph(PhaseCopy, PhaseCompleted), ph(PhaseDecommission, PhaseRunning)}, "", RollbackNotAvailable, "point of no return"},
		{"not available once decommission completed", StatusInProgress, 1,
			[]PhaseReport{ph(PhaseCopy, PhaseCompleted), ph(PhaseDecommission, PhaseCompleted)}, "", RollbackNotAvailable, "point of no return"},
		{"not available while paused after decommission started", StatusPaused, 1,
			[]PhaseReport{ph(PhaseCopy, PhaseCompleted), ph(PhaseDecommission, PhaseRunning)}, "", RollbackNotAvailable, "point of no return"},
		{"not available after decommission failed", StatusFailed, 1,
			[]PhaseReport{ph(PhaseCopy, PhaseCompleted), ph(PhaseDecommission, PhaseFailed)}, "", RollbackNotAvailable, "point of no return"},
		{"not available when failed without decommission", StatusFailed, 0,
			[]PhaseReport{ph(PhaseCopy, PhaseFailed)}, "", RollbackNotAvailable, "failed"},
		{"not available when completed", StatusCompleted, -1,
			[]PhaseReport{ph(PhaseCopy, PhaseCompleted), ph(PhaseDecommission, PhaseCompleted)}, "", RollbackNotAvailable, "completed"},
		{"in progress while rolling back, keeping its reason", StatusRollingBack, 0,
			[]PhaseReport{ph(PhaseCopy, PhaseCompensating)}, "p99 too high", RollbackInProgress, "p99 too high"},
		{"done when rolled back", StatusRolledBack, -1,
			[]PhaseReport{ph(PhaseCopy, PhaseCompensated)}, "p99 too high", RollbackDone, "p99 too high"},
		{"done when rollback failed", StatusRollbackFailed, 0,
			[]PhaseReport{ph(PhaseCopy, PhaseCompFailed)}, "p99 too high", RollbackDone, "p99 too high"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Report{Name: "demo", Status: tt.status, StartTime: t0, CurrentIndex: tt.current, Phases: tt.phases, RollbackNote: tt.note}
			r.Refresh(t0)
			assert.Equal(t, tt.want, r.Rollback)
			if tt.wantNote == "" {
				assert.Empty(t, r.RollbackNote)
			} else {
				assert.Contains(t, r.RollbackNote, tt.wantNote)
			}
		})
	}
}

func TestRisk(t *testing.T) {
	plan := func(current PhaseState) []PhaseReport {
		return []PhaseReport{
			{Phase: string(PhaseCopy), Kind: PhaseCopy, State: PhaseCompleted, Attempts: 1},
			{Phase: string(PhaseShiftTraffic), Kind: PhaseShiftTraffic, State: current},
			{Phase: string(PhaseDecommission), Kind: PhaseDecommission, State: PhasePending},
		}
	}
	tests := []struct {
		name    string
		status  Status
		current int
		phases  []PhaseReport
		issues  []string // severities
		want    string
	}{
		{"low while a safe phase runs cleanly", StatusInProgress, 0,
			[]PhaseReport{{Phase: string(PhaseCopy), Kind: PhaseCopy, State: PhaseRunning, Attempts: 1}}, nil, RiskLow},
		{"low before any phase", StatusInProgress, -1, plan(PhasePending), nil, RiskLow},
		{"low with warnings only", StatusInProgress, 0,
			[]PhaseReport{{Phase: string(PhaseCopy), Kind: PhaseCopy, State: PhaseRunning, Attempts: 1}}, []string{SeverityWarning}, RiskLow},
		{"medium while traffic shifts", StatusInProgress, 1, plan(PhaseRunning), nil, RiskMedium},
		{"medium while traffic shift waits at its gate", StatusWaitingApproval, 1, plan(PhasePending), nil, RiskMedium},
		{"medium while traffic shifts with a warning", StatusInProgress, 1, plan(PhaseRunning), []string{SeverityWarning}, RiskMedium},
		{"high while traffic shifts with an error issue", StatusInProgress, 1, plan(PhaseRunning), []string{SeverityError}, RiskHigh},
		{"medium with an error issue elsewhere", StatusInProgress, 0,
			[]PhaseReport{{Phase: string(PhaseCopy), Kind: PhaseCopy, State: PhaseRunning, Attempts: 1}}, []string{SeverityError}, RiskMedium},
		{"medium with retried attempts", StatusInProgress, 0,
			[]PhaseReport{{Phase: string(PhaseCopy), Kind: PhaseCopy, State: PhaseRunning, Attempts: 2}}, nil, RiskMedium},
		{"high while decommission runs", StatusInProgress, 2,
			[]PhaseReport{ph(PhaseCopy, PhaseCompleted), ph(PhaseShiftTraffic, PhaseCompleted), ph(PhaseDecommission, PhaseRunning)}, nil, RiskHigh},
		{"medium while rolling back", StatusRollingBack, 0,
			[]PhaseReport{ph(PhaseCopy, PhaseCompensating)}, nil, RiskMedium},
		{"medium while rolling back even from decommission position", StatusRollingBack, 1,
			[]PhaseReport{ph(PhaseCopy, PhaseCompleted), ph(PhaseDecommission, PhaseCompensating)}, []string{SeverityError}, RiskMedium},
		{"high when failed", StatusFailed, 2,
			[]PhaseReport{ph(PhaseCopy, PhaseCompleted), ph(PhaseShiftTraffic, PhaseCompleted), ph(PhaseDecommission, PhaseFailed)}, nil, RiskHigh},
		{"high when rollback failed", StatusRollbackFailed, 0,
			[]PhaseReport{ph(PhaseCopy, PhaseCompFailed)}, nil, RiskHigh},
		{"low when completed despite past errors", StatusCompleted, -1,
			[]PhaseReport{{Phase: string(PhaseCopy), Kind: PhaseCopy, State: PhaseCompleted, Attempts: 3}}, []string{SeverityError}, RiskLow},
		{"low when rolled back", StatusRolledBack, -1,
			[]PhaseReport{{Phase: string(PhaseCopy), Kind: PhaseCopy, State: PhaseCompensated, Attempts: 3}}, []string{SeverityError}, RiskLow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Report{Name: "demo", Status: tt.status, StartTime: t0, CurrentIndex: tt.current, Phases: tt.phases}
			for _, sev := range tt.issues {
				r.AddIssue(t0, "", sev, "something")
			}
			r.Refresh(t0)
			assert.Equal(t, tt.want, r.Risk)
		})
	}
}

func TestNextSteps(t *testing.T) {
	const rollbackCmd = "godwit rollback demo"
	tests := []struct {
		name    string
		status  Status
		paused  bool
		gate    string
		current int
		phases  []PhaseReport
		want    []string // substrings that some step must contain
		notWant []string // substrings no step may contain
		exactly int      // number of steps, when > 0
		note    string   // the report's RollbackNote
	}{
		{
			name: "waiting for approval says how to approve the gate and how to roll back", status: StatusWaitingApproval, gate: "go-live", current: 1,
			phases:  []PhaseReport{ph(PhaseCopy, PhaseCompleted), {Phase: string(PhaseShiftTraffic), Kind: PhaseShiftTraffic, State: PhasePending, Gate: "go-live"}},
			want:    []string{"godwit approve demo --gate go-live", `"go-live"`, rollbackCmd},
			exactly: 2,
		},
		{
			name: "waiting at a contract's gate says what must hold before approving", status: StatusWaitingApproval, gate: "contract", current: 2,
			phases: []PhaseReport{
				{Phase: "expand", Kind: PhaseProvision, Driver: "expand", State: PhaseCompleted},
				{Phase: "backfill", Kind: PhaseCopy, Driver: "backfill", State: PhaseCompleted},
				{Phase: "contract", Kind: PhaseDecommission, Driver: "contract", State: PhasePending, Gate: "contract"},
			},
			want:    []string{"once no code reads or writes what the contract removes", "no rollback after it", "godwit approve demo --gate contract", rollbackCmd},
			exactly: 2,
		},
		{
			name: "paused says how to resume and how to roll back", status: StatusPaused, paused: true, current: 1,
			phases:  []PhaseReport{ph(PhaseCopy, PhaseCompleted), ph(PhaseReconcile, PhasePending)},
			want:    []string{"godwit resume demo", rollbackCmd},
			notWant: []string{"wait for phase"},
			exactly: 2,
		},
		{
			name: "paused after decommission started offers no rollback", status: StatusPaused, paused: true, current: 1,
			phases:  []PhaseReport{ph(PhaseCopy, PhaseCompleted), ph(PhaseDecommission, PhaseRunning)},
			want:    []string{"godwit resume demo"},
			notWant: []string{"rollback"},
		},
		{
			name: "in progress says to watch the running phase and how to abort", status: StatusInProgress, current: 0,
			phases:  []PhaseReport{ph(PhaseCopy, PhaseRunning), ph(PhaseDecommission, PhasePending)},
			want:    []string{"wait for phase copy", "godwit status demo --watch", rollbackCmd},
			notWant: []string{"resume"},
			exactly: 2,
		},
		{
			name: "in progress after decommission started offers no rollback", status: StatusInProgress, current: 1,
			phases:  []PhaseReport{ph(PhaseCopy, PhaseCompleted), ph(PhaseDecommission, PhaseRunning)},
			want:    []string{"wait for phase decommission"},
			notWant: []string{"rollback"},
			exactly: 1,
		},
		{
			name: "rolling back says to watch the compensations", status: StatusRollingBack, current: 0,
			phases:  []PhaseReport{ph(PhaseCopy, PhaseCompensating)},
			want:    []string{"godwit status demo --watch", "compensations"},
			notWant: []string{rollbackCmd},
			exactly: 1,
		},
		{
			name: "completed has nothing left to do", status: StatusCompleted, current: -1,
			phases:  []PhaseReport{ph(PhaseCopy, PhaseCompleted)},
			want:    []string{"none: the migration is complete"},
			notWant: []string{rollbackCmd},
			exactly: 1,
		},
		{
			name: "rolled back says to fix the cause and start again", status: StatusRolledBack, current: -1,
			phases:  []PhaseReport{ph(PhaseCopy, PhaseCompensated)},
			want:    []string{"find the cause", "godwit start -f"},
			notWant: []string{rollbackCmd},
			exactly: 1,
		},
		{
			name: "an asked-for rollback of an in-place schema change speaks of the schema, not a legacy side", status: StatusRolledBack, current: -1,
			phases: []PhaseReport{
				{Phase: "expand", Kind: PhaseProvision, Driver: "expand", State: PhaseCompensated},
				{Phase: "backfill", Kind: PhaseCopy, Driver: "backfill", State: PhaseCompensated},
				{Phase: "contract", Kind: PhaseDecommission, Driver: "contract", State: PhasePending},
			},
			note:    "rollback requested by alice: trial",
			want:    []string{"nothing failed", "the schema as it was before the expand", "the application", "godwit cleanup demo --dry-run", "godwit start -f"},
			notWant: []string{"legacy side"},
			exactly: 3,
		},
		{
			name: "rollback failed says to undo compensation failures by hand", status: StatusRollbackFailed, current: 0,
			phases:  []PhaseReport{ph(PhaseCopy, PhaseCompFailed)},
			want:    []string{"COMPENSATION_FAILED", "by hand", "godwit start -f"},
			notWant: []string{rollbackCmd},
			exactly: 2,
		},
		{
			name: "failed says nothing was rolled back", status: StatusFailed, current: 0,
			phases:  []PhaseReport{ph(PhaseDecommission, PhaseFailed)},
			want:    []string{"nothing was rolled back"},
			notWant: []string{rollbackCmd},
			exactly: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Report{Name: "demo", Status: tt.status, Paused: tt.paused, WaitingGate: tt.gate,
				StartTime: t0, CurrentIndex: tt.current, Phases: tt.phases, RollbackNote: tt.note}
			r.Refresh(t0)
			all := strings.Join(r.NextSteps, "\n")
			for _, w := range tt.want {
				assert.Contains(t, all, w)
			}
			for _, w := range tt.notWant {
				assert.NotContains(t, all, w)
			}
			if tt.exactly > 0 {
				assert.Len(t, r.NextSteps, tt.exactly, all)
			}
		})
	}
}

func TestStatusFinal(t *testing.T) {
	tests := []struct {
		status Status
		final  bool
	}{
		{StatusInProgress, false},
		{StatusPaused, false},
		{StatusWaitingApproval, false},
		{StatusRollingBack, false},
		{StatusCompleted, true},
		{StatusRolledBack, true},
		{StatusRollbackFailed, true},
		{StatusFailed, true},
		{"", false},
		{"UNKNOWN", false},
	}
	for _, tt := range tests {
		t.Run(string(tt.status), func(t *testing.T) {
			assert.Equal(t, tt.final, tt.status.Final())
		})
	}
}

func TestPhase(t *testing.T) {
	tests := []struct {
		phase      Phase
		order      int
		noReturn   bool
		validPhase bool
	}{
		{PhaseValidate, 0, false, true},
		{PhaseProvision, 1, false, true},
		{PhaseCopy, 2, false, true},
		{PhaseShiftTraffic, 3, false, true},
		{PhaseReconcile, 4, false, true},
		{PhaseDecommission, 5, true, true},
		{"", -1, false, false},
		{"Copy", -1, false, false},
		{"shift_traffic", -1, false, false},
	}
	for _, tt := range tests {
		t.Run("phase "+string(tt.phase), func(t *testing.T) {
			assert.Equal(t, tt.order, tt.phase.Order(), "order")
			assert.Equal(t, tt.validPhase, tt.phase.Valid(), "valid")
			assert.Equal(t, tt.noReturn, tt.phase.PointOfNoReturn(), "point of no return")
		})
	}
	t.Run("AllPhases are in run order", func(t *testing.T) {
		require.Len(t, AllPhases, 6)
		for i, p := range AllPhases {
			assert.Equal(t, i, p.Order(), p)
		}
	})
}

func TestReportJSON(t *testing.T) {
	running := func() *Report {
		r := NewReport("demo", "move users", []Phase{PhaseCopy, PhaseShiftTraffic}, map[Phase]string{PhaseShiftTraffic: "go-live"}, t0)
		r.CurrentIndex = 0
		r.Phases[0].State = PhaseRunning
		r.Phases[0].StartTime = t0.Add(time.Second)
		r.Phases[0].Attempts = 2
		r.Phases[0].Records = 500
		r.AddIssue(t0.Add(2*time.Second), string(PhaseCopy), SeverityWarning, "slow")
		r.Refresh(t0.Add(time.Minute))
		return r
	}
	tests := []struct {
		name       string
		report     func() *Report
		hasEndTime bool
	}{
		{"a running report omits the zero end time", running, false},
		{"an ended report carries its end time", func() *Report {
			r := running()
			r.Status = StatusCompleted
			r.CurrentIndex = -1
			for i := range r.Phases {
				r.Phases[i].State = PhaseCompleted
				r.Phases[i].EndTime = t0.Add(3 * time.Minute)
			}
			r.EndTime = t0.Add(3 * time.Minute)
			r.Refresh(t0.Add(3 * time.Minute))
			return r
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.report()
			b, err := json.Marshal(r)
			require.NoError(t, err)

			var raw map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(b, &raw))
			_, has := raw["endTime"]
			assert.Equal(t, tt.hasEndTime, has, string(b))
			for _, key := range []string{"name", "status", "startTime", "updatedTime", "currentPhase", "currentIndex",
				"overallProgress", "phases", "metrics", "nextSteps", "risk", "rollback", "paused"} {
				assert.Contains(t, raw, key)
			}

			var phases []map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(raw["phases"], &phases))
			for i, p := range phases {
				_, hasStart := p["startTime"]
				_, hasEnd := p["endTime"]
				assert.Equal(t, !r.Phases[i].StartTime.IsZero(), hasStart, "phase %d startTime", i)
				assert.Equal(t, !r.Phases[i].EndTime.IsZero(), hasEnd, "phase %d endTime", i)
			}

			var back Report
			require.NoError(t, json.Unmarshal(b, &back))
			assert.Equal(t, *r, back)
		})
	}
}

func TestMergeLive(t *testing.T) {
	start := time.Unix(0, 0)
	newRunning := func(state PhaseState) *Report {
		r := NewReport("m", "", []Phase{PhaseValidate, PhaseCopy}, nil, start)
		r.Phases[0].State = PhaseCompleted
		r.Phases[1].State = state
		r.CurrentIndex = 1
		return r
	}
	t.Run("running phase takes heartbeat progress and records", func(t *testing.T) {
		r := newRunning(PhaseRunning)
		r.MergeLive(Live{Percent: 40, Records: 400, Attempt: 1}, start.Add(time.Minute))
		require.Equal(t, 40.0, r.Phases[1].Progress)
		require.Equal(t, int64(400), r.Metrics.RecordsCopied)
		require.Equal(t, 400.0, r.Metrics.RecordsPerMinute)
		require.Equal(t, 55.0, r.OverallProgress, "the copy's 40% weighs RowsShare, the validate done the rest")
		require.Empty(t, r.Phases[1].Error)
	})
	t.Run("a running phase never shows 100 before it completes", func(t *testing.T) {
		r := newRunning(PhaseRunning)
		r.MergeLive(Live{Percent: 100, Attempt: 1}, start)
		require.Less(t, r.Phases[1].Progress, 100.0)
	})
	t.Run("a retry in progress is visible with the last failure", func(t *testing.T) {
		r := newRunning(PhaseRunning)
		r.MergeLive(Live{Attempt: 3, LastFailure: "connection refused"}, start)
		require.Equal(t, 3, r.Phases[1].Attempts)
		require.Equal(t, "attempt 2 failed, retrying: connection refused", r.Phases[1].Error)
		require.Equal(t, RiskMedium, r.Risk, "failed attempts raise the risk")
	})
	t.Run("a retry in progress says what to do before the attempts run out", func(t *testing.T) {
		r := newRunning(PhaseRunning)
		r.MergeLive(Live{Attempt: 8, MaxAttempts: 200, LastFailure: "gateway replica http://gw2:9090 did not acknowledge"}, start)
		require.NotEmpty(t, r.NextSteps)
		assert.Equal(t, "phase copy is retrying (attempt 8 of 200) after the error shown under it: fix what it names (a gateway replica, service "+
			"or database that does not answer: start it again) before the attempts run out, or the phase fails and the migration rolls back", r.NextSteps[0])
		assert.Contains(t, r.NextSteps, `to abort: godwit rollback m --reason "..."`, "the other steps stay")

		r = newRunning(PhaseRunning)
		r.MergeLive(Live{Attempt: 1}, start)
		for _, step := range r.NextSteps {
			assert.NotContains(t, step, "retrying", "a first attempt is not a retry")
		}
	})
	t.Run("a retry after a heartbeat timeout points at the workers, not at a service", func(t *testing.T) {
		// A trial killed the worker mid-backfill: the next attempt resumed
		// on a new worker, and the step told the person to restart "a
		// gateway replica, service or database", none of which had failed.
		r := newRunning(PhaseRunning)
		r.MergeLive(Live{Attempt: 2, MaxAttempts: 3, LastFailure: "activity Heartbeat timeout"}, start)
		require.NotEmpty(t, r.NextSteps)
		assert.Equal(t, "phase copy's attempt 1 stopped sending heartbeats (its worker was killed, lost its connection or hung) and attempt 2 of 3 "+
			"took it over (from its last checkpoint, if it keeps one): keep godwit-worker running on the task queue; if attempts keep timing out, "+
			"read the workers' logs before the attempts run out, or the phase fails and the migration rolls back", r.NextSteps[0])
		assert.NotContains(t, r.NextSteps[0], "gateway replica")
	})
	t.Run("a multi-step phase counts its steps done, not the running step's own percent", func(t *testing.T) {
		var shown []float64
		for _, at := range []struct {
			step    string
			percent float64
		}{{"6 of 14: analysis", 0}, {"6 of 14: analysis", 50}, {"11 of 14: analysis", 0}, {"14 of 14: retire", 100}} {
			r := newRunning(PhaseRunning)
			r.Phases[1].Steps, r.Phases[1].Step = 14, at.step
			r.MergeLive(Live{Percent: at.percent, Attempt: 1}, start)
			shown = append(shown, r.Phases[1].Progress)
		}
		assert.InDeltaSlice(t, []float64{100 * 5.0 / 14, 100 * 5.5 / 14, 100 * 10.0 / 14, 99.9}, shown, 1e-9,
			"step 6 of 14 at 0%% and 50%%, step 11 at 0%%, the last step at 100%%")
	})
	t.Run("a phase that is not running is left alone", func(t *testing.T) {
		r := newRunning(PhasePending)
		r.MergeLive(Live{Percent: 50, Records: 5, Attempt: 2}, start)
		require.Equal(t, 0.0, r.Phases[1].Progress)
		require.Zero(t, r.Phases[1].Attempts)
	})
}

func TestEndedRunsDoNotReadAsNotStarted(t *testing.T) {
	for status, want := range map[Status]string{
		StatusRolledBack:     "none: rolled back",
		StatusRollbackFailed: "none: rollback failed",
		StatusFailed:         "none: failed",
		StatusCompleted:      "2 of 2: done",
	} {
		r := NewReport("m", "", []Phase{PhaseValidate, PhaseCopy}, nil, time.Unix(0, 0))
		r.Status = status
		r.Refresh(time.Unix(1, 0))
		require.Equal(t, want, r.CurrentPhase, status)
	}
}

func TestPausedAtAGateSaysBothWaits(t *testing.T) {
	r := NewReport("m", "", []Phase{PhaseShiftTraffic}, map[Phase]string{PhaseShiftTraffic: "go-live"}, time.Unix(0, 0))
	r.Status, r.WaitingGate, r.Paused, r.CurrentIndex = StatusWaitingApproval, "go-live", true, 0
	r.Refresh(time.Unix(1, 0))
	require.Contains(t, r.NextSteps[0], "godwit approve m --gate go-live")
	require.Contains(t, r.NextSteps[1], "godwit resume m")
}

func TestHeadline(t *testing.T) {
	r := NewReport("m", "", []Phase{PhaseValidate, PhaseCopy}, nil, time.Unix(0, 0))
	r.Phases[0].State, r.CurrentIndex = PhaseCompleted, 1
	r.Phases[1].State = PhaseRunning
	r.Refresh(time.Unix(1, 0))
	require.Equal(t, "- **IN_PROGRESS**: phase 2 of 2: copy, 25% done\n- rollback AVAILABLE, risk LOW\n- next: wait for phase copy to finish: `godwit status m --watch`\n", r.Headline())
}

func TestShowPaused(t *testing.T) {
	tests := []struct {
		name   string
		status Status
		state  PhaseState
		want   PhaseState
	}{
		{"a paused run's running phase shows PAUSED", StatusPaused, PhaseRunning, PhasePaused},
		{"a running run's phase stays RUNNING", StatusInProgress, PhaseRunning, PhaseRunning},
		{"paused before a phase, it stays PENDING", StatusPaused, PhasePending, PhasePending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Report{Status: tt.status, CurrentIndex: 0, Phases: []PhaseReport{{Phase: "copy", Kind: PhaseCopy, State: tt.state, Progress: 25}}}
			r.ShowPaused()
			assert.Equal(t, tt.want, r.Phases[0].State)
			assert.InDelta(t, 25.0, r.Phases[0].Progress, 1e-9, "the progress it stopped at is kept")
		})
	}
}

// Paused while its activity still runs (stopping after its batch), a
// phase shows PAUSED at the activity's live progress, not at 0, whichever
// order the status applies the two in.
func TestAPhasePausedWhileItsActivityStopsShowsItsLiveProgress(t *testing.T) {
	for _, pausedFirst := range []bool{true, false} {
		r := &Report{Status: StatusPaused, CurrentIndex: 0, Phases: []PhaseReport{{Phase: "backfill", Kind: PhaseCopy, State: PhaseRunning}}}
		live := Live{Percent: 40, Records: 400, Attempt: 1, Detail: "users: 400 / 1,000 rows"}
		if pausedFirst {
			r.ShowPaused()
			r.MergeLive(live, time.Now())
		} else {
			r.MergeLive(live, time.Now())
			r.ShowPaused()
		}
		p := r.Phases[0]
		assert.Equal(t, PhasePaused, p.State)
		assert.InDelta(t, 40.0, p.Progress, 1e-9)
		assert.Equal(t, int64(400), p.Records)
		assert.Equal(t, "users: 400 / 1,000 rows", p.Detail)
	}
}

// A copy whose activity a rollback is cancelling shows its rows, not its
// last heartbeat's rows/s and ETA as if it still moved.
func TestMergeLiveOfACopyBeingStoppedShowsNoRateOrETA(t *testing.T) {
	start := time.Unix(0, 0)
	live := Live{Percent: 50, Records: 1000, Attempt: 1, Detail: "orders: 1,000 / 2,000 rows, 500 rows/s, ETA 2s",
		Tables: []TableProgress{{Table: "orders", RowsDone: 1000, Total: 2000, RowsPerSecond: 500, ETASeconds: 2}}}
	for _, tc := range []struct {
		name   string
		status Status
		state  PhaseState
		moving bool
	}{
		{"running", StatusInProgress, PhaseRunning, true},
		{"rolling back", StatusRollingBack, PhaseRunning, false},
		{"paused: a phase that cannot stop runs on to its end", StatusPaused, PhasePaused, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewPlannedReport("m", "", []PlannedPhase{{Name: "copy", Kind: PhaseCopy, Driver: "copy"}}, start)
			r.Status, r.CurrentIndex = tc.status, 0
			r.Phases[0].State, r.Phases[0].StartTime = tc.state, start
			r.MergeLive(live, start.Add(time.Minute))
			p := r.Phases[0]
			assert.Equal(t, int64(1000), p.Records)
			assert.Equal(t, 50.0, p.Progress)
			require.Len(t, p.Tables, 1)
			if tc.moving {
				assert.Equal(t, live.Detail, p.Detail)
				assert.Equal(t, 500.0, p.Tables[0].RowsPerSecond)
				return
			}
			assert.Zero(t, p.Tables[0].RowsPerSecond)
			assert.Zero(t, p.Tables[0].ETASeconds)
			assert.NotContains(t, p.Detail, "ETA")
			assert.Contains(t, p.Detail, "stopping: ")
			assert.Contains(t, p.Detail, "1000 records in")
		})
	}
	assert.Equal(t, 500.0, live.Tables[0].RowsPerSecond, "the heartbeat's own figures are not changed")
}
