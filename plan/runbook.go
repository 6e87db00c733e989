package plan

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/godwit/godwit/compat"
	"github.com/godwit/godwit/migration"
)

// Problems lists what makes a plan break its policy, for `godwit plan
// --validate`: a risk above maxRisk, breaking findings not accepted, and
// every anti-pattern. Warnings about the input (an unknown descriptive
// field, volumes that disagree) print but are not problems. None means
// the plan passes.
func (p *Plan) Problems(maxRisk string, acceptBreaking bool) []string {
	var out []string
	if riskRank(p.OverallRisk) > riskRank(maxRisk) {
		out = append(out, fmt.Sprintf("overall risk %s (score %d) is above the maximum %s: %s", p.OverallRisk, p.RiskScore, strings.ToUpper(maxRisk), p.factorList()))
	}
	if !acceptBreaking {
		for _, f := range p.RiskFactors {
			if f.Factor == FactorBreakingChanges {
				out = append(out, "unacknowledged breaking changes: "+f.Detail+" (fix them, or pass --accept-breaking once the expand–contract steps are planned)")
			}
		}
	}
	for _, w := range p.antiPatterns {
		out = append(out, "anti-pattern: "+w)
	}
	return out
}

func (p *Plan) factorList() string {
	var parts []string
	for _, f := range p.RiskFactors {
		parts = append(parts, fmt.Sprintf("%s +%d", f.Factor, f.Points))
	}
	return strings.Join(parts, ", ")
}

// RiskRank orders LOW < MEDIUM < HIGH; ValidRisk says whether s is one.
func riskRank(s string) int {
	switch strings.ToUpper(s) {
	case "LOW":
		return 0
	case "MEDIUM":
		return 1
	case "HIGH":
		return 2
	}
	return 3
}

// ValidRisk reports whether s names a risk level.
func ValidRisk(s string) bool { return riskRank(s) < 3 }

// Table writes the plan as a terminal table.
func (p *Plan) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "migration %s: %d phases, about %s, risk %s (score %d)\n", p.Name, len(p.Phases), p.EstimatedTotal, p.OverallRisk, p.RiskScore)
	fmt.Fprintf(&b, "%-3s %-16s %-14s %10s  %-6s %-10s %s\n", "#", "PHASE", "KIND", "ESTIMATE", "RISK", "REVERSIBLE", "GATE")
	for _, ph := range p.Phases {
		rev := "yes"
		if !ph.Reversible {
			rev = "NO"
		}
		fmt.Fprintf(&b, "%-3d %-16s %-14s %10s  %-6s %-10s %s\n", ph.Order, ph.Name, ph.Kind, minutes(ph.EstimatedMinutes), ph.Risk, rev, ph.Gate)
	}
	for _, f := range p.RiskFactors {
		fmt.Fprintf(&b, "risk +%d %s: %s\n", f.Points, f.Factor, f.Detail)
	}
	for _, w := range p.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	return b.String()
}

func minutes(m float64) string {
	switch {
	case m >= 60:
		return fmt.Sprintf("%.1fh", m/60)
	case m >= 1:
		return fmt.Sprintf("%.0fm", m)
	}
	return fmt.Sprintf("%.0fs", m*60)
}

