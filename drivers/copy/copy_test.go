package copy_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	copydriver "github.com/godwit/godwit/drivers/copy"
	"github.com/godwit/godwit/drivers/provision"
)

// dataSpec writes a spec moving the kitchen and plain tables from a
// source to a target store, their DSNs in files, and parses it.
func dataSpec(t *testing.T, name string, src, dst dbtest.DB, copyExtra string) *config.Spec {
	t.Helper()
	dir := t.TempDir()
	file := func(n, dsn string) string {
		p := filepath.Join(dir, n)
		require.NoError(t, os.WriteFile(p, []byte(dsn+"\n"), 0o600))
		return p
	}
	text := fmt.Sprintf(`name: %s
stores:
  legacy: {engine: %s, dsn: {fromFile: %s}}
  new: {engine: %s, dsn: {fromFile: %s}}
phases:
  - phase: provision
    provision: {from: legacy, to: new, tables: ["kitchen*", plain]}
  - phase: copy
    copy: {from: legacy, to: new, tables: ["kitchen*", plain], batchRows: 100%s}
`, name, src.Store.Engine, file("legacy", src.DSN), dst.Store.Engine, file("new", dst.DSN), copyExtra)
	spec, err := config.ParseSpec([]byte(text))
	require.NoError(t, err, text)
	return spec
}

func seed(t *testing.T, db dbtest.DB, rows int) {
	t.Helper()
	dbtest.Exec(t, db.Store, dbtest.KitchenDDL(db.Store.Engine, "kitchen")...)
	dbtest.Exec(t, db.Store, "CREATE TABLE plain (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL)")
	ctx := context.Background()
	k, err := db.Store.Introspect(ctx, "kitchen")
	require.NoError(t, err)
	require.NoError(t, db.Store.WriteBatch(ctx, k, dbtest.KitchenRows(0, rows)))
	p, err := db.Store.Introspect(ctx, "plain")
	require.NoError(t, err)
	var plain [][]any
	for i := 1; i <= rows/2; i++ {
		plain = append(plain, []any{int64(i), fmt.Sprintf("label %d", i)})
	}
	require.NoError(t, db.Store.WriteBatch(ctx, p, plain))
}

func input(spec *config.Spec, i int) activities.PhaseInput {
	return activities.PhaseInput{Migration: spec.Name, Phase: spec.Phases[i]}
}

func logger() hclog.Logger { return hclog.NewNullLogger() }

// TestProvisionCopyPauseResumeAndUndo runs the two drivers as the
// workflow would: preflight, provision, a copy cancelled after a few
// batches (a pause), the copy resumed from its last heartbeat, and both
// compensations, on each target engine.
func TestProvisionCopyPauseResumeAndUndo(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run("sqlite to "+string(engine), func(t *testing.T) {
			src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, engine)
			seed(t, src, 1200)
			// A table of the target's own that matches the pattern: never
			// dropped, never emptied.
			dbtest.Exec(t, dst.Store, "CREATE TABLE kitchen_mine (id INTEGER PRIMARY KEY)", "INSERT INTO kitchen_mine VALUES (7)")
			spec := dataSpec(t, "drv-"+string(engine), src, dst, "")
			ctx := context.Background()
			prov, cp := provision.New(logger()), copydriver.New(logger())

			// kitchen_mine exists only on the target, so the source's
			// pattern does not select it and preflight passes.
			assert.Empty(t, prov.Preflight(ctx, spec, spec.Phases[0]))
			assert.Empty(t, cp.Preflight(ctx, spec, spec.Phases[1]), "the copy's target tables come from the earlier provision")

			res, err := prov.Do(ctx, activities.ActionRun, input(spec, 0), activities.Heartbeat{}, func(activities.Heartbeat) {})
			require.NoError(t, err)
			assert.Equal(t, int64(2), res.Records, res.Summary)

			// A pause: cancel after the third batch's heartbeat.
			cctx, cancel := context.WithCancel(ctx)
			var beats []activities.Heartbeat
			_, err = cp.Do(cctx, activities.ActionRun, input(spec, 1), activities.Heartbeat{}, func(hb activities.Heartbeat) {
				beats = append(beats, hb)
				if len(beats) == 3 {
					cancel()
				}
			})
			require.ErrorIs(t, err, context.Canceled)
			last := beats[len(beats)-1]
			var ckpt datacopy.Checkpoint
			require.NoError(t, json.Unmarshal([]byte(last.Checkpoint), &ckpt))
			require.Positive(t, last.Records)
			require.Less(t, last.Records, int64(1800), "stopped before the end")
			assert.Equal(t, last.Records, rowsIn(t, dst.Store, "kitchen")+rowsIn(t, dst.Store, "plain"),
				"the checkpoint counts exactly the committed rows")
			assert.Contains(t, last.Detail, "kitchen: ")
			assert.Contains(t, last.Detail, " / 1,200 rows")

			var resumedFrom int64 = -1
			res, err = cp.Do(ctx, activities.ActionRun, input(spec, 1), last, func(hb activities.Heartbeat) {
				if resumedFrom < 0 {
					resumedFrom = hb.Records
				}
			})
			require.NoError(t, err)
			assert.Greater(t, resumedFrom, last.Records-1, "the resumed copy went on from the checkpoint")
			assert.Equal(t, int64(1800), res.Records, res.Summary)
			dbtest.AssertSameRows(t, src.Store, dst.Store, "kitchen")
			dbtest.AssertSameRows(t, src.Store, dst.Store, "plain")

			// Compensations, twice each: the second finds nothing to do.
			for range 2 {
				_, err = cp.Do(ctx, activities.ActionCompensate, input(spec, 1), activities.Heartbeat{}, func(activities.Heartbeat) {})
				require.NoError(t, err)
				assert.Zero(t, rowsIn(t, dst.Store, "kitchen"))
				assert.Equal(t, int64(1), rowsIn(t, dst.Store, "kitchen_mine"), "a table the migration did not create keeps its rows")
			}
			for range 2 {
				_, err = prov.Do(ctx, activities.ActionCompensate, input(spec, 0), activities.Heartbeat{}, func(activities.Heartbeat) {})
				require.NoError(t, err)
			}
			tables, err := dst.Store.ListTables(ctx)
			require.NoError(t, err)
			assert.Equal(t, []string{"kitchen_mine"}, tables)
		})
	}
}

