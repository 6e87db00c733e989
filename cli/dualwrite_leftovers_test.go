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
			assert.Contains(t, out, "dual-write triggers on tables this migration does not dual-write")
			assert.Contains(t, out, "on invoices — once sure no migration uses it: DROP TRIGGER IF EXISTS")
			t.Log(out)

			out, _, err = run(t, ended.dial, "cleanup", "orders", "--dry-run")
			require.NoError(t, err)
			assert.Contains(t, out, "would remove: app dual-write trigger godwit_dw_users")
			assert.Equal(t, before, triggerTables(t, st), "a dry run removed something")

			out, _, err = run(t, ended.dial, "cleanup", "orders")
			require.NoError(t, err)
			assert.Contains(t, out, "removed: app dual-write trigger godwit_dw_users")
			assert.Contains(t, out, "left alone (not a table this migration dual-writes): app dual-write trigger godwit_dw_invoices")
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
