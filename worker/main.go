// Command godwit-worker runs Godwit's Migration workflow and phase
// activities. Start as many as you like on one task queue: Temporal spreads
// the work between them.
package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/pflag"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/connect"
	"github.com/godwit/godwit/drivers"
	"github.com/godwit/godwit/logging"
	"github.com/godwit/godwit/redact"
	"github.com/godwit/godwit/workermetrics"
	"github.com/godwit/godwit/workflows"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "godwit-worker:", err)
		os.Exit(1)
	}
}

// addSettingsSecrets records the worker's own credentials: its keyring
// (the whole text and each key) and its Temporal API key.
func addSettingsSecrets(set *redact.Set, s config.TemporalSettings) {
	set.Add("temporal-apikey", s.APIKey)
	if s.APIKeyFile != "" {
		if b, err := os.ReadFile(s.APIKeyFile); err == nil {
			set.Add("file:"+s.APIKeyFile, strings.TrimSpace(string(b)))
		}
	}
	var ring string
	switch {
	case s.Codec.KeysEnv != "":
		ring = os.Getenv(s.Codec.KeysEnv)
	case s.Codec.KeysFile != "":
		if b, err := os.ReadFile(s.Codec.KeysFile); err == nil {
			ring = string(b)
		}
	}
	set.Add("keyring", strings.TrimSpace(ring))
	for _, entry := range strings.FieldsFunc(ring, func(r rune) bool { return r == '\n' || r == ',' }) {
		if id, key, ok := strings.Cut(strings.TrimSpace(entry), ":"); ok {
			id, key = strings.TrimSpace(id), strings.TrimSpace(key)
			set.Add("keyring:"+id, key)
			// The raw key too, so that its hex is hidden as well.
			if raw, err := base64.StdEncoding.DecodeString(key); err == nil {
				set.Add("keyring:"+id+"#raw", string(raw))
			}
		}
	}
}

// logEncryption says at start whether payloads are encrypted, and with
// which key (its ID, never the key), so that an operator can tell from
// the log that history is protected.
func logEncryption(logger hclog.Logger, s config.CodecSettings) error {
	codec, err := connect.Codec(s)
	if err != nil {
		return err
	}
	if codec == nil {
		logger.Info("payload encryption off: workflow inputs, results and heartbeats are stored in plain JSON (see docs/encryption.md)")
		return nil
	}
	logger.Info("payload encryption on", "keyID", codec.Keyring().ActiveKeyID(), "decryptKeyIDs", strings.Join(codec.Keyring().KeyIDs(), ","))
	return nil
}

func run(args []string) error {
	fs := pflag.NewFlagSet("godwit-worker", pflag.ContinueOnError)
	config.BindFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: godwit-worker [flags]\n\nRuns Migration workflows and their phase activities until SIGINT or SIGTERM.\nSettings come from flags, then GODWIT_* environment variables, then the settings file.\n\nFlags:\n%s", fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		if err == pflag.ErrHelp {
			return nil
		}
		return err
	}
	settings, err := config.LoadSettings(fs)
	if err != nil {
		return err
	}
	// Every secret the worker knows is hidden from its log, in every form:
	// those in its environment and settings now, those phases read later.
	secrets := activities.KnownSecrets()
	activities.AddEnvironmentSecrets(secrets)
	addSettingsSecrets(secrets, settings.Temporal)
	logger := logging.New("godwit-worker", settings.Log, secrets.Writer(os.Stderr))
	if err := logEncryption(logger, settings.Temporal.Codec); err != nil {
		return err
	}
	logger.Info("garbage collector: " + tuneGC() + " (see docs/scale.md)")

	var metrics *workermetrics.Metrics
	var withMetrics []func(*client.Options)
	if settings.Metrics.Listen != "" {
		if metrics, err = workermetrics.New(logger.Named("metrics")); err != nil {
			return err
		}
		withMetrics = append(withMetrics, func(o *client.Options) { o.MetricsHandler = metrics.Handler() })
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := connect.Dial(ctx, settings.Temporal, logger, withMetrics...)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := connect.EnsureSearchAttributes(ctx, c, settings.Temporal.Namespace, workflows.SearchAttributes); err != nil {
		return err
	}

	opts := worker.Options{
		// Phases heartbeat every few seconds; sending them promptly lets a
		// rollback cancel a running phase within seconds.
		MaxHeartbeatThrottleInterval: 2 * time.Second,
		// Finish the running phases' current step on shutdown.
		WorkerStopTimeout: 10 * time.Second,
	}
	if metrics != nil {
		opts.Interceptors = append(opts.Interceptors, metrics.Interceptor())
		addr, stop, err := metrics.Serve(settings.Metrics.Listen)
		if err != nil {
			return err
		}
		defer func() {
			sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer scancel()
			_ = stop(sctx)
		}()
		logger.Info("metrics endpoint started", "url", "http://"+addr+"/metrics")
	}
	w := worker.New(c, settings.Temporal.TaskQueue, opts)
	workflows.Register(w)
	acts := drivers.Activities(logger.Named("activities"))
	if err := injectFaults(acts, logger); err != nil {
		return err
	}
	activities.Register(w, acts)
	logger.Info("worker started", "address", settings.Temporal.Address,
		"namespace", settings.Temporal.Namespace, "taskQueue", settings.Temporal.TaskQueue)
	// worker.InterruptCh closes on SIGINT or SIGTERM; Run then stops polling
	// and waits for in-flight tasks before returning.
	if err := w.Run(worker.InterruptCh()); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	logger.Info("worker stopped")
	return nil
}
