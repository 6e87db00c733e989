package terraform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/infra"
	"github.com/godwit/godwit/specfiles"
)

// Outputs the driver's steps hand to the later ones (and to later phases,
// when the phase declares them in `outputs:`).
const (
	// OutputPlanHash is the plan step's hash, which the apply step checks.
	OutputPlanHash = "plan_hash"
	// OutputPlanSummary is the plan step's summary as JSON, for the message
	// that refuses a changed plan (left out when large).
	OutputPlanSummary = "plan_changes"
	// OutputStateSerial is the state's serial before the apply, which the
	// compensation reports as the state it restores.
	OutputStateSerial = "state_serial_before"
)

// Error types of this driver, for retry policies and people.
const (
	// A plan made at apply time that differs from the approved one is
	// reported as activities.ErrTypeStepsAgain: the phase plans again and
	// its gate asks again.
	// ErrTypeDestroyNotAllowed: the plan destroys what allowDestroy does
	// not name. Not retryable.
	ErrTypeDestroyNotAllowed = "TerraformDestroyNotAllowed"
	// ErrTypeLocked: someone else holds the state's lock. Retryable.
	ErrTypeLocked = "TerraformStateLocked"
	// ErrTypeFailed: a Terraform command failed. Retryable.
	ErrTypeFailed = "TerraformFailed"
)

// maxSummary bounds the phase's one-line summary.
const maxSummary = 600

// maxPriorChanges bounds the approved plan's changes kept for the apply
// step's message (workflow state, not a log).
const maxPriorChanges = 4 << 10

// Driver runs terraform phases.
type Driver struct {
	activities.Driver
	Logger hclog.Logger
	// PlanDir is where plan files are written; empty: a directory under
	// the system's temporary directory.
	PlanDir string

	// dirs serialises commands per module directory within this worker:
	// Terraform keeps the selected workspace in the directory, so two
	// phases on other workspaces of one directory must take turns.
	mu   sync.Mutex
	dirs map[string]*sync.Mutex
}

// New returns the driver.
func New(logger hclog.Logger) *Driver {
	d := &Driver{Logger: logger.Named(Key)}
	d.Driver = activities.Adapt(logger, activities.Phase[*Spec]{Key: Key, Run: d.do, Compensate: d.do, Preflight: d.preflight,
		Errors: errorKinds, KeepAlive: beatEvery})
	return d
}

// beatEvery is how often a running command's heartbeat (its elapsed
// time) is sent.
const beatEvery = 2 * time.Second

// do runs the plan or apply step, or the compensation.
func (d *Driver) do(ctx context.Context, c *activities.Call[*Spec]) (activities.PhaseResult, error) {
	res, err := d.run(ctx, c)
	var appErr *temporal.ApplicationError
	if err != nil && !errors.As(err, &appErr) {
		err = fmt.Errorf("%s %s: %w", c.Action, c.In.Phase.Name, err)
	}
	return res, err
}

func (d *Driver) run(ctx context.Context, c *activities.Call[*Spec]) (activities.PhaseResult, error) {
	spec, action, in := c.Spec, c.Action, c.In
	if action == activities.ActionCompensate && spec.Compensate == nil {
		return activities.PhaseResult{Summary: "no compensation configured"}, nil
	}
	unlock := d.lockDir(spec.Dir)
	defer unlock()

	secrets, err := resolveSecrets(spec.secretVarRefs())
	if err != nil {
		err = fmt.Errorf("%s %s: %w", action, in.Phase.Name, err)
		return activities.PhaseResult{}, activities.ConfigError(err)
	}
	m, err := d.module(spec, secrets)
	if err != nil {
		return activities.PhaseResult{}, err
	}
	r := &runner{d: d, spec: spec, in: in, m: m, secrets: secrets, k: c}
	var res activities.PhaseResult
	switch {
	case action == activities.ActionCompensate:
		res, err = r.compensate(ctx)
	case in.Step == 0:
		// A whole-phase run (no steps): plan and apply at once.
		res, err = r.plan(ctx)
		if err == nil {
			r.in.Prior = res.Outputs
			res, err = r.apply(ctx)
		}
	default:
		steps := spec.PlanSteps()
		if in.Step > len(steps) || !steps[in.Step-1].Action {
			return activities.PhaseResult{}, activities.ConfigError(fmt.Errorf("phase %s: step %d is not a terraform step", in.Phase.Name, in.Step))
		}
		if steps[in.Step-1].Name == StepPlan {
			res, err = r.plan(ctx)
		} else {
			res, err = r.apply(ctx)
		}
	}
	res.Output = m.Output()
	return res, err
}

