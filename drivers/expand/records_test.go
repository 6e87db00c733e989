package expand_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/drivers/backfill"
	"github.com/godwit/godwit/drivers/contract"
	"github.com/godwit/godwit/drivers/expand"
	"github.com/godwit/godwit/specfiles"
)

// A rollback of a migration with two expand phases in one store undoes
// both: the second expand must not forget the first's record, without
// which the first's compensation takes it as never applied and runs no
// rollback SQL.
func TestTwoExpandsRollBackBoth(t *testing.T) {
	db := dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, db.Store, "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(200))")
	spec := sqliteSpec(t, db, map[string]string{
		"a.sql": "ALTER TABLE users ADD COLUMN a INTEGER;", "a.down.sql": "ALTER TABLE users DROP COLUMN a;",
		"b.sql": "ALTER TABLE users ADD COLUMN b INTEGER;", "b.down.sql": "ALTER TABLE users DROP COLUMN b;",
	}, `name: two
phases:
  - phase: provision
    name: expand-a
    expand: {store: app, sql: {fromFile: a.sql}, rollback: {fromFile: a.down.sql}}
  - phase: provision
    name: expand-b
    expand: {store: app, sql: {fromFile: b.sql}, rollback: {fromFile: b.down.sql}}
`)
	e := expand.New(hclog.NewNullLogger())
	run(t, e, activities.ActionRun, spec, 0)
	run(t, e, activities.ActionRun, spec, 1)
	run(t, e, activities.ActionCompensate, spec, 1)
	res := run(t, e, activities.ActionCompensate, spec, 0)
	require.NotContains(t, res.Summary, "nothing of the change was applied", "the first expand's rollback")
	tb, err := db.Store.Introspect(context.Background(), "users")
	require.NoError(t, err)
	require.Equal(t, []string{"id", "email"}, tb.ColumnNames())
}

// A column an earlier expand phase adds may be dual-written by a later one
// whose own SQL does not name it: preflight, which runs before either,
// finds it in the earlier phase's script, and still refuses a name no
// expand SQL of the store adds.
func TestPreflightFindsADualWrittenColumnAnEarlierExpandAdds(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, db.Store, "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(200))")
	phases := `name: two
phases:
  - phase: provision
    name: expand-a
    expand: {store: app, sql: {fromFile: a.sql}, rollback: {fromFile: a.down.sql}}
  - phase: provision
    name: expand-b
    expand: {store: app, sql: {fromFile: b.sql}, rollback: {fromFile: b.down.sql}, dualWrite: {users: {%s: "email", b: {from: %s}}}}
`
	files := map[string]string{
		"a.sql": "ALTER TABLE users ADD COLUMN a VARCHAR(200);", "a.down.sql": "ALTER TABLE users DROP COLUMN a;",
		"b.sql": "ALTER TABLE users ADD COLUMN b VARCHAR(200);", "b.down.sql": "ALTER TABLE users DROP COLUMN b;",
	}
	e := expand.New(hclog.NewNullLogger())
	spec := sqliteSpec(t, db, files, fmt.Sprintf(phases, "a", "a"))
	require.Empty(t, e.Preflight(ctx, spec, spec.Phases[1]))

	spec = sqliteSpec(t, db, files, fmt.Sprintf(phases, "c", "c"))
	problems := e.Preflight(ctx, spec, spec.Phases[1])
	require.Len(t, problems, 1, "%q", problems)
	require.Contains(t, problems[0], "dualWrite.users.c: users has no column c, and the expand SQL (b.sql) does not add it")
}