func rowsIn(t *testing.T, s *datastore.Store, table string) int64 {
	t.Helper()
	n, err := s.Count(context.Background(), table)
	require.NoError(t, err)
	return n
}

// TestPreflightListsEveryProblem gives preflight a missing table, a table
// without a primary key, a bad catch-up column and an unreachable target.
func TestPreflightListsEveryProblem(t *testing.T) {
	src := dbtest.New(t, datastore.SQLite)
	seed(t, src, 10)
	dbtest.Exec(t, src.Store, "CREATE TABLE kitchen_log (msg TEXT)")
	dir := t.TempDir()
	legacy := filepath.Join(dir, "legacy")
	require.NoError(t, os.WriteFile(legacy, []byte(src.DSN), 0o600))
	spec, err := config.ParseSpec([]byte(fmt.Sprintf(`name: broken
stores:
  legacy: {engine: sqlite, dsn: {fromFile: %s}}
  new: {engine: postgres, dsn: {fromEnv: GODWIT_TEST_UNSET_DSN_VAR}}
  down: {engine: postgres, dsn: {fromFile: %s}}
phases:
  - phase: copy
    copy: {from: legacy, to: new, tables: ["kitchen*", ordres], catchUp: {column: changed}}
  - phase: copy
    name: copy-2
    copy: {from: legacy, to: down, tables: [plain]}
`, legacy, writeFile(t, dir, "down", "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2"))))
	require.NoError(t, err)
	d := copydriver.New(logger())
	problems := d.Preflight(context.Background(), spec, spec.Phases[0])
	assert.ElementsMatch(t, []string{
		"store new: cannot read its DSN: environment variable GODWIT_TEST_UNSET_DSN_VAR is not set for this process (copy.test)",
		`store legacy: table "ordres" does not exist (it has kitchen, kitchen_log, plain)`,
		"store legacy: table kitchen has no column changed for catchUp.column",
		"store legacy: table kitchen_log has no primary key: the copy reads by key to resume where it stopped, so add one (or list the table in fullCopy to copy it in one pass that is not resumable)",
		"store legacy: table kitchen_log has no column changed for catchUp.column",
	}, problems)
	problems = d.Preflight(context.Background(), spec, spec.Phases[1])
	require.Len(t, problems, 1)
	assert.Contains(t, problems[0], "store down (postgres) is not reachable from this worker")
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	return p
}

// TestPermanentErrorsAreNotRetried: a copy into a store without the
// target tables cannot succeed on a retry.
func TestPermanentErrorsAreNotRetried(t *testing.T) {
	src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.SQLite)
	seed(t, src, 10)
	spec := dataSpec(t, "no-target", src, dst, "")
	_, err := copydriver.New(logger()).Do(context.Background(), activities.ActionRun, input(spec, 1), activities.Heartbeat{}, func(activities.Heartbeat) {})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	assert.True(t, appErr.NonRetryable())
	assert.Equal(t, activities.ErrTypeConfig, appErr.Type())
	assert.Contains(t, appErr.Error(), "provision it first")
}

type configSpec = config.Spec

func mustParse(t testing.TB, text string) *config.Spec {
	t.Helper()
	spec, err := config.ParseSpec([]byte(text))
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	return spec
}

// A copy whose two stores are one database (two names, two DSNs) is
// refused when it runs, even without a preflight before it, and touches
// nothing.
func TestCopyOntoItselfIsRefused(t *testing.T) {
	src := dbtest.New(t, datastore.SQLite)
	seed(t, src, 10)
	spec := dataSpec(t, "onto-itself", src, dbtest.DB{DSN: "file:" + src.DSN, Store: src.Store}, "")
	_, err := copydriver.New(logger()).Do(context.Background(), activities.ActionRun, input(spec, 1), activities.Heartbeat{}, func(activities.Heartbeat) {})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	assert.True(t, appErr.NonRetryable())
	assert.Equal(t, activities.ErrTypeConfig, appErr.Type())
	assert.Contains(t, appErr.Error(), "stores legacy and new are the same database")
	n, err := src.Store.Count(context.Background(), "plain")
	require.NoError(t, err)
	assert.Equal(t, int64(5), n)
}
