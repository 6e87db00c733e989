package plan

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/godwit/godwit/compat"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
)

// Plan is a migration plan: the phases in order with their estimated
// duration, risk and rollback step, the overall risk and why, and the
// anti-patterns found. It is what `godwit plan` writes as JSON.
type Plan struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Source is "spec" or "description".
	Source  string  `json:"source"`
	Type    string  `json:"migration_type,omitempty"`
	Pattern string  `json:"pattern,omitempty"`
	Phases  []Phase `json:"phases"`
	// EstimatedTotalMinutes sums the phases' estimates.
	EstimatedTotalMinutes float64      `json:"estimated_total_minutes"`
	EstimatedTotal        string       `json:"estimated_total"`
	OverallRisk           string       `json:"overall_risk"`
	RiskScore             int          `json:"risk_score"`
	RiskFactors           []RiskFactor `json:"risk_factors"`
	Warnings              []string     `json:"warnings"`
	// Dependencies are the teams and systems to notify.
	Dependencies     []string          `json:"dependencies,omitempty"`
	Window           *Window           `json:"migration_window,omitempty"`
	RollbackTriggers []RollbackTrigger `json:"rollback_triggers,omitempty"`
	AlertThresholds  map[string]any    `json:"alert_thresholds,omitempty"`
	// PointOfNoReturn names the phase after which rollback is impossible.
	PointOfNoReturn string `json:"point_of_no_return,omitempty"`
	// Notifications counts the webhooks the spec tells of the run;
	// WindowEnforced says the spec holds disruptive phases for a window.
	Notifications  int  `json:"notifications,omitempty"`
	WindowEnforced bool `json:"window_enforced,omitempty"`
	// compat are the check-compat reports the plan was given: only they
	// show that no breaking change is left unacknowledged, and the
	// runbook carries their rollback SQL.
	compat []*compat.Report
	// antiPatterns are the warnings that break the plan's policy (plan
	// --validate fails on them); the others in Warnings are about the
	// input (an unknown descriptive field, volumes that disagree) and only
	// print.
	antiPatterns []string
}

// antiPattern records a warning that breaks the plan's policy.
func (p *Plan) antiPattern(msg string) {
	p.Warnings = append(p.Warnings, msg)
	p.antiPatterns = append(p.antiPatterns, msg)
}

// Phase is one step of the plan.
type Phase struct {
	Order int    `json:"order"`
	Name  string `json:"name"`
	// Kind is the Godwit phase it runs as (validate ... decommission).
	Kind        migration.Phase `json:"kind"`
	Description string          `json:"description,omitempty"`
	// KindNote says why Kind is not the one the phase's words suggest
	// (see orderedKind).
	KindNote         string  `json:"kind_note,omitempty"`
	EstimatedMinutes float64 `json:"estimated_minutes"`
	// EstimateBasis says where the estimate comes from.
	EstimateBasis   string   `json:"estimate_basis"`
	Risk            string   `json:"risk"`
	SuccessCriteria []string `json:"success_criteria"`
	RollbackStep    string   `json:"rollback_step"`
	Reversible      bool     `json:"reversible"`
	Gate            string   `json:"gate,omitempty"`
	// GateAfterPlan: the gate waits after the phase's read-only first
	// steps (a Terraform plan), showing what the phase will change.
	GateAfterPlan   bool `json:"gate_after_plan,omitempty"`
	PointOfNoReturn bool `json:"point_of_no_return,omitempty"`
	// Steps is how many steps a phase of steps runs (0: one action), and
	// StepGates how many of them wait for an approval.
	Steps     int `json:"steps,omitempty"`
	StepGates int `json:"step_gates,omitempty"`
}

// staged reports whether a traffic shift moves in more than one step or
// waits for a person first: the opposite of a big-bang cut-over.
func (ph Phase) staged() bool {
	return ph.Gate != "" || ph.StepGates > 0 || ph.Steps > 1
}

// RiskFactor is one documented reason the plan is risky, and its weight.
type RiskFactor struct {
	Factor string `json:"factor"`
	Points int    `json:"points"`
	Detail string `json:"detail"`
}

