package gateway

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// serveFast proxies the read parsed in c.req as ServeHTTP would. served
// false means the loop does not take it (nothing was done and nothing
// consumed: the connection goes to net/http); keep false means the
// connection must be closed after the answer.
func (g *Gateway) serveFast(c *fastConn) (keep, served bool) {
	fr := &c.req
	if g.pool == nil {
		return false, false
	}
	r := g.matchFast(fr)
	if r == nil || r.cfg.Shadow.Enabled {
		return false, false
	}
	if r.legacy.target().Scheme != "http" || r.new.target().Scheme != "http" {
		return false, false
	}
	g.loopRequests.Add(1)
	// Reads are never held: no admitWrite.
	weight := r.state.Load().weights.Read
	if r.chooseSideFast(c, weight) == SideNew {
		return g.fastNew(c, r), true
	}
	return g.fastSide(c, r, r.legacy), true
}

// matchFast is match for a request on the loop.
func (g *Gateway) matchFast(fr *fastReq) *route {
	for _, r := range g.routes() {
		if r.matchesFast(fr.host, fr.path) {
			return r
		}
	}
	return nil
}

// matchesFast is matches on the raw Host header and path.
func (r *route) matchesFast(host, path []byte) bool {
	if h := r.cfg.Match.Host; h != "" {
		if !strings.EqualFold(string(stripPort(host)), h) {
			return false
		}
	}
	if p := r.cfg.Match.PathPrefix; p != "" && p != "/" {
		if len(path) < len(p) || string(path[:len(p)]) != p {
			return false
		}
		if len(path) > len(p) && p[len(p)-1] != '/' && path[len(p)] != '/' {
			return false
		}
	}
	return true
}

// stripPort is net.SplitHostPort's host when it succeeds, host otherwise.
func stripPort(host []byte) []byte {
	if len(host) > 0 && host[0] == '[' {
		end := bytes.IndexByte(host, ']')
		if end < 0 || end+1 >= len(host) || host[end+1] != ':' || bytes.IndexByte(host[end+2:], ':') >= 0 ||
			bytes.IndexByte(host[1:end], '[') >= 0 {
			return host
		}
		return host[1:end]
	}
	i := bytes.IndexByte(host, ':')
	if i < 0 || bytes.IndexByte(host[i+1:], ':') >= 0 || bytes.IndexAny(host, "[]") >= 0 {
		return host
	}
	return host[:i]
}

// chooseSideFast is chooseSide for a request on the loop.
func (r *route) chooseSideFast(c *fastConn, weight int) Side {
	fr := &c.req
	if h := r.cfg.OverrideHeader; h != "" {
		if v, ok := fr.header(h); ok {
			switch {
			case bytes.EqualFold(v, []byte("new")):
				return SideNew
			case bytes.EqualFold(v, []byte("legacy")):
				return SideLegacy
			}
		}
	}
	var key []byte
	k := r.cfg.StickyKey
	switch {
	case k.Header != "":
		key, _ = fr.header(k.Header)
	case k.Cookie != "":
		req := http.Request{Header: http.Header{}}
		for i := 0; i < fr.n; i++ {
			if equalFoldString(fr.names[i], "Cookie") {
				req.Header.Add("Cookie", string(fr.values[i]))
			}
		}
		if ck, err := req.Cookie(k.Cookie); err == nil {
			key = []byte(ck.Value)
		}
	case k.ClientIP:
		key = c.ipKey
	}
	if len(key) > 0 {
		if bucketBytes(r.cfg.Name, key) <= weight {
			return SideNew
		}
		return SideLegacy
	}
	if rand.IntN(100) < weight {
		return SideNew
	}
	return SideLegacy
}

