package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// fastServer serves the traffic listener. Each connection starts on the
// gateway's own HTTP/1.1 loop, which proxies plain keep-alive reads (GET,
// HEAD, OPTIONS over HTTP/1.1 without a body, to plain-http upstreams, on a
// route without shadowing) with no per-request allocation: the request head
// is parsed in place in the connection's read buffer, written to the
// upstream from there, and the answer's head is parsed into a reused buffer
// and relayed. net/http's per-request cost (a header map per request and one
// more per answer, a context and a background read goroutine per request)
// was most of the gateway's CPU.
//
// The first request on a connection that is anything else — a write, a
// body, an upgrade, Expect, HTTP/1.0, a percent-encoded path, a head
// larger than the read buffer or anything unusual in it, no matching route
// — is not consumed: the connection, its buffered bytes first, is handed to
// net/http's server (fallback) for good, which serves it with ServeHTTP as
// before. So every feature and every check of the net/http path stays, and
// the loop only has to be right for the simple case.
type fastServer struct {
	g        *Gateway
	fallback *http.Server
	handoff  *chanListener
	conns    *atomic.Int64 // open connections, both kinds (Serve's drain waits on it)

	mu      sync.Mutex
	live    map[*fastConn]struct{}
	closing atomic.Bool
	wg      sync.WaitGroup
}

// Fast-path connection states.
const (
	connIdle   int32 = iota // waiting for a request
	connActive              // serving one
	connClosed              // closed by shutdown
)

const (
	fastReadBuf    = 8 << 10 // the largest request head the loop serves
	fastWriteBuf   = 8 << 10
	fastMaxHeaders = 64
	fastIdle       = 120 * time.Second // as the fallback server's IdleTimeout
	fastHeadWait   = 10 * time.Second  // as its ReadHeaderTimeout
)

func newFastServer(g *Gateway, fallback *http.Server, ln net.Listener, conns *atomic.Int64) *fastServer {
	return &fastServer{
		g:        g,
		fallback: fallback,
		handoff:  &chanListener{addr: ln.Addr(), conns: make(chan net.Conn), done: make(chan struct{})},
		conns:    conns,
		live:     map[*fastConn]struct{}{},
	}
}

// serve accepts on ln until it is closed; the fallback server must be
// serving s.handoff meanwhile.
func (s *fastServer) serve(ln net.Listener) error {
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return http.ErrServerClosed
			}
			var te interface{ Temporary() bool }
			if !errors.Is(err, net.ErrClosed) && errors.As(err, &te) && te.Temporary() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		s.conns.Add(1)
		if _, isTLS := nc.(*tls.Conn); isTLS || s.closing.Load() {
			s.handOff(nc, nil)
			continue
		}
		c := &fastConn{s: s, nc: nc}
		s.mu.Lock()
		s.live[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go c.serve()
	}
}

// handOff gives nc to the fallback server; br holds bytes already read.
func (s *fastServer) handOff(nc net.Conn, br *bufio.Reader) {
	s.conns.Add(-1) // the fallback's ConnState counts it from here
	var conn net.Conn = nc
	if br != nil {
		conn = &bufferedConn{Conn: nc, br: br}
	}
	select {
	case s.handoff.conns <- conn:
	case <-s.handoff.done:
		s.conns.Add(1)
		_ = nc.Close()
		s.conns.Add(-1)
	}
}

// shutdown stops the loop's connections as http.Server.Shutdown does: the
// idle ones are closed at once, the busy ones when their request is done,
// waiting until ctx ends. The listener is closed by the caller.
func (s *fastServer) shutdown(ctx context.Context) error {
	s.closing.Store(true)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		for c := range s.live {
			if c.state.CompareAndSwap(connIdle, connClosed) {
				_ = c.nc.Close()
			}
		}
		n := len(s.live)
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// chanListener is the fallback server's listener: the connections the loop
// hands over.
type chanListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }

// bufferedConn is a handed-over connection whose first bytes were already
// read into br.
type bufferedConn struct {
	net.Conn
	br *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.br.Read(p) }