// The risk factors, each with its weight. The score is their sum: 0-1 is
// LOW, 2-4 MEDIUM, 5 and more HIGH.
const (
	FactorLargeVolume        = "large_volume"                 // 2 above 100 GB, 3 above 1 TB
	FactorBreakingChanges    = "breaking_changes"             // 3: breaking schema or API findings
	FactorNoCanary           = "no_canary_or_shadow"          // 2: traffic moves in one step
	FactorIrreversible       = "irreversible_steps"           // 1 per phase that cannot be undone
	FactorNoReconcile        = "no_reconcile"                 // 2: data is copied but never compared
	FactorNoDecommissionGate = "no_gate_before_decommission"  // 2
	FactorWindowTooShort     = "window_shorter_than_estimate" // 2
)

// Options tune a plan.
type Options struct {
	// CopyRateMBPerSecond is the copy rate estimates use; 0 means 22 MB/s
	// (about what one AWS DMS task sustains, 1 TB in 12-13 hours).
	CopyRateMBPerSecond float64
	// Compat is a compatibility report (schema or API) whose breaking
	// findings count as a risk factor.
	Compat []*compat.Report
	// Volumes gives a plan made from a spec the data volumes of a
	// description, so its copy and reconcile are estimated.
	Volumes *Description
	// Measured, when set, is a volume and a rate read from the live
	// source store (godwit plan --measure); it wins over the others.
	Measured *Measurement
	// Mapping, when set, is a mapping proposed from a before and an after
	// schema (godwit init --before --after): the spec gets it under
	// mappings: and its provision, copy and reconcile take mapping:.
	Mapping *compat.Proposal
}

// Measurement is what sampling a live source store found.
type Measurement struct {
	VolumeMB float64 `json:"volume_mb"`
	// RateMBPerSecond is the sampled read rate, an upper bound on the copy
	// rate (the target is never written while planning).
	RateMBPerSecond float64 `json:"rate_mb_per_second"`
	// Basis says how, in words.
	Basis string `json:"basis"`
	// Rows is the source's row count (the engine's estimate), so a copy
	// the spec throttles (rowsPerSecond) is estimated at its limit.
	Rows int64 `json:"rows,omitempty"`
}

// rowLimited is a driver section whose copy rate the spec caps in rows
// per second (the copy driver's rowsPerSecond; 0: no limit).
type rowLimited interface {
	RowsPerSecondLimit() int
}

// throttledEstimate is the minutes a copy takes at the spec's row limit,
// when that is slower than est; ok is false when the spec sets no limit,
// the row count is not known or the limit is not the bound.
func throttledEstimate(ps config.PhaseSpec, m *Measurement, est float64) (float64, string, bool) {
	rl, isLimited := ps.Driver.(rowLimited)
	if ps.Phase != migration.PhaseCopy || !isLimited || m == nil || m.Rows <= 0 || rl.RowsPerSecondLimit() <= 0 {
		return 0, "", false
	}
	limit := rl.RowsPerSecondLimit()
	minutes := round1(float64(m.Rows) / float64(limit) / 60)
	if minutes <= est {
		return 0, "", false
	}
	return minutes, fmt.Sprintf("%d rows at the spec's rowsPerSecond: %d (the copy's limit; the measured rate alone gives %.1f min)", m.Rows, limit, est), true
}

// DefaultCopyRateMBPerSecond is the copy rate used when none is given.
const DefaultCopyRateMBPerSecond = 22.0

// reconcileSpeedup is how much faster a reconcile goes than a copy:
// checksums of segments are compared, rows are not moved.
const reconcileSpeedup = 5.0

