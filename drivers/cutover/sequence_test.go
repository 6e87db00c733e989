package cutover_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
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

// Rows that replication inserts carry their keys, which a PostgreSQL
// sequence does not see: once the writes move, the side that now takes
// them must hand out keys past the replicated ones. Pagila's rental
// (serial key) after a rollback: the 30 rentals made on new came back to
// legacy, and legacy's next 30 inserts failed on rental_pkey. So the
// cut-over moves new's sequences past the rows the forward capture
// brought, and its rollback moves legacy's past those new's writes brought.
func TestWritesAfterTheSwitchGetKeysPastTheReplicatedRows(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	src, dst := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.Postgres)
	gw := gatewaytest.Start(t, gatewaytest.Options{Legacy: gatewaytest.NewUpstream(t, "legacy").URL, New: gatewaytest.NewUpstream(t, "new").URL, Route: "users"})
	dbtest.Exec(t, src.Store, `CREATE TABLE rental (rental_id serial PRIMARY KEY, note text)`,
		`INSERT INTO rental (note) SELECT 'copied ' || g FROM generate_series(1, 10) g`)
	tbl, err := src.Store.Introspect(ctx, "rental")
	require.NoError(t, err)
	_, err = datastore.Provision(ctx, dst.Store, []*datastore.Table{tbl}, datastore.ProvisionOptions{Owner: "x"})
	require.NoError(t, err)
	dir := t.TempDir()
	file := func(n, dsn string) string {
		p := filepath.Join(dir, n)
		require.NoError(t, os.WriteFile(p, []byte(dsn+"\n"), 0o600))
		return p
	}
	spec, err := config.ParseSpec([]byte(fmt.Sprintf(`name: seq-%d
stores:
  legacy: {engine: postgres, dsn: {fromFile: %q}}
  new: {engine: postgres, dsn: {fromFile: %q}}
phases:
  - {phase: provision, name: capture, replicate: {from: legacy, to: new, tables: [rental], mode: setup, method: triggers}}
  - {phase: shift-traffic, name: switch-writes, cutover: {gateway: {admin: %q}, route: users, from: legacy, to: new, tables: [rental], timeout: 20s}}
`, time.Now().UnixNano()%1e9, file("legacy", src.DSN), file("new", dst.DSN), gw.AdminURL)))
	require.NoError(t, err)
	input := func(i int) activities.PhaseInput {
		return activities.PhaseInput{Migration: spec.Name, Phase: spec.Phases[i]}
	}
	rep := replicate.New(hclog.NewNullLogger())
	_, err = rep.Do(ctx, activities.ActionRun, input(0), activities.Heartbeat{}, func(activities.Heartbeat) {})
	require.NoError(t, err)
	t.Cleanup(func() {
		rep.Do(context.Background(), activities.ActionCompensate, input(0), activities.Heartbeat{}, func(activities.Heartbeat) {})
	})
	_, err = datacopy.Run(ctx, datacopy.Options{From: src.Store, To: dst.Store, Tables: []string{"rental"}}, datacopy.Checkpoint{}, nil)
	require.NoError(t, err)
	// Legacy's service goes on inserting after the copy: rows 11 and 12
	// reach new through the capture only.
	dbtest.Exec(t, src.Store, `INSERT INTO rental (note) VALUES ('legacy after the copy'), ('legacy after the copy')`)

	d := cutover.New(hclog.NewNullLogger())
	_, err = d.Do(ctx, activities.ActionRun, input(1), activities.Heartbeat{}, func(activities.Heartbeat) {})
	require.NoError(t, err)
	var id int
	require.NoError(t, dst.Store.DB.QueryRowContext(ctx, `INSERT INTO rental (note) VALUES ('new after the cut-over') RETURNING rental_id`).Scan(&id),
		"new's first insert after the cut-over")
	require.Equal(t, 13, id)
	dbtest.Exec(t, dst.Store, `INSERT INTO rental (note) VALUES ('on new'), ('on new')`)

	_, err = d.Do(ctx, activities.ActionCompensate, input(1), activities.Heartbeat{}, func(activities.Heartbeat) {})
	require.NoError(t, err)
	dbtest.AssertSameRows(t, src.Store, dst.Store, "rental")
	require.NoError(t, src.Store.DB.QueryRowContext(ctx, `INSERT INTO rental (note) VALUES ('legacy after the rollback') RETURNING rental_id`).Scan(&id),
		"legacy's first insert after the rollback")
	require.Equal(t, 16, id)
}
