package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/gateway/client"
)

func TestWriteHoldAnswers503WithRetryAfter(t *testing.T) {
	legacy, newSide := newTestUpstream(t, "legacy"), newTestUpstream(t, "new")
	cfg := baseConfig(legacy.URL, newSide.URL)
	cfg.Routes[0].WriteHold = WriteHoldConfig{MaxWait: 50 * time.Millisecond, RetryAfter: 7 * time.Second}
	tg := startGateway(t, cfg, "")
	hc := &http.Client{}
	if _, err := tg.client.HoldWrites(context.Background(), "users", 0); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, tg.url+"/users", strings.NewReader("{}"))
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != "7" {
		t.Fatalf("held write: %s, Retry-After %q; want 503 and 7", res.Status, res.Header.Get("Retry-After"))
	}
	if legacy.writes.Load()+newSide.writes.Load() != 0 {
		t.Fatal("a held write reached an upstream")
	}
	if status, _, _ := tg.send(t, hc, http.MethodGet, "/users/1", "u1"); status != http.StatusOK {
		t.Fatalf("a read during a write hold got %d", status)
	}
}

func TestReleasedWritesGoWhereTheNewWeightsSay(t *testing.T) {
	legacy, newSide := newTestUpstream(t, "legacy"), newTestUpstream(t, "new")
	cfg := baseConfig(legacy.URL, newSide.URL)
	cfg.Routes[0].WriteHold.MaxWait = time.Minute
	tg := startGateway(t, cfg, "")
	ctx := context.Background()

	// The cut-over: hold writes, move them, release.
	if _, err := tg.client.HoldWrites(ctx, "users", 0); err != nil {
		t.Fatal(err)
	}
	if err := tg.client.WaitWritesDrained(ctx, "users", 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	type answer struct {
		status int
		side   string
	}
	done := make(chan answer, 1)
	go func() {
		status, side, _ := tg.send(t, &http.Client{}, http.MethodPost, "/users", "u1")
		done <- answer{status, side}
	}()
	eventually(t, "the write to wait for the hold", func() bool {
		st, err := tg.client.Route(ctx, "users")
		return err == nil && st.WaitingWrites == 1
	})
	if _, err := tg.client.SetWeights(ctx, "users", 0, 100); err != nil {
		t.Fatal(err)
	}
	st, err := tg.client.ReleaseWrites(ctx, "users")
	if err != nil || st.WritesHeld {
		t.Fatalf("release: %+v, %v", st, err)
	}
	if a := <-done; a.status != http.StatusOK || a.side != "new" {
		t.Fatalf("released write: %d from %s, want 200 from new", a.status, a.side)
	}
	// Release is idempotent.
	if _, err := tg.client.ReleaseWrites(ctx, "users"); err != nil {
		t.Fatal(err)
	}
}

func TestHoldWithTTLReleasesItself(t *testing.T) {
	legacy := newTestUpstream(t, "legacy")
	tg := startGateway(t, baseConfig(legacy.URL, legacy.URL), "")
	ctx := context.Background()
	st, err := tg.client.HoldWrites(ctx, "users", 50*time.Millisecond)
	if err != nil || !st.WritesHeld || st.HoldUntil == nil {
		t.Fatalf("hold: %+v, %v", st, err)
	}
	eventually(t, "the hold to expire", func() bool {
		st, err := tg.client.Route(ctx, "users")
		return err == nil && !st.WritesHeld
	})
}

func TestAdminAPIRequiresTheToken(t *testing.T) {
	legacy := newTestUpstream(t, "legacy")
	const token = "s3cret-admin-token"
	var logs bytes.Buffer
	cfg := baseConfig(legacy.URL, legacy.URL)
	g, err := New(Options{Config: cfg, Token: token, Logger: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Trace})})
	if err != nil {
		t.Fatal(err)
	}
	tg := startGatewayFrom(t, g, token)
	cases := []struct {
		name, method, path, auth string
		want                     int
	}{
		{"no token", http.MethodGet, "/v1/routes", "", http.StatusUnauthorized},
		{"wrong token", http.MethodGet, "/v1/routes", "Bearer nope", http.StatusUnauthorized},
		{"token without Bearer", http.MethodGet, "/v1/routes", token, http.StatusUnauthorized},
		{"right token", http.MethodGet, "/v1/routes", "Bearer " + token, http.StatusOK},
		{"weights without token", http.MethodPut, "/v1/routes/users/weights", "", http.StatusUnauthorized},
		{"stats without token", http.MethodGet, "/v1/routes/users/stats", "", http.StatusUnauthorized},
		{"metrics are open", http.MethodGet, "/metrics", "", http.StatusOK},
		{"health is open", http.MethodGet, "/healthz", "", http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, tg.admin+c.path, strings.NewReader(`{"read":1,"write":1}`))
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != c.want {
				t.Fatalf("%s %s: %d, want %d", c.method, c.path, res.StatusCode, c.want)
			}
		})
	}
	if r, _ := tg.client.Route(context.Background(), "users"); r.Weights.Read != 0 {
		t.Fatal("a request without the token changed the weights")
	}

	// Client errors say whether retrying can help.
	wrong, _ := client.New(client.Options{BaseURL: tg.admin, Token: "nope"})
	_, err = wrong.SetWeights(context.Background(), "users", 5, 0)
	if !client.IsPermanent(err) {
		t.Fatalf("wrong token: %v, want a permanent error", err)
	}
	if _, err := tg.client.SetWeights(context.Background(), "nosuch", 5, 0); !client.IsPermanent(err) {
		t.Fatalf("unknown route: %v, want a permanent error", err)
	}
	if _, err := tg.client.SetWeights(context.Background(), "users", 101, 0); !client.IsPermanent(err) {
		t.Fatalf("weight 101: %v, want a permanent error", err)
	}
	if _, err := tg.client.SetWeights(context.Background(), "users", 5, 0); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), token) {
		t.Fatal("the admin token appears in the logs")
	}
	if !strings.Contains(logs.String(), "weights set") {
		t.Fatal("weight changes are not logged")
	}
}