// FromSpec plans a Godwit spec. Only the spec's phase names, kinds,
// timeouts, gates, steps and compensations are read, so the plan keeps
// working as the spec gains fields. A kind may repeat (a reconcile after
// the copy and another after the traffic moved): each phase is planned on
// its own, under its name.
func FromSpec(spec *config.Spec, opts Options) *Plan {
	p := &Plan{Name: spec.Name, Description: spec.Description, Source: "spec"}
	vol := volumeMB(opts.Volumes)
	rate := copyRate(opts)
	if m := opts.Measured; m != nil && m.VolumeMB > 0 && m.RateMBPerSecond > 0 {
		vol, rate = m.VolumeMB, m.RateMBPerSecond
	}
	for i, ps := range spec.Phases {
		ph := Phase{
			Order: i + 1, Name: ps.Name, Kind: ps.Phase,
			EstimatedMinutes: ps.Timeout.D().Minutes(),
			EstimateBasis:    fmt.Sprintf("upper bound: the phase timeout (%s)", ps.Timeout),
		}
		if est, basis, ok := volumeEstimate(ps.Phase, vol, rate); ok {
			ph.EstimatedMinutes, ph.EstimateBasis = est, basis
			if t, tb, ok := throttledEstimate(ps, opts.Measured, est); ok {
				ph.EstimatedMinutes, ph.EstimateBasis = t, tb
			}
			if opts.Measured != nil && opts.Measured.Basis != "" {
				ph.EstimateBasis += "; " + opts.Measured.Basis
			}
		} else if est, basis, ok := stepsEstimate(ps); ok {
			ph.EstimatedMinutes, ph.EstimateBasis = est, basis
		}
		if ps.Approval != nil {
			ph.Gate, ph.GateAfterPlan = ps.Approval.Gate, ps.GateAfterReadOnly()
		}
		ph.Steps, ph.StepGates = stepCounts(ps)
		hasCompensation := true
		if c, ok := ps.Driver.(config.Compensator); ok {
			hasCompensation = c.HasCompensation()
		}
		ph.Reversible = hasCompensation || nothingToUndo(ps.Phase)
		switch {
		case ps.Phase.PointOfNoReturn() && i > firstDecommission(spec.Phases):
			ph.Reversible = false
			ph.RollbackStep = "none: an earlier decommission was the point of no return"
		case ps.Phase.PointOfNoReturn():
			ph.Reversible = false
			ph.RollbackStep = "none: this is the point of no return; once it starts, rollback is refused. Recovering means restoring the legacy side from backups."
		case hasCompensation && ps.Hook() != nil:
			ph.RollbackStep = "runs the compensation: " + strings.Join(ps.Hook().Compensate.Command, " ")
		case hasCompensation:
			ph.RollbackStep = "runs the " + ps.DriverKey() + " driver's compensation"
		case nothingToUndo(ps.Phase):
			ph.RollbackStep = "nothing to undo: the phase changes nothing"
		default:
			ph.RollbackStep = "no compensation: a rollback leaves this phase's effects in place"
		}
		ph.SuccessCriteria = successCriteria(ps.Phase, opts.Volumes)
		if ct, ok := ps.Driver.(criteriaTeller); ok {
			if c := ct.SuccessCriteria(); len(c) > 0 { // none: the kind's own
				ph.SuccessCriteria = c
			}
		}
		p.Phases = append(p.Phases, ph)
	}
	if opts.Volumes != nil {
		p.Dependencies = opts.Volumes.Constraints.Dependencies
		p.Window = opts.Volumes.BusinessContinuity.PreferredMigrationWindow
		p.RollbackTriggers = opts.Volumes.RollbackTriggers
		p.AlertThresholds = opts.Volumes.Monitoring.AlertThresholds
		p.Warnings = append(p.Warnings, opts.Volumes.Warnings...)
	}
	p.Notifications = len(spec.Notifications)
	p.WindowEnforced = spec.Window != nil
	p.finish(opts, vol)
	return p
}

