package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
)

// A fan-out of more units than one window holds runs them in windows:
// the migration starts one FanOutWindow child workflow per window of
// consecutive units, one window at a time, and each child runs its units
// as activities, at most the phase's fanOut at once. So the parent's
// history grows by a few events per window and each child's by about
// fanOutEventsPerUnit per unit: a 20,000-unit phase is 20 children of
// about 5,000 events each and some 300 events in the parent, where one
// run would have needed 100,000.
//
// Controls reach the units this way (the simplest design that keeps the
// child small): a rollback or the migration's cancellation cancels the
// running child, which cancels its running units; pause, resume and
// throttle are forwarded to the running child as one SignalWindowControl
// carrying the whole control state (paused, rate), which holds the units
// not yet started or gives them the new rate; between windows the parent
// holds while paused itself. A child reports its units' sums (records,
// units done, failed attempts) when it ends, so the phase's figures add
// up over every unit; `godwit status` adds the running window's own
// progress (QueryWindowStatus).
const (
	changeFanOutWindows = "fanout-windows"
	// fanOutWindowsV1: a fan-out of more units than a window holds runs
	// them in FanOutWindow child workflows instead of failing over the
	// history budget. Asked only for such a fan-out, so runs of smaller
	// ones record no marker and replay as before.
	fanOutWindowsV1 = 1

	// DefaultFanOutWindow is how many units one window runs: about 5,000
	// events in the child's history, an eighth of its budget.
	DefaultFanOutWindow = 1000
	// MaxFanOutWindow bounds a window a run's input asks for.
	MaxFanOutWindow = 4000

	// fanOutEventsPerWindow is what one window adds to the parent's
	// history (start, started, completed, their workflow tasks, a forwarded
	// control now and then), rounded up; fanOutBytesPerUnitWindowed what
	// one unit adds to it (its name in the planned list and in its
	// window's input, and a margin).
	fanOutEventsPerWindow      = 20
	fanOutBytesPerUnitWindowed = 256
)

// Names of the window workflow: its type, its workflow ID prefix (so a
// visibility query can leave windows out, as it does leases), and the
// signal the migration forwards its controls with.
const (
	FanOutWindowName    = "FanOutWindow"
	FanOutIDPrefix      = "godwit-fanout:"
	SignalWindowControl = "window-control"
)

// WindowInput starts one window: the phase (resolved, at its rate when
// the window starts), the units it runs, how many at once, and the
// controls in force.
type WindowInput struct {
	Migration   string           `json:"migration"`
	Phase       config.PhaseSpec `json:"phase"`
	Units       []string         `json:"units"`
	Concurrency int              `json:"concurrency"`
	Control     WindowControl    `json:"control"`
	// Planned is set by a migration on plans as data (changePlans): the
	// phase is as written, Outputs resolve its references, and the rate
	// goes to each unit's activity as a field; the window calls no
	// driver. Unset, the window sets the rate in the section itself.
	Planned bool           `json:"planned,omitempty"`
	Outputs config.Outputs `json:"outputs,omitempty"`
	// Run is the migration's run (activities.PhaseInput.Run), handed to
	// each unit.
	Run string `json:"run,omitempty"`
}

// UnmarshalJSON reads a window's input with its phase's driver section
// kept raw (config.RawPhase), as the Migration workflow reads its own: a
// window on plans as data never decodes it; one from before decodes it
// when it starts, as it always did.
func (in *WindowInput) UnmarshalJSON(data []byte) error {
	type plain WindowInput
	aux := struct {
		*plain
		// At the top level, it hides plain's Phase.
		Phase config.RawPhase `json:"phase"`
	}{plain: &plain{}}
	err := json.Unmarshal(data, &aux)
	*in = WindowInput(*aux.plain)
	in.Phase = config.PhaseSpec(aux.Phase)
	return err
}

// WindowControl is the migration's control state a window obeys: paused
// holds the units not yet started; a rate (set by `throttle`) goes to the
// units started from then on.
type WindowControl struct {
	Paused        bool `json:"paused,omitempty"`
	RowsPerSecond *int `json:"rowsPerSecond,omitempty"`
}

// WindowResult sums a window's units. A window that failed or was
// cancelled returns it as its error's details, with the unit that failed.
type WindowResult struct {
	UnitsDone      int      `json:"unitsDone"`
	Records        int64    `json:"records"`
	FailedAttempts int      `json:"failedAttempts"`
	MaxAttempt     int32    `json:"maxAttempt"`
	Summaries      []string `json:"summaries,omitempty"`
	FailedUnit     string   `json:"failedUnit,omitempty"`
	Error          string   `json:"error,omitempty"`
}