// fastNew is serveNew for a read on the loop: through the breaker, and to
// legacy when new cannot answer (a read is always safe to replay).
func (g *Gateway) fastNew(c *fastConn, r *route) bool {
	br := r.breaker.Load()
	tk, err := br.allow()
	if err != nil {
		r.new.record(-1, "breaker_open")
		g.fallback(r, "breaker_open")
		return g.fastSide(c, r, r.legacy)
	}
	start := time.Now()
	uc, err := g.fastExchange(c, r.new, start, start.Add(r.cfg.Timeout))
	if err != nil {
		if c.gone {
			br.done(tk, errClientGone)
			return false
		}
		br.done(tk, err)
		r.new.record(-1, errorKind(err))
		g.fallback(r, "retried")
		return g.fastSide(c, r, r.legacy)
	}
	if c.res.status >= 500 {
		_ = uc.nc.Close()
		if c.stopWatching() {
			br.done(tk, errClientGone)
			return false
		}
		br.done(tk, errStatus5xx)
		r.new.record(time.Since(start), "status_5xx")
		g.fallback(r, "retried")
		return g.fastSide(c, r, r.legacy)
	}
	return g.fastRelay(c, r.new, uc, start, br, tk)
}

// fastSide is serveSide on the loop.
func (g *Gateway) fastSide(c *fastConn, r *route, u *upstream) bool {
	start := time.Now()
	uc, err := g.fastExchange(c, u, start, start.Add(r.cfg.Timeout))
	if err != nil {
		if c.gone {
			return false
		}
		u.record(-1, errorKind(err))
		return c.writeError(err, g.draining.Load())
	}
	return g.fastRelay(c, u, uc, start, nil, ticket{})
}

// fastExchange sends the request to u on a pooled connection and reads the
// answer's head into c.res. A reused connection the upstream had closed
// while idle is retried once on a fresh one, as connPool.roundTrip does.
func (g *Gateway) fastExchange(c *fastConn, u *upstream, now, deadline time.Time) (*upConn, error) {
	base := u.target()
	h := g.pool.hostFor(base.Host)
	for attempt := 0; ; attempt++ {
		var uc *upConn
		reused := false
		if attempt == 0 {
			uc = h.take(now)
			reused = uc != nil
		}
		if uc == nil {
			var err error
			if uc, err = g.pool.dial(context.Background(), h, base.Host, deadline); err != nil {
				return nil, err
			}
		}
		err := uc.fastExchange(c, base, deadline)
		if err != nil {
			_ = uc.nc.Close()
			if c.stopWatching() {
				return nil, err
			}
			if reused && !isTimeout(err) {
				continue
			}
			return nil, err
		}
		return uc, nil
	}
}

func (uc *upConn) fastExchange(c *fastConn, base *url.URL, deadline time.Time) error {
	now := time.Now()
	probe := now.Add(slowAnswer)
	if !probe.Before(deadline) {
		probe = deadline
	}
	uc.in.deadline = time.Time{}
	if err := uc.nc.SetReadDeadline(probe); err != nil {
		return err
	}
	c.out.b = c.out.b[:0]
	c.writeUpstreamRequest(&c.out, base)
	// Write and wait for the answer's first bytes a short while. An
	// upstream that takes longer gets the client watched meanwhile
	// (watchClient), so a client that leaves ends the call as it does on
	// the net/http path.
	rest := c.out.b
	var err error
	if uc.raw != nil && uc.br.Buffered() == 0 {
		rest, err = uc.raw.writeThenWait(c.out.b)
	}
	if rest != nil && err == nil {
		if err := uc.nc.SetWriteDeadline(deadline); err != nil {
			return err
		}
		if _, err := uc.bw.Write(rest); err != nil {
			return err
		}
		if err := uc.bw.Flush(); err != nil {
			return err
		}
		_, err = uc.br.Peek(1)
	}
	switch {
	case err == nil && rest == nil:
		// The answer's first bytes are in; the route's deadline is set
		// only if more must be read.
		if probe.Before(deadline) {
			uc.in.deadline = deadline
		}
	case err == nil || isTimeout(err) && probe.Before(deadline):
		if err := uc.nc.SetReadDeadline(deadline); err != nil {
			return err
		}
		if err != nil {
			c.watchClient(uc) // after the deadline is set: an abort must not be overwritten
		}
	default:
		return err
	}
	return c.res.readHead(uc.br, string(c.req.method) == http.MethodHead)
}

// appendBuf collects an upstream request.
type appendBuf struct{ b []byte }

