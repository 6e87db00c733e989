// Command demo-service is a tiny HTTP service for the traffic demo: it
// answers every request with its name, so a client can see which side the
// gateway chose. PUT /_demo/fail makes it answer 500 (a new service going
// bad, for the breaker and the analysis to catch); DELETE /_demo/fail heals it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	name := flag.String("name", "legacy", "what the service answers (legacy or new)")
	listen := flag.String("listen", "127.0.0.1:18481", "address to listen on")
	flag.Parse()

	var failing atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("/_demo/fail", func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPut:
			failing.Store(true)
		case http.MethodDelete:
			failing.Store(false)
		default:
			http.Error(w, "PUT or DELETE", http.StatusMethodNotAllowed)
			return
		}
		fmt.Fprintf(w, "%s failing=%v\n", *name, failing.Load())
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, *name+" is failing", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, *name)
	})
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Fprintf(os.Stderr, "demo-service %s listening on %s\n", *name, *listen)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "demo-service:", err)
		os.Exit(1)
	}
}
