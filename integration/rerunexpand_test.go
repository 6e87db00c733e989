package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/migration"
)

// TestASecondRunOfAnExpandOnlyMigrationLeavesTheFirstRunsChange, on a
// real server: an expand-only migration (a column the application then
// fills) completes; the same spec started again under the same name finds
// the change in place, the first run's (its workflow sends the expand
// its run's key), passes its preflight, and its rollback leaves the
// column and its values. Before, the second run took the first run's
// record for its own and its rollback ran the rollback script: the column
// went, with what the application had written.
func TestASecondRunOfAnExpandOnlyMigrationLeavesTheFirstRunsChange(t *testing.T) {
	t.Parallel()
	for _, engine := range []datastore.Engine{datastore.SQLite, datastore.Postgres, datastore.MySQL} {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.New(t, engine)
			seedUsers(t, db, 20)
			name := fmt.Sprintf("it-rerun-expand-%s", engine)
			d := newSpec(t, name, fmt.Sprintf(`
defaults:
  timeout: 2m
  retry: {maxAttempts: 3, initialInterval: 1s}
stores:
  app: {engine: %s, dsn: {fromFile: DIR/app.dsn}}
phases:
  - phase: validate
    hook: {run: {command: ["true"]}}
  - phase: provision
    name: expand
    expand: {store: app, sql: {fromFile: DIR/expand.sql}, rollback: {fromFile: DIR/expand.down.sql}}
  - phase: shift-traffic
    name: release
    approval: {gate: go}
    hook: {run: {command: ["true"]}}
`, engine))
			for file, text := range map[string]string{"app.dsn": db.DSN + "\n",
				"expand.sql":      "ALTER TABLE users ADD COLUMN nickname VARCHAR(50);\n",
				"expand.down.sql": "ALTER TABLE users DROP COLUMN nickname;\n"} {
				require.NoError(t, os.WriteFile(filepath.Join(d.dir, file), []byte(text), 0o600))
			}

			d.start()
			first := env.client.GetWorkflow(ctx, name, "").GetRunID()
			d.waitFor("the first run's gate", waitingAt("go"))
			out, err := godwit(t, "approve", name, "--gate", "go")
			require.NoError(t, err, out)
			final, err := d.result()
			require.NoError(t, err)
			require.Equal(t, migration.StatusCompleted, final.Status)
			dbtest.Exec(t, db.Store, "UPDATE users SET nickname = 'used' WHERE id <= 5") // the application uses it

			d.start()
			rep := d.waitFor("the second run's gate", waitingAt("go"))
			require.Contains(t, rep.Phases[1].Summary, "expand.sql was already applied to app by an earlier run of this migration (run "+first+")", rep.Phases[1].Summary)
			out, err = godwit(t, "rollback", name, "--reason", "test")
			require.NoError(t, err, out)
			final, err = d.result()
			require.NoError(t, err)
			require.Equal(t, migration.StatusRolledBack, final.Status)
			require.Contains(t, final.Phases[1].Summary, "an earlier run of this migration (run "+first+") applied it, not this run", final.Phases[1].Summary)
			require.Equal(t, []string{"email", "id", "name", "nickname"}, userColumns(t, db.Store), "the second run's rollback undid the first run's change")
			require.Equal(t, int64(5), countWhere(t, db.Store, "nickname = 'used'"))
		})
	}
}
