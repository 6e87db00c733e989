package control

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/config"
)

// A gateway (or a proxy before it) that echoes the admin token in its
// error answer: the error reaches the dashboard's page, which anyone who
// reaches it may read, and the terminal of godwit status --format exec. It
// says what failed without the token.
func TestGatewayStatsErrorNeverHoldsTheToken(t *testing.T) {
	const token = "gw-admin-Token-Marten-4417"
	t.Setenv("TRIAL_GW_TOKEN", token)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error": "token refused: ` + r.Header.Get("Authorization") + `"}`))
	}))
	t.Cleanup(srv.Close)
	g := Gateway{URL: srv.URL, Route: "users", Token: config.SecretRef{FromEnv: "TRIAL_GW_TOKEN"}}
	_, err := g.Stats(context.Background())
	require.Error(t, err)
	require.Contains(t, err.Error(), "token refused")
	require.NotContains(t, err.Error(), "Marten")
}

// godwit set-weight prints the gateway's error to the terminal: a gateway
// that echoes the token in its refusal has it redacted there too.
func TestGatewaySetWeightsErrorNeverHoldsTheToken(t *testing.T) {
	const token = "gw-admin-Token-Heron-5823"
	t.Setenv("TRIAL_GW_TOKEN", token)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"error": "weights refused for ` + r.Header.Get("Authorization") + `"}`))
	}))
	t.Cleanup(srv.Close)
	g := Gateway{URL: srv.URL, Route: "users", Token: config.SecretRef{FromEnv: "TRIAL_GW_TOKEN"}}
	err := g.SetWeights(context.Background(), 10, 0)
	require.Error(t, err)
	require.Contains(t, err.Error(), "weights refused")
	require.Contains(t, err.Error(), "route users")
	require.NotContains(t, err.Error(), "Heron")
}
