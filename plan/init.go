package plan

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/godwit/godwit/compat"
	"github.com/godwit/godwit/migration"
)

// InitSpec writes a Godwit spec (YAML) from a description: its phases,
// gates, timeouts from the estimates, and what the description says each
// phase needs (tables, rollout steps, thresholds, window) as environment
// for the phase's hook. What cannot be derived (the commands that do the
// work, store DSNs) is a placeholder command named TODO-..., which fails
// at once when run, with a "# TODO(godwit init)" comment above it.
//
// Each described phase becomes a phase of its own, so a kind may repeat
// (see SpecNames for their names). It writes only the command-hook driver;
// the typed drivers (copy, traffic, reconcile) will take over these fields.
func InitSpec(d *Description, opts Options) ([]byte, error) {
	p := FromDescription(d, opts)
	root := mapping()
	root.HeadComment = fmt.Sprintf("Written by `godwit init` from a %s migration description.\nFill in every TODO(godwit init), then: godwit validate -f <this file>; godwit plan -f <this file>", d.Type)
	addScalar(root, "name", p.Name)
	if d.Description != "" {
		addScalar(root, "description", d.Description)
	}
	addTopLevel(root, d, p, opts.Mapping)
	defaults := mapping()
	addScalar(defaults, "timeout", "10m")
	addNode(root, "defaults", defaults)
	// The phases keep the description's order: FromDescription gave each
	// a kind a spec accepts in that place (see orderedKind).
	phases := &yaml.Node{Kind: yaml.SequenceNode}
	// Every described phase becomes a phase of its own: a kind may repeat
	// (canary then full rollout; a reconcile after each shift), each one
	// named (SpecNames) and with its own gate.
	names := SpecNames(p.Phases)
	shifts := 0
	for i, ph := range p.Phases {
		flag := -1 // every flag's schedule, the last one winning
		if ph.Kind == migration.PhaseShiftTraffic {
			flag = pairedFlag(d, p, shifts)
			shifts++
		}
		phases.Content = append(phases.Content, specPhase(d, p, ph, names[i], flag, opts.Mapping))
	}
	addNode(root, "phases", phases)
	return encode(root)
}

// encode writes a spec's YAML, indented by two.
func encode(root *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("write spec: %w", err)
	}
	return buf.Bytes(), nil
}

// pairedFlag is the feature flag the k-th traffic shift rolls out: when
// the description has as many flags with a schedule as shift phases, the
// k-th; otherwise -1 (every flag, as one shift).
func pairedFlag(d *Description, p *Plan, k int) int {
	var scheduled []int
	for i, f := range d.FeatureFlags {
		if len(f.RolloutSchedule) > 0 {
			scheduled = append(scheduled, i)
		}
	}
	shifts := 0
	for _, ph := range p.Phases {
		if ph.Kind == migration.PhaseShiftTraffic {
			shifts++
		}
	}
	if shifts > 1 && len(scheduled) == shifts {
		return scheduled[k]
	}
	return -1
}

