// Command gatewaybench is bench/gateway's helper: a tiny HTTP upstream and a
// plain httputil.ReverseProxy (the reference the gateway is measured against
// besides nginx and HAProxy). It is not part of Godwit.
//
//	gatewaybench upstream -listen 127.0.0.1:18081
//	gatewaybench reverseproxy -listen 127.0.0.1:18084 -target http://127.0.0.1:18081
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gatewaybench upstream|reverseproxy -listen ADDR [-target URL]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	target := fs.String("target", "", "upstream base URL (reverseproxy)")
	_ = fs.Parse(os.Args[2:])
	var h http.Handler
	switch os.Args[1] {
	case "upstream":
		body := []byte("hello from upstream\n")
		h = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write(body)
		})
	case "reverseproxy":
		u, err := url.Parse(*target)
		if err != nil || u.Host == "" {
			fmt.Fprintln(os.Stderr, "reverseproxy needs -target http://host:port")
			os.Exit(2)
		}
		rp := httputil.NewSingleHostReverseProxy(u)
		// The default transport keeps 2 idle connections per host, which
		// would measure connection churn rather than the proxy.
		rp.Transport = &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 512,
			IdleConnTimeout:     90 * time.Second,
		}
		h = rp
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(2)
	}
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