// FromDescription plans a migration description: the phases it lists, or
// the standard ones for its type, with estimates from its volumes and
// rollout schedule.
func FromDescription(d *Description, opts Options) *Plan {
	p := &Plan{
		Name: d.name(), Description: d.Description, Source: "description",
		Type: d.Type, Pattern: d.Pattern,
		Dependencies: d.Constraints.Dependencies, Window: d.BusinessContinuity.PreferredMigrationWindow,
		RollbackTriggers: d.RollbackTriggers, AlertThresholds: d.Monitoring.AlertThresholds,
	}
	if opts.CopyRateMBPerSecond == 0 {
		if v, ok := d.PerformanceRequirements["copy_rate_mb_per_s"].(float64); ok && v > 0 {
			opts.CopyRateMBPerSecond = v
		}
	}
	vol := volumeMB(d)
	rate := copyRate(opts)
	if len(d.MigrationPhases) > 0 {
		var changed, retired bool
		for i, dp := range d.MigrationPhases {
			kind, note := orderedKind(kindOf(dp.Phase+" "+dp.Description), changed, retired)
			changed = changed || kind != migration.PhaseValidate
			retired = retired || kind == migration.PhaseDecommission
			ph := Phase{
				Order: i + 1, Name: dp.Phase, Kind: kind, KindNote: note, Description: dp.Description,
				EstimatedMinutes: dp.EstimatedDurationHours * 60,
				EstimateBasis:    "estimated_duration_hours of the description",
			}
			if dp.EstimatedDurationHours == 0 {
				ph.EstimatedMinutes, ph.EstimateBasis = defaultMinutes[kind], "Godwit's default for the phase"
				if est, basis, ok := volumeEstimate(kind, vol, rate); ok {
					ph.EstimatedMinutes, ph.EstimateBasis = est, basis
				}
				if h := rolloutHours(d); h > 0 && kind == migration.PhaseShiftTraffic {
					ph.EstimatedMinutes, ph.EstimateBasis = h*60, "sum of the feature flags' rollout_schedule holds"
				}
			}
			p.Phases = append(p.Phases, describedPhase(ph, d))
		}
	} else {
		for i, kind := range standardPhases(d) {
			ph := Phase{Order: i + 1, Name: string(kind), Kind: kind, EstimatedMinutes: defaultMinutes[kind], EstimateBasis: "Godwit's default for the phase"}
			if est, basis, ok := volumeEstimate(kind, vol, rate); ok {
				ph.EstimatedMinutes, ph.EstimateBasis = est, basis
			}
			if kind == migration.PhaseShiftTraffic {
				if h := rolloutHours(d); h > 0 {
					ph.EstimatedMinutes, ph.EstimateBasis = h*60, "sum of the feature flags' rollout_schedule holds"
				}
			}
			p.Phases = append(p.Phases, describedPhase(ph, d))
		}
	}
	p.uniqueGates()
	p.Warnings = append(p.Warnings, d.Warnings...)
	p.finish(opts, vol)
	p.addDescriptionRisks(d)
	return p
}

// SpecNames gives each phase the name it has in a Godwit spec: its kind
// when no other phase has that kind (the spec's default), else its
// described name made a valid phase name, else kind-N; all distinct.
func SpecNames(phases []Phase) []string {
	count := map[migration.Phase]int{}
	for _, ph := range phases {
		count[ph.Kind]++
	}
	names := make([]string, len(phases))
	used := map[string]bool{}
	for i, ph := range phases {
		if count[ph.Kind] == 1 {
			names[i] = string(ph.Kind)
			used[names[i]] = true
		}
	}
	for i, ph := range phases {
		if names[i] != "" {
			continue
		}
		n := slug(ph.Name)
		if n == "" || used[n] {
			n = string(ph.Kind)
		}
		for k := 2; used[n]; k++ {
			n = fmt.Sprintf("%s-%d", ph.Kind, k)
		}
		names[i], used[n] = n, true
	}
	return names
}

// uniqueGates gives the gates of repeated kinds distinct names: the first
// keeps the kind's gate, the others add their phase's spec name.
func (p *Plan) uniqueGates() {
	names := SpecNames(p.Phases)
	seen := map[string]bool{}
	for i := range p.Phases {
		g := p.Phases[i].Gate
		if g == "" {
			continue
		}
		if seen[g] {
			g = shorten(g + "-" + names[i])
			p.Phases[i].Gate = g
		}
		seen[g] = true
	}
}

