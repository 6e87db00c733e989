package traffic

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/config"
)

// A new-user trial wrote a spec over two gateway replicas with
// examples/traffic.yaml's retry policy (5 attempts, about 15 s of
// retries), SIGKILLed one replica mid-shift and restarted it by hand: the
// step gave up before it was back, the migration rolled back and the
// rollback blocked on the same replica. Such a spec now loads with a
// warning naming the retry budget and one that gives a person time; one
// replica, or a policy that retries long enough, loads without it.
func TestAPhaseOverReplicasThatRetriesBrieflyLoadsWithAWarning(t *testing.T) {
	const two = "gateway: {admin: [http://10.0.0.1:9090, http://10.0.0.2:9090], token: {fromEnv: GW_TOKEN}}\nroute: users\nsteps: [{setWeight: 10}]\n"
	const one = "gateway: {admin: http://10.0.0.1:9090, token: {fromEnv: GW_TOKEN}}\nroute: users\nsteps: [{setWeight: 10}]\n"
	cases := []struct {
		name, top, section string
		warn               string
	}{
		{"two replicas, the example's five attempts", "defaults: {retry: {maxAttempts: 5, initialInterval: 1s}}\n", two,
			"phases[0].traffic.gateway.admin (line 7): lists 2 gateway replicas, but the phase's retry policy (maxAttempts 5, initialInterval 1s, " +
				"backoffCoefficient 2, maxInterval 1m0s) retries a replica that does not answer for only about 15s: one down longer (restarted by hand) fails the phase, " +
				"and the rollback, which must reach every replica too, then blocks until it is back; give the phase time to bring a replica back, " +
				"e.g. retry: {maxAttempts: 200, initialInterval: 1s, maxInterval: 5s} (about 16 minutes; docs/gateway.md, \"Replicas behind HAProxy\")"},
		{"two replicas, the defaults", "", two, "retries a replica that does not answer for only about 3s"},
		{"two replicas, retried long enough", "defaults: {retry: {maxAttempts: 200, initialInterval: 1s, maxInterval: 5s}}\n", two, ""},
		{"one gateway, briefly retried", "defaults: {retry: {maxAttempts: 5, initialInterval: 1s}}\n", one, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec, err := config.ParseSpec([]byte(specWith(c.top, c.section)))
			require.NoError(t, err)
			if c.warn == "" {
				assert.Empty(t, spec.Warnings())
				return
			}
			require.Len(t, spec.Warnings(), 1)
			assert.Contains(t, spec.Warnings()[0], c.warn)
		})
	}
}

func TestRetryPolicyWaitsFor(t *testing.T) {
	for _, c := range []struct {
		r    config.RetryPolicy
		want string
	}{
		{config.RetryPolicy{MaxAttempts: 1, InitialInterval: config.Duration(1e9), BackoffCoefficient: 2, MaxInterval: config.Duration(60e9)}, "0s"},
		{config.RetryPolicy{MaxAttempts: 3, InitialInterval: config.Duration(1e9), BackoffCoefficient: 2, MaxInterval: config.Duration(60e9)}, "3s"},
		{config.RetryPolicy{MaxAttempts: 5, InitialInterval: config.Duration(1e9), BackoffCoefficient: 2, MaxInterval: config.Duration(60e9)}, "15s"},
		{config.RetryPolicy{MaxAttempts: 5, InitialInterval: config.Duration(1e9), BackoffCoefficient: 2, MaxInterval: config.Duration(3e9)}, "9s"},
		{config.RetryPolicy{MaxAttempts: 200, InitialInterval: config.Duration(1e9), BackoffCoefficient: 2, MaxInterval: config.Duration(5e9)}, "16m27s"},
	} {
		assert.Equal(t, c.want, c.r.WaitsFor().String(), "%+v", c.r)
	}
}
