package cli

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/schemachange"
)

const dualWriteSpec = `name: orders
stores:
  app: {engine: %s, dsn: {fromEnv: LO_APP_DSN}}
phases:
  - phase: provision
    name: expand
    expand:
      store: app
      sql: {fromFile: expand.sql}
      rollback: {fromFile: expand.down.sql}
      dualWrite: {users: {email_address: "email"}}
`

// dualWriteStore makes the spec's store on engine with dual-write
// triggers on users (this migration's, as a run stopped before its
// contract leaves them) and on invoices (not a table it dual-writes).
func dualWriteStore(t *testing.T, engine datastore.Engine) (*config.Spec, *datastore.Store) {
	t.Helper()
	ctx := context.Background()
	db := dbtest.New(t, engine)
	t.Setenv("LO_APP_DSN", db.DSN)
	dbtest.Exec(t, db.Store, "CREATE TABLE users (id INTEGER NOT NULL PRIMARY KEY, email VARCHAR(200), email_address VARCHAR(200))",
		"CREATE TABLE invoices (id INTEGER NOT NULL PRIMARY KEY, total INTEGER, total_cents INTEGER)")
	for table, rule := range map[string]datastore.DualWriteRule{
		"users":    {Column: "email_address", Expr: "email"},
		"invoices": {Column: "total_cents", Expr: "total * 100"},
	} {
		_, err := schemachange.Apply(ctx, db.Store, schemachange.Change{Name: "lo/" + table,
			DualWrite: map[string][]datastore.DualWriteRule{table: {rule}}}, hclog.NewNullLogger())
		require.NoError(t, err)
	}
	spec, err := config.ParseSpec([]byte(fmt.Sprintf(dualWriteSpec, engine)))
	require.NoError(t, err)
	return spec, db.Store
}

func triggerTables(t *testing.T, st *datastore.Store) map[string]int {
	t.Helper()
	trs, err := st.DualWriteTriggers(context.Background())
	require.NoError(t, err)
	out := map[string]int{}
	for _, tr := range trs {
		out[tr.Table]++
	}
	return out
}

// An ended run's dual-write triggers are a warning in status and go with
// cleanup; another table's stay, named with what drops them; a running
// run's are listed as in use and cleanup refuses them.
func TestStatusAndCleanupKnowDualWriteTriggers(t *testing.T) {
	for _, engine := range []datastore.Engine{datastore.Postgres, datastore.MySQL, datastore.SQLite} {
		t.Run(string(engine), func(t *testing.T) {
			isolate(t)
			spec, st := dualWriteStore(t, engine)
			before := triggerTables(t, st)
			require.Positive(t, before["users"])
			require.Positive(t, before["invoices"])

			running := endedReport(migration.StatusInProgress)
			running.EndTime = time.Time{}
			live := &fakeClient{states: []wfState{{report: running}}, startSpec: spec}
			out, _, err := run(t, live.dial, "status", "orders")
			require.NoError(t, err)
			assert.Contains(t, out, "in use by this migration (IN_PROGRESS), removed by its contract phase or its rollback:")
			assert.Contains(t, out, fmt.Sprintf("· app (%s): dual-write trigger godwit_dw_users", engine))
			_, _, err = run(t, live.dial, "cleanup", "orders")
			require.ErrorContains(t, err, "migration orders is running")
			assert.Equal(t, before, triggerTables(t, st))

			ended := &fakeClient{states: []wfState{{report: endedReport(migration.StatusFailed), ended: true}}, startSpec: spec}
			out, _, err = run(t, ended.dial, "status", "orders")
			require.NoError(t, err)
			assert.Contains(t, out, "WARNING: the migration ended FAILED but its dual-write triggers remain")
			assert.Contains(t, out, fmt.Sprintf("⚠ app (%s): dual-write trigger godwit_dw_users", engine))
			assert.Contains(t, out, "remove them: godwit cleanup orders")
			assert.Contains(t, out, "dual-write triggers of another migration:")
			assert.Contains(t, out, "on invoices (not a table this migration dual-writes; owner unknown) — once sure no migration uses it: DROP TRIGGER IF EXISTS")
			t.Log(out)

			out, _, err = run(t, ended.dial, "cleanup", "orders", "--dry-run")
			require.NoError(t, err)
			assert.Contains(t, out, "would remove: app dual-write trigger godwit_dw_users")
			assert.Equal(t, before, triggerTables(t, st), "a dry run removed something")

			out, _, err = run(t, ended.dial, "cleanup", "orders")
			require.NoError(t, err)
			assert.Contains(t, out, "removed: app dual-write trigger godwit_dw_users")
			assert.Contains(t, out, "left alone (not a table this migration dual-writes; owner unknown): app dual-write trigger godwit_dw_invoices")
			assert.Equal(t, map[string]int{"invoices": before["invoices"]}, triggerTables(t, st))

			out, _, err = run(t, ended.dial, "status", "orders")
			require.NoError(t, err)
			assert.NotContains(t, out, "dual-write triggers remain")
			out, _, err = run(t, ended.dial, "cleanup", "orders")
			require.NoError(t, err)
			assert.Contains(t, out, "no dual-write trigger of migration orders in app")
		})
	}
}

