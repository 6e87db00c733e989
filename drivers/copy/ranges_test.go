package copy_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	copydriver "github.com/godwit/godwit/drivers/copy"
	"github.com/godwit/godwit/drivers/provision"
)

// TestRangeUnitsThroughTheDriver plans a fanned-out copy with splitRows
// (the big table becomes one unit per key range, the small one stays one
// unit), runs the units at once as workers would, one of them stopped and
// resumed from its heartbeat, and checks the target and the sequence.
func TestRangeUnitsThroughTheDriver(t *testing.T) {
	ctx := context.Background()
	src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.Postgres)
	seed(t, src, 25_000)
	spec := dataSpec(t, "ranges", src, dst, ", splitRows: 10000, splitStreams: 8, fanOut: 4, createIndexes: true")
	prov, cp := provision.New(logger()), copydriver.New(logger())
	assert.Empty(t, cp.Preflight(ctx, spec, spec.Phases[1]))
	_, err := prov.Do(ctx, activities.ActionRun, input(spec, 0), activities.Heartbeat{}, func(activities.Heartbeat) {})
	require.NoError(t, err)

	units, err := cp.Units(ctx, input(spec, 1))
	require.NoError(t, err)
	require.Len(t, units, 5, "%v", units)
	assert.Equal(t, "kitchen [, 10000)", units[0])
	assert.Equal(t, "kitchen [10000, 20000)", units[1])
	assert.Equal(t, "kitchen [20000, )", units[2])
	assert.Equal(t, "plain [, 10001)", units[3], "plain's 12,500 rows are split too")
	assert.Equal(t, "plain [10001, )", units[4])

	// The middle range is paused after two batches, then resumed.
	unit := func(u string) activities.PhaseInput { in := input(spec, 1); in.Unit = u; return in }
	cctx, cancel := context.WithCancel(ctx)
	var beats []activities.Heartbeat
	_, err = cp.Do(cctx, activities.ActionRun, unit(units[1]), activities.Heartbeat{}, func(hb activities.Heartbeat) {
		beats = append(beats, hb)
		if len(beats) == 2 {
			cancel()
		}
	})
	require.ErrorIs(t, err, context.Canceled)
	last := beats[len(beats)-1]
	assert.Contains(t, last.Detail, "kitchen [10000, 20000): ")
	assert.Contains(t, last.Detail, " / 10,000 rows")

	var wg sync.WaitGroup
	results := make([]activities.PhaseResult, len(units))
	for i, u := range units {
		resume := activities.Heartbeat{}
		if i == 1 {
			resume = last
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := cp.Do(ctx, activities.ActionRun, unit(u), resume, func(activities.Heartbeat) {})
			assert.NoError(t, err, u)
			results[i] = res
		}()
	}
	wg.Wait()
	dbtest.AssertSameRows(t, src.Store, dst.Store, "kitchen")
	dbtest.AssertSameRows(t, src.Store, dst.Store, "plain")
	for i, want := range []int64{10_000, 10_000, 5_000, 10_000, 2_500} {
		assert.Equal(t, want, results[i].Records, units[i])
	}
	assert.True(t, strings.HasPrefix(results[0].Summary, "copied 10,000 rows of 1 table from legacy to new in 1 key range"), results[0].Summary)

	var id int64
	require.NoError(t, dst.Store.DB.QueryRowContext(ctx, `INSERT INTO kitchen (qty) VALUES (1) RETURNING id`).Scan(&id))
	assert.Equal(t, int64(25_000), id, "the sequence is past every range's keys")
}

// TestRangeUnitsFollowTheWorkersCores: without splitStreams the unit
// planner sizes the ranges on the worker it runs on: on 2 cores a table
// splitRows would cut in three stays one unit (ranges there were slower
// than one activity); TestRangeUnitsThroughTheDriver cuts the same table
// with splitStreams.
func TestRangeUnitsFollowTheWorkersCores(t *testing.T) {
	ctx := context.Background()
	src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.Postgres)
	seed(t, src, 25_000)
	spec := dataSpec(t, "cores", src, dst, ", splitRows: 10000, fanOut: 4")
	cp := copydriver.New(logger())
	cp.Cores = 2
	units, err := cp.Units(ctx, input(spec, 1))
	require.NoError(t, err)
	assert.Equal(t, []string{"kitchen", "plain"}, units, "2 cores: every table one unit")
}
