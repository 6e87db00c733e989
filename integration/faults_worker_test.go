package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/gateway/gatewaytest"
	"github.com/godwit/godwit/migration"
)

// killRun is a migration over every phase kind with real drivers where
// they exist (provision, copy, traffic) and hooks elsewhere, run by one
// godwit-worker process at a time on a queue of its own, so a test can kill
// "the worker" with SIGKILL and start a fresh one.
type killRun struct {
	t         *testing.T
	name, dir string
	queue     string
	spec      string
	src, dst  dbtest.DB
	target    *faultProxy
	legacy    *gatewaytest.Upstream
	new_      *gatewaytest.Upstream
	gw        *gatewaytest.Gateway
	load      *clientLoad
	worker    *workerProc
	// killed lists each attempt killed and the worker started after it.
	killed []killPoint
}

// killPoint is one SIGKILL: the phase, action and step it hit, and the
// worker started in its place.
type killPoint struct {
	phase, action string
	step          int
	next          *workerProc
}

const killRows = 20_000

func newKillRun(t *testing.T, name, phases string) *killRun {
	t.Helper()
	r := &killRun{t: t, name: name, queue: name, dir: t.TempDir(),
		legacy: gatewaytest.NewUpstream(t, "legacy"), new_: gatewaytest.NewUpstream(t, "new")}
	r.src, r.dst = dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, r.src.Store, "CREATE TABLE plain (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL)")
	seedPlain(t, r.src, killRows)
	// The target is reached through a proxy, so a test can slow it down
	// and widen the window in which a short phase can be caught.
	r.target = newFaultProxy(t, name+"-target", serverAddr(t, datastore.Postgres, r.dst.DSN))
	r.gw = gatewaytest.Start(t, gatewaytest.Options{Legacy: r.legacy.URL, New: r.new_.URL, Token: trafficToken})
	files := map[string]string{
		"legacy.dsn":    r.src.DSN,
		"new.dsn":       viaProxy(t, datastore.Postgres, r.dst.DSN, r.target.Addr),
		"gateway-token": trafficToken,
	}
	for f, v := range files {
		require.NoError(t, os.WriteFile(filepath.Join(r.dir, f), []byte(v+"\n"), 0o600))
	}
	text := fmt.Sprintf(`name: %[1]s
defaults:
  timeout: 2m
  heartbeatTimeout: 3s
  retry: {maxAttempts: 5, initialInterval: 200ms}
stores:
  legacy: {engine: sqlite, dsn: {fromFile: %[2]s/legacy.dsn}}
  new: {engine: postgres, dsn: {fromFile: %[2]s/new.dsn}}
phases:
%[3]s`, name, r.dir, strings.NewReplacer("%[1]s", r.dir, "%[2]s", r.gw.AdminURL).Replace(phases))
	r.spec = filepath.Join(r.dir, "spec.yaml")
	require.NoError(t, os.WriteFile(r.spec, []byte(text), 0o644))
	r.worker = startWorkerAt(t, env.address, r.queue)
	return r
}

func (r *killRun) start() {
	r.t.Helper()
	r.load = startClientLoad(r.t, r.gw.TrafficURL)
	out, err := godwitAt(r.t, env.address, r.queue, "start", "-f", r.spec)
	require.NoError(r.t, err, out)
}

// killAt waits until the worker starts the given attempt of a phase's
// action (step 0: the whole phase), waits for ready (if any), then kills
// the worker with SIGKILL and starts a fresh one in its place.
func (r *killRun) killAt(phase, action string, step int, ready func() bool) {
	r.t.Helper()
	fields := map[string]string{"migration": r.name, "phase": phase, "action": action}
	if step > 0 {
		fields["step"] = strconv.Itoa(step)
	}
	r.worker.waitLogged(r.t, 60*time.Second, "phase started", fields)
	if ready != nil {
		deadline := time.Now().Add(30 * time.Second)
		for !ready() {
			require.True(r.t, time.Now().Before(deadline), "%s %s: not ready to be killed in 30s", phase, action)
			time.Sleep(20 * time.Millisecond)
		}
	}
	r.worker.kill()
	require.False(r.t, r.worker.logged("phase finished", fields), "%s %s finished before the kill landed", phase, action)
	r.t.Logf("killed the worker in %s %s (step %d)", phase, action, step)
	r.worker = startWorkerAt(r.t, env.address, r.queue)
	r.killed = append(r.killed, killPoint{phase: phase, action: action, step: step, next: r.worker})
}