// Cleanup of an ended run forgets its schema-change records too (another
// migration's stay): a rerun under the same name then applies its expand
// and creates its triggers, instead of finding the ended run's record and
// taking the change as applied.
func TestCleanupForgetsTheEndedRunsSchemaChangeRecords(t *testing.T) {
	for _, engine := range []datastore.Engine{datastore.Postgres, datastore.MySQL, datastore.SQLite} {
		t.Run(string(engine), func(t *testing.T) {
			isolate(t)
			ctx := context.Background()
			log := hclog.NewNullLogger()
			db := dbtest.New(t, engine)
			t.Setenv("LO_APP_DSN", db.DSN)
			st := db.Store
			dbtest.Exec(t, st, "CREATE TABLE users (id INTEGER NOT NULL PRIMARY KEY, email VARCHAR(200))")
			spec, err := config.ParseSpec([]byte(fmt.Sprintf(dualWriteSpec, engine)))
			require.NoError(t, err)
			expandChange := schemachange.Change{Name: "orders/expand",
				Up:        datastore.SplitScript(engine, "ALTER TABLE users ADD COLUMN email_address VARCHAR(200);"),
				DualWrite: map[string][]datastore.DualWriteRule{"users": {{Column: "email_address", Expr: "email"}}}}
			// The run was stopped after its expand; another migration's
			// record is in the same store.
			first, err := schemachange.Apply(ctx, st, expandChange, log)
			require.NoError(t, err)
			_, err = schemachange.Apply(ctx, st, schemachange.Change{Name: "other/expand",
				Up: datastore.SplitScript(engine, "CREATE TABLE other_t (id INTEGER NOT NULL PRIMARY KEY);")}, log)
			require.NoError(t, err)
			records := func(prefix string) []string {
				recs, err := schemachange.Records(ctx, st, prefix)
				require.NoError(t, err)
				var out []string
				for _, r := range recs {
					out = append(out, r.String())
				}
				return out
			}
			applied := fmt.Sprintf("orders/expand: %d statements applied", first.Statements)
			require.Len(t, records("orders/"), 1)
			require.Contains(t, records("orders/")[0], applied)

			ended := &fakeClient{states: []wfState{{report: endedReport(migration.StatusFailed), ended: true}}, startSpec: spec}
			out, _, err := run(t, ended.dial, "cleanup", "orders", "--dry-run")
			require.NoError(t, err)
			assert.Contains(t, out, "would forget: app schema-change progress record "+applied)
			// The note counts no statements: the record's count takes in
			// the dual-write triggers', which cleanup removes (the expand
			// here applied 1 statement of expand.sql, the record says more).
			stays := "  note: what phase expand applied of expand.sql stays in store app (cleanup removes what Godwit added to carry the change, the dual-write triggers and records, never the change itself); to undo it, run phase expand's rollback script (expand.down.sql) against store app"
			assert.Contains(t, out, stays)
			assert.NotContains(t, out, fmt.Sprintf("the %d statement(s) phase expand applied stay", first.Statements))
			require.Len(t, records("orders/"), 1, "a dry run forgot a record")

			out, _, err = run(t, ended.dial, "cleanup", "orders")
			require.NoError(t, err)
			assert.Contains(t, out, "removed: app dual-write trigger godwit_dw_users")
			assert.Contains(t, out, "forgot: app schema-change progress record orders/expand")
			assert.Contains(t, out, stays)
			assert.Empty(t, records("orders/"), "cleanup left the ended run's records")
			assert.Len(t, records("other/"), 1, "cleanup forgot another migration's record")

			// The schema put back by hand, a rerun applies its expand again.
			dbtest.Exec(t, st, "ALTER TABLE users DROP COLUMN email_address")
			res, err := schemachange.Apply(ctx, st, expandChange, log)
			require.NoError(t, err)
			assert.False(t, res.Already, "the rerun took the ended run's record for its own progress")
			assert.Equal(t, first.Statements, res.Statements)
			assert.Positive(t, triggerTables(t, st)["users"], "the rerun created no dual-write trigger")

			out, _, err = run(t, ended.dial, "cleanup", "orders", "--dry-run")
			require.NoError(t, err)
			assert.Contains(t, out, "would forget: app schema-change progress record orders/expand")
		})
	}
}