// describedPhase fills what a description-made phase gets by its kind:
// gates where Godwit's init puts them, rollback step, success criteria.
func describedPhase(ph Phase, d *Description) Phase {
	ph.Gate = defaultGates[ph.Kind]
	ph.Reversible = !ph.Kind.PointOfNoReturn()
	ph.RollbackStep = defaultRollback[ph.Kind]
	ph.SuccessCriteria = successCriteria(ph.Kind, d)
	return ph
}

var defaultMinutes = map[migration.Phase]float64{
	migration.PhaseValidate: 10, migration.PhaseProvision: 30, migration.PhaseCopy: 60,
	migration.PhaseShiftTraffic: 30, migration.PhaseReconcile: 30, migration.PhaseDecommission: 30,
}

var defaultGates = map[migration.Phase]string{
	migration.PhaseShiftTraffic: "go-live", migration.PhaseDecommission: "decommission",
}

var defaultRollback = map[migration.Phase]string{
	migration.PhaseValidate:     "nothing to undo: the phase changes nothing",
	migration.PhaseProvision:    "tear down what was provisioned (the new environment, the target schema)",
	migration.PhaseCopy:         "empty the target tables",
	migration.PhaseShiftTraffic: "route all traffic back to the legacy side",
	migration.PhaseReconcile:    "nothing to undo: the phase changes nothing",
	migration.PhaseDecommission: "none: this is the point of no return; recovering means restoring the legacy side from backups",
}

// standardPhases are the phases a description's type needs.
func standardPhases(d *Description) []migration.Phase {
	switch d.Type {
	case "service":
		return []migration.Phase{migration.PhaseValidate, migration.PhaseProvision, migration.PhaseShiftTraffic, migration.PhaseReconcile, migration.PhaseDecommission}
	case "infrastructure":
		return []migration.Phase{migration.PhaseValidate, migration.PhaseProvision, migration.PhaseShiftTraffic, migration.PhaseDecommission}
	}
	return migration.AllPhases
}

// orderedKind keeps a described phase where the description puts it: a
// Godwit spec runs validate phases before anything changes and nothing but
// decommission after the first decommission, so a check described after a
// change (validation of the new service once traffic moved) runs as a
// reconcile, which may come anywhere and changes nothing either, and a
// phase described after a decommission is past the point of no return, so
// it runs as one. note says so when the kind was moved.
func orderedKind(kind migration.Phase, changed, retired bool) (migration.Phase, string) {
	switch {
	case retired && kind != migration.PhaseDecommission:
		return migration.PhaseDecommission, fmt.Sprintf("runs as decommission, not %s: it comes after the point of no return", kind)
	case changed && kind == migration.PhaseValidate:
		return migration.PhaseReconcile, "runs as reconcile, not validate: it checks after phases that change things, and validate phases run before them"
	}
	return kind, ""
}

// kindOf maps a described phase to the Godwit phase it runs as, by words.
func kindOf(text string) migration.Phase {
	t := strings.ToLower(text)
	for _, k := range []struct {
		words []string
		kind  migration.Phase
	}{
		{[]string{"decommission", "retire", "sunset", "cleanup", "clean up"}, migration.PhaseDecommission},
		{[]string{"reconcil", "verify", "compare", "validation of data"}, migration.PhaseReconcile},
		{[]string{"traffic", "rollout", "canary", "cutover", "cut-over", "shift", "switch", "strangler", "route"}, migration.PhaseShiftTraffic},
		{[]string{"copy", "backfill", "data migration", "replicat", "sync"}, migration.PhaseCopy},
		{[]string{"provision", "setup", "set up", "deploy", "infrastructure", "prepar"}, migration.PhaseProvision},
	} {
		for _, w := range k.words {
			if strings.Contains(t, w) {
				return k.kind
			}
		}
	}
	return migration.PhaseValidate
}

