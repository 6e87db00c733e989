package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// connPool is the gateway's own HTTP/1.1 client for the hot path: reads
// without a body to a plain-http upstream. http.Transport hands every
// request to a per-connection write goroutine and the answer back from a
// read goroutine over channels; under load those hand-offs cost more than
// everything else the gateway does. Here the handler's goroutine writes the
// request and reads the answer on a pooled keep-alive connection itself.
//
// Everything else (bodies, writes, https, an injected Transport) still goes
// through http.Transport, which handles 100-continue, streaming uploads and
// replaying non-idempotent requests on stale connections carefully.
type connPool struct {
	dialer  net.Dialer
	maxIdle int
	hosts   sync.Map // host:port -> *hostConns
}

// hostConns are one upstream's idle connections. A buffered channel keeps
// taking and returning one free of a mutex of ours.
type hostConns struct {
	idle chan *upConn
}

// upConn is one keep-alive connection to an upstream.
type upConn struct {
	nc   net.Conn
	raw  *rawWaiter // nil: no raw access to the socket
	in   prefilled  // what br reads from
	br   *bufio.Reader
	bw   *bufio.Writer
	host *hostConns
	// abort makes pending I/O fail at once (the client left); made once
	// per connection rather than per exchange.
	abort func()
	// idleSince is when the connection went back to the pool.
	idleSince time.Time
}

// maxIdleAge is how long an idle connection is trusted: upstreams close
// idle keep-alive connections on their own timeouts (nginx after 60-75 s),
// and one closed under us costs a failed write and a retry.
const maxIdleAge = 30 * time.Second

// aLongTimeAgo is a deadline that makes pending I/O fail at once.
var aLongTimeAgo = time.Unix(1, 0)

func newConnPool(maxIdlePerHost int) *connPool {
	return &connPool{
		dialer:  net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second},
		maxIdle: maxIdlePerHost,
	}
}

func (p *connPool) hostFor(addr string) *hostConns {
	if h, ok := p.hosts.Load(addr); ok {
		return h.(*hostConns)
	}
	h, _ := p.hosts.LoadOrStore(addr, &hostConns{idle: make(chan *upConn, p.maxIdle)})
	return h.(*hostConns)
}

// usable reports whether the pool can carry req to base: a bodiless read
// over plain http.
func usable(req *http.Request, base *url.URL) bool {
	return base.Scheme == "http" && isRead(req.Method) && req.ContentLength == 0 &&
		(req.Body == nil || req.Body == http.NoBody) && req.Header["Expect"] == nil
}

// roundTrip sends req (the client's request) to base and reads the answer's
// head. The whole exchange, body included, must end by deadline; ctx ending
// (the client left) aborts it too. done must be called once the response
// body is finished with: it returns the connection to the pool when the
// exchange ended cleanly.
//
// A reused connection the upstream had closed while idle fails at once;
// the request (a read, so safe to repeat) is then tried once more on a
// fresh connection, as http.Transport does.
func (p *connPool) roundTrip(ctx context.Context, req *http.Request, base *url.URL, deadline time.Time) (*http.Response, func(), error) {
	h := p.hostFor(base.Host)
	for attempt := 0; ; attempt++ {
		var c *upConn
		reused := false
		if attempt == 0 {
			c = h.take(time.Now())
			reused = c != nil
		}
		if c == nil {
			var err error
			if c, err = p.dial(ctx, h, base.Host, deadline); err != nil {
				return nil, nil, err
			}
		}
		res, body, err := c.exchange(ctx, req, base, deadline)
		if err != nil {
			if reused && ctx.Err() == nil && !isTimeout(err) {
				continue
			}
			return nil, nil, err
		}
		return res, body.finish, nil
	}
}

// take returns an idle connection younger than maxIdleAge, closing older
// ones, or nil.
func (h *hostConns) take(now time.Time) *upConn {
	for {
		select {
		case c := <-h.idle:
			if now.Sub(c.idleSince) < maxIdleAge {
				return c
			}
			c.nc.Close()
		default:
			return nil
		}
	}
}

func (p *connPool) dial(ctx context.Context, h *hostConns, addr string, deadline time.Time) (*upConn, error) {
	d := p.dialer
	d.Deadline = deadline
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	c := &upConn{nc: nc, bw: bufio.NewWriterSize(nc, 8<<10), host: h}
	c.in = prefilled{nc: nc}
	c.br = bufio.NewReaderSize(&c.in, 16<<10)
	c.raw = newRawWaiter(nc, &c.in, nil)
	c.abort = func() { _ = nc.SetDeadline(aLongTimeAgo) }
	return c, nil
}

