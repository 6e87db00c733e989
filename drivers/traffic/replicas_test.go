package traffic

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"gopkg.in/yaml.v3"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/gateway/gatewaytest"
)

func TestReplicasMoveTogetherAndAStepRetriesUntilEveryReplicaAcknowledges(t *testing.T) {
	legacy, newSvc := gatewaytest.NewUpstream(t, "legacy"), gatewaytest.NewUpstream(t, "new")
	gw1 := gatewaytest.Start(t, gatewaytest.Options{Legacy: legacy.URL, New: newSvc.URL, Token: testToken})
	gw2 := gatewaytest.Start(t, gatewaytest.Options{Legacy: legacy.URL, New: newSvc.URL, Token: testToken})
	_, token := startGateway(t) // only for its token file
	ctx := context.Background()
	d := New(nil)
	base := Spec{Gateway: Gateway{Admin: AdminURLs{gw1.AdminURL, gw2.AdminURL}, Token: &token}, Route: "users"}
	step := func(w int) (activities.PhaseResult, error) {
		s := base
		s.Steps = []Step{{SetWeight: &Weight{All: intp(w)}}}
		return d.Do(ctx, activities.ActionRun, phaseInput(&s, 1), activities.Heartbeat{}, noBeat)
	}
	weights := func(gw *gatewaytest.Gateway) [2]int {
		t.Helper()
		st, err := gw.Client.Route(ctx, "users")
		require.NoError(t, err)
		return [2]int{st.Weights.Read, st.Weights.Write}
	}

	res, err := step(25)
	require.NoError(t, err)
	assert.Equal(t, "route users: reads 25%, writes 25% to new (were 0%, 0%)", res.Summary)
	assert.Equal(t, [2]int{25, 25}, weights(gw1))
	assert.Equal(t, [2]int{25, 25}, weights(gw2))

	// A replica that does not answer: the step fails with a retryable
	// error naming it, and the replica that answered is not left alone
	// for good — the retry applies the step to both again.
	gw2.Stop()
	_, err = step(50)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, ErrTypeGatewayUnavailable, appErr.Type())
	assert.False(t, appErr.NonRetryable(), "a replica down must make the step retry")
	assert.Contains(t, err.Error(), "gateway replica "+gw2.AdminURL+" did not acknowledge")
	assert.NotContains(t, err.Error(), "gateway replica "+gw1.AdminURL)

	got := d.Preflight(ctx, &config.Spec{}, config.PhaseSpec{Driver: &Spec{Gateway: base.Gateway, Route: "users",
		Steps: []Step{{SetWeight: &Weight{All: intp(5)}}}}})
	require.Len(t, got, 1, "%v", got)
	assert.Contains(t, got[0], "the gateway's admin API at "+gw2.AdminURL+" is not reachable from this worker")

	back := gatewaytest.Start(t, gatewaytest.Options{Legacy: legacy.URL, New: newSvc.URL, Token: testToken,
		TrafficAddr: gw2.TrafficAddr, AdminAddr: gw2.AdminAddr})
	_, err = step(50) // the activity's retry
	require.NoError(t, err)
	assert.Equal(t, [2]int{50, 50}, weights(gw1))
	assert.Equal(t, [2]int{50, 50}, weights(back))

	// The compensation moves every replica back and releases their holds.
	_, err = back.Client.HoldWrites(ctx, "users", 0)
	require.NoError(t, err)
	res, err = d.Do(ctx, activities.ActionCompensate, phaseInput(&base, 0), activities.Heartbeat{}, noBeat)
	require.NoError(t, err)
	assert.Equal(t, "route users back on legacy: reads 0%, writes 0% to new; write hold released", res.Summary)
	for _, gw := range []*gatewaytest.Gateway{gw1, back} {
		st, err := gw.Client.Route(ctx, "users")
		require.NoError(t, err)
		assert.Equal(t, [2]int{0, 0}, [2]int{st.Weights.Read, st.Weights.Write}, gw.AdminURL)
		assert.False(t, st.WritesHeld, gw.AdminURL)
	}
}

func TestAdminAcceptsOneURLOrAList(t *testing.T) {
	for _, c := range []struct {
		name, yaml string
		want       AdminURLs
		resources  []string
		json       string
	}{
		{"one URL", `admin: http://127.0.0.1:9090/`, AdminURLs{"http://127.0.0.1:9090/"},
			[]string{"route:http://127.0.0.1:9090/users"}, `{"admin":"http://127.0.0.1:9090/"}`},
		{"replicas", `admin: [http://10.0.0.1:9090, http://10.0.0.2:9090]`, AdminURLs{"http://10.0.0.1:9090", "http://10.0.0.2:9090"},
			[]string{"route:http://10.0.0.1:9090/users", "route:http://10.0.0.2:9090/users"},
			`{"admin":["http://10.0.0.1:9090","http://10.0.0.2:9090"]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var g Gateway
			require.NoError(t, yaml.Unmarshal([]byte(c.yaml), &g))
			assert.Equal(t, c.want, g.Admin)
			assert.Equal(t, c.resources, g.Resources("users"))
			raw, err := json.Marshal(g)
			require.NoError(t, err)
			assert.JSONEq(t, c.json, string(raw))
			var back Gateway
			require.NoError(t, json.Unmarshal(raw, &back))
			assert.Equal(t, c.want, back.Admin, "the JSON in workflow history reads back the same")
		})
	}
}