// fastConn is one client connection on the loop.
type fastConn struct {
	s     *fastServer
	nc    net.Conn
	br    *bufio.Reader
	bw    *bufio.Writer
	state atomic.Int32
	ip    string // the client's address without the port (RemoteAddr whole if it has none)
	ipOK  bool   // ip is an address without port: X-Forwarded-For gets it
	ipKey []byte // ip, as a sticky key
	req   fastReq
	res   fastRes
	out   appendBuf     // the upstream request being written
	raw   *rawWaiter    // nil: no raw access to the socket
	in    prefilled     // what br reads from
	cw    captureWriter // what bw writes to
	// watch is set while a goroutine watches the client during a slow
	// upstream call; gone once it saw the client leave.
	idleAt time.Time // when the idle deadline was last set; zero: not set
	watch  chan struct{}
	left   atomic.Bool
	gone   bool
}

// slowAnswer is how long the loop waits for an upstream's first byte before
// it watches the client too: net/http notices a client leaving at once
// (its background read), the loop only for calls this slow.
const slowAnswer = 50 * time.Millisecond

// watchClient watches the client's socket without reading from it (a
// MSG_PEEK, so a pipelined request stays where it is) while uc's call runs:
// a client that closes or resets its connection aborts the call, as
// net/http's request context does. stopWatching ends the watch.
func (c *fastConn) watchClient(uc *upConn) {
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	c.left.Store(false)
	done := make(chan struct{})
	c.watch = done
	go func() {
		defer close(done)
		var b [1]byte
		_ = rc.Read(func(fd uintptr) bool {
			n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			if err == syscall.EAGAIN || err == syscall.EINTR {
				return false
			}
			if n == 0 || err != nil {
				c.left.Store(true)
				uc.abort()
			}
			return true
		})
	}()
}

// stopWatching ends a watch and reports whether the client left (also
// kept in c.gone for the rest of the request).
func (c *fastConn) stopWatching() bool {
	if c.watch == nil {
		return c.gone
	}
	_ = c.nc.SetReadDeadline(aLongTimeAgo) // wakes the watcher; the loop sets it again
	c.idleAt = time.Time{}
	<-c.watch
	c.watch = nil
	if c.left.Load() {
		c.gone = true
	}
	return c.gone
}

var (
	fastReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, fastReadBuf) }}
	fastWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, fastWriteBuf) }}
)

func (c *fastConn) serve() {
	s := c.s
	c.in.nc, c.cw.nc = c.nc, c.nc
	c.raw = newRawWaiter(c.nc, &c.in, c.toIdle)
	c.br = fastReaders.Get().(*bufio.Reader)
	c.br.Reset(&c.in)
	c.bw = fastWriters.Get().(*bufio.Writer)
	c.bw.Reset(&c.cw)
	c.ip = c.nc.RemoteAddr().String()
	if ip, _, err := net.SplitHostPort(c.ip); err == nil {
		c.ip, c.ipOK = ip, true
	}
	c.ipKey = []byte(c.ip)
	handedOff := false
	defer func() {
		s.mu.Lock()
		delete(s.live, c)
		s.mu.Unlock()
		if !handedOff {
			_ = c.nc.Close()
			s.conns.Add(-1)
			c.br.Reset(nil)
			fastReaders.Put(c.br)
		}
		c.bw.Reset(nil)
		fastWriters.Put(c.bw)
		s.wg.Done()
	}()
	waited := false
	for {
		head, ok := c.readHead(waited)
		if !ok {
			return
		}
		if head == nil || !c.req.parse(head) {
			handedOff = c.handOff()
			return
		}
		c.gone = false
		keep, served := c.s.g.serveFast(c)
		if !served {
			handedOff = c.handOff()
			return
		}
		_, _ = c.br.Discard(len(head))
		if !keep || s.closing.Load() {
			_ = c.bw.Flush()
			return
		}
		if waited, ok = c.flushAndWait(); !ok {
			return
		}
	}
}

// flushAndWait sends the rest of the answer and waits for the next request
// (see writeThenWait: no read wasted on a request that cannot be there
// yet). The connection is idle from the moment the answer is written.
// waited: the next request's first bytes were read.
func (c *fastConn) flushAndWait() (waited, ok bool) {
	idle := c.toIdle
	if c.raw == nil || c.br.Buffered() > 0 {
		return false, c.bw.Flush() == nil && idle()
	}
	c.cw.capture = true
	err := c.bw.Flush()
	c.cw.capture = false
	data := c.cw.pending
	c.cw.pending = nil
	if err != nil {
		return false, false
	}
	if len(data) == 0 {
		return false, idle()
	}
	c.idleDeadline()
	rest, err := c.raw.writeThenWait(data)
	if err != nil {
		return false, false
	}
	if rest != nil {
		if _, err := c.nc.Write(rest); err != nil {
			return false, false
		}
		return false, idle()
	}
	return true, true
}

