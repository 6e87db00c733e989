package gateway

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sony/gobreaker/v2"

	"github.com/godwit/godwit/gateway/api"
)

// defaultStatsWindow is the stats endpoint's window when none is asked for.
const defaultStatsWindow = time.Minute

// AdminHandler serves the admin API:
//
//	GET    /healthz                        liveness (no token)
//	GET    /metrics                        Prometheus metrics (no token)
//	GET    /v1/flags/{route}?key=K         the side the gateway would pick for K (no token)
//	GET    /v1/routes                      every route's state
//	GET    /v1/routes/{route}              one route's state
//	PUT    /v1/routes/{route}/weights      {"read":R,"write":W}, both at once
//	PUT    /v1/routes/{route}/upstreams    {"new":"http://10.0.0.7:8080"}; omitted sides unchanged
//	PUT    /v1/routes/{route}/hold         hold writes; body {"ttl":"2m"} optional
//	DELETE /v1/routes/{route}/hold         release writes
//	GET    /v1/routes/{route}/stats?window=60s
//
// Everything under /v1/routes needs "Authorization: Bearer <token>" when
// the gateway has a token.
func (g *Gateway) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(g.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /v1/flags/{route}", g.withRoute(g.getFlag))
	mux.HandleFunc("GET /v1/routes", g.auth(g.listRoutes))
	mux.HandleFunc("GET /v1/routes/{route}", g.auth(g.withRoute(g.getRoute)))
	mux.HandleFunc("PUT /v1/routes/{route}/weights", g.auth(g.withRoute(g.putWeights)))
	mux.HandleFunc("PUT /v1/routes/{route}/upstreams", g.auth(g.withRoute(g.putUpstreams)))
	mux.HandleFunc("PUT /v1/routes/{route}/hold", g.auth(g.withRoute(g.putHold)))
	mux.HandleFunc("DELETE /v1/routes/{route}/hold", g.auth(g.withRoute(g.deleteHold)))
	mux.HandleFunc("GET /v1/routes/{route}/stats", g.auth(g.withRoute(g.getStats)))
	return mux
}

