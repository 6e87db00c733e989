// Package gatewaytest runs a real godwit-gateway in-process on 127.0.0.1,
// in front of small stand-in services, for tests of what drives it (the
// traffic driver, end-to-end migrations). Everything stops at the test's end.
package gatewaytest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/gateway"
	"github.com/godwit/godwit/gateway/client"
)

// Upstream is a small HTTP service on 127.0.0.1 standing in for legacy or
// new: it answers its name, or 500 while failing.
type Upstream struct {
	*httptest.Server
	// Name is what it answers ("legacy", "new").
	Name    string
	failing atomic.Bool
	// Hits counts the requests it received; Failed those it answered 500.
	Hits, Failed atomic.Int64
}

// NewUpstream starts a stand-in service named name.
func NewUpstream(t testing.TB, name string) *Upstream {
	t.Helper()
	u := &Upstream{Name: name}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		u.Hits.Add(1)
		if u.failing.Load() {
			u.Failed.Add(1)
			http.Error(w, name+" is failing", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(u.Close)
	return u
}

// SetFailing makes the service answer 500 (true) or its name (false).
func (u *Upstream) SetFailing(failing bool) { u.failing.Store(failing) }

// Options configure Start.
type Options struct {
	// Legacy and New are the upstreams' base URLs.
	Legacy, New string
	// Route is the route's name (default "users"); it matches every path.
	Route string
	// Token protects the admin API; "" leaves it open (loopback).
	Token string
	// BreakerOpenFor is how long the breaker on new stays open (default 60s).
	BreakerOpenFor time.Duration
	// Logger receives the gateway's logs; nil discards them.
	Logger hclog.Logger
	// StateFile keeps the weights set through the admin API across a
	// restart (Stop, then Start with the same file); "" keeps none.
	StateFile string
	// TrafficAddr and AdminAddr are the listen addresses; default
	// 127.0.0.1:0. A restarted gateway passes its predecessor's addresses
	// so that what drives it (a migration's spec) still finds it.
	TrafficAddr, AdminAddr string
}

// Gateway is a running gateway.
type Gateway struct {
	*gateway.Gateway
	// TrafficURL takes client requests; AdminURL is the admin API.
	TrafficURL, AdminURL string
	// Client calls the admin API with the token.
	Client *client.Client
	// TrafficAddr and AdminAddr are the host:port it listens on.
	TrafficAddr, AdminAddr string
	stop                   func()
}

// Stop stops the gateway before the test ends (a crash or a restart, as
// seen by its clients). Calling it again does nothing.
func (g *Gateway) Stop() { g.stop() }

// Start runs a gateway with one route, keyed on the X-User-ID header, with
// the answering side in the X-Godwit-Side response header.
func Start(t testing.TB, opts Options) *Gateway {
	t.Helper()
	if opts.Route == "" {
		opts.Route = "users"
	}
	openFor := ""
	if opts.BreakerOpenFor > 0 {
		openFor = fmt.Sprintf("\n    breaker: {openFor: %s}", opts.BreakerOpenFor)
	}
	stateFile := ""
	if opts.StateFile != "" {
		stateFile = fmt.Sprintf("stateFile: %q\n", opts.StateFile)
	}
	if opts.TrafficAddr == "" {
		opts.TrafficAddr = "127.0.0.1:0"
	}
	if opts.AdminAddr == "" {
		opts.AdminAddr = "127.0.0.1:0"
	}
	cfg, err := gateway.ParseConfig([]byte(fmt.Sprintf(`%s
listen: 127.0.0.1:0
admin: {listen: 127.0.0.1:0}
sideHeader: X-Godwit-Side
routes:
  - name: %s
    legacy: %s
    new: %s
    stickyKey: {header: X-User-ID}
    timeout: 5s
    writeHold: {maxWait: 2s, retryAfter: 1s}%s
`, stateFile, opts.Route, opts.Legacy, opts.New, openFor)))
	if err != nil {
		t.Fatalf("gateway config: %v", err)
	}
	g, err := gateway.New(gateway.Options{Config: cfg, Token: opts.Token, Logger: opts.Logger})
	if err != nil {
		t.Fatalf("start gateway: %v", err)
	}
	trafficLn, err := net.Listen("tcp", opts.TrafficAddr)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	adminLn, err := net.Listen("tcp", opts.AdminAddr)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = g.Serve(ctx, trafficLn, adminLn)
	}()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	gw := &Gateway{Gateway: g, TrafficURL: "http://" + trafficLn.Addr().String(), AdminURL: "http://" + adminLn.Addr().String(),
		TrafficAddr: trafficLn.Addr().String(), AdminAddr: adminLn.Addr().String(), stop: stop}
	if gw.Client, err = client.New(client.Options{BaseURL: gw.AdminURL, Token: opts.Token}); err != nil {
		t.Fatalf("gateway client: %v", err)
	}
	return gw
}
