package workflows

import (
	"fmt"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/notify"
)

// Migration runs a migration's phases in order. Each completed phase
// registers its compensation; a failed phase, a failed gate, a `rollback`
// signal or cancellation runs the compensations last-in first-out on a
// disconnected context. The first decommission to start is the point of no
// return. A run that has done many steps continues as new, carrying its
// state, so long phases stay inside Temporal's history limits.
func Migration(ctx workflow.Context, in Input) (*migration.Report, error) {
	if err := prepareInput(ctx, &in); err != nil {
		return nil, err
	}
	if err := preparePlan(ctx, &in); err != nil {
		return nil, err
	}
	r := newRun(ctx, in)
	if err := r.registerHandlers(ctx); err != nil {
		return nil, fmt.Errorf("register handlers: %w", err)
	}
	if workflow.GetVersion(ctx, changeSignals, workflow.DefaultVersion, signalsV1) >= signalsV1 {
		r.watchUnknownSignals(ctx)
	}
	r.publish(ctx)

	stop := r.acquireLeases(ctx)
	if stop == nil {
		if c := in.Carry; c != nil && c.Background > 0 && lagOn(ctx) {
			r.startBackground(ctx, c.Background-1)
		}
		stop = r.execute(ctx)
	}
	if r.bg != nil {
		// Whatever comes next (the end, a rollback's compensations, the
		// next run) must not race the replication.
		r.bgCarry = r.bg.src + 1
		r.stopBackground()
	}
	if stop != nil && stop.continueAsNew {
		r.drainSignals(ctx)
		if stop = r.requested(); stop == nil {
			r.drainNotices(ctx)
			return nil, r.continueAsNew(ctx)
		}
	}
	defer r.releaseLeases(ctx)
	defer r.drainNotices(ctx)
	if stop == nil {
		r.end(ctx, migration.StatusCompleted)
		r.notify(ctx, notify.Event{Type: notify.Completed, Message: fmt.Sprintf("migration %s completed", r.spec.Name)})
		return r.report, nil
	}
	r.report.Error = stop.reason
	if stop.pastNoReturn {
		r.end(ctx, migration.StatusFailed)
		return r.report, temporal.NewNonRetryableApplicationError(
			"FAILED past the point of no return, nothing undone: "+stop.reason, ErrTypeFailed, nil, r.snapshot(ctx))
	}

	r.setStatus(migration.StatusRollingBack)
	r.report.RollbackNote = stop.reason
	r.publish(ctx)
	r.notify(ctx, notify.Event{Type: notify.RollbackStarted, Reason: stop.reason,
		Message: fmt.Sprintf("migration %s is rolling back: %s", r.spec.Name, stop.reason)})
	if err := r.compensate(ctx); err != nil {
		r.report.Error = fmt.Sprintf("%s; then rollback failed: %v", stop.reason, err)
		r.end(ctx, migration.StatusRollbackFailed)
		r.notify(ctx, notify.Event{Type: notify.RollbackFinished, Error: err.Error(),
			Message: fmt.Sprintf("migration %s: rollback FAILED: %v", r.spec.Name, err)})
		return r.report, temporal.NewNonRetryableApplicationError(
			"ROLLBACK_FAILED: "+err.Error(), ErrTypeRollbackFailed, nil, r.snapshot(ctx))
	}
	r.end(ctx, migration.StatusRolledBack)
	r.notify(ctx, notify.Event{Type: notify.RollbackFinished, Reason: stop.reason,
		Message: fmt.Sprintf("migration %s rolled back", r.spec.Name)})
	if stop.cancelled {
		return r.report, temporal.NewCanceledError(r.snapshot(ctx))
	}
	if stop.requested && workflow.GetVersion(ctx, changeRolledBackResult, workflow.DefaultVersion, rolledBackResultV1) >= rolledBackResultV1 {
		// A person asked for this rollback and every compensation ran:
		// the run did what it was asked, so it completes, its result
		// saying ROLLED_BACK. A rollback after a failure still fails it.
		return r.report, nil
	}
	return r.report, temporal.NewNonRetryableApplicationError(
		"ROLLED_BACK: every completed phase was undone; the cause: "+stop.reason, ErrTypeRolledBack, nil, r.snapshot(ctx))
}

// MinCompensationAttempts is the fewest attempts a compensation gets.
const MinCompensationAttempts = 3

// DefaultActivitiesPerRun is how many phase activities one run executes
// before it continues as new: each costs about ten history events, so a
// run stays well below Temporal's warning at 10,240 events.
const DefaultActivitiesPerRun = 400