// Runbook writes the rollback runbook of the plan in Markdown: the point
// of no return, per phase what triggers a rollback, the exact commands,
// manual checks and who approves, and the checklists before, during and
// after, ticked where the plan itself shows the item is done.
func (p *Plan) Runbook() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Rollback runbook: %s\n\n", p.Name)
	if p.Description != "" {
		w("%s\n\n", strings.TrimSpace(p.Description))
	}
	w("- Phases: %d, estimated %s in total\n", len(p.Phases), p.EstimatedTotal)
	w("- Overall risk: **%s** (score %d)\n", p.OverallRisk, p.RiskScore)
	if p.PointOfNoReturn != "" {
		w("- **Point of no return: %s.** Once it starts, `godwit rollback` is refused; until then every completed phase is undone, last first.\n", p.PointOfNoReturn)
	} else {
		w("- No point of no return: a rollback is possible until the migration completes.\n")
	}
	if p.Window != nil {
		w("- Migration window: %s-%s %s\n", p.Window.Start, p.Window.End, p.Window.Timezone)
	}
	if len(p.Dependencies) > 0 {
		w("- Notify before starting and on rollback: %s\n", strings.Join(p.Dependencies, ", "))
	}
	w("\n## How to roll back\n\n")
	w("```sh\ngodwit status %s                        # where it is, and whether rollback is AVAILABLE\ngodwit rollback %s --reason \"<why>\"     # undo every completed phase, last first\ngodwit status %s --watch                # follow the rollback to ROLLED_BACK\n```\n\n", p.Name, p.Name, p.Name)
	w("A compensation that fails for good stops the rollback there: the migration waits in `ROLLBACK_BLOCKED`, naming the phase and the error. Fix the cause and `godwit rollback %s --retry`; or undo that phase by hand and `godwit rollback %s --skip PHASE`; or `godwit rollback %s --abandon` and undo the remaining phases by hand in the order of the table below, bottom up.\n\n", p.Name, p.Name, p.Name)
	w("| # | phase | rollback step | reversible |\n|---|---|---|---|\n")
	for _, ph := range p.Phases {
		rev := "yes"
		if !ph.Reversible {
			rev = "**no**"
		}
		w("| %d | %s | %s | %s |\n", ph.Order, ph.Name, ph.RollbackStep, rev)
	}
	for _, ph := range p.Phases {
		w("\n## %d. %s (%s)\n\n", ph.Order, ph.Name, ph.Kind)
		if ph.Description != "" {
			w("%s\n\n", ph.Description)
		}
		w("- Estimated: %s (%s); risk %s\n", minutes(ph.EstimatedMinutes), ph.EstimateBasis, ph.Risk)
		if ph.Gate != "" && ph.GateAfterPlan {
			w("- Approval: the phase plans first; the owner of gate `%s` approves that plan, which the gate shows, before anything changes: `godwit approve %s --gate %s`\n", ph.Gate, p.Name, ph.Gate)
		} else if ph.Gate != "" {
			w("- Approval: the owner of gate `%s` approves before it starts: `godwit approve %s --gate %s`\n", ph.Gate, p.Name, ph.Gate)
		} else {
			w("- Approval: none; it starts as soon as the phase before it completes\n")
		}
		if ph.PointOfNoReturn {
			w("- **Point of no return.** Decide to roll back before approving it; afterwards a failure ends the migration `FAILED` and nothing is undone.\n")
		}
		w("- Roll back when: %s\n", strings.Join(p.triggers(ph), "; "))
		w("- Rollback step: %s\n", ph.RollbackStep)
		w("- Success criteria (check by hand until Godwit checks them):\n")
		for _, c := range ph.SuccessCriteria {
			w("  - [ ] %s\n", c)
		}
	}
	p.schemaRollback(w)
	p.checklists(w)
	return b.String()
}

// compatNames names the reports the plan was given.
func (p *Plan) compatNames() string {
	var names []string
	for _, r := range p.compat {
		names = append(names, compatName(r))
	}
	return "checked by check-compat: " + strings.Join(names, "; ")
}

func compatName(r *compat.Report) string {
	n := r.Kind + " comparison"
	if r.Before != "" || r.After != "" {
		n += fmt.Sprintf(" %s → %s", r.Before, r.After)
	}
	return n
}