// lockDir takes the directory's turn and returns its release.
func (d *Driver) lockDir(dir string) func() {
	d.mu.Lock()
	if d.dirs == nil {
		d.dirs = map[string]*sync.Mutex{}
	}
	l := d.dirs[dir]
	if l == nil {
		l = &sync.Mutex{}
		d.dirs[dir] = l
	}
	d.mu.Unlock()
	l.Lock()
	return l.Unlock
}

func (d *Driver) module(spec *Spec, secrets map[string]string) (*infra.Module, error) {
	bin, err := infra.FindBinary(spec.Binary)
	if err != nil {
		return nil, err
	}
	// The module is read only under the worker's files directory.
	dir, err := specfiles.Resolve("terraform.dir", spec.Dir)
	switch {
	case errors.Is(err, specfiles.ErrOutside):
		return nil, infra.Permanent(err)
	case err != nil:
		dir = spec.Dir // infra.New says it is missing
	}
	env, err := resolveSecrets(spec.envRefs())
	if err != nil {
		return nil, infra.Permanent(err)
	}
	// Its own secrets, and every other secret this worker knows.
	redact := activities.KnownSecrets().Values()
	for _, v := range secrets {
		redact = append(redact, v)
	}
	for _, v := range env {
		redact = append(redact, v)
	}
	return infra.New(infra.Options{
		Dir: dir, Binary: bin, Workspace: spec.Workspace, PlanDir: d.PlanDir,
		Redact: redact, Inherit: spec.InheritEnv, Env: env,
		Logger: d.Logger.With("dir", spec.Dir, "workspace", spec.Workspace),
	})
}

// runner is one activity's work on one module.
type runner struct {
	d       *Driver
	spec    *Spec
	in      activities.PhaseInput
	m       *infra.Module
	secrets map[string]string
	k       activities.Beater
}

// run runs fn while the keep-alive heartbeats "what" with its elapsed
// time, so long Terraform commands keep the activity alive and show in
// `godwit status`.
func (r *runner) run(ctx context.Context, what string, fn func(context.Context) error) error {
	start := time.Now()
	r.k.Beat(activities.Heartbeat{Detail: "terraform " + what})
	elapsed := func() activities.Heartbeat {
		return activities.Heartbeat{Detail: fmt.Sprintf("terraform %s (%s)", what, time.Since(start).Round(time.Second))}
	}
	r.k.Follow(elapsed)
	err := fn(ctx)
	done := elapsed()
	r.k.Follow(func() activities.Heartbeat { return done })
	return err
}

// makePlan inits the module and plans it with plain vars and the secrets.
func (r *runner) makePlan(ctx context.Context, vars map[string]string) (*infra.Plan, error) {
	if err := r.run(ctx, "init", r.m.Init); err != nil {
		return nil, err
	}
	var p *infra.Plan
	err := r.run(ctx, "plan in workspace "+r.m.Workspace(), func(ctx context.Context) error {
		var err error
		p, err = r.m.Plan(ctx, infra.Vars{Plain: vars, Secret: r.secrets})
		return err
	})
	return p, err
}

// plan is the plan step: it plans the action's values, checks what the
// plan destroys, and hands its hash (and changes) to the apply step. The
// plan file is not kept: the apply step plans again, on whichever worker,
// and applies that plan only if it is the same.
func (r *runner) plan(ctx context.Context) (activities.PhaseResult, error) {
	p, err := r.makePlan(ctx, r.spec.actionVars())
	if err != nil {
		return activities.PhaseResult{}, err
	}
	r.m.Discard(p)
	res := activities.PhaseResult{
		// With the values: it is what the person at the gate approves.
		Summary: clip(fmt.Sprintf("plan %s: %s", infra.ShortHash(p.Hash), p.Summary.Detailed())),
		Outputs: map[string]string{OutputPlanHash: p.Hash},
	}
	if changes, err := json.Marshal(p.Summary); err == nil && len(changes) <= maxPriorChanges {
		res.Outputs[OutputPlanSummary] = string(changes)
	}
	if err := r.checkDestroys(p.Summary); err != nil {
		return res, err
	}
	return res, nil
}