// QueryWindowStatus answers a running window's progress (WindowStatus):
// what `godwit status` adds to the migration's own figures, which count a
// window's units only once it ends. A query handler makes no history
// event: runs recorded before it replay unchanged.
const QueryWindowStatus = "window-status"

// WindowStatus is a running window's progress: the sums of its units
// done so far and the units running now, in the order they started.
type WindowStatus struct {
	UnitsDone      int      `json:"unitsDone"`
	Records        int64    `json:"records"`
	FailedAttempts int      `json:"failedAttempts"`
	Running        []string `json:"running,omitempty"`
}

// ErrTypeUnitFailed is the error type of a window one of whose units
// failed for good.
const ErrTypeUnitFailed = "UNIT_FAILED"

// maxSummaries is how many unit summaries a phase's result keeps.
const maxSummaries = 20

// FanOutWindow runs a window of a fanned-out phase's units, at most
// in.Concurrency at once. The first unit that fails for good stops the
// others; cancellation (the migration's rollback) cancels the running ones.
func FanOutWindow(ctx workflow.Context, in WindowInput) (WindowResult, error) {
	if !in.Planned {
		// From a run before plans as data: it sets the rate in the
		// section itself (withRate), typed.
		phase, err := in.Phase.Decoded()
		if err != nil {
			return WindowResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidInput, err)
		}
		in.Phase = phase
	}
	control := in.Control
	ch := workflow.GetSignalChannel(ctx, SignalWindowControl)
	workflow.Go(ctx, func(g workflow.Context) {
		for {
			// A fresh value: decoding over the old one would keep a
			// Paused the new state omits.
			var c WindowControl
			ch.Receive(g, &c)
			control = c
		}
	})
	// The units wait for one another on a context a cancellation does not
	// reach, so the window returns only once every unit has stopped.
	wait, _ := workflow.NewDisconnectedContext(ctx)
	unitsCtx, cancelAll := workflow.WithCancel(ctx)
	sem := workflow.NewSemaphore(ctx, int64(max(in.Concurrency, 1)))
	var (
		res               WindowResult
		started, finished int
		failure           error
		summaries         = make([]string, len(in.Units))
		running           = make([]bool, len(in.Units))
	)
	if err := workflow.SetQueryHandler(ctx, QueryWindowStatus, func() (WindowStatus, error) {
		st := WindowStatus{UnitsDone: res.UnitsDone, Records: res.Records, FailedAttempts: res.FailedAttempts}
		for j, on := range running {
			if on {
				st.Running = append(st.Running, in.Units[j])
			}
		}
		return st, nil
	}); err != nil {
		return res, err
	}
	for j, unit := range in.Units {
		if failure != nil || ctx.Err() != nil {
			break
		}
		if err := workflow.Await(ctx, func() bool { return !control.Paused || failure != nil }); err != nil {
			break // cancelled
		}
		if err := sem.Acquire(ctx, 1); err != nil {
			break
		}
		if failure != nil {
			sem.Release(1)
			break
		}
		started++
		running[j] = true
		unitIn := activities.PhaseInput{Migration: in.Migration, Run: in.Run, Phase: in.Phase, Unit: unit}
		if in.Planned {
			unitIn.Outputs, unitIn.RowsPerSecond = in.Outputs, control.RowsPerSecond
		} else {
			unitIn.Phase = withRate(in.Phase, control.RowsPerSecond)
		}
		spec := unitIn.Phase
		workflow.Go(wait, func(g workflow.Context) {
			defer sem.Release(1)
			defer func() { running[j] = false }()
			opts := activityOptions(spec)
			opts.Summary = spec.Name + ": " + unit
			var out activities.PhaseResult
			err := workflow.ExecuteActivity(workflow.WithActivityOptions(unitsCtx, opts), activities.RunPhaseName, unitIn).Get(g, &out)
			finished++
			if err != nil {
				res.FailedAttempts += failedAttempts(err)
				if failure == nil {
					failure, res.FailedUnit, res.Error = err, unit, errorMessage(err)
					cancelAll()
				}
				return
			}
			res.UnitsDone++
			res.FailedAttempts += max(int(out.Attempt)-1, 0)
			res.Records += out.Records
			res.MaxAttempt = max(res.MaxAttempt, out.Attempt)
			if out.Summary != "" {
				summaries[j] = unit + ": " + out.Summary
			}
		})
	}
	_ = workflow.Await(wait, func() bool { return finished == started })
	res.Summaries = firstSummaries(nil, summaries)
	var canceled *temporal.CanceledError
	switch {
	case failure != nil && !errors.As(failure, &canceled):
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("unit %s: %s", res.FailedUnit, res.Error), ErrTypeUnitFailed, nil, res)
	case ctx.Err() != nil || failure != nil || res.UnitsDone < len(in.Units):
		res.FailedUnit, res.Error = "", ""
		return res, temporal.NewCanceledError(res)
	}
	return res, nil
}

