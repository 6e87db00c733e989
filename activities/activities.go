// Package activities holds the thin Temporal activities around Godwit's
// domain packages: they resolve secrets, heartbeat, call a phase driver and
// decide, once, which errors are worth retrying.
package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
)

// Activity names, stable because recorded histories and the workflow use them.
const (
	RunPhaseName        = "RunPhase"
	CompensatePhaseName = "CompensatePhase"
	PreflightName       = "Preflight"
	PlanUnitsName       = "PlanUnits"
	// FinishUnitsName is the action a fanned-out phase runs once all its
	// units have finished (config.UnitsFinisher): an activity of its own,
	// so a worker from before it never takes it for a whole RunPhase.
	FinishUnitsName = "FinishUnits"
	// PlanSizedUnitsName lists a fanned-out phase's units with the rows
	// they copy (UnitsPlan), so its status counts rows, not units.
	PlanSizedUnitsName = "PlanSizedUnits"
)

// Error types that retry policies name as non-retryable: retrying cannot
// help until a person changes the spec or the worker's environment.
const (
	ErrTypeConfig      = "ConfigError"
	ErrTypeHookMissing = "HookNotFound"
	ErrTypeHookFailed  = "HookFailed"
	// ErrTypeStepsAgain: a step of a multi-step phase found that what an
	// earlier step showed (a plan a person approved) no longer holds; the
	// phase's steps start again from the first, gates included, instead of
	// going on with something nobody saw.
	ErrTypeStepsAgain = "StepsAgain"
	// ErrTypeHoldForPerson: a step found something a person must judge (an
	// analysis with onFailure: pause). The workflow pauses the migration
	// at that step: resume runs the step again; rollback or promote decide
	// otherwise.
	ErrTypeHoldForPerson = "AnalysisPaused"
	// ErrTypeSchemaDrift: a source table's columns changed while a phase
	// copied or replicated it. Going on would copy the wrong shape, and
	// rolling back would throw away hours of work for what a person can
	// fix (the target's schema, or the change itself): the workflow pauses
	// the migration with an issue naming the change, and resume runs the
	// phase again from the checkpoint it reached (SchemaDrift).
	ErrTypeSchemaDrift = "SchemaDrift"
	// ErrTypeGatewayRefused: the gateway refused a call for good (unknown
	// route, bad token), from a cutover or a traffic phase alike. Before
	// there was one name, traffic phases said GatewayRequestRefused
	// (ErrTypeGatewayRequestRefused): nothing of Godwit's matches on
	// either, and a retry policy that names one should name both.
	ErrTypeGatewayRefused = "GatewayRefused"
	// ErrTypeGatewayRequestRefused is the old name of a traffic phase's
	// ErrTypeGatewayRefused, kept for recorded failures that carry it.
	ErrTypeGatewayRequestRefused = "GatewayRequestRefused"
	// ErrTypeGatewayUnavailable: a gateway call may pass later (network,
	// 5xx). Retryable.
	ErrTypeGatewayUnavailable = "GatewayUnavailable"
)

// SchemaDrift is the activity error for a source table that changed shape
// during the phase: not retried, and the migration pauses on it.
func SchemaDrift(msg string, cause error) error {
	return temporal.NewNonRetryableApplicationError(msg, ErrTypeSchemaDrift, cause)
}

// NonRetryableErrorTypes lists the error types no retry policy should retry.
var NonRetryableErrorTypes = []string{ErrTypeConfig, ErrTypeHookMissing, ErrTypeStepsAgain, ErrTypeHoldForPerson}

// Action says whether a phase is done or undone.
type Action string

// Actions.
const (
	ActionRun        Action = "run"
	ActionCompensate Action = "compensate"
)