// destroyNotAllowed is a plan destroying what the spec does not allow.
type destroyNotAllowed struct{ addresses []string }

func (e *destroyNotAllowed) Error() string {
	return fmt.Sprintf("the plan would destroy %s, which allowDestroy does not name: "+
		"add them to allowDestroy if that is intended, or change the module or its variables",
		strings.Join(e.addresses, ", "))
}

func (r *runner) checkDestroys(s infra.Summary) error {
	var refused []string
	for _, a := range s.Destroys() {
		if !r.spec.allowedToDestroy(a) {
			refused = append(refused, a)
		}
	}
	if len(refused) > 0 {
		return &destroyNotAllowed{refused}
	}
	return nil
}

// planChanged says how the plan made at apply time differs from the
// approved one.
type planChanged struct {
	approved, now string
	detail        string
}

func (e *planChanged) Error() string {
	return fmt.Sprintf("%v: approved plan %s, now %s (%s): planning and asking again",
		infra.ErrPlanChanged, infra.ShortHash(e.approved), infra.ShortHash(e.now), e.detail)
}

func (e *planChanged) Unwrap() error { return infra.ErrPlanChanged }

// apply is the apply step: it plans again and applies that plan only if
// its hash is the approved plan's. A plan with nothing left to do counts
// as applied, so a retry after an apply that succeeded (its result lost
// with a worker) finishes instead of failing.
func (r *runner) apply(ctx context.Context) (activities.PhaseResult, error) {
	approved := r.in.Prior[OutputPlanHash]
	if approved == "" {
		return activities.PhaseResult{}, infra.Permanent(fmt.Errorf("the apply step has no approved plan: the plan step's outputs are missing"))
	}
	before, err := r.state(ctx)
	if err != nil {
		return activities.PhaseResult{}, err
	}
	p, err := r.makePlan(ctx, r.spec.actionVars())
	if err != nil {
		return activities.PhaseResult{}, err
	}
	var summary string
	switch {
	case p.Hash == approved:
		if err := r.checkDestroys(p.Summary); err != nil {
			r.m.Discard(p)
			return activities.PhaseResult{}, err
		}
		if err := r.run(ctx, "apply of plan "+infra.ShortHash(p.Hash), func(ctx context.Context) error { return r.m.Apply(ctx, p) }); err != nil {
			return activities.PhaseResult{}, err
		}
		summary = fmt.Sprintf("applied plan %s: %s", infra.ShortHash(p.Hash), p.Summary)
	case p.Summary.Empty():
		r.m.Discard(p)
		summary = fmt.Sprintf("plan %s already applied: no changes left", infra.ShortHash(approved))
	default:
		r.m.Discard(p)
		return activities.PhaseResult{}, &planChanged{approved: approved, now: p.Hash, detail: r.changeDetail(p.Summary)}
	}
	outputs, err := r.outputs(ctx)
	if err != nil {
		return activities.PhaseResult{}, err
	}
	outputs[OutputStateSerial] = strconv.FormatUint(before.Serial, 10)
	return activities.PhaseResult{Summary: clip(summary), Outputs: outputs}, nil
}

func (r *runner) changeDetail(now infra.Summary) string {
	var approved infra.Summary
	if text := r.in.Prior[OutputPlanSummary]; text != "" && json.Unmarshal([]byte(text), &approved) == nil {
		return infra.Diff(approved, now) + "; now: " + now.String()
	}
	return "now: " + now.String()
}

func (r *runner) state(ctx context.Context) (infra.State, error) {
	var st infra.State
	err := r.run(ctx, "state pull", func(ctx context.Context) error {
		var err error
		st, err = r.m.State(ctx)
		return err
	})
	return st, err
}