// Workflow changes, for workflow.GetVersion: runs recorded before a change
// replay on the old path.
const (
	changeSpine = "spine"
	// spineV1: preflight in the validate phase, leases, pause stopping a
	// pausable action at its checkpoint.
	spineV1 = 1

	changeNotify = "notify"
	// notifyV1: webhooks hear of phases, gates, pauses and rollbacks.
	notifyV1 = 1

	changeWindow = "window"
	// windowV1: disruptive phases wait for the spec's window.
	windowV1 = 1

	changeRepair = "repair"
	// repairV1: a failed compensation blocks the rollback (ROLLBACK_BLOCKED)
	// until a `repair` update retries, skips or abandons it.
	repairV1 = 1

	changeReportDriver = "report-driver"
	// reportDriverV1: the report names each phase's driver, so its
	// records count as copied, compared or neither (migration.Metrics).
	reportDriverV1 = 1

	changePausedProgress = "paused-progress"
	// pausedProgressV1: a phase stopped by a pause keeps the progress its
	// last heartbeat reported.
	pausedProgressV1 = 1

	changeLeaseKey = "lease-key"
	// leaseKeyV1: leases are keyed by what a resource is (a store's
	// identity), listed by an activity, with hashed IDs; old-form leases
	// held by earlier runs still count.
	leaseKeyV1 = 1

	changeMemo = "memo"
	// memoV1: the run keeps a migration.Summary in its memo (MemoSummary),
	// upserted at phase boundaries only, for readers with no worker.
	memoV1 = 1

	changeSeries = "series"
	// seriesV1: the report keeps a bounded series of the run's figures
	// (migration.Report.Series), a point at each publish (phase and step
	// boundaries, gates, signals), carried across continue-as-new in the
	// report, so charts survive a restart of the dashboard.
	seriesV1 = 1

	changeGateAfterPlan = "gate-after-plan"
	// gateAfterPlanV1: a phase's own gate waits after the read-only steps
	// its phase begins with (a Terraform plan), so the person at the gate
	// sees what is about to change; a decommission is not past its point
	// of no return until a step that changes something starts; read-only
	// steps register no compensation. Asked only when such a phase comes.
	gateAfterPlanV1 = 1

	changeEarlierAttempts = "earlier-attempts"
	// earlierAttemptsV1: the failed attempts of a phase activity that a
	// pause or a new throttle stopped are kept in the report
	// (PhaseReport.EarlierAttempts), so a worker killed before the pause
	// still shows once the phase has run again. Asked only when such an
	// activity had failed attempts.
	earlierAttemptsV1 = 1

	changeStoppedEnd = "stopped-end"
	// stoppedEndV1: a phase a pause (or a schema-drift pause) stopped and
	// a rollback then ended gets its end time (when it stopped), so its
	// duration and rate stop counting.
	stoppedEndV1 = 1

	changeRolledBackResult = "rolled-back-result"
	// rolledBackResultV1: a rollback a person asked for (`rollback`
	// signal) that undid every phase completes the run with the report
	// (status ROLLED_BACK) as its result instead of failing it; a rollback
	// after a failure or a gate's timeout still fails the run.
	rolledBackResultV1 = 1

	changePauseWho = "pause-who"
	// pauseWhoV1: the report keeps who paused the run, why and since when
	// (Report.PausedBy, PauseReason, PausedSince), and each stretch a
	// pause held a phase that had started (PhaseReport.Pauses), so its
	// duration and rate leave the pause out. Asked only when a pause
	// comes (pauseWhoOn).
	pauseWhoV1 = 1

	changeEndedLag = "ended-lag"
	// endedLagV1: a run that published a ReplicationLag unsets it when it
	// ends, so that `ReplicationLag > 5` finds replications behind now,
	// not runs that ended behind. Asked only by a run whose report has a
	// lag (published by it, or by the run it continued).
	endedLagV1 = 1

	changeLeaseBatch = "lease-batch"
	// leaseBatchV1: the leases are taken by one activity (AcquireLeases)
	// and released by one (ReleaseLeases), instead of a child workflow
	// and a signal per lease, so the run's history does not grow with the
	// number of tables. Asked only by a run with resources to lease.
	leaseBatchV1 = 1

	changeLeaseCheck = "lease-check"
	// leaseCheckV1: a lease checks that its holder still runs every
	// leaseCheckIntervalV1 (10 minutes), not every minute. The check only
	// ends the leases of a migration terminated by hand (a new run's claim
	// clears such a stale lease at once), and each costs the task queue an
	// activity and two workflow tasks: 2,000 leases made 4,000 workflow
	// tasks a minute, and a migration's own tasks waited behind them.
	// Asked by each Lease run, first thing.
	leaseCheckV1 = 1
)

