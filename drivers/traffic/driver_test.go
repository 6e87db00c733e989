package traffic

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/drivers/stores"
	"github.com/godwit/godwit/gateway/gatewaytest"
)

const testToken = "t0ken-for-tests"

// startGateway runs a real gateway (route "users") in front of two stand-in
// services, with the admin token in a file the specs name.
func startGateway(t *testing.T) (*gatewaytest.Gateway, config.SecretRef) {
	t.Helper()
	legacy, newSvc := gatewaytest.NewUpstream(t, "legacy"), gatewaytest.NewUpstream(t, "new")
	gw := gatewaytest.Start(t, gatewaytest.Options{Legacy: legacy.URL, New: newSvc.URL, Token: testToken})
	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(testToken+"\n"), 0o600))
	return gw, config.SecretRef{FromFile: tokenFile}
}

func phaseInput(s *Spec, step int) activities.PhaseInput {
	s.ApplyDefaults(nil)
	return activities.PhaseInput{Migration: "m", Phase: config.PhaseSpec{Name: "shift", Phase: "shift-traffic", Driver: s}, Step: step}
}

func noBeat(activities.Heartbeat) {}

func intp(v int) *int { return &v }

func TestPreflight(t *testing.T) {
	gw, token := startGateway(t)
	wrong := filepath.Join(t.TempDir(), "wrong")
	require.NoError(t, os.WriteFile(wrong, []byte("not-it"), 0o600))
	closed := closedPort(t)
	cases := []struct {
		name string
		spec Spec
		want string // "" = no problem
	}{
		{"all good", Spec{Gateway: Gateway{Admin: AdminURLs{gw.AdminURL}, Token: &token}, Route: "users"}, ""},
		{"unreachable", Spec{Gateway: Gateway{Admin: AdminURLs{closed}, Token: &token}, Route: "users"},
			"the gateway's admin API at " + closed + " is not reachable from this worker"},
		{"wrong token", Spec{Gateway: Gateway{Admin: AdminURLs{gw.AdminURL}, Token: &config.SecretRef{FromFile: wrong}}, Route: "users"},
			"the gateway at " + gw.AdminURL + " refused the token from file " + wrong},
		{"no token", Spec{Gateway: Gateway{Admin: AdminURLs{gw.AdminURL}}, Route: "users"},
			"the gateway at " + gw.AdminURL + " requires a token: set gateway.token"},
		{"token variable not set", Spec{Gateway: Gateway{Admin: AdminURLs{gw.AdminURL}, Token: &config.SecretRef{FromEnv: "GODWIT_TEST_UNSET_TOKEN"}}, Route: "users"},
			"gateway token: environment variable GODWIT_TEST_UNSET_TOKEN is not set for this process"},
		{"unknown route", Spec{Gateway: Gateway{Admin: AdminURLs{gw.AdminURL}, Token: &token}, Route: "orders"},
			`route "orders" does not exist on the gateway at ` + gw.AdminURL + " (its routes: users)"},
	}
	d := New(nil)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.spec.Steps = []Step{{SetWeight: &Weight{All: intp(5)}}}
			got := d.Preflight(context.Background(), &config.Spec{}, config.PhaseSpec{Driver: &c.spec})
			if c.want == "" {
				assert.Empty(t, got)
				return
			}
			require.Len(t, got, 1, "%v", got)
			assert.Contains(t, got[0], c.want)
		})
	}
}

// copies is an earlier phase's section that moves rows between two
// stores, as a copy does (stores.DataMover).
type copies struct{ from, to string }

func (copies) Check(*config.CheckContext) {}

func (c copies) MovesData() stores.Flow { return stores.Flow{From: c.from, To: c.to} }

// sqliteStores returns stores legacy and target on SQLite files (their
// DSN variables set for the test), target on the same file as legacy,
// spelt another way, when one is true.
func sqliteStores(t *testing.T, one bool) map[string]config.StoreSpec {
	t.Helper()
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	if one {
		b = filepath.Join(dir, ".", "a.db") // another spelling of one file
	}
	for _, f := range []string{a, b} {
		st, err := datastore.Open(context.Background(), datastore.SQLite, f)
		require.NoError(t, err)
		st.Close()
	}
	t.Setenv("GODWIT_TEST_TRAFFIC_A", a)
	t.Setenv("GODWIT_TEST_TRAFFIC_B", b)
	return map[string]config.StoreSpec{
		"legacy": {Engine: string(datastore.SQLite), DSN: config.SecretRef{FromEnv: "GODWIT_TEST_TRAFFIC_A"}},
		"target": {Engine: string(datastore.SQLite), DSN: config.SecretRef{FromEnv: "GODWIT_TEST_TRAFFIC_B"}},
	}
}