// outputs returns the module outputs the phase declares in `outputs:`.
// A sensitive one is refused: outputs go into workflow history.
func (r *runner) outputs(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	if len(r.in.Phase.Outputs) == 0 {
		return out, nil
	}
	all, err := r.m.Outputs(ctx)
	if err != nil {
		return nil, err
	}
	for _, name := range r.in.Phase.Outputs {
		o, ok := all[name]
		switch {
		case !ok && isDriverOutput(name):
			continue
		case !ok:
			return nil, infra.Permanent(fmt.Errorf("the module has no output %q after the apply (it has %s): fix outputs: in the spec or add the output to the module",
				name, strings.Join(slices.Sorted(maps.Keys(all)), ", ")))
		case o.Sensitive:
			return nil, infra.Permanent(fmt.Errorf("output %q is sensitive: phase outputs are stored in workflow history, so it cannot be one", name))
		}
		out[name] = o.Value
	}
	return out, nil
}

func isDriverOutput(name string) bool {
	return name == OutputPlanHash || name == OutputPlanSummary || name == OutputStateSerial
}

// compensate undoes the phase: it re-applies the module with the values
// from before the phase (planned and applied at once; a rollback has no
// gate), or destroys the workspace's resources. Both are idempotent: a
// second run finds nothing left to change.
func (r *runner) compensate(ctx context.Context) (activities.PhaseResult, error) {
	comp := r.spec.Compensate
	vars := merge(r.spec.Vars, comp.Vars)
	restored := ""
	if s := r.in.Prior[OutputStateSerial]; s != "" {
		restored = fmt.Sprintf(" (the state had serial %s before the phase)", s)
	}
	if comp.Destroy {
		if len(comp.Vars) == 0 {
			// A destroy still evaluates the configuration: give it the
			// values it was applied with.
			vars = r.spec.actionVars()
		}
		if err := r.run(ctx, "init", r.m.Init); err != nil {
			return activities.PhaseResult{}, err
		}
		err := r.run(ctx, "destroy in workspace "+r.m.Workspace(), func(ctx context.Context) error {
			return r.m.Destroy(ctx, infra.Vars{Plain: vars, Secret: r.secrets})
		})
		if err != nil {
			return activities.PhaseResult{}, err
		}
		return activities.PhaseResult{Summary: "destroyed the workspace's resources" + restored}, nil
	}
	p, err := r.makePlan(ctx, vars)
	if err != nil {
		return activities.PhaseResult{}, err
	}
	if p.Summary.Empty() {
		r.m.Discard(p)
		return activities.PhaseResult{Summary: "nothing to undo: the infrastructure already has the values from before the phase" + restored}, nil
	}
	if err := r.run(ctx, "apply of plan "+infra.ShortHash(p.Hash), func(ctx context.Context) error { return r.m.Apply(ctx, p) }); err != nil {
		return activities.PhaseResult{}, err
	}
	return activities.PhaseResult{Summary: clip(fmt.Sprintf("restored%s: %s", restored, p.Summary))}, nil
}

// errorKinds: a plan that changed since it was approved starts the
// phase's steps again; a plan that destroys what allowDestroy does not
// allow, and Terraform's permanent errors, are not retried; a held state
// lock and any other failed command are.
var errorKinds = []activities.ErrorKind{
	{Is: func(err error) bool { var e *planChanged; return errors.As(err, &e) }, Type: activities.ErrTypeStepsAgain},
	{Is: func(err error) bool { var e *destroyNotAllowed; return errors.As(err, &e) }, Type: ErrTypeDestroyNotAllowed},
	{Is: func(err error) bool { var e *infra.LockedError; return errors.As(err, &e) }, Type: ErrTypeLocked, Retryable: true},
	{Is: infra.IsPermanent, Type: activities.ErrTypeConfig},
	{Type: ErrTypeFailed, Retryable: true},
}

// resolveSecrets reads the secret variables on this worker.
func resolveSecrets(refs map[string]config.SecretRef) (map[string]string, error) {
	out := make(map[string]string, len(refs))
	for _, name := range slices.Sorted(maps.Keys(refs)) {
		v, err := activities.ResolveSecret(refs[name])
		if err != nil {
			return nil, fmt.Errorf("secret variable %s: %w", name, err)
		}
		out[name] = v
	}
	return out, nil
}