func (a *appendBuf) Write(p []byte)         { a.b = append(a.b, p...) }
func (a *appendBuf) WriteString(s string)   { a.b = append(a.b, s...) }
func (a *appendBuf) WriteByte(c byte) error { a.b = append(a.b, c); return nil }

// writeUpstreamRequest is writeRequest for a request on the loop: the
// client's method, path and query on base, its headers in their order
// less hop-by-hop ones (and those Connection names), X-Forwarded-* set.
func (c *fastConn) writeUpstreamRequest(w *appendBuf, base *url.URL) {
	fr := &c.req
	w.Write(fr.method)
	w.WriteByte(' ')
	if base.Path != "" {
		w.WriteString((&url.URL{Path: base.Path}).EscapedPath())
	}
	w.Write(fr.path)
	if len(fr.query) > 0 {
		w.WriteByte('?')
		w.Write(fr.query)
	}
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(base.Host)
	w.WriteString("\r\n")
	wroteTe := false
	for i := 0; i < fr.n; i++ {
		name, value := fr.names[i], fr.values[i]
		if skipOutgoingFast(name) || fr.nconn > 0 && fr.connNamed(name) {
			continue
		}
		if bytes.EqualFold(name, hTe) {
			if !wroteTe && teTrailers(fr) {
				w.WriteString("Te: trailers\r\n")
				wroteTe = true
			}
			continue
		}
		w.Write(name)
		w.WriteString(": ")
		w.Write(value)
		w.WriteString("\r\n")
	}
	if c.ipOK {
		w.WriteString("X-Forwarded-For: ")
		if fr.hasXFF {
			for i := 0; i < fr.n; i++ {
				if bytes.EqualFold(fr.names[i], hXFF) {
					w.Write(fr.values[i])
					w.WriteString(", ")
				}
			}
		}
		w.WriteString(c.ip)
		w.WriteString("\r\n")
	}
	w.WriteString("X-Forwarded-Host: ")
	w.Write(fr.host)
	w.WriteString("\r\nX-Forwarded-Proto: http\r\n\r\n")
}

// teTrailers reports whether the client's Te headers, joined, contain
// "trailers" (as writeRequest checks).
func teTrailers(fr *fastReq) bool {
	for i := 0; i < fr.n; i++ {
		if bytes.EqualFold(fr.names[i], hTe) && bytes.Contains(fr.values[i], []byte("trailers")) {
			return true
		}
	}
	return false
}

// skipOutgoingFast is skipOutgoing's fixed list, in any case.
func skipOutgoingFast(name []byte) bool {
	switch len(name) {
	case 4:
		return equalFoldString(name, "Host")
	case 7:
		return equalFoldString(name, "Trailer") || equalFoldString(name, "Upgrade")
	case 10:
		return equalFoldString(name, "Connection") || equalFoldString(name, "Keep-Alive")
	case 14:
		return equalFoldString(name, "Content-Length")
	case 15:
		return equalFoldString(name, "X-Forwarded-For")
	case 16:
		return equalFoldString(name, "Proxy-Connection") || equalFoldString(name, "X-Forwarded-Host")
	case 17:
		return equalFoldString(name, "Transfer-Encoding") || equalFoldString(name, "X-Forwarded-Proto")
	case 18:
		return equalFoldString(name, "Proxy-Authenticate")
	case 19:
		return equalFoldString(name, "Proxy-Authorization")
	}
	return false
}

// fastRes is an upstream answer's head, copied into buf (reused from one
// answer to the next) with its headers as offsets into it.
type fastRes struct {
	buf    []byte
	status int
	hs     []span
	// framing
	length   int64 // -1: none given
	chunked  bool
	noBody   bool
	untilEOF bool
	close    bool // the upstream connection ends after this answer
	hasDate  bool
	conn     []span // the upstream's Connection header values
}

type span struct{ ns, ne, vs, ve int }

func (r *fastRes) name(s span) []byte  { return r.buf[s.ns:s.ne] }
func (r *fastRes) value(s span) []byte { return r.buf[s.vs:s.ve] }

