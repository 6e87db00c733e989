package config

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Plan is what the Migration workflow decides with, computed once from a
// spec by PlanSpec: plain data, carried in the workflow's input and across
// continue-as-new, so the workflow never calls a driver. A driver change
// then reaches only runs started after it: a run in flight follows the
// plan it carries.
type Plan struct {
	// Phases holds one plan per phase of the spec, in order.
	Phases []PhasePlan `json:"phases"`
	// Resources is what the migration drives, for its leases
	// (Spec.AllResources): sorted, each once.
	Resources []string `json:"resources,omitempty"`
}

// PhasePlan is one phase's plan: what the driver interfaces of its
// section answered when the plan was made.
type PhasePlan struct {
	// Driver is the section's key ("copy"), for the report.
	Driver string `json:"driver,omitempty"`
	// Steps are the phase's steps (StepPlanner); none: one action.
	Steps []Step `json:"steps,omitempty"`
	// FanOut is how many units run at once when the phase fans out
	// (FanOut); 0: one activity.
	FanOut int `json:"fanOut,omitempty"`
	// FinishUnits: once every unit of the fan-out has finished, one more
	// action runs over the whole phase (UnitsFinisher). A plan made before
	// it existed lacks it, and its run goes without, as it did.
	FinishUnits bool `json:"finishUnits,omitempty"`
	// Pausable: a pause stops the running action at its checkpoint.
	Pausable bool `json:"pausable,omitempty"`
	// Throttles: the action takes a new rate while it runs (Throttler).
	Throttles bool `json:"throttles,omitempty"`
	// Follows: the phase keeps a target in step and can run bounded
	// (LagFollower), for a requireLag gate or in the background.
	Follows bool `json:"follows,omitempty"`
	// Background: once done, its replication goes on across the
	// following phases (Background).
	Background bool `json:"background,omitempty"`
	// Reverse: that replication runs the other way from the phase's
	// capture (Reverser: a cut-over's reverse replication new → legacy).
	Reverse bool `json:"reverse,omitempty"`
	// CaptureSource is the store whose change capture the phase reads
	// (CaptureUser): a background replication of it stops first.
	CaptureSource string `json:"captureSource,omitempty"`
	// Resources are what the phase's driver drives (Resourcer).
	Resources []string `json:"resources,omitempty"`
	// References are the ${phases.X.outputs.Y} its section holds, as
	// "X.Y": the outputs its activities need (Outputs.For).
	References []string `json:"references,omitempty"`
}

// PlanSpec computes the plan of a prepared spec (defaults filled): the
// one place the Migration workflow's decisions come from a driver's
// code. It is called when a run starts (by `godwit start`, or once by the
// workflow in a recorded side effect for a client that sent no plan).
func PlanSpec(s *Spec) Plan {
	p := Plan{Phases: make([]PhasePlan, len(s.Phases)), Resources: s.AllResources()}
	for i, ph := range s.Phases {
		p.Phases[i] = planPhase(s, ph)
	}
	return p
}

func planPhase(s *Spec, ph PhaseSpec) PhasePlan {
	pp := PhasePlan{Driver: ph.DriverKey(), References: ph.References()}
	d := ph.Driver
	if sp, ok := d.(StepPlanner); ok {
		pp.Steps = sp.PlanSteps()
	}
	if f, ok := d.(FanOut); ok {
		pp.FanOut = f.FanOut()
	}
	if f, ok := d.(UnitsFinisher); ok && pp.FanOut > 0 {
		pp.FinishUnits = f.FinishesUnits()
	}
	if p, ok := d.(Pausable); ok {
		pp.Pausable = p.Pausable()
	}
	_, pp.Throttles = d.(Throttler)
	if f, ok := d.(LagFollower); ok {
		// Any positive bound: the answer says whether it follows at all.
		_, pp.Follows = f.FollowFor(time.Second)
	}
	if b, ok := d.(Background); ok {
		pp.Background = b.InBackground()
	}
	pp.Reverse = FollowsReverse(d)
	if c, ok := d.(CaptureUser); ok {
		pp.CaptureSource = c.CaptureSource()
	}
	if r, ok := d.(Resourcer); ok {
		pp.Resources = r.Resources(s)
	}
	return pp
}

// Fits reports whether the plan was made for a spec of n phases: a plan
// sent by another client is checked before the workflow trusts it.
func (p *Plan) Fits(n int) bool { return p != nil && len(p.Phases) == n }

// GateAfterReadOnly is PhaseSpec.GateAfterReadOnly on the plan: the
// phase's own gate waits after the read-only steps it begins with.
func (pp PhasePlan) GateAfterReadOnly(hasApproval bool) bool {
	k := FirstChange(pp.Steps)
	return hasApproval && k > 0 && k < len(pp.Steps) && pp.Steps[0].ReadOnly
}

// LagSource is config.LagSource on the plan: the index of the latest
// phase before i that follows a replication, -1 when none does.
func (p Plan) LagSource(i int) int {
	for j := min(i, len(p.Phases)) - 1; j >= 0; j-- {
		if p.Phases[j].Follows {
			return j
		}
	}
	return -1
}

// For returns the outputs the references ("X.Y") name, for a phase's
// activity to resolve its section with (PhaseSpec.Resolve), and an error
// naming those missing, worded as Resolve's: the phase must not run with
// a hole in its settings. nil when there are no references.
func (o Outputs) For(phase string, refs []string) (Outputs, error) {
	var missing []string
	for _, ref := range refs {
		name, key := splitReference(ref)
		if _, ok := o[name][key]; !ok {
			missing = append(missing, fmt.Sprintf("${phases.%s.outputs.%s}", name, key))
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("phase %s: no value for %s: the phase that should produce it did not report it",
			phase, strings.Join(missing, ", "))
	}
	return o.Known(refs), nil
}

// Known returns the outputs the references ("X.Y") name that have a
// value; nil when none has.
func (o Outputs) Known(refs []string) Outputs {
	var out Outputs
	for _, ref := range refs {
		name, key := splitReference(ref)
		v, ok := o[name][key]
		if !ok {
			continue
		}
		if out == nil {
			out = Outputs{}
		}
		if out[name] == nil {
			out[name] = map[string]string{}
		}
		out[name][key] = v
	}
	return out
}

// Expand replaces the references in text that have a value (a step's name
// planned from a section as written), leaving the others as they are.
func (o Outputs) Expand(text string) string {
	return reference.ReplaceAllStringFunc(text, func(m string) string {
		ref := reference.FindStringSubmatch(m)
		if v, ok := o[ref[1]][ref[2]]; ok {
			return v
		}
		return m
	})
}

// splitReference splits "X.Y" (PhaseSpec.References) into the phase's
// name and the output's: a phase's name may hold dots, an output's not.
func splitReference(ref string) (phase, output string) {
	k := strings.LastIndex(ref, ".")
	if k < 0 {
		return "", ref
	}
	return ref[:k], ref[k+1:]
}
