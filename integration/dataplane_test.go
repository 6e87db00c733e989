package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/migration"
)

// dataRun is one data-plane migration of its own: a source and a target
// database, their DSNs in files (as a worker would read them), and a spec.
type dataRun struct {
	*demo
	src, dst dbtest.DB
}

// newDataRun writes the spec: its stores, then the phases given (which
// may use %[1]s for the run's directory).
func newDataRun(t *testing.T, name string, src, dst dbtest.DB, phases string) *dataRun {
	t.Helper()
	dir := t.TempDir()
	for file, dsn := range map[string]string{"legacy.dsn": src.DSN, "new.dsn": dst.DSN} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, file), []byte(dsn+"\n"), 0o600))
	}
	text := fmt.Sprintf(`name: %s
defaults:
  timeout: 2m
  heartbeatTimeout: 5s
  retry: {maxAttempts: 3, initialInterval: 1s}
stores:
  legacy: {engine: %s, dsn: {fromFile: %s/legacy.dsn}}
  new: {engine: %s, dsn: {fromFile: %s/new.dsn}}
phases:
%s`, name, src.Store.Engine, dir, dst.Store.Engine, dir, phases)
	spec := filepath.Join(dir, "spec.yaml")
	require.NoError(t, os.WriteFile(spec, []byte(text), 0o644))
	return &dataRun{demo: &demo{t: t, name: name, dir: dir, spec: spec}, src: src, dst: dst}
}

// seedKitchen fills the source with the kitchen table (every kind of
// value) and a plain one.
func seedKitchen(t *testing.T, db dbtest.DB, rows int) {
	t.Helper()
	dbtest.Exec(t, db.Store, dbtest.KitchenDDL(db.Store.Engine, "kitchen")...)
	dbtest.Exec(t, db.Store, "CREATE TABLE plain (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL)")
	ctx := context.Background()
	k, err := db.Store.Introspect(ctx, "kitchen")
	require.NoError(t, err)
	for from := 0; from < rows; from += 1000 {
		require.NoError(t, db.Store.WriteBatch(ctx, k, dbtest.KitchenRows(from, min(from+1000, rows))))
	}
	seedPlain(t, db, rows)
}

func seedPlain(t *testing.T, db dbtest.DB, rows int) {
	t.Helper()
	ctx := context.Background()
	p, err := db.Store.Introspect(ctx, "plain")
	require.NoError(t, err)
	batch := make([][]any, 0, 5000)
	for i := 1; i <= rows; i++ {
		batch = append(batch, []any{int64(i), fmt.Sprintf("label %d", i)})
		if len(batch) == cap(batch) || i == rows {
			require.NoError(t, db.Store.WriteBatch(ctx, p, batch))
			batch = batch[:0]
		}
	}
}

func tablesOf(t *testing.T, s *datastore.Store) []string {
	t.Helper()
	names, err := s.ListTables(context.Background())
	require.NoError(t, err)
	return names
}

const dataPhases = `  - phase: validate
    hook:
      run: {command: ["true"]}
  - phase: provision
    provision: {from: legacy, to: new, tables: ["kitchen*", plain], deferIndexes: true}
  - phase: copy
    copy:
      from: legacy
      to: new
      tables: ["kitchen*"]
      batchRows: 500
      catchUp: {column: updated_at}
      createIndexes: true
  - phase: copy
    name: copy-plain
    copy: {from: legacy, to: new, tables: [plain], batchRows: 1000}
`

// TestDataPlaneMigrationsComplete runs a whole migration per engine pair
// on the dev server: preflight in validate, provision, copy with catch-up,
// indexes after the load; the target must equal the source row for row.
func TestDataPlaneMigrationsComplete(t *testing.T) {
	t.Parallel()
	for _, pair := range []struct{ from, to datastore.Engine }{
		{datastore.SQLite, datastore.Postgres},
		{datastore.Postgres, datastore.MySQL},
	} {
		t.Run(string(pair.from)+" to "+string(pair.to), func(t *testing.T) {
			t.Parallel()
			src, dst := dbtest.New(t, pair.from), dbtest.New(t, pair.to)
			seedKitchen(t, src, 3000)
			r := newDataRun(t, fmt.Sprintf("it-data-%s-%s", pair.from, pair.to), src, dst, dataPhases)
			r.start()
			final, err := r.result()
			require.NoError(t, err, "%+v", final)
			require.Equal(t, migration.StatusCompleted, final.Status)
			require.Equal(t, migration.PhaseCompleted, final.Phases[0].State)
			require.Equal(t, "created 2 tables in new: kitchen, plain", final.Phases[1].Summary)
			require.Equal(t, int64(3000), final.Phases[2].Records)
			require.Contains(t, final.Phases[2].Summary, "copied 3,000 rows of 1 table from legacy to new")
			require.Contains(t, final.Phases[2].Summary, "catch-up re-copied")
			require.Contains(t, final.Phases[2].Summary, "secondary indexes created")
			require.Equal(t, int64(3000), final.Phases[3].Records)

			dbtest.AssertSameRows(t, src.Store, dst.Store, "kitchen")
			dbtest.AssertSameRows(t, src.Store, dst.Store, "plain")
			k, err := dst.Store.Introspect(context.Background(), "kitchen")
			require.NoError(t, err)
			require.Len(t, k.Indexes, 2, "the secondary indexes were created after the load")
		})
	}
}