// Triggers whose names carry a migration's tag are known by it: the ended
// run's own go with cleanup, wherever they are; another migration's are
// named as such (by its tag) and stay, as do untagged ones on a table the
// run does not dual-write.
func TestCleanupKnowsTriggersByTheirMigrationsTag(t *testing.T) {
	for _, engine := range []datastore.Engine{datastore.Postgres, datastore.MySQL, datastore.SQLite} {
		t.Run(string(engine), func(t *testing.T) {
			isolate(t)
			ctx := context.Background()
			db := dbtest.New(t, engine)
			t.Setenv("LO_APP_DSN", db.DSN)
			dbtest.Exec(t, db.Store, "CREATE TABLE users (id INTEGER NOT NULL PRIMARY KEY, email VARCHAR(200), email_address VARCHAR(200))",
				"CREATE TABLE invoices (id INTEGER NOT NULL PRIMARY KEY, total INTEGER, total_cents INTEGER)",
				"CREATE TABLE accounts (id INTEGER NOT NULL PRIMARY KEY, email VARCHAR(200), login VARCHAR(200))")
			for _, c := range []schemachange.Change{
				{Name: "orders/expand", Owner: "orders", DualWrite: map[string][]datastore.DualWriteRule{"users": {{Column: "email_address", Expr: "email"}}}},
				{Name: "billing/expand", Owner: "billing", DualWrite: map[string][]datastore.DualWriteRule{"invoices": {{Column: "total_cents", Expr: "total * 100"}}}},
				{Name: "old/expand", DualWrite: map[string][]datastore.DualWriteRule{"accounts": {{Column: "login", Expr: "email"}}}},
			} {
				_, err := schemachange.Apply(ctx, db.Store, c, hclog.NewNullLogger())
				require.NoError(t, err)
			}
			spec, err := config.ParseSpec([]byte(fmt.Sprintf(dualWriteSpec, engine)))
			require.NoError(t, err)
			before := triggerTables(t, db.Store)
			ours := datastore.DualWriteTaggedPrefix + datastore.DualWriteTag("orders") + "_users"

			ended := &fakeClient{states: []wfState{{report: endedReport(migration.StatusFailed), ended: true}}, startSpec: spec}
			out, _, err := run(t, ended.dial, "status", "orders")
			require.NoError(t, err)
			assert.Contains(t, out, fmt.Sprintf("⚠ app (%s): dual-write trigger %s", engine, ours))
			assert.Contains(t, out, "on invoices (its name carries another migration's tag, "+datastore.DualWriteTag("billing")+")")
			assert.Contains(t, out, "on accounts (not a table this migration dual-writes; owner unknown)")

			out, _, err = run(t, ended.dial, "cleanup", "orders")
			require.NoError(t, err)
			assert.Contains(t, out, "removed: app dual-write trigger "+ours)
			assert.Equal(t, map[string]int{"invoices": before["invoices"], "accounts": before["accounts"]}, triggerTables(t, db.Store))
		})
	}
}
