package copy_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	copydriver "github.com/godwit/godwit/drivers/copy"
	"github.com/godwit/godwit/drivers/provision"
	_ "github.com/godwit/godwit/drivers/replicate" // the background replication of the spec checks
)

// deferIndexes is on by default, off when the spec says false or when a
// background replication runs beside the copy, and refused as true there.
func TestDeferIndexesSpec(t *testing.T) {
	const background = `
  - {phase: provision, name: capture, replicate: {from: legacy, to: new, tables: [a], mode: setup}}
  - {phase: copy, name: replicate, replicate: {from: legacy, to: new, tables: [a], background: true}}`
	for _, c := range []struct {
		name, phases string
		want         bool
		err          string
	}{
		{"default", `
  - phase: copy
    copy: {from: legacy, to: new, tables: [a]}`, true, ""},
		{"opted out", `
  - phase: copy
    copy: {from: legacy, to: new, tables: [a], deferIndexes: false}`, false, ""},
		{"beside a background replication", background + `
  - phase: copy
    name: more
    copy: {from: legacy, to: new, tables: [b]}`, false, ""},
		{"asked for beside a background replication", background + `
  - phase: copy
    name: more
    copy: {from: legacy, to: new, tables: [b], deferIndexes: true}`, false,
			"phases[2].copy.deferIndexes: cannot be true here: phase replicate's replication runs in the background"},
		{"not a flag", `
  - phase: copy
    copy: {from: legacy, to: new, tables: [a], deferIndexes: later}`, false, "deferIndexes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec, err := config.ParseSpec([]byte(storesYAML + strings.TrimPrefix(c.phases, "\n") + "\n"))
			if c.err != "" {
				require.Error(t, err)
				assert.Contains(t, withoutLines(err), c.err)
				return
			}
			require.NoError(t, err)
			s := spec.Phases[len(spec.Phases)-1].Driver.(*copydriver.Spec)
			assert.Equal(t, c.want, s.IndexesDeferrable)
		})
	}
}

// Through the drivers, PostgreSQL to PostgreSQL: a copy stopped part way
// leaves the tables without their indexes, which the compensation builds
// again; the full copy builds them after its load, says so while it does
// and in its summary, and ends with the indexes provision created; with
// deferIndexes: false nothing is deferred.
func TestDeferredIndexesThroughTheDrivers(t *testing.T) {
	for _, extra := range []string{"", ", deferIndexes: false"} {
		t.Run(map[string]string{"": "default", ", deferIndexes: false": "opted out"}[extra], func(t *testing.T) {
			ctx := context.Background()
			src, dst := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.Postgres)
			seed(t, src, 1200)
			spec := dataSpec(t, "defer", src, dst, extra)
			prov, cp := provision.New(logger()), copydriver.New(logger())
			_, err := prov.Do(ctx, activities.ActionRun, input(spec, 0), activities.Heartbeat{}, func(activities.Heartbeat) {})
			require.NoError(t, err)
			before := dbtest.IndexShape(t, dst.Store, "kitchen")
			require.NotEmpty(t, before)

			cctx, cancel := context.WithCancel(ctx)
			beats := 0
			_, err = cp.Do(cctx, activities.ActionRun, input(spec, 1), activities.Heartbeat{}, func(activities.Heartbeat) {
				if beats++; beats == 3 {
					cancel()
				}
			})
			require.ErrorIs(t, err, context.Canceled)
			stopped := dbtest.IndexShape(t, dst.Store, "kitchen")
			_, err = cp.Do(ctx, activities.ActionCompensate, input(spec, 1), activities.Heartbeat{}, func(activities.Heartbeat) {})
			require.NoError(t, err)
			assert.Equal(t, before, dbtest.IndexShape(t, dst.Store, "kitchen"), "the compensation left the indexes as provision made them")

			var building bool
			res, err := cp.Do(ctx, activities.ActionRun, input(spec, 1), activities.Heartbeat{}, func(hb activities.Heartbeat) {
				building = building || strings.Contains(hb.Detail, "building 3 indexes of kitchen (its 1,200 rows are in)")
			})
			require.NoError(t, err)
			dbtest.AssertSameRows(t, src.Store, dst.Store, "kitchen")
			dbtest.AssertSameRows(t, src.Store, dst.Store, "plain")
			assert.Equal(t, before, dbtest.IndexShape(t, dst.Store, "kitchen"))
			if extra == "" {
				assert.Empty(t, stopped, "the stopped copy had the kitchen's indexes deferred")
				assert.True(t, building, "a heartbeat said the indexes were being built")
				assert.Contains(t, res.Summary, "; key and indexes built after the load: kitchen (3 indexes), plain (1 index)")
				return
			}
			assert.True(t, reflect.DeepEqual(before, stopped), "with deferIndexes: false the load kept the indexes")
			assert.False(t, building)
			assert.NotContains(t, res.Summary, "built after the load")
		})
	}
}