// run is one migration's state. The report is the source of truth for what
// happened; the rest is grouped by what it serves: the saga (what to undo
// and how a blocked undo goes on), the controls people steer the run with
// (signals and updates), the followers beside the phases (replications,
// notifications), the phase loop's position, and the versions this run
// follows. The groups are embedded, so each field reads as r.name.
type run struct {
	// runKey is the chain's first run ID, handed to every phase's
	// activity (activities.PhaseInput.Run): what a phase creates belongs
	// to this run of the migration, not to every run of its name
	// (changeRunKey). "" in a chain started before it.
	runKey string
	spec   config.Spec
	report *migration.Report
	logger log.Logger
	// plan is what the run decides with since changePlans (plans.go);
	// nil on the old path, where it asks the phases' drivers.
	plan *config.Plan

	versions
	saga
	controls
	followers
	position
	published
}

// versions are the workflow changes this run follows (GetVersion).
type versions struct {
	version workflow.Version
	// issuesVersion says how issues are recorded (addIssue).
	issuesVersion workflow.Version
	// budgetVersion says what counts toward the run's budget (nearBudget).
	budgetVersion workflow.Version
	// notifyVersion enables notifications.
	notifyVersion workflow.Version
	// memoVersion enables the memo summary.
	memoVersion workflow.Version
	// seriesVersion enables the report's series (migration.Report.Series).
	seriesVersion workflow.Version
	// gateAfterPlan is this run's changeGateAfterPlan version, once asked.
	gateAfterPlan      workflow.Version
	gateAfterPlanAsked bool
	// pauseWho is this run's changePauseWho version, once asked.
	pauseWho      workflow.Version
	pauseWhoAsked bool
}

// saga is what a rollback undoes and holds (saga.go): the compensations
// registered, last-in first-out, and the repair of a blocked one.
type saga struct {
	// compensations holds the indexes of phases whose compensation is
	// registered, in the order they were registered.
	compensations []int
	// blockedPhase names the phase whose compensation blocks the rollback;
	// repair is the request that unblocks it.
	blockedPhase string
	repair       *RepairRequest
	// leases are the resources this migration holds in the old form
	// (before leaseKeyV1); leaseIDs the IDs of the leases it holds since.
	leases   []string
	leaseIDs []string
	// leasesByActivity: leaseIDs were taken by the AcquireLeases activity
	// (leaseBatchV1) and are released by ReleaseLeases.
	leasesByActivity bool
}

// controls are what people steer the run with (handlers.go): pause,
// rollback, gates' approvals, throttle, promote, the window's reason.
type controls struct {
	paused         bool
	rollbackReason string // non-empty once a rollback is requested
	waitingGate    string
	approvals      map[string]string // gate -> who approved
	// throttle holds the rows-per-second limit set while running (by phase
	// index; `godwit throttle`), overriding the spec's.
	throttle map[int]int
	// promoted names who promoted a phase (by index): its remaining waits,
	// gates and checks are skipped.
	promoted map[int]string
	// windowReason is why the window gate was approved.
	windowReason string
}

// followers run beside the phases: replications (lag.go) and
// notifications (notify.go).
type followers struct {
	// lagGate is the lag condition of the waiting gate (requireLag), and
	// lagCheckpoint where its replication stands; gateBreak ends a gate's
	// wait to continue as new; publishedLag is the ReplicationLag upserted.
	lagGate       *lagGate
	lagCheckpoint string
	gateBreak     bool
	publishedLag  *float64
	// bg is the replication running in the background across phases;
	// bgCarry (its phase's index + 1) restarts it after continue-as-new.
	bg      *follower
	bgCarry int
	// follows numbers the followers' activities, for their IDs.
	follows int
	// notices counts the events sent by this run and pendingNotices are
	// those still being delivered.
	notices        int
	pendingNotices []workflow.Future
}

// position is where the phase loop stands, and what it has to go on with.
type position struct {
	// outputs are the completed phases' outputs, for later phases.
	outputs config.Outputs
	// stepsDone counts the completed steps of each multi-step phase, and
	// prior keeps the outputs of its steps so far.
	stepsDone map[int]int
	prior     map[int]map[string]string
	// preflightDone is set once the preflight passed.
	preflightDone bool
	// startPhase and startStep say where a continued run picks up.
	startPhase, startStep int
	// activities counts the phase activities of this run, and
	// activitiesPerRun is when to continue as new.
	activities, activitiesPerRun int
	// fanOutWindow is the input's FanOutWindow (windowSize).
	fanOutWindow int
}