// withRate returns spec at the rate a `throttle` set, if one did.
func withRate(spec config.PhaseSpec, rps *int) config.PhaseSpec {
	t, ok := spec.Driver.(config.Throttler)
	if rps == nil || !ok {
		return spec
	}
	spec.Driver = t.WithRowsPerSecond(*rps)
	return spec
}

// windowSize is how many units one window of this run holds.
func (r *run) windowSize() int {
	if r.fanOutWindow <= 0 {
		return DefaultFanOutWindow
	}
	return min(r.fanOutWindow, MaxFanOutWindow)
}

// windowed says whether a fan-out of n units runs in windows: more units
// than a window holds, in a run that knows windows (fanOutWindowsV1).
func (r *run) windowed(ctx workflow.Context, n int) bool {
	if r.budgetVersion < historyBudgetV1 || n <= r.windowSize() {
		return false
	}
	return workflow.GetVersion(ctx, changeFanOutWindows, workflow.DefaultVersion, fanOutWindowsV1) >= fanOutWindowsV1
}

// windowsOverBudget says why n units in windows cannot run in this run
// (even their windows would carry it past the budget), or "" when they
// can: past some 40,000 windows, or when the units' names alone fill the
// run's bytes.
func (r *run) windowsOverBudget(ctx workflow.Context, n int) string {
	events, bytes, _ := historyUse(ctx)
	windows := (n + r.windowSize() - 1) / r.windowSize()
	if events+windows*fanOutEventsPerWindow <= HistoryEventsPerRun && bytes+n*fanOutBytesPerUnitWindowed <= HistoryBytesPerRun {
		return ""
	}
	return fmt.Sprintf("%d units are too many for one workflow run, even in %d windows of %d units, so no unit was started: "+
		"the run, now at %d events and %d bytes, may reach %d events and %d bytes. "+
		"Raise splitRows so each table splits into fewer units, or spread the tables over several fanOut phases",
		n, windows, r.windowSize(), events, bytes, HistoryEventsPerRun, HistoryBytesPerRun)
}

// windowID is the workflow ID of window k of phase i: under
// FanOutIDPrefix, named after the migration, its run and the phase, so
// each is unique and a person sees whose it is. The migration's name,
// not its workflow ID, which a replayer does not keep.
func (r *run) windowID(ctx workflow.Context, i, k int) string {
	run := workflow.GetInfo(ctx).WorkflowExecution.RunID
	if len(run) > 8 {
		run = run[:8]
	}
	return fmt.Sprintf("%s%s:%s:%s:w%d", FanOutIDPrefix, r.spec.Name, run, r.spec.Phases[i].Name, k+1)
}

// control is the control state of phase i the running window obeys.
func (r *run) control(i int) WindowControl {
	c := WindowControl{Paused: r.paused}
	if rps, ok := r.throttle[i]; ok {
		c.RowsPerSecond = &rps
	}
	return c
}

// runWindows runs phase i's units in windows, one window (a FanOutWindow
// child) at a time, each running at most limit units at once. Its report
// and outcome read as runUnits' do.
func (r *run) runWindows(ctx workflow.Context, i int, spec config.PhaseSpec, limit int, units []string) *stopCause {
	pr := &r.report.Phases[i]
	size := r.windowSize()
	windows := (len(units) + size - 1) / size
	cctx, cancelAll := workflow.WithCancel(ctx)
	if !spec.Phase.PointOfNoReturn() {
		workflow.Go(ctx, func(g workflow.Context) {
			_ = workflow.Await(g, func() bool { return r.rollbackReason != "" })
			cancelAll()
		})
	}
	var (
		done, handed int
		sum          WindowResult
		summaries    []string
		failed       *WindowResult
		failure      error
		failedWindow int
	)
	pr.Units, pr.UnitsDone, pr.RunningUnits, pr.FailedAttempts = len(units), 0, nil, 0
	progress := func() {
		pr.Step = fmt.Sprintf("%d of %d units done, %d running", done, len(units), handed-done)
		pr.Progress = unitsProgress(pr, done, sum.Records)
		pr.Records, pr.UnitsDone, pr.FailedAttempts = sum.Records, sum.UnitsDone, sum.FailedAttempts
		r.publish(ctx)
	}
	add := func(res WindowResult) {
		sum.UnitsDone += res.UnitsDone
		sum.Records += res.Records
		sum.FailedAttempts += res.FailedAttempts
		sum.MaxAttempt = max(sum.MaxAttempt, res.MaxAttempt)
		summaries = firstSummaries(summaries, res.Summaries)
		if res.UnitsDone > 0 && !contains(r.compensations, i) {
			// A unit has had effects: a rollback from here on must undo
			// the phase, though it is not finished.
			r.compensations = append(r.compensations, i)
		}
	}
	for k := 0; k < windows && failure == nil; k++ {
		if stop := r.holdWhilePaused(ctx); stop != nil {
			break
		}
		win := units[k*size : min((k+1)*size, len(units))]
		handed += len(win)
		progress()
		res, err := r.runWindow(ctx, cctx, i, k, spec, limit, win)
		add(res)
		done += res.UnitsDone
		if err != nil {
			failure, failedWindow = err, k+1
			var appErr *temporal.ApplicationError
			if errors.As(err, &appErr) && appErr.Type() == ErrTypeUnitFailed {
				failed = &res
			}
		}
		handed = done
		progress()
	}
	attempt := max(sum.MaxAttempt, 1)
	switch {
	case failed != nil:
		return r.phaseFailed(ctx, i, fmt.Sprintf("unit %s: %s", failed.FailedUnit, failed.Error), activities.PhaseResult{Attempt: attempt})
	case r.rollbackReason != "":
		pr.State, pr.Error = migration.PhaseCancelled, fmt.Sprintf("cancelled with %d of %d units done", sum.UnitsDone, len(units))
		r.publish(ctx)
		return r.requested()
	case failure != nil && !isCanceled(failure):
		return r.phaseFailed(ctx, i, fmt.Sprintf("window %d of %d: %s", failedWindow, windows, errorMessage(failure)), activities.PhaseResult{Attempt: attempt})
	case failure != nil || sum.UnitsDone < len(units):
		return r.cancelled()
	}
	res, stop := r.finishUnits(ctx, cctx, i, spec, len(units), activities.PhaseResult{Records: sum.Records, Summary: unitsSummary(len(units), summaries), Attempt: attempt})
	if stop != nil {
		return stop
	}
	r.phaseCompleted(ctx, i, res)
	return r.requested()
}