// The preflight applies the split-stores rule over the plan: a copy
// before the traffic phase makes the stores separate; and, reading the
// stores' identities, it confirms or refutes writeConsistency: sharedStore
// for two store names.
func TestPreflightRefusesWriteShiftOverSplitStores(t *testing.T) {
	gw, token := startGateway(t)
	base := func(extra func(*Spec)) *Spec {
		s := &Spec{Gateway: Gateway{Admin: AdminURLs{gw.AdminURL}, Token: &token}, Route: "users", Move: MoveBoth,
			Steps: []Step{{SetWeight: &Weight{All: intp(5)}}}}
		if extra != nil {
			extra(s)
		}
		return s
	}
	preflight := func(stores map[string]config.StoreSpec, earlier config.DriverSpec, s *Spec) []string {
		spec := &config.Spec{Stores: stores, Phases: []config.PhaseSpec{{Name: "shift", Phase: "shift-traffic", Driver: s}}}
		if earlier != nil {
			spec.Phases = append([]config.PhaseSpec{{Name: "copy", Phase: "copy", Driver: earlier}}, spec.Phases...)
		}
		return New(nil).Preflight(context.Background(), spec, spec.Phases[len(spec.Phases)-1])
	}
	named := func(s *Spec) { s.Stores = &StorePair{Legacy: "legacy", New: "target"} }
	shared := func(s *Spec) { named(s); s.WriteConsistency = WritesSharedStore }

	two := sqliteStores(t, false)
	got := preflight(two, copies{"legacy", "target"}, base(nil))
	require.Len(t, got, 1, "%v", got)
	assert.Contains(t, got[0], "traffic.steps[0].setWeight: sends 5% of writes to new, but phase copy moves rows from store legacy to store target")
	assert.Empty(t, preflight(two, copies{"legacy", "target"}, base(func(s *Spec) { s.Move = MoveReads })), "only reads move")
	assert.Empty(t, preflight(two, nil, base(nil)), "two stores, but nothing moves rows between them")

	one := sqliteStores(t, true)
	assert.Empty(t, preflight(one, nil, base(shared)), "sharedStore: two names of one database")
	assert.Empty(t, preflight(one, nil, base(named)), "two names of one database count as one shared store")
	two = sqliteStores(t, false)
	got = preflight(two, nil, base(shared))
	require.Len(t, got, 1, "%v", got)
	assert.Contains(t, got[0], "traffic.writeConsistency: says the services share one database, but stores legacy and target are different databases")
	got = preflight(two, nil, base(named))
	require.Len(t, got, 1, "%v", got)
	assert.Contains(t, got[0], "traffic.steps[0].setWeight: sends 5% of writes to new, but legacy uses store legacy and new store target")
}

func TestSetWeightStepsAndCompensation(t *testing.T) {
	gw, token := startGateway(t)
	ctx := context.Background()
	d := New(nil)
	base := Spec{Gateway: Gateway{Admin: AdminURLs{gw.AdminURL}, Token: &token}, Route: "users"}
	step := func(move string, w Weight) activities.PhaseResult {
		t.Helper()
		s := base
		s.Move, s.Steps = move, []Step{{SetWeight: &w}}
		res, err := d.Do(ctx, activities.ActionRun, phaseInput(&s, 1), activities.Heartbeat{}, noBeat)
		require.NoError(t, err)
		return res
	}
	weights := func() (int, int) {
		t.Helper()
		st, err := gw.Client.Route(ctx, "users")
		require.NoError(t, err)
		return st.Weights.Read, st.Weights.Write
	}

	res := step(MoveBoth, Weight{All: intp(10)})
	assert.Equal(t, "route users: reads 10%, writes 10% to new (were 0%, 0%)", res.Summary)
	assert.Equal(t, map[string]string{OutputReadWeight: "10", OutputWriteWeight: "10"}, res.Outputs)

	step(MoveReads, Weight{All: intp(40)})
	r, w := weights()
	assert.Equal(t, [2]int{40, 10}, [2]int{r, w}, "move: reads keeps the write weight")

	step(MoveBoth, Weight{Writes: intp(0)})
	r, w = weights()
	assert.Equal(t, [2]int{40, 0}, [2]int{r, w}, "a side left out keeps its weight")

	// The compensation moves everything back and releases a write hold;
	// running it twice changes nothing more.
	_, err := gw.Client.HoldWrites(ctx, "users", 0)
	require.NoError(t, err)
	for i, want := range []string{
		"route users back on legacy: reads 0%, writes 0% to new; write hold released",
		"route users back on legacy: reads 0%, writes 0% to new",
	} {
		s := base
		s.Steps = []Step{{SetWeight: &Weight{All: intp(10)}}}
		res, err := d.Do(ctx, activities.ActionCompensate, phaseInput(&s, 0), activities.Heartbeat{}, noBeat)
		require.NoError(t, err, "compensation %d", i+1)
		assert.Equal(t, want, res.Summary)
		st, err := gw.Client.Route(ctx, "users")
		require.NoError(t, err)
		assert.Equal(t, 0, st.Weights.Read)
		assert.Equal(t, 0, st.Weights.Write)
		assert.False(t, st.WritesHeld)
	}
}

