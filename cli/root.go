// Package cli is the `godwit` command line: validate and start migrations,
// watch them, and steer them with pause, resume, approve and rollback.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/connect"

	// Every driver's spec section registers itself: specs that use them parse.
	_ "github.com/godwit/godwit/drivers"
	"github.com/godwit/godwit/logging"
)

// app carries what every command needs; commands get it, never globals.
type app struct {
	out, errOut io.Writer
	// dryRunVerb heads each object cleanup --dry-run lists: "would
	// remove", or "in use" for a running migration's.
	dryRunVerb string
	cmd        *cobra.Command
	settings   *config.Settings
	logger     hclog.Logger
	// dial is swappable so tests can point the CLI at their own server.
	dial func(ctx context.Context) (client.Client, error)
	// dc decodes payloads the CLI reads itself from history and
	// descriptions: the same converter the dialled client uses, so it
	// decrypts when payload encryption is on.
	dc converter.DataConverter
	// brief holds `status --format`'s options.
	brief briefOptions
	// specCache holds the spec of the run a status command reads.
	specCache *cachedSpec
	// leftovers makes a text status look for change capture objects.
	leftovers bool
}

// NewRootCommand returns the `godwit` command with all its subcommands.
func NewRootCommand(out, errOut io.Writer) *cobra.Command {
	return newRootCommand(&app{out: out, errOut: errOut})
}

// newRootCommand builds the command tree around a; a.out and a.errOut must
// be set. Tests set a.dial beforehand to keep the CLI off a real server.
func newRootCommand(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "godwit",
		Short: "Move a live system from a legacy service and database to a new one, phase by phase",
		Long: `Godwit runs a migration as a durable Temporal workflow: an ordered list of
named phases (validate first, then provision, copy, reconcile, shift-traffic
in the order the spec gives, a kind may repeat; decommission last), each
done by a driver (hook, provision, copy, replicate, cutover, reconcile,
retire, traffic, terraform, compat, expand/backfill/contract; mappings:
rename and reshape tables on the way, docs/mapping.md). Every completed
phase registers a compensation; a failure, a failed gate or a rollback
request undoes them in reverse order. The first decommission to start is
the point of no return.

The phases run on a worker, a program of its own: godwit-worker (go build
-o bin/godwit-worker ./worker), started with the same settings as this
command (--address, --task-queue ...) where it can reach the databases;
the worker reads the stores' DSNs from its own environment (the variables
the spec names), so set them there. The traffic and cutover drivers move
routes of godwit-gateway, the traffic plane, a program of its own as well
(go build -o bin/godwit-gateway ./gateway/cmd/godwit-gateway;
docs/gateway.md); the worker reads its admin token (gateway.token) from
its own environment too.

A migration is a YAML spec (see examples/live-demo.yaml and README.md).
Typical session:

  godwit validate -f spec.yaml          check the spec offline
  godwit start -f spec.yaml --dry-run   run every preflight on a worker, start nothing
  godwit start -f spec.yaml             start it (workflow ID = spec name)
  godwit status NAME --watch            follow it live (--format exec|team|markdown)
  godwit pause NAME / godwit resume NAME
  godwit approve NAME --gate GATE       open a manual gate
  godwit rollback NAME --reason "..."   undo everything done so far
  godwit rollback NAME --retry          unblock a rollback whose compensation failed
  godwit list                           every migration and its status
  godwit dashboard                      the same in a browser, with charts and actions
  godwit output NAME [PHASE]            what the phases' hooks printed

Settings (Temporal address, namespace, task queue, TLS, logging) come from
flags, then GODWIT_* environment variables, then a settings file
(--config, $GODWIT_CONFIG or ./godwit.yaml).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			a.cmd = cmd
			s, err := config.LoadSettings(cmd.Flags())
			if err != nil {
				return err
			}
			a.settings = s
			logSettings := s.Log
			if !cmd.Flags().Changed("log-level") {
				// The CLI's own logs are for debugging; keep the terminal
				// for results unless asked.
				logSettings.Level = "warn"
			}
			a.logger = logging.New("godwit", logSettings, a.errOut)
			if a.dc, err = connect.DataConverter(s.Temporal.Codec); err != nil {
				return err
			}
			if a.dial == nil {
				a.dial = func(ctx context.Context) (client.Client, error) {
					return connect.Dial(ctx, s.Temporal, a.logger)
				}
			}
			return nil
		},
	}
	root.SetOut(a.out)
	root.SetErr(a.errOut)
	config.BindFlags(root.PersistentFlags())
	// --metrics-listen is the worker's (godwit-worker): the CLI serves no
	// metrics, so it does not offer it.
	_ = root.PersistentFlags().MarkHidden("metrics-listen")
	// The CLI logs at warn unless --log-level is given (PersistentPreRunE);
	// the settings' "info" default is the worker's, so the CLI's help says so.
	if f := root.PersistentFlags().Lookup("log-level"); f != nil {
		f.Usage = "log level of this command: trace, debug, info, warn, error (default \"warn\"; GODWIT_LOG_LEVEL and log.level set the worker's, not the CLI's)"
	}
	root.AddCommand(
		a.validateCommand(), a.startCommand(), a.statusCommand(),
		a.pauseCommand(), a.resumeCommand(), a.approveCommand(),
		a.rollbackCommand(), a.listCommand(), a.outputCommand(),
		a.codecServerCommand(), a.preflightCommand(), a.promoteCommand(), a.setWeightCommand(), a.throttleCommand(),
		a.checkCompatCommand(), a.schemaCommand(), a.planCommand(), a.runbookCommand(), a.initCommand(),
		a.reconcileCommand(), a.diffCommand(), a.cleanupCommand(), a.dashboardCommand(),
	)
	for _, cmd := range root.Commands() {
		switch cmd.Name() {
		case "status", "pause", "resume", "approve", "rollback", "output", "promote", "set-weight", "throttle", "cleanup":
			a.suggestNames(cmd)
		}
	}
	return root
}

// Execute runs the CLI and returns the process exit code.
func Execute() int {
	root := NewRootCommand(os.Stdout, os.Stderr)
	if err := root.Execute(); err != nil {
		var exit *exitError
		if errors.As(err, &exit) {
			if exit.msg != "" {
				fmt.Fprintln(os.Stderr, "godwit:", exit.msg)
			}
			return exit.code
		}
		fmt.Fprintln(os.Stderr, "godwit:", err)
		return 1
	}
	return 0
}

// exitError ends the CLI with a given exit code, e.g. 2 for a migration
// that did not complete when --wait was given.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// client dials Temporal with a bounded wait.
func (a *app) client() (client.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return a.dial(ctx)
}

// whoami names the person steering a migration, for the audit trail in
// the report and history.
func whoami() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if v := os.Getenv("USER"); v != "" {
		return v
	}
	return "unknown"
}