func TestAdminWithoutTokenOnlyOnLoopback(t *testing.T) {
	cfg := baseConfig("http://127.0.0.1:1", "http://127.0.0.1:2")
	cfg.Admin.Listen = "0.0.0.0:9090"
	if _, err := New(Options{Config: cfg}); err == nil {
		t.Fatal("an open admin API on all interfaces was accepted")
	}
	if _, err := New(Options{Config: cfg, Token: "t"}); err != nil {
		t.Fatalf("with a token: %v", err)
	}
}

func TestWeightsAndHoldsSurviveARestart(t *testing.T) {
	legacy, newSide := newTestUpstream(t, "legacy"), newTestUpstream(t, "new")
	dir := t.TempDir()
	cfg := baseConfig(legacy.URL, newSide.URL)
	cfg.StateFile = filepath.Join(dir, "state.json")
	ctx := context.Background()

	first := startGateway(t, cfg, "")
	if _, err := first.client.SetWeights(ctx, "users", 25, 5); err != nil {
		t.Fatal(err)
	}
	if _, err := first.client.HoldWrites(ctx, "users", 0); err != nil {
		t.Fatal(err)
	}
	first.stop()

	second := startGateway(t, cfg, "")
	st, err := second.client.Route(ctx, "users")
	if err != nil {
		t.Fatal(err)
	}
	if st.Weights.Read != 25 || st.Weights.Write != 5 || !st.WritesHeld {
		t.Fatalf("after restart: weights %+v, held %v; want 25/5 and held", st.Weights, st.WritesHeld)
	}
	if _, err := second.client.ReleaseWrites(ctx, "users"); err != nil {
		t.Fatal(err)
	}
	second.stop()

	// The file is the only thing in its directory (no temporary left over)
	// and says what the last change made.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("state directory holds %d entries, want only state.json", len(entries))
	}
	raw, _ := os.ReadFile(cfg.StateFile)
	var sf stateFile
	if err := json.Unmarshal(raw, &sf); err != nil {
		t.Fatal(err)
	}
	if got := sf.Routes["users"]; got.WritesHeld || got.Weights.Read != 25 {
		t.Fatalf("state file: %+v", got)
	}
}

