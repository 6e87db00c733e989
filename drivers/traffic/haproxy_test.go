package traffic

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/haproxy/haproxytest"
)

// The driver moves a real HAProxy's weights step by step through its
// runtime socket and its compensation puts everything back on legacy.
func TestHAProxyRouterMovesAndRollsBack(t *testing.T) {
	rt := haproxytest.Start(t)
	ctx := context.Background()
	d := New(nil)
	spec := Spec{Router: &Router{HAProxy: &HAProxyRouter{Socket: rt.Socket, Backend: "be", LegacyServer: "s1", NewServer: "s2"}},
		Steps: []Step{{SetWeight: &Weight{All: intp(5)}}, {SetWeight: &Weight{All: intp(50)}}}}
	weights := func() [2]int {
		t.Helper()
		l, err := rt.Weight(ctx, "be", "s1")
		require.NoError(t, err)
		n, err := rt.Weight(ctx, "be", "s2")
		require.NoError(t, err)
		return [2]int{l, n}
	}

	res, err := d.Do(ctx, activities.ActionRun, phaseInput(&spec, 1), activities.Heartbeat{}, noBeat)
	require.NoError(t, err)
	assert.Equal(t, "haproxy backend be: 5% to s2 (was 0%)", res.Summary)
	assert.Equal(t, [2]int{95, 5}, weights())
	res, err = d.Do(ctx, activities.ActionRun, phaseInput(&spec, 2), activities.Heartbeat{}, noBeat)
	require.NoError(t, err)
	assert.Equal(t, [2]int{50, 50}, weights())
	assert.Equal(t, map[string]string{OutputReadWeight: "50", OutputWriteWeight: "50"}, res.Outputs)

	for i := 0; i < 2; i++ { // idempotent
		res, err = d.Do(ctx, activities.ActionCompensate, phaseInput(&spec, 0), activities.Heartbeat{}, noBeat)
		require.NoError(t, err)
		assert.Equal(t, [2]int{100, 0}, weights(), "compensation %d", i+1)
	}
}

func TestHAProxyPreflight(t *testing.T) {
	rt := haproxytest.Start(t)
	d := New(nil)
	cases := []struct {
		name   string
		router HAProxyRouter
		want   string // fragment of the one problem; "" for none
	}{
		{"ready", HAProxyRouter{Socket: rt.Socket, Backend: "be", LegacyServer: "s1", NewServer: "s2"}, ""},
		{"unknown server", HAProxyRouter{Socket: rt.Socket, Backend: "be", LegacyServer: "s1", NewServer: "s9"}, "has no server be/s9"},
		{"no socket", HAProxyRouter{Socket: filepath.Join(t.TempDir(), "x.sock"), Backend: "be", LegacyServer: "s1", NewServer: "s2"}, "is not reachable from this worker"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.router
			s := &Spec{Router: &Router{HAProxy: &r}, Steps: []Step{{SetWeight: &Weight{All: intp(5)}}}}
			got := d.Preflight(context.Background(), &config.Spec{}, config.PhaseSpec{Driver: s})
			if tc.want == "" {
				assert.Empty(t, got)
				return
			}
			require.Len(t, got, 1)
			assert.Contains(t, got[0], tc.want)
		})
	}
}
