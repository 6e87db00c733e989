package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godwit/godwit/gateway/api"
	"github.com/godwit/godwit/gateway/client"
)

// openBreaker sends reads the weights give to new until new's breaker opens.
func openBreaker(t *testing.T, tg *testGateway, route string) {
	t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second}
	eventually(t, "the breaker on new to open", func() bool {
		tg.send(t, hc, http.MethodGet, "/"+route, "u1")
		st, err := tg.client.Route(context.Background(), route)
		return err == nil && st.Breaker == api.BreakerOpen
	})
}

func TestReloadKeepsWeightsHoldsAndBreakerAndAppliesTheRest(t *testing.T) {
	legacy, newSide := newTestUpstream(t, "legacy"), newTestUpstream(t, "new")
	newSide.fail.Store(true)
	cfg := baseConfig(legacy.URL, newSide.URL)
	cfg.StateFile = filepath.Join(t.TempDir(), "state.json")
	cfg.Routes[0].Breaker = BreakerConfig{ConsecutiveFailures: 2, OpenFor: 10 * time.Minute, HalfOpenRequests: 1}
	cfg.Routes[0].WriteHold.MaxWait = 20 * time.Second
	tg := startGateway(t, cfg, "")
	ctx := context.Background()
	if _, err := tg.client.SetWeights(ctx, "users", 100, 0); err != nil {
		t.Fatal(err)
	}
	openBreaker(t, tg, "users")
	if _, err := tg.client.SetWeights(ctx, "users", 40, 0); err != nil {
		t.Fatal(err)
	}
	held, err := tg.client.HoldWrites(ctx, "users", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// A write that is waiting on the hold when the configuration changes.
	hc := &http.Client{Timeout: 30 * time.Second}
	writeDone := make(chan int, 1)
	go func() {
		res, err := hc.Post(tg.url+"/users/1", "application/json", strings.NewReader("{}"))
		if err != nil {
			writeDone <- -1
			return
		}
		res.Body.Close()
		writeDone <- res.StatusCode
	}()
	eventually(t, "the write to wait on the hold", func() bool {
		st, err := tg.client.Route(ctx, "users")
		return err == nil && st.WaitingWrites == 1
	})

	next := cfg
	next.SideHeader = "X-Reloaded-Side"
	next.Routes = append([]RouteConfig{}, cfg.Routes...)
	next.Routes[0].Weights = Weights{Read: 0, Write: 0} // configured weights never override live ones
	next.Routes[0].Timeout = 7 * time.Second
	added := RouteConfig{Name: "orders", Match: MatchConfig{PathPrefix: "/orders"}, Legacy: legacy.URL, New: newSide.URL}
	added.setDefaults()
	next.Routes = append([]RouteConfig{added}, next.Routes...)
	if err := tg.Reload(next, ""); err != nil {
		t.Fatalf("reload: %v", err)
	}

	st, err := tg.client.Route(ctx, "users")
	if err != nil {
		t.Fatal(err)
	}
	if st.Weights != (Weights{Read: 40}) || !st.WritesHeld || !st.HoldUntil.Equal(*held.HoldUntil) || st.Breaker != api.BreakerOpen {
		t.Fatalf("after reload: weights %+v, held %v until %v, breaker %s; want 40/0, held until %v, open",
			st.Weights, st.WritesHeld, st.HoldUntil, st.Breaker, held.HoldUntil)
	}
	if st.WaitingWrites != 1 {
		t.Fatalf("after reload %d writes wait on the hold, want the one that waited before", st.WaitingWrites)
	}
	if _, err := tg.client.Route(ctx, "orders"); err != nil {
		t.Fatalf("route added by the reload: %v", err)
	}
	res, err := hc.Get(tg.url + "/orders/1")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get("X-Reloaded-Side"); got != "legacy" {
		t.Fatalf("after reload the side header X-Reloaded-Side is %q, want legacy", got)
	}
	// Releasing through the reloaded route lets the write that waited on
	// the old route object go on.
	if _, err := tg.client.ReleaseWrites(ctx, "users"); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-writeDone:
		if code != http.StatusOK {
			t.Fatalf("the held write ended with %d, want 200 once released", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the held write did not go on after the hold was released on the reloaded route")
	}
}

func TestReloadRefusesABadConfigurationAndKeepsServing(t *testing.T) {
	legacy, newSide := newTestUpstream(t, "legacy"), newTestUpstream(t, "new")
	cfg := baseConfig(legacy.URL, newSide.URL)
	tg := startGateway(t, cfg, "")
	bad := cfg
	bad.Routes = []RouteConfig{{Name: "users", Legacy: "ftp://x", New: newSide.URL}}
	if err := tg.Reload(bad, ""); err == nil || !strings.Contains(err.Error(), "legacy") {
		t.Fatalf("reload of a bad configuration: %v, want a refusal naming legacy", err)
	}
	if code, side, _ := tg.send(t, http.DefaultClient, http.MethodGet, "/users", "u1"); code != 200 || side != "legacy" {
		t.Fatalf("after a refused reload: %d from %q, want 200 from legacy", code, side)
	}
}

func TestOpenBreakerSurvivesARestart(t *testing.T) {
	legacy, newSide := newTestUpstream(t, "legacy"), newTestUpstream(t, "new")
	newSide.fail.Store(true)
	cfg := baseConfig(legacy.URL, newSide.URL)
	cfg.StateFile = filepath.Join(t.TempDir(), "state.json")
	cfg.Routes[0].Breaker = BreakerConfig{ConsecutiveFailures: 2, OpenFor: 10 * time.Minute, HalfOpenRequests: 1}
	first := startGateway(t, cfg, "")
	if _, err := first.client.SetWeights(context.Background(), "users", 100, 100); err != nil {
		t.Fatal(err)
	}
	openBreaker(t, first, "users")
	// The breaker's change is saved by itself, without an admin call.
	eventually(t, "the state file to record the open breaker", func() bool {
		raw, err := os.ReadFile(cfg.StateFile)
		var sf stateFile
		return err == nil && json.Unmarshal(raw, &sf) == nil && sf.Routes["users"].Breaker == api.BreakerOpen
	})
	first.stop()

	newSide.fail.Store(false)
	second := startGateway(t, cfg, "")
	st, err := second.client.Route(context.Background(), "users")
	if err != nil {
		t.Fatal(err)
	}
	if st.Breaker != api.BreakerOpen {
		t.Fatalf("after restart the breaker is %s, want open", st.Breaker)
	}
	if _, side, _ := second.send(t, http.DefaultClient, http.MethodGet, "/users", "u1"); side != "legacy" {
		t.Fatalf("with the restored open breaker a read at weight 100 went to %q, want legacy", side)
	}
}

func TestHandOverRefusesChangesUntilAborted(t *testing.T) {
	legacy, newSide := newTestUpstream(t, "legacy"), newTestUpstream(t, "new")
	cfg := baseConfig(legacy.URL, newSide.URL)
	cfg.StateFile = filepath.Join(t.TempDir(), "state.json")
	tg := startGateway(t, cfg, "")
	ctx := context.Background()
	if _, err := tg.client.SetWeights(ctx, "users", 30, 10); err != nil {
		t.Fatal(err)
	}
	if err := tg.HandOver(); err != nil {
		t.Fatal(err)
	}
	_, err := tg.client.SetWeights(ctx, "users", 50, 50)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusServiceUnavailable || client.IsPermanent(err) {
		t.Fatalf("a change during a hand-over: %v, want a retryable 503", err)
	}
	raw, _ := os.ReadFile(cfg.StateFile)
	var sf stateFile
	if err := json.Unmarshal(raw, &sf); err != nil || sf.Routes["users"].Weights != (Weights{Read: 30, Write: 10}) {
		t.Fatalf("state handed over: %s (%v), want weights 30/10", raw, err)
	}
	tg.AbortHandOver()
	if _, err := tg.client.SetWeights(ctx, "users", 50, 50); err != nil {
		t.Fatalf("a change after the hand-over was aborted: %v", err)
	}
}

func TestReloadTakesAChangedUpstreamAndReleasesARemovedRoute(t *testing.T) {
	legacy, newSide, newer := newTestUpstream(t, "legacy"), newTestUpstream(t, "new"), newTestUpstream(t, "newer")
	cfg := baseConfig(legacy.URL, newSide.URL)
	orders := RouteConfig{Name: "orders", Match: MatchConfig{PathPrefix: "/orders"}, Legacy: legacy.URL, New: newSide.URL}
	orders.setDefaults()
	orders.WriteHold.MaxWait = 20 * time.Second
	cfg.Routes = append([]RouteConfig{orders}, cfg.Routes...)
	tg := startGateway(t, cfg, "")
	ctx := context.Background()
	if _, err := tg.client.SetWeights(ctx, "users", 100, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.client.HoldWrites(ctx, "orders", 0); err != nil {
		t.Fatal(err)
	}
	writeDone := make(chan int, 1)
	go func() {
		res, err := http.Post(tg.url+"/orders/1", "application/json", strings.NewReader("{}"))
		if err != nil {
			writeDone <- -1
			return
		}
		res.Body.Close()
		writeDone <- res.StatusCode
	}()
	eventually(t, "the write on orders to wait on the hold", func() bool {
		st, err := tg.client.Route(ctx, "orders")
		return err == nil && st.WaitingWrites == 1
	})

	next := cfg
	next.Routes = []RouteConfig{cfg.Routes[1]}
	next.Routes[0].New = newer.URL
	if err := tg.Reload(next, ""); err != nil {
		t.Fatal(err)
	}
	if _, side, body := tg.send(t, http.DefaultClient, http.MethodGet, "/users/1", "u1"); side != "new" || body != "newer" {
		t.Fatalf("after the reload a read at weight 100 was answered by %s (%q), want new's reloaded upstream newer", side, body)
	}
	select {
	case code := <-writeDone:
		if code != http.StatusOK {
			t.Fatalf("the write held on the removed route ended with %d, want 200", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the write held on a route the reload removed was not released")
	}
	if _, err := tg.client.Route(ctx, "orders"); err == nil {
		t.Fatal("the removed route still answers on the admin API")
	}
}

func TestADrainingGatewayReleasesWritesTheSuccessorReleases(t *testing.T) {
	legacy, newSide := newTestUpstream(t, "legacy"), newTestUpstream(t, "new")
	cfg := baseConfig(legacy.URL, newSide.URL)
	cfg.StateFile = filepath.Join(t.TempDir(), "state.json")
	cfg.Routes[0].WriteHold.MaxWait = 30 * time.Second
	old, err := New(Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	trafficLn, adminLn := listen(t), listen(t)
	ctx, handOff := context.WithCancelCause(context.Background())
	served := make(chan error, 1)
	go func() { served <- old.Serve(ctx, trafficLn, adminLn) }()
	<-old.Serving()
	oldAdmin, _ := client.New(client.Options{BaseURL: "http://" + adminLn.Addr().String()})
	if _, err := oldAdmin.HoldWrites(context.Background(), "users", 0); err != nil {
		t.Fatal(err)
	}
	writeDone := make(chan int, 1)
	go func() {
		res, err := http.Post("http://"+trafficLn.Addr().String()+"/users/1", "application/json", strings.NewReader("{}"))
		if err != nil {
			writeDone <- -1
			return
		}
		res.Body.Close()
		writeDone <- res.StatusCode
	}()
	eventually(t, "the write to wait on the hold", func() bool {
		st, err := oldAdmin.Route(context.Background(), "users")
		return err == nil && st.WaitingWrites == 1
	})

	// The hand-over: the old process saves and drains; the successor loads
	// the hold from the state file, and its admin API releases it.
	if err := old.HandOver(); err != nil {
		t.Fatal(err)
	}
	handOff(ErrHandedOver)
	successor, err := New(Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	tg := serveTestGateway(t, successor, "")
	if st, err := tg.client.Route(context.Background(), "users"); err != nil || !st.WritesHeld {
		t.Fatalf("the successor's route: %+v, %v; want the hold it inherited", st, err)
	}
	if _, err := tg.client.ReleaseWrites(context.Background(), "users"); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-writeDone:
		if code != http.StatusOK {
			t.Fatalf("the write held in the draining process ended with %d, want 200", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the write held in the draining process was not released when the successor released the hold")
	}
	if err := <-served; err != nil {
		t.Fatalf("the draining gateway stopped with %v", err)
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
