package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/godwit/godwit/gateway/api"
	"github.com/godwit/godwit/gateway/client"
)

// buildGateway builds this command into the test's directory.
func buildGateway(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "godwit-gateway")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freeAddr is a 127.0.0.1 address nobody listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// upstream answers its name after reading the body; /slow takes a second
// and reports on slowSeen when it starts.
func upstream(t *testing.T, name string, status int, slowSeen chan<- struct{}) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		if strings.HasSuffix(req.URL.Path, "/slow") {
			slowSeen <- struct{}{}
			time.Sleep(time.Second)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(s.Close)
	return s
}

const gatewayConfig = `listen: %s
admin: {listen: %s, tokenEnv: GW_TEST_TOKEN}
stateFile: %s
sideHeader: %s
shutdownTimeout: 20s
routes:
  - name: users
    match: {pathPrefix: /users}
    legacy: %s
    new: %s
    stickyKey: {header: X-User-ID}
  - name: orders
    match: {pathPrefix: /orders}
    legacy: %s
    new: %s
  - name: billing
    match: {pathPrefix: /billing}
    legacy: %s
    new: %s
    breaker: {consecutiveFailures: 2, openFor: 1h}
`

// gatewayProcess is the gateway under test, across its successors.
type gatewayProcess struct {
	t       *testing.T
	bin     string
	dir     string
	traffic string
	admin   *client.Client
	first   *exec.Cmd
	exited  chan struct{} // the first process's exit
	logs    string
}