// schemaRollback writes the rollback SQL of the check-compat reports, in
// the order it must run (the reverse of the forward scripts), with the
// checks to make first and what it cannot bring back.
func (p *Plan) schemaRollback(w func(string, ...any)) {
	for _, r := range p.compat {
		if len(r.MigrationScripts) == 0 {
			continue
		}
		w("\n## Schema rollback SQL (%s)\n\n", compatName(r))
		w("Run the steps in this order (the reverse of the forward scripts), each after its precheck returns 0. Dialect: %s.\n", orDefault(string(r.Dialect), "postgres"))
		for i := len(r.MigrationScripts) - 1; i >= 0; i-- {
			s := r.MigrationScripts[i]
			w("\n### Undo %d: %s\n\n", s.Order, s.FieldPath)
			if s.DataLoss {
				w("- **Data loss:** the rollback restores the structure, not the data the change removed or that no longer fits: restore it from a backup.\n")
			}
			if q := s.RollbackPrecheckQuery; q != "" {
				w("- Precheck (rows the rollback would fail on or cut; 0 means safe): `%s`\n", q)
			}
			w("\n```sql\n%s\n```\n", strings.TrimSpace(s.RollbackSQL))
		}
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// triggers lists what should make an operator roll back during a phase.
func (p *Plan) triggers(ph Phase) []string {
	t := []string{"the phase fails after its retries (Godwit rolls back on its own)"}
	if ph.Kind == migration.PhaseShiftTraffic || ph.Kind == migration.PhaseReconcile {
		for _, rt := range p.RollbackTriggers {
			verb := "roll back"
			switch rt.Action {
			case "alert_team":
				verb = "alert the team"
			case "scale_up":
				verb = "scale up"
			}
			t = append(t, fmt.Sprintf("%s above %v for %g min (%s)", rt.Metric, rt.Threshold, rt.DurationMinutes, verb))
		}
		for _, k := range slices.Sorted(maps.Keys(p.AlertThresholds)) {
			t = append(t, fmt.Sprintf("%s crosses %v", k, p.AlertThresholds[k]))
		}
	}
	if ph.Kind == migration.PhaseReconcile {
		t = append(t, "reconcile finds missing, extra or different rows")
	}
	return t
}

// checklists writes the before, during and after lists; an item is ticked
// only when the plan shows it is true.
func (p *Plan) checklists(w func(string, ...any)) {
	has := func(k migration.Phase) bool {
		for _, ph := range p.Phases {
			if ph.Kind == k {
				return true
			}
		}
		return false
	}
	gated := func(k migration.Phase) bool {
		for _, ph := range p.Phases {
			if ph.Kind == k && ph.Gate != "" {
				return true
			}
		}
		return false
	}
	allReversible := true
	for _, ph := range p.Phases {
		if !ph.Reversible && !ph.PointOfNoReturn {
			allReversible = false
		}
	}
	box := func(ok bool) string {
		if ok {
			return "[x]"
		}
		return "[ ]"
	}
	w("\n## Checklists\n\n`[x]` items follow from the plan itself; `[ ]` items are for a person to check.\n\n### Before\n\n")
	w("- %s every phase before the point of no return has a rollback step\n", box(allReversible))
	w("- %s a validate phase runs first\n", box(has(migration.PhaseValidate)))
	if len(p.compat) == 0 {
		w("- [ ] no breaking change left unacknowledged (no check-compat report was given: run `godwit check-compat` and pass its report with --compat)\n")
	} else {
		w("- %s no breaking change left unacknowledged (%s)\n", box(!p.hasFactor(FactorBreakingChanges)), p.compatNames())
	}
	w("- %s alert thresholds are defined for the traffic shift\n", box(len(p.AlertThresholds) > 0))
	w("- [ ] the rollback has been rehearsed on a staging copy (`godwit rollback` after shift-traffic)\n")
	w("- [ ] backups of the legacy side exist and have been restored once\n")
	if len(p.Dependencies) > 0 {
		w("- [ ] notified: %s\n", strings.Join(p.Dependencies, ", "))
	}
	w("- %s the team hears of every phase, gate and rollback as it happens (notifications)\n", box(p.Notifications > 0))
	w("- %s disruptive phases wait for the migration window, out of business hours\n", box(p.WindowEnforced))
	w("\n### During\n\n")
	w("- %s a gate holds the traffic shift for a person\n", box(gated(migration.PhaseShiftTraffic)))
	w("- [ ] dashboards for the critical metrics are open\n")
	w("- [ ] `godwit status %s --watch` is running\n", p.Name)
	w("\n### After\n\n")
	w("- %s a reconcile compares the data after the copy\n", box(has(migration.PhaseReconcile)))
	w("- %s a gate holds decommission until the bake time is over\n", box(gated(migration.PhaseDecommission) || !has(migration.PhaseDecommission)))
	w("- [ ] the new side has run alone for the agreed bake time\n")
	w("- [ ] the legacy side's backups are kept for the agreed retention\n")
}

func (p *Plan) hasFactor(f string) bool {
	for _, r := range p.RiskFactors {
		if r.Factor == f {
			return true
		}
	}
	return false
}
