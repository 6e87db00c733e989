package gateway

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// scriptedUpstream answers each request with the raw answer its path names
// and hands the request's raw head to the test.
type scriptedUpstream struct {
	addr    string
	answers map[string]string // path -> raw answer ("" + close: close after)
	heads   chan string
}

func newScriptedUpstream(t *testing.T, answers map[string]string) *scriptedUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	u := &scriptedUpstream{addr: "http://" + ln.Addr().String(), answers: answers, heads: make(chan string, 16)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					var head strings.Builder
					for {
						line, err := br.ReadString('\n')
						if err != nil {
							return
						}
						head.WriteString(line)
						if line == "\r\n" {
							break
						}
					}
					u.heads <- head.String()
					first, _, _ := strings.Cut(head.String(), "\r\n")
					path := strings.Fields(first)[1]
					path, _, _ = strings.Cut(path, "?")
					answer := u.answers[path]
					if _, err := io.WriteString(c, answer); err != nil {
						return
					}
					if strings.Contains(answer, "Connection: close") {
						return
					}
				}
			}()
		}
	}()
	return u
}

// exchange is what one request looked like on both ends.
type exchange struct {
	upstreamMethod, upstreamURI string
	upstreamHeader              http.Header
	status                      int
	header                      http.Header
	body                        string
	trailer                     http.Header
}

// TestLoopAnswersAsNetHTTP sends the same raw requests through a gateway
// on its own loop and one on net/http alone (PlainHTTP) and compares what
// the upstream received and what the client got back: hop-by-hop headers
// both ways, X-Forwarded-*, Te, HEAD, 204/304, chunked answers with
// trailers, 1xx before the answer, answers ended by close, obs-fold,
// a large body, the side header. It also checks the loop served them.
func TestLoopAnswersAsNetHTTP(t *testing.T) {
	const ct = "Content-Type: text/plain\r\nDate: Mon, 07 Dec 2026 02:00:00 GMT\r\n"
	big := strings.Repeat("0123456789abcdef", 8<<10) // 128 KiB
	up := newScriptedUpstream(t, map[string]string{
		"/plain":  "HTTP/1.1 200 OK\r\n" + ct + "Content-Length: 5\r\n\r\nhello",
		"/hop":    "HTTP/1.1 200 OK\r\n" + ct + "Connection: X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\nProxy-Authenticate: x\r\nX-Godwit-Side: forged\r\nContent-Length: 2\r\n\r\nok",
		"/head":   "HTTP/1.1 200 OK\r\n" + ct + "Content-Length: 20\r\n\r\n",
		"/204":    "HTTP/1.1 204 No Content\r\nDate: Mon, 07 Dec 2026 02:00:00 GMT\r\nX-A: b\r\n\r\n",
		"/304":    "HTTP/1.1 304 Not Modified\r\nDate: Mon, 07 Dec 2026 02:00:00 GMT\r\nEtag: \"v1\"\r\n\r\n",
		"/chunks": "HTTP/1.1 200 OK\r\n" + ct + "Trailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Sum: 42\r\n\r\n",
		"/early":  "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\n" + ct + "Content-Length: 3\r\n\r\nyes",
		"/eof":    "HTTP/1.1 200 OK\r\n" + ct + "Connection: close\r\n\r\nuntil the end",
		"/fold":   "HTTP/1.1 200 OK\r\n" + ct + "X-Folded: one\r\n  two\r\nContent-Length: 1\r\n\r\nf",
		"/big":    "HTTP/1.1 200 OK\r\n" + ct + "Content-Length: " + itoa(int64(len(big))) + "\r\n\r\n" + big,
		"/500":    "HTTP/1.1 500 Internal Server Error\r\n" + ct + "Content-Length: 4\r\n\r\noops",
		"/nodate": "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n\r\nd",
	})
	requests := []string{
		"GET /plain?x=1&y=%41 HTTP/1.1\r\nHost: shop.example.com\r\nx-user-id: u1\r\nAccept: */*\r\n\r\n",
		"GET /hop HTTP/1.1\r\nHost: shop.example.com:8080\r\nConnection: keep-alive, X-Drop-Me\r\nX-Drop-Me: 1\r\nKeep-Alive: 5\r\n" +
			"Proxy-Authorization: Basic x\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2, 10.0.0.3\r\n" +
			"X-Forwarded-Host: forged\r\nX-Forwarded-Proto: https\r\nTe: trailers, deflate\r\nX-Multi: a\r\nX-Multi: b\r\n\r\n",
		"HEAD /head HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /204 HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /304 HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"v1\"\r\n\r\n",
		"GET /chunks HTTP/1.1\r\nHost: h\r\nTe: trailers\r\n\r\n",
		"GET /early HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /eof HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /fold HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /big HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /500 HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /nodate HTTP/1.1\r\nHost: h\r\n\r\n",
		"OPTIONS /plain HTTP/1.1\r\nHost: h\r\nUser-Agent: t\r\n\r\n",
	}
	run := func(plain bool) ([]exchange, uint64) {
		cfg := baseConfig(up.addr, up.addr)
		cfg.Routes[0].Weights = Weights{} // legacy only: a 5xx is relayed, not retried
		g, err := New(Options{Config: cfg, PlainHTTP: plain})
		if err != nil {
			t.Fatal(err)
		}
		tg := serveTestGateway(t, g, "")
		defer tg.stop()
		var out []exchange
		for _, raw := range requests {
			ex := exchange{}
			c, err := net.Dial("tcp", strings.TrimPrefix(tg.url, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(c, raw); err != nil {
				t.Fatal(err)
			}
			method := strings.Fields(raw)[0]
			res, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
			if err != nil {
				t.Fatalf("%q: %v", raw, err)
			}
			body, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatalf("%q: body: %v", raw, err)
			}
			c.Close()
			ex.status, ex.body, ex.trailer = res.StatusCode, string(body), res.Trailer
			ex.header = res.Header.Clone()
			if ex.header.Get("Date") == "" {
				t.Errorf("plain=%v %q: no Date in the answer", plain, raw)
			}
			// Framing may differ (net/http may add a length to an answer
			// ended by close); the content may not.
			for _, k := range []string{"Content-Length", "Connection", "Date"} {
				ex.header.Del(k)
			}
			select {
			case head := <-up.heads:
				req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head)))
				if err != nil {
					t.Fatalf("upstream got %q: %v", head, err)
				}
				ex.upstreamMethod, ex.upstreamURI, ex.upstreamHeader = req.Method, req.RequestURI, req.Header
				if req.Host != strings.TrimPrefix(up.addr, "http://") {
					t.Errorf("%q: upstream saw Host %q", raw, req.Host)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%q: upstream got nothing", raw)
			}
			out = append(out, ex)
		}
		return out, g.loopRequests.Load()
	}
	viaLoop, served := run(false)
	viaNetHTTP, _ := run(true)
	if served != uint64(len(requests)) {
		t.Errorf("the loop served %d of %d requests", served, len(requests))
	}
	for i := range requests {
		if !reflect.DeepEqual(viaLoop[i], viaNetHTTP[i]) {
			t.Errorf("%q:\n loop:     %+v\n net/http: %+v", requests[i], viaLoop[i], viaNetHTTP[i])
		}
	}
	if h := viaLoop[1].upstreamHeader; h.Get("X-Forwarded-For") != "10.0.0.1, 10.0.0.2, 10.0.0.3, 127.0.0.1" ||
		h.Get("X-Drop-Me") != "" || h.Get("Te") != "trailers" || h.Get("X-Forwarded-Proto") != "http" {
		t.Errorf("upstream headers through the loop: %v", h)
	}
	if got := viaLoop[5]; got.body != "hello, world" || got.trailer.Get("X-Sum") != "42" {
		t.Errorf("chunked answer through the loop: body %q, trailer %v", got.body, got.trailer)
	}
}

