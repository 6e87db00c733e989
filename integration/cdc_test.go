package integration

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/cdc"
	"github.com/godwit/godwit/cdc/cdctest"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/migration"
)

// cdcPhases: provision, set the capture up, copy, replicate until caught
// up (writes keep running), then — once a person says the writes stopped
// — drain and remove the capture.
const cdcPhases = `  - phase: validate
    hook:
      run: {command: ["true"]}
  - phase: provision
    provision: {from: legacy, to: new, tables: [kitchen]}
  - phase: provision
    name: capture
    replicate: {from: legacy, to: new, tables: [kitchen], mode: setup}
  - phase: copy
    copy: {from: legacy, to: new, tables: [kitchen], batchRows: 200}
  - phase: copy
    name: replicate
    replicate: {from: legacy, to: new, tables: [kitchen], maxLag: 2s, holdFor: 1s}
  - phase: decommission
    name: stop-replication
    approval: {gate: writes-stopped}
    replicate: {from: legacy, to: new, tables: [kitchen], mode: stop}
`

// sourceWriter makes one change per transaction, step by step, until
// stopped.
type sourceWriter struct {
	step    func(ctx context.Context, i int) error
	stop    chan struct{}
	wg      sync.WaitGroup
	changes atomic.Int64
	err     atomic.Value
}

// startWriter keeps inserting, updating and deleting kitchen rows.
func startWriter(t *testing.T, s *datastore.Store) *sourceWriter {
	t.Helper()
	tbl, err := s.Introspect(context.Background(), "kitchen")
	require.NoError(t, err)
	return startSteps(func(ctx context.Context, i int) error { return kitchenStep(ctx, s, tbl, i) })
}

func startSteps(step func(ctx context.Context, i int) error) *sourceWriter {
	w := &sourceWriter{step: step, stop: make(chan struct{})}
	w.wg.Add(1)
	go w.run()
	return w
}

func (w *sourceWriter) run() {
	defer w.wg.Done()
	ctx := context.Background()
	for i := 0; ; i++ {
		select {
		case <-w.stop:
			return
		case <-time.After(3 * time.Millisecond):
		}
		if err := w.step(ctx, i); err != nil {
			w.err.Store(err)
			return
		}
		w.changes.Add(1)
	}
}

// kitchenStep is step i of the kitchen writer.
func kitchenStep(ctx context.Context, s *datastore.Store, tbl *datastore.Table, i int) error {
	ph := s.Placeholder
	var err error
	switch i % 4 {
	case 0:
		err = s.WriteBatch(ctx, tbl, [][]any{dbtest.KitchenRow(100000 + i)})
	case 1:
		_, err = s.DB.ExecContext(ctx, "UPDATE kitchen SET qty = qty + 1, note = "+ph(1)+" WHERE id = "+ph(2), fmt.Sprintf("changed %d", i), (i*7)%2000)
	case 2:
		_, err = s.DB.ExecContext(ctx, "DELETE FROM kitchen WHERE id = "+ph(1), (i*13)%2000)
	case 3:
		_, err = s.DB.ExecContext(ctx, "UPDATE kitchen SET name = "+ph(1)+" WHERE id = "+ph(2), fmt.Sprintf("n%d", i), 100000+i-3)
	}
	return err
}

