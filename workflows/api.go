// Package workflows holds the Migration workflow: deterministic
// orchestration of a migration's phases, gates, pause and rollback. It does
// no I/O of its own; activities do the work.
package workflows

import (
	"errors"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
)

// Stable names: users type these in the Temporal UI and the temporal CLI, and
// recorded histories depend on them. Never rename one.
const (
	WorkflowName   = "Migration"
	SignalPause    = "pause"
	SignalResume   = "resume"
	SignalRollback = "rollback"
	UpdateApprove  = "approve"
	UpdateRepair   = "repair"
	UpdatePromote  = "promote"
	UpdateRecord   = "record"
	UpdateThrottle = "throttle"
	QueryStatus    = "status"
	// Preflight and Lease are the workflow types of `godwit preflight` and
	// of a resource's lease; SignalRelease ends a lease.
	PreflightWorkflowName = "Preflight"
	LeaseWorkflowName     = activities.LeaseWorkflowType
	SignalRelease         = activities.LeaseReleaseSignal
)

// Workflow ID prefixes of the Preflight and Lease workflows, so a
// visibility query can leave them out (docs/temporal-ui.md); a migration's
// workflow ID is its name.
const (
	PreflightIDPrefix = "godwit-preflight:"
	LeaseIDPrefix     = activities.LeaseIDPrefix
)

// LeaseWorkflowID is the workflow ID of resource's lease in the old form,
// from before leases were keyed by identity (defined with the lease
// activities, which look leases up by it).
func LeaseWorkflowID(resource string) string { return activities.LeaseWorkflowID(resource) }

// Search attributes upserted as a run moves, so runs can be filtered in the
// Temporal UI (MigrationStatus="PAUSED").
// MemoSummary is the memo field where a Migration run keeps its
// migration.Summary, upserted at phase boundaries: what `godwit status`
// shows as last known when no worker answers, and what the dashboard lists.
const MemoSummary = "godwitSummary"

var (
	SearchAttrPhase  = temporal.NewSearchAttributeKeyKeyword("MigrationPhase")
	SearchAttrStatus = temporal.NewSearchAttributeKeyKeyword("MigrationStatus")
	// SearchAttrLag is the replication lag in seconds a replicate phase
	// last measured (ReplicationLag > 5).
	SearchAttrLag = temporal.NewSearchAttributeKeyFloat64("ReplicationLag")
)

// SearchAttributeNames lists the custom search attributes a namespace needs.
var SearchAttributeNames = []string{SearchAttrPhase.GetName(), SearchAttrStatus.GetName(), SearchAttrLag.GetName()}

// SearchAttributes are the custom search attributes with their types, as
// a namespace registers them.
var SearchAttributes = map[string]enums.IndexedValueType{
	SearchAttrPhase.GetName():  enums.INDEXED_VALUE_TYPE_KEYWORD,
	SearchAttrStatus.GetName(): enums.INDEXED_VALUE_TYPE_KEYWORD,
	SearchAttrLag.GetName():    enums.INDEXED_VALUE_TYPE_DOUBLE,
}

// Error types of the workflow's own failure, one per unsuccessful final
// status; the report travels as the error's details.
const (
	ErrTypeRolledBack     = "ROLLED_BACK"
	ErrTypeRollbackFailed = "ROLLBACK_FAILED"
	ErrTypeFailed         = "FAILED"
)

// Input starts a migration.
type Input struct {
	Spec config.Spec `json:"spec"`
	// Carry is the state a run hands to the run it continues as; nil on
	// a migration's first run.
	Carry *Carry `json:"carry,omitempty"`
	// ActivitiesPerRun overrides DefaultActivitiesPerRun (tests).
	ActivitiesPerRun int `json:"activitiesPerRun,omitempty"`
	// FanOutWindow overrides DefaultFanOutWindow, the units of a fan-out
	// one FanOutWindow child runs (tests, benchmarks); at most
	// MaxFanOutWindow.
	FanOutWindow int `json:"fanOutWindow,omitempty"`
	// Plan is the spec's plan (config.PlanSpec), made by `godwit start`
	// or, for a client that sends none, once by the first run; carried
	// across continue-as-new. Runs since changePlans decide with it and
	// never call a driver; runs before it leave it empty.
	Plan *config.Plan `json:"plan,omitempty"`
	// decodeErr is why the input did not decode (see UnmarshalJSON).
	decodeErr error
}