func TestCorruptStateFileIsRefused(t *testing.T) {
	cfg := baseConfig("http://127.0.0.1:1", "http://127.0.0.1:2")
	cfg.StateFile = filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(cfg.StateFile, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Starting at weight 0 by mistake would move everyone back to legacy.
	if _, err := New(Options{Config: cfg}); err == nil || !strings.Contains(err.Error(), "state file") {
		t.Fatalf("corrupt state file: %v, want a refusal naming it", err)
	}
}

func TestStatsAndMetricsCountEachSide(t *testing.T) {
	legacy, newSide := newTestUpstream(t, "legacy"), newTestUpstream(t, "new")
	cfg := baseConfig(legacy.URL, newSide.URL)
	cfg.Routes[0].Weights = Weights{Read: 50}
	tg := startGateway(t, cfg, "")
	hc := &http.Client{}
	for i := 0; i < 200; i++ {
		tg.send(t, hc, http.MethodGet, "/users", "k"+string(rune('a'+i%26))+string(rune('a'+i/26)))
	}
	stats, err := tg.client.Stats(context.Background(), "users", 0)
	if err != nil {
		t.Fatal(err)
	}
	if stats.New.Requests+stats.Legacy.Requests != 200 || stats.New.Requests != uint64(newSide.hits.Load()) {
		t.Fatalf("stats new %d legacy %d, upstreams saw %d and %d", stats.New.Requests, stats.Legacy.Requests,
			newSide.hits.Load(), legacy.hits.Load())
	}
	if stats.New.SuccessRate != 1 || stats.New.P99Ms <= 0 || stats.WindowSeconds != 60 {
		t.Fatalf("stats: %+v", stats)
	}
	m := scrape(t, tg.admin)
	for _, want := range []string{
		`godwit_gateway_requests_total{route="users",side="new"} ` + itoa(newSide.hits.Load()),
		`godwit_gateway_weight{kind="read",route="users"} 50`,
		`godwit_gateway_request_duration_seconds_count{route="users",side="legacy"} ` + itoa(legacy.hits.Load()),
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// startGatewayFrom serves an already built gateway like startGateway.
func startGatewayFrom(t *testing.T, g *Gateway, token string) *testGateway {
	t.Helper()
	return serveTestGateway(t, g, token)
}

func TestUpstreamChangeMovesNewAndSurvivesARestart(t *testing.T) {
	legacy, oldNew, nextNew := newTestUpstream(t, "legacy"), newTestUpstream(t, "new"), newTestUpstream(t, "new-v2")
	cfg := baseConfig(legacy.URL, oldNew.URL)
	cfg.Routes[0].Weights = Weights{Read: 100}
	cfg.Routes[0].Breaker.ConsecutiveFailures = 2
	cfg.StateFile = filepath.Join(t.TempDir(), "state.json")
	ctx := context.Background()
	hc := &http.Client{}

	first := startGateway(t, cfg, "")
	// Open the breaker on the old new upstream.
	oldNew.fail.Store(true)
	for i := 0; i < 3; i++ {
		first.send(t, hc, http.MethodGet, "/users", "u")
	}
	if st, _ := first.client.Route(ctx, "users"); st.Breaker != "open" {
		t.Fatalf("breaker %s, want open before the change", st.Breaker)
	}
	st, err := first.client.SetUpstreams(ctx, "users", "", nextNew.URL)
	if err != nil {
		t.Fatal(err)
	}
	if st.New != nextNew.URL || st.Legacy != legacy.URL || st.Breaker != "closed" {
		t.Fatalf("after the change: new %s legacy %s breaker %s", st.New, st.Legacy, st.Breaker)
	}
	if _, _, body := first.send(t, hc, http.MethodGet, "/users", "u"); body != "new-v2" {
		t.Fatalf("read answered by %q, want the new upstream new-v2", body)
	}
	if _, err := first.client.SetUpstreams(ctx, "users", "", "not a url"); !client.IsPermanent(err) {
		t.Fatalf("bad URL: %v, want a permanent error", err)
	}
	first.stop()

	second := startGateway(t, cfg, "")
	if _, _, body := second.send(t, hc, http.MethodGet, "/users", "u"); body != "new-v2" {
		t.Fatalf("after restart read answered by %q, want new-v2", body)
	}
}