// PhaseInput asks for one phase to be run or compensated. It holds the
// phase's spec, which names secrets but never holds them.
type PhaseInput struct {
	Migration string `json:"migration"`
	// Run names the run of the migration (its chain's first run ID) the
	// phase works for; "" from a run started before the workflow sent it.
	// What a phase creates is owned by Owner(), so another run of the same
	// name never takes it over.
	Run   string           `json:"run,omitempty"`
	Phase config.PhaseSpec `json:"phase"`
	// Step is the 1-based index of the step to run in a multi-step phase;
	// 0 runs (or compensates) the phase as a whole.
	Step int `json:"step,omitempty"`
	// StepsDone is how many steps of the phase completed, for a
	// compensation that undoes only what was done.
	StepsDone int `json:"stepsDone,omitempty"`
	// Resume is the checkpoint a paused action stopped at: the action goes
	// on from there, as a retry does from its last heartbeat.
	Resume string `json:"resume,omitempty"`
	// Unit names the part of a fanned-out phase to run (a table); "" runs
	// the whole phase.
	Unit string `json:"unit,omitempty"`
	// AfterUnits asks a fanned-out phase's driver for what follows its
	// units (config.UnitsFinisher), not for a unit nor the whole phase.
	// Only FinishUnits sets it.
	AfterUnits bool `json:"afterUnits,omitempty"`
	// Prior holds the outputs of the phase's earlier steps (a plan's hash
	// for the apply step that follows it), later steps winning.
	Prior map[string]string `json:"prior,omitempty"`
	// Outputs, RowsPerSecond and FollowFor come from a run on plans as
	// data (the workflow calls no driver): the activity resolves the
	// section's references with Outputs, gives it the rate a `throttle`
	// set (config.Throttler), and bounds a follower's run to FollowFor
	// (config.LagFollower). See Applied.
	Outputs       config.Outputs  `json:"outputs,omitempty"`
	RowsPerSecond *int            `json:"rowsPerSecond,omitempty"`
	FollowFor     config.Duration `json:"followFor,omitempty"`
}

// UnmarshalJSON reads a phase's input with its driver section kept as the
// workflow sent it (config.RawPhase): the activity decodes it (Applied),
// so a section that no longer decodes fails the phase with a ConfigError
// naming it, and the workflow, which encodes this input, never decodes a
// section.
func (in *PhaseInput) UnmarshalJSON(data []byte) error {
	type plain PhaseInput
	aux := struct {
		*plain
		// At the top level, it hides plain's Phase.
		Phase config.RawPhase `json:"phase"`
	}{plain: &plain{}}
	err := json.Unmarshal(data, &aux)
	*in = PhaseInput(*aux.plain)
	in.Phase = config.PhaseSpec(aux.Phase)
	return err
}

// PhaseResult is a phase's outcome, small enough for workflow history.
type PhaseResult struct {
	// Phase is the phase's name.
	Phase  string          `json:"phase"`
	Kind   migration.Phase `json:"kind,omitempty"`
	Action Action          `json:"action"`
	Step   int             `json:"step,omitempty"`
	// AfterUnits: the action that followed a fanned-out phase's units
	// (FinishUnits), not one of them.
	AfterUnits bool            `json:"afterUnits,omitempty"`
	Attempt    int32           `json:"attempt"`
	Records    int64           `json:"records,omitempty"`
	Summary    string          `json:"summary,omitempty"`
	Output     string          `json:"output,omitempty"`
	Duration   config.Duration `json:"duration"`
	// Percent is how far an interrupted action had got (its last
	// heartbeat's), so a paused phase keeps showing it.
	Percent float64 `json:"percent,omitempty"`
	// Outputs are the named values the phase hands to later phases.
	Outputs map[string]string `json:"outputs,omitempty"`
	// Checkpoint is where an interrupted action stopped (with a
	// cancellation), so a `resume` can go on from there.
	Checkpoint string `json:"checkpoint,omitempty"`
	// Lag is a replication's lag when the phase returned (replicate): the
	// workflow upserts it as the ReplicationLag search attribute and a gate
	// with requireLag compares it with its limit.
	Lag *migration.ReplicationLag `json:"lag,omitempty"`
	// Warnings are what a phase that completed could not do and a person
	// must see (a foreign key still not on the target): the workflow adds
	// each as a warning issue of the run (godwit status).
	Warnings []string `json:"warnings,omitempty"`
}

