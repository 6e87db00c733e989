package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/migration"
)

// expandRun is a column rename (users.email → email_address) done as
// expand (add the column, dual-write) → backfill → contract behind a gate,
// on one database.
func expandRun(t *testing.T, name string, db dbtest.DB) *demo {
	t.Helper()
	return expandRunWith(t, name, db, `{store: app, table: users, set: {email_address: "email"}, where: "email_address IS NULL", batchRows: 100, rowsPerSecond: 2000}`)
}

// expandRunWith is expandRun with another backfill section.
func expandRunWith(t *testing.T, name string, db dbtest.DB, backfill string) *demo {
	t.Helper()
	dir := t.TempDir()
	write := func(file, text string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, file), []byte(text), 0o600))
	}
	write("app.dsn", db.DSN+"\n")
	write("expand.sql", "-- add the new column; dual-write keeps it in step\nALTER TABLE users ADD COLUMN email_address VARCHAR(200);\n")
	write("expand.down.sql", "ALTER TABLE users DROP COLUMN email_address;\n")
	write("contract.sql", "ALTER TABLE users DROP COLUMN email;\n")
	text := fmt.Sprintf(`name: %[1]s
defaults:
  timeout: 2m
  heartbeatTimeout: 10s
  retry: {maxAttempts: 3, initialInterval: 1s}
stores:
  app: {engine: %[2]s, dsn: {fromFile: %[3]s/app.dsn}}
phases:
  - phase: provision
    name: expand
    expand:
      store: app
      sql: {fromFile: %[3]s/expand.sql}
      rollback: {fromFile: %[3]s/expand.down.sql}
      dualWrite:
        users: {email_address: "email", email: {from: email_address}}
  - phase: copy
    name: backfill
    heartbeatTimeout: 3s
    backfill: %[4]s
  - phase: decommission
    name: contract
    approval: {gate: contract}
    contract: {store: app, sql: {fromFile: %[3]s/contract.sql}}
`, name, db.Store.Engine, dir, backfill)
	spec := filepath.Join(dir, "spec.yaml")
	require.NoError(t, os.WriteFile(spec, []byte(text), 0o644))
	return &demo{t: t, name: name, dir: dir, spec: spec}
}

// oldWriter writes as one version of the application code does, only one
// of the two columns: new rows and changed addresses, until stopped.
type oldWriter struct {
	stop    chan struct{}
	wg      sync.WaitGroup
	writes  atomic.Int64
	lastErr atomic.Value
}

func startOldWriter(st *datastore.Store, firstID int) *oldWriter {
	return startColumnWriter(st, firstID, "email")
}

