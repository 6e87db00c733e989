package gateway

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/godwit/godwit/gateway/api"
)

func TestBreakerOpensFallsBackAndCloses(t *testing.T) {
	legacy, newSide := newTestUpstream(t, "legacy"), newTestUpstream(t, "new")
	cfg := baseConfig(legacy.URL, newSide.URL)
	cfg.Routes[0].Weights = Weights{Read: 100, Write: 100}
	cfg.Routes[0].Breaker = BreakerConfig{ConsecutiveFailures: 3, OpenFor: 2 * time.Second, HalfOpenRequests: 1}
	tg := startGateway(t, cfg, "")
	hc := &http.Client{}
	ctx := context.Background()

	newSide.fail.Store(true)
	const reads = 20
	for i := 0; i < reads; i++ {
		status, side, body := tg.send(t, hc, http.MethodGet, "/users/"+strconv.Itoa(i), strconv.Itoa(i))
		if status != http.StatusOK || side != "legacy" || body != "legacy" {
			t.Fatalf("read %d while new fails: %d from %q (%q); the client must not see new's failure", i, status, side, body)
		}
	}
	// Only the reads before the breaker opened reached new; the rest never
	// left the gateway.
	if got := newSide.hits.Load(); got != 3 {
		t.Fatalf("new received %d requests, want 3 (the breaker opens after 3 failures)", got)
	}
	st, err := tg.client.Route(ctx, "users")
	if err != nil {
		t.Fatal(err)
	}
	if st.Breaker != api.BreakerOpen || st.Fallbacks != reads {
		t.Fatalf("breaker %s, fallbacks %d; want open and %d", st.Breaker, st.Fallbacks, reads)
	}
	stats, err := tg.client.Stats(ctx, "users", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if stats.New.Requests != reads || stats.New.Errors != reads || stats.Legacy.Requests != reads {
		t.Fatalf("stats: new %d/%d errors, legacy %d; fallbacks must count as failures of new",
			stats.New.Errors, stats.New.Requests, stats.Legacy.Requests)
	}
	if metrics := scrape(t, tg.admin); !strings.Contains(metrics, `godwit_gateway_breaker_state{route="users"} 2`) {
		t.Fatalf("metrics do not show the open breaker:\n%s", grepLines(metrics, "breaker"))
	}

	// A write while open goes to legacy: new never sees it.
	if status, side, _ := tg.send(t, hc, http.MethodPost, "/users", "w1"); status != http.StatusOK || side != "legacy" {
		t.Fatalf("write while open: %d from %s, want 200 from legacy", status, side)
	}
	if newSide.writes.Load() != 0 {
		t.Fatal("new received a write while its breaker was open")
	}

	// New heals: after OpenFor a half-open probe reaches it and closes the breaker.
	newSide.fail.Store(false)
	eventually(t, "the breaker to close once new heals", func() bool {
		_, side, _ := tg.send(t, hc, http.MethodGet, "/users/probe", "probe")
		st, err := tg.client.Route(ctx, "users")
		return err == nil && side == "new" && st.Breaker == api.BreakerClosed
	})
}

func TestFailedWritesAreReplayedOnlyWhenNewNeverGotThem(t *testing.T) {
	cases := []struct {
		name       string
		breakNew   func(*testUpstream)
		wantStatus int
		wantSide   string
		wantLegacy int64
	}{
		{
			name:       "new answers 500: the write may have applied, the client gets the 500",
			breakNew:   func(u *testUpstream) { u.fail.Store(true) },
			wantStatus: http.StatusInternalServerError, wantSide: "new", wantLegacy: 0,
		},
		{
			name:       "new refuses connections: the write never left, legacy serves it",
			breakNew:   func(u *testUpstream) { u.Close() },
			wantStatus: http.StatusOK, wantSide: "legacy", wantLegacy: 1,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			legacy, newSide := newTestUpstream(t, "legacy"), newTestUpstream(t, "new")
			cfg := baseConfig(legacy.URL, newSide.URL)
			cfg.Routes[0].Weights = Weights{Read: 100, Write: 100}
			tg := startGateway(t, cfg, "")
			c.breakNew(newSide)
			status, side, _ := tg.send(t, &http.Client{}, http.MethodPost, "/users", "u1")
			if status != c.wantStatus || (c.wantSide == "legacy" && side != "legacy") {
				t.Fatalf("got %d from %q, want %d from %s", status, side, c.wantStatus, c.wantSide)
			}
			if got := legacy.writes.Load(); got != c.wantLegacy {
				t.Fatalf("legacy received %d writes, want %d", got, c.wantLegacy)
			}
			// The write body survived the replay.
			if c.wantLegacy == 1 && legacy.hits.Load() != 1 {
				t.Fatalf("legacy hits %d", legacy.hits.Load())
			}
		})
	}
}

func TestReplayedWriteKeepsItsBody(t *testing.T) {
	got := make(chan string, 1)
	legacy := newTestUpstream(t, "legacy")
	legacy.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		got <- string(b)
	})
	newSide := newTestUpstream(t, "new")
	newSide.Close()
	cfg := baseConfig(legacy.URL, newSide.URL)
	cfg.Routes[0].Weights = Weights{Read: 100, Write: 100}
	tg := startGateway(t, cfg, "")
	if status, _, _ := tg.send(t, &http.Client{}, http.MethodPut, "/users/1", "u1"); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	if b := <-got; b != `{"name":"ada"}` {
		t.Fatalf("legacy got body %q", b)
	}
}

func TestSlowNewTimesOutAndReadsFallBack(t *testing.T) {
	legacy := newTestUpstream(t, "legacy")
	newSide := newTestUpstream(t, "new")
	newSide.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		<-req.Context().Done() // never answers in time
	})
	cfg := baseConfig(legacy.URL, newSide.URL)
	cfg.Routes[0].Weights = Weights{Read: 100}
	cfg.Routes[0].Timeout = 500 * time.Millisecond // long enough for legacy on a loaded machine
	tg := startGateway(t, cfg, "")
	if status, side, _ := tg.send(t, &http.Client{}, http.MethodGet, "/users/1", "u1"); status != http.StatusOK || side != "legacy" {
		t.Fatalf("slow new: %d from %s, want 200 from legacy", status, side)
	}
	if m := scrape(t, tg.admin); !strings.Contains(m, `godwit_gateway_errors_total{kind="timeout",route="users",side="new"} 1`) {
		t.Fatalf("timeout not counted:\n%s", grepLines(m, "errors_total"))
	}
}

// scrape returns the gateway's /metrics text.
func scrape(t *testing.T, admin string) string {
	t.Helper()
	res, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

func grepLines(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