// exchange writes req on c and reads the answer's head. On error c is closed.
func (c *upConn) exchange(ctx context.Context, req *http.Request, base *url.URL, deadline time.Time) (*http.Response, *pooledBody, error) {
	c.in.deadline = time.Time{}
	if err := c.nc.SetDeadline(deadline); err != nil {
		c.nc.Close()
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, c.abort)
	fail := func(err error) (*http.Response, *pooledBody, error) {
		stop()
		c.nc.Close()
		return nil, nil, err
	}
	writeRequest(c.bw, req, base)
	if err := c.bw.Flush(); err != nil {
		return fail(err)
	}
	var res *http.Response
	for {
		var err error
		if res, err = http.ReadResponse(c.br, req); err != nil {
			return fail(err)
		}
		// 1xx answers (103 Early Hints) precede the real one; 101 cannot
		// happen, upgrades are refused before this.
		if res.StatusCode >= 200 || res.StatusCode == http.StatusSwitchingProtocols {
			break
		}
	}
	b := &pooledBody{c: c, body: res.Body, stop: stop,
		reusable: !res.Close && (res.ContentLength >= 0 || chunked(res))}
	res.Body = b
	return res, b, nil
}

func chunked(res *http.Response) bool {
	return len(res.TransferEncoding) > 0 && res.TransferEncoding[0] == "chunked"
}

// pooledBody is an answer's body on a pooled connection; once read to its
// end and finished, the connection goes back to the pool.
type pooledBody struct {
	c        *upConn
	body     io.ReadCloser
	stop     func() bool
	reusable bool
	eof      bool
	done     bool
}

func (b *pooledBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

// Close finishes the body; the error is always nil.
func (b *pooledBody) Close() error {
	b.finish()
	return nil
}

// finish ends the exchange once: a connection whose answer was read to the
// end (and whose client did not leave meanwhile) is kept, any other closed,
// never drained: an unread rest may be an endless stream.
func (b *pooledBody) finish() {
	if b.done {
		return
	}
	b.done = true
	stopped := b.stop()
	if !b.eof {
		b.c.nc.Close()
		_ = b.body.Close()
		return
	}
	_ = b.body.Close()
	if !stopped || !b.reusable || b.c.br.Buffered() > 0 || len(b.c.in.pre) > 0 {
		b.c.nc.Close()
		return
	}
	b.c.idleSince = time.Now()
	select {
	case b.c.host.idle <- b.c:
	default:
		b.c.nc.Close()
	}
}

// writeRequest writes the upstream request for req straight from the
// client's header map, without copying it: the client's method, path and
// query on base, hop-by-hop headers dropped, X-Forwarded-* set (For appended
// to, Host and Proto replaced: clients cannot forge them). It is what
// outgoing builds, for the pool. Header names and values were validated
// when the server parsed them.
func writeRequest(w *bufio.Writer, req *http.Request, base *url.URL) {
	w.WriteString(req.Method)
	w.WriteByte(' ')
	if base.Path == "" {
		w.WriteString(req.URL.EscapedPath())
	} else {
		t := url.URL{Path: base.Path + req.URL.Path}
		if req.URL.RawPath != "" {
			t.RawPath = base.Path + req.URL.RawPath
		}
		w.WriteString(t.EscapedPath())
	}
	if req.URL.RawQuery != "" {
		w.WriteByte('?')
		w.WriteString(req.URL.RawQuery)
	}
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(base.Host)
	w.WriteString("\r\n")
	conn := req.Header["Connection"]
	for k, vv := range req.Header {
		if skipOutgoing(k, conn) {
			continue
		}
		if k == "Te" {
			if strings.Contains(strings.Join(vv, ","), "trailers") {
				w.WriteString("Te: trailers\r\n")
			}
			continue
		}
		for _, v := range vv {
			w.WriteString(k)
			w.WriteString(": ")
			w.WriteString(v)
			w.WriteString("\r\n")
		}
	}
	if ip, _, err := net.SplitHostPort(req.RemoteAddr); err == nil {
		w.WriteString("X-Forwarded-For: ")
		for _, prior := range req.Header["X-Forwarded-For"] {
			w.WriteString(prior)
			w.WriteString(", ")
		}
		w.WriteString(ip)
		w.WriteString("\r\n")
	}
	w.WriteString("X-Forwarded-Host: ")
	w.WriteString(req.Host)
	proto := "http"
	if req.TLS != nil {
		proto = "https"
	}
	w.WriteString("\r\nX-Forwarded-Proto: ")
	w.WriteString(proto)
	w.WriteString("\r\n\r\n")
}

// skipOutgoing says whether the client's header k stays out of the upstream
// request: hop-by-hop headers (and those Connection names), the ones
// writeRequest sets itself, and body framing (the pool carries no body).
func skipOutgoing(k string, conn []string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Trailer", "Transfer-Encoding", "Upgrade", "Host", "Content-Length",
		"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto":
		return true
	}
	for _, v := range conn {
		for v != "" {
			var name string
			name, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(name), k) {
				return true
			}
		}
	}
	return false
}

