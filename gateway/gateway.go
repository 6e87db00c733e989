// Package gateway is the Godwit traffic plane: an HTTP reverse proxy whose
// named routes each split traffic between a legacy and a new upstream by
// sticky percentage (Unleash-compatible bucketing), with a circuit breaker
// that sends new's share back to legacy when new fails, an optional shadow
// comparison, a bounded write hold for cut-overs, an admin API and
// Prometheus metrics. It knows nothing of Temporal: the traffic phase
// driver talks to it through the admin API (package gateway/client).
package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Options are what New needs besides the configuration.
type Options struct {
	// Config is the validated configuration (LoadConfig or ParseConfig).
	Config Config
	// Logger receives the gateway's logs; nil discards them.
	Logger hclog.Logger
	// Token is the admin API's bearer token; "" leaves the API open, which
	// New allows only on a loopback admin address.
	Token string
	// Registry collects the metrics; nil makes a fresh one with the Go and
	// process collectors.
	Registry *prometheus.Registry
	// Transport carries upstream calls; nil uses a tuned http.Transport.
	Transport http.RoundTripper
	// Now is the clock of the stats window; nil uses time.Now.
	Now func() time.Time
	// PlainHTTP serves every request through net/http (ServeHTTP), without
	// the gateway's own loop for plain keep-alive reads (see fastServer).
	PlainHTTP bool
}

// Gateway is a running set of routes. It serves traffic (ServeHTTP) and
// the admin API (AdminHandler); Run does both on the configured listeners.
type Gateway struct {
	// cfg holds the settings a reload cannot change (listeners, state file,
	// stats window, shutdown timeout); the routes, the side header and the
	// token are in table and settings, which a reload replaces whole.
	cfg       Config
	log       hclog.Logger
	table     atomic.Pointer[routeTable]
	settings  atomic.Pointer[liveSettings]
	registry  *prometheus.Registry
	metrics   *metrics
	transport http.RoundTripper
	// pool carries bodiless reads to plain-http upstreams; nil when the
	// caller injected a Transport, which then carries everything.
	pool *connPool
	now  func() time.Time
	// plainHTTP turns the request loop off (Options.PlainHTTP).
	plainHTTP bool
	// fast is the loop while Serve runs it (tests look).
	fast *fastServer
	// loopRequests counts the requests the loop served (tests look).
	loopRequests atomic.Uint64

	// persistMu serialises state changes and state file writes so the file
	// always holds the last change; handingOver (under persistMu) refuses
	// changes once the state has been handed to a successor process.
	persistMu   sync.Mutex
	handingOver bool
	saveReq     chan struct{}
	saver       sync.WaitGroup

	// draining is set once the gateway stops for good or hands over: every
	// answer then says "Connection: close", so clients open their next
	// connection to whoever still accepts instead of reusing this one.
	draining atomic.Bool
	serving  chan struct{}

	// baseCtx outlives requests (shadow copies use it) and ends at Close.
	baseCtx    context.Context
	baseCancel context.CancelFunc
	shadows    sync.WaitGroup
}

// routeTable is the routes in match order, and by name; replaced whole by
// a reload.
type routeTable struct {
	routes []*route
	byName map[string]*route
}

// liveSettings are the gateway-wide settings a reload may change.
type liveSettings struct {
	token      string
	sideHeader string
}

// New builds a gateway from its configuration and restores the weights,
// holds and breakers saved in the state file, if any.
func New(opts Options) (*Gateway, error) {
	cfg := opts.Config
	if err := checkConfig(cfg, opts.Token); err != nil {
		return nil, err
	}
	g := &Gateway{
		cfg:       cfg,
		log:       opts.Logger,
		registry:  opts.Registry,
		transport: opts.Transport,
		now:       opts.Now,
		plainHTTP: opts.PlainHTTP,
		saveReq:   make(chan struct{}, 1),
		serving:   make(chan struct{}),
	}
	if g.log == nil {
		g.log = hclog.NewNullLogger()
	}
	if g.registry == nil {
		g.registry = prometheus.NewRegistry()
		g.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if g.transport == nil {
		g.transport = newTransport()
		g.pool = newConnPool(512)
	}
	if g.now == nil {
		g.now = time.Now
	}
	g.metrics = newMetrics(g.registry)
	table, err := g.buildTable(cfg.Routes, nil)
	if err != nil {
		return nil, err
	}
	g.table.Store(table)
	g.settings.Store(&liveSettings{token: opts.Token, sideHeader: cfg.SideHeader})
	g.baseCtx, g.baseCancel = context.WithCancel(context.Background())
	if err := g.restoreState(); err != nil {
		return nil, err
	}
	g.saver.Add(1)
	go g.saveLoop()
	return g, nil
}

// checkConfig validates cfg, refuses an open admin API off loopback and a
// state file it could not save to (Validate checks the file alone; this
// checks it against the machine the gateway starts on).
func checkConfig(cfg Config, token string) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := checkStateFile(cfg.StateFile); err != nil {
		return err
	}
	if token == "" && !loopback(cfg.Admin.Listen) {
		return fmt.Errorf("admin API on %s without a token: set admin.tokenEnv or admin.tokenFile, or listen on loopback", cfg.Admin.Listen)
	}
	return nil
}

