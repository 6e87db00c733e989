package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/control"
	"github.com/godwit/godwit/gateway/gatewaytest"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

// trafficRun is one migration that moves a route of a real godwit-gateway
// (in-process, on 127.0.0.1) between two stand-in services, while a client
// loop sends requests through the gateway.
type trafficRun struct {
	t            *testing.T
	name, spec   string
	legacy, new_ *gatewaytest.Upstream
	gw           *gatewaytest.Gateway
	load         *clientLoad
}

const trafficToken = "it-gateway-token"

// newTrafficRun starts the services and the gateway and writes a spec whose
// traffic phase has the given steps (YAML list items, indented 8 spaces).
func newTrafficRun(t *testing.T, name, steps string) *trafficRun {
	t.Helper()
	r := &trafficRun{t: t, name: name,
		legacy: gatewaytest.NewUpstream(t, "legacy"), new_: gatewaytest.NewUpstream(t, "new")}
	r.gw = gatewaytest.Start(t, gatewaytest.Options{Legacy: r.legacy.URL, New: r.new_.URL, Token: trafficToken})
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "gateway-token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(trafficToken+"\n"), 0o600))
	spec := fmt.Sprintf(`name: %s
defaults:
  timeout: 1m
  heartbeatTimeout: 5s
  retry: {maxAttempts: 3, initialInterval: 200ms}
phases:
  - phase: validate
    hook: {run: {command: ["true"]}}
  - phase: shift-traffic
    name: shift-users
    traffic:
      gateway:
        admin: %s
        token: {fromFile: %s}
      route: users
      writeConsistency: sharedStore
      steps:
%s`, name, r.gw.AdminURL, tokenFile, steps)
	r.spec = filepath.Join(dir, "spec.yaml")
	require.NoError(t, os.WriteFile(r.spec, []byte(spec), 0o644))
	return r
}

func (r *trafficRun) start() {
	r.t.Helper()
	r.load = startClientLoad(r.t, r.gw.TrafficURL)
	out, err := godwit(r.t, "start", "-f", r.spec)
	require.NoError(r.t, err, out)
}

func (r *trafficRun) status() migration.Report {
	r.t.Helper()
	out, err := godwit(r.t, "status", r.name, "-o", "json")
	require.NoError(r.t, err, out)
	var rep migration.Report
	require.NoError(r.t, json.Unmarshal([]byte(out), &rep), out)
	return rep
}

// waitFor polls cond (on the gateway or the report) until it holds, for
// as long as the run keeps moving (waitWhileMoving): under -race with the
// whole integration package running in parallel on two cores, the live
// demo's copy of 100,000 SQLite rows alone takes minutes.
func (r *trafficRun) waitFor(what string, cond func() bool) {
	r.t.Helper()
	waitWhileMoving(r.t, what, r.status, func(migration.Report) bool { return cond() })
}

// weights returns the route's weights as the gateway has them.
func (r *trafficRun) weights() [2]int {
	r.t.Helper()
	st, err := r.gw.Client.Route(context.Background(), "users")
	require.NoError(r.t, err)
	return [2]int{st.Weights.Read, st.Weights.Write}
}

func (r *trafficRun) result() (migration.Report, error) {
	r.t.Helper()
	// Wait for the end as long as the run moves, then for its result.
	waitWhileMoving(r.t, "the run to end", r.status, func(rep migration.Report) bool { return rep.Status.Final() })
	ctx, cancel := context.WithTimeout(context.Background(), stallAfter)
	defer cancel()
	var rep migration.Report
	err := env.client.GetWorkflow(ctx, r.name, "").Get(ctx, &rep)
	if ctx.Err() != nil {
		r.t.Fatalf("the run's status is final but its result did not come within %s: %v", stallAfter, err)
	}
	if err != nil {
		final, ok := workflows.ReportFromError(err)
		require.True(r.t, ok, "the run ended without a report: %v", err)
		rep = *final
	}
	return rep, err
}

// clientLoad sends GETs with rotating sticky keys through the gateway until
// stopped (or a bound), counting answers by side and every failure.
type clientLoad struct {
	stop                 context.CancelFunc
	done                 sync.WaitGroup
	legacy, new_, failed atomic.Int64
	mu                   sync.Mutex
	failures             []string
}

