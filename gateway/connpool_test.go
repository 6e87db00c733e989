package gateway

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// recordingUpstream answers every request with its path and keeps the last
// request's URI and headers; it counts the connections it accepted.
type recordingUpstream struct {
	*httptest.Server
	conns  atomic.Int64
	uri    chan string
	header chan http.Header
}

func newRecordingUpstream(t *testing.T) *recordingUpstream {
	t.Helper()
	u := &recordingUpstream{uri: make(chan string, 1), header: make(chan http.Header, 1)}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		u.uri <- req.RequestURI
		u.header <- req.Header.Clone()
		_, _ = io.WriteString(w, req.URL.Path)
	}))
	u.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			u.conns.Add(1)
		}
	}
	u.Start()
	t.Cleanup(u.Close)
	return u
}

// TestPoolSendsWhatTransportSends sends the same client requests through
// the pool and through outgoing + http.Transport and compares what the
// upstream received.
func TestPoolSendsWhatTransportSends(t *testing.T) {
	cases := []struct {
		name   string
		base   string // path part of the upstream URL
		target string // client's request target
		header map[string][]string
	}{
		{"plain", "", "/users/7", nil},
		{"query and escapes", "", "/a%2Fb/c%20d?x=1&y=%41", nil},
		{"base path", "/v1", "/users?q=2", nil},
		{"hop-by-hop dropped", "", "/h", map[string][]string{
			"Connection": {"X-Drop-Me, keep-alive"}, "X-Drop-Me": {"1"}, "Keep-Alive": {"timeout=5"},
			"Proxy-Authorization": {"Basic x"}, "X-Keep": {"a", "b"}}},
		{"te trailers kept", "", "/te", map[string][]string{"Te": {"trailers, deflate"}}},
		{"te other dropped", "", "/te2", map[string][]string{"Te": {"deflate"}}},
		{"forwarded replaced and appended", "", "/f", map[string][]string{
			"X-Forwarded-For": {"10.0.0.1", "10.0.0.2"}, "X-Forwarded-Host": {"forged"}, "X-Forwarded-Proto": {"https"}}},
		{"user agent kept", "", "/ua", map[string][]string{"User-Agent": {"probe/1"}}},
	}
	up := newRecordingUpstream(t)
	pool := newConnPool(4)
	tr := newTransport()
	defer tr.CloseIdleConnections()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base, _ := url.Parse(up.URL + c.base)
			req := httptest.NewRequest(http.MethodGet, "http://shop.example.com"+c.target, nil)
			req.RemoteAddr = "192.0.2.9:4242"
			for k, vv := range c.header {
				req.Header[k] = vv
			}
			if !usable(req, base) {
				t.Fatal("a bodiless GET to http should take the pool")
			}

			res, done, err := pool.roundTrip(context.Background(), req, base, time.Now().Add(5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.ReadAll(res.Body)
			done()
			poolURI, poolHeader := <-up.uri, <-up.header

			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			res, err = tr.RoundTrip(outgoing(ctx, req, base, nil))
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.ReadAll(res.Body)
			res.Body.Close()
			trURI, trHeader := <-up.uri, <-up.header

			if poolURI != trURI {
				t.Errorf("request target: pool %q, transport %q", poolURI, trURI)
			}
			// The Transport asks for gzip on its own; the pool passes the
			// client's choice through. Otherwise the headers must match.
			trHeader.Del("Accept-Encoding")
			poolHeader.Del("Accept-Encoding")
			for k := range union(poolHeader, trHeader) {
				if p, q := strings.Join(poolHeader[k], "|"), strings.Join(trHeader[k], "|"); p != q {
					t.Errorf("header %s: pool %q, transport %q", k, p, q)
				}
			}
		})
	}
}

func union(a, b http.Header) map[string]bool {
	m := map[string]bool{}
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	return m
}

