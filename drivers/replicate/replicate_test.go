package replicate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/cdc"
	"github.com/godwit/godwit/cdc/cdctest"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	_ "github.com/godwit/godwit/drivers" // every driver's section
	"github.com/godwit/godwit/drivers/replicate"
)

func TestMain(m *testing.M) { cdctest.Main(m) }

const storesYAML = `name: cdc
stores:
  legacy: {engine: mysql, dsn: {fromEnv: LEGACY_DSN}}
  new: {engine: postgres, dsn: {fromFile: /run/secrets/new}}
phases:
`

func TestSpecChecks(t *testing.T) {
	tests := []struct {
		name   string
		phases string
		want   []string // substrings of the error; none: valid
	}{
		{"setup, copy, catchUp, stop is valid", `
  - {phase: provision, name: capture, replicate: {from: legacy, to: new, tables: [a, "b_*"], mode: setup, method: triggers}}
  - phase: copy
    copy: {from: legacy, to: new, tables: [a, "b_*"]}
  - {phase: copy, name: replicate, replicate: {from: legacy, to: new, tables: ["b_*", a], maxLag: 2s, holdFor: 1s}}
  - {phase: decommission, name: stop-replication, replicate: {from: legacy, to: new, tables: [a, "b_*"], mode: stop}}
`, nil},
		{"catchUp without a setup", `
  - phase: copy
    replicate: {from: legacy, to: new, tables: [a]}
`, []string{"catchUp needs an earlier replicate phase with mode: setup"}},
		{"setup after the copy misses changes", `
  - phase: copy
    copy: {from: legacy, to: new, tables: [a]}
  - {phase: copy, name: capture, replicate: {from: legacy, to: new, tables: [a], mode: setup}}
`, []string{"setup must come before the copy phase copy"}},
		{"tables differ from the setup's", `
  - {phase: provision, name: capture, replicate: {from: legacy, to: new, tables: [a, b], mode: setup}}
  - {phase: copy, name: replicate, replicate: {from: legacy, to: new, tables: [a]}}
`, []string{"must be the setup phase's (to: new, tables: a, b)"}},
		{"bad mode, method and numbers", `
  - {phase: provision, name: capture, replicate: {from: legacy, to: new, tables: [a], mode: later, method: binlog, maxLag: -1s, batchChanges: 100000}}
`, []string{`"later" is not a mode`, `"binlog" is not a method`, "must not be negative (default 5s)", "must be between 1 and 50000, not 100000"}},
		{"method only on setup", `
  - {phase: provision, name: capture, replicate: {from: legacy, to: new, tables: [a], mode: setup}}
  - {phase: copy, name: replicate, replicate: {from: legacy, to: new, tables: [a], method: logical}}
`, []string{"replicate.method (line 8): is chosen by the setup phase"}},
		{"two setups of one source", `
  - {phase: provision, name: capture, replicate: {from: legacy, to: new, tables: [a], mode: setup}}
  - {phase: provision, name: capture-2, replicate: {from: legacy, to: new, tables: [a], mode: setup}}
`, []string{"already sets up a capture of legacy"}},
		{"same store both sides", `
  - {phase: provision, name: capture, replicate: {from: legacy, to: legacy, tables: [a], mode: setup}}
`, []string{"is the same store as from (legacy)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.ParseSpec([]byte(storesYAML + tt.phases))
			if len(tt.want) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestSpecDefaultsAndTraits(t *testing.T) {
	spec, err := config.ParseSpec([]byte(storesYAML + `
  - {phase: provision, name: capture, replicate: {from: legacy, to: new, tables: [a], mode: setup}}
  - {phase: copy, name: replicate, replicate: {from: legacy, to: new, tables: [a]}}
  - {phase: decommission, name: stop, replicate: {from: legacy, to: new, tables: [a], mode: stop}}
`))
	require.NoError(t, err)
	setup := spec.Phases[0].Driver.(*replicate.Spec)
	follow := spec.Phases[1].Driver.(*replicate.Spec)
	stop := spec.Phases[2].Driver.(*replicate.Spec)
	assert.Equal(t, replicate.ModeCatchUp, follow.Mode)
	assert.Equal(t, config.Duration(5*time.Second), follow.MaxLag)
	assert.Equal(t, config.Duration(5*time.Second), follow.HoldFor)
	assert.True(t, setup.HasCompensation(), "setup's compensation removes the capture")
	assert.False(t, follow.HasCompensation())
	assert.False(t, stop.HasCompensation())
	assert.False(t, setup.Pausable())
	assert.True(t, follow.Pausable())
	assert.Equal(t, []string{"store:file:/run/secrets/new/a"}, follow.Resources(spec))
	// The section travels as JSON with the stores' references, never a DSN.
	b, err := json.Marshal(spec.Phases[1])
	require.NoError(t, err)
	assert.Contains(t, string(b), `"fromEnv":"LEGACY_DSN"`)
}

// The outline `godwit validate` prints says which replication goes on in
// the background and which gate waits for the lag.
func TestOutlineNamesBackgroundReplicationAndLagGates(t *testing.T) {
	spec, err := config.ParseSpec([]byte(storesYAML + `
  - {phase: provision, name: capture, replicate: {from: legacy, to: new, tables: [a], mode: setup}}
  - {phase: copy, name: replicate, replicate: {from: legacy, to: new, tables: [a], background: true}}
  - {phase: copy, name: replicate-again, replicate: {from: legacy, to: new, tables: [a]}}
  - {phase: decommission, name: stop, approval: {gate: go, requireLag: 3s}, replicate: {from: legacy, to: new, tables: [a], mode: stop}}
`))
	require.NoError(t, err)
	lines := spec.Outline()
	assert.Contains(t, lines[1], "then on in the background")
	assert.NotContains(t, lines[2], "background")
	assert.Contains(t, lines[3], `gate "go" before it (opens with the replication lag under 3s)`)
}

// driverSpec writes a spec replicating the kitchen table between two
// stores, their DSNs in files.
func driverSpec(t *testing.T, name string, src, dst dbtest.DB, method string) *config.Spec {
	t.Helper()
	dir := t.TempDir()
	file := func(n, dsn string) string {
		p := filepath.Join(dir, n)
		require.NoError(t, os.WriteFile(p, []byte(dsn+"\n"), 0o600))
		return p
	}
	text := fmt.Sprintf(`name: %s
stores:
  legacy: {engine: %s, dsn: {fromFile: %q}}
  new: {engine: %s, dsn: {fromFile: %q}}
phases:
  - {phase: provision, name: capture, replicate: {from: legacy, to: new, tables: [kitchen], mode: setup, method: %s}}
  - {phase: copy, name: replicate, replicate: {from: legacy, to: new, tables: [kitchen], maxLag: 1s, holdFor: 2s, batchChanges: 20}}
# holdFor 2s: the pause test pauses at the first heartbeat with records,
# which can come after a quiet machine has applied the whole backlog; with
# a hold of 300ms the run sometimes ended first (4 of 10 runs here).
  - {phase: decommission, name: stop, replicate: {from: legacy, to: new, tables: [kitchen], mode: stop}}
`, name, src.Store.Engine, file("legacy", src.DSN), dst.Store.Engine, file("new", dst.DSN), method)
	spec, err := config.ParseSpec([]byte(text))
	require.NoError(t, err, text)
	return spec
}

func input(spec *config.Spec, i int) activities.PhaseInput {
	return activities.PhaseInput{Migration: spec.Name, Phase: spec.Phases[i]}
}

// recorder keeps the heartbeats a driver sends.
type recorder struct {
	mu  sync.Mutex
	all []activities.Heartbeat
}

func (r *recorder) beat(hb activities.Heartbeat) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = append(r.all, hb)
}

func (r *recorder) last() activities.Heartbeat {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.all) == 0 {
		return activities.Heartbeat{}
	}
	return r.all[len(r.all)-1]
}

// The driver as the workflow runs it: preflight, setup, a backfill,
// catchUp paused (cancelled) and resumed from its heartbeat, stop, and
// setup's compensation; the target ends equal to the source and nothing of
// the capture is left.
func TestDriverSetupCatchUpPauseResumeStop(t *testing.T) {
	cases := []struct {
		name   string
		method string
		open   func(t *testing.T) (dbtest.DB, dbtest.DB)
	}{
		{"mariadb to postgres, triggers", "triggers", func(t *testing.T) (dbtest.DB, dbtest.DB) {
			return dbtest.New(t, datastore.MySQL), dbtest.New(t, datastore.Postgres)
		}},
		{"sqlite to mariadb, triggers", "triggers", func(t *testing.T) (dbtest.DB, dbtest.DB) {
			return dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.MySQL)
		}},
		{"postgres to postgres, logical", "logical", func(t *testing.T) (dbtest.DB, dbtest.DB) {
			return cdctest.NewLogicalDB(t), dbtest.New(t, datastore.Postgres)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := tc.open(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			dbtest.Exec(t, src.Store, dbtest.KitchenDDL(src.Store.Engine, "kitchen")...)
			tbl, err := src.Store.Introspect(ctx, "kitchen")
			require.NoError(t, err)
			require.NoError(t, src.Store.WriteBatch(ctx, tbl, dbtest.KitchenRows(0, 200)))
			_, err = datastore.Provision(ctx, dst.Store, []*datastore.Table{tbl}, datastore.ProvisionOptions{Owner: "x"})
			require.NoError(t, err)
			spec := driverSpec(t, fmt.Sprintf("cdc-drv-%d", time.Now().UnixNano()%1e9), src, dst, tc.method)
			d := replicate.New(hclog.NewNullLogger())
			d.LagEvery = 100 * time.Millisecond

			for i := range spec.Phases {
				assert.Empty(t, d.Preflight(ctx, spec, spec.Phases[i]), "preflight of %s", spec.Phases[i].Name)
			}
			res, err := d.Do(ctx, activities.ActionRun, input(spec, 0), activities.Heartbeat{}, func(activities.Heartbeat) {})
			require.NoError(t, err)
			assert.Contains(t, res.Summary, "("+tc.method+")")
			_, err = datacopy.Run(ctx, datacopy.Options{From: src.Store, To: dst.Store, Tables: []string{"kitchen"}, BatchRows: 50},
				datacopy.Checkpoint{}, func(datacopy.Progress) {
					dbtest.Exec(t, src.Store, "UPDATE kitchen SET qty = qty + 1 WHERE id < 100", "DELETE FROM kitchen WHERE id = 150")
				})
			require.NoError(t, err)
			// A backlog, then the catchUp phase paused after its first beats.
			for i := 0; i < 30; i++ {
				dbtest.Exec(t, src.Store, fmt.Sprintf("UPDATE kitchen SET qty = qty + 1 WHERE id = %d", i), fmt.Sprintf("DELETE FROM kitchen WHERE id = %d", 100+i))
			}
			rec := &recorder{}
			pctx, pause := context.WithCancel(ctx)
			_, err = d.Do(pctx, activities.ActionRun, input(spec, 1), activities.Heartbeat{}, func(hb activities.Heartbeat) {
				rec.beat(hb)
				if hb.Records > 0 {
					pause()
				}
			})
			require.ErrorIs(t, err, context.Canceled)
			paused := rec.last()
			require.NotEmpty(t, paused.Checkpoint, "a paused replication heartbeats its checkpoint")
			assert.Contains(t, paused.Detail, "legacy → new ("+tc.method+"): lag")

			dbtest.Exec(t, src.Store, "UPDATE kitchen SET name = 'after pause' WHERE id = 60", "DELETE FROM kitchen WHERE id = 61")
			rec2 := &recorder{}
			res, err = d.Do(ctx, activities.ActionRun, input(spec, 1), paused, rec2.beat)
			require.NoError(t, err)
			assert.Contains(t, res.Summary, "caught up: lag")
			assert.Greater(t, res.Records, paused.Records, "applied counts go on from the checkpoint")

			dbtest.Exec(t, src.Store, "UPDATE kitchen SET name = 'last write' WHERE id = 70")
			res, err = d.Do(ctx, activities.ActionRun, input(spec, 2), activities.Heartbeat{}, func(activities.Heartbeat) {})
			require.NoError(t, err)
			assert.Contains(t, res.Summary, "drained")
			dbtest.AssertSameRows(t, src.Store, dst.Store, "kitchen")
			left, err := cdc.Leftovers(ctx, src.Store)
			require.NoError(t, err)
			assert.Empty(t, left, "stop removes the capture")

			// catchUp after stop: the capture is gone, a permanent error.
			_, err = d.Do(ctx, activities.ActionRun, input(spec, 1), activities.Heartbeat{}, func(activities.Heartbeat) {})
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, err, &appErr)
			assert.True(t, appErr.NonRetryable(), "%v", err)
			assert.True(t, strings.Contains(err.Error(), "not set up"), "%v", err)

			// Setup's compensation, after a fresh setup: removes everything, twice.
			_, err = d.Do(ctx, activities.ActionRun, input(spec, 0), activities.Heartbeat{}, func(activities.Heartbeat) {})
			require.NoError(t, err)
			// catchUp has no compensation (docs/cdc.md): the capture is
			// setup's, and setup's compensation removes it.
			res, err = d.Do(ctx, activities.ActionCompensate, input(spec, 1), activities.Heartbeat{}, func(activities.Heartbeat) {})
			require.NoError(t, err)
			assert.Equal(t, "nothing to undo: a catchUp has no compensation; the setup phase's compensation removes the capture", res.Summary)
			left, err = cdc.Leftovers(ctx, src.Store)
			require.NoError(t, err)
			assert.NotEmpty(t, left, "the capture is left for setup's compensation")
			res, err = d.Do(ctx, activities.ActionCompensate, input(spec, 0), activities.Heartbeat{}, func(activities.Heartbeat) {})
			require.NoError(t, err)
			assert.Contains(t, res.Summary, "removed from legacy")
			res, err = d.Do(ctx, activities.ActionCompensate, input(spec, 0), activities.Heartbeat{}, func(activities.Heartbeat) {})
			require.NoError(t, err)
			assert.Contains(t, res.Summary, "no change capture object")
			left, err = cdc.Leftovers(ctx, src.Store)
			require.NoError(t, err)
			assert.Empty(t, left)
		})
	}
}

// Preflight names what stops logical replication on the machine's server
// when its wal_level is not logical.
func TestPreflightLogicalNeedsWalLevel(t *testing.T) {
	ctx := context.Background()
	src, dst := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.SQLite)
	level, err := cdc.WALLevel(ctx, src.Store)
	require.NoError(t, err)
	dbtest.Exec(t, src.Store, "CREATE TABLE kitchen (id bigint PRIMARY KEY)")
	dbtest.Exec(t, dst.Store, "CREATE TABLE kitchen (id INTEGER PRIMARY KEY)")
	spec := driverSpec(t, "cdc-preflight", src, dst, "logical")
	problems := replicate.New(hclog.NewNullLogger()).Preflight(ctx, spec, spec.Phases[0])
	if level == "logical" {
		assert.Empty(t, problems)
		return
	}
	require.Len(t, problems, 1)
	assert.Contains(t, problems[0], "wal_level is "+level+", logical replication needs wal_level=logical")
	assert.Contains(t, problems[0], "use method triggers")
}