// Heartbeat is what a running phase reports as it goes: progress for people
// (`godwit status` reads it from the pending activity, costing no history)
// and a checkpoint for itself (a retry, on any worker, resumes from it).
type Heartbeat struct {
	Percent    float64 `json:"percent,omitempty"`
	Records    int64   `json:"records,omitempty"`
	Checkpoint string  `json:"checkpoint,omitempty"`
	// Detail is progress in words for `godwit status`, a few short lines
	// (per table rows done / total, rate, ETA); not kept in history.
	Detail string `json:"detail,omitempty"`
	// Host is the worker host's load in words, for the status report.
	Host string `json:"host,omitempty"`
	// Tables is a copy's progress per table, for the dashboard's bars
	// (bounded like Detail); not kept in history.
	Tables []migration.TableProgress `json:"tables,omitempty"`
	// Unit names the unit of a fanned-out phase the heartbeat is from, so
	// the status can add up the units running at once.
	Unit string `json:"unit,omitempty"`
}

// Driver does the work of a phase. Each driver section of a spec (`hook:`
// now; copy, reconcile, traffic and terraform later) has one Driver,
// registered under the section's key in Activities.Drivers.
type Driver interface {
	// Do performs action for the phase (or for its step in.Step); it must
	// be idempotent, since a retry or a second compensation may repeat it.
	// resume is the last heartbeat of an earlier attempt, or the
	// checkpoint a paused attempt stopped at (zero on the first); beat
	// records progress and must be called regularly on long work.
	Do(ctx context.Context, action Action, in PhaseInput, resume Heartbeat, beat func(Heartbeat)) (PhaseResult, error)
	// Preflight checks, changing nothing, that the phase can run from this
	// worker: reachability, credentials, privileges, programs, settings.
	// It returns every problem found, each a sentence a person can act on.
	Preflight(ctx context.Context, spec *config.Spec, phase config.PhaseSpec) []string
}

// UnitPlanner is a Driver whose phase can fan out: it lists the units
// (tables) of the phase, resolving patterns against the live systems.
type UnitPlanner interface {
	Units(ctx context.Context, in PhaseInput) ([]string, error)
}

// RowEstimator is a UnitPlanner that can say, cheaply, about how many
// rows its units copy in all and over how many tables (a copy: the
// engine's estimates), so a fanned-out phase's status reads rows copied
// of a total, as a copy in one activity does.
type RowEstimator interface {
	EstimateRows(ctx context.Context, in PhaseInput) (rows int64, tables int, err error)
}

// UnitsPlan is a fanned-out phase's units and, when its driver estimates
// them (RowEstimator), about how many rows they hold in how many tables;
// Rows is 0 when unknown.
type UnitsPlan struct {
	Units  []string `json:"units"`
	Rows   int64    `json:"rows,omitempty"`
	Tables int      `json:"tables,omitempty"`
}

// Activities are the phase activities a worker registers.
type Activities struct {
	Logger hclog.Logger
	// Drivers maps a spec's driver section key ("hook") to its driver;
	// tests may swap one.
	Drivers map[string]Driver
	// LeaseKeyer says what each leased resource is (a store's identity);
	// nil keys each by its name as written (PlainLeaseKeys).
	LeaseKeyer LeaseKeyer
}

// New returns the activities with the real drivers.
func New(logger hclog.Logger) *Activities {
	return &Activities{Logger: logger, Drivers: builtinDrivers(logger)}
}

// builtinDrivers lists every driver of this build: adding a driver adds
// its line here (and its spec section registers with config).
func builtinDrivers(logger hclog.Logger) map[string]Driver {
	return map[string]Driver{
		"hook": NewHookDriver(logger),
	}
}

// RunPhase performs a phase's action.
func (a *Activities) RunPhase(ctx context.Context, in PhaseInput) (PhaseResult, error) {
	return a.do(ctx, ActionRun, in)
}