func TestNewUpstreamIsSetBeforeTheWeight(t *testing.T) {
	gw, token := startGateway(t)
	other := gatewaytest.NewUpstream(t, "new-2")
	s := &Spec{Gateway: Gateway{Admin: AdminURLs{gw.AdminURL}, Token: &token}, Route: "users", NewUpstream: other.URL,
		Steps: []Step{{SetWeight: &Weight{Reads: intp(100)}}}}
	_, err := New(nil).Do(context.Background(), activities.ActionRun, phaseInput(s, 1), activities.Heartbeat{}, noBeat)
	require.NoError(t, err)
	st, err := gw.Client.Route(context.Background(), "users")
	require.NoError(t, err)
	assert.Equal(t, other.URL, st.New)
}

func TestErrorsRetryableOrNot(t *testing.T) {
	gw, token := startGateway(t)
	closed := closedPort(t)
	cases := []struct {
		name      string
		spec      Spec
		step      int
		retryable bool
		errType   string
	}{
		{"unknown route is refused for good", Spec{Gateway: Gateway{Admin: AdminURLs{gw.AdminURL}, Token: &token}, Route: "orders",
			Steps: []Step{{SetWeight: &Weight{All: intp(5)}}}}, 1, false, ErrTypeGatewayRefused},
		{"unreachable gateway is retried", Spec{Gateway: Gateway{Admin: AdminURLs{closed}, Token: &token}, Route: "users",
			Steps: []Step{{SetWeight: &Weight{All: intp(5)}}}}, 1, true, ErrTypeGatewayUnavailable},
		{"a hold is not the driver's to run", Spec{Gateway: Gateway{Admin: AdminURLs{gw.AdminURL}, Token: &token}, Route: "users",
			Steps: []Step{{SetWeight: &Weight{All: intp(5)}}, {Hold: config.Duration(1)}}}, 2, false, activities.ErrTypeConfig},
		{"unreadable token is a setting to fix", Spec{Gateway: Gateway{Admin: AdminURLs{gw.AdminURL}, Token: &config.SecretRef{FromFile: "/nonexistent/token"}}, Route: "users",
			Steps: []Step{{SetWeight: &Weight{All: intp(5)}}}}, 1, false, activities.ErrTypeConfig},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(nil).Do(context.Background(), activities.ActionRun, phaseInput(&c.spec, c.step), activities.Heartbeat{}, noBeat)
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, err, &appErr)
			assert.Equal(t, c.errType, appErr.Type())
			assert.Equal(t, !c.retryable, appErr.NonRetryable())
			assert.NotContains(t, err.Error(), testToken)
		})
	}
}

// closedPort returns the URL of a 127.0.0.1 port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "http://" + addr
}

func TestRetireLegacyPinsTheRouteOnNew(t *testing.T) {
	gw, token := startGateway(t)
	ctx := context.Background()
	before, err := gw.Client.Route(ctx, "users")
	require.NoError(t, err)
	s := &Spec{Gateway: Gateway{Admin: AdminURLs{gw.AdminURL}, Token: &token}, Route: "users", Steps: []Step{{RetireLegacy: true}}}
	for i, want := range []string{
		"route users pinned on new (" + before.New + "); legacy " + before.Legacy + " removed from it and may be shut down",
		"route users already pinned on new (" + before.New + ")",
	} {
		res, err := New(nil).Do(ctx, activities.ActionRun, phaseInput(s, 1), activities.Heartbeat{}, noBeat)
		require.NoError(t, err, "run %d", i+1)
		assert.Equal(t, want, res.Summary)
	}
	st, err := gw.Client.Route(ctx, "users")
	require.NoError(t, err)
	assert.Equal(t, 100, st.Weights.Read)
	assert.Equal(t, 100, st.Weights.Write)
	assert.Equal(t, before.New, st.Legacy, "nothing points at the legacy service any more")

	spec, err := config.ParseSpec([]byte(`name: m
phases:
  - phase: shift-traffic
    traffic: {gateway: {admin: "http://127.0.0.1:1"}, route: users, steps: [{setWeight: 10}, {retireLegacy: true}]}
`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "steps[1].retireLegacy (line 4): removes the legacy service from the route for good: use it in a decommission phase")
	assert.Nil(t, spec)
}