// requireEveryKillRetried checks that after each kill the fresh worker ran
// the killed phase (or step, or compensation) again as a later attempt.
func (r *killRun) requireEveryKillRetried() {
	r.t.Helper()
	for _, k := range r.killed {
		r.requireRetried(k.next, k.phase, k.action, k.step)
	}
}

func (r *killRun) requireRetried(w *workerProc, phase, action string, step int) {
	r.t.Helper()
	fields := map[string]string{"migration": r.name, "phase": phase, "action": action}
	if step > 0 {
		fields["step"] = strconv.Itoa(step)
	}
	for _, l := range w.logLines() {
		if l["@message"] == "phase started" && matches(l, fields) {
			if a, ok := l["attempt"].(float64); ok && a >= 2 {
				return
			}
		}
	}
	r.t.Fatalf("no later attempt of %s %s step %d after the kill:\n%s", phase, action, step, w.logs.String())
}

func matches(l map[string]any, fields map[string]string) bool {
	for k, v := range fields {
		if fmt.Sprint(l[k]) != v {
			return false
		}
	}
	return true
}

func (r *killRun) result() (migration.Report, error) {
	r.t.Helper()
	d := &demo{t: r.t, name: r.name}
	return d.result()
}

// killPhases: validate, provision, copy, shift-traffic (setWeight, an
// analysis, setWeight), reconcile and decommission. %[1]s is the run's
// directory, %[2]s the gateway's admin URL.
const killPhases = `  - phase: validate
    hook: {run: {command: [sh, -c, 'sleep 2; echo checked']}}
  - phase: provision
    provision: {from: legacy, to: new, tables: [plain]}
  - phase: copy
    copy: {from: legacy, to: new, tables: [plain], batchRows: 500, rowsPerSecond: 8000}
  - phase: shift-traffic
    traffic:
      gateway: {admin: %[2]s, token: {fromFile: %[1]s/gateway-token}}
      route: users
      writeConsistency: sharedStore
      steps:
        - setWeight: 50
        - analysis: {window: 4s, interval: 1s, minRequests: 3, maxErrorRate: 0.01, failureLimit: 2}
        - setWeight: 100
  - phase: reconcile
    hook: {run: {command: [sh, -c, 'sleep 2; echo "rows match"']}}
  - phase: decommission
    hook: {run: {command: [sh, -c, 'sleep 2; touch %[1]s/decommissioned']}}
`

// TestFaultWorkerKilledInEachPhaseKind kills the only worker with SIGKILL
// once in every phase kind — validate, provision, copy, shift-traffic
// (during its analysis, under client load), reconcile, decommission — and
// starts a fresh one each time. The run completes as it would have: each
// killed phase ran again on the new worker, the target holds exactly the
// source's rows, the route ends at 100% and no client request failed.
func TestFaultWorkerKilledInEachPhaseKind(t *testing.T) {
	t.Parallel()
	r := newKillRun(t, "it-fault-kill-each", killPhases)
	r.start()

	r.killAt("validate", "run", 0, nil)
	// A slow link to the target (each answer 150ms late) keeps provision
	// running long enough to be caught; it is lifted once the kill landed.
	r.target.add("slow", "latency", "downstream", map[string]any{"latency": 150})
	r.killAt("provision", "run", 0, nil)
	r.target.remove("slow")
	r.killAt("copy", "run", 0, func() bool {
		n, err := r.dst.Store.Count(context.Background(), "plain")
		return err == nil && n >= killRows/4
	})
	r.killAt("shift-traffic", "run", 2, func() bool { return r.new_.Hits.Load() > 0 })
	r.killAt("reconcile", "run", 0, nil)
	r.killAt("decommission", "run", 0, nil)

	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.Len(t, r.killed, 6)
	r.requireEveryKillRetried()
	for _, p := range final.Phases {
		require.Equal(t, migration.PhaseCompleted, p.State, p.Phase)
	}
	require.Equal(t, int64(killRows), final.Phases[2].Records)
	dbtest.AssertSameRows(t, r.src.Store, r.dst.Store, "plain")
	st, err := r.gw.Client.Route(context.Background(), "users")
	require.NoError(t, err)
	require.Equal(t, 100, st.Weights.Read)
	_, err = os.Stat(filepath.Join(r.dir, "decommissioned"))
	require.NoError(t, err, "decommission ran")
	r.requireNoFailedRequest()
}

