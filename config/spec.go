package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/godwit/godwit/mapping"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/window"
	"github.com/godwit/godwit/yamldecode"
)

// Spec is a migration spec: what `godwit start -f spec.yaml` runs. It is the
// workflow's input, so it must never hold a secret: commands name the
// environment variables or files that hold them, and only activities read them.
type Spec struct {
	// Name identifies the migration; it is the workflow ID.
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description" json:"description,omitempty"`
	// TaskQueue overrides the settings' task queue for this migration.
	TaskQueue string `yaml:"taskQueue" json:"taskQueue,omitempty"`
	// Resources names what this migration drives beyond what its drivers
	// declare themselves (a hook's database, a route): a migration whose
	// resources overlap a running one's is refused. Free text, compared
	// exactly, e.g. "postgres://orders/public.users".
	Resources []string `yaml:"resources" json:"resources,omitempty"`
	// Notifications are webhooks told of the run's phases, gates and
	// rollbacks as they happen.
	Notifications []Notification `yaml:"notifications" json:"notifications,omitempty"`
	// Window holds the migration's disruptive phases until a preferred
	// maintenance window opens, and out of critical business hours.
	Window *window.Spec `yaml:"window" json:"window,omitempty"`
	// Stores are the databases the data drivers read and write, by name.
	Stores map[string]StoreSpec `yaml:"stores" json:"stores,omitempty"`
	// Mappings say how tables change on the way between two stores (names
	// rule, renames, drops, computed columns, filters); phases name one
	// with `mapping: NAME` instead of from/to/tables. See docs/mapping.md.
	Mappings map[string]mapping.Spec `yaml:"mappings" json:"mappings,omitempty"`
	// Defaults apply to every phase that does not set its own.
	Defaults PhaseDefaults `yaml:"defaults" json:"defaults"`
	Phases   []PhaseSpec   `yaml:"phases" json:"phases"`

	// warnings are what Check found valid but likely not meant (a change
	// capture no phase removes), for the CLI to print; never part of the
	// workflow's input.
	warnings FieldErrors
}

// Warnings are what the last Check found valid but likely not meant, each
// with its field path, as "phases[2].replicate.mode: …".
func (s *Spec) Warnings() []string {
	out := make([]string, len(s.warnings))
	for i, w := range s.warnings {
		out[i] = w.Error()
	}
	return out
}

// PhaseDefaults are the activity options shared by phases.
type PhaseDefaults struct {
	Timeout          Duration     `yaml:"timeout" json:"timeout,omitempty"`
	HeartbeatTimeout Duration     `yaml:"heartbeatTimeout" json:"heartbeatTimeout,omitempty"`
	Retry            *RetryPolicy `yaml:"retry" json:"retry,omitempty"`
}

// RetryPolicy is how often and how fast a failed phase activity is retried.
type RetryPolicy struct {
	MaxAttempts        int      `yaml:"maxAttempts" json:"maxAttempts"`
	InitialInterval    Duration `yaml:"initialInterval" json:"initialInterval"`
	BackoffCoefficient float64  `yaml:"backoffCoefficient" json:"backoffCoefficient"`
	MaxInterval        Duration `yaml:"maxInterval" json:"maxInterval"`
}

// PhaseSpec configures one phase: its activity options, an optional manual
// gate before it starts, and the driver that does its work.
type PhaseSpec struct {
	// Phase is the phase's kind: validate, provision, copy, shift-traffic,
	// reconcile or decommission. A kind may appear more than once.
	Phase migration.Phase `yaml:"phase" json:"phase"`
	// Name identifies the phase in the report, gates, logs, search
	// attributes and `godwit output`; default: the kind. Unique.
	Name string `yaml:"name" json:"name,omitempty"`
	// Outputs names the values the phase hands to later phases, which
	// refer to them as ${phases.NAME.outputs.KEY}.
	Outputs          []string     `yaml:"outputs" json:"outputs,omitempty"`
	Timeout          Duration     `yaml:"timeout" json:"timeout,omitempty"`
	HeartbeatTimeout Duration     `yaml:"heartbeatTimeout" json:"heartbeatTimeout,omitempty"`
	Retry            *RetryPolicy `yaml:"retry" json:"retry,omitempty"`
	// Approval is a manual gate: the phase waits for an `approve` update.
	Approval *Approval `yaml:"approval" json:"approval,omitempty"`
	// CompensatePartial runs the phase's compensation even when the phase
	// itself failed or was interrupted by a rollback, for actions that may
	// leave partial effects. The compensation must then tolerate them.
	CompensatePartial bool `yaml:"compensatePartial" json:"compensatePartial,omitempty"`
	// Disruptive phases wait for the spec's window before they start;
	// default: true for decommission, false otherwise.
	Disruptive *bool `yaml:"disruptive" json:"disruptive,omitempty"`
	// Driver does the phase's work: the section under a driver's key
	// (`hook:`, or another registered driver's). A phase has exactly one.
	Driver DriverSpec `yaml:"-" json:"-"`
	// section is the driver section as JSON, under the key sectionKey, in
	// a phase decoded with its section kept raw (RawPhase, RawSpec: what
	// a workflow reads its input as); nil once Driver is set. Decoded
	// makes it the typed Driver.
	section    json.RawMessage
	sectionKey string
}