// auth refuses requests without the bearer token, in constant time.
func (g *Gateway) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		// The token is read per request: a reload may change it.
		token := g.settings.Load().token
		if token == "" {
			next(w, req)
			return
		}
		want := []byte("Bearer " + token)
		got := []byte(req.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="godwit-gateway"`)
			writeJSONError(w, http.StatusUnauthorized, errors.New("missing or wrong bearer token"))
			return
		}
		next(w, req)
	}
}

type routeHandler func(http.ResponseWriter, *http.Request, *route)

// withRoute resolves {route} or answers 404.
func (g *Gateway) withRoute(next routeHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		name := req.PathValue("route")
		r, ok := g.table.Load().lookup(name)
		if !ok {
			writeJSONError(w, http.StatusNotFound, fmt.Errorf("no route named %q", name))
			return
		}
		next(w, req, r)
	}
}

func (g *Gateway) listRoutes(w http.ResponseWriter, _ *http.Request) {
	routes := g.routes()
	out := make([]api.RouteStatus, 0, len(routes))
	for _, r := range routes {
		out = append(out, r.status())
	}
	writeJSON(w, http.StatusOK, out)
}

func (g *Gateway) getRoute(w http.ResponseWriter, _ *http.Request, r *route) {
	writeJSON(w, http.StatusOK, r.status())
}

func (g *Gateway) putWeights(w http.ResponseWriter, req *http.Request, r *route) {
	var body struct {
		Read  *int `json:"read"`
		Write *int `json:"write"`
	}
	if err := decodeBody(req, &body); err != nil {
		writeJSONError(w, http.StatusBadRequest, err)
		return
	}
	if body.Read == nil || body.Write == nil {
		writeJSONError(w, http.StatusBadRequest, errors.New(`both "read" and "write" are required`))
		return
	}
	wts := Weights{Read: *body.Read, Write: *body.Write}
	if err := validateWeights(wts); err != nil {
		writeJSONError(w, http.StatusBadRequest, err)
		return
	}
	prev := r.state.Load().weights
	err := g.change(func() { r.setWeights(wts) })
	g.log.Info("weights set", "route", r.cfg.Name, "read", wts.Read, "write", wts.Write,
		"previousRead", prev.Read, "previousWrite", prev.Write)
	g.answerChange(w, r, err)
}

func (g *Gateway) putUpstreams(w http.ResponseWriter, req *http.Request, r *route) {
	var body api.UpstreamsRequest
	if err := decodeBody(req, &body); err != nil {
		writeJSONError(w, http.StatusBadRequest, err)
		return
	}
	if body.Legacy == "" && body.New == "" {
		writeJSONError(w, http.StatusBadRequest, errors.New(`give "legacy", "new" or both`))
		return
	}
	var legacy, newURL *url.URL
	var err error
	if body.Legacy != "" {
		if legacy, err = parseUpstream(body.Legacy); err != nil {
			writeJSONError(w, http.StatusBadRequest, fmt.Errorf("legacy: %w", err))
			return
		}
	}
	if body.New != "" {
		if newURL, err = parseUpstream(body.New); err != nil {
			writeJSONError(w, http.StatusBadRequest, fmt.Errorf("new: %w", err))
			return
		}
	}
	err = g.change(func() { r.setUpstreams(legacy, newURL) })
	g.log.Info("upstreams set", "route", r.cfg.Name, "legacy", r.legacy.target().String(), "new", r.new.target().String())
	g.answerChange(w, r, err)
}

func (g *Gateway) putHold(w http.ResponseWriter, req *http.Request, r *route) {
	var body api.HoldRequest
	if err := decodeBody(req, &body); err != nil {
		writeJSONError(w, http.StatusBadRequest, err)
		return
	}
	var ttl time.Duration
	if body.TTL != "" {
		d, err := time.ParseDuration(body.TTL)
		if err != nil || d <= 0 {
			writeJSONError(w, http.StatusBadRequest, fmt.Errorf("ttl %q: want a positive duration such as 2m", body.TTL))
			return
		}
		ttl = d
	}
	err := g.change(func() { r.holdWrites(g.now(), ttl) })
	g.log.Info("writes held", "route", r.cfg.Name, "ttl", ttl)
	g.answerChange(w, r, err)
}

func (g *Gateway) deleteHold(w http.ResponseWriter, _ *http.Request, r *route) {
	err := g.change(r.releaseWrites)
	g.log.Info("writes released", "route", r.cfg.Name)
	g.answerChange(w, r, err)
}

// answerChange answers a change with the route's new state, or 500 when it
// could not be saved.
func (g *Gateway) answerChange(w http.ResponseWriter, r *route, err error) {
	if errors.Is(err, errHandingOver) {
		w.Header().Set("Retry-After", "1")
		writeJSONError(w, http.StatusServiceUnavailable, err)
		return
	}
	if err != nil {
		g.log.Error("saving gateway state failed", "route", r.cfg.Name, "error", err)
		writeJSONError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, r.status())
}

func (g *Gateway) getStats(w http.ResponseWriter, req *http.Request, r *route) {
	span := defaultStatsWindow
	if v := req.URL.Query().Get("window"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			writeJSONError(w, http.StatusBadRequest, fmt.Errorf("window %q: want a positive duration such as 60s", v))
			return
		}
		span = d
	}
	if span > g.cfg.StatsWindow {
		span = g.cfg.StatsWindow
	}
	writeJSON(w, http.StatusOK, r.stats(span))
}

func (g *Gateway) getFlag(w http.ResponseWriter, req *http.Request, r *route) {
	key := req.URL.Query().Get("key")
	if key == "" {
		writeJSONError(w, http.StatusBadRequest, errors.New("key is required"))
		return
	}
	read, write := r.decide(key)
	writeJSON(w, http.StatusOK, api.FlagAnswer{Route: r.cfg.Name, Key: key,
		Bucket: Bucket(r.cfg.Name, key), Read: string(read), Write: string(write)})
}

// status is the route's state for the admin API.
func (r *route) status() api.RouteStatus {
	st := r.state.Load()
	out := api.RouteStatus{
		Name:           r.cfg.Name,
		Host:           r.cfg.Match.Host,
		PathPrefix:     r.cfg.Match.PathPrefix,
		Legacy:         r.legacy.target().String(),
		New:            r.new.target().String(),
		Weights:        st.weights,
		InFlightWrites: r.inFlightWrites.Load(),
		WaitingWrites:  r.waitingWrites.Load(),
		Breaker:        breakerName(r.breaker.Load().State()),
		Fallbacks:      r.fallbacks.Load(),
		Shadow:         r.shadowStatus(),
	}
	if h := st.hold; h != nil {
		out.WritesHeld = true
		since := h.since
		out.HeldSince = &since
		if !h.until.IsZero() {
			until := h.until
			out.HoldUntil = &until
		}
	}
	return out
}

func (r *route) shadowStatus() api.ShadowStatus {
	s := api.ShadowStatus{
		Enabled:    r.cfg.Shadow.Enabled,
		Percent:    r.cfg.Shadow.Percent,
		Compared:   r.shadowCompared.Load(),
		Mismatches: r.shadowMismatches.Load(),
		Dropped:    r.shadowDropped.Load(),
	}
	if s.Compared > 0 {
		s.MismatchRate = float64(s.Mismatches) / float64(s.Compared)
	}
	return s
}

// stats summarises both sides over span.
func (r *route) stats(span time.Duration) api.RouteStats {
	return api.RouteStats{
		Route:         r.cfg.Name,
		WindowSeconds: span.Seconds(),
		Weights:       r.state.Load().weights,
		Breaker:       breakerName(r.breaker.Load().State()),
		Legacy:        r.legacy.stats.summary(span),
		New:           r.new.stats.summary(span),
		Fallbacks:     r.fallbacks.Load(),
		Shadow:        r.shadowStatus(),
	}
}

func breakerName(s gobreaker.State) string {
	switch s {
	case gobreaker.StateOpen:
		return api.BreakerOpen
	case gobreaker.StateHalfOpen:
		return api.BreakerHalfOpen
	}
	return api.BreakerClosed
}

// decodeBody decodes a small JSON body strictly; an empty body leaves v as is.
func decodeBody(req *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(req.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("request body: %w", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeJSONError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, api.Error{Error: strings.TrimSpace(err.Error())})
}