// idleDeadline gives the client fastIdle to send its next request. The
// deadline is moved at most once a second: a connection may be closed up
// to a second early rather than pay a timer change per request.
func (c *fastConn) idleDeadline() {
	now := time.Now()
	if now.Sub(c.idleAt) < time.Second {
		return
	}
	_ = c.nc.SetReadDeadline(now.Add(fastIdle))
	c.idleAt = now
}

// toIdle marks the connection idle once an answer is written; false: it
// is to be closed (shutting down).
func (c *fastConn) toIdle() bool {
	return c.state.CompareAndSwap(connActive, connIdle) && !c.s.closing.Load()
}

// captureWriter is what a client connection's bufio.Writer writes to: the
// connection, or, for the last flush of an answer, a slice kept for
// flushAndWait to write.
type captureWriter struct {
	nc      net.Conn
	capture bool
	pending []byte
}

func (w *captureWriter) Write(p []byte) (int, error) {
	if w.capture && w.pending == nil {
		w.pending = p
		return len(p), nil
	}
	if w.pending != nil {
		// Not expected (a flush is one write), but never out of order.
		if _, err := w.nc.Write(w.pending); err != nil {
			return 0, err
		}
		w.pending = nil
	}
	return w.nc.Write(p)
}

// handOff gives the connection, the current request unread, to net/http.
func (c *fastConn) handOff() bool {
	if !c.state.CompareAndSwap(connActive, connClosed) {
		return false
	}
	_ = c.nc.SetReadDeadline(time.Time{})
	c.s.handOff(c.nc, c.br)
	return true
}

// readHead waits for the next request and returns its head (request line to
// the blank line) from the read buffer, unconsumed. A nil head with ok
// means the loop should not serve it (too large, bare LF line ends); !ok
// means the connection is done (closed, timed out, shut down).
func (c *fastConn) readHead(waited bool) (head []byte, ok bool) {
	if !waited {
		c.idleDeadline()
	}
	if _, err := c.br.Peek(1); err != nil {
		return nil, false
	}
	if !c.state.CompareAndSwap(connIdle, connActive) {
		return nil, false // shutdown closed it
	}
	scanned := 0
	slow := false
	for {
		buf, _ := c.br.Peek(c.br.Buffered())
		for i := scanned; i < len(buf); i++ {
			if buf[i] != '\n' {
				continue
			}
			if i == 0 || buf[i-1] != '\r' {
				return nil, true // bare LF: net/http's reading of it
			}
			if i >= 3 && buf[i-2] == '\n' && buf[i-3] == '\r' {
				return buf[:i+1], true
			}
		}
		scanned = len(buf)
		if len(buf) >= c.br.Size() {
			return nil, true
		}
		if !slow {
			slow = true
			_ = c.nc.SetReadDeadline(time.Now().Add(fastHeadWait))
			c.idleAt = time.Time{}
		}
		if _, err := c.br.Peek(len(buf) + 1); err != nil {
			return nil, false
		}
	}
}

// fastReq is a request head parsed in place: every slice points into the
// connection's read buffer and is valid until the head is discarded.
type fastReq struct {
	method, path, query, host []byte
	names, values             [fastMaxHeaders][]byte
	n                         int
	conn                      [4][]byte // Connection header values
	nconn                     int
	close                     bool // the client asked to close after this one
	hasXFF                    bool
}

