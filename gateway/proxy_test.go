package gateway

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
)

func TestStickyRoutingMatchesBucketsAndStaysSticky(t *testing.T) {
	legacy, newSide := newTestUpstream(t, "legacy"), newTestUpstream(t, "new")
	cfg := baseConfig(legacy.URL, newSide.URL)
	cfg.Routes[0].Weights = Weights{Read: 30, Write: 30}
	tg := startGateway(t, cfg, "")
	hc := &http.Client{}
	ctx := context.Background()

	const keys = 2000
	sideAt30 := map[string]string{}
	onNew := 0
	for i := 0; i < keys; i++ {
		key := "user-" + strconv.Itoa(i)
		status, side, body := tg.send(t, hc, http.MethodGet, "/users/"+key, key)
		if status != http.StatusOK || body != side {
			t.Fatalf("key %s: status %d, side %q, body %q", key, status, side, body)
		}
		want := "legacy"
		if OnNew("users", key, 30) {
			want = "new"
		}
		if side != want {
			t.Fatalf("key %s went to %s, its bucket says %s", key, side, want)
		}
		sideAt30[key] = side
		if side == "new" {
			onNew++
		}
	}
	if share := float64(onNew) * 100 / keys; share < 27 || share > 33 {
		t.Fatalf("%.1f%% of keys on new at weight 30, want 30±3", share)
	}

	// The same keys again, writes included: same side.
	for i := 0; i < keys; i += 7 {
		key := "user-" + strconv.Itoa(i)
		_, side, _ := tg.send(t, hc, http.MethodPost, "/users", key)
		if side != sideAt30[key] {
			t.Fatalf("key %s moved from %s to %s at the same weight", key, sideAt30[key], side)
		}
	}

	// Raising the weight keeps everyone already on new.
	if _, err := tg.client.SetWeights(ctx, "users", 60, 60); err != nil {
		t.Fatal(err)
	}
	for key, before := range sideAt30 {
		if before != "new" {
			continue
		}
		if _, side, _ := tg.send(t, hc, http.MethodGet, "/users/"+key, key); side != "new" {
			t.Fatalf("key %s left new when the weight rose from 30 to 60", key)
		}
	}

	// The flags endpoint answers as the proxy does.
	for i := 0; i < 200; i++ {
		key := "user-" + strconv.Itoa(i)
		flag, err := tg.client.Flag(ctx, "users", key)
		if err != nil {
			t.Fatal(err)
		}
		_, side, _ := tg.send(t, hc, http.MethodGet, "/users/"+key, key)
		if flag.Read != side || flag.Bucket != Bucket("users", key) {
			t.Fatalf("key %s: flag says %s (bucket %d), proxy sent it to %s", key, flag.Read, flag.Bucket, side)
		}
	}
}

func TestKeylessRequestsSplitByWeight(t *testing.T) {
	legacy, newSide := newTestUpstream(t, "legacy"), newTestUpstream(t, "new")
	cfg := baseConfig(legacy.URL, newSide.URL)
	cfg.Routes[0].Weights = Weights{Read: 25}
	tg := startGateway(t, cfg, "")
	hc := &http.Client{}
	const n = 2000
	for i := 0; i < n; i++ {
		if status, _, _ := tg.send(t, hc, http.MethodGet, "/", ""); status != http.StatusOK {
			t.Fatalf("status %d", status)
		}
	}
	// Binomial(2000, 0.25): 5 standard deviations is about ±4.8 points.
	if share := float64(newSide.hits.Load()) * 100 / n; share < 20 || share > 30 {
		t.Fatalf("%.1f%% of keyless requests on new at weight 25, want 25±5", share)
	}
}

func TestReadAndWriteWeightsAreSeparate(t *testing.T) {
	legacy, newSide := newTestUpstream(t, "legacy"), newTestUpstream(t, "new")
	cfg := baseConfig(legacy.URL, newSide.URL)
	cfg.Routes[0].Weights = Weights{Read: 100, Write: 0}
	tg := startGateway(t, cfg, "")
	hc := &http.Client{}
	cases := []struct {
		method, want string
	}{
		{http.MethodGet, "new"}, {http.MethodHead, "new"}, {http.MethodOptions, "new"},
		{http.MethodPost, "legacy"}, {http.MethodPut, "legacy"}, {http.MethodDelete, "legacy"}, {http.MethodPatch, "legacy"},
	}
	for _, c := range cases {
		t.Run(c.method, func(t *testing.T) {
			for i := 0; i < 20; i++ {
				if _, side, _ := tg.send(t, hc, c.method, "/x", strconv.Itoa(i)); side != c.want {
					t.Fatalf("%s went to %s, want %s", c.method, side, c.want)
				}
			}
		})
	}
}

func TestRouteMatching(t *testing.T) {
	routes := []RouteConfig{
		{Name: "api-users", Match: MatchConfig{Host: "api.example.com", PathPrefix: "/users"}},
		{Name: "users", Match: MatchConfig{PathPrefix: "/users"}},
		{Name: "admin-host", Match: MatchConfig{Host: "admin.example.com"}},
		{Name: "slash", Match: MatchConfig{PathPrefix: "/static/"}},
	}
	g := &Gateway{}
	table := &routeTable{byName: map[string]*route{}}
	for _, rc := range routes {
		table.routes = append(table.routes, &route{cfg: rc})
	}
	g.table.Store(table)
	cases := []struct {
		host, path, want string
	}{
		{"api.example.com", "/users/7", "api-users"},
		{"API.example.com:8080", "/users", "api-users"},
		{"other.example.com", "/users/7", "users"},
		{"other.example.com", "/usersettings", ""},
		{"admin.example.com", "/anything", "admin-host"},
		{"x", "/static/app.js", "slash"},
		{"x", "/static", ""},
		{"x", "/", ""},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(http.MethodGet, "http://"+c.host+c.path, nil)
		got := ""
		if r := g.match(req); r != nil {
			got = r.cfg.Name
		}
		if got != c.want {
			t.Errorf("%s%s matched %q, want %q", c.host, c.path, got, c.want)
		}
	}
}