// TestPoolReusesConnectionsAndRetriesStaleOnes: finished answers leave
// their connection for the next request; one the upstream closed while idle
// costs the client nothing; an answer not read to its end is never reused.
func TestPoolReusesConnectionsAndRetriesStaleOnes(t *testing.T) {
	up := newRecordingUpstream(t)
	base, _ := url.Parse(up.URL)
	pool := newConnPool(4)
	get := func(path string, readAll bool) string {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, "http://x"+path, nil)
		res, done, err := pool.roundTrip(context.Background(), req, base, time.Now().Add(5*time.Second))
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		<-up.uri
		<-up.header
		var body []byte
		if readAll {
			body, _ = io.ReadAll(res.Body)
		}
		done()
		return string(body)
	}
	for i := 0; i < 5; i++ {
		if got := get("/same", true); got != "/same" {
			t.Fatalf("body %q", got)
		}
	}
	if n := up.conns.Load(); n != 1 {
		t.Fatalf("5 sequential requests used %d connections, want 1", n)
	}
	up.CloseClientConnections() // the upstream drops its idle keep-alive connections
	if got := get("/after-close", true); got != "/after-close" {
		t.Fatalf("body %q after the upstream closed idle connections", got)
	}
	before := up.conns.Load()
	get("/unread", false)
	get("/next", true)
	if n := up.conns.Load() - before; n != 1 {
		t.Fatalf("after an unread answer the next request opened %d new connections, want 1", n)
	}
}

// TestPoolTimeoutAndClientGone: the deadline ends a slow upstream's call as
// a timeout; the client leaving ends it at once.
func TestPoolTimeoutAndClientGone(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer slow.Close()
	defer close(release) // before Close, which waits for the handlers
	base, _ := url.Parse(slow.URL)
	pool := newConnPool(4)

	req := httptest.NewRequest(http.MethodGet, "http://x/slow", nil)
	_, _, err := pool.roundTrip(context.Background(), req, base, time.Now().Add(50*time.Millisecond))
	if err == nil || errorKind(err) != "timeout" {
		t.Fatalf("slow upstream: error %v, want a timeout", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, _, err := pool.roundTrip(ctx, req.WithContext(ctx), base, time.Now().Add(time.Hour))
		errc <- err
	}()
	cancel()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("a call whose client left succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a call whose client left still waits for the upstream")
	}
}

// TestPoolRefusesWhatTransportMustCarry: bodies, writes, https and Expect
// stay on http.Transport.
func TestPoolRefusesWhatTransportMustCarry(t *testing.T) {
	httpBase, _ := url.Parse("http://127.0.0.1:1")
	httpsBase, _ := url.Parse("https://127.0.0.1:1")
	withBody := httptest.NewRequest(http.MethodGet, "/x", strings.NewReader("b"))
	post := httptest.NewRequest(http.MethodPost, "/x", nil)
	expect := httptest.NewRequest(http.MethodGet, "/x", nil)
	expect.Header.Set("Expect", "100-continue")
	get := httptest.NewRequest(http.MethodGet, "/x", nil)
	cases := []struct {
		name string
		req  *http.Request
		base *url.URL
		want bool
	}{
		{"get", get, httpBase, true},
		{"head", httptest.NewRequest(http.MethodHead, "/x", nil), httpBase, true},
		{"get with body", withBody, httpBase, false},
		{"post", post, httpBase, false},
		{"https", get, httpsBase, false},
		{"expect", expect, httpBase, false},
	}
	for _, c := range cases {
		if got := usable(c.req, c.base); got != c.want {
			t.Errorf("%s: usable = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestPoolSkipsEarlyHints: a 103 before the answer is not the answer.
func TestPoolSkipsEarlyHints(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
		}
		_, _ = io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	}()
	base, _ := url.Parse("http://" + ln.Addr().String())
	res, done, err := newConnPool(1).roundTrip(context.Background(), httptest.NewRequest(http.MethodGet, "/", nil), base, time.Now().Add(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Fatalf("got %d %q, want 200 \"ok\"", res.StatusCode, body)
	}
}

// TestPoolDropsOldIdleConnections: an idle connection older than
// maxIdleAge is closed rather than reused.
func TestPoolDropsOldIdleConnections(t *testing.T) {
	cases := []struct {
		name  string
		age   time.Duration
		reuse bool
	}{
		{"fresh", time.Second, true},
		{"old", maxIdleAge + time.Second, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, b := net.Pipe()
			defer b.Close()
			h := &hostConns{idle: make(chan *upConn, 1)}
			now := time.Now()
			h.idle <- &upConn{nc: a, idleSince: now.Add(-c.age)}
			got := h.take(now)
			if (got != nil) != c.reuse {
				t.Fatalf("take = %v, want reuse %v", got, c.reuse)
			}
			if !c.reuse {
				if _, err := b.Write([]byte("x")); err == nil {
					t.Error("the old connection was not closed")
				}
			}
		})
	}
}
