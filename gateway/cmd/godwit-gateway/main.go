// Command godwit-gateway runs the Godwit traffic gateway: a reverse proxy
// that moves traffic between a legacy and a new service by weight, driven
// through its admin API. See docs/gateway.md.
//
// Signals: SIGHUP reloads the configuration in place; SIGUSR2 starts a
// successor process that inherits the listening sockets and the state, then
// this one drains and exits; SIGINT/SIGTERM stop after in-flight requests.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"syscall"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/gateway"
)

// plainHTTP is -plain-http (gateway.Options.PlainHTTP).
var plainHTTP bool

func main() {
	configPath := flag.String("config", "gateway.yaml", "gateway configuration file (YAML)")
	pidFile := flag.String("pid-file", "", "write the serving process's id here (a successor started by SIGUSR2 replaces it)")
	logLevel := flag.String("log-level", "info", "log level: trace, debug, info, warn, error")
	logJSON := flag.Bool("log-json", false, "log as JSON")
	flag.BoolVar(&plainHTTP, "plain-http", false,
		"serve every request through Go's net/http server, without the gateway's own loop for plain keep-alive reads")
	flag.Parse()
	if os.Getenv("GOGC") == "" {
		// A proxy allocates short-lived request state at a high rate; a
		// larger heap target trades some memory for much less GC work.
		debug.SetGCPercent(400)
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "godwit-gateway", Level: hclog.LevelFromString(*logLevel), JSONFormat: *logJSON})
	log = log.With("pid", os.Getpid())
	if err := run(*configPath, *pidFile, log); err != nil {
		log.Error("gateway stopped", "error", err)
		os.Exit(1)
	}
}

func run(configPath, pidFile string, log hclog.Logger) error {
	// First of all: SIGHUP and SIGUSR2 would otherwise end the process.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR2, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	cfg, token, err := loadConfig(configPath)
	if err != nil {
		return err
	}
	// Listen (or take the predecessor's sockets) before loading the state:
	// the predecessor saved it before starting this process.
	lns, err := listeners(cfg, log)
	if err != nil {
		return err
	}
	g, err := gateway.New(gateway.Options{Config: cfg, Logger: log, Token: token, PlainHTTP: plainHTTP})
	if err != nil {
		lns.close()
		return fmt.Errorf("start gateway: %w", err)
	}
	ctx, stop := context.WithCancelCause(context.Background())
	defer stop(nil)
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, lns.traffic, lns.admin) }()
	select {
	case <-g.Serving():
	case err := <-done:
		return err
	}
	if pidFile != "" {
		if err := writePidFile(pidFile, os.Getpid()); err != nil {
			log.Warn("could not write the pid file", "path", pidFile, "error", err)
		}
	}
	if err := lns.signalReady(); err != nil {
		log.Warn("could not tell the predecessor this process is ready", "error", err)
	}

	for {
		select {
		case err := <-done:
			return err
		case s := <-sigs:
			switch s {
			case syscall.SIGHUP:
				reload(g, configPath, log)
			case syscall.SIGUSR2:
				if err := handOver(g, lns, configPath, log); err != nil {
					log.Error("restart failed; this process keeps serving", "error", err)
					continue
				}
				stop(gateway.ErrHandedOver)
				return ignoreCanceled(<-done)
			default:
				log.Info("stopping on signal; in-flight requests finish first", "signal", s.String())
				stop(context.Canceled)
				return ignoreCanceled(<-done)
			}
		}
	}
}

// writePidFile replaces the pid file whole (a temporary file renamed over
// it): a script that reads it while a successor writes its own id, as a
// new-user trial's hand-over loop did, sees the old id or the new one,
// never the empty file that truncating in place shows for a moment.
func writePidFile(path string, pid int) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("pid file %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // gone after the rename; removes what a failure left
	_, err = tmp.WriteString(strconv.Itoa(pid) + "\n")
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("pid file %s: %w", path, err)
	}
	return nil
}

// loadConfig reads the configuration and its admin token.
func loadConfig(path string) (gateway.Config, string, error) {
	cfg, err := gateway.LoadConfig(path)
	if err != nil {
		return gateway.Config{}, "", err
	}
	token, err := cfg.Admin.Token()
	if err != nil {
		return gateway.Config{}, "", err
	}
	return cfg, token, nil
}

// reload applies the configuration file again; a bad file changes nothing.
func reload(g *gateway.Gateway, path string, log hclog.Logger) {
	cfg, token, err := loadConfig(path)
	if err == nil {
		err = g.Reload(cfg, token)
	}
	if err != nil {
		log.Error("reload refused; the running configuration is kept", "error", err)
	}
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