// readHead reads an answer's head from br, skipping 1xx answers, and works
// out its framing as http.ReadResponse would.
func (r *fastRes) readHead(br *bufio.Reader, head bool) error {
	for {
		r.buf, r.hs, r.conn = r.buf[:0], r.hs[:0], r.conn[:0]
		r.length, r.chunked, r.noBody, r.untilEOF, r.close, r.hasDate = -1, false, false, false, false, false
		line, err := readLine(br)
		if err != nil {
			return err
		}
		// HTTP/1.x SSS[ reason]
		if len(line) < 12 || string(line[:7]) != "HTTP/1." || (line[7] != '0' && line[7] != '1') || line[8] != ' ' ||
			len(line) > 12 && line[12] != ' ' {
			return errBadAnswer
		}
		http10 := line[7] == '0'
		code := 0
		for _, b := range line[9:12] {
			if b < '0' || b > '9' {
				return errBadAnswer
			}
			code = code*10 + int(b-'0')
		}
		if code < 100 {
			return errBadAnswer
		}
		r.status = code
		if err := r.readHeaders(br); err != nil {
			return err
		}
		if code == http.StatusSwitchingProtocols {
			return errBadAnswer // no upgrade was asked for
		}
		if code < 200 {
			continue // 103 Early Hints and the like precede the answer
		}
		keepAlive := false
		seenLen, seenTE := false, false
		for _, s := range r.hs {
			n, v := r.name(s), r.value(s)
			switch {
			case equalFoldString(n, "Content-Length"):
				l, ok := parseLength(v)
				if !ok || seenLen && l != r.length {
					return errBadAnswer
				}
				r.length, seenLen = l, true
			case equalFoldString(n, "Transfer-Encoding"):
				if seenTE || !equalFoldString(v, "chunked") {
					return errBadAnswer
				}
				seenTE, r.chunked = true, true
			case equalFoldString(n, "Connection"):
				r.conn = append(r.conn, s)
				if tokenListHas(v, []byte("close")) {
					r.close = true
				}
				if tokenListHas(v, []byte("keep-alive")) {
					keepAlive = true
				}
			case equalFoldString(n, "Date"):
				r.hasDate = true
			}
		}
		if http10 && !keepAlive {
			r.close = true
		}
		switch {
		case head || code == http.StatusNoContent || code == http.StatusNotModified:
			r.noBody, r.chunked = true, false
		case r.chunked:
			r.length = -1
		case r.length < 0:
			r.untilEOF, r.close = true, true
		}
		return nil
	}
}

// readHeaders copies header lines into buf until the blank line.
func (r *fastRes) readHeaders(br *bufio.Reader) error {
	for {
		line, err := readLine(br)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			// obs-fold: the line continues the previous value.
			if len(r.hs) == 0 {
				return errBadAnswer
			}
			r.buf = append(r.buf, ' ')
			r.buf = append(r.buf, trimOWS(line)...)
			r.hs[len(r.hs)-1].ve = len(r.buf)
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return errBadAnswer
		}
		for _, b := range line[:colon] {
			if !tokenByte[b] {
				return errBadAnswer
			}
		}
		v := trimOWS(line[colon+1:])
		for _, b := range v {
			if b < ' ' && b != '\t' || b == 0x7f {
				return errBadAnswer
			}
		}
		s := span{ns: len(r.buf)}
		r.buf = append(r.buf, line[:colon]...)
		s.ne = len(r.buf)
		s.vs = len(r.buf)
		r.buf = append(r.buf, v...)
		s.ve = len(r.buf)
		r.hs = append(r.hs, s)
	}
}

// readLine reads one line without its CRLF (or bare LF).
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if err == bufio.ErrBufferFull {
			return nil, errBadAnswer
		}
		if err == io.EOF {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, nil
}

func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, b := range v {
		if b < '0' || b > '9' {
			return 0, false
		}
		n = n*10 + int64(b-'0')
	}
	return n, true
}

// upstreamNamed reports whether the upstream's Connection header names name.
func (r *fastRes) upstreamNamed(name []byte) bool {
	for _, s := range r.conn {
		if tokenListHas(r.value(s), name) {
			return true
		}
	}
	return false
}