// volumeMB is the data a description moves: its tables' sizes, or its
// data_volume_gb when no table has a size (a conflict between the two is
// one of the description's warnings).
func volumeMB(d *Description) float64 {
	if d == nil {
		return 0
	}
	var mb float64
	for _, t := range d.TablesToMigrate {
		mb += t.SizeMB
	}
	if mb == 0 {
		mb = d.Constraints.DataVolumeGB * 1024
	}
	return mb
}

func copyRate(opts Options) float64 {
	if opts.CopyRateMBPerSecond > 0 {
		return opts.CopyRateMBPerSecond
	}
	return DefaultCopyRateMBPerSecond
}

// volumeEstimate estimates a copy or reconcile from the volume and rate.
func volumeEstimate(kind migration.Phase, mb, rate float64) (float64, string, bool) {
	if mb <= 0 {
		return 0, "", false
	}
	switch kind {
	case migration.PhaseCopy:
		return round1(mb / rate / 60), fmt.Sprintf("%.0f MB at %.1f MB/s", mb, rate), true
	case migration.PhaseReconcile:
		return round1(mb / (rate * reconcileSpeedup) / 60), fmt.Sprintf("%.0f MB compared at %.1f MB/s (%.0f× the copy rate)", mb, rate*reconcileSpeedup, reconcileSpeedup), true
	}
	return 0, "", false
}

func rolloutHours(d *Description) float64 {
	var longest float64
	for _, f := range d.FeatureFlags {
		var h float64
		for _, s := range f.RolloutSchedule {
			h += s.DurationHours
		}
		longest = math.Max(longest, h)
	}
	return longest
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }

// criteriaTeller is a phase driver that says what its phase's success
// is: the phase's kind alone gave a change capture's setup (a provision)
// "the target exists and answers its health check", a replication's
// catch-up (a copy) row counts.
type criteriaTeller interface{ SuccessCriteria() []string }

// successCriteria is what a phase of kind succeeds by when its driver
// does not say (a hook's phase, one made from a description).
func successCriteria(kind migration.Phase, d *Description) []string {
	switch kind {
	case migration.PhaseValidate:
		return []string{"every preflight check passes", "godwit check-compat reports no unacknowledged breaking change"}
	case migration.PhaseProvision:
		return []string{"the target exists and answers its health check"}
	case migration.PhaseCopy:
		c := []string{"every table is copied: target row counts equal source row counts"}
		if d != nil {
			for _, t := range d.TablesToMigrate {
				if t.RowCount > 0 {
					c = append(c, fmt.Sprintf("%s: %d rows", t.Name, t.RowCount))
				}
			}
		}
		return c
	case migration.PhaseShiftTraffic:
		c := []string{"each traffic step holds without crossing an alert threshold"}
		if d != nil {
			for _, k := range slices.Sorted(maps.Keys(d.Monitoring.AlertThresholds)) {
				c = append(c, fmt.Sprintf("%s within %v", k, d.Monitoring.AlertThresholds[k]))
			}
		}
		return c
	case migration.PhaseReconcile:
		return []string{"no row missing, extra or different between source and target"}
	case migration.PhaseDecommission:
		return []string{"the legacy side receives no traffic before it is retired", "backups of the legacy side exist and restore"}
	}
	return nil
}

// stepsEstimate estimates a phase of steps by its durable waits (the holds
// of a traffic rollout): the actions between them are short next to them.
func stepsEstimate(ps config.PhaseSpec) (float64, string, bool) {
	sp, ok := ps.Driver.(config.StepPlanner)
	if !ok {
		return 0, "", false
	}
	steps := sp.PlanSteps()
	var wait time.Duration
	for _, st := range steps {
		wait += st.Wait
	}
	if wait <= 0 {
		return 0, "", false
	}
	return round1(wait.Minutes()), fmt.Sprintf("the holds of its %d steps (%s), plus the time gates wait for approval", len(steps), shortDuration(wait)), true
}

// stepCounts counts a phase's steps and the gates among them.
func stepCounts(ps config.PhaseSpec) (steps, gates int) {
	sp, ok := ps.Driver.(config.StepPlanner)
	if !ok {
		return 0, 0
	}
	for _, st := range sp.PlanSteps() {
		steps++
		if st.Gate != "" {
			gates++
		}
	}
	return steps, gates
}