// A migration without an expand (backfill, then contract) run again under
// the name of one that completed applies its contract: the backfill
// forgets the completed run's contract record.
func TestRerunOfABackfillAndContractAppliesTheContract(t *testing.T) {
	db := dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, db.Store, "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(200), email_address VARCHAR(200), legacy INTEGER)",
		"INSERT INTO users (id, email) VALUES (1, 'a@x'), (2, 'b@x')")
	spec := sqliteSpec(t, db, map[string]string{"contract.sql": "ALTER TABLE users DROP COLUMN legacy;"}, `name: fill
phases:
  - phase: copy
    name: backfill
    backfill: {store: app, table: users, set: {email_address: "email"}}
  - phase: decommission
    name: contract
    contract: {store: app, sql: {fromFile: contract.sql}}
`)
	log := hclog.NewNullLogger()
	b, c := backfill.New(log), contract.New(log)
	run(t, b, activities.ActionRun, spec, 0)
	run(t, c, activities.ActionRun, spec, 1)

	// The column is back (by hand, or another change), and the same
	// migration runs again.
	byHand(t, db, "ALTER TABLE users ADD COLUMN legacy INTEGER")
	run(t, b, activities.ActionRun, spec, 0)
	res := run(t, c, activities.ActionRun, spec, 1)
	require.NotContains(t, res.Summary, "already applied", "the second run's contract")
	tb, err := db.Store.Introspect(context.Background(), "users")
	require.NoError(t, err)
	require.Equal(t, []string{"id", "email", "email_address"}, tb.ColumnNames())
}

// An expand phase of a run started before LaterPhases existed (its phase
// carries no "later") keeps the old rule: a fresh expand forgets the
// migration's other records, so a rerun after a completed run still
// applies its contract.
func TestAnExpandOfARunInFlightKeepsTheOldRule(t *testing.T) {
	db := dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, db.Store, "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(200))", "INSERT INTO users VALUES (1, 'a@x')")
	spec := renameSpec(t, db)
	log := hclog.NewNullLogger()
	e, b, c := expand.New(log), backfill.New(log), contract.New(log)
	run(t, e, activities.ActionRun, spec, 0)
	run(t, b, activities.ActionRun, spec, 1)
	run(t, c, activities.ActionRun, spec, 2)
	byHand(t, db, "ALTER TABLE users ADD COLUMN email VARCHAR(200)", "ALTER TABLE users DROP COLUMN email_address")

	old := roundTrip(t, spec.Phases[0])
	old.Driver.(*expand.Spec).Later = nil
	in := activities.PhaseInput{Migration: spec.Name, Phase: old}
	_, err := e.Do(context.Background(), activities.ActionRun, in, activities.Heartbeat{}, func(activities.Heartbeat) {})
	require.NoError(t, err)
	// Only the contract (no backfill): its record was the one left.
	res := run(t, c, activities.ActionRun, spec, 2)
	require.NotContains(t, res.Summary, "already applied", "the contract after an old-rule expand")
}

// byHand runs DDL as a person would, on a connection of its own: the test's
// pooled SQLite connection may hold the schema from before the drivers'
// DDL, and SQLite checks ADD COLUMN against the schema it holds.
func byHand(t *testing.T, db dbtest.DB, stmts ...string) {
	t.Helper()
	st, err := datastore.Open(context.Background(), db.Store.Engine, db.DSN)
	require.NoError(t, err)
	defer st.Close()
	dbtest.Exec(t, st, stmts...)
}

// sqliteSpec writes files into a files directory of the test's, with db's
// DSN as app.dsn, and parses phases (a spec without stores) with the
// store app on db added.
func sqliteSpec(t *testing.T, db dbtest.DB, files map[string]string, phases string) *config.Spec {
	t.Helper()
	dir := t.TempDir()
	t.Setenv(specfiles.DirEnv, dir)
	files["app.dsn"] = db.DSN
	for name, text := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600))
	}
	name, rest, _ := strings.Cut(phases, "\n")
	text := fmt.Sprintf("%s\nstores:\n  app: {engine: sqlite, dsn: {fromFile: %s}}\n%s", name, filepath.Join(dir, "app.dsn"), rest)
	spec, err := config.ParseSpec([]byte(text))
	require.NoError(t, err)
	return spec
}
