package copy_test

import (
	"context"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	copydriver "github.com/godwit/godwit/drivers/copy"
	"github.com/godwit/godwit/drivers/provision"
	"github.com/godwit/godwit/migration"
)

const probeSpec = `, throttle: {probe: {name: replication_lag, store: legacy, query: "SELECT lag FROM throttle_ctl", max: 5, every: 100ms%s}}`

// TestThrottleProbeHoldsTheCopyAndShowsIt runs the copy driver with a
// probe reading a control row that is over the maximum at the start: the
// heartbeat says the copy is throttled and nothing is written; once the row
// drops the copy finishes.
func TestThrottleProbeHoldsTheCopyAndShowsIt(t *testing.T) {
	src, dst := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.MySQL)
	seed(t, src, 600)
	dbtest.Exec(t, src.Store, "CREATE TABLE throttle_ctl (lag double precision)", "INSERT INTO throttle_ctl VALUES (12.3)")
	spec := dataSpec(t, "probe-holds", src, dst, strings.ReplaceAll(probeSpec, "%s", ""))
	ctx := context.Background()
	require.Empty(t, copydriver.New(logger()).Preflight(ctx, spec, spec.Phases[1]))
	_, err := provision.New(logger()).Do(ctx, activities.ActionRun, input(spec, 0), activities.Heartbeat{}, func(activities.Heartbeat) {})
	require.NoError(t, err)

	var held []string
	var lowered bool
	var last activities.Heartbeat
	res, err := copydriver.New(logger()).Do(ctx, activities.ActionRun, input(spec, 1), activities.Heartbeat{}, func(hb activities.Heartbeat) {
		last = hb
		if !strings.HasPrefix(hb.Detail, "throttled: ") {
			return
		}
		held = append(held, hb.Detail)
		assert.Zero(t, rowsIn(t, dst.Store, "kitchen")+rowsIn(t, dst.Store, "plain"), "nothing is written while throttled")
		if len(held) == 3 && !lowered {
			lowered = true
			dbtest.Exec(t, src.Store, "UPDATE throttle_ctl SET lag = 0.5")
		}
	})
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(held), 3, "the status showed the throttle")
	assert.Regexp(t, regexp.MustCompile(`^throttled: probe replication_lag 12\.3 > 5 \(waiting \d+s\)\n`), held[0])
	assert.Equal(t, int64(900), res.Records, res.Summary)
	dbtest.AssertSameRows(t, src.Store, dst.Store, "kitchen")
	assert.Regexp(t, `\nprobe replication_lag 0\.5 \(max 5\), held 1 times for \d+s$`, last.Detail)
}

// TestFailingProbeFailsThePhase: a probe whose query errors is named by
// preflight, and at run time fails the phase (not retried) with the reason.
func TestFailingProbeFailsThePhase(t *testing.T) {
	src, dst := dbtest.New(t, datastore.MySQL), dbtest.New(t, datastore.SQLite)
	seed(t, src, 50)
	spec := dataSpec(t, "probe-fails", src, dst, strings.ReplaceAll(probeSpec, "%s", ", attempts: 2"))
	ctx := context.Background()
	problems := copydriver.New(logger()).Preflight(ctx, spec, spec.Phases[1])
	require.Len(t, problems, 1, "%v", problems) // the tables come from the provision phase
	assert.Contains(t, problems[0], "throttle probe replication_lag: the query on store legacy fails: ")
	assert.Contains(t, problems[0], "throttle_ctl")

	_, err := provision.New(logger()).Do(ctx, activities.ActionRun, input(spec, 0), activities.Heartbeat{}, func(activities.Heartbeat) {})
	require.NoError(t, err)
	_, err = copydriver.New(logger()).Do(ctx, activities.ActionRun, input(spec, 1), activities.Heartbeat{}, func(activities.Heartbeat) {})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	assert.True(t, appErr.NonRetryable())
	assert.Equal(t, activities.ErrTypeConfig, appErr.Type())
	assert.Contains(t, appErr.Error(), "probe replication_lag on store legacy failed 2 times in a row, so the copy stopped at its checkpoint")
	assert.Contains(t, appErr.Error(), "throttle_ctl")
	assert.Zero(t, rowsIn(t, dst.Store, "kitchen"))
}

