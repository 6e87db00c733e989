package gateway

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
)

// rawUpstream answers every request head it reads with the same small
// answer, allocating nothing per request, so a benchmark's allocations are
// the gateway's.
func rawUpstream(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	answer := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: Mon, 07 Dec 2026 02:00:00 GMT\r\nContent-Length: 20\r\n\r\nhello from upstream\n")
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
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
					}
					if _, err := c.Write(answer); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// rawClient sends keep-alive GETs with a sticky key and reads the answers
// without allocating.
type rawClient struct {
	c   net.Conn
	br  *bufio.Reader
	req []byte
}

func newRawClient(tb testing.TB, addr string, key int) *rawClient {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	req := fmt.Sprintf("GET /users/%d HTTP/1.1\r\nHost: %s\r\nX-User-ID: user-%d\r\n\r\n", key, addr, key)
	return &rawClient{c: c, br: bufio.NewReader(c), req: []byte(req)}
}

func (rc *rawClient) do() error {
	if _, err := rc.c.Write(rc.req); err != nil {
		return err
	}
	length := -1
	status := 0
	for first := true; ; first = false {
		line, err := rc.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if first && len(line) > 12 {
			status, _ = strconv.Atoi(string(line[9:12]))
		}
		if len(line) <= 2 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			length = 0
			for _, b := range bytes.TrimSpace(v) {
				length = length*10 + int(b-'0')
			}
		}
	}
	if status != 200 || length < 0 {
		return fmt.Errorf("status %d, length %d", status, length)
	}
	_, err := rc.br.Discard(length)
	return err
}

// BenchmarkGatewayRequest measures one proxied read (weight 50, sticky key
// header, breaker and metrics on) through the gateway's own loop and
// through net/http (PlainHTTP), with a client and an upstream that
// allocate nothing: allocs/op are the gateway's own. Run with
//
//	go test -run '^$' -bench GatewayRequest -benchmem ./gateway/
//
// The last line is "loop_speedup: X" = net/http's time per request ÷ the
// loop's, both measured in this run.
func BenchmarkGatewayRequest(b *testing.B) {
	up := rawUpstream(b)
	perRequest := map[string]float64{}
	for _, mode := range []struct {
		name  string
		plain bool
	}{{"loop", false}, {"nethttp", true}} {
		b.Run(mode.name, func(b *testing.B) {
			cfg := baseConfig(up, up)
			cfg.SideHeader = ""
			cfg.Routes[0].Weights = Weights{Read: 50, Write: 50}
			g, err := New(Options{Config: cfg, PlainHTTP: mode.plain})
			if err != nil {
				b.Fatal(err)
			}
			trafficLn, _ := net.Listen("tcp", "127.0.0.1:0")
			adminLn, _ := net.Listen("tcp", "127.0.0.1:0")
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { _ = g.Serve(ctx, trafficLn, adminLn); close(done) }()
			<-g.Serving()
			defer func() { cancel(); <-done }()
			const conns = 4
			clients := make([]*rawClient, conns)
			for i := range clients {
				clients[i] = newRawClient(b, trafficLn.Addr().String(), i*7+1)
				defer clients[i].c.Close()
				if err := clients[i].do(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			per := b.N / conns
			for i := range clients {
				wg.Add(1)
				go func(rc *rawClient, n int) {
					defer wg.Done()
					for j := 0; j < n; j++ {
						if err := rc.do(); err != nil {
							b.Error(err)
							return
						}
					}
				}(clients[i], per+boolInt(i < b.N%conns))
			}
			wg.Wait()
			b.StopTimer()
			perRequest[mode.name] = float64(b.Elapsed()) / float64(b.N)
		})
	}
	if perRequest["loop"] > 0 && perRequest["nethttp"] > 0 {
		fmt.Printf("loop_speedup: %.3f\n", perRequest["nethttp"]/perRequest["loop"])
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
