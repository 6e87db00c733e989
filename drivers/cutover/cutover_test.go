package cutover_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/cdc"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	_ "github.com/godwit/godwit/drivers" // every driver's section
	"github.com/godwit/godwit/drivers/cutover"
	"github.com/godwit/godwit/drivers/replicate"
	"github.com/godwit/godwit/gateway/gatewaytest"
)

const storesYAML = `name: cut
stores:
  legacy: {engine: mysql, dsn: {fromEnv: LEGACY_DSN}}
  new: {engine: postgres, dsn: {fromFile: /run/secrets/new}}
phases:
  - {phase: provision, name: capture, replicate: {from: legacy, to: new, tables: [a, b], mode: setup}}
`

func TestSpecChecks(t *testing.T) {
	tests := []struct {
		name  string
		phase string
		want  []string // substrings of the error; none: valid
	}{
		{"valid", `{gateway: {admin: "http://127.0.0.1:9090", token: {fromEnv: GW_TOKEN}}, route: api, from: legacy, to: new, tables: [b, a], timeout: 10s}`, nil},
		{"gateway and route required", `{from: legacy, to: new, tables: [a, b]}`,
			[]string{"gateway.admin (line", "is required: the gateway's admin API", "route (line", "is required: the name of the gateway route"}},
		{"credentials in the URL", `{gateway: {admin: "http://u:p@127.0.0.1:9090"}, route: api, from: legacy, to: new, tables: [a, b]}`,
			[]string{"must not hold credentials"}},
		{"tables differ from the capture's", `{gateway: {admin: "http://127.0.0.1:9090"}, route: api, from: legacy, to: new, tables: [a]}`,
			[]string{"must be the replicate setup phase capture's (to: new, tables: a, b)"}},
		{"no capture of that store", `{gateway: {admin: "http://127.0.0.1:9090"}, route: api, from: new, to: legacy, tables: [a, b]}`,
			[]string{"needs an earlier replicate phase with mode: setup and from: new"}},
		{"timeout too long", `{gateway: {admin: "http://127.0.0.1:9090"}, route: api, from: legacy, to: new, tables: [a, b], timeout: 1h}`,
			[]string{"must be between 1s and 10m0s (default 30s)"}},
		{"unknown key", `{gateway: {admin: "http://127.0.0.1:9090"}, route: api, from: legacy, to: new, tables: [a, b], weight: 50}`,
			[]string{"weight"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := config.ParseSpec([]byte(storesYAML + "  - {phase: shift-traffic, name: switch, cutover: " + tt.phase + "}\n"))
			if len(tt.want) == 0 {
				require.NoError(t, err)
				s := spec.Phases[1].Driver.(*cutover.Spec)
				assert.Equal(t, config.Duration(10*time.Second), s.Timeout)
				assert.True(t, s.HasCompensation())
				assert.True(t, spec.Phases[1].CompensatePartial, "a cut-over cut short may have let writes reach new")
				assert.Equal(t, []string{"route:http://127.0.0.1:9090/api", "store:file:/run/secrets/new/b", "store:file:/run/secrets/new/a"}, s.Resources(spec))
				return
			}
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestDefaultTimeout(t *testing.T) {
	spec, err := config.ParseSpec([]byte(storesYAML + `  - {phase: shift-traffic, name: switch, cutover: {gateway: {admin: "http://127.0.0.1:9090"}, route: api, from: legacy, to: new, tables: [a, b]}}` + "\n"))
	require.NoError(t, err)
	assert.Equal(t, config.Duration(cutover.DefaultTimeout), spec.Phases[1].Driver.(*cutover.Spec).Timeout)
}

// fixture is a capture set up and a backfill done between two real
// stores, a real gateway in front of two stand-in services, and the spec
// of a migration that cuts the route over.
type fixture struct {
	src, dst dbtest.DB
	gw       *gatewaytest.Gateway
	spec     *config.Spec
	d        *cutover.Driver
}

func setup(t *testing.T, ctx context.Context, src, dst dbtest.DB, timeout string) *fixture {
	t.Helper()
	gw := gatewaytest.Start(t, gatewaytest.Options{Legacy: gatewaytest.NewUpstream(t, "legacy").URL, New: gatewaytest.NewUpstream(t, "new").URL, Route: "users"})
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
	text := fmt.Sprintf(`name: cut-%d
stores:
  legacy: {engine: %s, dsn: {fromFile: %q}}
  new: {engine: %s, dsn: {fromFile: %q}}
phases:
  - {phase: provision, name: capture, replicate: {from: legacy, to: new, tables: [kitchen], mode: setup, method: triggers}}
  - {phase: shift-traffic, name: switch-writes, cutover: {gateway: {admin: %q}, route: users, from: legacy, to: new, tables: [kitchen], timeout: %s}}
  - {phase: decommission, name: stop, replicate: {from: legacy, to: new, tables: [kitchen], mode: stop}}
`, time.Now().UnixNano()%1e9, src.Store.Engine, file("legacy", src.DSN), dst.Store.Engine, file("new", dst.DSN), gw.AdminURL, timeout)
	spec, err := config.ParseSpec([]byte(text))
	require.NoError(t, err, text)
	f := &fixture{src: src, dst: dst, gw: gw, spec: spec, d: cutover.New(hclog.NewNullLogger())}
	assert.Empty(t, f.d.Preflight(ctx, spec, spec.Phases[1]), "preflight before the capture exists (an earlier phase sets it up)")
	_, err = replicate.New(hclog.NewNullLogger()).Do(ctx, activities.ActionRun, f.input(0), activities.Heartbeat{}, func(activities.Heartbeat) {})
	require.NoError(t, err)
	_, err = datacopy.Run(ctx, datacopy.Options{From: src.Store, To: dst.Store, Tables: []string{"kitchen"}, BatchRows: 50}, datacopy.Checkpoint{}, nil)
	require.NoError(t, err)
	// Changes after the backfill: only the cut-over's catch-up brings them.
	dbtest.Exec(t, src.Store, "UPDATE kitchen SET qty = qty + 7 WHERE id < 20", "DELETE FROM kitchen WHERE id = 50")
	// Reads already moved half-way (a traffic phase), writes still on legacy.
	_, err = gw.Client.SetWeights(ctx, "users", 50, 0)
	require.NoError(t, err)
	assert.Empty(t, f.d.Preflight(ctx, spec, spec.Phases[1]))
	return f
}

func (f *fixture) input(i int) activities.PhaseInput {
	return activities.PhaseInput{Migration: f.spec.Name, Phase: f.spec.Phases[i]}
}

func stores(t *testing.T) map[string]func(t *testing.T) (dbtest.DB, dbtest.DB) {
	return map[string]func(t *testing.T) (dbtest.DB, dbtest.DB){
		"sqlite to postgres": func(t *testing.T) (dbtest.DB, dbtest.DB) {
			return dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.Postgres)
		},
		"postgres to sqlite": func(t *testing.T) (dbtest.DB, dbtest.DB) {
			return dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.SQLite)
		},
	}
}

// writeOnNew changes the target as new's service would after the switch:
// an insert, updates, a key change and a delete.
func writeOnNew(t *testing.T, ctx context.Context, dst *datastore.Store) {
	t.Helper()
	tbl, err := dst.Introspect(ctx, "kitchen")
	require.NoError(t, err)
	require.NoError(t, dst.WriteBatch(ctx, tbl, dbtest.KitchenRows(500, 505)))
	ph := dst.Placeholder
	dbtest.Exec(t, dst, "UPDATE kitchen SET qty = qty + 1000 WHERE id < 30", "DELETE FROM kitchen WHERE id = 60")
	_, err = dst.DB.ExecContext(ctx, "UPDATE kitchen SET id = "+ph(1)+" WHERE id = "+ph(2), 900, 70)
	require.NoError(t, err)
}

// noLeftovers asserts that neither store holds a capture object.
func noLeftovers(t *testing.T, ctx context.Context, stores ...*datastore.Store) {
	t.Helper()
	for _, s := range stores {
		left, err := cdc.Leftovers(ctx, s)
		require.NoError(t, err)
		assert.Empty(t, left, "capture objects left in %s", s.Engine)
	}
}

// A cut-over ends with the route on new for reads and writes, no write
// held, the target equal to the source and reverse replication set up on
// new. Writes then made on new are brought back to legacy by the
// compensation, which moves the route back to legacy only after that and
// removes the reverse capture; the forward capture did not record the
// writes the reverse stream applied (no echo). A second compensation finds
// nothing to drain.
func TestCutOverThenRollbackBringsWritesBack(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			src, dst := open(t)
			f := setup(t, ctx, src, dst, "20s")
			var beats []activities.Heartbeat
			// What new holds when writes are first held: the reverse
			// capture is set up before the hold, not inside it.
			reverse := replicate.ReverseCaptureName(f.spec.Name, f.spec.Stores["new"])
			var atHold []cdc.Object
			res, err := f.d.Do(ctx, activities.ActionRun, f.input(1), activities.Heartbeat{}, func(hb activities.Heartbeat) {
				if atHold == nil && strings.Contains(hb.Detail, "writes held") {
					objs, err := cdc.Objects(ctx, dst.Store, reverse)
					require.NoError(t, err)
					atHold = append([]cdc.Object{}, objs...)
				}
				beats = append(beats, hb)
			})
			require.NoError(t, err)
			t.Log(res.Summary)
			assert.Equal(t, reverse, res.Outputs["reverseCapture"])
			assert.NotEmpty(t, atHold, "the reverse capture exists on new before writes are held")
			assert.Contains(t, res.Summary, "route users cut over to new (read and write weights 100, were 50/0): writes held for")
			assert.Contains(t, res.Summary, "reverse replication new → legacy set up (triggers)")
			assert.NotEmpty(t, res.Outputs["heldFor"])
			st, err := f.gw.Client.Route(ctx, "users")
			require.NoError(t, err)
			assert.Equal(t, 100, st.Weights.Read)
			assert.Equal(t, 100, st.Weights.Write)
			assert.False(t, st.WritesHeld, "writes are released")
			dbtest.AssertSameRows(t, src.Store, dst.Store, "kitchen")
			require.NotEmpty(t, beats)
			assert.Contains(t, beats[0].Detail, "before holding writes", "the catch-up starts before the hold")
			assert.True(t, slices.ContainsFunc(beats, func(hb activities.Heartbeat) bool { return strings.Contains(hb.Detail, "writes held") }))
			rev, err := cdc.Objects(ctx, dst.Store, res.Outputs["reverseCapture"])
			require.NoError(t, err)
			require.NotEmpty(t, rev, "the reverse capture exists on new")

			writeOnNew(t, ctx, dst.Store)
			res, err = f.d.Do(ctx, activities.ActionCompensate, f.input(1), activities.Heartbeat{}, func(activities.Heartbeat) {})
			require.NoError(t, err)
			t.Log(res.Summary)
			assert.Contains(t, res.Summary, "route users back on legacy (weights 0/0, were 100/100): writes held for")
			assert.Contains(t, res.Summary, "reverse capture removed from new")
			assert.Greater(t, res.Records, int64(0))
			// New's writes had stopped: the catch-up before the hold
			// applied all of them, and the hold had nothing left to wait for.
			assert.Contains(t, res.Summary, fmt.Sprintf("%d changes made on new applied to legacy (%d before the hold, 0 while writes were held)", res.Records, res.Records))
			dbtest.AssertSameRows(t, dst.Store, src.Store, "kitchen")
			st, err = f.gw.Client.Route(ctx, "users")
			require.NoError(t, err)
			assert.Equal(t, [2]int{0, 0}, [2]int{st.Weights.Read, st.Weights.Write})
			assert.False(t, st.WritesHeld)
			noLeftovers(t, ctx, dst.Store)

			res, err = f.d.Do(ctx, activities.ActionCompensate, f.input(1), activities.Heartbeat{}, func(activities.Heartbeat) {})
			require.NoError(t, err)
			assert.Contains(t, res.Summary, "no reverse replication was set up")

			// The forward capture holds none of what the reverse stream
			// applied to legacy: its stop drains nothing.
			res, err = replicate.New(hclog.NewNullLogger()).Do(ctx, activities.ActionRun, f.input(2), activities.Heartbeat{}, func(activities.Heartbeat) {})
			require.NoError(t, err)
			assert.Contains(t, res.Summary, "drained (0 changes applied)")
			noLeftovers(t, ctx, src.Store, dst.Store)
		})
	}
}