// startColumnWriter writes only column, as old code (email) or new code
// (email_address) does: new rows and changed addresses.
func startColumnWriter(st *datastore.Store, firstID int, column string) *oldWriter {
	w := &oldWriter{stop: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for id := firstID; ; id++ {
			select {
			case <-w.stop:
				return
			default:
			}
			ins := fmt.Sprintf("INSERT INTO users (id, %s) VALUES (%d, 'w%d@x')", column, id, id)
			upd := fmt.Sprintf("UPDATE users SET %s = 'changed%d@x' WHERE id = %d", column, id, 1+id%3000)
			for _, q := range []string{ins, upd} {
				if _, err := st.DB.Exec(q); err != nil {
					w.lastErr.Store(err.Error())
				} else {
					w.writes.Add(1)
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return w
}

func (w *oldWriter) halt() int64 {
	close(w.stop)
	w.wg.Wait()
	return w.writes.Load()
}

func seedUsers(t *testing.T, db dbtest.DB, rows int) {
	t.Helper()
	dbtest.Exec(t, db.Store, "CREATE TABLE users (id INTEGER NOT NULL PRIMARY KEY, email VARCHAR(200), name VARCHAR(40))")
	ctx := context.Background()
	u, err := db.Store.Introspect(ctx, "users")
	require.NoError(t, err)
	var batch [][]any
	for i := 1; i <= rows; i++ {
		batch = append(batch, []any{int64(i), fmt.Sprintf("u%d@x", i), fmt.Sprintf("user %d", i)})
	}
	require.NoError(t, db.Store.WriteBatch(ctx, u, batch))
}

func userColumns(t *testing.T, st *datastore.Store) []string {
	t.Helper()
	u, err := st.Introspect(context.Background(), "users")
	require.NoError(t, err)
	cols := u.ColumnNames()
	sort.Strings(cols)
	return cols
}

func countWhere(t *testing.T, st *datastore.Store, where string) int64 {
	t.Helper()
	var n int64
	require.NoError(t, st.DB.QueryRow("SELECT COUNT(*) FROM users WHERE "+where).Scan(&n))
	return n
}

// TestExpandContractRenamesAColumnLive renames a column on each engine
// while old-style writes go on: after the backfill every row has both
// shapes equal; approving the gate drops the old column and every trigger
// of ours; a second run rolled back at the gate leaves the original
// schema, no trigger and every row.
func TestExpandContractRenamesAColumnLive(t *testing.T) {
	t.Parallel()
	for _, engine := range []datastore.Engine{datastore.Postgres, datastore.MySQL, datastore.SQLite} {
		t.Run(string(engine), func(t *testing.T) {
			for _, approve := range []bool{true, false} {
				db := dbtest.New(t, engine)
				seedUsers(t, db, 3000)
				name := fmt.Sprintf("it-expand-%s-%v", engine, approve)
				r := expandRun(t, name, db)
				w := startOldWriter(db.Store, 100000)
				r.start()
				// Once the new column is there, new code writes only it.
				r.waitFor("the expand", func(rep migration.Report) bool { return rep.Phases[0].State == migration.PhaseCompleted })
				nw := startColumnWriter(db.Store, 200000, "email_address")
				rep := r.waitFor("the contract gate", waitingAt("contract"))
				writes, newWrites := w.halt(), nw.halt()
				require.Equal(t, migration.StatusWaitingApproval, rep.Status)
				require.Positive(t, writes, "the old-style writer wrote nothing: %v", w.lastErr.Load())
				require.Positive(t, newWrites, "the new-style writer wrote nothing: %v", nw.lastErr.Load())
				require.Positive(t, countWhere(t, db.Store, "id >= 200000"), "new-style rows")
				// Every row has both shapes equal: the backfill's and the
				// dual-write's, whichever came first.
				require.Zero(t, countWhere(t, db.Store, "email_address IS NULL OR email_address <> email"))
				rows := countWhere(t, db.Store, "1 = 1")
				require.Greater(t, rows, int64(3000))
				trs, err := db.Store.DualWriteTriggers(context.Background())
				require.NoError(t, err)
				require.NotEmpty(t, trs)

				if approve {
					out, err := godwit(t, "approve", name, "--gate", "contract")
					require.NoError(t, err, out)
					final, err := r.result()
					require.NoError(t, err)
					require.Equal(t, migration.StatusCompleted, final.Status)
					require.Equal(t, []string{"email_address", "id", "name"}, userColumns(t, db.Store))
				} else {
					out, err := godwit(t, "rollback", name, "--reason", "test")
					require.NoError(t, err, out)
					final, err := r.result()
					require.NoError(t, err, "a requested rollback that undid every phase completes the run")
					require.Equal(t, migration.StatusRolledBack, final.Status)
					require.Equal(t, []string{"email", "id", "name"}, userColumns(t, db.Store))
					require.Equal(t, rows, countWhere(t, db.Store, "1 = 1"), "every row is still there")
				}
				trs, err = db.Store.DualWriteTriggers(context.Background())
				require.NoError(t, err)
				require.Empty(t, trs, "no dual-write trigger is left")
				want := migration.StatusCompleted
				if !approve {
					want = migration.StatusRolledBack
				}
				require.Equal(t, want, r.status().Status, "godwit status -o json .status")
				if engine == datastore.SQLite {
					recordHistory(t, name) // the expand, backfill and contract drivers, approved and rolled back
				}
			}
		})
	}
}

// TestBackfillResumesAfterWorkerKilled kills the worker with SIGKILL in
// the middle of a throttled backfill on PostgreSQL; another worker takes
// the phase over and goes on after the last batch committed: every row is
// updated exactly once (an update counter the backfill increments).
func TestBackfillResumesAfterWorkerKilled(t *testing.T) {
	t.Parallel()
	bin := buildWorker(t)
	queue := "it-expand-crash"
	first, _ := startWorker(t, bin, queue)

	const rows = 20_000
	db := dbtest.New(t, datastore.Postgres)
	seedUsers(t, db, rows)
	dbtest.Exec(t, db.Store, "ALTER TABLE users ADD COLUMN updates INTEGER NOT NULL DEFAULT 0")
	r := expandRunWith(t, "it-expand-crash", db,
		`{store: app, table: users, set: {email_address: "email", updates: "updates + 1"}, batchRows: 250, rowsPerSecond: 2500}`)
	var out, errOut bytes.Buffer
	res, err := godwitOn(t, queue, &out, &errOut, "start", "-f", r.spec)
	require.NoError(t, err, res)

	running := r.waitFor("the backfill to be a fifth done", func(rep migration.Report) bool {
		return rep.Phases[1].State == migration.PhaseRunning && rep.Phases[1].Progress >= 20
	})
	require.Regexp(t, `^users: [\d,]+ / 20,000 rows, [\d,]+ updated`, running.Phases[1].Detail)
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_, _ = first.Process.Wait()
	require.Positive(t, countWhere(t, db.Store, "updates = 1"))
	require.Positive(t, countWhere(t, db.Store, "updates = 0"), "killed mid-backfill")

	startWorker(t, bin, queue)
	r.waitFor("the contract gate", waitingAt("contract"))
	rep := r.status()
	require.GreaterOrEqual(t, rep.Phases[1].Attempts, 2, "the backfill ran a second attempt on the new worker")
	require.Zero(t, countWhere(t, db.Store, "updates <> 1"), "every row updated exactly once")
	require.Zero(t, countWhere(t, db.Store, "email_address IS NULL OR email_address <> email"))
	out2, err := godwitOn(t, queue, &out, &errOut, "rollback", r.name, "--reason", "test over")
	require.NoError(t, err, out2)
	final, _ := r.result()
	require.Equal(t, migration.StatusRolledBack, final.Status)
	require.Equal(t, []string{"email", "id", "name", "updates"}, userColumns(t, db.Store))
}

// TestBackfillTakesThrottleWhileItRuns: `godwit throttle` lifts a slow
// backfill's limit while it runs; the backfill stops at its last batch and
// goes on from the store's record at the new rate, updating every row
// exactly once.
func TestBackfillTakesThrottleWhileItRuns(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t, datastore.MySQL)
	seedUsers(t, db, 3000)
	dbtest.Exec(t, db.Store, "ALTER TABLE users ADD COLUMN updates INTEGER NOT NULL DEFAULT 0")
	r := expandRunWith(t, "it-expand-throttle", db,
		`{store: app, table: users, set: {email_address: "email", updates: "updates + 1"}, batchRows: 100, rowsPerSecond: 50}`)
	r.start()
	r.waitFor("the backfill to run", func(rep migration.Report) bool {
		return rep.Phases[1].State == migration.PhaseRunning && rep.Phases[1].Progress > 0
	})
	out, err := godwit(t, "throttle", r.name, "0")
	require.NoError(t, err, out)
	require.Contains(t, out, "phase backfill of it-expand-throttle takes no rate limit")
	rep := r.waitFor("the contract gate", waitingAt("contract"))
	var messages []string
	for _, is := range rep.Issues {
		messages = append(messages, is.Message)
	}
	require.Contains(t, fmt.Sprint(messages), "phase backfill throttled to ")
	require.Zero(t, countWhere(t, db.Store, "updates <> 1"), "every row updated exactly once")
	require.Zero(t, countWhere(t, db.Store, "email_address IS NULL OR email_address <> email"))
	out, err = godwit(t, "rollback", r.name, "--reason", "test over")
	require.NoError(t, err, out)
	final, _ := r.result()
	require.Equal(t, migration.StatusRolledBack, final.Status)
}

// TestSlowBackfillStaysAlive: a backfill throttled so hard that a batch
// waits longer than its phase's heartbeat timeout (4s between batches,
// 3s timeout) keeps its activity alive and runs in one attempt.
func TestSlowBackfillStaysAlive(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t, datastore.SQLite)
	seedUsers(t, db, 300)
	r := expandRunWith(t, "it-expand-slow", db,
		`{store: app, table: users, set: {email_address: "email"}, batchRows: 100, rowsPerSecond: 25}`)
	r.start()
	rep := r.waitFor("the contract gate", waitingAt("contract"))
	require.Equal(t, 1, rep.Phases[1].Attempts, "the backfill ran in one attempt")
	require.Zero(t, countWhere(t, db.Store, "email_address IS NULL OR email_address <> email"))
	out, err := godwit(t, "rollback", r.name, "--reason", "test over")
	require.NoError(t, err, out)
	final, _ := r.result()
	require.Equal(t, migration.StatusRolledBack, final.Status)
}

// TestCleanupRemovesTheDualWriteOfATerminatedRun terminates a rename by
// hand at its contract gate, on each engine: nothing undoes it, so its
// dual-write triggers stay. `godwit status` (which has no report to show)
// warns about them and names `godwit cleanup`, which removes them; the
// data and the expanded schema are left as they are.
func TestCleanupRemovesTheDualWriteOfATerminatedRun(t *testing.T) {
	t.Parallel()
	for _, engine := range []datastore.Engine{datastore.Postgres, datastore.MySQL, datastore.SQLite} {
		t.Run(string(engine), func(t *testing.T) {
			db := dbtest.New(t, engine)
			seedUsers(t, db, 200)
			name := fmt.Sprintf("it-dw-terminated-%s", engine)
			r := expandRun(t, name, db)
			r.start()
			r.waitFor("the contract gate", waitingAt("contract"))
			require.NoError(t, env.client.TerminateWorkflow(context.Background(), name, "", "by hand, in a test"))
			trs, err := db.Store.DualWriteTriggers(context.Background())
			require.NoError(t, err)
			require.NotEmpty(t, trs)

			out, err := godwit(t, "status", name)
			require.Error(t, err, "a terminated run has no report")
			require.Contains(t, out, "WARNING: the migration ended TERMINATED but its dual-write triggers remain", out)
			require.Contains(t, out, fmt.Sprintf("⚠ app (%s): dual-write trigger %s on users", engine, trs[0].Name), out)
			require.Contains(t, out, "remove them: godwit cleanup "+name, out)
			t.Log(out)

			out, err = godwit(t, "cleanup", name)
			require.NoError(t, err, out)
			require.Contains(t, out, "removed: app dual-write trigger "+trs[0].Name, out)
			trs, err = db.Store.DualWriteTriggers(context.Background())
			require.NoError(t, err)
			require.Empty(t, trs, "cleanup left dual-write triggers")
			require.Equal(t, []string{"email", "email_address", "id", "name"}, userColumns(t, db.Store), "cleanup changes no column")
			require.Equal(t, int64(200), countWhere(t, db.Store, "1 = 1"))

			out, _ = godwit(t, "status", name)
			require.NotContains(t, out, "WARNING", out)
		})
	}
}

// TestRollbackOfAPartlyAppliedExpandOnMariaDB: an expand whose second
// statement MariaDB refuses stays partly applied (its first statement
// committed). The phase fails and its compensation runs the rollback
// script with recorded progress: the statements dropping what never ran
// are skipped and named in the phase's summary, the rest undo the first
// statement. The run ends ROLLED_BACK with the original schema.
func TestRollbackOfAPartlyAppliedExpandOnMariaDB(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t, datastore.MySQL)
	seedUsers(t, db, 50)
	r := expandRun(t, "it-expand-partial-mysql", db)
	write := func(file, text string) {
		require.NoError(t, os.WriteFile(filepath.Join(r.dir, file), []byte(text), 0o600))
	}
	write("expand.sql", "ALTER TABLE users ADD COLUMN email_address VARCHAR(200);\n"+
		"ALTER TABLE users ADD COLUMN age NOT_A_TYPE;\n"+
		"CREATE INDEX users_email_address ON users (email_address);\n")
	write("expand.down.sql", "DROP INDEX users_email_address ON users;\n"+
		"ALTER TABLE users DROP COLUMN age;\n"+
		"ALTER TABLE users DROP COLUMN email_address;\n")
	r.start()
	final, err := r.result()
	require.Error(t, err)
	require.Equal(t, migration.StatusRolledBack, final.Status, "%+v", final.Phases[0])
	expand := final.Phases[0]
	require.Equal(t, migration.PhaseCompensated, expand.State)
	require.Contains(t, expand.Summary, "partly applied, so 2 rollback statements found nothing to drop and were skipped", expand.Summary)
	require.Contains(t, expand.Summary, "rollback statement 1 (line 1)", expand.Summary)
	require.Equal(t, []string{"email", "id", "name"}, userColumns(t, db.Store))
	require.Equal(t, int64(50), countWhere(t, db.Store, "1 = 1"))
	trs, err := db.Store.DualWriteTriggers(context.Background())
	require.NoError(t, err)
	require.Empty(t, trs)
}

// TestBackfillPausesAndWaitsForItsProbe, on a real server and PostgreSQL:
// `godwit pause` stops a running backfill after its last batch (no row
// changes while paused, the run shows PAUSED) and `godwit resume` goes on
// from the store's record; a throttle probe over its maximum holds the
// backfill (no row changes, the status says why) until it falls back.
// Every row is updated exactly once.
func TestBackfillPausesAndWaitsForItsProbe(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t, datastore.Postgres)
	seedUsers(t, db, 4000)
	dbtest.Exec(t, db.Store, "ALTER TABLE users ADD COLUMN updates INTEGER NOT NULL DEFAULT 0",
		"CREATE TABLE throttle_control (lag INTEGER NOT NULL)", "INSERT INTO throttle_control VALUES (0)")
	r := expandRunWith(t, "it-expand-pause-probe", db,
		`{store: app, table: users, set: {email_address: "email", updates: "updates + 1"}, batchRows: 100, rowsPerSecond: 400,
      throttle: {probe: {name: lag, store: app, query: "SELECT lag FROM throttle_control", max: 5, every: 200ms}}}`)
	r.start()
	r.waitFor("the backfill to run", func(rep migration.Report) bool {
		return rep.Phases[1].State == migration.PhaseRunning && rep.Phases[1].Progress >= 5
	})
	steady := func(what string) int64 {
		t.Helper()
		// Settle: a batch in flight when the hold began may still commit.
		time.Sleep(time.Second)
		before := countWhere(t, db.Store, "updates = 1")
		time.Sleep(2 * time.Second)
		require.Equal(t, before, countWhere(t, db.Store, "updates = 1"), "rows were updated while %s", what)
		return before
	}

	out, err := godwit(t, "pause", r.name)
	require.NoError(t, err, out)
	rep := r.waitFor("the pause to hold the backfill", func(rep migration.Report) bool {
		return rep.Status == migration.StatusPaused && rep.Phases[1].State == migration.PhasePaused &&
			strings.HasPrefix(rep.Phases[1].Summary, "stopped by pause at its checkpoint")
	})
	paused := steady("paused")
	require.Less(t, paused, int64(4000), "paused before the end")
	require.Positive(t, rep.Phases[1].Progress, "the paused backfill keeps its progress: %+v", rep.Phases[1])
	out, err = godwit(t, "resume", r.name)
	require.NoError(t, err, out)
	r.waitFor("the backfill to go on", func(rep migration.Report) bool {
		return rep.Status == migration.StatusInProgress && countWhere(t, db.Store, "updates = 1") > paused
	})

	dbtest.Exec(t, db.Store, "UPDATE throttle_control SET lag = 10")
	rep = r.waitFor("the probe to hold the backfill", func(rep migration.Report) bool {
		return strings.Contains(rep.Phases[1].Detail, "throttled: probe lag 10 > 5")
	})
	held := steady("the probe was over its maximum")
	require.Less(t, held, int64(4000), "held before the end: %s", rep.Phases[1].Detail)
	dbtest.Exec(t, db.Store, "UPDATE throttle_control SET lag = 0")

	r.waitFor("the contract gate", waitingAt("contract"))
	require.Zero(t, countWhere(t, db.Store, "updates <> 1"), "every row updated exactly once")
	require.Zero(t, countWhere(t, db.Store, "email_address IS NULL OR email_address <> email"))
	out, err = godwit(t, "rollback", r.name, "--reason", "test over")
	require.NoError(t, err, out)
	final, _ := r.result()
	require.Equal(t, migration.StatusRolledBack, final.Status)
}
