package plan

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/godwit/godwit/compat"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
)

// todo is a placeholder value: `godwit validate` names the field until it
// is filled in (config.Placeholder).
func todo(hint string) string { return config.Placeholder + ": " + hint }

// engineOf guesses a store's engine from how the description names the
// source or target ("MySQL 5.7 orders", "PostgreSQL 15").
func engineOf(name string) string {
	l := strings.ToLower(name)
	switch {
	case strings.Contains(l, "postgres"):
		return "postgres"
	case strings.Contains(l, "mysql"), strings.Contains(l, "mariadb"):
		return "mysql"
	case strings.Contains(l, "sqlite"):
		return "sqlite"
	}
	return todo("the engine of " + name + ": postgres, mysql or sqlite")
}

// usesStores is whether the description moves tables or a mapping was
// proposed: then the spec gets the stores legacy and new, and typed
// provision, copy and reconcile phases.
func usesStores(d *Description, m *compat.Proposal) bool {
	return len(d.TablesToMigrate) > 0 || m != nil
}

// MappingName is the name `godwit init --before --after` gives the
// mapping it proposes.
const MappingName = "schema"

// addMapping writes the proposed mapping under `mappings:`.
func addMapping(root *yaml.Node, m *compat.Proposal) {
	ms := mapping()
	addNode(ms, MappingName, m.YAML("legacy", "new"))
	addNode(root, "mappings", ms)
	root.Content[len(root.Content)-2].HeadComment = "Proposed by godwit init from the before and after schemas: confirm each TODO(godwit init)\ncomment, and fill in each TODO(godwit init) value (godwit validate names them). docs/mapping.md"
}

// addTopLevel writes the spec's stores, notifications and window from the
// description.
func addTopLevel(root *yaml.Node, d *Description, p *Plan, m *compat.Proposal) {
	if usesStores(d, m) {
		stores := mapping()
		for _, s := range []struct{ name, of, env string }{{"legacy", d.Source, "LEGACY_DSN"}, {"new", d.Target, "NEW_DSN"}} {
			st := mapping()
			of := s.of
			if of == "" {
				of = "the " + s.name + " database"
			}
			addScalar(st, "engine", engineOf(of))
			dsn := mapping()
			addScalar(dsn, "fromEnv", todo(fmt.Sprintf("the name of the worker's environment variable holding the DSN of %s (e.g. %s)", of, s.env)))
			addNode(st, "dsn", dsn)
			addNode(stores, s.name, st)
		}
		addNode(root, "stores", stores)
	}
	if m != nil {
		addMapping(root, m)
	}
	var alerts []string
	for _, t := range d.RollbackTriggers {
		if t.Action == "alert_team" {
			alerts = append(alerts, fmt.Sprintf("%s > %v for %gm", t.Metric, t.Threshold, t.DurationMinutes))
		}
	}
	if len(alerts) > 0 {
		n := mapping()
		addScalar(n, "kind", "slack")
		url := mapping()
		addScalar(url, "fromEnv", todo("the name of the worker's environment variable holding the team's Slack webhook URL"))
		addNode(n, "url", url)
		addNode(n, "events", flowSeq("phase.failed", "gate.waiting", "rollback.started", "rollback.finished", "migration.completed"))
		n.Content[0].HeadComment = "The team is told of failures, gates and rollbacks; the description's alert_team triggers: " + strings.Join(alerts, "; ")
		addNode(root, "notifications", &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{n}})
	}
	bc := d.BusinessContinuity
	if bc.PreferredMigrationWindow != nil || bc.CriticalBusinessHours != nil {
		w := mapping()
		tz := ""
		for _, x := range []*Window{bc.PreferredMigrationWindow, bc.CriticalBusinessHours} {
			if x != nil && x.Timezone != "" && tz == "" {
				tz = x.Timezone
			}
		}
		if tz != "" {
			addScalar(w, "timezone", tz)
		}
		slot := func(x *Window) *yaml.Node {
			s := mapping()
			addScalar(s, "start", x.Start)
			addScalar(s, "end", x.End)
			s.Style = yaml.FlowStyle
			return &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{s}}
		}
		if bc.PreferredMigrationWindow != nil {
			addNode(w, "preferred", slot(bc.PreferredMigrationWindow))
		}
		if bc.CriticalBusinessHours != nil {
			addNode(w, "businessHours", slot(bc.CriticalBusinessHours))
		}
		addNode(root, "window", w)
	}
}

// typedDriver writes the phase's typed driver where one exists and the
// description gives what it needs: provision, copy and reconcile of the
// tables to migrate; a traffic shift through the gateway rolling out a
// feature flag's schedule. It returns nil otherwise (the phase gets a
// command hook).
func typedDriver(d *Description, ph Phase, flag int, m *compat.Proposal) (string, *yaml.Node) {
	tables := func() *yaml.Node {
		var names []string
		for _, t := range d.TablesToMigrate {
			names = append(names, t.Name)
		}
		return flowSeq(names...)
	}
	pair := func() *yaml.Node {
		n := mapping()
		if m != nil {
			addScalar(n, "mapping", MappingName)
			return n
		}
		addScalar(n, "from", "legacy")
		addScalar(n, "to", "new")
		addNode(n, "tables", tables())
		return n
	}
	switch ph.Kind {
	case migration.PhaseProvision:
		if usesStores(d, m) {
			return "provision", pair()
		}
	case migration.PhaseCopy:
		if usesStores(d, m) {
			return "copy", pair()
		}
	case migration.PhaseReconcile:
		if usesStores(d, m) {
			n := pair()
			if m != nil {
				// After the traffic shift a check would turn reverse, which
				// needs the inverse mapping: compare forward, as a mapped
				// check does for now.
				addScalar(n, "direction", "forward")
				n.Content[len(n.Content)-2].LineComment = "a mapped check compares legacy to new (docs/mapping.md)"
			}
			return "reconcile", n
		}
	case migration.PhaseShiftTraffic:
		if steps := trafficSteps(d, flag); steps != nil {
			n := mapping()
			gw := mapping()
			addScalar(gw, "admin", todo("the godwit-gateway admin URL, e.g. http://127.0.0.1:18490 (docs/gateway.md)"))
			tok := mapping()
			addScalar(tok, "fromEnv", "GODWIT_GATEWAY_TOKEN")
			addNode(gw, "token", tok)
			addNode(n, "gateway", gw)
			addScalar(n, "route", todo("the name of the gateway route to move (routes[].name in the gateway's configuration)"))
			addNode(n, "steps", steps)
			return "traffic", n
		}
	}
	return "", nil
}