// A setup that fails half-way (the second table has no primary key)
// removes what it made: a failed phase gets no compensation.
func TestFailedSetupLeavesNothing(t *testing.T) {
	ctx := context.Background()
	src, dst := dbtest.New(t, datastore.MySQL), dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, src.Store, "CREATE TABLE a_ok (id BIGINT PRIMARY KEY)", "CREATE TABLE b_nokey (id BIGINT)")
	spec := driverSpec(t, "cdc-half", src, dst, "triggers")
	in := input(spec, 0)
	in.Phase.Driver.(*replicate.Spec).Tables = []string{"a_ok", "b_nokey"}
	_, err := replicate.New(hclog.NewNullLogger()).Do(ctx, activities.ActionRun, in, activities.Heartbeat{}, func(activities.Heartbeat) {})
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.True(t, appErr.NonRetryable(), "no primary key is permanent: %v", err)
	left, err := cdc.Leftovers(ctx, src.Store)
	require.NoError(t, err)
	assert.Empty(t, left)
}

// A bounded catchUp (what a gate with requireLag runs while it waits)
// applies changes and returns the lag it measured with its checkpoint,
// caught up or not; a plain catchUp returns its lag too.
func TestBoundedCatchUpReturnsItsLag(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store, dbtest.KitchenDDL(src.Store.Engine, "kitchen")...)
	tbl, err := src.Store.Introspect(ctx, "kitchen")
	require.NoError(t, err)
	_, err = datastore.Provision(ctx, dst.Store, []*datastore.Table{tbl}, datastore.ProvisionOptions{Owner: "x"})
	require.NoError(t, err)
	spec := driverSpec(t, "cdc-bounded", src, dst, "triggers")
	d := replicate.New(hclog.NewNullLogger())
	d.LagEvery = 50 * time.Millisecond
	_, err = d.Do(ctx, activities.ActionRun, input(spec, 0), activities.Heartbeat{}, func(activities.Heartbeat) {})
	require.NoError(t, err)
	require.NoError(t, src.Store.WriteBatch(ctx, tbl, dbtest.KitchenRows(0, 300)))

	follow, ok := spec.Phases[1].Driver.(*replicate.Spec).FollowFor(200 * time.Millisecond)
	require.True(t, ok)
	in := input(spec, 1)
	in.Phase.Driver = follow
	// Bounded runs, each resuming from the last one's checkpoint, until
	// the backlog is applied (one is usually enough; a busy machine may
	// need more).
	var res activities.PhaseResult
	for k := 0; ; k++ {
		res, err = d.Do(ctx, activities.ActionRun, in, activities.Heartbeat{Checkpoint: in.Resume}, func(activities.Heartbeat) {})
		require.NoError(t, err)
		require.NotNil(t, res.Lag)
		assert.Contains(t, res.Summary, "kept up for 200ms: lag")
		assert.Contains(t, res.Checkpoint, `"applied":`)
		assert.False(t, res.Lag.Measured.IsZero())
		in.Resume = res.Checkpoint
		if res.Lag.Changes == 0 {
			break
		}
		require.Less(t, k, 100, "the backlog was never applied: %s", res.Summary)
	}
	assert.Contains(t, res.Checkpoint, `"applied":300`, "applied counts go on from the checkpoint")
	dbtest.AssertSameRows(t, src.Store, dst.Store, "kitchen")

	res, err = d.Do(ctx, activities.ActionRun, input(spec, 1), activities.Heartbeat{Checkpoint: res.Checkpoint}, func(activities.Heartbeat) {})
	require.NoError(t, err)
	require.NotNil(t, res.Lag, "a catchUp's result carries its lag")
	assert.LessOrEqual(t, res.Lag.Seconds, 1.0)
	assert.Empty(t, res.Checkpoint)

	_, ok = spec.Phases[0].Driver.(*replicate.Spec).FollowFor(time.Second)
	assert.False(t, ok, "a setup does not follow")
	_, ok = spec.Phases[2].Driver.(*replicate.Spec).FollowFor(time.Second)
	assert.False(t, ok, "a stop does not follow")
}