// buildTable makes the routes of rcs; a route old has by the same name is
// reconfigured on top of its live state instead of starting afresh.
func (g *Gateway) buildTable(rcs []RouteConfig, old *routeTable) (*routeTable, error) {
	t := &routeTable{byName: map[string]*route{}}
	for _, rc := range rcs {
		var r *route
		var err error
		if prev, ok := old.lookup(rc.Name); ok {
			r, err = prev.reconfigure(rc, g.log, g.saveSoon)
		} else {
			r, err = newRoute(rc, g.metrics, g.cfg.StatsWindow, g.now, g.log, g.saveSoon)
		}
		if err != nil {
			return nil, fmt.Errorf("route %s: %w", rc.Name, err)
		}
		t.routes = append(t.routes, r)
		t.byName[rc.Name] = r
	}
	return t, nil
}

// lookup finds a route by name in a table that may be nil.
func (t *routeTable) lookup(name string) (*route, bool) {
	if t == nil {
		return nil, false
	}
	r, ok := t.byName[name]
	return r, ok
}

// routes is the current route table's routes.
func (g *Gateway) routes() []*route { return g.table.Load().routes }

// Reload applies a new configuration without stopping: routes are matched
// and proxied by the new configuration from the next request on, while
// requests already running finish as they started. Weights, holds, breakers
// and statistics of routes that keep their name carry over (a reload never
// changes a weight: the admin API does); new routes start from their
// configured weights; removed routes release their held writes. The
// listeners, the state file, statsWindow and shutdownTimeout cannot change
// in place: a different value is logged and kept until a restart (SIGUSR2).
func (g *Gateway) Reload(cfg Config, token string) error {
	if err := checkConfig(cfg, token); err != nil {
		return err
	}
	for _, d := range []struct{ name, old, new string }{
		{"listen", g.cfg.Listen, cfg.Listen},
		{"admin.listen", g.cfg.Admin.Listen, cfg.Admin.Listen},
		{"stateFile", g.cfg.StateFile, cfg.StateFile},
		{"statsWindow", g.cfg.StatsWindow.String(), cfg.StatsWindow.String()},
		{"shutdownTimeout", g.cfg.ShutdownTimeout.String(), cfg.ShutdownTimeout.String()},
	} {
		if d.old != d.new {
			g.log.Warn("setting changed in the configuration; a reload cannot change it, restart (SIGUSR2) to apply it",
				"setting", d.name, "running", d.old, "configured", d.new)
		}
	}
	g.persistMu.Lock()
	defer g.persistMu.Unlock()
	old := g.table.Load()
	table, err := g.buildTable(cfg.Routes, old)
	if err != nil {
		return err
	}
	for _, r := range old.routes {
		if _, kept := table.byName[r.cfg.Name]; !kept {
			r.releaseWrites()
			g.log.Info("route removed by the reload", "route", r.cfg.Name)
		}
	}
	g.table.Store(table)
	g.settings.Store(&liveSettings{token: token, sideHeader: cfg.SideHeader})
	g.log.Info("configuration reloaded", "routes", len(table.routes), "adminAuth", token != "")
	return g.saveLocked()
}

// newTransport is tuned for a proxy: many idle connections per upstream
// (two upstreams carry all the traffic), bounded dial and header waits,
// larger socket buffers, and bodies passed through as the upstream encoded
// them (no gzip asked for and undone on the client's behalf). It carries
// what the connection pool does not: bodies, writes, https upstreams.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil, // never send upstream calls through an HTTP_PROXY
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		WriteBufferSize:       16 << 10,
		ReadBufferSize:        16 << 10,
	}
}

// loopback reports whether addr listens on a loopback address only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Close releases the gateway's background work: holds' timers stop,
// in-flight shadow copies are cancelled and waited for, and the state is
// saved a last time (breakers included).
func (g *Gateway) Close() {
	g.baseCancel()
	g.shadows.Wait()
	g.saver.Wait()
	for _, r := range g.routes() {
		r.mu.Lock()
		if h := r.state.Load().hold; h != nil && h.timer != nil {
			h.timer.Stop()
		}
		r.mu.Unlock()
	}
}

