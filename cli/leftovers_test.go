package cli

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/godwit/godwit/cdc"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/drivers/replicate"
	"github.com/godwit/godwit/migration"
)

const leftoverSpec = `name: orders
stores:
  legacy: {engine: sqlite, dsn: {fromEnv: LO_LEGACY_DSN}}
  new: {engine: postgres, dsn: {fromEnv: LO_NEW_DSN}}
phases:
  - {phase: provision, name: capture, replicate: {from: legacy, to: new, tables: [customers], mode: setup}}
  - {phase: copy, name: replicate, replicate: {from: legacy, to: new, tables: [customers]}}
`

// leftoverStores makes the spec's two stores, real databases: legacy
// (SQLite) with this migration's capture set up, new (PostgreSQL) with
// the trigger capture of another migration.
func leftoverStores(t *testing.T) (spec *config.Spec, legacy, other cdc.Options) {
	t.Helper()
	ctx := context.Background()
	l, n := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.Postgres)
	t.Setenv("LO_LEGACY_DSN", l.DSN)
	t.Setenv("LO_NEW_DSN", n.DSN)
	dbtest.Exec(t, l.Store, "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
	dbtest.Exec(t, n.Store, "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
	spec, err := config.ParseSpec([]byte(leftoverSpec))
	require.NoError(t, err)
	legacy = cdc.Options{Source: l.Store, Name: replicate.CaptureName("orders", spec.Stores["legacy"]),
		Tables: []string{"customers"}, Method: cdc.MethodTriggers}
	_, err = cdc.Setup(ctx, legacy)
	require.NoError(t, err)
	other = cdc.Options{Source: n.Store, Name: cdc.CaptureName("billing", "env:BILLING_DSN"),
		Tables: []string{"customers"}, Method: cdc.MethodTriggers}
	_, err = cdc.Setup(ctx, other)
	require.NoError(t, err)
	return spec, legacy, other
}

// runningDial dials a fake client whose migration orders runs spec.
func runningDial(spec *config.Spec) func(context.Context) (client.Client, error) {
	running := endedReport(migration.StatusInProgress)
	running.EndTime = time.Time{}
	c := &fakeClient{states: []wfState{{report: running}}, startSpec: spec}
	return func(context.Context) (client.Client, error) { return c, nil }
}

func endedReport(status migration.Status) *migration.Report {
	r := migration.NewReport("orders", "", []migration.Phase{migration.PhaseProvision, migration.PhaseCopy}, nil, t0)
	r.Phases[0].State = migration.PhaseCompleted
	r.Status, r.EndTime = status, t0.Add(time.Minute)
	return r
}

func TestStatusWarnsAboutLeftoversAndCleanupRemovesThem(t *testing.T) {
	isolate(t)
	spec, legacy, other := leftoverStores(t)
	ctx := context.Background()
	ended := &fakeClient{states: []wfState{{report: endedReport(migration.StatusFailed), ended: true}}, startSpec: spec}
	dial := func(context.Context) (client.Client, error) { return ended, nil }

	out, _, err := run(t, dial, "status", "orders")
	require.NoError(t, err)
	assert.Contains(t, out, "WARNING: the migration ended FAILED but its change capture objects remain")
	trigger := "godwit_tr_" + legacy.Name + "_customers_i"
	assert.Contains(t, out, "legacy (sqlite): trigger "+trigger)
	assert.Contains(t, out, "legacy (sqlite): table godwit_cl_"+legacy.Name+"_customers")
	assert.Contains(t, out, "remove them: godwit cleanup orders")
	// The other migration's capture is named, with what drops it by hand.
	assert.Contains(t, out, "objects of another change capture (not this migration's; owner unknown)")
	assert.Contains(t, out, "new (postgres): trigger godwit_tr_"+other.Name+"_customers_iud — once sure no migration uses it: DROP TRIGGER godwit_tr_"+other.Name+"_customers_iud ON customers;")
	assert.NotContains(t, out, "legacy (sqlite): trigger godwit_tr_"+other.Name)

	out, _, err = run(t, dial, "cleanup", "orders", "--dry-run")
	require.NoError(t, err)
	assert.Contains(t, out, "would remove: legacy trigger "+trigger)
	objs, err := cdc.Objects(ctx, legacy.Source, legacy.Name)
	require.NoError(t, err)
	assert.Len(t, objs, 5, "a dry run removed something (three triggers, the changelog and the origin marker table): %v", objs)

	out, _, err = run(t, dial, "cleanup", "orders")
	require.NoError(t, err)
	assert.Contains(t, out, "removed: legacy trigger "+trigger)
	assert.Contains(t, out, "left alone (another capture): new trigger godwit_tr_"+other.Name)
	objs, err = cdc.Objects(ctx, legacy.Source, legacy.Name)
	require.NoError(t, err)
	assert.Empty(t, objs, "cleanup left objects of the migration's capture")
	objs, err = cdc.Objects(ctx, other.Source, other.Name)
	require.NoError(t, err)
	assert.Len(t, objs, 5, "cleanup touched another migration's capture (two triggers, two functions, the changelog)")

	out, _, err = run(t, dial, "status", "orders")
	require.NoError(t, err)
	assert.NotContains(t, out, "the migration ended FAILED but its change capture objects remain")
	assert.Contains(t, out, "objects of another change capture")

	out, _, err = run(t, dial, "cleanup", "orders")
	require.NoError(t, err)
	assert.Contains(t, out, "no change capture object of migration orders in stores legacy, new")
}

func TestStatusListsTheCaptureOfARunningMigrationAndCleanupRefusesIt(t *testing.T) {
	isolate(t)
	spec, legacy, other := leftoverStores(t)
	_, err := cdc.Teardown(context.Background(), other)
	require.NoError(t, err)
	dial := runningDial(spec)

	out, _, err := run(t, dial, "status", "orders")
	require.NoError(t, err)
	assert.Contains(t, out, "in use by this migration (IN_PROGRESS), removed by its stop phase or its rollback:")
	assert.Contains(t, out, "· legacy (sqlite): trigger godwit_tr_"+legacy.Name+"_customers_d")
	assert.NotContains(t, out, "WARNING")

	out, _, err = run(t, dial, "status", "orders", "--leftovers=false")
	require.NoError(t, err)
	assert.NotContains(t, out, "Change capture")

	_, _, err = run(t, dial, "cleanup", "orders")
	require.ErrorContains(t, err, "migration orders is running: its change capture and dual-write triggers are in use")
	objs, err := cdc.Objects(context.Background(), legacy.Source, legacy.Name)
	require.NoError(t, err)
	assert.Len(t, objs, 5, "three triggers, the changelog and the origin marker table")
}

func TestStatusNamesAStoreItCannotCheck(t *testing.T) {
	isolate(t)
	spec, _, _ := leftoverStores(t)
	require.NoError(t, os.Unsetenv("LO_NEW_DSN")) // t.Setenv restores it
	c := &fakeClient{states: []wfState{{report: endedReport(migration.StatusRolledBack), ended: true}}, startSpec: spec}
	out, _, err := run(t, func(context.Context) (client.Client, error) { return c, nil }, "status", "orders")
	require.NoError(t, err)
	assert.Contains(t, out, "? store new not checked for change capture objects from here — environment variable LO_NEW_DSN is not set for this process")
	// A variable only the worker's environment sets is no fault of the
	// run's: the note says what the CLI could not check and that the
	// worker resolves its own (it read as a failing store).
	assert.Contains(t, out, "the worker reads its own, so the run is not affected: give this shell the same to check new too")
	assert.Contains(t, out, "WARNING: the migration ended ROLLED_BACK")
}

// A cut-over sets up a reverse capture on new; left behind, it is the
// migration's own (not "another capture's"), and cleanup removes it.
func TestStatusCountsALeftReverseCaptureAsTheMigrations(t *testing.T) {
	isolate(t)
	spec, _, other := leftoverStores(t)
	ctx := context.Background()
	reverse := cdc.Options{Source: other.Source, Name: replicate.ReverseCaptureName("orders", spec.Stores["new"]),
		Tables: []string{"customers"}, Method: cdc.MethodTriggers}
	_, err := cdc.Setup(ctx, reverse)
	require.NoError(t, err)
	ended := &fakeClient{states: []wfState{{report: endedReport(migration.StatusRolledBack), ended: true}}, startSpec: spec}
	dial := func(context.Context) (client.Client, error) { return ended, nil }

	out, _, err := run(t, dial, "status", "orders")
	require.NoError(t, err)
	assert.Contains(t, out, "new (postgres): trigger godwit_tr_"+reverse.Name+"_customers_iud")
	assert.NotContains(t, out, "trigger godwit_tr_"+reverse.Name+"_customers_iud — once sure no migration uses it",
		"the reverse capture was shown as another migration's")

	out, _, err = run(t, dial, "cleanup", "orders")
	require.NoError(t, err)
	assert.Contains(t, out, "removed: new trigger godwit_tr_"+reverse.Name)
	objs, err := cdc.Objects(ctx, reverse.Source, reverse.Name)
	require.NoError(t, err)
	assert.Empty(t, objs, "cleanup left the reverse capture")
	objs, err = cdc.Objects(ctx, other.Source, other.Name)
	require.NoError(t, err)
	assert.Len(t, objs, 5, "cleanup touched another migration's capture (two triggers, two functions, the changelog)")
}

// A capture of many tables is counted per store in a running migration's
// status (five objects a table made a 15-table capture 85 lines of it),
// and listed one a line by cleanup --dry-run, which a running migration
// allows: it lists what is in use, removing nothing.
func TestStatusCountsAManyTableCaptureAndDryRunListsItWhileRunning(t *testing.T) {
	lines := countObjects([]replicate.Leftover{
		{Store: "legacy", Engine: "mysql", Object: cdc.Object{Kind: "trigger", Name: "godwit_tr_a_i", Table: "a"}},
		{Store: "legacy", Engine: "mysql", Object: cdc.Object{Kind: "trigger", Name: "godwit_tr_a_u", Table: "a"}},
		{Store: "legacy", Engine: "mysql", Object: cdc.Object{Kind: "trigger", Name: "godwit_tr_b_i", Table: "b"}},
		{Store: "legacy", Engine: "mysql", Object: cdc.Object{Kind: "table", Name: "godwit_changes"}},
		{Store: "new", Engine: "postgres", Object: cdc.Object{Kind: "slot", Name: "godwit_x"}},
		{Store: "new", Engine: "postgres", Object: cdc.Object{Kind: "function", Name: "godwit_f1"}},
		{Store: "new", Engine: "postgres", Object: cdc.Object{Kind: "function", Name: "godwit_f2"}},
	})
	assert.Equal(t, []string{"legacy (mysql): 1 capture table, 3 triggers on 2 tables", "new (postgres): 2 functions, 1 replication slot"}, lines)

	isolate(t)
	spec, legacy, other := leftoverStores(t)
	_, err := cdc.Teardown(context.Background(), other)
	require.NoError(t, err)
	// Two more tables captured: 3 tables.
	dbtest.Exec(t, legacy.Source, `CREATE TABLE invoices (id INTEGER PRIMARY KEY, total TEXT)`, `CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)`)
	legacy.Tables = append(legacy.Tables, "invoices", "notes")
	_, err = cdc.Setup(context.Background(), legacy)
	require.NoError(t, err)
	before, err := cdc.Objects(context.Background(), legacy.Source, legacy.Name)
	require.NoError(t, err)
	require.Greater(t, len(before), inUseListed)
	dial := runningDial(spec)

	out, _, err := run(t, dial, "status", "orders")
	require.NoError(t, err)
	assert.Contains(t, out, "in use by this migration (IN_PROGRESS), removed by its stop phase or its rollback:")
	assert.Regexp(t, `· legacy \(sqlite\): .*9 triggers on 3 tables`, out)
	assert.Contains(t, out, "(one a line: godwit cleanup orders --dry-run)")
	assert.NotContains(t, out, "· legacy (sqlite): trigger ")

	out, _, err = run(t, dial, "cleanup", "orders", "--dry-run")
	require.NoError(t, err)
	assert.Contains(t, out, "migration orders is running: what it uses is listed, nothing would be removed now")
	assert.Contains(t, out, "in use: legacy trigger godwit_tr_"+legacy.Name+"_invoices_d")
	assert.NotContains(t, out, "would remove")
	objs, err := cdc.Objects(context.Background(), legacy.Source, legacy.Name)
	require.NoError(t, err)
	assert.Len(t, objs, len(before), "nothing removed")
}
