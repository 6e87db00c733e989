package gateway

import (
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/sony/gobreaker/v2"
)

// Side is one of a route's two upstreams.
type Side string

// The two sides of every route.
const (
	SideLegacy Side = "legacy"
	SideNew    Side = "new"
)

// upstream is one side of a route: where it is and what it did lately.
type upstream struct {
	side  Side
	addr  atomic.Pointer[url.URL] // replaced whole by the admin API
	stats *window
	m     sideMetrics
}

// target is the upstream's current base URL.
func (u *upstream) target() *url.URL { return u.addr.Load() }

// routeState is a route's mutable settings as one immutable snapshot: a
// request loads it once, so a weight change is atomic and never observed
// half-done, and in-flight requests finish where they started.
type routeState struct {
	weights Weights
	hold    *writeHold // nil when writes flow
}

// writeHold is an active hold on a route's writes; released is closed when
// the hold ends.
type writeHold struct {
	since    time.Time
	until    time.Time // zero: until released
	released chan struct{}
	timer    *time.Timer
}

// route is a configured route at run time. Its configuration is fixed; a
// reload (Gateway.Reload) builds a new route that shares the old one's
// routeLive and upstreams, so weights, holds, the breaker, the statistics
// and the write counters carry over, and requests still running on the old
// route object see the same state as new ones.
type route struct {
	cfg RouteConfig
	*routeLive
	legacy *upstream
	new    *upstream
	log    hclog.Logger
	// changed asks the gateway to save its state soon (a breaker changed
	// state); nil in tests that build routes alone.
	changed func()

	shadowSem chan struct{}

	m *metrics
}

// routeLive is the part of a route that outlives a reload of the
// configuration.
type routeLive struct {
	state atomic.Pointer[routeState]
	mu    sync.Mutex // serialises state changes; never taken by requests
	// breaker guards new; a new upstream for new gets a fresh one.
	breaker atomic.Pointer[breaker]

	inFlightWrites atomic.Int64
	waitingWrites  atomic.Int64
	fallbacks      atomic.Uint64
	holdRejected   atomic.Uint64

	shadowCompared   atomic.Uint64
	shadowMismatches atomic.Uint64
	shadowDropped    atomic.Uint64
}

// errStatus5xx marks a 5xx answer from new as a breaker failure.
var errStatus5xx = errors.New("upstream answered 5xx")

// errClientGone marks a request the client abandoned: not new's fault, so
// the breaker neither counts it as a failure nor a success.
var errClientGone = errors.New("client went away")

func newRoute(cfg RouteConfig, m *metrics, statsSpan time.Duration, now func() time.Time, log hclog.Logger, changed func()) (*route, error) {
	legacyURL, err := parseUpstream(cfg.Legacy)
	if err != nil {
		return nil, err
	}
	newURL, err := parseUpstream(cfg.New)
	if err != nil {
		return nil, err
	}
	r := &route{
		cfg:       cfg,
		routeLive: &routeLive{},
		changed:   changed,
		legacy:    &upstream{side: SideLegacy, stats: newWindow(statsSpan, now), m: m.side(cfg.Name, string(SideLegacy))},
		new:       &upstream{side: SideNew, stats: newWindow(statsSpan, now), m: m.side(cfg.Name, string(SideNew))},
		shadowSem: make(chan struct{}, cfg.Shadow.MaxInFlight),
		log:       log,
		m:         m,
	}
	r.legacy.addr.Store(legacyURL)
	r.new.addr.Store(newURL)
	r.resetBreaker()
	r.setState(&routeState{weights: cfg.Weights})
	return r, nil
}

// reconfigure builds the route cfg describes on top of r's live state (a
// reload): weights, holds, statistics and counters carry over. An upstream
// whose configured URL changed is replaced (it wins over one set through
// the admin API, since the operator just edited it); the breaker is kept
// unless new's upstream or the breaker's settings changed.
func (r *route) reconfigure(cfg RouteConfig, log hclog.Logger, changed func()) (*route, error) {
	legacyURL, err := parseUpstream(cfg.Legacy)
	if err != nil {
		return nil, err
	}
	newURL, err := parseUpstream(cfg.New)
	if err != nil {
		return nil, err
	}
	nr := &route{
		cfg:       cfg,
		routeLive: r.routeLive,
		legacy:    r.legacy,
		new:       r.new,
		log:       log,
		changed:   changed,
		shadowSem: make(chan struct{}, cfg.Shadow.MaxInFlight),
		m:         r.m,
	}
	nr.mu.Lock()
	defer nr.mu.Unlock()
	if cfg.Legacy != r.cfg.Legacy {
		nr.legacy.addr.Store(legacyURL)
	}
	switch {
	case cfg.New != r.cfg.New && newURL.String() != nr.new.target().String():
		nr.new.addr.Store(newURL)
		nr.resetBreaker()
	case cfg.Breaker != r.cfg.Breaker:
		nr.resetBreaker()
	}
	return nr, nil
}

// resetBreaker gives new a fresh, closed breaker.
func (r *route) resetBreaker() {
	gauge := r.m.breaker.WithLabelValues(r.cfg.Name)
	threshold := r.cfg.Breaker.ConsecutiveFailures
	name := r.cfg.Name
	log := r.log
	changed := r.changed
	r.breaker.Store(newBreaker(gobreaker.Settings{
		Name:        name,
		MaxRequests: r.cfg.Breaker.HalfOpenRequests,
		Timeout:     r.cfg.Breaker.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= threshold },
		IsExcluded:  func(err error) bool { return errors.Is(err, errClientGone) },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			gauge.Set(float64(to))
			log.Warn("circuit breaker on new changed state", "route", name, "from", breakerName(from), "to", breakerName(to))
			if changed != nil {
				changed() // the state file keeps an open breaker across restarts
			}
		},
	}))
	gauge.Set(float64(gobreaker.StateClosed))
}