// CompensatePhase undoes a phase's action.
func (a *Activities) CompensatePhase(ctx context.Context, in PhaseInput) (PhaseResult, error) {
	return a.do(ctx, ActionCompensate, in)
}

func (a *Activities) do(ctx context.Context, action Action, in PhaseInput) (PhaseResult, error) {
	info := activity.GetInfo(ctx)
	in, err := in.Applied(action)
	if err != nil {
		return PhaseResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeConfig, err)
	}
	driver, err := a.driverFor(in.Phase)
	if err != nil {
		return PhaseResult{}, ConfigError(err)
	}
	start := time.Now()
	log := a.Logger.With("migration", in.Migration, "phase", in.Phase.Name, "action", action)
	if in.Step > 0 {
		log = log.With("step", in.Step)
	}
	if in.AfterUnits {
		log = log.With("after_units", true)
	}
	log.Info("phase started", "attempt", info.Attempt)
	resume := Heartbeat{Checkpoint: in.Resume}
	if activity.HasHeartbeatDetails(ctx) {
		var hb Heartbeat
		if err := activity.GetHeartbeatDetails(ctx, &hb); err != nil {
			log.Warn("unreadable checkpoint of the previous attempt; starting from the last known one", "error", err)
		} else if hb.Checkpoint != "" || hb.Records > 0 || hb.Percent > 0 {
			resume = hb
		}
	}
	// A checkpoint leaves the worker sealed (no secret in heartbeat details
	// or history); the driver gets it back whole. A hook's own secrets,
	// not yet read on a fresh worker, are unsealed by its driver.
	resume.Checkpoint, _ = knownSecrets.Unseal(resume.Checkpoint)
	last := resume
	var hostAt time.Time
	host := ""
	beat := func(hb Heartbeat) {
		last = hb
		if time.Since(hostAt) > 5*time.Second {
			host, hostAt = hostLoad(), time.Now()
		}
		hb.Host, hb.Unit = host, in.Unit
		hb.Checkpoint = knownSecrets.Seal(hb.Checkpoint)
		hb.Detail = knownSecrets.String(hb.Detail)
		activity.RecordHeartbeat(ctx, hb)
	}
	if in.Unit != "" {
		// A unit says which it is at once, with where it resumes from, so
		// the status counts its attempt and progress before the driver's
		// first heartbeat.
		beat(resume)
	}
	res, err := driver.Do(ctx, action, in, resume, beat)
	res.Phase, res.Kind, res.Action, res.Step, res.Attempt = in.Phase.Name, in.Phase.Phase, action, in.Step, info.Attempt
	res.AfterUnits = in.AfterUnits
	res.Duration = config.Duration(time.Since(start).Round(time.Millisecond))
	redactResult(knownSecrets, &res)
	err = redactError(knownSecrets, err)
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			// Interrupted (pause or rollback): say where it stopped, so a
			// resume goes on from there.
			res.Checkpoint = knownSecrets.Seal(last.Checkpoint)
			res.Percent = last.Percent
			log.Info("phase interrupted", "checkpoint", res.Checkpoint != "")
			return res, temporal.NewCanceledError(res)
		}
		log.Warn("phase failed", "attempt", info.Attempt, "error", err)
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.Type() == ErrTypeSchemaDrift {
			// The migration pauses on it and resume goes on from here.
			res.Checkpoint = knownSecrets.Seal(last.Checkpoint)
		}
		return res, WithResult(err, res)
	}
	log.Info("phase finished", "duration", res.Duration)
	return res, nil
}

func (a *Activities) driverFor(p config.PhaseSpec) (Driver, error) {
	key := p.DriverKey()
	if key == "" {
		return nil, fmt.Errorf("phase %s has no driver configured", p.Name)
	}
	d, ok := a.Drivers[key]
	if !ok {
		return nil, fmt.Errorf("phase %s: this worker has no %s driver: run a worker built with it on this task queue", p.Name, key)
	}
	return d, nil
}