// clip shortens a summary for the report.
func clip(s string) string {
	if len(s) > maxSummary {
		cut := maxSummary
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut-- // not inside a character: a plan's values hold "→"
		}
		return s[:cut] + "…"
	}
	return s
}

// preflight checks, changing nothing but the module's .terraform
// directory (init), that the phase can run from this worker.
func (d *Driver) preflight(ctx context.Context, _ *config.Spec, phase config.PhaseSpec, spec *Spec) []string {
	var problems []string
	secrets := map[string]string{}
	refs := spec.secretVarRefs()
	for _, name := range slices.Sorted(maps.Keys(refs)) {
		v, err := activities.ResolveSecret(refs[name])
		if err != nil {
			problems = append(problems, fmt.Sprintf("secret variable %s: %v", name, err))
			continue
		}
		secrets[name] = v
	}
	if _, err := specfiles.Resolve("terraform.dir", spec.Dir); errors.Is(err, specfiles.ErrOutside) {
		return append(problems, err.Error())
	}
	if st, err := os.Stat(spec.Dir); err != nil || !st.IsDir() {
		return append(problems, fmt.Sprintf("module directory %s does not exist on this worker", spec.Dir))
	}
	problems = append(problems, moduleProblems(spec, phase.Outputs)...)
	bin, err := infra.FindBinary(spec.Binary)
	if err != nil {
		return append(problems, err.Error())
	}
	unlock := d.lockDir(spec.Dir)
	defer unlock()
	m, err := d.module(spec, secrets)
	if err != nil {
		return append(problems, err.Error())
	}
	if _, err := m.Version(ctx); err != nil {
		return append(problems, fmt.Sprintf("%s does not run: %v", bin, err))
	}
	if err := m.Init(ctx); err != nil {
		problems = append(problems, fmt.Sprintf("terraform init fails (is the backend reachable?): %v", err))
	}
	return problems
}

// moduleProblems compares what the spec gives with what the module
// declares: every required variable has a value in each direction, every
// value has a variable, every declared output exists and is not sensitive.
func moduleProblems(spec *Spec, outputs []string) []string {
	mod, err := infra.Inspect(spec.Dir)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	declared := map[string]bool{}
	for _, v := range mod.Variables {
		declared[v.Name] = true
	}
	given := func(vars map[string]string) map[string]bool {
		out := map[string]bool{}
		for k := range vars {
			out[k] = true
		}
		for k := range spec.secretVarRefs() {
			out[k] = true
		}
		return out
	}
	directions := []struct {
		what string
		vars map[string]string
	}{{"apply", spec.actionVars()}}
	if c := spec.Compensate; c != nil && !c.Destroy {
		directions = append(directions, struct {
			what string
			vars map[string]string
		}{"compensate", merge(spec.Vars, c.Vars)})
	}
	for _, dir := range directions {
		have := given(dir.vars)
		for _, v := range mod.Variables {
			if v.Required && !have[v.Name] {
				problems = append(problems, fmt.Sprintf("%s: the module's variable %s has no default and no value: add it to vars, %s.vars or secretVars", dir.what, v.Name, dir.what))
			}
		}
	}
	all := merge(merge(spec.Vars, spec.Apply.Vars), spec.compensateVars())
	for k := range spec.secretVarRefs() {
		all[k] = ""
	}
	var unknown []string
	for k := range all {
		if !declared[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		problems = append(problems, fmt.Sprintf("the module declares no variable %s: remove it from the spec or declare it in the module", k))
	}
	outs := map[string]bool{}
	for _, o := range mod.Outputs {
		if o.Sensitive {
			outs[o.Name] = false
		} else {
			outs[o.Name] = true
		}
	}
	for _, name := range outputs {
		plain, ok := outs[name]
		switch {
		case !ok && isDriverOutput(name):
		case !ok:
			problems = append(problems, fmt.Sprintf("outputs: the module has no output %q", name))
		case !plain:
			problems = append(problems, fmt.Sprintf("outputs: the module's output %q is sensitive; phase outputs are stored in workflow history", name))
		}
	}
	return problems
}
