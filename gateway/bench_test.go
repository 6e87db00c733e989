package gateway

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkProxyOverhead measures requests/s of the same load sent directly
// to a small upstream, through a plain httputil.ReverseProxy and through the
// gateway (weight 50, sticky key header sent, breaker and metrics on), three
// rounds each, medians. The load generator shares the machine, so only the
// ratios mean anything. Run with:
//
//	go test -run '^$' -bench ProxyOverhead -benchtime 1x ./gateway/
//
// The last line is "ratio: gateway ÷ direct".
func BenchmarkProxyOverhead(b *testing.B) {
	const (
		requests    = 8000
		concurrency = 16
		rounds      = 3
	)
	hello := []byte("hello from upstream\n")
	legacy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(hello) }))
	defer legacy.Close()
	newSide := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(hello) }))
	defer newSide.Close()

	target, _ := url.Parse(legacy.URL)
	plain := httputil.NewSingleHostReverseProxy(target)
	// Same connection pool as the gateway's, so the comparison is fair
	// (the default keeps 2 idle connections per host).
	plain.Transport = newTransport()
	rp := httptest.NewServer(plain)
	defer rp.Close()

	cfg := baseConfig(legacy.URL, newSide.URL)
	cfg.SideHeader = ""
	cfg.Routes[0].Weights = Weights{Read: 50, Write: 50}
	g, err := New(Options{Config: cfg})
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	gw := httptest.NewServer(g)
	defer gw.Close()

	targets := []struct{ name, url string }{{"direct", legacy.URL}, {"reverseproxy", rp.URL}, {"gateway", gw.URL}}
	results := map[string][]float64{}
	for r := 0; r < rounds; r++ {
		for _, tg := range targets {
			results[tg.name] = append(results[tg.name], load(b, tg.url, requests, concurrency))
		}
	}
	med := map[string]float64{}
	for name, rs := range results {
		sort.Float64s(rs)
		med[name] = rs[len(rs)/2]
		fmt.Printf("%s: %.0f req/s (median of %d rounds of %d requests, %d concurrent)\n", name, med[name], rounds, requests, concurrency)
	}
	fmt.Printf("gateway_vs_reverseproxy: %.3f\n", med["gateway"]/med["reverseproxy"])
	fmt.Printf("ratio: %.3f\n", med["gateway"]/med["direct"])
}

// load sends n GETs with a sticky key header over c connections and returns
// requests per second; any failure stops the benchmark.
func load(b *testing.B, base string, n, c int) float64 {
	tr := &http.Transport{MaxIdleConnsPerHost: c, MaxConnsPerHost: c}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				req, _ := http.NewRequest(http.MethodGet, base+"/users/"+strconv.FormatInt(i, 10), nil)
				req.Header.Set("X-User-ID", strconv.FormatInt(i%5000, 10))
				res, err := hc.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if f := failed.Load(); f > 0 {
		b.Fatalf("%s: %d of %d requests failed", base, f, n)
	}
	return float64(n) / elapsed.Seconds()
}