func specPhase(d *Description, p *Plan, ph Phase, name string, flag int, m *compat.Proposal) *yaml.Node {
	n := mapping()
	addScalar(n, "phase", string(ph.Kind))
	n.Content[0].HeadComment = fmt.Sprintf("%s: estimated %s (%s); rollback: %s", ph.Name, minutes(ph.EstimatedMinutes), ph.EstimateBasis, ph.RollbackStep)
	if ph.KindNote != "" {
		n.Content[0].HeadComment += "\n" + ph.KindNote
	}
	if name != string(ph.Kind) {
		addScalar(n, "name", name)
	}
	addScalar(n, "timeout", phaseTimeout(ph.EstimatedMinutes))
	if ph.Gate != "" {
		gate := mapping()
		addScalar(gate, "gate", ph.Gate)
		addNode(n, "approval", gate)
	}
	if key, drv := typedDriver(d, ph, flag, m); drv != nil {
		addNode(n, key, drv)
		return n
	}
	env := map[string]string{}
	var notes []string
	switch ph.Kind {
	case migration.PhaseCopy, migration.PhaseReconcile:
		var names []string
		for _, t := range d.TablesToMigrate {
			names = append(names, t.Name)
		}
		if len(names) > 0 {
			env["GODWIT_TABLES"] = strings.Join(names, ",")
		}
		notes = append(notes, "source and target DSNs go in secrets: {PGPASSWORD: {fromEnv: ...}}, never in env")
	case migration.PhaseShiftTraffic:
		for i, f := range d.FeatureFlags {
			if flag >= 0 && i != flag {
				continue
			}
			var steps []string
			for _, s := range f.RolloutSchedule {
				steps = append(steps, fmt.Sprintf("%g:%s", s.Percentage, hours(s.DurationHours)))
			}
			if len(steps) > 0 {
				env["GODWIT_ROLLOUT_STEPS"] = strings.Join(steps, ",")
				env["GODWIT_FLAG"] = f.Name
			}
		}
		var th []string
		for _, k := range slices.Sorted(maps.Keys(d.Monitoring.AlertThresholds)) {
			th = append(th, fmt.Sprintf("%s=%v", k, d.Monitoring.AlertThresholds[k]))
		}
		var auto, alert []string
		for _, t := range d.RollbackTriggers {
			s := fmt.Sprintf("%s>%v/%gm", t.Metric, t.Threshold, t.DurationMinutes)
			switch t.Action {
			case "automatic_rollback":
				auto = append(auto, s)
			case "alert_team":
				alert = append(alert, s)
			}
		}
		if len(th) > 0 {
			env["GODWIT_ALERT_THRESHOLDS"] = strings.Join(th, ",")
		}
		if len(auto) > 0 {
			// The hook exits non-zero when one holds: the phase fails and
			// Godwit rolls back.
			env["GODWIT_ROLLBACK_WHEN"] = strings.Join(auto, ",")
		}
		if len(alert) > 0 {
			env["GODWIT_ALERT_WHEN"] = strings.Join(alert, ",")
		}
		notes = append(notes, "routes and upstream addresses of the legacy and new services")
	}
	if w := d.BusinessContinuity.PreferredMigrationWindow; w != nil && ph.Kind != migration.PhaseValidate {
		env["GODWIT_WINDOW"] = strings.TrimSpace(fmt.Sprintf("%s-%s %s", w.Start, w.End, w.Timezone))
	}
	hook := mapping()
	run := mapping()
	todo := "TODO-" + name + "-command"
	addNode(run, "command", flowSeq(todo))
	run.Content[0].HeadComment = fmt.Sprintf("TODO(godwit init): the command that does %s%s. Until replaced, this placeholder fails at once.", ph.Name, notesText(notes))
	if len(env) > 0 {
		e := mapping()
		for _, k := range slices.Sorted(maps.Keys(env)) {
			addScalar(e, k, env[k])
		}
		addNode(run, "env", e)
	}
	addNode(hook, "run", run)
	if ph.Reversible && !nothingToUndo(ph.Kind) {
		comp := mapping()
		addNode(comp, "command", flowSeq("TODO-"+name+"-compensate-command"))
		comp.Content[0].HeadComment = "TODO(godwit init): undo it: " + ph.RollbackStep
		addNode(hook, "compensate", comp)
	}
	addNode(n, "hook", hook)
	return n
}

func notesText(notes []string) string {
	if len(notes) == 0 {
		return ""
	}
	return " (" + strings.Join(notes, "; ") + ")"
}

// phaseTimeout is twice the estimate, at least 10 minutes, in whole
// minutes: room for a slow run without hiding a stuck one.
func phaseTimeout(estimate float64) string {
	m := math.Max(10, math.Ceil(estimate*2))
	return shortDuration(time.Duration(m) * time.Minute)
}

func hours(h float64) string {
	return shortDuration(time.Duration(h * float64(time.Hour)).Round(time.Minute))
}

func mapping() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode} }

func addScalar(m *yaml.Node, key, value string) {
	addNode(m, key, &yaml.Node{Kind: yaml.ScalarNode, Value: value})
}

func addNode(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
}

func flowSeq(items ...string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, it := range items {
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: it})
	}
	return n
}

// shortDuration writes d the way a person would: 8h, 1h30m, 45m.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