func TestForwardedHeadersAndHopByHop(t *testing.T) {
	seen := make(chan http.Header, 1)
	up := newTestUpstream(t, "legacy")
	up.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		seen <- req.Header.Clone()
		w.Header().Set("Connection", "X-Secret-Hop")
		w.Header().Set("X-Secret-Hop", "1")
	})
	tg := startGateway(t, baseConfig(up.URL, up.URL), "")
	req, _ := http.NewRequest(http.MethodGet, tg.url+"/users", nil)
	req.Host = "shop.example.com"
	req.Header.Set("Connection", "X-Drop-Me")
	req.Header.Set("X-Drop-Me", "1")
	req.Header.Set("X-Forwarded-For", "10.0.0.1")
	req.Header.Set("X-Forwarded-Host", "forged.example.com")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	h := <-seen
	if got := h.Get("X-Forwarded-For"); got != "10.0.0.1, 127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q, want the client appended", got)
	}
	if got := h.Get("X-Forwarded-Host"); got != "shop.example.com" {
		t.Errorf("X-Forwarded-Host = %q, want the request's host", got)
	}
	if h.Get("X-Drop-Me") != "" {
		t.Error("a header named in Connection reached the upstream")
	}
	if res.Header.Get("X-Secret-Hop") != "" {
		t.Error("a header named in the upstream's Connection reached the client")
	}
}

func TestWeightChangesUnderLoadLoseNoRequest(t *testing.T) {
	legacy, newSide := newTestUpstream(t, "legacy"), newTestUpstream(t, "new")
	tg := startGateway(t, baseConfig(legacy.URL, newSide.URL), "")
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	ctx := context.Background()

	const workers, perWorker = 8, 150
	var wg sync.WaitGroup
	failures := make(chan string, workers*perWorker)
	var answered sync.Map
	stopShifting := make(chan struct{})
	shifted := make(chan int)
	go func() {
		n := 0
		defer func() { shifted <- n }()
		steps := []int{0, 1, 5, 25, 50, 100, 50, 0}
		for {
			for _, w := range steps {
				select {
				case <-stopShifting:
					return
				default:
				}
				if _, err := tg.client.SetWeights(ctx, "users", w, w); err != nil {
					failures <- "set weights: " + err.Error()
					return
				}
				n++
			}
		}
	}()
	for wk := 0; wk < workers; wk++ {
		wg.Add(1)
		go func(wk int) {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				method := http.MethodGet
				if i%3 == 0 {
					method = http.MethodPost
				}
				id := strconv.Itoa(wk*perWorker + i)
				req, _ := http.NewRequest(method, tg.url+"/users/"+id, nil)
				req.Header.Set("X-User-ID", id)
				res, err := hc.Do(req)
				if err != nil {
					failures <- err.Error()
					continue
				}
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					failures <- method + " " + res.Status
					continue
				}
				answered.Store(id, true)
			}
		}(wk)
	}
	wg.Wait()
	close(stopShifting)
	changes := <-shifted
	close(failures)
	for f := range failures {
		t.Errorf("failed request: %s", f)
	}
	count := 0
	answered.Range(func(_, _ any) bool { count++; return true })
	if count != workers*perWorker {
		t.Fatalf("%d of %d requests answered", count, workers*perWorker)
	}
	if total := legacy.hits.Load() + newSide.hits.Load(); total != workers*perWorker {
		t.Fatalf("upstreams saw %d requests, want %d (none lost, none doubled)", total, workers*perWorker)
	}
	if changes < 2 {
		t.Fatalf("only %d weight changes happened during the load", changes)
	}
	t.Logf("%d requests, %d weight changes, legacy %d, new %d", count, changes, legacy.hits.Load(), newSide.hits.Load())
}

func TestOverrideHeaderForcesASide(t *testing.T) {
	legacy, newSide := newTestUpstream(t, "legacy"), newTestUpstream(t, "new")
	cfg := baseConfig(legacy.URL, newSide.URL)
	cfg.Routes[0].OverrideHeader = "X-Godwit-Force"
	cfg.Routes[0].Weights = Weights{Read: 50, Write: 50}
	tg := startGateway(t, cfg, "")
	cases := []struct{ force, want string }{{"new", "new"}, {"NEW", "new"}, {"legacy", "legacy"}}
	for _, c := range cases {
		for i := 0; i < 30; i++ {
			req, _ := http.NewRequest(http.MethodGet, tg.url+"/users", nil)
			req.Header.Set("X-User-ID", strconv.Itoa(i))
			req.Header.Set("X-Godwit-Force", c.force)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if got := res.Header.Get("X-Godwit-Side"); got != c.want {
				t.Fatalf("forced %q, key %d: served by %s", c.force, i, got)
			}
		}
	}
}