// waitChanges waits until the writer has made at least n changes (a
// loaded machine writes slower; the bound is only against a hang).
func (w *sourceWriter) waitChanges(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for w.changes.Load() < n {
		if err, _ := w.err.Load().(error); err != nil {
			t.Fatalf("source writer: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 2m for %d changes by the writer; it made %d", n, w.changes.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (w *sourceWriter) halt(t *testing.T) int64 {
	t.Helper()
	close(w.stop)
	w.wg.Wait()
	if err, _ := w.err.Load().(error); err != nil {
		t.Fatalf("source writer: %v", err)
	}
	return w.changes.Load()
}

// TestCDCMigrationKeepsTargetInStepWithLiveWrites runs provision → capture
// setup → copy → replicate (caught up) on the dev server while a writer
// changes the source all along; after the writes stop, the stop phase
// drains the rest: the target equals the source, and no slot, publication,
// trigger or changelog is left.
func TestCDCMigrationKeepsTargetInStepWithLiveWrites(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		method string
		open   func(t *testing.T) (dbtest.DB, dbtest.DB)
	}{
		{"postgres logical to mariadb", "logical", func(t *testing.T) (dbtest.DB, dbtest.DB) {
			cdctest.StopWhenDone(t)
			return cdctest.NewLogicalDB(t), dbtest.New(t, datastore.MySQL)
		}},
		{"mariadb triggers to postgres", "triggers", func(t *testing.T) (dbtest.DB, dbtest.DB) {
			return dbtest.New(t, datastore.MySQL), dbtest.New(t, datastore.Postgres)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src, dst := tc.open(t)
			dbtest.Exec(t, src.Store, dbtest.KitchenDDL(src.Store.Engine, "kitchen")...)
			k, err := src.Store.Introspect(context.Background(), "kitchen")
			require.NoError(t, err)
			require.NoError(t, src.Store.WriteBatch(context.Background(), k, dbtest.KitchenRows(0, 2000)))

			name := "it-cdc-" + tc.method
			r := newDataRun(t, name, src, dst, cdcPhases)
			w := startWriter(t, src.Store)
			r.start()
			rep := r.waitFor("the writes-stopped gate", waitingAt("writes-stopped"))
			byName := map[string]migration.PhaseReport{}
			for _, p := range rep.Phases {
				byName[p.Phase] = p
			}
			require.Contains(t, byName["capture"].Summary, "set up ("+tc.method+")")
			require.Contains(t, byName["replicate"].Summary, "caught up: lag")
			w.waitChanges(t, 51)
			written := w.halt(t)
			require.Greater(t, written, int64(50), "the writer ran through the copy and the replication")

			out, err := godwit(t, "approve", name, "--gate", "writes-stopped")
			require.NoError(t, err, out)
			final, err := r.result()
			require.NoError(t, err, "%+v", final)
			require.Equal(t, migration.StatusCompleted, final.Status)
			last := final.Phases[len(final.Phases)-1]
			require.True(t, strings.HasPrefix(last.Summary, "drained"), last.Summary)

			dbtest.AssertSameRows(t, src.Store, dst.Store, "kitchen")
			left, err := cdc.Leftovers(context.Background(), src.Store)
			require.NoError(t, err)
			require.Empty(t, left, "nothing of the capture is left after completion")
			if tc.method == "triggers" {
				recordHistory(t, name) // capture setup, catch-up and drain by the replicate driver
			}
		})
	}
}

// TestCDCRollbackWhileReplicatingRemovesTheCapture rolls a migration back
// while its replicate phase runs (a writer still busy): the phase is
// interrupted, the compensations run last-in first-out — the copy empties
// the target, capture removes the slot and publication (or triggers and
// changelogs), provision drops the tables — and nothing of Godwit is left
// on either side.
func TestCDCRollbackWhileReplicatingRemovesTheCapture(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, method string
		open         func(t *testing.T) (dbtest.DB, dbtest.DB)
	}{
		{"postgres logical to sqlite", "logical", func(t *testing.T) (dbtest.DB, dbtest.DB) {
			cdctest.StopWhenDone(t)
			return cdctest.NewLogicalDB(t), dbtest.New(t, datastore.SQLite)
		}},
		{"sqlite triggers to mariadb", "triggers", func(t *testing.T) (dbtest.DB, dbtest.DB) {
			return dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.MySQL)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src, dst := tc.open(t)
			dbtest.Exec(t, src.Store, dbtest.KitchenDDL(src.Store.Engine, "kitchen")...)
			k, err := src.Store.Introspect(context.Background(), "kitchen")
			require.NoError(t, err)
			require.NoError(t, src.Store.WriteBatch(context.Background(), k, dbtest.KitchenRows(0, 500)))
			// holdFor 1h: the replicate phase runs until the rollback.
			phases := strings.Replace(cdcPhases, "maxLag: 2s, holdFor: 1s", "maxLag: 2s, holdFor: 1h", 1)
			name := "it-cdc-rollback-" + tc.method
			r := newDataRun(t, name, src, dst, phases)
			w := startWriter(t, src.Store)
			defer w.halt(t)
			r.start()
			r.waitFor("replicate applying changes", func(rep migration.Report) bool {
				for _, p := range rep.Phases {
					if p.Phase == "replicate" && p.State == migration.PhaseRunning && strings.Contains(p.Detail, "("+tc.method+"): lag") {
						return true
					}
				}
				return false
			})
			out, err := godwit(t, "rollback", name, "--reason", "test")
			require.NoError(t, err, out)
			final, err := r.result()
			require.NoError(t, err, "a requested rollback that undid every phase completes the run")
			require.Equal(t, migration.StatusRolledBack, final.Status)
			byName := map[string]migration.PhaseReport{}
			for _, p := range final.Phases {
				byName[p.Phase] = p
			}
			require.Contains(t, byName["capture"].Summary, "removed from legacy")
			left, err := cdc.Leftovers(context.Background(), src.Store)
			require.NoError(t, err)
			require.Empty(t, left, "the capture's compensation removed everything")
			require.Empty(t, tablesOf(t, dst.Store), "provision's compensation dropped the target tables")
			if tc.method == "triggers" {
				recordHistory(t, name) // a rollback while a phase runs
			}
		})
	}
}

// TestCDCReplicationResumesAfterWorkerKilled kills the worker process
// (SIGKILL) while the stop phase drains a backlog a few changes per batch;
// another worker takes the phase over after its heartbeat timeout and
// resumes from the last heartbeated position: the target ends equal to
// the source (nothing lost, nothing doubled) and the capture is removed.
func TestCDCReplicationResumesAfterWorkerKilled(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, method string
		open         func(t *testing.T) (dbtest.DB, dbtest.DB)
	}{
		{"postgres logical to mariadb", "logical", func(t *testing.T) (dbtest.DB, dbtest.DB) {
			cdctest.StopWhenDone(t)
			return cdctest.NewLogicalDB(t), dbtest.New(t, datastore.MySQL)
		}},
		{"mariadb triggers to postgres", "triggers", func(t *testing.T) (dbtest.DB, dbtest.DB) {
			return dbtest.New(t, datastore.MySQL), dbtest.New(t, datastore.Postgres)
		}},
	}
	bin := buildWorker(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			queue := "it-cdc-crash-" + tc.method
			first, _ := startWorker(t, bin, queue)
			src, dst := tc.open(t)
			ctx := context.Background()
			dbtest.Exec(t, src.Store, dbtest.KitchenDDL(src.Store.Engine, "kitchen")...)
			k, err := src.Store.Introspect(ctx, "kitchen")
			require.NoError(t, err)
			require.NoError(t, src.Store.WriteBatch(ctx, k, dbtest.KitchenRows(0, 1000)))
			name := "it-cdc-crash-" + tc.method
			r := newDataRun(t, name, src, dst, `  - phase: provision
    provision: {from: legacy, to: new, tables: [kitchen]}
  - phase: provision
    name: capture
    replicate: {from: legacy, to: new, tables: [kitchen], mode: setup}
  - phase: copy
    copy: {from: legacy, to: new, tables: [kitchen]}
  - phase: decommission
    name: stop-replication
    approval: {gate: backlog-made}
    heartbeatTimeout: 3s
    replicate: {from: legacy, to: new, tables: [kitchen], mode: stop, batchChanges: 5}
`)
			var out, errOut bytes.Buffer
			res, err := godwitOn(t, queue, &out, &errOut, "start", "-f", r.spec)
			require.NoError(t, err, res)
			r.waitFor("the backlog-made gate", waitingAt("backlog-made"))
			// A backlog of a few thousand changes, drained 5 at a time.
			for i := 0; i < 3; i++ {
				dbtest.Exec(t, src.Store, "UPDATE kitchen SET qty = qty + 1")
			}
			dbtest.Exec(t, src.Store, "DELETE FROM kitchen WHERE qty % 5 = 0")
			require.NoError(t, src.Store.WriteBatch(ctx, k, dbtest.KitchenRows(5000, 5500)))
			res, err = godwit(t, "approve", name, "--gate", "backlog-made")
			require.NoError(t, err, res)

			r.waitFor("the drain to have applied changes", func(rep migration.Report) bool {
				p := rep.Phases[len(rep.Phases)-1]
				return p.State == migration.PhaseRunning && strings.Contains(p.Detail, "applied") && !strings.Contains(p.Detail, "applied 0 changes")
			})
			require.NoError(t, first.Process.Signal(syscall.SIGKILL))
			_, _ = first.Process.Wait()
			left, err := cdc.Leftovers(ctx, src.Store)
			require.NoError(t, err)
			require.NotEmpty(t, left, "killed mid-drain: the capture is still there")

			startWorker(t, bin, queue)
			final, err := r.result()
			require.NoError(t, err, "%+v", final)
			require.Equal(t, migration.StatusCompleted, final.Status)
			last := final.Phases[len(final.Phases)-1]
			require.Equal(t, 2, last.Attempts, "the drain ran a second attempt on the new worker")
			dbtest.AssertSameRows(t, src.Store, dst.Store, "kitchen")
			left, err = cdc.Leftovers(ctx, src.Store)
			require.NoError(t, err)
			require.Empty(t, left)
		})
	}
}
