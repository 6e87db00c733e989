package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"
)

// DriverSpec is a phase driver's section of a spec (`hook:`, `copy:`,
// `traffic:` ...): the typed settings the driver reads. A driver package
// defines one type for it and registers it with RegisterDriver; the strict
// decoder fills it from YAML field by field (yaml tags, as for the rest of
// the spec) and the workflow carries it as JSON.
type DriverSpec interface {
	// Check reports every missing or impossible value; c knows the phase and
	// the rest of the spec (stores, phase names) and builds field paths.
	Check(c *CheckContext)
}

// Defaulter is a DriverSpec that fills values the spec leaves out, once
// the phase's own options are known.
type Defaulter interface {
	ApplyDefaults(phase *PhaseSpec)
}

// Compensator is a DriverSpec that says whether it has anything to undo;
// a driver spec without this method is taken to have a compensation.
type Compensator interface {
	HasCompensation() bool
}

// Resourcer is a DriverSpec that names the resources its phase drives
// (a store's tables, a gateway route, a Terraform workspace), so that two
// migrations never drive the same one (see Spec.Resources).
type Resourcer interface {
	Resources(spec *Spec) []string
}

// Pausable is a DriverSpec whose action can stop at a checkpoint and go on
// from it later: `pause` then interrupts the running action instead of
// waiting for it to finish.
type Pausable interface {
	Pausable() bool
}

// StepPlanner is a DriverSpec whose phase runs as a series of steps, one
// by one, so that pause, approve and rollback act between them. Steps must
// be a pure function of the spec: PlanSpec calls it when a run starts (and
// runs from before plans as data call it as they replay).
type StepPlanner interface {
	PlanSteps() []Step
}

// Throttler is a DriverSpec whose rate can change while it runs (`godwit
// throttle`, as gh-ost's live commands): the workflow stops the action at
// its checkpoint and runs it again with the section WithRowsPerSecond
// returns. 0 means no limit.
type Throttler interface {
	WithRowsPerSecond(rps int) DriverSpec
}

// FanOut is a DriverSpec whose phase may split into units (a copy's
// tables) that run as separate activities, at most FanOut() at once, so
// several workers share one phase and each unit resumes from its own
// checkpoint. 0 keeps the phase one activity. The driver's runtime lists
// the units (activities.UnitPlanner).
type FanOut interface {
	FanOut() int
}

// UnitsFinisher is a FanOut whose phase has one more action once every
// unit has finished, which no unit can do alone since none sees the whole
// load (a copy's foreign keys, created parents first over all its
// tables). The workflow runs it as the activity FinishUnits.
type UnitsFinisher interface {
	FinishesUnits() bool
}

// Step is one step of a multi-step phase: an action of the driver, a
// durable wait, or a manual gate; exactly one of the three.
type Step struct {
	// Name says what the step does, for the status report ("set weight 25").
	Name string `json:"name"`
	// Action is true when the driver runs the step (as the phase's activity,
	// with the step's index in its input).
	Action bool `json:"action,omitempty"`
	// Wait holds the phase this long on a durable timer.
	Wait time.Duration `json:"wait,omitempty"`
	// Gate waits for `godwit approve NAME --gate GATE`.
	Gate string `json:"gate,omitempty"`
	// Check marks an action that only looks (a traffic analysis): `godwit
	// promote` skips it along with the remaining waits and gates, while
	// the actions that move things still run, in order.
	Check bool `json:"check,omitempty"`
	// ReadOnly marks an action that changes nothing but shows what the
	// next steps will do (a Terraform plan): the phase's own gate
	// (`approval:`) waits after it, showing its result, and a decommission
	// is not past its point of no return until a step that changes
	// something starts.
	ReadOnly bool `json:"readOnly,omitempty"`
}

// Changes reports whether the step may change something: an action that
// is neither read-only nor a check. Gates and waits change nothing.
func (s Step) Changes() bool { return s.Action && !s.ReadOnly && !s.Check }

// FirstChange returns the index of the first step that may change
// something, or len(steps) when none does.
func FirstChange(steps []Step) int {
	for k, st := range steps {
		if st.Changes() {
			return k
		}
	}
	return len(steps)
}

