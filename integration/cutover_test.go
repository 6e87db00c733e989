package integration

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/cdc"
	"github.com/godwit/godwit/cdc/cdctest"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/gateway/gatewaytest"
	"github.com/godwit/godwit/migration"
)

// TestCutOverSwitchesWritesOnceTheTargetHasEveryChange runs, on the dev
// server, a migration that captures changes from before the copy, keeps
// the target in step while a writer changes the source, moves reads first
// and then cuts the writes over at the gateway: writes held, the capture
// drained to lag 0, the route switched, writes released. The target ends
// equal to the source and the route at 100% for both; the stop phase ends
// the reverse replication the cut-over started, and neither store keeps a
// capture object.
func TestCutOverSwitchesWritesOnceTheTargetHasEveryChange(t *testing.T) {
	t.Parallel()
	src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store, dbtest.KitchenDDL(src.Store.Engine, "kitchen")...)
	k, err := src.Store.Introspect(context.Background(), "kitchen")
	require.NoError(t, err)
	require.NoError(t, src.Store.WriteBatch(context.Background(), k, dbtest.KitchenRows(0, 2000)))
	legacy, newSvc := gatewaytest.NewUpstream(t, "legacy"), gatewaytest.NewUpstream(t, "new")
	gw := gatewaytest.Start(t, gatewaytest.Options{Legacy: legacy.URL, New: newSvc.URL})

	r := newDataRun(t, "it-cutover", src, dst, fmt.Sprintf(`  - phase: provision
    provision: {from: legacy, to: new, tables: [kitchen]}
  - phase: provision
    name: capture
    replicate: {from: legacy, to: new, tables: [kitchen], mode: setup}
  - phase: copy
    copy: {from: legacy, to: new, tables: [kitchen], batchRows: 200}
  - phase: copy
    name: replicate
    replicate: {from: legacy, to: new, tables: [kitchen], maxLag: 2s, holdFor: 1s}
  - phase: shift-traffic
    name: reads
    traffic: {gateway: {admin: %q}, route: users, move: reads, writeConsistency: pinned, stores: {legacy: legacy, new: new}, steps: [{setWeight: 100}]}
  - phase: shift-traffic
    name: writes
    approval: {gate: cut-over}
    cutover: {gateway: {admin: %q}, route: users, from: legacy, to: new, tables: [kitchen], timeout: 20s}
  - phase: decommission
    name: stop-replication
    replicate: {from: legacy, to: new, tables: [kitchen], mode: stop}
`, gw.AdminURL, gw.AdminURL))
	w := startWriter(t, src.Store)
	r.start()
	rep := r.waitFor("the cut-over gate", waitingAt("cut-over"))
	st, err := gw.Client.Route(context.Background(), "users")
	require.NoError(t, err)
	require.Equal(t, [2]int{100, 0}, [2]int{st.Weights.Read, st.Weights.Write}, "reads moved first, writes still on legacy")
	require.Equal(t, migration.PhaseCompleted, rep.Phases[4].State)

	// The writes to the legacy database stop with the cut-over; here the
	// writer stands for the legacy service's writes.
	w.waitChanges(t, 21)
	written := w.halt(t)
	require.Greater(t, written, int64(20))
	out, err := godwit(t, "approve", r.name, "--gate", "cut-over")
	require.NoError(t, err, out)
	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.Contains(t, final.Phases[5].Summary, "route users cut over to new")
	recordHistory(t, r.name)

	st, err = gw.Client.Route(context.Background(), "users")
	require.NoError(t, err)
	require.Equal(t, [2]int{100, 100}, [2]int{st.Weights.Read, st.Weights.Write})
	require.False(t, st.WritesHeld, "writes released after the switch")
	dbtest.AssertSameRows(t, src.Store, dst.Store, "kitchen")
	for _, s := range []*datastore.Store{src.Store, dst.Store} {
		left, err := cdc.Leftovers(context.Background(), s)
		require.NoError(t, err)
		require.Empty(t, left, "the captures (forward on legacy, reverse on new) are removed at the end: %s", s.Engine)
	}
	require.Contains(t, final.Phases[6].Summary, "reverse replication stopped")
}

