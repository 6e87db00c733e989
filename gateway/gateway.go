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
}

// Gateway is a running set of routes. It serves traffic (ServeHTTP) and
// the admin API (AdminHandler); Run does both on the configured listeners.
type Gateway struct {
	cfg       Config
	log       hclog.Logger
	token     string
	routes    []*route
	byName    map[string]*route
	registry  *prometheus.Registry
	transport http.RoundTripper
	// pool carries bodiless reads to plain-http upstreams; nil when the
	// caller injected a Transport, which then carries everything.
	pool *connPool
	now  func() time.Time

	// persistMu serialises state file writes so the file always holds the
	// last change.
	persistMu sync.Mutex

	// baseCtx outlives requests (shadow copies use it) and ends at Close.
	baseCtx    context.Context
	baseCancel context.CancelFunc
	shadows    sync.WaitGroup
}

// New builds a gateway from its configuration and restores the weights and
// holds saved in the state file, if any.
func New(opts Options) (*Gateway, error) {
	cfg := opts.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Token == "" && !loopback(cfg.Admin.Listen) {
		return nil, fmt.Errorf("admin API on %s without a token: set admin.tokenEnv or admin.tokenFile, or listen on loopback", cfg.Admin.Listen)
	}
	g := &Gateway{
		cfg:       cfg,
		log:       opts.Logger,
		token:     opts.Token,
		byName:    map[string]*route{},
		registry:  opts.Registry,
		transport: opts.Transport,
		now:       opts.Now,
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
	m := newMetrics(g.registry)
	for _, rc := range cfg.Routes {
		r, err := newRoute(rc, m, cfg.StatsWindow, g.now, g.log)
		if err != nil {
			return nil, fmt.Errorf("route %s: %w", rc.Name, err)
		}
		g.routes = append(g.routes, r)
		g.byName[rc.Name] = r
	}
	g.baseCtx, g.baseCancel = context.WithCancel(context.Background())
	if err := g.restoreState(); err != nil {
		return nil, err
	}
	return g, nil
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

// Close releases the gateway's background work: holds' timers stop and
// in-flight shadow copies are cancelled and waited for.
func (g *Gateway) Close() {
	g.baseCancel()
	g.shadows.Wait()
	for _, r := range g.routes {
		r.mu.Lock()
		if h := r.state.Load().hold; h != nil && h.timer != nil {
			h.timer.Stop()
		}
		r.mu.Unlock()
	}
}

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

// Serve is Run on listeners the caller opened (tests use port 0).
func (g *Gateway) Serve(ctx context.Context, trafficLn, adminLn net.Listener) error {
	defer g.Close()
	traffic := &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: g.log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})}
	admin := &http.Server{Handler: g.AdminHandler(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: g.log.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})}
	errc := make(chan error, 2)
	go func() { errc <- traffic.Serve(trafficLn) }()
	go func() { errc <- admin.Serve(adminLn) }()
	g.log.Info("gateway listening", "traffic", trafficLn.Addr().String(), "admin", adminLn.Addr().String(),
		"routes", len(g.routes), "adminAuth", g.token != "")

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), g.cfg.ShutdownTimeout)
	defer cancel()
	g.log.Info("gateway shutting down")
	err := errors.Join(traffic.Shutdown(shutdownCtx), admin.Shutdown(shutdownCtx))
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serveErr)
	}
	return err
}
