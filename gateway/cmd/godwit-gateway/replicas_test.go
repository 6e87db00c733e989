package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/godwit/godwit/gateway/client"
)

const replicaConfig = `listen: %s
admin: {listen: %s, tokenEnv: GW_TEST_TOKEN}
stateFile: %s
routes:
  - name: users
    legacy: %s
    new: %s
    stickyKey: {header: X-User-ID}
`

const haproxyConfig = `global
    maxconn 4096
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout
frontend api
    bind %s
    default_backend gateways
backend gateways
    balance roundrobin
    option httpchk GET /healthz
    http-request disable-l7-retry if !METH_GET !METH_OPTIONS
    server gw1 %s check port %s inter 200ms fall 1 rise 2
    server gw2 %s check port %s inter 200ms fall 1 rise 2
`

// replica is one gateway process of the pair.
type replica struct {
	traffic, admin, cfg string
	cmd                 *exec.Cmd
	exited              chan struct{}
}

func (r *replica) start(t *testing.T, bin string, logs *os.File) {
	t.Helper()
	r.cmd = exec.Command(bin, "-config", r.cfg)
	r.cmd.Env = append(os.Environ(), "GW_TEST_TOKEN=test-token")
	r.cmd.Stdout, r.cmd.Stderr = logs, logs
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.exited = make(chan struct{})
	cmd, exited := r.cmd, r.exited
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
}

