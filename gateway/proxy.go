package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// hopHeaders are connection-level headers a proxy must not forward (RFC 9110 §7.6.1).
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// removeHopHeaders drops hop-by-hop headers, including those Connection names.
func removeHopHeaders(h http.Header) {
	for _, v := range h["Connection"] {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32*1024); return &b }}

// ServeHTTP proxies one client request: find its route, wait out a write
// hold, pick a side by weight, and forward with the breaker and fallback.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Header.Get("Upgrade") != "" {
		// Upgraded connections (WebSocket) cannot be split or replayed.
		http.Error(w, "connection upgrades are not supported by godwit-gateway", http.StatusNotImplemented)
		return
	}
	if g.draining.Load() {
		// This process is stopping or handing over: the client's next
		// request should open a connection to whoever accepts now.
		w.Header().Set("Connection", "close")
	}
	r := g.match(req)
	if r == nil {
		http.Error(w, "no route matches this request", http.StatusNotFound)
		return
	}
	read := isRead(req.Method)
	var st *routeState
	if read {
		st = r.state.Load()
	} else {
		var ok bool
		if st, ok = g.admitWrite(w, req, r); !ok {
			return
		}
		defer r.inFlightWrites.Add(-1)
	}
	weight := st.weights.Write
	if read {
		weight = st.weights.Read
	}
	if r.chooseSide(req, weight) == SideNew {
		g.serveNew(w, req, r, read)
		return
	}
	g.serveSide(w, req, r, r.legacy, nil, true)
}

// match returns the first route that matches req, or nil.
func (g *Gateway) match(req *http.Request) *route {
	for _, r := range g.routes() {
		if r.matches(req) {
			return r
		}
	}
	return nil
}