func nothingToUndo(p migration.Phase) bool {
	return p == migration.PhaseValidate || p == migration.PhaseReconcile
}

// finish totals the estimates, scores the risk from the phases, and finds
// the anti-patterns.
func (p *Plan) finish(opts Options, volMB float64) {
	for _, r := range opts.Compat {
		if r != nil {
			p.compat = append(p.compat, r)
		}
	}
	var hasCopy, hasReconcile bool
	// bigBang names the traffic shifts that move everything at once.
	var bigBang []string
	for i := range p.Phases {
		ph := &p.Phases[i]
		p.EstimatedTotalMinutes += ph.EstimatedMinutes
		switch ph.Kind {
		case migration.PhaseCopy:
			hasCopy = true
		case migration.PhaseReconcile:
			hasReconcile = true
		case migration.PhaseShiftTraffic:
			if !ph.staged() {
				bigBang = append(bigBang, ph.Name)
			}
		case migration.PhaseDecommission:
			ph.PointOfNoReturn = true
			if p.PointOfNoReturn == "" {
				p.PointOfNoReturn = ph.Name
			}
			if ph.Gate == "" {
				p.addRisk(FactorNoDecommissionGate, 2, "decommission starts without an approval gate: nobody confirms the bake time is over")
				p.antiPattern("decommission without bake time: add an approval gate before decommission, opened after the new side has run on its own long enough")
			}
			// Nothing may run between shifting traffic and retiring the
			// legacy side: there is no window to roll back in.
			if i > 0 && p.Phases[i-1].Kind == migration.PhaseShiftTraffic && ph.Gate == "" {
				p.antiPattern("no rollback window: decommission follows the traffic shift at once; put a reconcile or a gate between them")
			}
		}
		ph.Risk = phaseRisk(ph.Kind, ph.Reversible)
	}
	p.EstimatedTotalMinutes = round1(p.EstimatedTotalMinutes)
	p.EstimatedTotal = shortDuration(time.Duration(p.EstimatedTotalMinutes * float64(time.Minute)).Round(time.Minute))
	switch {
	case volMB > 1024*1024:
		p.addRisk(FactorLargeVolume, 3, fmt.Sprintf("%.0f GB to move (over 1 TB)", volMB/1024))
	case volMB > 100*1024:
		p.addRisk(FactorLargeVolume, 2, fmt.Sprintf("%.0f GB to move (over 100 GB)", volMB/1024))
	}
	for _, r := range opts.Compat {
		if r != nil && r.Breaking() {
			p.addRisk(FactorBreakingChanges, 3, fmt.Sprintf("%s comparison: %d breaking change(s)", r.Kind, r.Summary.Breaking))
		}
	}
	if len(bigBang) > 0 && p.Source == "spec" {
		p.addRisk(FactorNoCanary, 2, fmt.Sprintf("traffic moves in one step with no gate or canary before it (%s)", strings.Join(bigBang, ", ")))
		p.antiPattern(fmt.Sprintf("big-bang cut-over: %s moves traffic at once; add an approval gate or move it in steps", strings.Join(bigBang, ", ")))
	}
	if hasCopy && !hasReconcile {
		p.addRisk(FactorNoReconcile, 2, "data is copied but never compared with the source")
	}
	for _, ph := range p.Phases {
		if !ph.Reversible {
			p.addRisk(FactorIrreversible, 1, fmt.Sprintf("phase %s cannot be undone", ph.Name))
		}
	}
	if p.Window != nil {
		if w := p.Window.minutes(); w > 0 && p.EstimatedTotalMinutes > w {
			p.addRisk(FactorWindowTooShort, 2, fmt.Sprintf("the plan needs about %s but the window %s-%s is %s", p.EstimatedTotal, p.Window.Start, p.Window.End, time.Duration(w*float64(time.Minute))))
		}
	}
	p.score()
	if p.Warnings == nil {
		p.Warnings = []string{}
	}
	if p.RiskFactors == nil {
		p.RiskFactors = []RiskFactor{}
	}
}

