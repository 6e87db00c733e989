package gateway

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/godwit/godwit/gateway/client"
)

// testUpstream is a real HTTP server on 127.0.0.1 that answers with its side's
// name and counts what it received; fail makes it answer 500.
type testUpstream struct {
	*httptest.Server
	name   string
	hits   atomic.Int64
	writes atomic.Int64
	fail   atomic.Bool
	// body, when set, replaces the answer's body for a path.
	body func(path string) string
}

func newTestUpstream(t *testing.T, name string) *testUpstream {
	t.Helper()
	u := &testUpstream{name: name}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		if req.Header.Get("X-Godwit-Shadow") == "" {
			u.hits.Add(1)
			if !isRead(req.Method) {
				u.writes.Add(1)
			}
		}
		if u.fail.Load() {
			http.Error(w, name+" is failing", http.StatusInternalServerError)
			return
		}
		w.Header().Set("X-Upstream", name)
		if u.body != nil {
			_, _ = io.WriteString(w, u.body(req.URL.Path))
			return
		}
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(u.Close)
	return u
}

// testGateway is a gateway serving on 127.0.0.1 ports of its own.
type testGateway struct {
	*Gateway
	url    string // traffic
	admin  string // admin API base URL
	client *client.Client
	stop   func()
}

// baseConfig is one route "users" between legacy and new, keyed on
// X-User-ID, with the side header on so tests can see who answered.
func baseConfig(legacy, newURL string) Config {
	c := Config{
		SideHeader: "X-Godwit-Side",
		Routes: []RouteConfig{{
			Name:      "users",
			Match:     MatchConfig{PathPrefix: "/"},
			Legacy:    legacy,
			New:       newURL,
			StickyKey: StickyKeyConfig{Header: "X-User-ID"},
		}},
	}
	c.setDefaults()
	return c
}

func startGateway(t *testing.T, cfg Config, token string) *testGateway {
	t.Helper()
	g, err := New(Options{Config: cfg, Token: token})
	if err != nil {
		t.Fatalf("new gateway: %v", err)
	}
	return serveTestGateway(t, g, token)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// serveTestGateway serves g on fresh 127.0.0.1 ports until the test ends.
func serveTestGateway(t *testing.T, g *Gateway, token string) *testGateway {
	t.Helper()
	trafficLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, trafficLn, adminLn) }()
	tg := &testGateway{Gateway: g, url: "http://" + trafficLn.Addr().String(), admin: "http://" + adminLn.Addr().String()}
	tg.client, err = client.New(client.Options{BaseURL: tg.admin, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	tg.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("gateway stopped with: %v", err)
		}
	}
	t.Cleanup(tg.stop)
	return tg
}

// send makes one request through the gateway and returns status, the side
// that answered (X-Godwit-Side) and the body.
func (tg *testGateway) send(t *testing.T, hc *http.Client, method, path, userID string) (int, string, string) {
	t.Helper()
	var body io.Reader
	if !isRead(method) {
		body = strings.NewReader(`{"name":"ada"}`)
	}
	req, err := http.NewRequest(method, tg.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if userID != "" {
		req.Header.Set("X-User-ID", userID)
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("X-Godwit-Side"), string(raw)
}

// eventually polls cond until it holds or a generous deadline passes; it
// waits for background work, it does not measure speed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