func TestShiftThroughHAProxyWithAReplicaKilledMidShift(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the gateway binary and HAProxy")
	}
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		t.Fatal("haproxy is not installed: run scripts/test.sh (it installs Debian's haproxy) or apt-get install haproxy")
	}
	// Both services record every write by its X-Request-ID: a write the
	// client saw acknowledged must be there once, and none twice.
	var writes sync.Map // X-Request-ID → *atomic.Int64
	recordWrites := func(name string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			_, _ = io.Copy(io.Discard, req.Body)
			if req.Method == http.MethodPost {
				n, _ := writes.LoadOrStore(req.Header.Get("X-Request-ID"), new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
			}
			_, _ = io.WriteString(w, name)
		}))
		t.Cleanup(s.Close)
		return s
	}
	legacy, newSide := recordWrites("legacy"), recordWrites("new")
	dir := t.TempDir()
	bin := buildGateway(t)
	logs, err := os.Create(filepath.Join(dir, "logs"))
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	showLogs := func() string { raw, _ := os.ReadFile(logs.Name()); return string(raw) }

	reps := make([]*replica, 2)
	for i := range reps {
		r := &replica{traffic: freeAddr(t), admin: freeAddr(t), cfg: filepath.Join(dir, fmt.Sprintf("gw%d.yaml", i+1))}
		cfg := fmt.Sprintf(replicaConfig, r.traffic, r.admin, filepath.Join(dir, fmt.Sprintf("state%d.json", i+1)), legacy.URL, newSide.URL)
		if err := os.WriteFile(r.cfg, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		r.start(t, bin, logs)
		reps[i] = r
	}
	port := func(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }
	front := freeAddr(t)
	hcfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(hcfg, []byte(fmt.Sprintf(haproxyConfig, front,
		reps[0].traffic, port(reps[0].admin), reps[1].traffic, port(reps[1].admin))), 0o600); err != nil {
		t.Fatal(err)
	}
	hp := exec.Command(haproxy, "-db", "-f", hcfg)
	hp.Stdout, hp.Stderr = logs, logs
	if err := hp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hp.Process.Kill(); _ = hp.Wait() })

	admins := []string{"http://" + reps[0].admin, "http://" + reps[1].admin}
	rep, err := client.NewReplicas(admins, client.Options{Token: "test-token"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting for %s; logs:\n%s", what, showLogs())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	bothUp := func() bool {
		if _, err := rep.Route(ctx, "users"); err != nil {
			return false
		}
		res, err := http.Get("http://" + front + "/ready")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}
	waitFor("both replicas and HAProxy to serve", bothUp)

	l := startLoad("http://"+front, 8, 2_000_000, 4*time.Minute)
	defer func() { close(l.stop); l.wg.Wait() }()
	waitFor("the load to start", func() bool { return l.total.Load() > 200 })
	weightsOf := func(i int) [2]int {
		c, _ := client.New(client.Options{BaseURL: admins[i], Token: "test-token"})
		st, err := c.Route(ctx, "users")
		if err != nil {
			t.Fatalf("replica %s: %v", admins[i], err)
		}
		return [2]int{st.Weights.Read, st.Weights.Write}
	}
	var killedAt time.Time
	for _, w := range []int{10, 25, 50, 75, 100} {
		before := l.total.Load()
		if w == 50 {
			// Mid-shift, one replica dies without warning.
			failedBefore := l.failed.Load()
			killedAt = time.Now()
			if err := reps[1].cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-reps[1].exited
			// Let HAProxy's checks see it gone before the step goes on, so
			// every failure counted below comes from the kill itself.
			time.Sleep(time.Second)
			inFlight := l.failed.Load() - failedBefore
			t.Logf("requests failed by the SIGKILL: %d (at most one per worker in flight)", inFlight)
			_, err := rep.SetWeights(ctx, "users", w, w)
			if err == nil || !strings.Contains(err.Error(), "gateway replica "+admins[1]+" did not acknowledge") || client.IsPermanent(err) {
				t.Fatalf("the step with replica %s down: %v; want a retryable error naming it", admins[1], err)
			}
			reps[1].start(t, bin, logs)
			waitFor("the killed replica to serve again", bothUp)
			if got := weightsOf(1); got != [2]int{25, 25} {
				t.Fatalf("the restarted replica came back at %v, want its saved 25/25", got)
			}
		}
		if _, err := rep.SetWeights(ctx, "users", w, w); err != nil {
			t.Fatalf("set weight %d on both replicas: %v", w, err)
		}
		for i := range reps {
			if got := weightsOf(i); got != [2]int{w, w} {
				t.Fatalf("after the %d%% step replica %s is at %v", w, admins[i], got)
			}
		}
		waitFor("the load to go on", func() bool { return l.total.Load() > before+2000 })
	}
	close(l.stop)
	l.wg.Wait()
	l.stop = make(chan struct{})
	t.Logf("load through HAProxy: %d requests, %d refused, %d failed (%d of them writes), %d non-2xx; killed at %s; first problems: %v",
		l.total.Load(), l.refused.Load(), l.failed.Load(), l.failedWrites.Load(), l.non2xx.Load(),
		killedAt.Format("15:04:05.000"), l.firstProblems)
	// Reads never fail: HAProxy retries them on the other replica. A write
	// that was inside the killed replica may or may not have reached the
	// service, so HAProxy must not replay it (disable-l7-retry) and its
	// client gets the error: at most one per worker, and only writes.
	if l.refused.Load() != 0 || l.non2xx.Load() != 0 || l.failed.Load() != l.failedWrites.Load() || l.failedWrites.Load() > 8 {
		t.Fatalf("client errors through HAProxy: %d refused, %d failed (%d writes), %d non-2xx; want none but writes in flight at the kill; first: %v",
			l.refused.Load(), l.failed.Load(), l.failedWrites.Load(), l.non2xx.Load(), l.firstProblems)
	}
	acked, lost, twice := 0, 0, 0
	l.ackedWrites.Range(func(id, _ any) bool {
		acked++
		if n, ok := writes.Load(id); !ok || n.(*atomic.Int64).Load() == 0 {
			lost++
		}
		return true
	})
	writes.Range(func(_, n any) bool {
		if n.(*atomic.Int64).Load() > 1 {
			twice++
		}
		return true
	})
	t.Logf("writes: %d acknowledged, %d of them missing at the services, %d applied twice", acked, lost, twice)
	if acked == 0 || lost != 0 || twice != 0 {
		t.Fatalf("writes: %d acknowledged, %d lost, %d applied twice; want none lost or doubled", acked, lost, twice)
	}
}
