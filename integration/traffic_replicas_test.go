package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/gateway/gatewaytest"
	"github.com/godwit/godwit/migration"
)

// A traffic phase over two gateway replicas: every step sets both; with one
// replica down the step retries, status names that replica, and once it is
// back the retry sets both and the run completes.
func TestTrafficShiftOverTwoReplicasRetriesUntilBothAcknowledge(t *testing.T) {
	t.Parallel()
	legacy, newSvc := gatewaytest.NewUpstream(t, "legacy"), gatewaytest.NewUpstream(t, "new")
	opts := gatewaytest.Options{Legacy: legacy.URL, New: newSvc.URL, Token: trafficToken}
	gw1, gw2 := gatewaytest.Start(t, opts), gatewaytest.Start(t, opts)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "gateway-token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(trafficToken+"\n"), 0o600))
	name := "it-traffic-replicas"
	spec := fmt.Sprintf(`name: %s
defaults:
  timeout: 2m
  heartbeatTimeout: 5s
  retry: {maxAttempts: 100, initialInterval: 200ms, backoffCoefficient: 1.5, maxInterval: 1s}
phases:
  - phase: validate
    hook: {run: {command: ["true"]}}
  - phase: shift-traffic
    name: shift-users
    traffic:
      gateway:
        admin: [%s, %s]
        token: {fromFile: %s}
      route: users
      writeConsistency: sharedStore
      steps:
        - setWeight: 10
        - gate: more
        - setWeight: 50
`, name, gw1.AdminURL, gw2.AdminURL, tokenFile)
	r := &trafficRun{t: t, name: name, legacy: legacy, new_: newSvc, gw: gw1, spec: filepath.Join(dir, "spec.yaml")}
	require.NoError(t, os.WriteFile(r.spec, []byte(spec), 0o644))
	r.start() // the client load goes through the first replica
	weightsOf := func(gw *gatewaytest.Gateway) [2]int {
		st, err := gw.Client.Route(context.Background(), "users")
		require.NoError(t, err)
		return [2]int{st.Weights.Read, st.Weights.Write}
	}
	r.waitFor("the gate more", func() bool { return r.status().WaitingGate == "more" })
	require.Equal(t, [2]int{10, 10}, weightsOf(gw1))
	require.Equal(t, [2]int{10, 10}, weightsOf(gw2))

	gw2.Stop()
	out, err := godwit(t, "approve", r.name, "--gate", "more")
	require.NoError(t, err, out)
	var shown string
	r.waitFor("status to name the replica that does not answer", func() bool {
		shown = r.status().Phases[1].Error
		return strings.Contains(shown, "gateway replica "+gw2.AdminURL+" did not acknowledge")
	})
	t.Logf("status while a replica is down: %s", shown)
	require.Contains(t, shown, "retrying")

	back := gatewaytest.Start(t, gatewaytest.Options{Legacy: legacy.URL, New: newSvc.URL, Token: trafficToken,
		TrafficAddr: gw2.TrafficAddr, AdminAddr: gw2.AdminAddr})
	final, err := r.result()
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.Equal(t, [2]int{50, 50}, weightsOf(gw1))
	require.Equal(t, [2]int{50, 50}, weightsOf(back), "the replica that was down has the step too")
	r.requireNoFailedRequest()
}