// PreflightInput asks for every driver's preflight over a whole spec.
type PreflightInput struct {
	Spec config.Spec `json:"spec"`
	// Run is the run the preflight checks for (PhaseInput.Run); "" for
	// `godwit preflight`, which checks for a run not started yet.
	Run string `json:"run,omitempty"`
	// Leases asks for the spec's leases too (`godwit preflight` checks
	// who holds them).
	Leases bool `json:"leases,omitempty"`
}

// UnmarshalJSON reads a preflight's input with the phases' driver
// sections kept raw (config.RawSpec), as the Preflight workflow gets it:
// the activity decodes them, and reports a section that does not decode
// as its phase's problem.
func (in *PreflightInput) UnmarshalJSON(data []byte) error {
	type plain PreflightInput
	aux := struct {
		*plain
		// At the top level, it hides plain's Spec.
		Spec config.RawSpec `json:"spec"`
	}{plain: &plain{}}
	err := json.Unmarshal(data, &aux)
	*in = PreflightInput(*aux.plain)
	in.Spec = config.Spec(aux.Spec)
	return err
}

// PreflightResult lists what would stop the migration, per phase.
type PreflightResult struct {
	// Worker is the identity of the worker that ran the checks.
	Worker   string    `json:"worker"`
	Problems []Problem `json:"problems,omitempty"`
	// Leases are the leases the migration would take (PreflightInput.Leases).
	Leases []LeaseResource `json:"leases,omitempty"`
}

// Problem is one preflight finding.
type Problem struct {
	Phase   string `json:"phase"`
	Message string `json:"message"`
}

// GroupedProblem is one preflight problem and the phases that found it.
type GroupedProblem struct {
	Phases  []string
	Message string
}

// Where says which phases found it: "phase copy", "phases provision, copy".
func (g GroupedProblem) Where() string {
	if len(g.Phases) == 1 {
		return "phase " + g.Phases[0]
	}
	return "phases " + strings.Join(g.Phases, ", ")
}

// GroupProblems lists each problem once, with every phase that found it in
// the spec's order: a mistake in a mapping that five phases go through, or
// an environment variable every phase's store reads, is one mistake, not
// five lines to read and compare.
func GroupProblems(ps []Problem) []GroupedProblem {
	var out []GroupedProblem
	at := map[string]int{}
	for _, p := range ps {
		i, seen := at[p.Message]
		if !seen {
			i = len(out)
			at[p.Message] = i
			out = append(out, GroupedProblem{Message: p.Message})
		}
		if !slices.Contains(out[i].Phases, p.Phase) {
			out[i].Phases = append(out[i].Phases, p.Phase)
		}
	}
	return out
}

// Preflight runs every phase's driver preflight, changing nothing, and
// reports all problems at once. Finding problems is its result, not an
// error: the workflow decides what they mean.
func (a *Activities) Preflight(ctx context.Context, in PreflightInput) (PreflightResult, error) {
	ctx = WithRun(ctx, in.Run)
	res := PreflightResult{}
	if host, err := os.Hostname(); err == nil {
		res.Worker = fmt.Sprintf("%d@%s", os.Getpid(), host)
	}
	spec := in.Spec
	spec.Phases = make([]config.PhaseSpec, len(in.Spec.Phases))
	undecoded := map[int]error{}
	for i, p := range in.Spec.Phases {
		spec.Phases[i] = p
		if d, err := p.Decoded(); err != nil {
			undecoded[i] = err
		} else {
			spec.Phases[i] = d
		}
	}
	for i, p := range spec.Phases {
		if err := undecoded[i]; err != nil {
			res.Problems = append(res.Problems, Problem{Phase: p.Name, Message: err.Error()})
			continue
		}
		driver, err := a.driverFor(p)
		if err != nil {
			res.Problems = append(res.Problems, Problem{Phase: p.Name, Message: err.Error()})
			continue
		}
		for _, msg := range driver.Preflight(ctx, &spec, p) {
			res.Problems = append(res.Problems, Problem{Phase: p.Name, Message: msg})
		}
	}
	res.Problems = append(res.Problems, notificationProblems(spec.Notifications)...)
	if in.Leases {
		leases, err := a.leaseResources(ctx, &spec)
		if err != nil {
			res.Problems = append(res.Problems, Problem{Phase: "leases", Message: err.Error()})
		}
		res.Leases = leases
	}
	// A check's message may quote what a server answered, a token it
	// echoed back included; the result goes into workflow history.
	redactProblems(knownSecrets, &spec, res.Problems)
	a.Logger.Info("preflight done", "migration", in.Spec.Name, "problems", len(res.Problems))
	return res, nil
}