// Carry is a migration's state across continue-as-new: everything the
// next run needs to go on exactly where this one stopped.
type Carry struct {
	Report        migration.Report  `json:"report"`
	Compensations []int             `json:"compensations,omitempty"`
	Approvals     map[string]string `json:"approvals,omitempty"`
	Outputs       config.Outputs    `json:"outputs,omitempty"`
	Leases        []string          `json:"leases,omitempty"`
	LeaseIDs      []string          `json:"leaseIDs,omitempty"`
	// LeasesByActivity says the LeaseIDs were taken by the AcquireLeases
	// activity (leaseBatchV1), so the ReleaseLeases activity ends them.
	LeasesByActivity bool                      `json:"leasesByActivity,omitempty"`
	StepsDone        map[int]int               `json:"stepsDone,omitempty"`
	Prior            map[int]map[string]string `json:"prior,omitempty"`
	Promoted         map[int]string            `json:"promoted,omitempty"`
	Throttle         map[int]int               `json:"throttle,omitempty"`
	Paused           bool                      `json:"paused,omitempty"`
	PreflightDone    bool                      `json:"preflightDone,omitempty"`
	// LagCheckpoint is where the replication that keeps a gate's lag
	// fresh stood (requireLag).
	LagCheckpoint string `json:"lagCheckpoint,omitempty"`
	// Background is the index + 1 of the phase whose replication ran in
	// the background, to start again in the next run; 0: none.
	Background int `json:"background,omitempty"`
	// Phase and Step are where the next run picks up: the index of the
	// phase, and how many of its steps are done.
	Phase int `json:"phase"`
	Step  int `json:"step"`
	// RunKey names the chain of runs (its first run's ID) that owns what
	// its phases create; "" for a chain started before changeRunKey.
	RunKey string `json:"runKey,omitempty"`
}

// RollbackRequest is the `rollback` signal's payload.
type RollbackRequest struct {
	Reason string `json:"reason"`
	By     string `json:"by,omitempty"`
}

// PauseRequest is the optional payload of `pause` and `resume`: a pause
// without one (the temporal CLI without --input) pauses all the same, its
// sender and reason unknown.
type PauseRequest struct {
	Reason string `json:"reason,omitempty"`
	By     string `json:"by,omitempty"`
}

// PausedByGodwit is who paused a run that paused itself (a source table
// changed shape, a step needs a person's decision).
const PausedByGodwit = "godwit"

// ApproveRequest is the `approve` update's argument.
type ApproveRequest struct {
	Gate string `json:"gate"`
	By   string `json:"by,omitempty"`
	// Reason is required to open the "window" gate: starting a disruptive
	// phase outside its window is a decision worth recording.
	Reason string `json:"reason,omitempty"`
}

// WindowGate is the gate a disruptive phase waits at until its window
// opens; approving it (with a reason) starts the phase now.
const WindowGate = "window"

// Repair actions for a blocked rollback.
const (
	RepairRetry   = "retry"
	RepairSkip    = "skip"
	RepairAbandon = "abandon"
)

// RepairRequest is the `repair` update's argument: what to do about the
// compensation that blocks a rollback.
type RepairRequest struct {
	// Action is retry (run the failed compensation again, then the rest),
	// skip (Phase was undone by hand: go on with the rest) or abandon (end
	// the migration as ROLLBACK_FAILED).
	Action string `json:"action"`
	// Phase must name the blocked phase for skip, so nobody skips another.
	Phase  string `json:"phase,omitempty"`
	By     string `json:"by,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// ThrottleRequest is the `throttle` update's argument: a new rows-per-second
// limit for the running phase (0: no limit), taken at its next checkpoint.
type ThrottleRequest struct {
	RowsPerSecond int    `json:"rowsPerSecond"`
	By            string `json:"by,omitempty"`
}

// PromoteRequest is the `promote` update's argument: skip the remaining
// waits, gates and checks of the running phase of steps.
type PromoteRequest struct {
	By     string `json:"by,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// RecordRequest is the `record` update's argument: something a person did
// by hand to the systems the migration drives (a manual weight override),
// kept as an issue in the report.
type RecordRequest struct {
	By      string `json:"by,omitempty"`
	Message string `json:"message"`
}

// ApproveResult is what `approve` returns once the gate is open.
type ApproveResult struct {
	Gate  string `json:"gate"`
	Phase string `json:"phase"`
	By    string `json:"by,omitempty"`
}

// ReportFromError returns the final report a run that did not complete
// carries in its failure (ROLLED_BACK, ROLLBACK_FAILED, FAILED) or its
// cancellation, and false when err holds none (terminated, timed out).
func ReportFromError(err error) (*migration.Report, bool) {
	var rep migration.Report
	var appErr *temporal.ApplicationError
	var canceled *temporal.CanceledError
	switch {
	case errors.As(err, &appErr) && appErr.HasDetails() && appErr.Details(&rep) == nil:
		return &rep, true
	case errors.As(err, &canceled) && canceled.HasDetails() && canceled.Details(&rep) == nil:
		return &rep, true
	}
	return nil, false
}