// isTimeout reports a deadline (ours, not the client leaving) ending the call.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// prefilled is a connection's reading side that first hands out the bytes
// a raw read already took (writeThenWait).
type prefilled struct {
	nc  net.Conn
	pre []byte
	buf []byte // where writeThenWait reads to
	// deadline, when set, is put on the connection before it is read
	// again: most answers arrive whole in the first read, which then
	// costs no second deadline change.
	deadline time.Time
}

func (p *prefilled) Read(b []byte) (int, error) {
	if len(p.pre) > 0 {
		n := copy(b, p.pre)
		p.pre = p.pre[n:]
		return n, nil
	}
	if !p.deadline.IsZero() {
		if err := p.nc.SetReadDeadline(p.deadline); err != nil {
			return 0, err
		}
		p.deadline = time.Time{}
	}
	return p.nc.Read(b)
}

// rawWaiter writes then waits on one connection (writeThenWait). Its
// callback is made once per connection: a closure per call would allocate.
type rawWaiter struct {
	rc         syscall.RawConn
	in         *prefilled
	afterWrite func() bool
	fn         func(fd uintptr) bool

	data        []byte
	written, n  int
	wrote, stop bool
	werr, rerr  error
}

func newRawWaiter(nc net.Conn, in *prefilled, afterWrite func() bool) *rawWaiter {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	w := &rawWaiter{rc: rc, in: in, afterWrite: afterWrite}
	w.fn = w.callback
	in.buf = make([]byte, 4<<10)
	return w
}

// rawRead and rawWrite are read(2) and write(2) on a non-blocking socket
// without telling the scheduler (syscall.Read would): they return at once,
// and a P handed off while in them (the scheduler's sysmon does that to
// system calls older than 20 µs, which on a loaded machine many are) costs
// a thread wake-up and a context switch each time.
func rawRead(fd uintptr, p []byte) (int, syscall.Errno) {
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	return int(n), e
}

func rawWrite(fd uintptr, p []byte) (int, syscall.Errno) {
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	return int(n), e
}

func (w *rawWaiter) callback(fd uintptr) bool {
	if !w.wrote {
		w.wrote = true
		for w.written < len(w.data) {
			k, e := rawWrite(fd, w.data[w.written:])
			if e == syscall.EINTR {
				continue
			}
			if e != 0 {
				w.werr = e
				return true
			}
			w.written += k
		}
		if w.afterWrite != nil && !w.afterWrite() {
			w.stop = true
			return true
		}
	}
	for {
		k, e := rawRead(fd, w.in.buf)
		switch e {
		case 0:
			w.n = k
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		default:
			w.rerr = e
		}
		return true
	}
}

// writeThenWait writes data to the connection and waits for the peer's
// next bytes, read into in.pre. Go's own Read tries the socket before it
// waits, so a write followed by a read costs one read answered EAGAIN per
// exchange (the answer is never there yet); here the write happens inside
// the raw read's callback, after the poller was armed, so the wait that
// follows cannot miss the answer and no read is wasted. afterWrite, if
// set, runs once the data is written; false ends the call with errStopped.
//
// A socket that does not take the whole write at once, or a read deadline
// already past when the call starts, leaves the rest to the caller: rest
// is the part not written and nothing was waited for.
// The read deadline applies to the wait.
func (w *rawWaiter) writeThenWait(data []byte) (rest []byte, err error) {
	w.data, w.written, w.n, w.wrote, w.stop, w.werr, w.rerr = data, 0, 0, false, false, nil, nil
	err = w.rc.Read(w.fn)
	w.data = nil
	switch {
	case !w.wrote && err != nil && isTimeout(err):
		// The read deadline had passed before the wait began (a goroutine
		// descheduled for longer than the loop's 50 ms probe, on a busy
		// host): RawConn.Read checks it before the first callback, so
		// nothing was written. The caller writes it all; before, it waited
		// for the answer to a request never sent until the route's
		// timeout (a read 5 s late on legacy, a write's 504).
		return data, nil
	case w.werr == syscall.EAGAIN:
		return data[w.written:], nil
	case w.werr != nil:
		return nil, os.NewSyscallError("write", w.werr)
	case w.stop:
		return nil, errStopped
	case err != nil:
		return nil, err
	case w.rerr != nil:
		return nil, os.NewSyscallError("read", w.rerr)
	case w.n == 0:
		return nil, io.EOF
	}
	w.in.pre = w.in.buf[:w.n]
	return nil, nil
}

// errStopped: writeThenWait's afterWrite said not to wait.
var errStopped = errors.New("stopped after the write")
