package cutover_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/drivers/cutover"
	"github.com/godwit/godwit/drivers/replicate"
	"github.com/godwit/godwit/gateway/gatewaytest"
)

// A cut-over over two gateway replicas whose second replica stops
// answering after the route was read and before writes are held: the hold
// reaches the first replica only and the step fails (retryable, naming the
// replica). The first replica's hold must not stay: writes through it
// (HAProxy sends them all there while the other is down) would wait and
// get 503 for the hold's whole TTL, timeout + 30 s. Found by reading the
// driver during a new-user trial of two replicas behind HAProxy.
func TestACutOverWhoseHoldAReplicaMissesReleasesTheOthers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.SQLite)
	legacy, newSvc := gatewaytest.NewUpstream(t, "legacy").URL, gatewaytest.NewUpstream(t, "new").URL
	gw1 := gatewaytest.Start(t, gatewaytest.Options{Legacy: legacy, New: newSvc, Route: "users"})
	gw2 := gatewaytest.Start(t, gatewaytest.Options{Legacy: legacy, New: newSvc, Route: "users"})

	dbtest.Exec(t, src.Store, dbtest.KitchenDDL(src.Store.Engine, "kitchen")...)
	tbl, err := src.Store.Introspect(ctx, "kitchen")
	require.NoError(t, err)
	require.NoError(t, src.Store.WriteBatch(ctx, tbl, dbtest.KitchenRows(0, 100)))
	_, err = datastore.Provision(ctx, dst.Store, []*datastore.Table{tbl}, datastore.ProvisionOptions{Owner: "x"})
	require.NoError(t, err)
	dir := t.TempDir()
	file := func(n, dsn string) string {
		p := filepath.Join(dir, n)
		require.NoError(t, os.WriteFile(p, []byte(dsn+"\n"), 0o600))
		return p
	}
	spec, err := config.ParseSpec([]byte(fmt.Sprintf(`name: cut-replicas-%d
stores:
  legacy: {engine: sqlite, dsn: {fromFile: %q}}
  new: {engine: sqlite, dsn: {fromFile: %q}}
phases:
  - {phase: provision, name: capture, replicate: {from: legacy, to: new, tables: [kitchen], mode: setup, method: triggers}}
  - {phase: shift-traffic, name: switch-writes, retry: {maxAttempts: 200, maxInterval: 5s}, cutover: {gateway: {admin: [%q, %q]}, route: users, from: legacy, to: new, tables: [kitchen], timeout: 20s}}
`, time.Now().UnixNano()%1e9, file("legacy", src.DSN), file("new", dst.DSN), gw1.AdminURL, gw2.AdminURL)))
	require.NoError(t, err)
	input := func(i int) activities.PhaseInput {
		return activities.PhaseInput{Migration: spec.Name, Phase: spec.Phases[i]}
	}
	_, err = replicate.New(hclog.NewNullLogger()).Do(ctx, activities.ActionRun, input(0), activities.Heartbeat{}, func(activities.Heartbeat) {})
	require.NoError(t, err)
	_, err = datacopy.Run(ctx, datacopy.Options{From: src.Store, To: dst.Store, Tables: []string{"kitchen"}, BatchRows: 50}, datacopy.Checkpoint{}, nil)
	require.NoError(t, err)
	dbtest.Exec(t, src.Store, "UPDATE kitchen SET qty = qty + 7 WHERE id < 20")

	stopped := false
	_, err = cutover.New(hclog.NewNullLogger()).Do(ctx, activities.ActionRun, input(1), activities.Heartbeat{}, func(hb activities.Heartbeat) {
		if !stopped && strings.Contains(hb.Detail, "before holding writes") {
			gw2.Stop() // after the route was read on both, before the hold
			stopped = true
		}
	})
	require.True(t, stopped, "the catch-up before the hold reported no progress to stop the replica at")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gateway replica "+gw2.AdminURL+" did not acknowledge")

	st, rerr := gw1.Client.Route(ctx, "users")
	require.NoError(t, rerr)
	assert.False(t, st.WritesHeld, "the replica that took the hold must be released when another missed it")
	assert.Equal(t, 0, st.Weights.Write, "the weights are left as they were")
}