// DriverFactory returns a new, empty spec section of one driver.
type DriverFactory func() DriverSpec

// drivers maps a section's key to its factory. The command hook is built
// in; other drivers add themselves at init time through RegisterDriver, as
// database/sql drivers do, so that adding one touches only its own package
// and the line in package drivers that imports it.
var drivers = struct {
	sync.RWMutex
	m map[string]DriverFactory
	// keys maps each section type to its key, so DriverKeyOf (called for
	// every phase a workflow schedules) need not build every section.
	keys map[reflect.Type]string
}{
	m:    map[string]DriverFactory{"hook": func() DriverSpec { return &Hook{} }},
	keys: map[reflect.Type]string{reflect.TypeOf(&Hook{}): "hook"},
}

// RegisterDriver makes a driver's spec section known under key. It panics
// when key is taken: two drivers under one name is a programming error.
func RegisterDriver(key string, factory DriverFactory) {
	drivers.Lock()
	defer drivers.Unlock()
	if _, dup := drivers.m[key]; dup {
		panic("config: driver " + key + " registered twice")
	}
	drivers.m[key] = factory
	drivers.keys[reflect.TypeOf(factory())] = key
}

func driverFactory(key string) (DriverFactory, bool) {
	drivers.RLock()
	defer drivers.RUnlock()
	f, ok := drivers.m[key]
	return f, ok
}

