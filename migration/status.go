package migration

import "slices"

// Status is the state of a whole migration run.
type Status string

// Migration statuses. The last four are final.
const (
	StatusInProgress      Status = "IN_PROGRESS"
	StatusPaused          Status = "PAUSED"
	StatusWaitingApproval Status = "WAITING_APPROVAL"
	// StatusWaitingWindow: a disruptive phase waits for the spec's window.
	StatusWaitingWindow Status = "WAITING_WINDOW"
	StatusRollingBack   Status = "ROLLING_BACK"
	// StatusRollbackBlocked: a compensation failed for good and the
	// rollback waits for a person (godwit rollback NAME --retry | --skip
	// PHASE | --abandon). Not final.
	StatusRollbackBlocked Status = "ROLLBACK_BLOCKED"
	StatusCompleted       Status = "COMPLETED"
	StatusRolledBack      Status = "ROLLED_BACK"
	StatusRollbackFailed  Status = "ROLLBACK_FAILED"
	StatusFailed          Status = "FAILED"
)

// allStatuses lists every status, for validation and help texts.
var allStatuses = []Status{
	StatusInProgress, StatusPaused, StatusWaitingApproval, StatusWaitingWindow, StatusRollingBack, StatusRollbackBlocked,
	StatusCompleted, StatusRolledBack, StatusRollbackFailed, StatusFailed,
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, v := range allStatuses {
		if s == v {
			return true
		}
	}
	return false
}

// StatusNames returns every status's name.
func StatusNames() []string {
	out := make([]string, len(allStatuses))
	for i, s := range allStatuses {
		out[i] = string(s)
	}
	return out
}

// Final reports whether no further change can happen to a run in status s.
func (s Status) Final() bool {
	switch s {
	case StatusCompleted, StatusRolledBack, StatusRollbackFailed, StatusFailed:
		return true
	}
	return false
}

// moves is every legal change of a run's status: the workflow changes it
// only through one function that checks this table, so a new path that
// would, say, take a finished run back to IN_PROGRESS is caught by the
// tests rather than shown to an operator. A status may always be set to
// itself. Final statuses have no move.
var moves = map[Status][]Status{
	StatusInProgress: {StatusPaused, StatusWaitingApproval, StatusWaitingWindow, StatusRollingBack,
		StatusCompleted, StatusFailed},
	// A gate or window reached while paused waits as such; a pause taken
	// at the last phase ends the run as it would have.
	StatusPaused: {StatusInProgress, StatusWaitingApproval, StatusWaitingWindow, StatusRollingBack,
		StatusCompleted, StatusFailed},
	StatusWaitingApproval: {StatusInProgress, StatusPaused, StatusRollingBack, StatusFailed},
	StatusWaitingWindow:   {StatusInProgress, StatusPaused, StatusRollingBack, StatusFailed},
	StatusRollingBack:     {StatusRollbackBlocked, StatusRolledBack, StatusRollbackFailed},
	// A person repairs a blocked rollback (retry, skip: it goes on; abandon:
	// it ends as failed).
	StatusRollbackBlocked: {StatusRollingBack, StatusRollbackFailed},
}

// CanMoveTo reports whether a run may change from status s to t.
func (s Status) CanMoveTo(t Status) bool {
	return s == t || slices.Contains(moves[s], t)
}

// PhaseState is the state of one phase within a run.
type PhaseState string

// Phase states.
const (
	PhasePending      PhaseState = "PENDING"
	PhaseRunning      PhaseState = "RUNNING"
	PhaseCompleted    PhaseState = "COMPLETED"
	PhaseFailed       PhaseState = "FAILED"
	PhaseCancelled    PhaseState = "CANCELLED"
	PhaseCompensating PhaseState = "COMPENSATING"
	PhaseCompensated  PhaseState = "COMPENSATED"
	PhaseCompFailed   PhaseState = "COMPENSATION_FAILED"
	// PhaseUndoneByHand: its compensation failed and a person undid it by
	// hand, then told the rollback to go on (godwit rollback --skip).
	PhaseUndoneByHand PhaseState = "UNDONE_BY_HAND"
	// PhasePaused is how a status shows the running phase while the run
	// is paused (ShowPaused): stopped at its checkpoint, resumed from
	// there. The workflow keeps it RUNNING, so a throttle still applies.
	PhasePaused PhaseState = "PAUSED"
)

// Rollback availability as shown in the status report.
const (
	RollbackAvailable    = "AVAILABLE"
	RollbackNotAvailable = "NOT_AVAILABLE"
	RollbackInProgress   = "IN_PROGRESS"
	RollbackDone         = "DONE"
)

// Risk levels.
const (
	RiskLow    = "LOW"
	RiskMedium = "MEDIUM"
	RiskHigh   = "HIGH"
)
