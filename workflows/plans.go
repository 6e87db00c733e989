package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
)

const (
	changePlans = "plans-as-data"
	// plansV1: the run decides with the plan its input carries
	// (config.Plan: each phase's steps, fan-out, pause, throttle,
	// follower, capture and resources), made once when it started, and
	// never calls a driver: the activities resolve a section's references
	// and apply a rate or a follower's bound (activities.PhaseInput's
	// Outputs, RowsPerSecond, FollowFor). Runs before it ask the drivers
	// as they replay, as they always did.
	plansV1 = 1
)

// planned is the plan a run made for itself, recorded once in history (a
// side effect), or why it could not make one.
type planned struct {
	Plan  *config.Plan `json:"plan,omitempty"`
	Error string       `json:"error,omitempty"`
}

// preparePlan gives a run since changePlans its plan: the one the input
// carries (`godwit start` makes it, a continued run hands it on), or,
// for a client that sent none (`temporal workflow start`) or one that does
// not fit the spec, one made now and recorded in history, so a later
// driver never changes it. Runs before changePlans go without, and ask
// their drivers as they replay: their sections are decoded here, typed.
func preparePlan(ctx workflow.Context, in *Input) error {
	if workflow.GetVersion(ctx, changePlans, workflow.DefaultVersion, plansV1) < plansV1 {
		in.Plan = nil
		return decodeSections(ctx, in)
	}
	if in.Plan.Fits(len(in.Spec.Phases)) {
		return nil
	}
	var p planned
	if err := workflow.SideEffect(ctx, func(workflow.Context) any {
		return makePlan(in.Spec)
	}).Get(&p); err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	if p.Error == "" && p.Plan.Fits(len(in.Spec.Phases)) {
		in.Plan = p.Plan
		return nil
	}
	return invalidInput(ctx, in, "the spec's plan could not be made: "+p.Error)
}

// invalidInput is the error that ends a run whose input cannot be run
// (nothing ran), with its report.
func invalidInput(ctx workflow.Context, in *Input, msg string) error {
	rep := migration.NewPlannedReport(in.Spec.Name, in.Spec.Description, nil, workflow.Now(ctx))
	rep.Status, rep.Error, rep.EndTime = migration.StatusFailed, msg, workflow.Now(ctx)
	rep.AddIssue(workflow.Now(ctx), "", migration.SeverityError, msg)
	rep.Refresh(workflow.Now(ctx))
	return temporal.NewNonRetryableApplicationError("FAILED: "+msg, ErrTypeInvalidInput, nil, *rep)
}

// decodeSections decodes the driver sections of a run from before
// changePlans, which asks its drivers as it replays, as it did when the
// workflow read its input typed; its activities get the sections as
// they always did, re-encoded from the driver's type. A run since never
// decodes a section: its plan says what it needs, and its activities
// get the sections as its input carries them.
func decodeSections(ctx workflow.Context, in *Input) error {
	spec, err := in.Spec.Decoded()
	if err != nil {
		return invalidInput(ctx, in, "the input is not a Migration input: "+err.Error())
	}
	in.Spec = spec
	return nil
}

// makePlan is preparePlan's side effect, which decodes a copy of the
// spec's sections to ask their drivers, once. A driver that panics fails
// the run with its message: a panic here would fail the workflow task
// over and over, and the run would hang.
func makePlan(spec config.Spec) (out planned) {
	defer func() {
		if p := recover(); p != nil {
			out = planned{Error: fmt.Sprint(p)}
		}
	}()
	spec, err := spec.Decoded()
	if err != nil {
		return planned{Error: err.Error()}
	}
	p := config.PlanSpec(&spec)
	return planned{Plan: &p}
}