// setUpstreams replaces either upstream (nil keeps it). In-flight requests
// finish on the address they started with; a different new upstream gets a
// fresh breaker, since the old one judged another service.
func (r *route) setUpstreams(legacy, newURL *url.URL) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if legacy != nil {
		r.legacy.addr.Store(legacy)
	}
	if newURL != nil && newURL.String() != r.new.target().String() {
		r.new.addr.Store(newURL)
		r.resetBreaker()
	}
}

// configured is the side's upstream as the configuration file gives it,
// normalised as the running one is.
func (r *route) configured(side Side) string {
	raw := r.cfg.Legacy
	if side == SideNew {
		raw = r.cfg.New
	}
	u, err := parseUpstream(raw)
	if err != nil {
		return raw
	}
	return u.String()
}

// setState publishes a new snapshot and its gauges. The caller holds mu, or
// is the constructor.
func (r *route) setState(s *routeState) {
	r.state.Store(s)
	r.m.weight.WithLabelValues(r.cfg.Name, "read").Set(float64(s.weights.Read))
	r.m.weight.WithLabelValues(r.cfg.Name, "write").Set(float64(s.weights.Write))
	held := 0.0
	if s.hold != nil {
		held = 1
	}
	r.m.writesHeld.WithLabelValues(r.cfg.Name).Set(held)
}

// setWeights changes both weights at once.
func (r *route) setWeights(w Weights) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.state.Load()
	r.setState(&routeState{weights: w, hold: cur.hold})
}

// holdWrites starts holding writes (or changes the end of a running hold).
// ttl > 0 releases the hold by itself after ttl, so a driver that dies
// while holding cannot stop writes for good.
func (r *route) holdWrites(now time.Time, ttl time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.state.Load()
	h := cur.hold
	if h == nil {
		h = &writeHold{since: now, released: make(chan struct{})}
	} else {
		// Copy so the published snapshot is never mutated.
		cp := *h
		h = &cp
		if h.timer != nil {
			h.timer.Stop()
		}
	}
	h.until, h.timer = time.Time{}, nil
	if ttl > 0 {
		h.until = now.Add(ttl)
		released := h.released
		h.timer = time.AfterFunc(ttl, func() { r.releaseIf(released) })
	}
	r.setState(&routeState{weights: cur.weights, hold: h})
}

// releaseWrites ends a hold; waiting writes go on with the current weights.
func (r *route) releaseWrites() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.releaseLocked()
}

// releaseIf releases the hold whose channel is released, if still active: a
// ttl timer must not end a later hold.
func (r *route) releaseIf(released chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if h := r.state.Load().hold; h != nil && h.released == released {
		r.releaseLocked()
	}
}

func (r *route) releaseLocked() {
	cur := r.state.Load()
	if cur.hold == nil {
		return
	}
	if cur.hold.timer != nil {
		cur.hold.timer.Stop()
	}
	close(cur.hold.released)
	r.setState(&routeState{weights: cur.weights})
}

// matches reports whether req belongs to this route.
func (r *route) matches(req *http.Request) bool {
	if h := r.cfg.Match.Host; h != "" {
		host := req.Host
		if hh, _, err := net.SplitHostPort(host); err == nil {
			host = hh
		}
		if !strings.EqualFold(host, h) {
			return false
		}
	}
	if p := r.cfg.Match.PathPrefix; p != "" && p != "/" {
		path := req.URL.Path
		if !strings.HasPrefix(path, p) {
			return false
		}
		if len(path) > len(p) && !strings.HasSuffix(p, "/") && path[len(p)] != '/' {
			return false
		}
	}
	return true
}

// stickyKey returns the request's hashing key, or "" when it has none.
func (r *route) stickyKey(req *http.Request) string {
	k := r.cfg.StickyKey
	switch {
	case k.Header != "":
		return req.Header.Get(k.Header)
	case k.Cookie != "":
		if c, err := req.Cookie(k.Cookie); err == nil {
			return c.Value
		}
	case k.ClientIP:
		if host, _, err := net.SplitHostPort(req.RemoteAddr); err == nil {
			return host
		}
		return req.RemoteAddr
	}
	return ""
}

// chooseSide decides where the weights send req: the override header first,
// then the sticky bucket, then (no key) a random draw at the same odds.
func (r *route) chooseSide(req *http.Request, weight int) Side {
	if h := r.cfg.OverrideHeader; h != "" {
		switch strings.ToLower(req.Header.Get(h)) {
		case "new":
			return SideNew
		case "legacy":
			return SideLegacy
		}
	}
	if key := r.stickyKey(req); key != "" {
		if OnNew(r.cfg.Name, key, weight) {
			return SideNew
		}
		return SideLegacy
	}
	if rand.IntN(100) < weight {
		return SideNew
	}
	return SideLegacy
}

// Decide answers as the gateway would for a request of route with key: the
// side a read and a write would go to. It is what the flags endpoint serves
// to applications that route inside their own code.
func (r *route) decide(key string) (read, write Side) {
	w := r.state.Load().weights
	read, write = SideLegacy, SideLegacy
	if OnNew(r.cfg.Name, key, w.Read) {
		read = SideNew
	}
	if OnNew(r.cfg.Name, key, w.Write) {
		write = SideNew
	}
	return read, write
}

// isRead tells reads (weighted by the read weight) from writes.
func isRead(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}