// A replication whose two stores are one database is refused by its
// preflight and, without one, when it runs: its changes would be applied
// to their own source.
func TestReplicationOntoItselfIsRefused(t *testing.T) {
	src := dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, src.Store, dbtest.KitchenDDL(datastore.SQLite, "kitchen")...)
	spec := driverSpec(t, "cdc-itself", src, dbtest.DB{DSN: "file:" + src.DSN, Store: src.Store}, "triggers")
	d := replicate.New(hclog.NewNullLogger())
	ctx := context.Background()
	problems := d.Preflight(ctx, spec, spec.Phases[1])
	require.NotEmpty(t, problems)
	assert.Contains(t, strings.Join(problems, "\n"), "stores legacy and new are the same database")
	_, err := d.Do(ctx, activities.ActionRun, input(spec, 1), activities.Heartbeat{}, func(activities.Heartbeat) {})
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.True(t, appErr.NonRetryable(), "%v", err)
	assert.Contains(t, err.Error(), "stores legacy and new are the same database")
}

// A maxLag under what the capture's method can measure is refused, naming
// the floor; at the floor it is accepted (an idle source reads 0).
func TestMaxLagUnderTheMethodsFloorIsRefused(t *testing.T) {
	const pgStores = `name: cdc
stores:
  legacy: {engine: postgres, dsn: {fromEnv: LEGACY_DSN}}
  new: {engine: postgres, dsn: {fromFile: /run/secrets/new}}
phases:
`
	tests := []struct {
		name, stores, method, maxLag string
		want                         string // "": valid
	}{
		{"logical under 1s", pgStores, "logical", "500ms", "500ms is under what the logical method can measure (1s)"},
		{"auto on postgres under 1s", pgStores, "auto", "900ms", "under what the auto (logical on PostgreSQL) method can measure (1s)"},
		{"logical at 1s", pgStores, "logical", "1s", ""},
		{"triggers under 10ms", pgStores, "triggers", "5ms", "5ms is under what the triggers method can measure (10ms)"},
		{"triggers at 500ms", pgStores, "triggers", "500ms", ""},
		{"auto on mysql is triggers", storesYAML, "auto", "500ms", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			phases := fmt.Sprintf(`  - {phase: provision, name: capture, replicate: {from: legacy, to: new, tables: [a], mode: setup, method: %s}}
  - {phase: copy, name: replicate, replicate: {from: legacy, to: new, tables: [a], maxLag: %s}}
`, tt.method, tt.maxLag)
			_, err := config.ParseSpec([]byte(tt.stores + phases))
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), "replicate.maxLag")
		})
	}
}
