// Command demo-load is the live demo's client traffic (scripts/demo.sh): it
// sends a steady, bounded stream of requests through the godwit-gateway with
// rotating user keys (X-User-ID), most of them reads and some writes, and
// every few seconds prints who answered (legacy or new, as
// examples/demo-service says), how many failed, and the gateway's current
// weights. It stops after -for or -n, or on SIGINT/SIGTERM, with a total
// line; it exits 3 when any request failed.
//
//	demo-load -for 5m -every 3s              # alongside a migration
//	demo-load -n 200 -every 0                # one burst: where does traffic go now?
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/godwit/godwit/gateway/client"
)

type options struct {
	url, admin, tokenFile, route string
	rate, writes                 float64
	users, n                     int
	every, limit                 time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.url, "url", "http://127.0.0.1:18480", "the gateway's traffic address")
	flag.StringVar(&o.admin, "admin", "http://127.0.0.1:18490", "the gateway's admin API, to show its weights (\"\" not to)")
	flag.StringVar(&o.tokenFile, "token-file", "/tmp/godwit-traffic-demo/token", "file holding the admin API's token")
	flag.StringVar(&o.route, "route", "users", "the gateway route whose weights are shown")
	flag.Float64Var(&o.rate, "rate", 25, "requests per second")
	flag.Float64Var(&o.writes, "writes", 0.2, "share of requests sent as writes (POST)")
	flag.IntVar(&o.users, "users", 1000, "distinct user keys, used in turn")
	flag.IntVar(&o.n, "n", 0, "stop after this many requests (0: no limit)")
	flag.DurationVar(&o.every, "every", 3*time.Second, "report interval (0: only the total)")
	flag.DurationVar(&o.limit, "for", 10*time.Minute, "stop after this long at the latest")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.limit)
	defer cancel()
	failed, err := run(ctx, o, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo-load:", err)
		os.Exit(1)
	}
	if failed > 0 {
		os.Exit(3)
	}
}

// tally counts answers by kind of request and side, and failures.
type tally struct {
	reads, writes [2]int64 // [legacy, new]
	failed        int64
	lastError     string
}

func (t *tally) add(o tally) {
	for i := range 2 {
		t.reads[i] += o.reads[i]
		t.writes[i] += o.writes[i]
	}
	t.failed += o.failed
	if o.lastError != "" {
		t.lastError = o.lastError
	}
}

func (t tally) total() int64 { return t.reads[0] + t.reads[1] + t.writes[0] + t.writes[1] + t.failed }

func (t tally) String() string {
	s := fmt.Sprintf("reads %d legacy / %d new, writes %d legacy / %d new, %d failed",
		t.reads[0], t.reads[1], t.writes[0], t.writes[1], t.failed)
	if t.lastError != "" {
		s += " (last: " + t.lastError + ")"
	}
	return s
}

// run sends requests until ctx ends or o.n were sent, and returns how many
// failed.
func run(ctx context.Context, o options, out io.Writer) (int64, error) {
	if o.rate <= 0 || o.users <= 0 {
		return 0, errors.New("-rate and -users must be positive")
	}
	weights, err := weightsReader(o)
	if err != nil {
		return 0, err
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	pace := time.NewTicker(time.Duration(float64(time.Second) / o.rate))
	defer pace.Stop()
	var report <-chan time.Time
	if o.every > 0 {
		t := time.NewTicker(o.every)
		defer t.Stop()
		report = t.C
	}
	start := time.Now()
	var all, window tally
	writeEvery := 0
	if o.writes > 0 {
		writeEvery = int(1 / o.writes)
	}
loop:
	for sent := 0; o.n == 0 || sent < o.n; {
		select {
		case <-ctx.Done():
			break loop
		case <-report:
			fmt.Fprintf(out, "%s  %s| last %s: %s\n", time.Now().Format("15:04:05"), weights(ctx), o.every, window)
			all.add(window)
			window = tally{}
		case <-pace.C:
			write := writeEvery > 0 && sent%writeEvery == writeEvery-1
			one(ctx, hc, o.url, fmt.Sprintf("user-%d", sent%o.users), write, &window)
			sent++
		}
	}
	all.add(window)
	fmt.Fprintf(out, "total: %d requests in %s: %s\n", all.total(), time.Since(start).Round(time.Second), all)
	if o.admin != "" {
		fmt.Fprintf(out, "%s\n", strings.TrimSpace(weights(context.Background())))
	}
	return all.failed, nil
}

// one sends a request for user key and counts its answer in t.
func one(ctx context.Context, hc *http.Client, base, key string, write bool, t *tally) {
	method := http.MethodGet
	if write {
		method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, method, base+"/users/"+key, strings.NewReader(""))
	if err != nil {
		t.failed++
		t.lastError = err.Error()
		return
	}
	req.Header.Set("X-User-ID", key)
	res, err := hc.Do(req)
	if ctx.Err() != nil {
		return // stopped mid-request: not an answer
	}
	if err != nil {
		t.failed++
		t.lastError = err.Error()
		return
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	side := -1
	switch strings.TrimSpace(string(body)) {
	case "legacy":
		side = 0
	case "new":
		side = 1
	}
	switch {
	case res.StatusCode != http.StatusOK:
		t.failed++
		t.lastError = fmt.Sprintf("%s: %s", res.Status, strings.TrimSpace(string(body)))
	case side < 0:
		t.failed++
		t.lastError = "unexpected answer " + strings.TrimSpace(string(body))
	case write:
		t.writes[side]++
	default:
		t.reads[side]++
	}
}

// weightsReader returns a function describing the route's weights on the
// gateway ("" when -admin is empty).
func weightsReader(o options) (func(context.Context) string, error) {
	if o.admin == "" {
		return func(context.Context) string { return "" }, nil
	}
	var token string
	if o.tokenFile != "" {
		b, err := os.ReadFile(o.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("admin token: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	gw, err := client.New(client.Options{BaseURL: o.admin, Token: token})
	if err != nil {
		return nil, fmt.Errorf("gateway admin client: %w", err)
	}
	return func(ctx context.Context) string {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		st, err := gw.Route(ctx, o.route)
		if err != nil {
			return "gateway weights unknown (" + err.Error() + ") "
		}
		return fmt.Sprintf("gateway %s: reads %3d%%, writes %3d%% to new ", o.route, st.Weights.Read, st.Weights.Write)
	}, nil
}