func startClientLoad(t *testing.T, base string) *clientLoad {
	l := &clientLoad{}
	ctx, cancel := context.WithCancel(context.Background())
	l.stop = cancel
	hc := &http.Client{Timeout: 10 * time.Second}
	for w := range 2 {
		l.done.Add(1)
		go func() {
			defer l.done.Done()
			// Until stopped, not for a number of requests: a slow run
			// must still have clients when its analysis watches.
			for i := 0; ctx.Err() == nil; i++ {
				l.one(ctx, hc, base, fmt.Sprintf("user-%d", (i*2+w)%1000))
				time.Sleep(4 * time.Millisecond)
			}
		}()
	}
	t.Cleanup(l.finish)
	return l
}

func (l *clientLoad) one(ctx context.Context, hc *http.Client, base, key string) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/users/"+key, nil)
	req.Header.Set("X-User-ID", key)
	res, err := hc.Do(req)
	if ctx.Err() != nil {
		return // stopped mid-request: not an answer
	}
	if err != nil {
		l.fail(err.Error())
		return
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	switch {
	case res.StatusCode != http.StatusOK:
		l.fail(fmt.Sprintf("%d %s", res.StatusCode, body))
	case string(body) == "legacy":
		l.legacy.Add(1)
	case string(body) == "new":
		l.new_.Add(1)
	default:
		l.fail("unexpected answer " + string(body))
	}
}

func (l *clientLoad) fail(msg string) {
	l.failed.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) < 5 {
		l.failures = append(l.failures, msg)
	}
}

func (l *clientLoad) finish() {
	l.stop()
	l.done.Wait()
}

// requireNoFailedRequest stops the load and checks that every client
// request was answered 200 by one of the two services.
func (r *trafficRun) requireNoFailedRequest() {
	r.t.Helper()
	r.load.finish()
	r.load.mu.Lock()
	defer r.load.mu.Unlock()
	require.Zero(r.t, r.load.failed.Load(), "client requests failed: %v", r.load.failures)
	r.t.Logf("client requests: %d answered by legacy, %d by new, none failed", r.load.legacy.Load(), r.load.new_.Load())
}

// analysisStep samples for 8 s: the test reads the analysis's figures in
// the status while it runs, and on a loaded machine (a CI run beside other
// work) a 3 s analysis could end between two status reads; the run then
// waited at its gate and the test for figures it had missed.
const analysisStep = `        - analysis: {window: 8s, interval: 1s, minRequests: 3, maxErrorRate: 0.01, maxP99: 2s, failureLimit: 2}
`

func TestTrafficShiftCompletesThroughTheGateway(t *testing.T) {
	t.Parallel()
	r := newTrafficRun(t, "it-traffic-complete", `        - setWeight: 10
        - hold: 2s
`+analysisStep+`        - setWeight: 50
        - gate: go-100
        - setWeight: 100
`)
	r.start()
	// While the analysis runs, status shows its figures (the heartbeat).
	var detail string
	r.waitFor("the analysis figures in status", func() bool {
		detail = r.status().Phases[1].Detail
		return strings.Contains(detail, "samples:") && strings.Contains(detail, "; last: ")
	})
	require.Regexp(t, `^analysis \d of 8 samples: \d passed, \d failed \(limit 2\), \d inconclusive; last: \w+, new \d+ requests, error rate`, detail)
	t.Logf("status during the analysis: %s", detail)
	r.waitFor("the go-100 gate", func() bool { return r.status().WaitingGate == "go-100" })
	require.Equal(t, [2]int{50, 50}, r.weights())
	rep := r.status()
	shift := rep.Phases[1]
	require.Equal(t, "5 of 6: gate go-100", shift.Step)
	require.Equal(t, "route users: reads 50%, writes 50% to new (were 10%, 10%)", shift.Summary)
	require.Positive(t, r.load.new_.Load(), "new got traffic at 10% and 50%")
	// The dashboard's run page charts the gateway's error rates on the
	// route (read as status --format exec reads them) and the weights the
	// steps set (from the run's own series: no phase has handed them on).
	page := dashboardPage(t, control.Migrations{Client: env.client, Namespace: "default"}, r.name)
	require.Contains(t, page, `<svg role="img" aria-label="Gateway error rate from`)
	require.Contains(t, page, "latest new 0 %, legacy 0 %")
	require.Contains(t, page, "latest reads 50 %, writes 50 %")
	require.Contains(t, page, "System Availability: 100.00% (", "the executive summary reads the gateway too")

	out, err := godwit(t, "approve", r.name, "--gate", "go-100")
	require.NoError(t, err, out)
	final, err := r.result()
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.Equal(t, [2]int{100, 100}, r.weights(), "the gateway ends at 100")
	require.Equal(t, "route users: reads 100%, writes 100% to new (were 50%, 50%)", final.Phases[1].Summary)
	recordHistory(t, r.name)
	r.waitFor("requests served by new at 100%", func() bool {
		before := r.load.legacy.Load()
		time.Sleep(300 * time.Millisecond)
		return r.load.legacy.Load() == before
	})
	r.requireNoFailedRequest()
}