func phaseRisk(kind migration.Phase, reversible bool) string {
	switch {
	case kind == migration.PhaseDecommission || !reversible:
		return "HIGH"
	case kind == migration.PhaseShiftTraffic || kind == migration.PhaseCopy:
		return "MEDIUM"
	}
	return "LOW"
}

func (p *Plan) addRisk(factor string, points int, detail string) {
	p.RiskFactors = append(p.RiskFactors, RiskFactor{Factor: factor, Points: points, Detail: detail})
}

func (p *Plan) score() {
	p.RiskScore = 0
	for _, f := range p.RiskFactors {
		p.RiskScore += f.Points
	}
	switch {
	case p.RiskScore >= 5:
		p.OverallRisk = "HIGH"
	case p.RiskScore >= 2:
		p.OverallRisk = "MEDIUM"
	default:
		p.OverallRisk = "LOW"
	}
}

// addDescriptionRisks scores what only a description tells: breaking
// schema changes it plans, endpoints that disappear, traffic without a
// staged rollout.
func (p *Plan) addDescriptionRisks(d *Description) {
	// check-compat's own rules decide, so a widening (varchar(255) to
	// text) is no more breaking here than in its report.
	var breaking []string
	for _, sc := range d.SchemaChanges {
		for _, c := range sc.Changes {
			if compat.PlannedChangeSeverity(c) == compat.Breaking {
				typ, _ := c["type"].(string)
				breaking = append(breaking, sc.Table+": "+typ+plannedTarget(c))
			}
		}
	}
	if len(breaking) > 0 {
		p.addRisk(FactorBreakingChanges, 3, "planned schema changes that break old code: "+strings.Join(breaking, ", "))
	}
	if missing := MissingEndpoints(d); len(missing) > 0 {
		p.addRisk(FactorBreakingChanges, 3, "endpoints of the legacy service missing on the new one: "+strings.Join(missing, ", "))
		p.antiPattern("the new service lacks legacy endpoints: " + strings.Join(missing, ", "))
	}
	if d.Type != "database" && rolloutHours(d) == 0 {
		p.addRisk(FactorNoCanary, 2, "no feature flag with a rollout schedule: traffic moves in one step")
		p.antiPattern("big-bang cut-over: give a feature flag a rollout_schedule (e.g. 5%, 25%, 50%, 100% with holds)")
	}
	p.score()
}

// plannedTarget names what a planned change touches, for the risk detail.
func plannedTarget(c SchemaChange) string {
	for _, k := range []string{"column", "constraint_name"} {
		if v, ok := c[k].(string); ok && v != "" {
			return " " + v
		}
	}
	return ""
}

// MissingEndpoints lists the legacy service's endpoints that the new
// service does not have.
func MissingEndpoints(d *Description) []string {
	if d.ServiceDetails == nil {
		return nil
	}
	have := map[string]bool{}
	for _, e := range d.ServiceDetails.NewService.Endpoints {
		have[normalizeEndpoint(e)] = true
	}
	var missing []string
	for _, e := range d.ServiceDetails.LegacyService.Endpoints {
		if !have[normalizeEndpoint(e)] {
			missing = append(missing, e)
		}
	}
	return missing
}

func normalizeEndpoint(e string) string {
	return strings.ToUpper(strings.Join(strings.Fields(e), " "))
}

// minutes is the window's length; an end before the start crosses midnight.
func (w *Window) minutes() float64 {
	s, err1 := time.Parse("15:04", w.Start)
	e, err2 := time.Parse("15:04", w.End)
	if err1 != nil || err2 != nil {
		return 0
	}
	d := e.Sub(s)
	if d <= 0 {
		d += 24 * time.Hour
	}
	return d.Minutes()
}

// firstDecommission returns the index of the spec's first decommission
// phase, or -1.
func firstDecommission(phases []config.PhaseSpec) int {
	for i, p := range phases {
		if p.Phase.PointOfNoReturn() {
			return i
		}
	}
	return -1
}
