package traffic_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/config"
	_ "github.com/godwit/godwit/drivers/copy"
	_ "github.com/godwit/godwit/drivers/cutover"
	_ "github.com/godwit/godwit/drivers/replicate"
	"github.com/godwit/godwit/drivers/traffic"
)

// The split-stores rule reasons over the plan: what the phases before the
// traffic phase move and replicate between the spec's stores, not how many
// stores the spec declares.

const (
	planStores = "stores:\n  legacy: {engine: postgres, dsn: {fromEnv: A}}\n  target: {engine: postgres, dsn: {fromEnv: B}}\n"
	planRoute  = "gateway: {admin: http://127.0.0.1:9090}, route: users"
	bookkeep   = "  - phase: validate\n    name: note\n    hook: {run: {command: [\"true\"]}}\n"
	copyPhase  = "  - phase: copy\n    name: copy\n    copy: {from: legacy, to: target, tables: [users]}\n"
	setup      = "  - phase: copy\n    name: capture\n    replicate: {from: legacy, to: target, tables: [users], mode: setup}\n"
	reverse    = "  - phase: copy\n    name: reverse\n    replicate: {from: target, to: legacy, tables: [users], mode: setup}\n"
	stopRev    = "  - phase: copy\n    name: stop-reverse\n    replicate: {from: target, to: legacy, tables: [users], mode: stop}\n"
	cutover    = "  - phase: copy\n    name: cutover\n    cutover: {gateway: {admin: http://127.0.0.1:9090}, route: users, from: legacy, to: target, tables: [users]}\n"
)

// planSpec is a spec of the given earlier phases followed by a traffic
// phase with the given extra fields (flow YAML, e.g. "move: reads, ").
func planSpec(earlier, extra, steps string) string {
	return "name: t\n" + planStores + "phases:\n" + earlier +
		"  - phase: shift-traffic\n    name: shift\n    traffic: {" + planRoute + ", " + extra + "steps: " + steps + "}\n"
}

func TestSplitStoresRuleReasonsOverThePlan(t *testing.T) {
	accepted := []struct{ name, earlier, extra string }{
		{"two stores, but no earlier phase moves rows between them (one keeps a hook's bookkeeping)", bookkeep, ""},
		{"nothing moved before the traffic phase", "", ""},
		{"a reverse replication runs by then: new's writes reach legacy", copyPhase + reverse, ""},
		{"after a cut-over, new's writes are captured for legacy", setup + copyPhase + cutover, ""},
		{"named stores said to be one database: the preflight reads their identities", bookkeep, "stores: {legacy: legacy, new: target}, writeConsistency: sharedStore, "},
		{"a copy before, and only reads move", copyPhase, "move: reads, "},
		{"a copy before, and sharedStore without naming the stores: the spec's word", copyPhase, "writeConsistency: sharedStore, "},
	}
	for _, c := range accepted {
		t.Run("accepts "+c.name, func(t *testing.T) {
			_, err := config.ParseSpec([]byte(planSpec(c.earlier, c.extra, "[{setWeight: 25}]")))
			require.NoError(t, err)
		})
	}

	refused := []struct{ name, earlier, extra, want string }{
		{"a copy before, writes moving", copyPhase, "",
			"phases[1].traffic.steps[0].setWeight: sends 25% of writes to new, but phase copy moves rows from store legacy to store target, " +
				"so legacy and new have databases of their own (name them with stores: {legacy: legacy, new: target}): writes on new would be missing from legacy"},
		{"the reverse replication was stopped before", copyPhase + reverse + stopRev, "",
			"phases[3].traffic.steps[0].setWeight: sends 25% of writes to new, but phase copy moves rows from store legacy to store target"},
		{"a replication the wrong way round is not a reverse one", reverse + copyPhase, "stores: {legacy: target, new: legacy}, ",
			"phases[2].traffic.steps[0].setWeight: sends 25% of writes to new, but legacy uses store target and new store legacy (phase reverse moves rows from target to legacy)"},
		{"named stores, nothing moved: two names are two databases until said otherwise", bookkeep, "stores: {legacy: legacy, new: target}, ",
			"phases[1].traffic.steps[0].setWeight: sends 25% of writes to new, but legacy uses store legacy and new store target: writes on new would be missing"},
		{"named stores said to be shared, that a copy moves rows between", copyPhase, "stores: {legacy: legacy, new: target}, writeConsistency: sharedStore, ",
			"phases[1].traffic.writeConsistency: says the services share one database, but phase copy moves rows from store legacy to store target, so each has its own"},
	}
	for _, c := range refused {
		t.Run("refuses "+c.name, func(t *testing.T) {
			got := traffic.RefusedSpecProblems(t, planSpec(c.earlier, c.extra, "[{setWeight: 25}]"))
			require.Len(t, got, 1, strings.Join(got, "\n"))
			assert.True(t, strings.HasPrefix(got[0], c.want), "got  %s\nwant %s…", got[0], c.want)
		})
	}
}