// trafficSteps turns the flag's rollout schedule into steps: each
// percentage a setWeight, then an analysis with the description's
// thresholds (when it has some) and a hold for the step's duration. The
// thresholds are the automatic_rollback triggers' where they name a
// metric, else the alert_thresholds: a failed analysis fails the phase,
// and Godwit rolls back.
func trafficSteps(d *Description, flag int) *yaml.Node {
	var schedule []RolloutStep
	var flagName string
	for i, f := range d.FeatureFlags {
		if (flag < 0 || i == flag) && len(f.RolloutSchedule) > 0 {
			schedule, flagName = f.RolloutSchedule, f.Name
		}
	}
	if len(schedule) == 0 {
		return nil
	}
	analysis := analysisOf(d)
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for _, s := range schedule {
		w := mapping()
		pct := strconv.Itoa(int(s.Percentage + 0.5))
		if flagName != "" {
			// The step carries the flag it rolls out: the gateway route
			// stands for it.
			addScalar(w, "name", fmt.Sprintf("%s %s%%", flagName, pct))
		}
		addScalar(w, "setWeight", pct)
		w.Content[len(w.Content)-1].Tag = "!!int"
		seq.Content = append(seq.Content, w)
		if analysis != nil {
			a := mapping()
			addNode(a, "analysis", analysis)
			seq.Content = append(seq.Content, a)
		}
		if s.DurationHours > 0 {
			h := mapping()
			addScalar(h, "hold", hours(s.DurationHours))
			seq.Content = append(seq.Content, h)
		}
	}
	return seq
}

// analysisOf is the analysis the description's thresholds give, or nil.
// error_rate is a fraction (0.01 = 1 %) or, above 1, a percentage;
// response_time_p95/p99 are milliseconds.
func analysisOf(d *Description) *yaml.Node {
	limits := map[string]float64{}
	for k, v := range d.Monitoring.AlertThresholds {
		if f, ok := toFloat(v); ok {
			limits[k] = f
		}
	}
	window := 5 * time.Minute
	for _, t := range d.RollbackTriggers {
		if t.Action != "automatic_rollback" {
			continue
		}
		if f, ok := toFloat(t.Threshold); ok {
			limits[t.Metric] = f
		}
		if t.DurationMinutes > 0 {
			window = time.Duration(t.DurationMinutes * float64(time.Minute))
		}
	}
	a := mapping()
	addScalar(a, "window", shortDuration(window))
	addScalar(a, "interval", shortDuration(window/5))
	n := len(a.Content)
	if v, ok := limits["error_rate"]; ok {
		if v > 1 {
			v /= 100
		}
		addScalar(a, "maxErrorRate", strconv.FormatFloat(v, 'f', -1, 64))
	}
	for _, m := range [][2]string{{"response_time_p95", "maxP95"}, {"response_time_p99", "maxP99"}} {
		if v, ok := limits[m[0]]; ok {
			addScalar(a, m[1], shortDuration(time.Duration(v*float64(time.Millisecond))))
		}
	}
	if len(a.Content) == n {
		return nil
	}
	a.Style = yaml.FlowStyle
	return a
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

// MappingSpec writes a spec that moves a database from the before schema
// to the after one through the proposed mapping m (godwit init --before
// --after without a description): the stores legacy and new, the mapping,
// and provision, copy and reconcile through it.
func MappingSpec(name string, m *compat.Proposal) ([]byte, error) {
	root := mapping()
	root.HeadComment = "Written by `godwit init` from a before and an after schema description.\nFill in every TODO(godwit init), then: godwit validate -f <this file>; godwit preflight -f <this file>"
	addScalar(root, "name", name)
	// A description's database names its engine (schema export writes
	// it): the store is "the legacy database (postgres)", whose engine
	// engineOf reads; without one the engine stays a placeholder.
	d := &Description{}
	if m.FromDatabase != "" {
		d.Source = "the legacy database (" + m.FromDatabase + ")"
	}
	if m.ToDatabase != "" {
		d.Target = "the new database (" + m.ToDatabase + ")"
	}
	addTopLevel(root, d, nil, m)
	phases := &yaml.Node{Kind: yaml.SequenceNode}
	for _, kind := range []migration.Phase{migration.PhaseProvision, migration.PhaseCopy, migration.PhaseReconcile} {
		key, drv := typedDriver(&Description{}, Phase{Kind: kind}, -1, m)
		ph := mapping()
		addScalar(ph, "phase", string(kind))
		addNode(ph, key, drv)
		phases.Content = append(phases.Content, ph)
	}
	addNode(root, "phases", phases)
	return encode(root)
}