// parse reads head into r; false means the loop does not serve it.
func (r *fastReq) parse(head []byte) bool {
	*r = fastReq{}
	line, rest, _ := bytes.Cut(head, crlf)
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return false
	}
	r.method = line[:sp]
	switch string(r.method) {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		return false
	}
	line = line[sp+1:]
	sp = bytes.IndexByte(line, ' ')
	if sp < 0 || string(line[sp+1:]) != "HTTP/1.1" {
		return false
	}
	target := line[:sp]
	if len(target) == 0 || target[0] != '/' {
		return false
	}
	r.path = target
	if q := bytes.IndexByte(target, '?'); q >= 0 {
		r.path, r.query = target[:q], target[q+1:]
	}
	for _, b := range r.path {
		if !pathByte[b] {
			return false
		}
	}
	for _, b := range r.query {
		if b <= ' ' || b >= 0x7f || b == '#' {
			return false
		}
	}
	hosts := 0
	for len(rest) > 2 {
		line, rest, _ = bytes.Cut(rest, crlf)
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || r.n == fastMaxHeaders {
			return false
		}
		name := line[:colon]
		for _, b := range name {
			if !tokenByte[b] {
				return false
			}
		}
		value := trimOWS(line[colon+1:])
		for _, b := range value {
			if b < ' ' && b != '\t' || b == 0x7f {
				return false
			}
		}
		switch {
		case bytes.EqualFold(name, hHost):
			hosts++
			r.host = value
		case bytes.EqualFold(name, hContentLength), bytes.EqualFold(name, hTransferEncoding),
			bytes.EqualFold(name, hUpgrade), bytes.EqualFold(name, hExpect):
			return false
		case bytes.EqualFold(name, hConnection):
			if r.nconn == len(r.conn) {
				return false
			}
			r.conn[r.nconn] = value
			r.nconn++
			for v := value; len(v) > 0; {
				var tok []byte
				tok, v, _ = bytes.Cut(v, comma)
				if bytes.EqualFold(trimOWS(tok), []byte("close")) {
					r.close = true
				}
			}
		case bytes.EqualFold(name, hXFF):
			r.hasXFF = true
		}
		r.names[r.n], r.values[r.n] = name, value
		r.n++
	}
	return hosts == 1 && len(r.host) > 0
}

// header returns the first value of the header name (any case), as
// http.Header.Get does.
func (r *fastReq) header(name string) ([]byte, bool) {
	for i := 0; i < r.n; i++ {
		if equalFoldString(r.names[i], name) {
			return r.values[i], true
		}
	}
	return nil, false
}

// connNamed reports whether a Connection header names the header name.
func (r *fastReq) connNamed(name []byte) bool {
	for _, v := range r.conn[:r.nconn] {
		if tokenListHas(v, name) {
			return true
		}
	}
	return false
}

var (
	crlf              = []byte("\r\n")
	comma             = []byte(",")
	hHost             = []byte("Host")
	hContentLength    = []byte("Content-Length")
	hTransferEncoding = []byte("Transfer-Encoding")
	hUpgrade          = []byte("Upgrade")
	hExpect           = []byte("Expect")
	hConnection       = []byte("Connection")
	hXFF              = []byte("X-Forwarded-For")
	hTe               = []byte("Te")
	hDate             = []byte("Date")
	hTrailer          = []byte("Trailer")
)

// pathByte: the bytes a path may hold and mean itself (no percent
// encoding, nothing url.URL would escape), so routing and the upstream see
// exactly what net/http's parse would give.
var pathByte = func() (t [256]bool) {
	for _, b := range []byte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/") {
		t[b] = true
	}
	return t
}()

// tokenByte: RFC 9110 tchar, what a header name is made of.
var tokenByte = func() (t [256]bool) {
	for _, b := range []byte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~") {
		t[b] = true
	}
	return t
}()

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func equalFoldString(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// tokenListHas reports whether the comma-separated list v holds tok (any case).
func tokenListHas(v, tok []byte) bool {
	for len(v) > 0 {
		var t []byte
		t, v, _ = bytes.Cut(v, comma)
		if bytes.EqualFold(trimOWS(t), tok) {
			return true
		}
	}
	return false
}

// hopByHop reports a connection-level header a proxy must not forward
// (RFC 9110 §7.6.1), as hopHeaders.
func hopByHop(name []byte) bool {
	for _, h := range hopHeaders {
		if equalFoldString(name, h) {
			return true
		}
	}
	return false
}

// dateCache is the Date header value of the current second.
type dateValue struct {
	unix int64
	b    []byte
}

var dateCache atomic.Pointer[dateValue]

func httpDate(now time.Time) []byte {
	sec := now.Unix()
	if d := dateCache.Load(); d != nil && d.unix == sec {
		return d.b
	}
	d := &dateValue{unix: sec, b: now.UTC().AppendFormat(nil, http.TimeFormat)}
	dateCache.Store(d)
	return d.b
}

// errBadAnswer is an upstream answer the loop cannot frame (net/http's
// ReadResponse would refuse it too).
var errBadAnswer = errors.New("malformed answer from upstream")

var _ io.Reader = (*bufferedConn)(nil)