// TestDataPlaneRollbackDropsProvisionedTables rolls back at a gate after
// the copy: the copy's compensation empties the tables, provision's drops
// them, and a table of the target's own is left alone.
func TestDataPlaneRollbackDropsProvisionedTables(t *testing.T) {
	t.Parallel()
	src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.Postgres)
	seedKitchen(t, src, 500)
	dbtest.Exec(t, dst.Store, "CREATE TABLE accounts (id INTEGER PRIMARY KEY)", "INSERT INTO accounts VALUES (1)")
	r := newDataRun(t, "it-data-rollback", src, dst, dataPhases+`  - phase: reconcile
    approval: {gate: go-live}
    hook:
      run: {command: ["true"]}
`)
	r.start()
	r.waitFor("the go-live gate", waitingAt("go-live"))
	require.Equal(t, []string{"accounts", "kitchen", "plain"}, tablesOf(t, dst.Store))
	out, err := godwit(t, "rollback", r.name, "--reason", "test")
	require.NoError(t, err, out)
	final, err := r.result()
	require.NoError(t, err, "a requested rollback that undid every phase completes the run")
	require.Equal(t, migration.StatusRolledBack, final.Status)
	require.Equal(t, "emptied plain in new", final.Phases[3].Summary)
	require.Equal(t, "emptied kitchen in new", final.Phases[2].Summary)
	require.Equal(t, "dropped 2 tables this migration created in new: kitchen, plain", final.Phases[1].Summary)
	require.Equal(t, []string{"accounts"}, tablesOf(t, dst.Store), "only the provisioned tables were dropped")
	n, err := dst.Store.Count(context.Background(), "accounts")
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
}

// TestDataPlaneCopyResumesAfterWorkerKilled kills the worker process with
// SIGKILL in the middle of a throttled copy; another worker takes the
// phase over after its heartbeat timeout and resumes from the last
// heartbeated checkpoint. No row may be lost or doubled.
func TestDataPlaneCopyResumesAfterWorkerKilled(t *testing.T) {
	t.Parallel()
	bin := buildWorker(t)
	queue := "it-data-crash"
	first, _ := startWorker(t, bin, queue)

	const rows = 40_000
	src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store, "CREATE TABLE plain (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL)")
	seedPlain(t, src, rows)
	r := newDataRun(t, "it-data-crash", src, dst, `  - phase: provision
    provision: {from: legacy, to: new, tables: [plain]}
  - phase: copy
    heartbeatTimeout: 3s
    copy: {from: legacy, to: new, tables: [plain], batchRows: 500, rowsPerSecond: 5000}
`)
	var out, errOut bytes.Buffer
	res, err := godwitOn(t, queue, &out, &errOut, "start", "-f", r.spec)
	require.NoError(t, err, res)

	running := r.waitFor("the copy to be a fifth done", func(rep migration.Report) bool {
		return rep.Phases[1].State == migration.PhaseRunning && rep.Phases[1].Progress >= 20
	})
	require.Regexp(t, `^plain: [\d,]+ / 40,000 rows, [\d,]+ rows/s, ETA \d+s$`, running.Phases[1].Detail)
	// The same figures, as numbers, for the dashboard's per-table bars.
	require.Len(t, running.Phases[1].Tables, 1, "%+v", running.Phases[1])
	table := running.Phases[1].Tables[0]
	require.Equal(t, "plain", table.Table)
	require.Equal(t, int64(rows), table.Total)
	require.Positive(t, table.RowsDone)
	require.Positive(t, table.RowsPerSecond)
	require.Positive(t, table.ETASeconds)
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_, _ = first.Process.Wait()
	copiedBefore, err := dst.Store.Count(context.Background(), "plain")
	require.NoError(t, err)
	require.Less(t, copiedBefore, int64(rows), "killed mid-copy")

	_, logs := startWorker(t, bin, queue)
	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	// At least a second attempt, on the new worker; a loaded machine may
	// add one more (a heartbeat missed), which must resume just the same.
	require.GreaterOrEqual(t, final.Phases[1].Attempts, 2, "the copy ran a second attempt on the new worker")
	require.Equal(t, int64(rows), final.Phases[1].Records)
	dbtest.AssertSameRows(t, src.Store, dst.Store, "plain")

	resumed := regexp.MustCompile(`"@message":"resuming from checkpoint"[^\n]*"rows_done":(\d+)`).FindStringSubmatch(logs.String())
	require.NotNil(t, resumed, "the second worker resumed from a checkpoint:\n%s", logs.String())
	require.NotEqual(t, "0", resumed[1])
	require.False(t, strings.Contains(logs.String(), `"@message":"backfill","from_key":null`), "it did not start over")
}

// TestDataPlanePreflightListsEveryProblem: a missing table and an
// unreachable target are reported together by the validate phase,
// before anything changed.
func TestDataPlanePreflightListsEveryProblem(t *testing.T) {
	t.Parallel()
	src := dbtest.New(t, datastore.SQLite)
	seedKitchen(t, src, 10)
	down := dbtest.DB{Store: &datastore.Store{Engine: datastore.Postgres},
		DSN: "postgres://postgres@127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=2"}
	r := newDataRun(t, "it-data-preflight", src, down, `  - phase: validate
    hook:
      run: {command: ["true"]}
  - phase: provision
    provision: {from: legacy, to: new, tables: [kitchen, ordres]}
  - phase: copy
    copy: {from: legacy, to: new, tables: [kitchen, ordres]}
`)
	start := time.Now()
	r.start()
	final, err := r.result()
	require.Error(t, err)
	require.Less(t, time.Since(start), 45*time.Second)
	require.Equal(t, migration.PhaseFailed, final.Phases[0].State)
	msg := final.Phases[0].Error
	// Each problem once, with the phases that found it.
	require.Contains(t, msg, "preflight found 2 problems")
	require.Contains(t, msg, `phases provision, copy: store new (postgres) is not reachable from this worker`)
	require.Contains(t, msg, `phases provision, copy: store legacy: table "ordres" does not exist (it has kitchen, plain)`)
	require.Equal(t, migration.PhasePending, final.Phases[1].State, "nothing ran after the failed preflight")
}