// runWindow runs window k as a child workflow and returns its sums, also
// when it failed or was cancelled. While it runs, the migration's pause,
// resume and throttle are forwarded to it.
func (r *run) runWindow(ctx, cctx workflow.Context, i, k int, spec config.PhaseSpec, limit int, units []string) (WindowResult, error) {
	sent := r.control(i)
	copts := workflow.ChildWorkflowOptions{
		WorkflowID: r.windowID(ctx, i, k),
		// A rollback waits for the units to stop before compensating.
		WaitForCancellation: true,
	}
	win := WindowInput{Migration: r.spec.Name, Run: r.runKey, Phase: spec, Units: units, Concurrency: limit, Control: sent}
	if r.plan != nil {
		win.Planned, win.Outputs = true, r.phaseInput(i, spec).Outputs
	}
	child := workflow.ExecuteChildWorkflow(workflow.WithChildOptions(cctx, copts), FanOutWindowName, win)
	ended := false
	workflow.Go(ctx, func(g workflow.Context) {
		if child.GetChildWorkflowExecution().Get(g, nil) != nil {
			return
		}
		for {
			var now WindowControl
			_ = workflow.Await(g, func() bool {
				now = r.control(i)
				return ended || !sameControl(now, sent)
			})
			if ended {
				return
			}
			sent = now
			_ = child.SignalChildWorkflow(g, SignalWindowControl, now).Get(g, nil)
		}
	})
	var res WindowResult
	err := child.Get(ctx, &res)
	ended = true
	if err != nil {
		var appErr *temporal.ApplicationError
		var canceled *temporal.CanceledError
		switch {
		case errors.As(err, &appErr) && appErr.HasDetails():
			_ = appErr.Details(&res)
		case errors.As(err, &canceled) && canceled.HasDetails():
			_ = canceled.Details(&res)
		}
	}
	return res, err
}

func sameControl(a, b WindowControl) bool {
	if a.Paused != b.Paused || (a.RowsPerSecond == nil) != (b.RowsPerSecond == nil) {
		return false
	}
	return a.RowsPerSecond == nil || *a.RowsPerSecond == *b.RowsPerSecond
}

func isCanceled(err error) bool {
	var canceled *temporal.CanceledError
	return errors.As(err, &canceled)
}

// firstSummaries appends the non-empty summaries of more to kept, in
// order, until it holds maxSummaries: the phase's result stays small.
func firstSummaries(kept, more []string) []string {
	for _, s := range more {
		if s != "" && len(kept) < maxSummaries {
			kept = append(kept, s)
		}
	}
	return kept
}

// unitsSummary is a fanned-out phase's summary: how many units, the
// first ones' summaries, how many more.
func unitsSummary(units int, shown []string) string {
	summary := fmt.Sprintf("%d units: %s", units, strings.Join(shown, "; "))
	if units > len(shown) {
		summary += fmt.Sprintf("; and %d more", units-len(shown))
	}
	return summary
}