// published is what the run last upserted, so history gets an event only
// on a change: the search attributes' phase and status, and the memo's
// Summary.Boundary.
type published struct {
	publishedPhase, publishedStatus string
	memoBoundary                    string
}

// stopCause says why the phases stopped before the end.
type stopCause struct {
	reason        string
	pastNoReturn  bool // the failure came at or after decommission: no rollback
	cancelled     bool // the workflow itself was cancelled
	continueAsNew bool // not a stop: the run goes on in a new one
	stepsAgain    bool // a step asked for its phase's steps to start again
	holdForPerson bool // a step asked a person to judge: pause there
	requested     bool // a person asked for the rollback (`rollback` signal)
}

func newRun(ctx workflow.Context, in Input) *run {
	spec := in.Spec
	r := &run{
		spec:   spec,
		logger: log.With(workflow.GetLogger(ctx), "migration", spec.Name),
		plan:   in.Plan,
		controls: controls{
			approvals: map[string]string{},
			promoted:  map[int]string{},
			throttle:  map[int]int{},
		},
		position: position{
			outputs:          config.Outputs{},
			stepsDone:        map[int]int{},
			prior:            map[int]map[string]string{},
			activitiesPerRun: in.ActivitiesPerRun,
			fanOutWindow:     in.FanOutWindow,
		},
	}
	if r.activitiesPerRun <= 0 {
		r.activitiesPerRun = DefaultActivitiesPerRun
	}
	r.version = workflow.GetVersion(ctx, changeSpine, workflow.DefaultVersion, spineV1)
	if len(spec.Notifications) > 0 {
		r.notifyVersion = workflow.GetVersion(ctx, changeNotify, workflow.DefaultVersion, notifyV1)
	}
	r.issuesVersion = workflow.GetVersion(ctx, changeIssues, workflow.DefaultVersion, issuesV2)
	r.memoVersion = workflow.GetVersion(ctx, changeMemo, workflow.DefaultVersion, memoV1)
	r.seriesVersion = workflow.GetVersion(ctx, changeSeries, workflow.DefaultVersion, seriesV1)
	r.budgetVersion = workflow.GetVersion(ctx, changeHistoryBudget, workflow.DefaultVersion, historyBudgetV1)
	if c := in.Carry; c != nil {
		rep := c.Report
		r.report = &rep
		if r.issuesVersion >= issuesV1 {
			// A run before issuesV1 may carry thousands.
			r.report.CompactIssues()
		}
		r.paused, r.compensations, r.leases, r.leaseIDs = c.Paused, c.Compensations, c.Leases, c.LeaseIDs
		r.leasesByActivity = c.LeasesByActivity
		r.preflightDone, r.startPhase, r.startStep = c.PreflightDone, c.Phase, c.Step
		r.lagCheckpoint = c.LagCheckpoint
		r.runKey = c.RunKey
		if c.Approvals != nil {
			r.approvals = c.Approvals
		}
		if c.Outputs != nil {
			r.outputs = c.Outputs
		}
		if c.StepsDone != nil {
			r.stepsDone = c.StepsDone
		}
		if c.Prior != nil {
			r.prior = c.Prior
		}
		if c.Promoted != nil {
			r.promoted = c.Promoted
		}
		if c.Throttle != nil {
			r.throttle = c.Throttle
		}
		return r
	}
	if workflow.GetVersion(ctx, changeRunKey, workflow.DefaultVersion, runKeyV1) >= runKeyV1 {
		info := workflow.GetInfo(ctx)
		r.runKey = info.FirstRunID
		if r.runKey == "" { // the test environment leaves it unset
			r.runKey = info.WorkflowExecution.RunID
		}
	}
	withDriver := workflow.GetVersion(ctx, changeReportDriver, workflow.DefaultVersion, reportDriverV1) >= reportDriverV1
	plan := make([]migration.PlannedPhase, len(spec.Phases))
	for i, p := range spec.Phases {
		plan[i] = migration.PlannedPhase{Name: p.Name, Kind: p.Phase}
		if p.Approval != nil {
			plan[i].Gate = p.Approval.Gate
		}
		if r.plan != nil {
			if withDriver {
				plan[i].Driver = r.plan.Phases[i].Driver
			}
			plan[i].Steps = len(r.plan.Phases[i].Steps)
			continue
		}
		if withDriver {
			plan[i].Driver = p.DriverKey()
		}
		if sp, ok := p.Driver.(config.StepPlanner); ok {
			plan[i].Steps = len(sp.PlanSteps())
		}
	}
	r.report = migration.NewPlannedReport(spec.Name, spec.Description, plan, workflow.Now(ctx))
	return r
}

