package stores_test

import (
	"testing"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/drivers/stores"
)

// creates is a phase section that creates what it lists, as a provision,
// an expand phase or a mapping would say.
type creates struct {
	store    string
	tables   []string
	columns  []string // table.column
	database bool
}

func (c *creates) Check(*config.CheckContext) {}

func (c *creates) Provides(store, table string) bool {
	for _, t := range c.tables {
		if store == c.store && t == table {
			return true
		}
	}
	return false
}

func (c *creates) ProvidesColumn(store, table, column string) bool {
	for _, tc := range c.columns {
		if store == c.store && tc == table+"."+column {
			return true
		}
	}
	return false
}

func (c *creates) CreatesDatabase(store string) bool { return c.database && store == c.store }

type nothing struct{}

func (nothing) Check(*config.CheckContext) {}

// What earlier phases create counts for a later phase, never for an
// earlier one; a database counts from the phase that creates it on.
func TestPlanCountsWhatEarlierPhasesCreate(t *testing.T) {
	spec := &config.Spec{Phases: []config.PhaseSpec{
		{Name: "check", Driver: nothing{}},
		{Name: "provision", Driver: &creates{store: "new", tables: []string{"orders"}, database: true}},
		{Name: "expand", Driver: &creates{store: "new", columns: []string{"customers.email"}}},
		{Name: "copy", Driver: nothing{}},
	}}
	copyPlan := stores.Before(spec, "copy")
	for _, tc := range []struct {
		what string
		got  bool
		want bool
	}{
		{"orders in new, before copy", copyPlan.Table("new", "orders"), true},
		{"orders in legacy, before copy", copyPlan.Table("legacy", "orders"), false},
		{"customers in new, before copy (only a column is added)", copyPlan.Table("new", "customers"), false},
		{"customers.email, added by expand", copyPlan.Column("new", "customers", "email"), true},
		{"customers.name, added by nobody", copyPlan.Column("new", "customers", "name"), false},
		{"orders.anything, the table is created", copyPlan.Column("new", "orders", "total"), true},
		{"new's database, before copy", copyPlan.Database("new"), true},
		{"new's database, in provision itself", stores.Before(spec, "provision").Database("new"), true},
		{"orders in new, in provision itself", stores.Before(spec, "provision").Table("new", "orders"), false},
		{"new's database, before provision", stores.Before(spec, "check").Database("new"), false},
		{"customers.email, before expand", stores.Before(spec, "expand").Column("new", "customers", "email"), false},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.what, tc.got, tc.want)
		}
	}
}

// moves is a phase section that moves rows and starts or stops
// replications, as copy, replicate and cutover say.
type moves struct {
	flow             stores.Flow
	started, stopped []stores.Flow
}

func (moves) Check(*config.CheckContext) {}

func (m moves) MovesData() stores.Flow { return m.flow }

func (m moves) Replications() (started, stopped []stores.Flow) { return m.started, m.stopped }

// The rows earlier phases move, and the replications running when a
// phase starts: started by an earlier phase, not stopped since.
func TestPlanKnowsTheRowsEarlierPhasesMoveAndTheReplicationsRunning(t *testing.T) {
	fwd, back := stores.Flow{From: "legacy", To: "new"}, stores.Flow{From: "new", To: "legacy"}
	spec := &config.Spec{Phases: []config.PhaseSpec{
		{Name: "check", Driver: nothing{}},
		{Name: "copy", Driver: moves{flow: fwd}},
		{Name: "same", Driver: moves{flow: stores.Flow{From: "new", To: "new"}}},
		{Name: "cutover", Driver: moves{flow: fwd, started: []stores.Flow{back}}},
		{Name: "stop", Driver: moves{stopped: []stores.Flow{fwd, back}}},
		{Name: "last", Driver: nothing{}},
	}}
	if got := stores.Before(spec, "copy").Moves(); len(got) != 0 {
		t.Errorf("before copy: moves %v, want none", got)
	}
	got := stores.Before(spec, "last").Moves()
	if len(got) != 2 || got[0] != (stores.Move{Flow: fwd, Phase: "copy"}) || got[1] != (stores.Move{Flow: fwd, Phase: "cutover"}) {
		t.Errorf("before last: moves %v, want copy's and cutover's (a flow within one store is none)", got)
	}
	for _, tc := range []struct{ phase, from, to, want string }{
		{"cutover", "new", "legacy", ""},
		{"stop", "new", "legacy", "cutover"},
		{"stop", "legacy", "new", ""},
		{"last", "new", "legacy", ""},
	} {
		if got := stores.Before(spec, tc.phase).Replicating(tc.from, tc.to); got != tc.want {
			t.Errorf("replicating %s to %s before %s: got %q, want %q", tc.from, tc.to, tc.phase, got, tc.want)
		}
	}
}