// TestRollbackAfterCutOverBringsWritesMadeOnNewBack runs, on the dev
// server, a migration that cuts the writes over to new (reverse
// replication new → legacy set up at the switch) and waits at a gate
// before decommission; a writer then changes new, as new's service would,
// and the migration is rolled back. The cut-over's compensation holds the
// writes, drains the reverse capture to legacy and only then moves the
// route back: legacy ends with every write made on new. The other
// compensations (copy, capture, provision) run after it, and no slot,
// publication, trigger or changelog is left in either store. Triggers both
// ways (SQLite ↔ PostgreSQL), and a logical slot on new (MariaDB ↔
// PostgreSQL with wal_level=logical).
func TestRollbackAfterCutOverBringsWritesMadeOnNewBack(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		open func(t *testing.T) (dbtest.DB, dbtest.DB)
	}{
		{"sqlite and postgres, triggers", func(t *testing.T) (dbtest.DB, dbtest.DB) {
			return dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.Postgres)
		}},
		{"mariadb and postgres, logical on new", func(t *testing.T) (dbtest.DB, dbtest.DB) {
			cdctest.StopWhenDone(t)
			return dbtest.New(t, datastore.MySQL), cdctest.NewLogicalDB(t)
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			src, dst := tc.open(t)
			dbtest.Exec(t, src.Store, dbtest.KitchenDDL(src.Store.Engine, "kitchen")...)
			k, err := src.Store.Introspect(ctx, "kitchen")
			require.NoError(t, err)
			require.NoError(t, src.Store.WriteBatch(ctx, k, dbtest.KitchenRows(0, 2000)))
			gw := gatewaytest.Start(t, gatewaytest.Options{Legacy: gatewaytest.NewUpstream(t, "legacy").URL, New: gatewaytest.NewUpstream(t, "new").URL})
			name := fmt.Sprintf("it-cutover-rollback-%d", i)
			r := newDataRun(t, name, src, dst, fmt.Sprintf(`  - phase: provision
    provision: {from: legacy, to: new, tables: [kitchen]}
  - phase: provision
    name: capture
    replicate: {from: legacy, to: new, tables: [kitchen], mode: setup}
  - phase: copy
    copy: {from: legacy, to: new, tables: [kitchen], batchRows: 200}
  - phase: copy
    name: replicate
    replicate: {from: legacy, to: new, tables: [kitchen], maxLag: 2s, holdFor: 1s}
  - phase: shift-traffic
    name: writes
    approval: {gate: cut-over}
    cutover: {gateway: {admin: %q}, route: users, from: legacy, to: new, tables: [kitchen], timeout: 20s}
  - phase: decommission
    name: stop-replication
    approval: {gate: decommission}
    replicate: {from: legacy, to: new, tables: [kitchen], mode: stop}
`, gw.AdminURL))
			w := startWriter(t, src.Store)
			r.start()
			r.waitFor("the cut-over gate", waitingAt("cut-over"))
			w.waitChanges(t, 21)
			require.Greater(t, w.halt(t), int64(20))
			out, err := godwit(t, "approve", name, "--gate", "cut-over")
			require.NoError(t, err, out)
			rep := r.waitFor("the decommission gate", waitingAt("decommission"))
			require.Contains(t, rep.Phases[4].Summary, "reverse replication new → legacy set up")
			// Rows copied and changes applied are two figures: the
			// replicate and cut-over phases' changes were once added to
			// the rows copied.
			require.Equal(t, rep.Phases[2].Records, rep.Metrics.RecordsCopied, "metrics.recordsCopied is the copy phase's rows: %+v", rep.Metrics)
			require.Equal(t, rep.Phases[3].Records+rep.Phases[4].Records, rep.Metrics.ChangesApplied, "metrics.changesApplied is the replicate and cut-over phases' changes: %+v", rep.Metrics)
			require.Greater(t, rep.Metrics.ChangesApplied, int64(20), "the writer's changes were applied: %+v", rep.Metrics)
			// The replicate phase's lag is history once the writes moved;
			// the reverse replication's follows it, measured in the
			// background while the run waits.
			rep = r.waitFor("the reverse lag", func(rep migration.Report) bool { return rep.Replication != nil && rep.Replication.Reverse })
			require.Equal(t, "writes", rep.Replication.Phase)
			out, err = godwit(t, "status", name, "--leftovers=false")
			require.NoError(t, err, out)
			require.Contains(t, out, "  Lag        reverse (new → legacy) ", out)
			require.NotContains(t, out, "ended at cut-over", out)
			st, err := gw.Client.Route(ctx, "users")
			require.NoError(t, err)
			require.Equal(t, [2]int{100, 100}, [2]int{st.Weights.Read, st.Weights.Write})

			// New's service writes; then someone rolls back.
			wn := startWriter(t, dst.Store)
			wn.waitChanges(t, 21)
			require.Greater(t, wn.halt(t), int64(20))
			onNew, rowsOnNew := dbtest.ReadAll(t, dst.Store, "kitchen")
			out, err = godwit(t, "rollback", name, "--reason", "test")
			require.NoError(t, err, out)
			final, err := r.result()
			require.NoError(t, err, "a requested rollback that undid every phase completes the run")
			require.Equal(t, migration.StatusRolledBack, final.Status, "%+v", final)
			require.Contains(t, final.Phases[4].Summary, "changes made on new applied to legacy (")
			if i == 0 {
				recordHistory(t, name)
			}

			st, err = gw.Client.Route(ctx, "users")
			require.NoError(t, err)
			require.Equal(t, [2]int{0, 0}, [2]int{st.Weights.Read, st.Weights.Write}, "the route is back on legacy")
			require.False(t, st.WritesHeld)
			onLegacy, rowsOnLegacy := dbtest.ReadAll(t, src.Store, "kitchen")
			requireSameRows(t, onNew, rowsOnNew, onLegacy, rowsOnLegacy)
			for _, s := range []*datastore.Store{src.Store, dst.Store} {
				left, err := cdc.Leftovers(ctx, s)
				require.NoError(t, err)
				require.Empty(t, left, "capture objects left in %s", s.Engine)
			}
		})
	}
}

// requireSameRows compares two tables' rows (read in key order) by value,
// column by column name.
func requireSameRows(t *testing.T, wt *datastore.Table, want [][]any, gt *datastore.Table, got [][]any) {
	t.Helper()
	require.Equal(t, len(want), len(got), "row counts")
	for r := range want {
		for ci, c := range wt.Columns {
			gi := -1
			for j, g := range gt.Columns {
				if g.Name == c.Name {
					gi = j
				}
			}
			require.GreaterOrEqual(t, gi, 0, "column %s", c.Name)
			require.True(t, dbtest.SameValue(want[r][ci], got[r][gi]), "row %d column %s: %#v, then %#v", r, c.Name, want[r][ci], got[r][gi])
		}
	}
}