// requested returns the stop cause of a requested rollback, or nil.
func (r *run) requested() *stopCause {
	if r.rollbackReason == "" {
		return nil
	}
	return &stopCause{reason: r.rollbackReason, requested: true}
}

func (r *run) cancelled() *stopCause {
	return &stopCause{reason: "the workflow was cancelled", cancelled: true}
}

// setStatus changes the run's status, the one place that does. A move
// the table in package migration does not allow is a bug in this
// package: it is still made (a running workflow must not stop over its
// own bookkeeping) and logged as an error, which the tests fail on.
func (r *run) setStatus(to migration.Status) {
	if from := r.report.Status; !from.CanMoveTo(to) {
		r.logger.Error(illegalStatusMove, "from", from, "to", to)
	}
	r.report.Status = to
}

// illegalStatusMove is the message setStatus logs for a move the table
// does not allow.
const illegalStatusMove = "illegal status move"

// runningStatus is the status of a run that goes on: paused or not.
func (r *run) runningStatus() migration.Status {
	if r.paused {
		return migration.StatusPaused
	}
	return migration.StatusInProgress
}

// end records the run's final status. A run that completed or rolled back
// has no current phase; one that failed keeps the phase it failed in.
func (r *run) end(ctx workflow.Context, status migration.Status) {
	r.setStatus(status)
	if status == migration.StatusCompleted || status == migration.StatusRolledBack {
		r.report.CurrentIndex = -1
	}
	r.report.EndTime = workflow.Now(ctx)
	r.publish(ctx)
	r.unpublishLag(ctx)
	r.countEnd(ctx, status)
	r.logger.Info("migration ended", "status", status)
}

// publish refreshes the report and upserts the search attributes when the
// phase or status changed, so history gets an event only on a real change.
func (r *run) publish(ctx workflow.Context) {
	r.report.Refresh(workflow.Now(ctx))
	if r.seriesVersion >= seriesV1 {
		// State, not a command: no history event per point.
		r.report.AddPoint(workflow.Now(ctx), r.prior[r.report.CurrentIndex])
	}
	// Not a command, so not in history: safe to change at any time.
	workflow.SetCurrentDetails(ctx, r.report.Headline())
	phase, status := r.currentPhase(), string(r.report.Status)
	if phase == "" {
		phase = "none"
	}
	defer r.publishMemo(ctx)
	if phase == r.publishedPhase && status == r.publishedStatus {
		return
	}
	r.publishedPhase, r.publishedStatus = phase, status
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		SearchAttrPhase.ValueSet(phase), SearchAttrStatus.ValueSet(status)); err != nil {
		r.logger.Warn("upsert search attributes", "error", err)
	}
}

// publishMemo upserts the report's summary into the memo (MemoSummary)
// when it crossed a boundary (Summary.Boundary): each upsert is a history
// event, so never per step or per batch. The SDK encodes the memo with
// the worker's data converter, so the payload codec encrypts it.
func (r *run) publishMemo(ctx workflow.Context) {
	if r.memoVersion < memoV1 {
		return
	}
	sum := r.report.Summary(workflow.Now(ctx))
	if sum.Boundary() == r.memoBoundary {
		return
	}
	r.memoBoundary = sum.Boundary()
	if err := workflow.UpsertMemo(ctx, map[string]any{MemoSummary: sum}); err != nil {
		r.logger.Warn("upsert memo", "error", err)
	}
}

// snapshot returns a refreshed copy of the report, for queries and errors.
func (r *run) snapshot(ctx workflow.Context) migration.Report {
	rep := *r.report
	rep.Phases = append([]migration.PhaseReport(nil), r.report.Phases...)
	rep.Issues = append([]migration.Issue(nil), r.report.Issues...)
	rep.Series = append([]migration.Point(nil), r.report.Series...)
	rep.Refresh(workflow.Now(ctx))
	return rep
}

// currentPhase returns the current phase's name.
func (r *run) currentPhase() string {
	if i := r.report.CurrentIndex; i >= 0 && i < len(r.spec.Phases) {
		return r.spec.Phases[i].Name
	}
	return ""
}

const (
	// changeRunKey: the activities learn which run of the migration they
	// work for (activities.PhaseInput.Run), so tables and databases a
	// provision created are owned by that run: a later run of the same
	// name no longer takes over (and on rollback drops or empties) what
	// an earlier completed run created.
	changeRunKey = "run-key"
	runKeyV1     = 1
)
