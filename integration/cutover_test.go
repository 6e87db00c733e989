package integration

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/cdc"
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
// equal to the source and the route at 100% for both.
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
	written := w.halt(t)
	require.Greater(t, written, int64(20))
	out, err := godwit(t, "approve", r.name, "--gate", "cut-over")
	require.NoError(t, err, out)
	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.Contains(t, final.Phases[5].Summary, "route users cut over to new")

	st, err = gw.Client.Route(context.Background(), "users")
	require.NoError(t, err)
	require.Equal(t, [2]int{100, 100}, [2]int{st.Weights.Read, st.Weights.Write})
	require.False(t, st.WritesHeld, "writes released after the switch")
	dbtest.AssertSameRows(t, src.Store, dst.Store, "kitchen")
	left, err := cdc.Leftovers(context.Background(), src.Store)
	require.NoError(t, err)
	require.Empty(t, left, "the capture is removed at the end")
}