// TestDetailShowsTheThrottle: the probe's line leads the detail while it
// holds the copy and ends it otherwise.
func TestDetailShowsTheThrottle(t *testing.T) {
	p := datacopy.Progress{Tables: []datacopy.TableProgress{{Table: "orders", Stage: datacopy.StageBackfill, RowsDone: 10, Total: 100}},
		Throttle: &datacopy.ThrottleStatus{Probe: "replication_lag", Value: 12.3, Max: 5, Throttled: true, Waiting: 14_200_000_000, Holds: 1}}
	assert.Equal(t, "throttled: probe replication_lag 12.3 > 5 (waiting 14s)\norders: 10 / 100 rows, starting", copydriver.Detail(p))
	p.Throttle = &datacopy.ThrottleStatus{Probe: "replication_lag", Value: 1.25, Max: 5}
	assert.Equal(t, "orders: 10 / 100 rows, starting\nprobe replication_lag 1.25 (max 5)", copydriver.Detail(p))
}

// TestProbeStoreTravelsWithThePhase: a probe on a third store (a replica)
// has that store's reference in the section the activity gets.
func TestProbeStoreTravelsWithThePhase(t *testing.T) {
	spec := mustParse(t, `name: data
stores:
  legacy: {engine: postgres, dsn: {fromEnv: LEGACY_DSN}}
  replica: {engine: postgres, dsn: {fromEnv: REPLICA_DSN}}
  new: {engine: mysql, dsn: {fromEnv: NEW_DSN}}
phases:
  - phase: copy
    copy: {from: legacy, to: new, tables: [t], throttle: {probe: {store: replica, query: "SELECT 1", max: 5}}}
`)
	c := spec.Phases[0].Driver.(*copydriver.Spec)
	assert.Contains(t, c.Stores, "replica")
	assert.Len(t, c.Stores, 3)
}

func TestTablesAreFiguresUnfinishedFirst(t *testing.T) {
	p := datacopy.Progress{Tables: []datacopy.TableProgress{
		{Table: "accounts", Stage: datacopy.StageDone, RowsDone: 10, Total: 10, RowsPerSecond: 5},
		{Table: "orders", RowsDone: 100, Total: 1100, RowsPerSecond: 50},
		{Table: "users", RowsDone: 0, Total: 7},
	}}
	got := copydriver.Tables(p)
	want := []migration.TableProgress{
		{Table: "orders", RowsDone: 100, Total: 1100, RowsPerSecond: 50, ETASeconds: 20},
		{Table: "users", Total: 7},
		{Table: "accounts", RowsDone: 10, Total: 10, Done: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Tables = %+v\nwant %+v", got, want)
	}
	if hb := copydriver.Heartbeat(p); !reflect.DeepEqual(hb.Tables, want) {
		t.Fatalf("the heartbeat carries %+v, want the tables' figures", hb.Tables)
	}
}

// A table counted beside its copy shows the planner's estimate as "about"
// until the exact count is in, in its line, the all-tables line and the
// dashboard's figures.
func TestAnEstimatedTotalSaysSo(t *testing.T) {
	p := datacopy.Progress{RowsDone: 1010, Total: 1_000_010, ETA: -1, Tables: []datacopy.TableProgress{
		{Table: "orders", Stage: datacopy.StageBackfill, RowsDone: 1000, Total: 1_000_000, TotalEstimated: true},
		{Table: "users", Stage: datacopy.StageBackfill, RowsDone: 10, Total: 10},
	}}
	assert.Equal(t, "all 2 tables: 1,010 / about 1,000,010 rows, 0 rows/s\norders: 1,000 / about 1,000,000 rows, starting\nusers: 10 / 10 rows, starting",
		copydriver.Detail(p))
	assert.True(t, copydriver.Tables(p)[0].TotalEstimated)
	assert.False(t, copydriver.Tables(p)[1].TotalEstimated)
}