// TestFaultWorkerKilledDuringRollback fails the reconcile for good, so the
// run rolls back, and kills the worker in the middle of two compensations
// (the copy's, which empties the target table, and provision's, which
// drops it). The rollback goes on on a fresh worker
// and ends as it would have: ROLLED_BACK, the route back on legacy, the
// provisioned table gone, the source untouched.
func TestFaultWorkerKilledDuringRollback(t *testing.T) {
	t.Parallel()
	r := newKillRun(t, "it-fault-kill-rollback", `  - phase: provision
    provision: {from: legacy, to: new, tables: [plain]}
  - phase: copy
    copy: {from: legacy, to: new, tables: [plain], batchRows: 2000}
  - phase: shift-traffic
    traffic:
      gateway: {admin: %[2]s, token: {fromFile: %[1]s/gateway-token}}
      route: users
      writeConsistency: sharedStore
      steps: [{setWeight: 30}]
  - phase: reconcile
    retry: {maxAttempts: 1}
    hook:
      run: {command: [sh, -c, 'echo "mismatch: 3 rows differ" >&2; exit 1']}
`)
	r.start()
	// Once the reconcile fails, every answer of the target comes 150ms
	// late: the compensations run long enough to be caught.
	r.worker.waitLogged(t, 60*time.Second, "phase started", map[string]string{"migration": r.name, "phase": "reconcile"})
	r.target.add("slow", "latency", "downstream", map[string]any{"latency": 150})
	r.killAt("copy", "compensate", 0, nil)
	r.killAt("provision", "compensate", 0, nil)
	r.target.remove("slow")

	final, err := r.result()
	require.Error(t, err)
	require.Equal(t, migration.StatusRolledBack, final.Status, final.Error)
	require.Equal(t, "phase reconcile failed: run reconcile: exited with code 1: mismatch: 3 rows differ", final.Error)
	for i, want := range []migration.PhaseState{migration.PhaseCompensated, migration.PhaseCompensated,
		migration.PhaseCompensated, migration.PhaseFailed} {
		require.Equal(t, want, final.Phases[i].State, final.Phases[i].Phase)
	}
	r.requireEveryKillRetried()
	st, err := r.gw.Client.Route(context.Background(), "users")
	require.NoError(t, err)
	require.Equal(t, 0, st.Weights.Read, "the route is back on legacy")
	require.NotContains(t, tablesOf(t, r.dst.Store), "plain", "provision's compensation dropped the table")
	n, err := r.src.Store.Count(context.Background(), "plain")
	require.NoError(t, err)
	require.Equal(t, int64(killRows), n, "the source is untouched")
	r.requireNoFailedRequest()
}

func (r *killRun) requireNoFailedRequest() {
	r.t.Helper()
	tr := &trafficRun{t: r.t, load: r.load}
	tr.requireNoFailedRequest()
}

// TestFaultCancelledRunRollsBackThroughAWorkerCrash cancels the workflow
// (as `temporal workflow cancel` or the UI would) in the middle of a copy,
// then kills the worker while provision's compensation drops the table.
// The cancelled run still rolls back, on a fresh worker, to the end.
func TestFaultCancelledRunRollsBackThroughAWorkerCrash(t *testing.T) {
	t.Parallel()
	r := newKillRun(t, "it-fault-cancel", `  - phase: provision
    provision: {from: legacy, to: new, tables: [plain]}
  - phase: copy
    copy: {from: legacy, to: new, tables: [plain], batchRows: 500, rowsPerSecond: 5000}
`)
	r.start()
	r.worker.waitLogged(t, 60*time.Second, "phase started", map[string]string{"migration": r.name, "phase": "copy"})
	waitUntil(t, "rows in the target", func() bool {
		n, err := r.dst.Store.Count(context.Background(), "plain")
		return err == nil && n >= 2000
	})
	require.NoError(t, env.client.CancelWorkflow(context.Background(), r.name, ""))
	r.target.add("slow", "latency", "downstream", map[string]any{"latency": 150})
	r.killAt("provision", "compensate", 0, nil)
	r.target.remove("slow")

	final, err := r.result()
	var canceled *temporal.CanceledError
	require.ErrorAs(t, err, &canceled)
	require.Equal(t, migration.StatusRolledBack, final.Status)
	require.Equal(t, migration.PhaseCompensated, final.Phases[0].State)
	require.Equal(t, migration.PhaseCancelled, final.Phases[1].State)
	require.NotContains(t, tablesOf(t, r.dst.Store), "plain", "provision's compensation dropped the table")
	r.requireEveryKillRetried()
}