// GateAfterReadOnly reports whether the phase's own gate (`approval:`)
// waits after the read-only steps its phase begins with (a Terraform plan)
// instead of before the phase: the person at the gate then sees what the
// phase is about to change, and approves exactly that.
func (p PhaseSpec) GateAfterReadOnly() bool {
	sp, ok := p.Driver.(StepPlanner)
	if p.Approval == nil || !ok {
		return false
	}
	steps := sp.PlanSteps()
	k := FirstChange(steps)
	return k > 0 && k < len(steps) && steps[0].ReadOnly
}

// IsDisruptive reports whether the phase waits for the spec's window.
func (p PhaseSpec) IsDisruptive() bool {
	if p.Disruptive != nil {
		return *p.Disruptive
	}
	return p.Phase == migration.PhaseDecommission
}

// Hook returns the phase's command hook, or nil when another driver
// does its work.
func (p PhaseSpec) Hook() *Hook {
	h, _ := p.Driver.(*Hook)
	return h
}

// DriverKey returns the key of the phase's driver section ("hook"),
// decoded or raw.
func (p PhaseSpec) DriverKey() string {
	if p.Driver == nil {
		return p.sectionKey
	}
	return DriverKeyOf(p.Driver)
}

// Approval is a manual gate before a phase.
type Approval struct {
	Gate string `yaml:"gate" json:"gate"`
	// Timeout fails the gate (and rolls back) when nobody approves in time;
	// zero waits for ever.
	Timeout Duration `yaml:"timeout" json:"timeout,omitempty"`
	// RequireLag refuses the approval while the replication lag of the
	// latest earlier replicate phase (mode catchUp) is above it; while the
	// gate waits, that replication keeps applying changes and measuring.
	// Zero: no condition.
	RequireLag Duration `yaml:"requireLag" json:"requireLag,omitempty"`
}

// Hook runs one command as the phase's action and another as its
// compensation; or, with steps, a series of commands, waits and gates.
type Hook struct {
	Run *Command `yaml:"run" json:"run,omitempty"`
	// Steps replaces run with a series of steps, run one by one: pause
	// holds between them, a gate waits for approval, rollback interrupts.
	Steps      []HookStep `yaml:"steps" json:"steps,omitempty"`
	Compensate *Command   `yaml:"compensate" json:"compensate,omitempty"`
	// Resumable says the run command resumes from GODWIT_CHECKPOINT, so
	// `pause` may stop it at once and a `resume` runs it again from its
	// last checkpoint, instead of letting it finish first.
	Resumable bool `yaml:"resumable" json:"resumable,omitempty"`
}

// HookStep is one step of a multi-step hook: exactly one of run, wait and
// gate.
type HookStep struct {
	Name string   `yaml:"name" json:"name,omitempty"`
	Run  *Command `yaml:"run" json:"run,omitempty"`
	Wait Duration `yaml:"wait" json:"wait,omitempty"`
	Gate string   `yaml:"gate" json:"gate,omitempty"`
}

// Command is a process to run: argv, environment, working directory, timeout.
type Command struct {
	Command []string          `yaml:"command" json:"command"`
	Env     map[string]string `yaml:"env" json:"env,omitempty"`
	// Secrets are environment variables whose values the worker reads from
	// its own environment or from a file, so they never enter history.
	Secrets map[string]SecretRef `yaml:"secrets" json:"secrets,omitempty"`
	// InheritEnv names variables of the worker's environment the command
	// gets; beyond them it gets only PATH, HOME, LANG, LC_ALL, TZ, TMPDIR,
	// its own GODWIT_* variables, env and secrets.
	InheritEnv []string `yaml:"inheritEnv" json:"inheritEnv,omitempty"`
	Dir        string   `yaml:"dir" json:"dir,omitempty"`
	Timeout    Duration `yaml:"timeout" json:"timeout,omitempty"`
}

