package migration

// Status is the state of a whole migration run.
type Status string

// Migration statuses. The last four are final.
const (
	StatusInProgress      Status = "IN_PROGRESS"
	StatusPaused          Status = "PAUSED"
	StatusWaitingApproval Status = "WAITING_APPROVAL"
	StatusRollingBack     Status = "ROLLING_BACK"
	StatusCompleted       Status = "COMPLETED"
	StatusRolledBack      Status = "ROLLED_BACK"
	StatusRollbackFailed  Status = "ROLLBACK_FAILED"
	StatusFailed          Status = "FAILED"
)

// Final reports whether no further change can happen to a run in status s.
func (s Status) Final() bool {
	switch s {
	case StatusCompleted, StatusRolledBack, StatusRollbackFailed, StatusFailed:
		return true
	}
	return false
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