// Decommission after the cut-over (replicate mode: stop) applies the
// writes made on new to legacy, then removes both captures: nothing is
// left in either store.
func TestStopAfterCutOverRemovesReverseReplication(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	src, dst := dbtest.New(t, datastore.MySQL), dbtest.New(t, datastore.Postgres)
	f := setup(t, ctx, src, dst, "20s")
	_, err := f.d.Do(ctx, activities.ActionRun, f.input(1), activities.Heartbeat{}, func(activities.Heartbeat) {})
	require.NoError(t, err)
	writeOnNew(t, ctx, dst.Store)
	res, err := replicate.New(hclog.NewNullLogger()).Do(ctx, activities.ActionRun, f.input(2), activities.Heartbeat{}, func(activities.Heartbeat) {})
	require.NoError(t, err)
	t.Log(res.Summary)
	assert.Contains(t, res.Summary, "drained (0 changes applied) and removed the capture from legacy")
	assert.Contains(t, res.Summary, "reverse replication stopped (")
	assert.Contains(t, res.Summary, "changes made on new applied to legacy) and its capture removed from new: 2 triggers, 1 changelog table, 2 functions")
	dbtest.AssertSameRows(t, dst.Store, src.Store, "kitchen")
	noLeftovers(t, ctx, src.Store, dst.Store)
}

