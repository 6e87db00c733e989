package workflows

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/godwit/godwit/activities"
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

	changeRolledBackResult = "rolled-back-result"
	// rolledBackResultV1: a rollback a person asked for (`rollback`
	// signal) that undid every phase completes the run with the report
	// (status ROLLED_BACK) as its result instead of failing it; a rollback
	// after a failure or a gate's timeout still fails the run.
	rolledBackResultV1 = 1
)

// run is one migration's state. The report is the source of truth for what
// happened; the rest is grouped by what it serves: the saga (what to undo
// and how a blocked undo goes on), the controls people steer the run with
// (signals and updates), the followers beside the phases (replications,
// notifications), the phase loop's position, and the versions this run
// follows. The groups are embedded, so each field reads as r.name.
type run struct {
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

// maxStepRestarts bounds how often a phase's steps start again (a plan
// that keeps changing under the gate): then the phase fails.
const maxStepRestarts = 3

// restartSteps prepares phase i's steps to run again from the first: the
// gates among them wait for a new approval, and earlier step outputs are
// forgotten.
func (r *run) restartSteps(ctx workflow.Context, i int, steps []config.Step, reason string) {
	for _, st := range steps {
		if st.Gate != "" {
			delete(r.approvals, st.Gate)
		}
	}
	r.prior[i] = map[string]string{}
	r.stepsDone[i] = 0
	pr := &r.report.Phases[i]
	pr.State, pr.Error = migration.PhaseRunning, ""
	msg := fmt.Sprintf("phase %s starts its steps again: %s", r.spec.Phases[i].Name, reason)
	r.addIssue(ctx, r.spec.Phases[i].Name, migration.SeverityWarning, msg)
	r.logger.Warn("steps start again", "phase", r.spec.Phases[i].Name, "reason", reason)
	r.publish(ctx)
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
		r.preflightDone, r.startPhase, r.startStep = c.PreflightDone, c.Phase, c.Step
		r.lagCheckpoint = c.LagCheckpoint
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

// execute runs the phases in order and returns why it stopped early, or nil
// when every phase completed.
func (r *run) execute(ctx workflow.Context) *stopCause {
	for i := r.startPhase; i < len(r.spec.Phases); i++ {
		r.report.CurrentIndex = i
		r.publish(ctx)
		midPhase := i == r.startPhase && r.startStep > 0
		if (r.bg != nil || r.budgetVersion >= historyBudgetV1) && !midPhase && r.nearBudget(ctx) {
			// The run spent its budget (before historyBudgetV1, only a
			// background replication could spend it between phases).
			r.startPhase, r.startStep = i, 0
			return &stopCause{continueAsNew: true}
		}
		if !midPhase {
			if stop := r.holdWhilePaused(ctx); stop != nil {
				return stop
			}
			if !r.gateAfterReadOnly(ctx, i) {
				if stop := r.awaitPhaseGateAndWindow(ctx, i); stop != nil {
					return stop
				}
			}
		}
		if r.needsCapture(i) {
			r.stopBackground()
		}
		if stop := r.runPhase(ctx, i); stop != nil {
			return stop
		}
	}
	return nil
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

// holdWhilePaused keeps the next phase from starting until `resume`.
func (r *run) holdWhilePaused(ctx workflow.Context) *stopCause {
	if stop := r.requested(); stop != nil {
		return stop
	}
	if !r.paused {
		return nil
	}
	r.setStatus(migration.StatusPaused)
	r.publish(ctx)
	r.logger.Info("paused before phase", "phase", r.currentPhase())
	if err := workflow.Await(ctx, func() bool { return !r.paused || r.rollbackReason != "" }); err != nil {
		return r.cancelled()
	}
	if stop := r.requested(); stop != nil {
		return stop
	}
	r.setStatus(migration.StatusInProgress)
	r.publish(ctx)
	return nil
}

// awaitPhaseGateAndWindow waits for the phase's gate, then for the spec's
// window, holding while paused after each.
func (r *run) awaitPhaseGateAndWindow(ctx workflow.Context, i int) *stopCause {
	if stop := r.awaitPhaseGate(ctx, i); stop != nil {
		return stop
	}
	if stop := r.holdWhilePaused(ctx); stop != nil {
		return stop
	}
	if stop := r.awaitWindow(ctx, i); stop != nil {
		return stop
	}
	return r.holdWhilePaused(ctx)
}

// gateAfterPlanOn says whether this run follows changeGateAfterPlan. It
// is asked only when a phase it concerns comes up, so a run without one
// records no marker.
func (r *run) gateAfterPlanOn(ctx workflow.Context) bool {
	if !r.gateAfterPlanAsked {
		r.gateAfterPlan = workflow.GetVersion(ctx, changeGateAfterPlan, workflow.DefaultVersion, gateAfterPlanV1)
		r.gateAfterPlanAsked = true
	}
	return r.gateAfterPlan >= gateAfterPlanV1
}

// gateAfterReadOnly says whether phase i's own gate waits inside its
// steps, after the read-only ones (config.PhaseSpec.GateAfterReadOnly).
func (r *run) gateAfterReadOnly(ctx workflow.Context, i int) bool {
	p := r.spec.Phases[i]
	if r.plan != nil {
		return r.plan.Phases[i].GateAfterReadOnly(p.Approval != nil) && r.gateAfterPlanOn(ctx)
	}
	return p.GateAfterReadOnly() && r.gateAfterPlanOn(ctx)
}

// awaitPhaseGate waits for an `approve` of the phase's gate, if it has one.
func (r *run) awaitPhaseGate(ctx workflow.Context, i int) *stopCause {
	gate := r.spec.Phases[i].Approval
	if gate == nil {
		return nil
	}
	stopFollowing := func() {}
	if gate.RequireLag > 0 && lagOn(ctx) {
		stopFollowing = r.followWhileWaiting(ctx, i, gate)
	}
	by, stop := r.awaitGate(ctx, r.spec.Phases[i].Name, gate.Gate, gate.Timeout.D())
	stopFollowing()
	if stop != nil && stop.continueAsNew {
		r.startPhase, r.startStep = i, 0
	}
	if stop == nil {
		r.report.Phases[i].ApprovedBy = by
		r.publish(ctx)
	}
	return stop
}

// awaitGate waits for an `approve` of gate (for ever when timeout is 0)
// and returns who approved it.
func (r *run) awaitGate(ctx workflow.Context, phase, gate string, timeout time.Duration) (string, *stopCause) {
	r.waitingGate = gate
	r.report.WaitingGate = gate
	r.setStatus(migration.StatusWaitingApproval)
	r.publish(ctx)
	r.notify(ctx, notify.Event{Type: notify.GateWaiting, Phase: phase, Gate: gate,
		Message: fmt.Sprintf("migration %s waits at gate %s: godwit approve %s --gate %s", r.spec.Name, gate, r.spec.Name, gate)})
	r.logger.Info("waiting for approval", "gate", gate, "phase", phase)
	since := workflow.Now(ctx)
	defer r.timeGate(ctx, since)
	promotedNow := func() bool {
		i := r.report.CurrentIndex
		return i >= 0 && r.promoted[i] != "" && gate != r.phaseGate(i)
	}
	opened := func() bool { return r.approvals[gate] != "" || r.rollbackReason != "" || promotedNow() || r.gateBreak }
	ok, err := true, error(nil)
	if timeout > 0 {
		ok, err = workflow.AwaitWithTimeout(ctx, timeout, opened)
	} else {
		err = workflow.Await(ctx, opened)
	}
	r.waitingGate, r.report.WaitingGate = "", ""
	switch {
	case err != nil:
		return "", r.cancelled()
	case r.rollbackReason != "":
		return "", r.requested()
	case r.gateBreak && r.approvals[gate] == "":
		// The gate's replication filled this run's history (requireLag):
		// the next run waits at the same gate.
		r.gateBreak = false
		return "", &stopCause{continueAsNew: true}
	case promotedNow() && r.approvals[gate] == "":
		r.logger.Info("step gate skipped: promoted", "gate", gate)
		r.setStatus(migration.StatusInProgress)
		return r.promoted[r.report.CurrentIndex], nil
	case !ok:
		reason := fmt.Sprintf("gate %s was not approved within %s", gate, config.Duration(timeout))
		r.addIssue(ctx, phase, migration.SeverityError, reason)
		return "", &stopCause{reason: reason}
	}
	r.setStatus(r.runningStatus())
	return r.approvals[gate], nil
}

// runPhase runs phase i: its preflight first when it is the first validate
// phase, then its steps or its single action. A rollback requested
// meanwhile interrupts it, unless the phase is past the point of no return.
func (r *run) runPhase(ctx workflow.Context, i int) *stopCause {
	spec := r.spec.Phases[i]
	pr := &r.report.Phases[i]
	if pr.State != migration.PhaseRunning {
		pr.State, pr.StartTime = migration.PhaseRunning, workflow.Now(ctx)
		r.publish(ctx)
		r.notify(ctx, notify.Event{Type: notify.PhaseStarted, Phase: spec.Name,
			Message: fmt.Sprintf("migration %s: phase %s started", r.spec.Name, spec.Name)})
	}
	r.publish(ctx)

	if r.version >= spineV1 && spec.Phase == migration.PhaseValidate && !r.preflightDone {
		if stop := r.preflight(ctx, i); stop != nil {
			return stop
		}
	}
	resolved, pp, err := r.phasePlan(i)
	if err != nil {
		return r.phaseFailed(ctx, i, err.Error(), activities.PhaseResult{})
	}
	if len(pp.Steps) > 0 {
		return r.runSteps(ctx, i, resolved, pp.Steps)
	}
	if pp.FanOut > 0 && r.version >= spineV1 {
		return r.runUnits(ctx, i, resolved, pp.FanOut)
	}
	res, stop := r.runAction(ctx, i, resolved, 0)
	if stop != nil && (stop.stepsAgain || stop.holdForPerson) {
		return r.phaseFailed(ctx, i, stop.reason, zeroResult)
	}
	if stop != nil {
		return stop
	}
	r.phaseCompleted(ctx, i, res)
	if r.backgroundAfter(ctx, i, pp) {
		r.startBackground(ctx, i)
	}
	return r.requested() // a rollback that raced the phase's end
}

// runSteps runs a multi-step phase's steps one by one from where an
// earlier run left off. Pause holds between steps, gates wait for
// approval, and the run continues as new when its history grows long.
//
// Since changeGateAfterPlan, the phase's own gate waits after the
// read-only steps it begins with (late), and a decommission keeps
// BeforeNoReturn while only such steps and gates have run (guarded): a
// rollback is still possible there, and read-only steps register no
// compensation, since they did nothing to undo.
func (r *run) runSteps(ctx workflow.Context, i int, spec config.PhaseSpec, steps []config.Step) (stop *stopCause) {
	pr := &r.report.Phases[i]
	pr.Steps = len(steps)
	first := 0
	if i == r.startPhase {
		first = r.startStep
	}
	late := r.gateAfterReadOnly(ctx, i)
	guarded := spec.Phase.PointOfNoReturn() && r.gateAfterPlanOn(ctx)
	change := config.FirstChange(steps)
	if late || guarded {
		defer func() { r.stoppedBeforeChange(ctx, i, stop) }()
	}
	var last activities.PhaseResult
	restarts := 0
	if r.prior[i] == nil {
		r.prior[i] = map[string]string{}
	}
	for k := first; k < len(steps); k++ {
		st := steps[k]
		pr.Step = fmt.Sprintf("%d of %d: %s", k+1, len(steps), st.Name)
		pr.Progress = 100 * float64(k) / float64(len(steps))
		if guarded {
			pr.BeforeNoReturn = k < change || (late && k == change)
		}
		r.publish(ctx)
		if k > first {
			if stop := r.holdWhilePaused(ctx); stop != nil {
				return stop
			}
		}
		if r.promoted[i] != "" && (st.Gate != "" || st.Wait > 0 || st.Check) {
			r.logger.Info("step skipped: promoted", "phase", spec.Name, "step", st.Name)
			r.stepsDone[i] = k + 1
			continue
		}
		if st.Action && r.nearBudget(ctx) {
			r.startPhase, r.startStep = i, k
			return &stopCause{continueAsNew: true}
		}
		if late && k == change && pr.ApprovedBy == "" {
			pr.Step = fmt.Sprintf("%d of %d: gate %s, then %s", k+1, len(steps), spec.Approval.Gate, st.Name)
			if stop := r.awaitPhaseGateAndWindow(ctx, i); stop != nil {
				if stop.continueAsNew {
					r.startPhase, r.startStep = i, k
				}
				return stop
			}
			pr.Step = fmt.Sprintf("%d of %d: %s", k+1, len(steps), st.Name)
		}
		if guarded && k == change {
			pr.BeforeNoReturn = false
			r.publish(ctx)
		}
		switch {
		case st.Gate != "":
			by, stop := r.awaitGate(ctx, spec.Name, st.Gate, 0)
			if stop != nil && stop.continueAsNew {
				// A background replication spent the budget: the next
				// run waits at this step's gate.
				r.startPhase, r.startStep = i, k
			}
			if stop != nil {
				return stop
			}
			r.logger.Info("step gate approved", "phase", spec.Name, "gate", st.Gate, "by", by)
		case st.Wait > 0:
			fired, err := workflow.AwaitWithTimeout(ctx, st.Wait, func() bool { return r.rollbackReason != "" || r.promoted[i] != "" })
			switch {
			case err != nil:
				return r.cancelled()
			case fired && r.rollbackReason != "":
				return r.requested()
			}
		case st.Action:
			res, stop := r.runAction(ctx, i, spec, k+1)
			if stop != nil && stop.stepsAgain && restarts < maxStepRestarts {
				restarts++
				if late {
					// The phase's gate asks again, with the new plan.
					delete(r.approvals, spec.Approval.Gate)
					pr.ApprovedBy = ""
				}
				r.restartSteps(ctx, i, steps, stop.reason)
				k = -1 // the loop goes on at the first step
				continue
			}
			if stop != nil && stop.stepsAgain {
				return r.phaseFailed(ctx, i, fmt.Sprintf("%s (its steps started again %d times already)", stop.reason, restarts), zeroResult)
			}
			if stop != nil && stop.holdForPerson {
				// Hold here for a person: resume runs this step again,
				// promote skips it, rollback undoes the phase.
				r.addIssue(ctx, spec.Name, migration.SeverityWarning,
					fmt.Sprintf("phase %s paused at step %d for a decision: %s; resume to run the step again, promote to go on, or roll back", spec.Name, k+1, stop.reason))
				r.paused, r.report.Paused = true, true
				if stop := r.holdWhilePaused(ctx); stop != nil {
					return stop
				}
				k-- // the same step again (or skipped, if promoted)
				continue
			}
			if stop != nil {
				return stop
			}
			pr.Records += res.Records
			pr.Attempts = int(res.Attempt)
			pr.Summary = res.Summary
			last = res
			// Sorted: workflow code must not depend on map iteration order.
			for _, name := range slices.Sorted(maps.Keys(res.Outputs)) {
				r.prior[i][name] = res.Outputs[name]
			}
			if !contains(r.compensations, i) && !((late || guarded) && st.ReadOnly) {
				// The phase has had effects: a rollback from here on
				// must undo them, though the phase is not finished.
				r.compensations = append(r.compensations, i)
			}
		}
		r.stepsDone[i] = k + 1
		if stop := r.requested(); stop != nil {
			return stop
		}
	}
	last.Records = pr.Records
	last.Outputs = r.prior[i]
	r.phaseCompleted(ctx, i, last)
	return r.requested()
}

// stoppedBeforeChange records phase i, stopped (by a rollback, a gate's
// timeout) before any of its steps changed anything, as cancelled: it has
// nothing to undo, and must not read as still running.
func (r *run) stoppedBeforeChange(ctx workflow.Context, i int, stop *stopCause) {
	pr := &r.report.Phases[i]
	if stop == nil || stop.continueAsNew || pr.State != migration.PhaseRunning || contains(r.compensations, i) {
		return
	}
	pr.State, pr.EndTime = migration.PhaseCancelled, workflow.Now(ctx)
	pr.Error = "stopped before it changed anything: " + stop.reason
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// runAction runs the phase's action (step 0) or one of its steps as an
// activity. A rollback cancels it (not past the point of no return); a
// pause stops a pausable action at its checkpoint, holds, and then runs it
// again from there.
func (r *run) runAction(ctx workflow.Context, i int, spec config.PhaseSpec, step int) (activities.PhaseResult, *stopCause) {
	pausable := false
	if r.plan != nil {
		pausable = r.plan.Phases[i].Pausable && r.version >= spineV1 && step == 0
	} else if p, ok := spec.Driver.(config.Pausable); ok && r.version >= spineV1 {
		pausable = p.Pausable() && step == 0
	}
	resume := ""
	for {
		in := r.throttledInput(i, spec)
		spec = in.Phase
		throttledTo, throttleSet := r.throttle[i]
		r.activities++
		actCtx, cancel := workflow.WithCancel(ctx)
		opts := activityOptions(spec)
		// The Temporal UI shows this instead of only "RunPhase".
		opts.Summary = spec.Name + ": run"
		if step > 0 {
			opts.Summary = fmt.Sprintf("%s: step %s", spec.Name, r.report.Phases[i].Step)
		}
		actCtx = workflow.WithActivityOptions(actCtx, opts)
		in.Step, in.Resume = step, resume
		if step > 0 && len(r.prior[i]) > 0 {
			in.Prior = r.prior[i]
		}
		fut := workflow.ExecuteActivity(actCtx, activities.RunPhaseName, in)
		done, forPause, forThrottle := false, false, false
		rethrottled := func() bool {
			now, set := r.throttle[i]
			return pausable && (set != throttleSet || now != throttledTo)
		}
		if !spec.Phase.PointOfNoReturn() || r.report.Phases[i].BeforeNoReturn {
			workflow.Go(ctx, func(gctx workflow.Context) {
				err := workflow.Await(gctx, func() bool {
					return done || r.rollbackReason != "" || (pausable && r.paused) || rethrottled()
				})
				if !done {
					forPause = err == nil && r.rollbackReason == "" && pausable && r.paused
					forThrottle = err == nil && r.rollbackReason == "" && !forPause && rethrottled()
					cancel()
				}
			})
		}
		var res activities.PhaseResult
		err := fut.Get(ctx, &res)
		done = true
		if err == nil {
			return res, nil
		}
		var canceled *temporal.CanceledError
		if errors.As(err, &canceled) && forThrottle && r.rollbackReason == "" {
			// Stopped at its checkpoint to take the new rate: go on from
			// there at once.
			var stopped activities.PhaseResult
			if canceled.HasDetails() && canceled.Details(&stopped) == nil && stopped.Checkpoint != "" {
				resume = stopped.Checkpoint
			}
			r.logger.Info("phase restarted at its checkpoint with a new throttle", "phase", spec.Name, "rowsPerSecond", r.throttle[i])
			continue
		}
		if errors.As(err, &canceled) && forPause && r.rollbackReason == "" {
			var stopped activities.PhaseResult
			if canceled.HasDetails() && canceled.Details(&stopped) == nil && stopped.Checkpoint != "" {
				resume = stopped.Checkpoint
			}
			pr := &r.report.Phases[i]
			pr.Summary = "stopped by pause at its checkpoint; resume goes on from there"
			if stopped.Records > 0 {
				pr.Records = stopped.Records
			}
			if workflow.GetVersion(ctx, changePausedProgress, workflow.DefaultVersion, pausedProgressV1) >= pausedProgressV1 {
				pr.Progress = min(max(stopped.Percent, 0), 99.9) // 100 only once it completed
			}
			r.logger.Info("paused a running phase at its checkpoint", "phase", spec.Name, "checkpoint", resume)
			if stop := r.holdWhilePaused(ctx); stop != nil {
				r.report.Phases[i].State = migration.PhaseCancelled
				r.report.Phases[i].Error = "interrupted by pause, then rolled back"
				if spec.CompensatePartial {
					r.compensations = append(r.compensations, i)
				}
				return res, stop
			}
			continue
		}
		if stop, handled := r.pauseOnDrift(ctx, i, spec, err, &resume); handled {
			if stop != nil {
				return res, stop
			}
			continue
		}
		return res, r.actionFailed(ctx, i, spec, err)
	}
}

// actionFailed records a phase activity that did not succeed: cancelled
// (by a rollback or the workflow's cancellation) or failed for good.
func (r *run) actionFailed(ctx workflow.Context, i int, spec config.PhaseSpec, err error) *stopCause {
	pr := &r.report.Phases[i]
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		pr.EndTime = workflow.Now(ctx)
		pr.State = migration.PhaseCancelled
		pr.Error = "cancelled before it finished"
		if spec.CompensatePartial && !contains(r.compensations, i) {
			r.compensations = append(r.compensations, i)
		}
		if stop := r.requested(); stop != nil {
			r.publish(ctx)
			return stop
		}
		r.publish(ctx)
		return r.cancelled()
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == activities.ErrTypeStepsAgain {
		return &stopCause{reason: errorMessage(err), stepsAgain: true}
	}
	if errors.As(err, &appErr) && appErr.Type() == activities.ErrTypeHoldForPerson {
		return &stopCause{reason: errorMessage(err), holdForPerson: true}
	}
	res, _ := failedResult(err)
	return r.phaseFailed(ctx, i, errorMessage(err), res)
}

// phaseFailed records phase i as failed for good with msg.
func (r *run) phaseFailed(ctx workflow.Context, i int, msg string, res activities.PhaseResult) *stopCause {
	spec := r.spec.Phases[i]
	pr := &r.report.Phases[i]
	pr.EndTime = workflow.Now(ctx)
	pr.State, pr.Error = migration.PhaseFailed, msg
	if res.Attempt > 0 {
		pr.Attempts, pr.Summary = int(res.Attempt), res.Summary
	}
	r.addIssue(ctx, spec.Name, migration.SeverityError, msg)
	if spec.CompensatePartial && !contains(r.compensations, i) {
		r.compensations = append(r.compensations, i)
	}
	r.countPhase(ctx, spec.Phase, "failed")
	r.publish(ctx)
	r.notify(ctx, notify.Event{Type: notify.PhaseFailed, Phase: spec.Name, Error: msg,
		Message: fmt.Sprintf("migration %s: phase %s failed: %s", r.spec.Name, spec.Name, msg)})
	r.logger.Error("phase failed", "phase", spec.Name, "error", msg)
	return &stopCause{
		reason:       migration.FailedReason(spec.Name, msg),
		pastNoReturn: spec.Phase.PointOfNoReturn() && !pr.BeforeNoReturn,
	}
}

// phaseCompleted records phase i as done, registers its compensation and
// keeps the outputs it declared.
func (r *run) phaseCompleted(ctx workflow.Context, i int, res activities.PhaseResult) {
	spec := r.spec.Phases[i]
	pr := &r.report.Phases[i]
	pr.EndTime = workflow.Now(ctx)
	pr.State, pr.Progress = migration.PhaseCompleted, 100
	pr.Attempts, pr.Records, pr.Summary = int(res.Attempt), res.Records, res.Summary
	if res.Attempt > 1 {
		// Retries that end well still say something about the systems.
		r.addIssue(ctx, spec.Name, migration.SeverityWarning,
			fmt.Sprintf("phase %s succeeded on attempt %d of %d", spec.Name, res.Attempt, spec.Retry.MaxAttempts))
	}
	if len(spec.Outputs) > 0 {
		kept := map[string]string{}
		for _, name := range spec.Outputs {
			if v, ok := res.Outputs[name]; ok {
				kept[name] = v
			}
		}
		r.outputs[spec.Name] = kept
		pr.Outputs = kept
	}
	if !contains(r.compensations, i) {
		r.compensations = append(r.compensations, i)
	}
	if res.Lag != nil && lagOn(ctx) {
		r.recordLag(ctx, spec.Name, res.Lag)
	}
	r.countPhase(ctx, spec.Phase, "completed")
	r.publish(ctx)
	r.notify(ctx, notify.Event{Type: notify.PhaseCompleted, Phase: spec.Name,
		Message: fmt.Sprintf("migration %s: phase %s completed", r.spec.Name, spec.Name)})
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

func activityOptions(p config.PhaseSpec) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: p.Timeout.D(),
		HeartbeatTimeout:    p.HeartbeatTimeout.D(),
		// Wait for a cancelled phase to stop before compensating, so the
		// compensation never races the action it undoes.
		WaitForCancellation: true,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        p.Retry.InitialInterval.D(),
			BackoffCoefficient:     p.Retry.BackoffCoefficient,
			MaximumInterval:        p.Retry.MaxInterval.D(),
			MaximumAttempts:        int32(p.Retry.MaxAttempts),
			NonRetryableErrorTypes: activities.NonRetryableErrorTypes,
		},
	}
}

// errorMessage digs the application's own message out of Temporal's
// wrapping, which a person does not need to read.
func errorMessage(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	var timeoutErr *temporal.TimeoutError
	if errors.As(err, &timeoutErr) {
		return fmt.Sprintf("timed out (%s)", timeoutErr.TimeoutType())
	}
	return err.Error()
}

// failedResult returns the result a failed phase attempt attached to its
// error (activities.WithResult), if any.
func failedResult(err error) (activities.PhaseResult, bool) {
	var appErr *temporal.ApplicationError
	var res activities.PhaseResult
	if errors.As(err, &appErr) && appErr.HasDetails() && appErr.Details(&res) == nil {
		return res, true
	}
	return res, false
}

// zeroResult is the result of a phase that failed before its activity ran.
var zeroResult activities.PhaseResult

// phaseGate returns the gate before phase i ("" if none).
func (r *run) phaseGate(i int) string {
	if a := r.spec.Phases[i].Approval; a != nil {
		return a.Gate
	}
	return ""
}

// throttled returns spec with the rate set by `throttle` for phase i, if
// any and if its driver takes one.
func (r *run) throttled(i int, spec config.PhaseSpec) config.PhaseSpec {
	rps, set := r.throttle[i]
	t, ok := spec.Driver.(config.Throttler)
	if !set || !ok {
		return spec
	}
	spec.Driver = t.WithRowsPerSecond(rps)
	return spec
}