// fastRelay is relayAndRecord on the loop: the answer's head and body to
// the client, the outcome to the breaker (br set) and u's metrics.
func (g *Gateway) fastRelay(c *fastConn, u *upstream, uc *upConn, start time.Time, br *breaker, tk ticket) bool {
	res := &c.res
	draining := g.draining.Load()
	closeClient := c.req.close || draining || res.untilEOF
	c.writeResponseHead(g.settings.Load().sideHeader, u.side, closeClient)
	// The answer's last bytes are flushed by the loop (flushAndWait), after
	// the outcome is recorded, as net/http's server does after the handler.
	upErr, clientErr := c.relayBody(uc.br, res)
	latency := time.Since(start)
	if c.stopWatching() {
		upErr, clientErr = nil, errClientGone
	}
	if upErr == nil && clientErr == nil && !res.close && uc.br.Buffered() == 0 && len(uc.in.pre) == 0 {
		uc.idleSince = start.Add(latency)
		select {
		case uc.host.idle <- uc:
		default:
			_ = uc.nc.Close()
		}
	} else {
		_ = uc.nc.Close()
	}
	var outcome error
	kind := ""
	switch {
	case upErr != nil:
		outcome, kind = upErr, errorKind(upErr)
	case res.status >= 500:
		outcome, kind = errStatus5xx, "status_5xx"
	case clientErr != nil:
		outcome = errClientGone
	}
	if br != nil {
		br.done(tk, outcome)
	}
	u.record(latency, kind)
	return upErr == nil && clientErr == nil && !closeClient
}

