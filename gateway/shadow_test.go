package gateway

import (
	"context"
	"net/http"
	"testing"
)

func TestShadowCountsMismatchesWithoutTouchingTheClient(t *testing.T) {
	legacy, newSide := newTestUpstream(t, "legacy"), newTestUpstream(t, "new")
	legacy.body = func(path string) string {
		switch path {
		case "/same":
			return `{"id":1,"tags":["a","b"]}`
		case "/reordered":
			return `{"id":1,"name":"ada"}`
		}
		return "legacy"
	}
	newSide.body = func(path string) string {
		switch path {
		case "/same":
			return `{"id":1,"tags":["a","b"]}`
		case "/reordered":
			return "{ \"name\": \"ada\",\n \"id\": 1 }"
		}
		return "new"
	}
	cfg := baseConfig(legacy.URL, newSide.URL)
	cfg.Routes[0].Shadow = ShadowConfig{Enabled: true, CompareBody: true}
	cfg.setDefaults()
	tg := startGateway(t, cfg, "")
	hc := &http.Client{}

	sent := map[string]int{"/same": 6, "/reordered": 4, "/differs": 5}
	total := 0
	for path, n := range sent {
		for i := 0; i < n; i++ {
			status, side, body := tg.send(t, hc, http.MethodGet, path, "")
			if status != http.StatusOK || side != "legacy" || body != legacy.body(path) {
				t.Fatalf("GET %s: %d from %s (%q); the client must get legacy's answer", path, status, side, body)
			}
			total++
		}
	}
	// Writes are never mirrored: a mirrored POST would write twice.
	tg.send(t, hc, http.MethodPost, "/same", "")

	ctx := context.Background()
	eventually(t, "the shadow copies to be compared", func() bool {
		st, err := tg.client.Route(ctx, "users")
		return err == nil && st.Shadow.Compared == uint64(total)
	})
	st, _ := tg.client.Route(ctx, "users")
	if st.Shadow.Mismatches != uint64(sent["/differs"]) {
		t.Fatalf("%d mismatches, want %d (only /differs differs; JSON key order does not count)",
			st.Shadow.Mismatches, sent["/differs"])
	}
	if newSide.hits.Load() != 0 {
		t.Fatalf("new counted %d real requests; shadow copies must be marked", newSide.hits.Load())
	}
	stats, _ := tg.client.Stats(ctx, "users", 0)
	if stats.New.Requests != 0 {
		t.Fatalf("shadow copies counted as new's traffic: %d", stats.New.Requests)
	}

	// A failing shadow side is a status mismatch, still invisible to clients.
	newSide.fail.Store(true)
	if status, _, _ := tg.send(t, hc, http.MethodGet, "/same", ""); status != http.StatusOK {
		t.Fatalf("client saw %d while the shadow side failed", status)
	}
	eventually(t, "the failing copy to be compared", func() bool {
		st, err := tg.client.Route(ctx, "users")
		return err == nil && st.Shadow.Mismatches == uint64(sent["/differs"]+1)
	})
	if m := scrape(t, tg.admin); !contains(m, `godwit_gateway_shadow_mismatches_total{kind="status",route="users"} 1`) {
		t.Fatalf("status mismatch not in metrics:\n%s", grepLines(m, "shadow"))
	}

	// Reads new serves are mirrored to legacy.
	newSide.fail.Store(false)
	if _, err := tg.client.SetWeights(ctx, "users", 100, 0); err != nil {
		t.Fatal(err)
	}
	legacyBefore := legacy.hits.Load()
	for i := 0; i < 3; i++ {
		if _, side, _ := tg.send(t, hc, http.MethodGet, "/differs", ""); side != "new" {
			t.Fatalf("read at weight 100 served by %s", side)
		}
	}
	eventually(t, "copies of new's reads to be compared", func() bool {
		st, err := tg.client.Route(ctx, "users")
		return err == nil && st.Shadow.Compared == uint64(total+1+3) && st.Shadow.Mismatches == uint64(sent["/differs"]+1+3)
	})
	if legacy.hits.Load() != legacyBefore {
		t.Fatal("shadow copies counted as legacy's real requests")
	}
}

func TestSameBody(t *testing.T) {
	cases := []struct {
		name string
		a, b string
		want bool
	}{
		{"identical bytes", "abc", "abc", true},
		{"different text", "abc", "abd", false},
		{"JSON key order", `{"a":1,"b":2}`, `{"b":2,"a":1}`, true},
		{"JSON whitespace", `[1,2]`, "[ 1,\n 2 ]", true},
		{"JSON values differ", `{"a":1}`, `{"a":2}`, false},
		{"JSON array order counts", `[1,2]`, `[2,1]`, false},
		{"one side not JSON", `{"a":1}`, `a=1`, false},
	}
	for _, c := range cases {
		if got := sameBody([]byte(c.a), []byte(c.b)); got != c.want {
			t.Errorf("%s: sameBody = %v, want %v", c.name, got, c.want)
		}
	}
}

func contains(s, sub string) bool { return len(grepLines(s, sub)) > 0 }
