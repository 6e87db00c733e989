package replicate_test

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/cdc"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/drivers/replicate"
)

// One change is "1 change" in every summary of the phases: a catchUp, a
// bounded run and a stop that each applied one ("1 changes applied"
// before), and the lag line of the status detail.
func TestSummariesCountOneChangeInTheSingular(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, src.Store, dbtest.KitchenDDL(src.Store.Engine, "kitchen")...)
	tbl, err := src.Store.Introspect(ctx, "kitchen")
	require.NoError(t, err)
	_, err = datastore.Provision(ctx, dst.Store, []*datastore.Table{tbl}, datastore.ProvisionOptions{Owner: "x"})
	require.NoError(t, err)
	spec := driverSpec(t, "cdc-one", src, dst, "triggers")
	d := replicate.New(hclog.NewNullLogger())
	d.LagEvery = 50 * time.Millisecond
	_, err = d.Do(ctx, activities.ActionRun, input(spec, 0), activities.Heartbeat{}, func(activities.Heartbeat) {})
	require.NoError(t, err)

	require.NoError(t, src.Store.WriteBatch(ctx, tbl, dbtest.KitchenRows(0, 1)))
	res, err := d.Do(ctx, activities.ActionRun, input(spec, 1), activities.Heartbeat{}, func(activities.Heartbeat) {})
	require.NoError(t, err)
	assert.Contains(t, res.Summary, "; 1 change applied")

	require.NoError(t, src.Store.WriteBatch(ctx, tbl, dbtest.KitchenRows(1, 2)))
	follow, ok := spec.Phases[1].Driver.(*replicate.Spec).FollowFor(200 * time.Millisecond)
	require.True(t, ok)
	in := input(spec, 1)
	in.Phase.Driver = follow
	res, err = d.Do(ctx, activities.ActionRun, in, activities.Heartbeat{}, func(activities.Heartbeat) {})
	require.NoError(t, err)
	assert.Contains(t, res.Summary, "; 1 change applied")

	require.NoError(t, src.Store.WriteBatch(ctx, tbl, dbtest.KitchenRows(2, 3)))
	res, err = d.Do(ctx, activities.ActionRun, input(spec, 2), activities.Heartbeat{}, func(activities.Heartbeat) {})
	require.NoError(t, err)
	assert.Contains(t, res.Summary, "drained (1 change applied)")

	detail := replicate.Detail(spec.Phases[1].Driver.(*replicate.Spec),
		cdc.Progress{Lag: cdc.Lag{Changes: 1}, Checkpoint: cdc.Checkpoint{Method: "triggers", Applied: 1}}, time.Second, time.Second)
	assert.Contains(t, detail, "lag 0s, 1 change behind\napplied 1 change, 0 changes/s in this attempt")
}
