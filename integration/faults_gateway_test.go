package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/gateway/api"
	"github.com/godwit/godwit/gateway/gatewaytest"
	"github.com/godwit/godwit/migration"
)

// TestFaultGatewayNewUpstreamKilledUnderLoad shifts half the traffic to
// new, then kills new (its listener and every connection closed) while
// clients keep sending requests and the analysis watches. The gateway
// serves what was meant for new from legacy and opens its breaker: no
// client request fails. The analysis sees new's errors and the migration
// rolls the route back to legacy.
func TestFaultGatewayNewUpstreamKilledUnderLoad(t *testing.T) {
	t.Parallel()
	r := newTrafficRun(t, "it-fault-gateway-kill", `        - setWeight: 50
        - analysis: {window: 8s, interval: 1s, minRequests: 3, maxErrorRate: 0.01, failureLimit: 2}
        - setWeight: 100
`)
	r.start()
	r.waitFor("the analysis at 50%", func() bool {
		return strings.HasPrefix(r.status().Phases[1].Step, "2 of 3: analysis") && r.new_.Hits.Load() > 20
	})
	r.new_.CloseClientConnections()
	r.new_.Close()
	r.waitFor("the breaker to open", func() bool {
		st, err := r.gw.Client.Route(context.Background(), "users")
		return err == nil && st.Breaker == api.BreakerOpen
	})

	final, err := r.result()
	require.Error(t, err)
	require.Equal(t, migration.StatusRolledBack, final.Status, final.Error)
	require.Contains(t, final.Error, "analysis failed")
	require.Equal(t, [2]int{0, 0}, r.weights(), "the route is back on legacy")
	st, err := r.gw.Client.Route(context.Background(), "users")
	require.NoError(t, err)
	require.Positive(t, st.Fallbacks, "legacy served what new could not")
	r.requireNoFailedRequest()
	t.Logf("fallbacks to legacy: %d", st.Fallbacks)
}

// TestFaultGatewayRestartKeepsWeights restarts the gateway (same state
// file, same addresses) while a migration waits at a gate with half the
// traffic on new: it comes back with the weights it had. Then it is
// stopped again, the gate approved while it is down, and started again:
// the traffic driver retries the next weight until the gateway answers,
// and the migration completes at 100%.
func TestFaultGatewayRestartKeepsWeights(t *testing.T) {
	t.Parallel()
	name := "it-fault-gateway-restart"
	legacy, newUp := gatewaytest.NewUpstream(t, "legacy"), gatewaytest.NewUpstream(t, "new")
	dir := t.TempDir()
	opts := gatewaytest.Options{Legacy: legacy.URL, New: newUp.URL, Token: trafficToken,
		StateFile: filepath.Join(dir, "gateway-state.json")}
	gw := gatewaytest.Start(t, opts)
	opts.TrafficAddr, opts.AdminAddr = gw.TrafficAddr, gw.AdminAddr
	require.NoError(t, os.WriteFile(filepath.Join(dir, "gateway-token"), []byte(trafficToken+"\n"), 0o600))
	spec := filepath.Join(dir, "spec.yaml")
	require.NoError(t, os.WriteFile(spec, []byte(fmt.Sprintf(`name: %s
defaults: {timeout: 1m, heartbeatTimeout: 5s}
phases:
  - phase: shift-traffic
    retry: {maxAttempts: 30, initialInterval: 200ms, maxInterval: 500ms}
    traffic:
      gateway: {admin: %s, token: {fromFile: %s/gateway-token}}
      route: users
      writeConsistency: sharedStore
      steps:
        - setWeight: 40
        - gate: go-100
        - setWeight: 100
`, name, gw.AdminURL, dir)), 0o644))
	r := &trafficRun{t: t, name: name, spec: spec, legacy: legacy, new_: newUp, gw: gw}
	r.start()
	r.waitFor("the go-100 gate", func() bool { return r.status().WaitingGate == "go-100" })
	require.Equal(t, [2]int{40, 40}, r.weights())
	// Clients would see the gateway go away: count only while it is up.
	r.requireNoFailedRequest()

	gw.Stop()
	r.gw = gatewaytest.Start(t, opts)
	require.Equal(t, [2]int{40, 40}, r.weights(), "the restarted gateway kept the weights")
	r.load = startClientLoad(t, r.gw.TrafficURL)
	r.waitFor("new to answer again", func() bool { return r.load.new_.Load() > 0 })
	r.requireNoFailedRequest()

	r.gw.Stop()
	out, err := godwit(t, "approve", name, "--gate", "go-100")
	require.NoError(t, err, out)
	time.Sleep(time.Second) // the driver's setWeight fails meanwhile, and is retried
	r.gw = gatewaytest.Start(t, opts)
	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.Equal(t, [2]int{100, 100}, r.weights())
	require.Greater(t, final.Phases[0].Attempts, 1, "the setWeight that met the stopped gateway was retried")
}