// phasePlan returns phase i's spec as its activities get it, and its plan.
// Since changePlans: the spec as written (the activity resolves its
// references) and the plan the run carries, or an error naming an output
// a reference needs that no earlier phase reported. Before it: the spec
// with its references resolved, and what its driver answers.
func (r *run) phasePlan(i int) (config.PhaseSpec, config.PhasePlan, error) {
	spec := r.spec.Phases[i]
	if r.plan != nil {
		pp := r.plan.Phases[i]
		if _, err := r.outputs.For(spec.Name, pp.References); err != nil {
			return spec, pp, err
		}
		if len(pp.References) > 0 && len(pp.Steps) > 0 {
			// Names as the old path showed them, planned from the
			// resolved section ("retire legacy from route ${...}").
			steps := make([]config.Step, len(pp.Steps))
			for k, st := range pp.Steps {
				st.Name = r.outputs.Expand(st.Name)
				steps[k] = st
			}
			pp.Steps = steps
		}
		return spec, pp, nil
	}
	resolved, err := spec.Resolve(r.outputs)
	if err != nil {
		return spec, config.PhasePlan{}, err
	}
	var pp config.PhasePlan
	if sp, ok := resolved.Driver.(config.StepPlanner); ok {
		pp.Steps = sp.PlanSteps()
	}
	if fo, ok := resolved.Driver.(config.FanOut); ok {
		pp.FanOut = fo.FanOut()
	}
	if b, ok := resolved.Driver.(config.Background); ok {
		pp.Background = b.InBackground()
	}
	pp.Reverse = config.FollowsReverse(resolved.Driver)
	return resolved, pp, nil
}

// phaseInput is the input of an activity of phase i whose spec phasePlan
// returned: since changePlans with the outputs its references need.
func (r *run) phaseInput(i int, spec config.PhaseSpec) activities.PhaseInput {
	in := activities.PhaseInput{Migration: r.spec.Name, Run: r.runKey, Phase: spec}
	if r.plan != nil {
		in.Outputs, _ = r.outputs.For(spec.Name, r.plan.Phases[i].References)
	}
	return in
}

// throttledInput is phaseInput at the rate `throttle` set for phase i, if
// any: since changePlans a field the activity applies, before it the
// driver's section with the rate (config.Throttler).
func (r *run) throttledInput(i int, spec config.PhaseSpec) activities.PhaseInput {
	if r.plan == nil {
		return r.phaseInput(i, r.throttled(i, spec))
	}
	in := r.phaseInput(i, spec)
	if rps, set := r.throttle[i]; set && r.plan.Phases[i].Throttles {
		in.RowsPerSecond = &rps
	}
	return in
}

// compensationInput is the input of phase i's compensation: references
// resolved where their values are known (before changePlans by the
// workflow, since by the activity).
func (r *run) compensationInput(i int, spec config.PhaseSpec) activities.PhaseInput {
	if r.plan == nil {
		if resolved, err := spec.Resolve(r.outputs); err == nil {
			spec = resolved
		}
		return activities.PhaseInput{Migration: r.spec.Name, Run: r.runKey, Phase: spec}
	}
	// The values there are: a compensation runs with what it has.
	outputs := r.outputs.Known(r.plan.Phases[i].References)
	return activities.PhaseInput{Migration: r.spec.Name, Run: r.runKey, Phase: spec, Outputs: outputs}
}

// followInput is the input of a bounded run of phase src's replication,
// for about runFor.
func (r *run) followInput(src int, runFor time.Duration) (activities.PhaseInput, error) {
	if r.plan != nil {
		spec := r.spec.Phases[src]
		if !r.plan.Phases[src].Follows {
			return activities.PhaseInput{}, fmt.Errorf("phase %s does not follow a replication", spec.Name)
		}
		outputs, err := r.outputs.For(spec.Name, r.plan.Phases[src].References)
		if err != nil {
			return activities.PhaseInput{}, err
		}
		return activities.PhaseInput{Migration: r.spec.Name, Run: r.runKey, Phase: spec, Outputs: outputs, FollowFor: config.Duration(runFor)}, nil
	}
	spec, err := r.spec.Phases[src].Resolve(r.outputs)
	if err != nil {
		return activities.PhaseInput{}, err
	}
	f, _ := spec.Driver.(config.LagFollower)
	d, ok := f.FollowFor(runFor)
	if !ok {
		return activities.PhaseInput{}, fmt.Errorf("phase %s does not follow a replication", spec.Name)
	}
	spec.Driver = d
	return activities.PhaseInput{Migration: r.spec.Name, Run: r.runKey, Phase: spec}, nil
}

// throttles says whether phase i's driver takes a new rate while it runs.
func (r *run) throttles(i int) bool {
	if r.plan != nil {
		return r.plan.Phases[i].Throttles
	}
	_, ok := r.spec.Phases[i].Driver.(config.Throttler)
	return ok
}

// resources lists what the migration drives, for its leases.
func (r *run) resources() []string {
	if r.plan != nil {
		return r.plan.Resources
	}
	return r.spec.AllResources()
}

// driverKey returns phase i's driver key ("copy").
func (r *run) driverKey(i int) string {
	if r.plan != nil {
		return r.plan.Phases[i].Driver
	}
	return r.spec.Phases[i].DriverKey()
}