// DriverKeys lists the registered drivers' section keys, sorted.
func DriverKeys() []string {
	drivers.RLock()
	defer drivers.RUnlock()
	keys := make([]string, 0, len(drivers.m))
	for k := range drivers.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// DriverKeyOf returns the section key under which spec's type is
// registered.
func DriverKeyOf(spec DriverSpec) string {
	if spec == nil {
		return ""
	}
	drivers.RLock()
	defer drivers.RUnlock()
	return drivers.keys[reflect.TypeOf(spec)]
}

// CheckContext is what a driver's Check sees: the spec around its phase,
// and a way to report problems under its section's path.
type CheckContext struct {
	Spec  *Spec
	Phase *PhaseSpec
	// Path is the driver section's path, e.g. "phases[2].hook".
	Path  string
	errs  FieldErrors
	warns FieldErrors
}

// PhasesBefore returns the spec's phases before the one being checked, in
// order: those that run before it.
func (c *CheckContext) PhasesBefore() []*PhaseSpec { before, _ := c.around(); return before }

// PhasesAfter returns the spec's phases after the one being checked, in
// order: none of them has run when it runs.
func (c *CheckContext) PhasesAfter() []*PhaseSpec { _, after := c.around(); return after }

func (c *CheckContext) around() (before, after []*PhaseSpec) {
	seen := false
	for i := range c.Spec.Phases {
		p := &c.Spec.Phases[i]
		switch {
		case p == c.Phase:
			seen = true
		case seen:
			after = append(after, p)
		default:
			before = append(before, p)
		}
	}
	return before, after
}

// Errorf reports a problem at the field sub of the section ("" for the
// section itself; "run.command" for a nested one).
func (c *CheckContext) Errorf(sub, format string, args ...any) {
	path := c.Path
	if sub != "" {
		path = joinPath(path, sub)
	}
	c.errs = append(c.errs, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
}

// Warnf reports what is valid but likely not meant, at the field sub of
// the section: the spec loads, and the CLI prints it as a warning
// (Spec.Warnings).
func (c *CheckContext) Warnf(sub, format string, args ...any) {
	path := c.Path
	if sub != "" {
		path = joinPath(path, sub)
	}
	c.warns = append(c.warns, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
}

// phaseJSON is PhaseSpec's plain fields, for its JSON form.
type phaseJSON PhaseSpec

// MarshalJSON writes the phase with its driver section under the driver's
// key ("hook": {...}), the shape the workflow's input has always had: the
// typed Driver when it is set, else the raw section as it was read.
func (p PhaseSpec) MarshalJSON() ([]byte, error) {
	plain, err := json.Marshal(phaseJSON(p))
	if err != nil {
		return nil, err
	}
	key, section := p.sectionKey, p.section
	if p.Driver != nil {
		key = DriverKeyOf(p.Driver)
		if key == "" {
			return nil, fmt.Errorf("phase %s: driver %T is not registered", p.Name, p.Driver)
		}
		if section, err = json.Marshal(p.Driver); err != nil {
			return nil, fmt.Errorf("phase %s: %s section: %w", p.Name, key, err)
		}
	}
	if key == "" {
		return plain, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(plain, &m); err != nil {
		return nil, err
	}
	m[key] = section
	return json.Marshal(m)
}

// UnmarshalJSON reads the phase and decodes its driver section with the
// registered driver's type (Decoded): what the CLI and the activities
// read a phase as. A workflow reads its input as RawSpec, which keeps the
// sections raw.
func (p *PhaseSpec) UnmarshalJSON(data []byte) error {
	if err := p.unmarshalRaw(data); err != nil {
		return err
	}
	decoded, err := p.Decoded()
	if err != nil {
		return err
	}
	*p = decoded
	return nil
}

// unmarshalRaw reads the phase, keeping its driver section (the one key
// that is not a PhaseSpec field) as JSON: nothing of the driver's code
// runs.
func (p *PhaseSpec) unmarshalRaw(data []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	var plain phaseJSON
	if err := json.Unmarshal(data, &plain); err != nil {
		// Say which phase: the error of a field's own decoder does not.
		var id struct{ Name, Phase string }
		_ = json.Unmarshal(data, &id)
		return fmt.Errorf("phase %s: %w", firstNonEmpty(id.Name, id.Phase, "(unnamed)"), err)
	}
	*p = PhaseSpec(plain)
	// Histories recorded before phases had names.
	if p.Name == "" {
		p.Name = string(p.Phase)
	}
	var keys []string
	for k, raw := range m {
		if !phaseFieldKeys[k] && string(raw) != "null" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	switch {
	case len(keys) > 1:
		return fmt.Errorf("phase %s: has two drivers, %s", p.Name, strings.Join(keys, " and "))
	case len(keys) == 1:
		p.sectionKey, p.section = keys[0], m[keys[0]]
	}
	return nil
}

// Decoded returns the phase with its raw driver section (see RawPhase)
// decoded into the registered driver's type, as Driver: for the code that
// calls the driver (an activity, a side effect that plans, the CLI), never
// for a workflow as it replays. A phase already decoded, or with no
// section, is returned as it is.
func (p PhaseSpec) Decoded() (PhaseSpec, error) {
	if p.Driver != nil || p.sectionKey == "" {
		return p, nil
	}
	f, ok := driverFactory(p.sectionKey)
	if !ok {
		return p, fmt.Errorf("phase %s: driver %q is not part of this build of godwit (known: %s)",
			p.Name, p.sectionKey, strings.Join(DriverKeys(), ", "))
	}
	spec := f()
	if err := json.Unmarshal(p.section, spec); err != nil {
		return p, fmt.Errorf("phase %s: %s section: %w", p.Name, p.sectionKey, err)
	}
	p.Driver, p.section, p.sectionKey = spec, nil, ""
	return p, nil
}

// Section returns the phase's driver section as JSON while it is raw
// (RawPhase), nil once decoded.
func (p PhaseSpec) Section() json.RawMessage { return p.section }

// Decoded returns the spec with every phase's section decoded (see
// PhaseSpec.Decoded), and the errors of those that did not decode; it
// leaves s's own phases as they are.
func (s Spec) Decoded() (Spec, error) {
	phases := make([]PhaseSpec, len(s.Phases))
	var errs []error
	for i, p := range s.Phases {
		d, err := p.Decoded()
		if err != nil {
			errs = append(errs, err)
		}
		phases[i] = d
	}
	if s.Phases != nil {
		s.Phases = phases
	}
	return s, errors.Join(errs...)
}

// RawPhase is a PhaseSpec read from JSON with its driver section kept as
// it is (PhaseSpec.Section), not decoded into the driver's type, and
// written back as it was read: what a workflow carries, so that no
// driver's code (a section type that changed since the run started) runs
// while it replays. Decoded gives the typed section.
type RawPhase PhaseSpec

// UnmarshalJSON reads the phase, keeping its section raw.
func (p *RawPhase) UnmarshalJSON(data []byte) error { return (*PhaseSpec)(p).unmarshalRaw(data) }

// MarshalJSON writes the phase as PhaseSpec does.
func (p RawPhase) MarshalJSON() ([]byte, error) { return PhaseSpec(p).MarshalJSON() }

// RawSpec is a Spec read from JSON with each phase's driver section kept
// raw (RawPhase): a workflow's input.
type RawSpec Spec

// UnmarshalJSON reads the spec, keeping its phases' sections raw.
func (s *RawSpec) UnmarshalJSON(data []byte) error {
	type plain Spec
	aux := struct {
		*plain
		// At the top level, it hides plain's typed phases.
		Phases []RawPhase `json:"phases"`
	}{plain: (*plain)(s)}
	err := json.Unmarshal(data, &aux)
	s.Phases = nil
	if aux.Phases != nil {
		s.Phases = make([]PhaseSpec, len(aux.Phases))
		for i, p := range aux.Phases {
			s.Phases[i] = PhaseSpec(p)
		}
	}
	return err
}

// MarshalJSON writes the spec as Spec does.
func (s RawSpec) MarshalJSON() ([]byte, error) { return json.Marshal(Spec(s)) }

// phaseFieldKeys are the JSON keys of PhaseSpec's own fields; any other
// key of a phase is a driver section.
var phaseFieldKeys = phaseJSONKeys()

func phaseJSONKeys() map[string]bool {
	keys := map[string]bool{}
	t := reflect.TypeOf(PhaseSpec{})
	for i := 0; i < t.NumField(); i++ {
		name := strings.Split(t.Field(i).Tag.Get("json"), ",")[0]
		if name != "" && name != "-" {
			keys[name] = true
		}
	}
	return keys
}

// LagFollower is a DriverSpec whose phase keeps a target in step with a
// source (a replicate catchUp) and can run bounded: FollowFor returns the
// section of an action that applies changes for about d, then returns
// with the lag it measured (activities.PhaseResult.Lag). The workflow runs
// it in a loop while a gate with requireLag waits. ok is false when this
// section does not follow (a setup or a stop).
type LagFollower interface {
	FollowFor(d time.Duration) (spec DriverSpec, ok bool)
}

// LagSource returns the index of the phase whose replication a gate
// before phases[i] measures: the latest earlier phase whose driver
// follows (LagFollower) — after a cut-over, its reverse replication;
// -1 when there is none.
func LagSource(phases []PhaseSpec, i int) int {
	for j := min(i, len(phases)) - 1; j >= 0; j-- {
		if f, ok := phases[j].Driver.(LagFollower); ok {
			if _, follows := f.FollowFor(time.Second); follows {
				return j
			}
		}
	}
	return -1
}

// CaptureUser is a DriverSpec whose phase reads a change capture of the
// store CaptureSource names (a replicate phase, a cut-over's catch-up):
// a background replication of that capture stops before it starts.
type CaptureUser interface {
	CaptureSource() string
}

// Background is a DriverSpec whose replication, once its phase is done,
// keeps running in the background across the following phases
// (replicate's `background: true`).
type Background interface {
	InBackground() bool
}

// Reverser is a Background whose replication runs the other way from its
// phase's capture: a cut-over's reverse replication (new → legacy), which
// keeps legacy current from the cut-over on. FollowsReverse says whether
// it does. A workflow follows it only since the change that added it, and
// stops it before a phase that uses the capture (CaptureUser with the
// same CaptureSource), before a decommission, before a rollback's
// compensations (the cut-over's own drains the rest) and at the run's end.
type Reverser interface {
	FollowsReverse() bool
}

// FollowsReverse reports whether d's replication is a reverse one
// (Reverser).
func FollowsReverse(d DriverSpec) bool {
	r, ok := d.(Reverser)
	return ok && r.FollowsReverse()
}