// TestLoopHandsOverTheRestOfTheConnection: on one connection, a read on
// the loop, then (pipelined in one write) a write and a read, then a head
// too large for the loop: net/http takes the connection at the write with
// the bytes already read, and every request is answered in order.
func TestLoopHandsOverTheRestOfTheConnection(t *testing.T) {
	legacy := newTestUpstream(t, "legacy")
	cfg := baseConfig(legacy.URL, legacy.URL)
	g, err := New(Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	tg := serveTestGateway(t, g, "")
	c, err := net.Dial("tcp", strings.TrimPrefix(tg.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	read := func(what string) {
		t.Helper()
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK || string(body) != "legacy" {
			t.Fatalf("%s: %d %q", what, res.StatusCode, body)
		}
	}
	io.WriteString(c, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
	read("first read")
	if n := g.loopRequests.Load(); n != 1 {
		t.Fatalf("the loop served %d requests, want the first read", n)
	}
	io.WriteString(c, "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET /c HTTP/1.1\r\nHost: h\r\n\r\n")
	read("write")
	read("read after the write")
	io.WriteString(c, "GET /d HTTP/1.1\r\nHost: h\r\nX-Big: "+strings.Repeat("x", 10<<10)+"\r\n\r\n")
	read("large head")
	if n := g.loopRequests.Load(); n != 1 {
		t.Fatalf("the loop served %d requests after handing the connection over, want 1", n)
	}
	if legacy.writes.Load() != 1 || legacy.hits.Load() != 4 {
		t.Fatalf("legacy saw %d requests, %d writes; want 4 and 1", legacy.hits.Load(), legacy.writes.Load())
	}
}

// TestLoopStreamsChunks: a chunked answer reaches the client chunk by chunk
// while the upstream is still writing.
func TestLoopStreamsChunks(t *testing.T) {
	next := make(chan struct{})
	var once sync.Once
	up := newTestUpstream(t, "legacy")
	up.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		<-next
		io.WriteString(w, "data: two\n\n")
	})
	defer once.Do(func() { close(next) })
	g, err := New(Options{Config: baseConfig(up.URL, up.URL)})
	if err != nil {
		t.Fatal(err)
	}
	tg := serveTestGateway(t, g, "")
	res, err := http.Get(tg.url + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "data: one\n" {
		t.Fatalf("first event: %q, %v", line, err)
	}
	once.Do(func() { close(next) })
	rest, _ := io.ReadAll(br)
	if !bytes.Equal(rest, []byte("\ndata: two\n\n")) {
		t.Fatalf("rest: %q", rest)
	}
	if g.loopRequests.Load() != 1 {
		t.Fatal("the loop did not serve the stream")
	}
}

// TestLoopClientLeavingAbortsTheCallWithoutBlamingNew: a client that hangs
// up while new is slow to answer ends the upstream call at once (as the
// request context does on the net/http path), and the breaker, which opens
// at the first failure here, does not count it.
func TestLoopClientLeavingAbortsTheCallWithoutBlamingNew(t *testing.T) {
	legacy := newTestUpstream(t, "legacy")
	newSide := newTestUpstream(t, "new")
	entered, aborted := make(chan struct{}, 1), make(chan struct{}, 1)
	newSide.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		entered <- struct{}{}
		select {
		case <-req.Context().Done():
			aborted <- struct{}{}
		case <-time.After(20 * time.Second):
		}
	})
	cfg := baseConfig(legacy.URL, newSide.URL)
	cfg.Routes[0].Weights = Weights{Read: 100, Write: 100}
	cfg.Routes[0].Breaker.ConsecutiveFailures = 1
	cfg.Routes[0].Timeout = time.Minute
	g, err := New(Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	tg := serveTestGateway(t, g, "")
	c, err := net.Dial("tcp", strings.TrimPrefix(tg.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: h\r\nX-User-ID: 1\r\n\r\n")
	<-entered
	c.Close()
	select {
	case <-aborted:
	case <-time.After(15 * time.Second):
		t.Fatal("the upstream call went on after the client left")
	}
	<-g.Serving() // g.fast is set before
	eventually(t, "the loop to finish the request", func() bool {
		g.fast.mu.Lock()
		defer g.fast.mu.Unlock()
		return len(g.fast.live) == 0
	})
	r := g.routes()[0]
	if st := r.breaker.Load().State(); st.String() != "closed" || r.new.stats.totalErrors.Load() != 0 || legacy.hits.Load() != 0 {
		t.Fatalf("after the client left: breaker %s, errors on new %d, legacy hits %d; want closed, 0, 0",
			st, r.new.stats.totalErrors.Load(), legacy.hits.Load())
	}
	if g.loopRequests.Load() != 1 {
		t.Fatal("the loop did not serve the request")
	}
}

// TestLoopPipelinedAndSplitHeads: two reads sent in one write are both
// answered in order on the loop, and a head that arrives in pieces is
// waited for.
func TestLoopPipelinedAndSplitHeads(t *testing.T) {
	up := newTestUpstream(t, "legacy")
	up.body = func(path string) string { return path }
	g, err := New(Options{Config: baseConfig(up.URL, up.URL)})
	if err != nil {
		t.Fatal(err)
	}
	tg := serveTestGateway(t, g, "")
	c, err := net.Dial("tcp", strings.TrimPrefix(tg.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	expect := func(path string) {
		t.Helper()
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		body, _ := io.ReadAll(res.Body)
		if string(body) != path {
			t.Fatalf("answer %q, want %q", body, path)
		}
	}
	io.WriteString(c, "GET /one HTTP/1.1\r\nHost: h\r\n\r\nGET /two HTTP/1.1\r\nHost: h\r\n\r\n")
	expect("/one")
	expect("/two")
	io.WriteString(c, "GET /thr")
	time.Sleep(50 * time.Millisecond) // let the loop read the first piece alone
	io.WriteString(c, "ee HTTP/1.1\r\nHo")
	time.Sleep(50 * time.Millisecond)
	io.WriteString(c, "st: h\r\n\r\n")
	expect("/three")
	if n := g.loopRequests.Load(); n != 3 {
		t.Fatalf("the loop served %d of 3 requests", n)
	}
}
