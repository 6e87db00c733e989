package copy_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	copydriver "github.com/godwit/godwit/drivers/copy"
	"github.com/godwit/godwit/drivers/provision"
)

// TestAFannedOutCopyRecordsAKeyLeftOffByALiveWriteAfterItsUnits: units
// copy the shop's tables one by one while the source takes an order of a
// new customer after the customers were copied; the step after the units
// carries the other keys and records the order's key as pending, as a
// plain copy does (a replicate phase or the cut-over adds it later), and
// its retry records the same again.
func TestAFannedOutCopyRecordsAKeyLeftOffByALiveWriteAfterItsUnits(t *testing.T) {
	for _, target := range []datastore.Engine{datastore.Postgres, datastore.MySQL} {
		t.Run("postgres to "+string(target), func(t *testing.T) {
			ctx := context.Background()
			src, dst := dbtest.New(t, datastore.Postgres), dbtest.New(t, target)
			dbtest.Exec(t, src.Store, dbtest.SampleDDL(datastore.Postgres)...)
			dbtest.Exec(t, src.Store, dbtest.SampleData()...)
			spec := sampleSpec(t, "shop-fan-live-"+string(target), src, dst, ", fanOut: 2")
			prov, cp := provision.New(logger()), copydriver.New(logger())
			_, err := prov.Do(ctx, activities.ActionRun, input(spec, 0), activities.Heartbeat{}, func(activities.Heartbeat) {})
			require.NoError(t, err)
			units, err := cp.Units(ctx, input(spec, 1))
			require.NoError(t, err)
			require.ElementsMatch(t, dbtest.SampleTables, units)
			for _, unit := range []string{"customers", "products", "orders", "order_lines"} {
				if unit == "orders" {
					// Written after the customers were copied: the capture
					// would bring customer 41 later.
					dbtest.Exec(t, src.Store, "INSERT INTO customers (id, name, city) VALUES (41, 'Noël', 'Genève')",
						"INSERT INTO orders (id, customer_id, total, placed_at) VALUES (301, 41, 77.70, '2024-06-30 23:59:59')")
				}
				in := input(spec, 1)
				in.Unit = unit
				res, err := cp.Do(ctx, activities.ActionRun, in, activities.Heartbeat{}, func(activities.Heartbeat) {})
				require.NoError(t, err, unit)
				assert.NotContains(t, res.Summary, "foreign key", "a unit makes no keys: %s", res.Summary)
			}
			after := input(spec, 1)
			after.AfterUnits = true
			for attempt := 1; attempt <= 2; attempt++ { // the second is a retried activity
				res, err := cp.Do(ctx, activities.ActionRun, after, activities.Heartbeat{}, func(activities.Heartbeat) {})
				require.NoError(t, err, "attempt %d", attempt)
				assert.Contains(t, res.Summary, "3 foreign keys carried", "attempt %d", attempt)
				assert.Contains(t, res.Summary, "(1 of them only because rows violate them now, e.g. a child copied before its parent", "attempt %d", attempt)
				pending, err := datastore.PendingForeignKeys(ctx, dst.Store, after.Owner())
				require.NoError(t, err)
				require.Len(t, pending, 1, "attempt %d", attempt)
				assert.Equal(t, "orders", pending[0].Table)
				assert.Equal(t, "orders_customer_id_fkey", pending[0].FK.Name)
			}
		})
	}
}