// admitWrite lets a write through once its route's writes are not held,
// counting it in inFlightWrites (the caller decrements when done). While
// held it waits at most the route's MaxWait, then answers 503 with
// Retry-After; false means the request was answered or the client left.
//
// The count is raised before the hold is checked: with the admin setting the
// hold before reading the count, one of the two always sees the other, so
// "hold, then wait for inFlightWrites == 0" misses no write.
func (g *Gateway) admitWrite(w http.ResponseWriter, req *http.Request, r *route) (*routeState, bool) {
	var deadline <-chan time.Time
	for {
		r.inFlightWrites.Add(1)
		st := r.state.Load()
		if st.hold == nil {
			return st, true
		}
		r.inFlightWrites.Add(-1)
		if deadline == nil {
			t := time.NewTimer(r.cfg.WriteHold.MaxWait)
			defer t.Stop()
			deadline = t.C
		}
		r.waitingWrites.Add(1)
		select {
		case <-st.hold.released:
			r.waitingWrites.Add(-1)
			// Look again: another hold may have started at once.
		case <-deadline:
			r.waitingWrites.Add(-1)
			r.holdRejected.Add(1)
			r.m.holdRejected.WithLabelValues(r.cfg.Name).Inc()
			secs := int((r.cfg.WriteHold.RetryAfter + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			http.Error(w, "writes are held for a cut-over; retry later", http.StatusServiceUnavailable)
			return nil, false
		case <-req.Context().Done():
			r.waitingWrites.Add(-1)
			return nil, false
		}
	}
}

// serveNew sends a request the weights gave to new through the breaker. When
// new cannot serve it and replaying is safe, legacy serves it instead;
// either way it counts as a failure of new.
func (g *Gateway) serveNew(w http.ResponseWriter, req *http.Request, r *route, read bool) {
	br := r.breaker.Load()
	tk, err := br.allow()
	if err != nil {
		// Open (or half-open and busy): new never sees the request, so any
		// method may go to legacy.
		r.new.record(-1, "breaker_open")
		g.fallback(r, "breaker_open")
		g.serveSide(w, req, r, r.legacy, nil, false)
		return
	}
	body, replayable, err := bufferBody(req, r.cfg.MaxRetryBody)
	if err != nil {
		br.done(tk, errClientGone)
		http.Error(w, "reading request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	start := time.Now()
	res, cancel, err := g.roundTrip(req, r, r.new, body, start)
	if err != nil {
		defer cancel()
		if req.Context().Err() != nil {
			br.done(tk, errClientGone)
			return
		}
		br.done(tk, err)
		r.new.record(-1, errorKind(err))
		// A read is safe to replay. A write only when new never received
		// it (the connection was refused or could not be dialled): once a
		// write may have reached new, replaying it on legacy could apply
		// it twice, so the client gets the error instead.
		if replayable && (read || neverSent(err)) {
			g.fallback(r, "retried")
			g.serveSide(w, req, r, r.legacy, body, false)
			return
		}
		writeUpstreamError(w, err)
		return
	}
	if res.StatusCode >= 500 {
		if read && replayable {
			_ = res.Body.Close()
			cancel()
			br.done(tk, errStatus5xx)
			r.new.record(time.Since(start), "status_5xx")
			g.fallback(r, "retried")
			g.serveSide(w, req, r, r.legacy, body, false)
			return
		}
	}
	var sh *shadowCapture
	if r.shadowEligible(req) {
		sh = &shadowCapture{limit: r.cfg.Shadow.MaxBody}
	}
	g.relayAndRecord(w, req, r, r.new, res, cancel, start, br, tk, sh)
	if sh != nil {
		g.startShadow(req, r, SideNew, res.StatusCode, sh)
	}
}

// serveSide sends req to one side (legacy, or a fallback) and relays the
// answer. shadowOK allows mirroring it to the other side.
func (g *Gateway) serveSide(w http.ResponseWriter, req *http.Request, r *route, u *upstream, body []byte, shadowOK bool) {
	start := time.Now()
	res, cancel, err := g.roundTrip(req, r, u, body, start)
	if err != nil {
		cancel()
		if req.Context().Err() != nil {
			return
		}
		u.record(-1, errorKind(err))
		writeUpstreamError(w, err)
		return
	}
	var sh *shadowCapture
	if shadowOK && r.shadowEligible(req) {
		sh = &shadowCapture{limit: r.cfg.Shadow.MaxBody}
	}
	g.relayAndRecord(w, req, r, u, res, cancel, start, nil, ticket{}, sh)
	if sh != nil {
		g.startShadow(req, r, u.side, res.StatusCode, sh)
	}
}

// relayAndRecord copies res to the client and records the outcome for u and,
// when br is set, for the breaker.
func (g *Gateway) relayAndRecord(w http.ResponseWriter, req *http.Request, r *route, u *upstream, res *http.Response,
	cancel func(), start time.Time, br *breaker, tk ticket, sh *shadowCapture) {
	defer cancel()
	upErr, clientErr := g.relay(w, res, u.side, sh)
	latency := time.Since(start)
	var outcome error
	kind := ""
	switch {
	case upErr != nil && req.Context().Err() == nil:
		outcome, kind = upErr, errorKind(upErr)
	case res.StatusCode >= 500:
		outcome, kind = errStatus5xx, "status_5xx"
	case clientErr != nil || req.Context().Err() != nil:
		outcome = errClientGone
	}
	if br != nil {
		br.done(tk, outcome)
	}
	u.record(latency, kind)
}

// record counts one request of u; kind names the failure ("" for none);
// latency < 0 when no answer was timed.
func (u *upstream) record(latency time.Duration, kind string) {
	u.m.requests.Inc()
	switch kind {
	case "status_5xx":
		u.m.status5xx.Inc()
	case "transport":
		u.m.transport.Inc()
	case "timeout":
		u.m.timeout.Inc()
	case "breaker_open":
		u.m.open.Inc()
	}
	if latency >= 0 {
		u.m.duration.Observe(latency.Seconds())
	}
	u.stats.record(kind != "", latency)
}

func (g *Gateway) fallback(r *route, reason string) {
	r.fallbacks.Add(1)
	r.m.fallbacks.WithLabelValues(r.cfg.Name, reason).Inc()
}

// bufferBody reads a request body of at most limit bytes into memory so it
// can be sent twice. A larger body is left streaming (replayable false).
func bufferBody(req *http.Request, limit int64) (body []byte, replayable bool, err error) {
	if req.Body == nil || req.Body == http.NoBody || req.ContentLength == 0 {
		return nil, true, nil
	}
	if req.ContentLength > limit {
		return nil, false, nil
	}
	buf, err := io.ReadAll(io.LimitReader(req.Body, limit+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(buf)) > limit {
		// Unknown length and too long: stream what was read, then the rest.
		req.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf), req.Body), req.Body}
		return nil, false, nil
	}
	if buf == nil {
		buf = []byte{}
	}
	return buf, true, nil
}

// roundTrip sends req to u with the route's timeout from start. body, when
// not nil, replaces req.Body (a buffered copy). The returned cancel ends the upstream
// call and must be called once the response body is done with.
//
// Bodiless reads to plain-http upstreams take the gateway's own connection
// pool (see connPool), with the timeout as a deadline on the connection
// rather than a context timer per request.
func (g *Gateway) roundTrip(req *http.Request, r *route, u *upstream, body []byte, start time.Time) (*http.Response, func(), error) {
	base := u.target()
	if g.pool != nil && body == nil && usable(req, base) {
		res, done, err := g.pool.roundTrip(req.Context(), req, base, start.Add(r.cfg.Timeout))
		if err != nil {
			return nil, func() {}, err
		}
		return res, done, nil
	}
	ctx, cancel := context.WithTimeout(req.Context(), r.cfg.Timeout)
	out := outgoing(ctx, req, base, body)
	res, err := g.transport.RoundTrip(out)
	if err != nil {
		return nil, cancel, err
	}
	return res, cancel, nil
}

// outgoing builds the upstream request: the client's method, path and query
// on the upstream's base URL, hop-by-hop headers removed, X-Forwarded-*
// set (For appended to, Host and Proto replaced: clients cannot forge them).
func outgoing(ctx context.Context, req *http.Request, base *url.URL, body []byte) *http.Request {
	target := &url.URL{
		Scheme:   base.Scheme,
		Host:     base.Host,
		Path:     base.Path + req.URL.Path,
		RawQuery: req.URL.RawQuery,
	}
	if req.URL.RawPath != "" {
		target.RawPath = base.Path + req.URL.RawPath
	}
	h := req.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	removeHopHeaders(h)
	if te := req.Header.Get("Te"); strings.Contains(te, "trailers") {
		h.Set("Te", "trailers")
	}
	if ip, _, err := net.SplitHostPort(req.RemoteAddr); err == nil {
		if prior := h.Values("X-Forwarded-For"); len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		h.Set("X-Forwarded-For", ip)
	}
	h.Set("X-Forwarded-Host", req.Host)
	proto := "http"
	if req.TLS != nil {
		proto = "https"
	}
	h.Set("X-Forwarded-Proto", proto)
	if _, ok := h["User-Agent"]; !ok {
		// Keep Go's transport from adding its own.
		h.Set("User-Agent", "")
	}
	out := &http.Request{
		Method:        req.Method,
		URL:           target,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Host:          base.Host,
		ContentLength: req.ContentLength,
		Body:          req.Body,
	}
	if body != nil {
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.ContentLength = int64(len(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	if out.ContentLength == 0 && body == nil {
		out.Body = nil
	}
	return out.WithContext(ctx)
}

// relay copies an upstream response to the client. It returns the error
// reading from upstream and the error writing to the client, apart.
func (g *Gateway) relay(w http.ResponseWriter, res *http.Response, side Side, sh *shadowCapture) (upErr, clientErr error) {
	defer res.Body.Close()
	h := w.Header()
	for k, vv := range res.Header {
		h[k] = vv
	}
	removeHopHeaders(h)
	if g.draining.Load() {
		h.Set("Connection", "close") // removeHopHeaders dropped the one ServeHTTP set
	}
	for k := range res.Trailer {
		h.Add("Trailer", k)
	}
	if sh := g.settings.Load().sideHeader; sh != "" {
		h.Set(sh, string(side))
	}
	w.WriteHeader(res.StatusCode)
	if sh != nil {
		sh.status = res.StatusCode
	}
	bufp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bufp)
	buf := *bufp
	// Streamed answers (no length: server-sent events, long polls) are
	// flushed as they come rather than held in the buffer.
	var rc *http.ResponseController
	if res.ContentLength < 0 {
		rc = http.NewResponseController(w)
	}
	for {
		n, err := res.Body.Read(buf)
		if n > 0 {
			if sh != nil {
				sh.write(buf[:n])
			}
			if _, werr := w.Write(buf[:n]); werr != nil {
				return nil, werr
			}
			if rc != nil {
				_ = rc.Flush()
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err, nil
		}
	}
	for k, vv := range res.Trailer {
		for _, v := range vv {
			h.Add(http.TrailerPrefix+k, v)
		}
	}
	return nil, nil
}

// errorKind names a transport failure for metrics.
func errorKind(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "transport"
}

// neverSent reports whether err proves the request never left the gateway:
// the connection to the upstream could not be made at all.
func neverSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// writeUpstreamError answers 504 for a timeout, 502 otherwise.
func writeUpstreamError(w http.ResponseWriter, err error) {
	if errorKind(err) == "timeout" {
		http.Error(w, "upstream timed out", http.StatusGatewayTimeout)
		return
	}
	http.Error(w, "upstream unavailable", http.StatusBadGateway)
}

// shadowEligible says whether this read should also be mirrored.
func (r *route) shadowEligible(req *http.Request) bool {
	s := r.cfg.Shadow
	if !s.Enabled || (req.Method != http.MethodGet && req.Method != http.MethodHead) {
		return false
	}
	if req.ContentLength != 0 {
		return false
	}
	return s.Percent >= 100 || rand.IntN(100) < s.Percent
}
