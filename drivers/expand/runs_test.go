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
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/drivers/contract"
	"github.com/godwit/godwit/drivers/expand"
	"github.com/godwit/godwit/specfiles"
)

// expandOnlySpec is a migration of one expand phase (no contract: its
// record stays once it completes) on db, applying up, undone by down.
func expandOnlySpec(t *testing.T, db dbtest.DB, up, down string) *config.Spec {
	t.Helper()
	dir := t.TempDir()
	t.Setenv(specfiles.DirEnv, dir)
	for name, text := range map[string]string{"app.dsn": db.DSN, "expand.sql": up, "expand.down.sql": down} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600))
	}
	spec, err := config.ParseSpec([]byte(fmt.Sprintf(`name: rerun
stores:
  app: {engine: %s, dsn: {fromFile: %s}}
phases:
  - phase: provision
    name: expand
    expand: {store: app, sql: {fromFile: expand.sql}, rollback: {fromFile: expand.down.sql}}
`, db.Store.Engine, filepath.Join(dir, "app.dsn"))))
	require.NoError(t, err)
	return spec
}

// runOf is the phase's activity of run run: Do's result and error.
func runOf(t *testing.T, d activities.Driver, action activities.Action, spec *config.Spec, run string) (activities.PhaseResult, error) {
	t.Helper()
	in := activities.PhaseInput{Migration: spec.Name, Run: run, Phase: roundTrip(t, spec.Phases[0])}
	return d.Do(context.Background(), action, in, activities.Heartbeat{}, func(activities.Heartbeat) {})
}

// An expand-only migration run again with the same script after an
// earlier run completed took that run's expand as its own ("already
// applied ... by an earlier attempt"), and its rollback ran the rollback
// script: the column the completed run added, and the application had
// started to fill, was dropped. The later run now finds the change in
// place and another run's: its preflight passes (the dry run, which would
// refuse the column as already there, is not run), its expand says whose
// the change is, and its rollback leaves it. The earlier run's own retry
// and rollback still find it theirs.
func TestALaterRunOfAnExpandNeverUndoesWhatAnEarlierRunApplied(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.New(t, engine)
			dbtest.Exec(t, db.Store, "CREATE TABLE users (id INTEGER NOT NULL PRIMARY KEY, email VARCHAR(200))", "INSERT INTO users VALUES (1, 'a@x')")
			spec := expandOnlySpec(t, db, "ALTER TABLE users ADD COLUMN nickname VARCHAR(50);", "ALTER TABLE users DROP COLUMN nickname;")
			e := expand.New(hclog.NewNullLogger())

			res, err := runOf(t, e, activities.ActionRun, spec, "run-1")
			require.NoError(t, err)
			require.Contains(t, res.Summary, "applied 1 statement")
			res, err = runOf(t, e, activities.ActionRun, spec, "run-1")
			require.NoError(t, err, "the first run's retry")
			require.Contains(t, res.Summary, "already applied to app by an earlier attempt")
			byHand(t, db, "UPDATE users SET nickname = 'ann' WHERE id = 1") // the application uses it

			require.Empty(t, e.Preflight(activities.WithRun(ctx, "run-2"), spec, spec.Phases[0]), "the second run's preflight")
			res, err = runOf(t, e, activities.ActionRun, spec, "run-2")
			require.NoError(t, err)
			require.Contains(t, res.Summary, "expand.sql was already applied to app by an earlier run of this migration (run run-1): it stays that run's, so this run's rollback leaves it in place")
			res, err = runOf(t, e, activities.ActionCompensate, spec, "run-2")
			require.NoError(t, err)
			require.Contains(t, res.Summary, "left expand.sql in app as it is: an earlier run of this migration (run run-1) applied it, not this run (to undo it, run the rollback script expand.down.sql by hand, then godwit cleanup rerun)")
			require.Equal(t, "ann", nickname(t, db), "the second run's rollback undid the first run's change")

			res, err = runOf(t, e, activities.ActionCompensate, spec, "run-1")
			require.NoError(t, err)
			require.Contains(t, res.Summary, "ran the 1 statement of the rollback SQL")
			tb, err := db.Store.Introspect(ctx, "users")
			require.NoError(t, err)
			require.Equal(t, []string{"id", "email"}, tb.ColumnNames(), "the first run's rollback")
		})
	}
}

// An expand an earlier run left part way (MySQL/MariaDB: a statement
// refused, and that run ended without its rollback) is another run's:
// the later run's preflight and expand refuse it, saying whose it is and
// how to go on, and its rollback leaves what that run applied.
func TestALaterRunRefusesAnExpandAnEarlierRunLeftPartWay(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, db.Store, "CREATE TABLE users (id INTEGER NOT NULL PRIMARY KEY, email VARCHAR(200))", "INSERT INTO users VALUES (1, 'a@x')")
	spec := expandOnlySpec(t, db, "ALTER TABLE users ADD COLUMN nickname VARCHAR(50);\nALTER TABLE users ADD COLUMN age NOT_A_TYPE;",
		"ALTER TABLE users DROP COLUMN age;\nALTER TABLE users DROP COLUMN nickname;")
	e := expand.New(hclog.NewNullLogger())
	_, err := runOf(t, e, activities.ActionRun, spec, "run-1")
	require.Error(t, err, "the first run's expand")

	want := "change rerun/expand was left part way by another run of its migration (run run-1), with 1 statement of it applied"
	problems := strings.Join(e.Preflight(activities.WithRun(ctx, "run-2"), spec, spec.Phases[0]), "\n")
	require.Contains(t, problems, want)
	require.Contains(t, problems, "godwit cleanup rerun forgets it")
	_, err = runOf(t, e, activities.ActionRun, spec, "run-2")
	require.ErrorContains(t, err, want)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.True(t, appErr.NonRetryable(), "a retry finds it so again: %v", err)
	_, err = runOf(t, e, activities.ActionCompensate, spec, "run-2")
	require.NoError(t, err)
	tb, err := db.Store.Introspect(ctx, "users")
	require.NoError(t, err)
	require.Equal(t, []string{"id", "email", "nickname"}, tb.ColumnNames(), "the second run's rollback undid the first run's statement")
}

func nickname(t *testing.T, db dbtest.DB) string {
	t.Helper()
	var s string
	require.NoError(t, db.Store.DB.QueryRow("SELECT nickname FROM users WHERE id = 1").Scan(&s))
	return s
}

// A contract an earlier run applied is found so by a later run (a
// migration of a contract alone, which no expand forgets for it): its
// summary names that run rather than "an earlier attempt".
func TestALaterRunNamesTheRunThatAppliedItsContract(t *testing.T) {
	db := dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, db.Store, "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(200), legacy INTEGER)")
	spec := sqliteSpec(t, db, map[string]string{"contract.sql": "ALTER TABLE users DROP COLUMN legacy;"}, `name: drop
phases:
  - phase: decommission
    name: contract
    contract: {store: app, sql: {fromFile: contract.sql}}
`)
	c := contract.New(hclog.NewNullLogger())
	_, err := runOf(t, c, activities.ActionRun, spec, "run-1")
	require.NoError(t, err)
	res, err := runOf(t, c, activities.ActionRun, spec, "run-1")
	require.NoError(t, err)
	require.Contains(t, res.Summary, "contract.sql was already applied to app by an earlier attempt")
	res, err = runOf(t, c, activities.ActionRun, spec, "run-2")
	require.NoError(t, err)
	require.Contains(t, res.Summary, "contract.sql was already applied to app by an earlier run of this migration (run run-1)")
}