// StoreSpec is a database: its engine and where the worker finds its DSN
// (which holds credentials, so it is never written in the spec).
type StoreSpec struct {
	// Engine is postgres, mysql (MySQL or MariaDB) or sqlite.
	Engine string    `yaml:"engine" json:"engine"`
	DSN    SecretRef `yaml:"dsn" json:"dsn"`
}

// StoreEngines are the engines a store may name.
var StoreEngines = []string{"postgres", "mysql", "sqlite"}

// SecretRef names where a secret value lives, never the value itself.
type SecretRef struct {
	FromEnv  string `yaml:"fromEnv" json:"fromEnv,omitempty"`
	FromFile string `yaml:"fromFile" json:"fromFile,omitempty"`
}

// Defaults used when a spec leaves a value out.
const (
	DefaultPhaseTimeout     = 10 * time.Minute
	DefaultHeartbeatTimeout = 30 * time.Second
	DefaultMaxAttempts      = 3
	DefaultInitialInterval  = time.Second
	DefaultBackoff          = 2.0
	DefaultMaxInterval      = time.Minute
	DefaultCommandTimeout   = 5 * time.Minute
)

var (
	namePattern    = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$`)
	gatePattern    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// secretNamePattern matches variable names that conventionally hold
	// secrets (PGPASSWORD, MYSQL_PWD, GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY,
	// API_KEY), but not the shell's PWD.
	secretNamePattern = regexp.MustCompile(`(?i)(PASSWORD|PASSWD|_PWD$|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?)`)
)

// LoadSpec reads and checks the spec file at path.
func LoadSpec(path string) (*Spec, error) {
	data, err := readSpecFile(path)
	if err != nil {
		return nil, err
	}
	spec, err := ParseSpec(data)
	if err != nil {
		return nil, fmt.Errorf("spec %s is not valid:\n%w", path, err)
	}
	return spec, nil
}

// ParseSpec decodes a YAML spec strictly, applies defaults and checks it.
// The error, when not nil, is a FieldErrors listing every problem found, in
// document order, each with the line of the field (or of the mapping that
// lacks it).
func ParseSpec(data []byte) (*Spec, error) {
	empty := FieldErrors{{Message: "the spec is empty: it needs at least name and phases"}}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, empty
	}
	if len(data) > MaxSpecBytes {
		return nil, FieldErrors{tooLarge(fmt.Sprintf("%d bytes (%.1f MiB)", len(data), float64(len(data))/(1<<20)))}
	}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) { // only comments
			return nil, empty
		}
		return nil, FieldErrors{yamlErrorIn(data, err)}
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		// The second document is broken; it is still a second document.
		return nil, FieldErrors{yamlErrorIn(data, err)}
	default:
		return nil, FieldErrors{{Line: extra.Line, Message: "the file holds more than one YAML document; put one migration in each file"}}
	}
	var spec Spec
	sd := newStrictDecoder(len(data))
	sd.Decode("", &root, reflect.ValueOf(&spec).Elem())
	if sd.Aborted {
		return nil, sd.Errs
	}
	spec.applyDefaults()
	keepAddOrder(&root, &spec)
	refusedZeros := spec.refuseWrittenZeros(sd.zeros)
	// Check even a spec that did not decode cleanly, so one run shows every
	// mistake; but leave out what a decoding error already explains.
	explained := append([]string(nil), sd.Explained...)
	for _, e := range sd.Errs {
		explained = append(explained, e.Path)
	}
	errs := unrelatedTo(spec.Check(), explained)
	errs = dropInherited(errs, sd.Has)
	for i := range spec.warnings {
		spec.warnings[i].Line = sd.Line(spec.warnings[i].Path)
	}
	for i := range errs {
		errs[i].Line = sd.Line(errs[i].Path)
		if refusedZeros[errs[i].Path] {
			errs[i].Message += zeroNote
		}
	}
	errs = append(errs, sd.Errs...)
	held := placeholders("", &root)
	errs = append(withoutPlaceheld(errs, held), held...)
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
		return nil, errs
	}
	return &spec, nil
}

// unrelatedTo keeps the errors whose path neither contains nor lies inside
// the path of one of the decoding errors: a field that failed to decode is
// empty, and "phases[0] has no action" says nothing new after
// "phases[0].hok: unknown field".
func unrelatedTo(errs FieldErrors, explained []string) FieldErrors {
	var out FieldErrors
	for _, e := range errs {
		related := false
		for _, p := range explained {
			if p == "" || within(e.Path, p) || within(p, e.Path) {
				related = true
				break
			}
		}
		if !related {
			out = append(out, e)
		}
	}
	return out
}

// within reports whether path is base or a field or element under it.
func within(path, base string) bool {
	if path == base {
		return true
	}
	rest, ok := strings.CutPrefix(path, base)
	return ok && (strings.HasPrefix(rest, ".") || strings.HasPrefix(rest, "["))
}

var phasePath = regexp.MustCompile(`^phases\[\d+\]\.`)

// dropInherited removes the errors about a phase value that the spec does
// not write but inherits from defaults, when the same error is already
// reported at defaults: a bad default is one mistake, not one per phase.
func dropInherited(errs FieldErrors, written func(path string) bool) FieldErrors {
	atDefaults := map[FieldError]bool{}
	for _, e := range errs {
		atDefaults[e] = true
	}
	kept := errs[:0]
	for _, e := range errs {
		if loc := phasePath.FindStringIndex(e.Path); loc != nil {
			if !written(e.Path) && atDefaults[FieldError{Path: "defaults." + e.Path[loc[1]:], Message: e.Message}] {
				continue
			}
		}
		kept = append(kept, e)
	}
	return kept
}

// yamlError turns a yaml.v3 syntax error into a FieldError with its line.
func yamlError(err error) FieldError { return yamldecode.SyntaxError(err) }

// applyDefaults fills what the spec leaves out. A phase inherits each unset
// value from defaults, and defaults from the built-in Default* constants,
// with three adjustments so an inherited value never contradicts one the
// user wrote: an inherited heartbeatTimeout or command timeout is cut to the
// phase's timeout, and an inherited retry maxInterval is raised to the
// retry's initialInterval.
func (s *Spec) applyDefaults() {
	if s.Defaults.Timeout == 0 {
		s.Defaults.Timeout = Duration(DefaultPhaseTimeout)
	}
	heartbeat := s.Defaults.HeartbeatTimeout
	if heartbeat == 0 {
		heartbeat = Duration(DefaultHeartbeatTimeout)
		s.Defaults.HeartbeatTimeout = atMost(heartbeat, s.Defaults.Timeout)
	}
	if s.Defaults.Retry == nil {
		s.Defaults.Retry = &RetryPolicy{}
	}
	s.Defaults.Retry.fill(RetryPolicy{
		MaxAttempts: DefaultMaxAttempts, InitialInterval: Duration(DefaultInitialInterval),
		BackoffCoefficient: DefaultBackoff, MaxInterval: Duration(DefaultMaxInterval),
	})
	for i := range s.Phases {
		p := &s.Phases[i]
		if p.Timeout == 0 {
			p.Timeout = s.Defaults.Timeout
		}
		if p.HeartbeatTimeout == 0 {
			p.HeartbeatTimeout = atMost(heartbeat, p.Timeout)
		}
		if p.Retry == nil {
			p.Retry = &RetryPolicy{}
		}
		p.Retry.fill(*s.Defaults.Retry)
		if p.Name == "" {
			p.Name = string(p.Phase)
		}
		if d, ok := p.Driver.(Defaulter); ok {
			d.ApplyDefaults(p)
		}
	}
}

// atMost returns d cut to limit, unless limit is not positive (an error
// reported elsewhere).
func atMost(d, limit Duration) Duration {
	if limit > 0 && limit < d {
		return limit
	}
	return d
}

// WaitsFor is how long the retries of a phase wait in all, the attempts'
// own run time aside: the time a cause (a gateway replica being restarted,
// a database failing over) has to go away before the phase fails for good.
func (r RetryPolicy) WaitsFor() time.Duration {
	var total time.Duration
	wait := time.Duration(r.InitialInterval)
	for k := 1; k < r.MaxAttempts; k++ {
		if r.MaxInterval > 0 && wait > time.Duration(r.MaxInterval) {
			wait = time.Duration(r.MaxInterval)
		}
		total += wait
		wait = time.Duration(float64(wait) * max(r.BackoffCoefficient, 1))
	}
	return total
}

func (r *RetryPolicy) fill(from RetryPolicy) {
	if r.MaxAttempts == 0 {
		r.MaxAttempts = from.MaxAttempts
	}
	if r.InitialInterval == 0 {
		r.InitialInterval = from.InitialInterval
	}
	if r.BackoffCoefficient == 0 {
		r.BackoffCoefficient = from.BackoffCoefficient
	}
	if r.MaxInterval == 0 {
		r.MaxInterval = max(from.MaxInterval, r.InitialInterval)
	}
}

// Check reports every missing required field and impossible value.
func (s *Spec) Check() FieldErrors {
	var errs FieldErrors
	s.warnings = nil
	add := func(path, format string, args ...any) {
		errs = append(errs, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	switch {
	case s.Name == "":
		add("name", "is required: the migration's name, which is also its workflow ID (e.g. orders-to-postgres)")
	case !namePattern.MatchString(s.Name):
		add("name", "%q is not a valid name: use 1-63 lowercase letters, digits, '-', '_' or '.', starting and ending with a letter or digit", s.Name)
	}
	checkTimeouts(add, "defaults", s.Defaults.Timeout, s.Defaults.HeartbeatTimeout)
	checkRetry(add, "defaults.retry", s.Defaults.Retry)
	if len(s.Phases) == 0 {
		add("phases", "is required: list at least one phase (%s)", phaseList())
	}
	s.checkPhases(add)
	errs = append(errs, CheckNotifications("notifications", s.Notifications)...)
	if s.Window != nil {
		for _, p := range s.Window.Check() {
			add(joinPath("window", p.Path), "%s", p.Message)
		}
	}
	for i, p := range s.Phases {
		if p.Disruptive != nil && *p.Disruptive && s.Window == nil {
			add(fmt.Sprintf("phases[%d].disruptive", i), "has no effect without a window: add a top-level window: {timezone, preferred, businessHours}")
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.Stores)) {
		st, path := s.Stores[name], "stores."+name
		switch {
		case !gatePattern.MatchString(name):
			add(path, "%q is not a valid store name: use letters, digits, '.', '_' or '-'", name)
		case st.Engine == "":
			add(path+".engine", "is required: one of %s", strings.Join(StoreEngines, ", "))
		case !contains(StoreEngines, st.Engine):
			add(path+".engine", "%q is not an engine Godwit knows: use one of %s", st.Engine, strings.Join(StoreEngines, ", "))
		}
		switch {
		case st.DSN.FromEnv == "" && st.DSN.FromFile == "":
			add(path+".dsn", "is required: {fromEnv: VAR} or {fromFile: PATH}, read by the worker (a DSN holds credentials, so it never goes in the spec)")
		case st.DSN.FromEnv != "" && st.DSN.FromFile != "":
			add(path+".dsn", "sets both fromEnv and fromFile: choose one")
		}
	}
	errs = append(errs, s.checkMappings()...)
	s.handMappings()
	for i, r := range s.Resources {
		if strings.TrimSpace(r) == "" {
			add(fmt.Sprintf("resources[%d]", i), "must not be empty: name the resource, e.g. postgres://orders/public.users")
		}
	}
	for i := range s.Phases {
		p := &s.Phases[i]
		path := fmt.Sprintf("phases[%d]", i)
		if p.Driver == nil {
			if p.Phase == migration.PhaseValidate {
				// The preflight comes with the phase, not with an action:
				// say how to have only it.
				add(path, "has no action: a validate phase runs every phase's preflight, then its own action; "+
					"for the preflight alone give it one that does nothing, hook: {run: {command: [\"true\"]}}, or a check of its own (%s)",
					strings.Join(DriverKeys(), ", "))
				continue
			}
			add(path, "has no action: add a driver (%s), e.g. hook: {run: {command: [\"./migrate.sh\"]}}",
				strings.Join(DriverKeys(), ", "))
			continue
		}
		c := &CheckContext{Spec: s, Phase: p, Path: path + "." + p.DriverKey()}
		p.Driver.Check(c)
		errs = append(errs, c.errs...)
		s.warnings = append(s.warnings, c.warns...)
	}
	errs = append(errs, s.checkReferences()...)
	return errs
}

// checkPhases checks the phases' kinds, names, order and gates. Validate
// entries come first and decommission entries last; the kinds between may
// repeat and mix (a reconcile after the copy and another after traffic
// moved), so their order is the spec's.
func (s *Spec) checkPhases(add addFunc) {
	names, gates := map[string]string{}, map[string]string{}
	seenMiddle, seenDecommission := "", ""
	for i := range s.Phases {
		p := &s.Phases[i]
		path := fmt.Sprintf("phases[%d]", i)
		switch {
		case p.Phase == "":
			add(path+".phase", "is required: one of %s", phaseList())
		case !p.Phase.Valid():
			add(path+".phase", "%q is not a phase: use one of %s", p.Phase, phaseList())
		case p.Phase == migration.PhaseValidate && (seenMiddle != "" || seenDecommission != ""):
			add(path+".phase", "validate must come before the phases that change things, but %s comes earlier: move it up",
				firstNonEmpty(seenMiddle, seenDecommission))
		case p.Phase == migration.PhaseDecommission:
			if seenDecommission == "" {
				seenDecommission = p.Name
			}
		case p.Phase != migration.PhaseValidate && seenDecommission != "":
			add(path+".phase", "%s must come before the decommission phase %q: move it up; decommission entries come last, since the first to start is the point of no return",
				p.Phase, seenDecommission)
		case p.Phase != migration.PhaseValidate:
			if seenMiddle == "" {
				seenMiddle = p.Name
			}
		}
		switch {
		case p.Name == "" || p.Name == string(p.Phase) && !p.Phase.Valid():
			// The kind's own error says it all.
		case !namePattern.MatchString(p.Name):
			add(path+".name", "%q is not a valid phase name: use 1-63 lowercase letters, digits, '-', '_' or '.', starting and ending with a letter or digit", p.Name)
		case names[p.Name] != "":
			what := "name"
			if p.Name == string(p.Phase) {
				what = "kind (a phase's name defaults to its kind)"
			}
			add(path+".name", "%q is already the name of %s: give each phase of the same %s a unique name, e.g. name: %s-2", p.Name, names[p.Name], what, p.Name)
		default:
			names[p.Name] = path
		}
		for j, o := range p.Outputs {
			if !envNamePattern.MatchString(o) {
				add(fmt.Sprintf("%s.outputs[%d]", path, j), "%q is not a valid output name: use letters, digits and '_'", o)
			}
		}
		checkTimeouts(add, path, p.Timeout, p.HeartbeatTimeout)
		checkRetry(add, path+".retry", p.Retry)
		if a := p.Approval; a != nil {
			checkGate(add, path+".approval.gate", path, a.Gate, gates)
			if a.Timeout < 0 {
				add(path+".approval.timeout", "must not be negative")
			}
			checkRequireLag(add, path+".approval.requireLag", a.RequireLag, s.Phases[:i])
		}
		if sp, ok := p.Driver.(StepPlanner); ok {
			for j, st := range sp.PlanSteps() {
				if st.Gate != "" {
					stepPath := fmt.Sprintf("%s.%s.steps[%d]", path, p.DriverKey(), j)
					checkGate(add, stepPath+".gate", stepPath, st.Gate, gates)
				}
			}
		}
	}
}

func checkGate(add addFunc, path, owner, gate string, gates map[string]string) {
	switch {
	case gate == "":
		add(path, "is required: the gate's name, used in `godwit approve <migration> --gate <name>`")
	case !gatePattern.MatchString(gate):
		add(path, "%q is not a valid gate name: use letters, digits, '.', '_' or '-'", gate)
	case gates[gate] != "":
		add(path, "%q is already the gate of %s: gate names must be unique", gate, gates[gate])
	default:
		gates[gate] = owner
	}
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// Check reports the hook's missing commands and impossible values.
func (h *Hook) Check(c *CheckContext) {
	add := func(path, format string, args ...any) {
		c.errs = append(c.errs, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	timeout := c.Phase.Timeout
	dsnVars := storeDSNVars(c.Spec)
	check := func(path string, cmd *Command) {
		checkCommand(add, path, cmd, timeout)
		checkCredentials(add, path, c.Phase.Name, cmd, dsnVars)
		checkShellRefs(add, path, cmd)
	}
	switch {
	case h.Run == nil && len(h.Steps) == 0:
		add(c.Path+".run", "is required: the command the phase runs (or steps: a list of commands, waits and gates)")
	case h.Run != nil && len(h.Steps) > 0:
		add(c.Path+".steps", "cannot be given with run: use run for one command, steps for several")
	case h.Run != nil:
		check(c.Path+".run", h.Run)
	}
	for i, st := range h.Steps {
		path := fmt.Sprintf("%s.steps[%d]", c.Path, i)
		n := 0
		if st.Run != nil {
			n++
			check(path+".run", st.Run)
		}
		if st.Wait != 0 {
			n++
			if st.Wait < 0 {
				add(path+".wait", "must be positive, e.g. 10m")
			}
		}
		if st.Gate != "" {
			n++
		}
		if n != 1 {
			add(path, "needs exactly one of run (a command), wait (a duration) and gate (an approval), not %d", n)
		}
	}
	if h.Resumable && len(h.Steps) > 0 {
		add(c.Path+".resumable", "applies to run, not steps: pause already holds between steps")
	}
	if h.Compensate != nil {
		check(c.Path+".compensate", h.Compensate)
	}
}

// ApplyDefaults gives each command without a timeout the default, cut to
// the phase's timeout.
func (h *Hook) ApplyDefaults(p *PhaseSpec) {
	cmds := []*Command{h.Run, h.Compensate}
	for _, st := range h.Steps {
		cmds = append(cmds, st.Run)
	}
	for _, c := range cmds {
		if c != nil && c.Timeout == 0 {
			c.Timeout = atMost(Duration(DefaultCommandTimeout), p.Timeout)
		}
	}
}

// HasCompensation reports whether the hook has a compensate command.
func (h *Hook) HasCompensation() bool { return h.Compensate != nil }

// Pausable reports whether pause may interrupt the run command.
func (h *Hook) Pausable() bool { return h.Resumable }

// PlanSteps returns the hook's steps; a hook with a single run command has
// none and runs as one activity, as it always did.
func (h *Hook) PlanSteps() []Step {
	if len(h.Steps) == 0 {
		return nil
	}
	out := make([]Step, len(h.Steps))
	for i, st := range h.Steps {
		name := st.Name
		switch {
		case st.Run != nil:
			if name == "" {
				name = strings.Join(st.Run.Command, " ")
				if len(name) > 60 {
					name = name[:60] + "…"
				}
			}
			out[i] = Step{Name: name, Action: true}
		case st.Gate != "":
			if name == "" {
				name = "gate " + st.Gate
			}
			out[i] = Step{Name: name, Gate: st.Gate}
		default:
			if name == "" {
				name = "wait " + st.Wait.String()
			}
			out[i] = Step{Name: name, Wait: st.Wait.D()}
		}
	}
	return out
}

type addFunc func(path, format string, args ...any)

func checkTimeouts(add addFunc, path string, timeout, heartbeat Duration) {
	if timeout < 0 {
		add(path+".timeout", "must be positive, e.g. 10m")
	}
	if heartbeat < 0 {
		add(path+".heartbeatTimeout", "must be positive, e.g. 30s")
	}
	if timeout > 0 && heartbeat > timeout {
		add(path+".heartbeatTimeout", "%s is longer than the timeout %s: a heartbeat timeout must be shorter", heartbeat, timeout)
	}
}

func checkRetry(add addFunc, path string, r *RetryPolicy) {
	if r == nil {
		return
	}
	if r.MaxAttempts < 1 {
		add(path+".maxAttempts", "must be at least 1 (1 means no retry), not %d", r.MaxAttempts)
	}
	if r.InitialInterval < 0 {
		add(path+".initialInterval", "must be positive")
	}
	if r.BackoffCoefficient < 1 {
		add(path+".backoffCoefficient", "must be at least 1, not %g", r.BackoffCoefficient)
	}
	if r.MaxInterval != 0 && r.MaxInterval < r.InitialInterval {
		add(path+".maxInterval", "%s is shorter than initialInterval %s", r.MaxInterval, r.InitialInterval)
	}
}

func checkCommand(add addFunc, path string, c *Command, phaseTimeout Duration) {
	if len(c.Command) == 0 || c.Command[0] == "" {
		add(path+".command", "is required: the program and its arguments, e.g. [\"sh\", \"-c\", \"echo hi\"]")
	}
	if c.Timeout < 0 {
		add(path+".timeout", "must be positive")
	} else if phaseTimeout > 0 && c.Timeout > phaseTimeout {
		add(path+".timeout", "%s is longer than the phase timeout %s: the phase would time out first", c.Timeout, phaseTimeout)
	}
	for _, k := range slices.Sorted(maps.Keys(c.Env)) {
		switch {
		case !envNamePattern.MatchString(k):
			add(path+".env."+k, "is not a valid environment variable name")
		case secretNamePattern.MatchString(k) && c.Env[k] != "":
			add(path+".env."+k, "looks like a secret, and env values are stored in workflow history in plain text: "+
				"move it to secrets: {%s: {fromEnv: VAR}} (or fromFile), which the worker reads itself", k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.Secrets)) {
		ref, sub := c.Secrets[k], path+".secrets."+k
		if !envNamePattern.MatchString(k) {
			add(sub, "is not a valid environment variable name")
		}
		if _, dup := c.Env[k]; dup {
			add(sub, "is also set in env: set it in one place")
		}
		switch {
		case ref.FromEnv == "" && ref.FromFile == "":
			add(sub, "needs fromEnv (a variable in the worker's environment) or fromFile (a file on the worker)")
		case ref.FromEnv != "" && ref.FromFile != "":
			add(sub, "sets both fromEnv and fromFile: choose one")
		}
	}
}

func phaseList() string {
	var b bytes.Buffer
	for i, p := range migration.AllPhases {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(p))
	}
	return b.String()
}

// Outline describes the phases one line each, in run order: what
// `godwit validate` prints and what the Temporal UI shows as the run's
// details.
func (s *Spec) Outline() []string {
	lines := make([]string, 0, len(s.Phases))
	for i, p := range s.Phases {
		attempts := fmt.Sprintf("%d attempts", p.Retry.MaxAttempts)
		if p.Retry.MaxAttempts == 1 {
			attempts = "no retry"
		}
		label := p.Name
		if p.Name != string(p.Phase) {
			label = fmt.Sprintf("%s (%s)", p.Name, p.Phase)
		}
		line := fmt.Sprintf("%d. %-14s %s, timeout %s, %s", i+1, label, p.DriverKey(), p.Timeout, attempts)
		switch {
		case p.GateAfterReadOnly():
			line += fmt.Sprintf(", gate %q after its %s", p.Approval.Gate, readOnlyNames(p))
		case p.Approval != nil:
			line += fmt.Sprintf(", gate %q before it", p.Approval.Gate)
		}
		if p.Approval != nil && p.Approval.RequireLag > 0 {
			line += fmt.Sprintf(" (opens with the replication lag under %s)", p.Approval.RequireLag)
		}
		switch b, ok := p.Driver.(Background); {
		case ok && b.InBackground() && FollowsReverse(p.Driver) && i+1 < len(s.Phases):
			line += ", then reverse replication in the background"
		case ok && b.InBackground():
			line += ", then on in the background"
		}
		if sp, ok := p.Driver.(StepPlanner); ok && len(sp.PlanSteps()) > 0 {
			line += fmt.Sprintf(", %d steps", len(sp.PlanSteps()))
		}
		if c, ok := p.Driver.(Compensator); ok && !c.HasCompensation() {
			line += ", no compensation"
		}
		if len(p.Outputs) > 0 {
			line += ", outputs " + strings.Join(p.Outputs, ", ")
		}
		if p.Phase.PointOfNoReturn() && firstDecommission(s.Phases) == i {
			line += " (point of no return)"
		}
		lines = append(lines, line)
	}
	return lines
}

// readOnlyNames names the read-only steps a phase's gate waits after.
func readOnlyNames(p PhaseSpec) string {
	steps := p.Driver.(StepPlanner).PlanSteps()
	var names []string
	for _, st := range steps[:FirstChange(steps)] {
		if st.ReadOnly {
			names = append(names, st.Name)
		}
	}
	return strings.Join(names, ", ")
}

// firstDecommission returns the index of the first decommission phase, or
// -1: starting it is the point of no return for the whole migration.
func firstDecommission(phases []PhaseSpec) int {
	for i, p := range phases {
		if p.Phase.PointOfNoReturn() {
			return i
		}
	}
	return -1
}

// checkRequireLag: a lag condition needs a replication to measure, before
// the gate's phase.
func checkRequireLag(add addFunc, path string, d Duration, earlier []PhaseSpec) {
	switch {
	case d < 0:
		add(path, "must not be negative (0: no lag condition)")
	case d > 0 && LagSource(earlier, len(earlier)) < 0:
		add(path, "needs an earlier replicate phase in mode catchUp, whose lag the gate measures: add one before this phase, or remove requireLag")
	}
}