// After the cut-over, the section with RunFor (FollowFor, the workflow's
// background loop) applies the writes made on new to legacy for about
// that long, without touching the gateway, and returns the reverse
// replication's lag; the reverse capture stays for a rollback or a stop.
func TestFollowAfterCutOverKeepsLegacyCurrent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	src, dst := dbtest.New(t, datastore.MySQL), dbtest.New(t, datastore.Postgres)
	f := setup(t, ctx, src, dst, "20s")
	res, err := f.d.Do(ctx, activities.ActionRun, f.input(1), activities.Heartbeat{}, func(activities.Heartbeat) {})
	require.NoError(t, err)
	writeOnNew(t, ctx, dst.Store)
	follower, ok := f.spec.Phases[1].Driver.(config.LagFollower)
	require.True(t, ok, "the cutover section follows a replication")
	bounded, ok := follower.FollowFor(time.Second)
	require.True(t, ok)
	in := f.input(1)
	in.Phase.Driver = bounded
	// A forward checkpoint handed in is not the reverse capture's: ignored.
	in.Resume = `{"method":"triggers","applied":99}`
	// The gateway is not called: holding writes now would be a fault.
	f.gw.Stop()
	started := time.Now()
	var beats []activities.Heartbeat
	out, err := f.d.Do(ctx, activities.ActionRun, in, activities.Heartbeat{Checkpoint: in.Resume}, func(hb activities.Heartbeat) { beats = append(beats, hb) })
	require.NoError(t, err)
	t.Log(out.Summary)
	assert.GreaterOrEqual(t, time.Since(started), time.Second, "it ran for RunFor")
	require.NotNil(t, out.Lag)
	assert.True(t, out.Lag.Reverse)
	assert.Equal(t, "new", out.Lag.From)
	assert.Equal(t, "legacy", out.Lag.To)
	assert.Equal(t, int64(0), out.Lag.Changes)
	assert.True(t, out.Lag.Measured.After(started))
	assert.Positive(t, out.Records)
	assert.Contains(t, out.Summary, "reverse replication new → legacy kept up for 1s: lag ")
	require.NotEmpty(t, beats)
	assert.Contains(t, beats[0].Detail, "reverse replication new → legacy")
	dbtest.AssertSameRows(t, dst.Store, src.Store, "kitchen")
	rev, err := cdc.Objects(ctx, dst.Store, res.Outputs["reverseCapture"])
	require.NoError(t, err)
	assert.NotEmpty(t, rev, "the reverse capture stays")
}