// writeResponseHead writes the answer's status line and headers as relay
// would: hop-by-hop headers dropped, the side header set, Date added when
// the upstream gave none (as net/http's server does).
func (c *fastConn) writeResponseHead(sideHeader string, side Side, closeClient bool) {
	res := &c.res
	w := c.bw
	writeStatusLine(w, res.status)
	wroteLen := false
	for _, s := range res.hs {
		n := res.name(s)
		switch {
		case equalFoldString(n, "Trailer"):
			if !res.chunked {
				continue
			}
		case equalFoldString(n, "Content-Length"):
			if res.chunked || wroteLen {
				continue
			}
			wroteLen = true
		case hopByHop(n), len(res.conn) > 0 && res.upstreamNamed(n),
			sideHeader != "" && equalFoldString(n, sideHeader):
			continue
		}
		w.Write(n)
		w.WriteString(": ")
		w.Write(res.value(s))
		w.WriteString("\r\n")
	}
	if sideHeader != "" {
		w.WriteString(sideHeader)
		w.WriteString(": ")
		w.WriteString(string(side))
		w.WriteString("\r\n")
	}
	if !res.hasDate {
		w.WriteString("Date: ")
		w.Write(httpDate(time.Now()))
		w.WriteString("\r\n")
	}
	if res.chunked {
		w.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if closeClient {
		w.WriteString("Connection: close\r\n")
	}
	w.WriteString("\r\n")
}

// statusLines are the common status lines, precomputed.
var statusLines = func() map[int]string {
	m := map[int]string{}
	for code := 100; code < 600; code++ {
		if t := http.StatusText(code); t != "" {
			m[code] = "HTTP/1.1 " + strconv.Itoa(code) + " " + t + "\r\n"
		}
	}
	return m
}()

func writeStatusLine(w *bufio.Writer, code int) {
	if l, ok := statusLines[code]; ok {
		w.WriteString(l)
		return
	}
	w.WriteString("HTTP/1.1 ")
	w.WriteString(strconv.Itoa(code))
	w.WriteString(" status code ")
	w.WriteString(strconv.Itoa(code))
	w.WriteString("\r\n")
}

// relayBody copies the answer's body as framed. Chunked bodies are relayed
// chunk by chunk as they were encoded (trailers included) and, like bodies
// without a length, flushed whenever the upstream has nothing more
// buffered, so streamed answers reach the client as they come.
func (c *fastConn) relayBody(ubr *bufio.Reader, res *fastRes) (upErr, clientErr error) {
	switch {
	case res.noBody:
		return nil, nil
	case res.chunked:
		for {
			line, err := ubr.ReadSlice('\n')
			if err != nil {
				return upstreamErr(err), nil
			}
			size, ok := chunkSize(line)
			if !ok {
				return errBadAnswer, nil
			}
			if _, err := c.bw.Write(line); err != nil {
				return nil, err
			}
			if size == 0 {
				for { // trailers, up to the blank line
					line, err := ubr.ReadSlice('\n')
					if err != nil {
						return upstreamErr(err), nil
					}
					if _, err := c.bw.Write(line); err != nil {
						return nil, err
					}
					if len(line) <= 2 && (len(line) == 1 || line[0] == '\r') {
						return nil, nil
					}
				}
			}
			if upErr, clientErr := copyN(c.bw, ubr, size); upErr != nil || clientErr != nil {
				return upErr, clientErr
			}
			line, err = ubr.ReadSlice('\n')
			if err != nil {
				return upstreamErr(err), nil
			}
			if len(line) > 2 || len(line) == 2 && line[0] != '\r' {
				return errBadAnswer, nil
			}
			if _, err := c.bw.Write(line); err != nil {
				return nil, err
			}
			if ubr.Buffered() == 0 {
				if err := c.bw.Flush(); err != nil {
					return nil, err
				}
			}
		}
	case res.untilEOF:
		for {
			if ubr.Buffered() == 0 {
				if err := c.bw.Flush(); err != nil {
					return nil, err
				}
				if _, err := ubr.Peek(1); err != nil {
					if err == io.EOF {
						return nil, nil
					}
					return err, nil
				}
			}
			b, _ := ubr.Peek(ubr.Buffered())
			if _, err := c.bw.Write(b); err != nil {
				return nil, err
			}
			_, _ = ubr.Discard(len(b))
		}
	default:
		return copyN(c.bw, ubr, res.length)
	}
}

// copyN copies n bytes from src's buffer to dst without a buffer of its own.
func copyN(dst *bufio.Writer, src *bufio.Reader, n int64) (upErr, clientErr error) {
	for n > 0 {
		if src.Buffered() == 0 {
			if _, err := src.Peek(1); err != nil {
				return upstreamErr(err), nil
			}
		}
		k := src.Buffered()
		if int64(k) > n {
			k = int(n)
		}
		b, _ := src.Peek(k)
		if _, err := dst.Write(b); err != nil {
			return nil, err
		}
		_, _ = src.Discard(k)
		n -= int64(k)
	}
	return nil, nil
}

func upstreamErr(err error) error {
	if err == io.EOF || err == bufio.ErrBufferFull {
		return io.ErrUnexpectedEOF
	}
	return err
}

// chunkSize parses a chunk-size line ("1a;ext\r\n").
func chunkSize(line []byte) (int64, bool) {
	var n int64
	digits := 0
	for _, b := range line {
		var d byte
		switch {
		case '0' <= b && b <= '9':
			d = b - '0'
		case 'a' <= b && b <= 'f':
			d = b - 'a' + 10
		case 'A' <= b && b <= 'F':
			d = b - 'A' + 10
		default:
			if digits == 0 || digits > 15 {
				return 0, false
			}
			if b == ';' || b == '\r' || b == '\n' || b == ' ' || b == '\t' {
				return n, true
			}
			return 0, false
		}
		n = n<<4 | int64(d)
		digits++
	}
	return 0, false
}

// writeError answers 504 for a timeout, 502 otherwise, as writeUpstreamError.
func (c *fastConn) writeError(err error, draining bool) bool {
	code, msg := http.StatusBadGateway, "upstream unavailable\n"
	if errorKind(err) == "timeout" {
		code, msg = http.StatusGatewayTimeout, "upstream timed out\n"
	}
	w := c.bw
	writeStatusLine(w, code)
	w.WriteString("Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nDate: ")
	w.Write(httpDate(time.Now()))
	w.WriteString("\r\nContent-Length: ")
	w.WriteString(strconv.Itoa(len(msg)))
	closeClient := c.req.close || draining
	if closeClient {
		w.WriteString("\r\nConnection: close")
	}
	w.WriteString("\r\n\r\n")
	if string(c.req.method) != http.MethodHead {
		w.WriteString(msg)
	}
	return !closeClient // the loop flushes
}