// WithResult attaches the partial result (attempt, output) to an
// application error as its details, so the workflow can report what the
// failed attempt printed. Cancellation and other errors pass unchanged.
func WithResult(err error, res PhaseResult) error {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		return err
	}
	opts := temporal.ApplicationErrorOptions{NonRetryable: appErr.NonRetryable(), Cause: errors.Unwrap(appErr), Details: []any{res}}
	return temporal.NewApplicationErrorWithOptions(appErr.Message(), appErr.Type(), opts)
}

// noCompensation is the summary of compensating a phase that has nothing
// to undo: not an error, since a phase may have no side effects.
const noCompensation = migration.NoCompensationSummary

// FinishUnits runs what follows a fanned-out phase's units once they have
// all finished (config.UnitsFinisher: a copy's foreign keys), as RunPhase
// runs an action: the driver sees in.AfterUnits. A section that finishes
// nothing is refused, not run whole.
func (a *Activities) FinishUnits(ctx context.Context, in PhaseInput) (PhaseResult, error) {
	applied, err := in.Applied(ActionRun)
	if err != nil {
		return PhaseResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeConfig, err)
	}
	if f, ok := applied.Phase.Driver.(config.UnitsFinisher); !ok || !f.FinishesUnits() {
		return PhaseResult{}, ConfigError(fmt.Errorf("phase %s: the %s section has nothing to do after its units", applied.Phase.Name, applied.Phase.DriverKey()))
	}
	in.Unit, in.AfterUnits = "", true
	return a.do(ctx, ActionRun, in)
}

// PlanSizedUnits lists the units of a phase that fans out, as PlanUnits
// does, with the rows its driver estimates they hold. An estimate that
// fails leaves Rows 0 (the status then counts units): it never fails the
// phase.
func (a *Activities) PlanSizedUnits(ctx context.Context, in PhaseInput) (UnitsPlan, error) {
	units, err := a.PlanUnits(ctx, in)
	if err != nil {
		return UnitsPlan{}, err
	}
	plan := UnitsPlan{Units: units}
	applied, err := in.Applied(ActionRun)
	if err != nil {
		return plan, nil // PlanUnits applied it: not reached
	}
	driver, err := a.driverFor(applied.Phase)
	if err != nil {
		return plan, nil
	}
	est, ok := driver.(RowEstimator)
	if !ok || len(units) == 0 {
		return plan, nil
	}
	rows, tables, err := est.EstimateRows(ctx, applied)
	if err != nil {
		a.Logger.Warn("could not estimate the rows of a fanned-out phase; its status counts units", "migration", in.Migration, "phase", applied.Phase.Name, "error", err)
		return plan, nil
	}
	plan.Rows, plan.Tables = rows, tables
	return plan, nil
}

// PlanUnits lists the units of a phase that fans out, in a stable order.
func (a *Activities) PlanUnits(ctx context.Context, in PhaseInput) ([]string, error) {
	in, err := in.Applied(ActionRun)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeConfig, err)
	}
	driver, err := a.driverFor(in.Phase)
	if err != nil {
		return nil, ConfigError(err)
	}
	up, ok := driver.(UnitPlanner)
	if !ok {
		err := fmt.Errorf("phase %s: the %s driver cannot fan out", in.Phase.Name, in.Phase.DriverKey())
		return nil, ConfigError(err)
	}
	units, err := up.Units(ctx, in)
	if err != nil {
		return nil, err
	}
	a.Logger.Info("phase fans out", "migration", in.Migration, "phase", in.Phase.Name, "units", len(units))
	return units, nil
}