func (p *gatewayProcess) pid() int {
	raw, err := os.ReadFile(filepath.Join(p.dir, "gateway.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	return pid
}

// gone reports whether pid has exited (a zombie counts: it serves nothing).
func (p *gatewayProcess) gone(pid int) bool {
	if pid == p.first.Process.Pid {
		select {
		case <-p.exited:
			return true
		default:
			return false
		}
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	return len(f) > 0 && f[0] == "Z"
}

func (p *gatewayProcess) signal(sig syscall.Signal) int {
	p.t.Helper()
	pid := p.pid()
	if err := syscall.Kill(pid, sig); err != nil {
		p.t.Fatalf("signal %v to %d: %v", sig, pid, err)
	}
	return pid
}

// waitFor polls cond until it holds or a generous deadline passes.
func (p *gatewayProcess) waitFor(what string, cond func() bool) {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			logs, _ := os.ReadFile(p.logs)
			p.t.Fatalf("gave up waiting for %s; gateway logs:\n%s", what, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// routeState is what must survive every restart.
type routeState struct {
	Weights    api.Weights
	WritesHeld bool
	HoldUntil  time.Time
	Breaker    string
}

func (p *gatewayProcess) state() map[string]routeState {
	p.t.Helper()
	routes, err := p.admin.Routes(context.Background())
	if err != nil {
		p.t.Fatalf("read routes: %v", err)
	}
	out := map[string]routeState{}
	for _, r := range routes {
		s := routeState{Weights: r.Weights, WritesHeld: r.WritesHeld, Breaker: r.Breaker}
		if r.HoldUntil != nil {
			s.HoldUntil = r.HoldUntil.Truncate(time.Millisecond)
		}
		out[r.Name] = s
	}
	return out
}

// load is a bounded load generator on 127.0.0.1: workers send GETs and
// POSTs with sticky keys until stopped, at most max requests or a deadline.
type load struct {
	total, refused, failed, non2xx atomic.Int64
	// failedWrites counts the failed among them that were POSTs;
	// ackedWrites holds the X-Request-ID of every POST answered 2xx.
	failedWrites  atomic.Int64
	ackedWrites   sync.Map
	mu            sync.Mutex
	firstProblems []string
	stop          chan struct{}
	wg            sync.WaitGroup
}

func startLoad(url string, workers int, max int64, deadline time.Duration) *load {
	l := &load{stop: make(chan struct{})}
	hc := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	end := time.Now().Add(deadline)
	for w := 0; w < workers; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				if l.total.Add(1) > max || time.Now().After(end) {
					return
				}
				method, body := http.MethodGet, io.Reader(nil)
				if i%4 == 3 {
					method, body = http.MethodPost, strings.NewReader(`{"n":1}`)
				}
				req, _ := http.NewRequest(method, fmt.Sprintf("%s/users/%d", url, i), body)
				req.Header.Set("X-User-ID", fmt.Sprintf("user-%d-%d", w, i%50))
				id := fmt.Sprintf("%d-%d", w, i)
				req.Header.Set("X-Request-ID", id)
				res, err := hc.Do(req)
				switch {
				case errors.Is(err, syscall.ECONNREFUSED):
					l.refused.Add(1)
					l.note("refused: " + err.Error())
				case err != nil:
					l.failed.Add(1)
					if method == http.MethodPost {
						l.failedWrites.Add(1)
					}
					l.note(time.Now().Format("15:04:05.000") + " " + method + ": " + err.Error())
				default:
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode/100 != 2 {
						l.non2xx.Add(1)
						l.note(fmt.Sprintf("%s: status %d", method, res.StatusCode))
					} else if method == http.MethodPost {
						l.ackedWrites.Store(id, true)
					}
				}
			}
		}()
	}
	return l
}

func (l *load) note(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.firstProblems) < 10 {
		l.firstProblems = append(l.firstProblems, s)
	}
}

// progressed waits until the load has sent more requests than before, so
// every restart happens under traffic.
func (p *gatewayProcess) progressed(l *load, before int64) {
	p.t.Helper()
	p.waitFor("the load to go on", func() bool { return l.total.Load() > before+200 })
}

func TestRestartsUnderLoadRefuseNothingAndKeepTheState(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the gateway binary")
	}
	slow := make(chan struct{}, 4)
	legacy := upstream(t, "legacy", http.StatusOK, slow)
	newSide := upstream(t, "new", http.StatusOK, slow)
	failing := upstream(t, "failing", http.StatusInternalServerError, slow)

	dir := t.TempDir()
	p := &gatewayProcess{t: t, bin: buildGateway(t), dir: dir, traffic: freeAddr(t), logs: filepath.Join(dir, "gateway.log")}
	adminAddr := freeAddr(t)
	cfgPath := filepath.Join(dir, "gateway.yaml")
	writeConfig := func(sideHeader string) {
		cfg := fmt.Sprintf(gatewayConfig, p.traffic, adminAddr, filepath.Join(dir, "state.json"), sideHeader,
			legacy.URL, newSide.URL, legacy.URL, newSide.URL, legacy.URL, failing.URL)
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig("X-Side-0")
	logFile, err := os.Create(p.logs)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	p.first = exec.Command(p.bin, "-config", cfgPath, "-pid-file", filepath.Join(dir, "gateway.pid"))
	p.first.Env = append(os.Environ(), "GW_TEST_TOKEN=test-token")
	p.first.Stdout, p.first.Stderr = logFile, logFile
	if err := p.first.Start(); err != nil {
		t.Fatal(err)
	}
	p.exited = make(chan struct{})
	go func() { _ = p.first.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		if pid := p.pid(); pid != 0 && !p.gone(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	if p.admin, err = client.New(client.Options{BaseURL: "http://" + adminAddr, Token: "test-token"}); err != nil {
		t.Fatal(err)
	}
	p.waitFor("the gateway to serve", func() bool {
		_, err := p.admin.Routes(context.Background())
		return p.pid() != 0 && err == nil
	})

	ctx := context.Background()
	mustDo := func(_ api.RouteStatus, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mustDo(p.admin.SetWeights(ctx, "users", 50, 50))
	mustDo(p.admin.SetWeights(ctx, "orders", 30, 10))
	mustDo(p.admin.HoldWrites(ctx, "orders", time.Hour))
	mustDo(p.admin.SetWeights(ctx, "billing", 100, 0))
	p.waitFor("the breaker on billing's new side to open", func() bool {
		if res, err := http.Get("http://" + p.traffic + "/billing/1"); err == nil {
			res.Body.Close()
		}
		st, err := p.admin.Route(ctx, "billing")
		return err == nil && st.Breaker == api.BreakerOpen
	})
	want := p.state()

	l := startLoad("http://"+p.traffic, 8, 2_000_000, 4*time.Minute)
	defer func() { close(l.stop); l.wg.Wait() }()
	p.progressed(l, 0)

	for i := 1; i <= 5; i++ {
		header := fmt.Sprintf("X-Side-%d", i)
		writeConfig(header)
		before := l.total.Load()
		pid := p.signal(syscall.SIGHUP)
		p.waitFor("the reloaded side header "+header, func() bool {
			res, err := http.Get("http://" + p.traffic + "/orders/1")
			if err != nil {
				return false
			}
			res.Body.Close()
			return res.Header.Get(header) != ""
		})
		if p.pid() != pid {
			t.Fatalf("SIGHUP %d: the process changed (%d → %d); a reload happens in place", i, pid, p.pid())
		}
		if got := p.state(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("after SIGHUP %d the state is %v, want %v", i, got, want)
		}
		p.progressed(l, before)
	}
	for i := 1; i <= 5; i++ {
		before := l.total.Load()
		old := p.signal(syscall.SIGUSR2)
		p.waitFor(fmt.Sprintf("a successor to replace process %d and that process to exit", old), func() bool {
			return p.pid() != old && p.pid() != 0 && p.gone(old)
		})
		if got := p.state(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("after SIGUSR2 %d the state is %v, want %v", i, got, want)
		}
		p.progressed(l, before)
	}
	close(l.stop)
	l.wg.Wait()
	l.stop = make(chan struct{}) // the deferred close is now harmless
	if raw, err := os.ReadFile(p.logs); err == nil && os.Getenv("GW_TEST_SHOW_LOGS") != "" {
		t.Logf("gateway logs:\n%s", raw)
	}
	t.Logf("load: %d requests, %d refused, %d failed, %d non-2xx", l.total.Load(), l.refused.Load(), l.failed.Load(), l.non2xx.Load())
	if l.refused.Load() != 0 || l.failed.Load() != 0 || l.non2xx.Load() != 0 {
		t.Fatalf("across 5 reloads and 5 restarts: %d refused, %d failed, %d non-2xx; first: %v",
			l.refused.Load(), l.failed.Load(), l.non2xx.Load(), l.firstProblems)
	}

	// SIGTERM: a request in flight is answered before the process exits.
	slowDone := make(chan int, 1)
	go func() {
		res, err := http.Get("http://" + p.traffic + "/orders/slow")
		if err != nil {
			slowDone <- -1
			return
		}
		res.Body.Close()
		slowDone <- res.StatusCode
	}()
	select {
	case <-slow:
	case <-time.After(30 * time.Second):
		t.Fatal("the slow request did not reach an upstream")
	}
	last := p.signal(syscall.SIGTERM)
	if code := <-slowDone; code != http.StatusOK {
		t.Fatalf("a request in flight at SIGTERM ended with %d, want 200", code)
	}
	p.waitFor("the gateway to exit after SIGTERM", func() bool { return p.gone(last) })
}
