package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/gateway/gatewaytest"
	"github.com/godwit/godwit/migration"
)

// liveDemoTables are the tables examples/demo-db seeds and the live demo
// moves.
var liveDemoTables = []string{"customers", "orders", "order_lines"}

// newLiveDemo prepares examples/live-demo.yaml — the README's first demo —
// for a run of its own: demo-db built and the legacy database seeded in a
// temporary directory, a gateway in-process in front of two stand-in
// services, and the spec rewritten to point at them, with the copy's
// throttle and the traffic steps' waits shortened.
func newLiveDemo(t *testing.T, name string) *trafficRun {
	t.Helper()
	dir := t.TempDir()
	demoDB := filepath.Join(dir, "bin", "demo-db")
	out, err := exec.Command("go", "build", "-o", demoDB, "../examples/demo-db").CombinedOutput()
	require.NoError(t, err, "build demo-db: %s", out)
	out, err = exec.Command(demoDB, "seed", filepath.Join(dir, "legacy.db")).CombinedOutput()
	require.NoError(t, err, "seed: %s", out)
	for _, db := range []string{"legacy", "new"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, db+".dsn"), []byte(filepath.Join(dir, db+".db")+"\n"), 0o600))
	}
	tokenFile := filepath.Join(dir, "gateway-token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(trafficToken+"\n"), 0o600))

	r := &trafficRun{t: t, name: name,
		legacy: gatewaytest.NewUpstream(t, "legacy"), new_: gatewaytest.NewUpstream(t, "new")}
	r.gw = gatewaytest.Start(t, gatewaytest.Options{Legacy: r.legacy.URL, New: r.new_.URL, Token: trafficToken})

	src, err := os.ReadFile("../examples/live-demo.yaml")
	require.NoError(t, err)
	text := string(src)
	for _, rw := range []struct{ old, new string }{
		{"name: live-demo", "name: " + name},
		{"/tmp/godwit-live-demo", dir},
		{"/tmp/godwit-traffic-demo/token", tokenFile},
		{"http://127.0.0.1:18490", r.gw.AdminURL},
		{"rowsPerSecond: 4000", "rowsPerSecond: 200000"},
		{"hold: 5s", "hold: 1s"},
		{"window: 6s, interval: 2s", "window: 2s, interval: 1s"},
		// The test proves the run completes, not how fast a loaded
		// machine answers: latency and heartbeats get room.
		{"maxP99: 500ms", "maxP99: 30s"},
		{"heartbeatTimeout: 5s", "heartbeatTimeout: 30s"},
	} {
		require.Contains(t, text, rw.old, "examples/live-demo.yaml changed: update newLiveDemo")
		text = strings.ReplaceAll(text, rw.old, rw.new)
	}
	r.spec = filepath.Join(dir, "spec.yaml")
	require.NoError(t, os.WriteFile(r.spec, []byte(text), 0o644))
	return r
}

// TestLiveDemoCompletes runs the live demo to the end under client load:
// the tables are created and copied, the reconcile hook finds every row
// equal, reads move 10% then 50% (writes pinned on legacy) to the go-live
// gate, then everything moves to new and legacy is retired. The target
// must equal the source row for row, the gateway end at 100, and no client
// request fail.
func TestLiveDemoCompletes(t *testing.T) {
	t.Parallel()
	r := newLiveDemo(t, "it-live-demo")
	dir := filepath.Dir(r.spec)
	r.start()
	r.waitFor("the go-live gate", func() bool { return r.status().WaitingGate == "go-live" })
	require.Equal(t, [2]int{50, 0}, r.weights(), "reads at 50%, writes still on legacy at the gate")
	rep := r.status()
	require.Equal(t, "new matches legacy: 3 tables, 100,000 rows, every row identical", rep.Phases[3].Summary)
	require.Positive(t, r.load.new_.Load(), "new got reads at 10% and 50%")

	out, err := godwit(t, "approve", r.name, "--gate", "go-live")
	require.NoError(t, err, out)
	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.Equal(t, "created the database file for store new; created 3 tables in new: customers, order_lines, orders", final.Phases[1].Summary)
	require.Equal(t, int64(100000), final.Phases[2].Records)
	require.Contains(t, final.Phases[2].Summary, "copied 100,000 rows of 3 tables from legacy to new")
	require.Equal(t, "route users: reads 100%, writes 100% to new (were 50%, 0%)", final.Phases[4].Summary)
	require.Equal(t, "legacy database retired: legacy-retired.db", final.Phases[5].Summary)
	require.Equal(t, [2]int{100, 100}, r.weights(), "the gateway ends at 100")
	recordHistory(t, r.name) // provision, copy, reconcile, traffic and retire drivers in one run

	ctx := context.Background()
	legacy, err := datastore.Open(ctx, datastore.SQLite, filepath.Join(dir, "legacy-retired.db"))
	require.NoError(t, err)
	defer legacy.Close()
	target, err := datastore.Open(ctx, datastore.SQLite, filepath.Join(dir, "new.db"))
	require.NoError(t, err)
	defer target.Close()
	for _, table := range liveDemoTables {
		dbtest.AssertSameRows(t, legacy, target, table)
	}
	r.requireNoFailedRequest()
}
