// Command godwit-gateway runs the Godwit traffic gateway: a reverse proxy
// that moves traffic between a legacy and a new service by weight, driven
// through its admin API. See docs/gateway.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/gateway"
)

func main() {
	configPath := flag.String("config", "gateway.yaml", "gateway configuration file (YAML)")
	logLevel := flag.String("log-level", "info", "log level: trace, debug, info, warn, error")
	logJSON := flag.Bool("log-json", false, "log as JSON")
	flag.Parse()
	if os.Getenv("GOGC") == "" {
		// A proxy allocates short-lived request state at a high rate; a
		// larger heap target trades some memory for much less GC work.
		debug.SetGCPercent(400)
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "godwit-gateway", Level: hclog.LevelFromString(*logLevel), JSONFormat: *logJSON})
	if err := run(*configPath, log); err != nil {
		log.Error("gateway stopped", "error", err)
		os.Exit(1)
	}
}

func run(configPath string, log hclog.Logger) error {
	cfg, err := gateway.LoadConfig(configPath)
	if err != nil {
		return err
	}
	token, err := cfg.Admin.Token()
	if err != nil {
		return err
	}
	g, err := gateway.New(gateway.Options{Config: cfg, Logger: log, Token: token})
	if err != nil {
		return fmt.Errorf("start gateway: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return g.Run(ctx)
}