// A cut-over whose catch-up cannot finish (rows of the target locked) is
// cancelled at its timeout: writes released, weights as they were, a
// retryable error of its own type, and the reverse capture it set up
// removed. Once the lock is gone, a retry succeeds.
func TestCutOverCatchUpTimeout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.Postgres)
	f := setup(t, ctx, src, dst, "1s")
	tx, err := dst.Store.DB.BeginTx(ctx, nil)
	require.NoError(t, err)
	// Row locks: the catch-up's updates wait.
	_, err = tx.ExecContext(ctx, "SELECT id FROM kitchen WHERE id < 20 FOR UPDATE")
	require.NoError(t, err)

	_, err = f.d.Do(ctx, activities.ActionRun, f.input(1), activities.Heartbeat{}, func(activities.Heartbeat) {})
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	t.Log(err)
	assert.Equal(t, cutover.ErrTypeCatchUpTimeout, appErr.Type())
	assert.False(t, appErr.NonRetryable(), "a later attempt may catch up: %v", err)
	assert.ErrorIs(t, err, cutover.ErrCatchUpTimeout)
	assert.Contains(t, err.Error(), "writes released to legacy")
	st, err := f.gw.Client.Route(ctx, "users")
	require.NoError(t, err)
	assert.Equal(t, 50, st.Weights.Read, "weights unchanged")
	assert.Equal(t, 0, st.Weights.Write, "weights unchanged")
	assert.False(t, st.WritesHeld, "writes released")
	// The reverse capture was set up before the hold; removing it again
	// waits for the same locks (the replicate setup phase's compensation
	// removes it if the run rolls back, a retry reuses it): whatever is
	// left on new is that capture's.
	left, err := cdc.Leftovers(ctx, dst.Store)
	require.NoError(t, err)
	reverse := replicate.ReverseCaptureName(f.spec.Name, f.spec.Stores["new"])
	objs, err := cdc.Objects(ctx, dst.Store, reverse)
	require.NoError(t, err)
	assert.ElementsMatch(t, objs, left, "only the reverse capture may be left on new")

	require.NoError(t, tx.Rollback())
	_, err = f.d.Do(ctx, activities.ActionRun, f.input(1), activities.Heartbeat{}, func(activities.Heartbeat) {})
	require.NoError(t, err)
	dbtest.AssertSameRows(t, src.Store, dst.Store, "kitchen")
}