// Serving is closed once Serve has started serving on its listeners.
func (g *Gateway) Serving() <-chan struct{} { return g.serving }

// ErrHandedOver is the cancellation cause that tells Serve a successor
// process now accepts on the same listeners (see HandOver): Serve then
// drains instead of just shutting down.
var ErrHandedOver = errors.New("handed over to a successor process")

// drainGrace is how long a gateway that handed over keeps its idle
// keep-alive connections open, answering with "Connection: close", before
// it closes them: a client then learns from an answer that the connection
// ends instead of racing a close.
const drainGrace = 2 * time.Second

// Run serves traffic and the admin API on the configured listeners until
// ctx ends, then shuts both down gracefully: in-flight requests (held writes
// included, up to their wait) finish within ShutdownTimeout.
func (g *Gateway) Run(ctx context.Context) error {
	trafficLn, err := net.Listen("tcp", g.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen for traffic: %w", err)
	}
	adminLn, err := net.Listen("tcp", g.cfg.Admin.Listen)
	if err != nil {
		_ = trafficLn.Close()
		return fmt.Errorf("listen for admin API: %w", err)
	}
	return g.Serve(ctx, trafficLn, adminLn)
}

// Serve is Run on listeners the caller opened (tests use port 0; a
// successor process uses the ones it inherited). When ctx ends with the
// cause ErrHandedOver, the listeners are closed at once (the successor
// accepts on its copies), answers say "Connection: close", and open
// connections get up to drainGrace to finish before the graceful shutdown;
// otherwise the graceful shutdown starts at once.
func (g *Gateway) Serve(ctx context.Context, trafficLn, adminLn net.Listener) error {
	defer g.Close()
	var conns atomic.Int64
	trafficLn = &closeOnce{Listener: trafficLn}
	adminLn = &closeOnce{Listener: adminLn}
	traffic := &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog:  g.log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
		ConnState: countConns(&conns)}
	adminHandler := g.AdminHandler()
	admin := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if g.draining.Load() {
			w.Header().Set("Connection", "close") // as for traffic: reconnect to whoever accepts now
		}
		adminHandler.ServeHTTP(w, req)
	}), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:  g.log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
		ConnState: countConns(&conns)}
	errc := make(chan error, 3)
	var fast *fastServer
	if g.pool != nil && !g.plainHTTP {
		// The loop takes the connections; net/http serves the ones it hands over.
		fast = newFastServer(g, traffic, trafficLn, &conns)
		g.fast = fast
		go func() { errc <- traffic.Serve(fast.handoff) }()
		go func() { errc <- fast.serve(trafficLn) }()
	} else {
		go func() { errc <- traffic.Serve(trafficLn) }()
	}
	go func() { errc <- admin.Serve(adminLn) }()
	g.log.Info("gateway listening", "traffic", trafficLn.Addr().String(), "admin", adminLn.Addr().String(),
		"routes", len(g.routes()), "adminAuth", g.settings.Load().token != "")
	close(g.serving)

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	g.draining.Store(true)
	if errors.Is(context.Cause(ctx), ErrHandedOver) {
		g.log.Info("handed over; draining connections", "grace", drainGrace)
		_ = trafficLn.Close()
		_ = adminLn.Close()
		stopFollow := g.followStateFile()
		defer stopFollow()
		deadline := time.Now().Add(min(drainGrace, g.cfg.ShutdownTimeout))
		for conns.Load() > 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), g.cfg.ShutdownTimeout)
	defer cancel()
	g.log.Info("gateway shutting down", "openConnections", conns.Load())
	var fastErr error
	if fast != nil {
		_ = trafficLn.Close()
		fastErr = fast.shutdown(shutdownCtx)
	}
	err := errors.Join(fastErr, traffic.Shutdown(shutdownCtx), admin.Shutdown(shutdownCtx))
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serveErr)
	}
	return err
}

// countConns counts a server's open connections.
func countConns(n *atomic.Int64) func(net.Conn, http.ConnState) {
	return func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			n.Add(1)
		case http.StateClosed, http.StateHijacked:
			n.Add(-1)
		}
	}
}

// closeOnce is a listener that may be closed both by a hand-over and by
// http.Server.Shutdown; the second close is not an error.
type closeOnce struct {
	net.Listener
	once sync.Once
	err  error
}

func (l *closeOnce) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}