func TestTrafficShiftRollsBackWhenNewFails(t *testing.T) {
	t.Parallel()
	r := newTrafficRun(t, "it-traffic-new-fails", `        - setWeight: 10
        - hold: 1s
        - analysis: {window: 8s, interval: 1s, minRequests: 3, maxErrorRate: 0.01, maxP99: 2s, failureLimit: 2}
        - setWeight: 50
        - gate: go-100
        - setWeight: 100
`)
	r.start()
	r.waitFor("the analysis at 10%", func() bool {
		return strings.HasPrefix(r.status().Phases[1].Step, "3 of 6: analysis") && r.weights() == [2]int{10, 10}
	})
	// The bar counts the two steps done, not the analysis's samples (new
	// still serves well here, so the phase is at step 3, 4 or its gate).
	st := r.status()
	require.GreaterOrEqual(t, st.Phases[1].Progress, 100*2.0/6, "progress at step %s", st.Phases[1].Step)
	// New breaks during the analysis: its 500s are served by legacy (the
	// client sees none), count as errors of new, and fail the analysis.
	r.new_.SetFailing(true)
	final, err := r.result()
	require.Error(t, err)
	require.Equal(t, migration.StatusRolledBack, final.Status, final.Error)
	// The first failing sample may still hold a few requests from before
	// new broke: its error rate is near 1, not always exactly 1.
	require.Regexp(t, `^phase shift-users failed: analysis failed: 2 of \d samples breached a threshold \(limit 2\): error rate (0\.[5-9]\d{3}|1\.0000) above 0\.0100`, final.Error)
	require.Equal(t, migration.PhaseCompensated, final.Phases[1].State)
	require.Positive(t, final.Metrics.ErrorRate, "the traffic phase failed: its rollback does not make it good work")
	require.Equal(t, "route users back on legacy: reads 0%, writes 0% to new", final.Phases[1].Summary)
	require.Equal(t, [2]int{0, 0}, r.weights(), "the gateway ends at 0")
	recordHistory(t, r.name)
	require.Positive(t, r.new_.Failed.Load(), "new did fail requests")
	r.requireNoFailedRequest()
}

func TestTrafficRollbackSignalMovesTheRouteBackAtOnce(t *testing.T) {
	t.Parallel()
	r := newTrafficRun(t, "it-traffic-rollback", `        - setWeight: 25
        - hold: 10m
        - setWeight: 100
`)
	r.start()
	r.waitFor("the hold at 25%", func() bool {
		return strings.HasPrefix(r.status().Phases[1].Step, "2 of 3: hold") && r.weights() == [2]int{25, 25}
	})
	asked := time.Now()
	out, err := godwit(t, "rollback", r.name, "--reason", "p99 too high")
	require.NoError(t, err, out)
	r.waitFor("weight 0", func() bool { return r.weights() == [2]int{0, 0} })
	t.Logf("route back on legacy %s after the rollback signal", time.Since(asked).Round(time.Millisecond))
	require.Less(t, time.Since(asked), 15*time.Second, "a rollback does not wait out the hold")
	final, err := r.result()
	require.NoError(t, err, "a requested rollback that undid every phase completes the run")
	require.Equal(t, migration.StatusRolledBack, final.Status)
	require.Equal(t, migration.PhaseCompensated, final.Phases[1].State)
	recordHistory(t, r.name)
	r.requireNoFailedRequest()
}