// A rollback whose reverse drain cannot finish within the timeout (rows of
// legacy locked) fails, retryably, with writes released to new and the
// route left on new: never a switch back with changes missing. Once the
// lock is gone, the retry brings every write back.
func TestRollbackAfterCutOverTimesOutOnNew(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	src, dst := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.MySQL)
	f := setup(t, ctx, src, dst, "1s")
	_, err := f.d.Do(ctx, activities.ActionRun, f.input(1), activities.Heartbeat{}, func(activities.Heartbeat) {})
	require.NoError(t, err)
	writeOnNew(t, ctx, dst.Store)
	tx, err := src.Store.DB.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, "SELECT id FROM kitchen WHERE id < 30 FOR UPDATE")
	require.NoError(t, err)

	_, err = f.d.Do(ctx, activities.ActionCompensate, f.input(1), activities.Heartbeat{}, func(activities.Heartbeat) {})
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	t.Log(err)
	assert.Equal(t, cutover.ErrTypeCatchUpTimeout, appErr.Type())
	assert.False(t, appErr.NonRetryable())
	assert.Contains(t, err.Error(), "rollback of route users cancelled")
	assert.Contains(t, err.Error(), "writes released to new")
	st, err := f.gw.Client.Route(ctx, "users")
	require.NoError(t, err)
	assert.Equal(t, [2]int{100, 100}, [2]int{st.Weights.Read, st.Weights.Write}, "the route stays on new")
	assert.False(t, st.WritesHeld, "writes released")

	require.NoError(t, tx.Rollback())
	_, err = f.d.Do(ctx, activities.ActionCompensate, f.input(1), activities.Heartbeat{}, func(activities.Heartbeat) {})
	require.NoError(t, err)
	dbtest.AssertSameRows(t, dst.Store, src.Store, "kitchen")
	noLeftovers(t, ctx, dst.Store)
}

// Preflight names an unknown route and a gateway that does not answer.
func TestPreflightGateway(t *testing.T) {
	ctx := context.Background()
	f := setup(t, ctx, dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.SQLite), "5s")
	phase := f.spec.Phases[1]
	s := *phase.Driver.(*cutover.Spec)
	s.Route = "orders"
	phase.Driver = &s
	problems := f.d.Preflight(ctx, f.spec, phase)
	require.Len(t, problems, 1)
	assert.Contains(t, problems[0], `route "orders" does not exist on the gateway`)
	f.gw.Stop()
	problems = f.d.Preflight(ctx, f.spec, f.spec.Phases[1])
	require.Len(t, problems, 1)
	assert.Contains(t, problems[0], "is not reachable from this worker")
}

// Preflight names a legacy store this worker's user cannot write: reverse
// replication (a rollback after the cut-over) applies new's writes there.
func TestPreflightNeedsWritableLegacy(t *testing.T) {
	ctx := context.Background()
	src := dbtest.New(t, datastore.Postgres)
	f := setup(t, ctx, src, dbtest.New(t, datastore.SQLite), "5s")
	role := fmt.Sprintf("godwit_ro_%d", time.Now().UnixNano()%1e9)
	dbtest.Exec(t, src.Store, "CREATE ROLE "+role+" LOGIN", "GRANT SELECT ON kitchen TO "+role)
	t.Cleanup(func() {
		src.Store.DB.Exec("DROP OWNED BY " + role)
		src.Store.DB.Exec("DROP ROLE " + role)
	})
	u, err := url.Parse(src.DSN)
	require.NoError(t, err)
	u.User = url.User(role)
	require.NoError(t, os.WriteFile(f.spec.Stores["legacy"].DSN.FromFile, []byte(u.String()+"\n"), 0o600))
	problems := f.d.Preflight(ctx, f.spec, f.spec.Phases[1])
	require.Len(t, problems, 1, "%v", problems)
	assert.Contains(t, problems[0], "store legacy: the user cannot write table kitchen, which reverse replication (new → legacy, for a rollback after the cut-over) needs")
}
