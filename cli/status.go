package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/godwit/godwit/control"
	"github.com/godwit/godwit/migration"
)

const defaultInterval = 2 * time.Second

// queryTimeout bounds the wait for a worker to answer a status query; a
// variable so tests need not wait that long.
var queryTimeout = 10 * time.Second

func (a *app) statusCommand() *cobra.Command {
	var watch bool
	var output string
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "status NAME [--watch] [-o text|json] [--format exec|team|markdown]",
		Short: "Show a migration's live status report",
		Long: `Show the status report of a migration: status, current phase (X of Y),
overall and per-phase progress, metrics, issues, next steps, risk and whether a
rollback is still available. It asks the running workflow (the "status"
query), so it is always current; the same query works in the Temporal UI.

When no worker answers (the worker is down), it prints the migration's last
known state instead, marked "last known at TIME": the summary the run keeps
in its memo at each phase boundary (status, phase, step, gate, last error),
which Temporal serves without a worker. It then exits 1 with the warning.

--format prints the Migration Architect templates instead: exec (executive
summary), team (technical team update) or markdown (both, for a ticket).
Availability and performance impact come from the gateway of the traffic
phase (or --gateway and --gateway-route); a figure that was not measured says
so and why.

For a migration with replicate phases or dual-write (expand phases), the
text status also looks into the stores of its spec (from this machine, with
the DSNs the spec names) for change capture objects and dual-write triggers
(godwit_dw_..., godwit_dwm_...): while it runs, its own are listed; once it has ended
(terminated by hand too), any that remain are a warning with the command
that removes them (godwit cleanup NAME); others' objects are named with the
statement that drops them. --leftovers=false skips the look.`,
		Example: `  godwit status demo
  godwit status demo --watch
  godwit status demo -o json | jq .status
  godwit status demo --format exec
  godwit status demo --format markdown --gateway http://127.0.0.1:9090 --gateway-route users`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("--output %q: use text or json", output)
			}
			if err := a.brief.check(output); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			defer c.Close()
			if watch {
				return a.watch(cmd.Context(), c, args[0], output, interval)
			}
			rep, err := a.queryStatus(cmd.Context(), c, args[0])
			if err != nil {
				if errors.Is(err, control.ErrNoReport) && output == "text" && a.brief.format == "" {
					a.leftoversWithoutReport(cmd.Context(), c, args[0])
				}
				return a.lastKnown(err, output)
			}
			return a.render(cmd.Context(), c, rep, output)
		},
	}
	a.brief.bindFlags(cmd)
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "refresh until the migration ends")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.Flags().DurationVar(&interval, "interval", defaultInterval, "refresh interval with --watch")
	cmd.Flags().BoolVar(&a.leftovers, "leftovers", true,
		"look into the spec's stores for change capture objects (replication slots, triggers) and dual-write triggers, and warn about any an ended run left")
	return cmd
}

func (a *app) render(ctx context.Context, c client.Client, rep *migration.Report, output string) error {
	if a.brief.format != "" {
		return a.renderBrief(ctx, c, rep)
	}
	if output == "json" {
		enc := json.NewEncoder(a.out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	renderTextGate(a.out, rep, time.Now(), a.gateLag(ctx, c, rep))
	if a.leftovers {
		if scan, ok := a.scanLeftovers(ctx, c, rep.Name); ok {
			renderLeftovers(a.out, rep.Name, string(rep.Status), rep.Status.Final(), scan)
		}
	}
	return nil
}

// leftoversWithoutReport shows what a run that ended without a report
// (terminated by hand, timed out) left in its stores: nothing undid it.
func (a *app) leftoversWithoutReport(ctx context.Context, c client.Client, name string) {
	if !a.leftovers {
		return
	}
	desc, err := c.DescribeWorkflowExecution(ctx, name, "")
	st := desc.GetWorkflowExecutionInfo().GetStatus()
	if err != nil || st == enums.WORKFLOW_EXECUTION_STATUS_RUNNING || st == enums.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED {
		return
	}
	if scan, ok := a.scanLeftovers(ctx, c, name); ok {
		renderLeftovers(a.out, name, control.EndedOutside(st), true, scan)
	}
}

// watch re-renders the report until the migration reaches a final status.
func (a *app) watch(ctx context.Context, c client.Client, name, output string, interval time.Duration) error {
	tty := isTerminal(a.out)
	for {
		rep, err := a.queryStatus(ctx, c, name)
		if err != nil {
			return a.lastKnown(err, output)
		}
		if tty && output == "text" {
			fmt.Fprint(a.out, "\033[H\033[2J")
		}
		// The stores are looked into once, at the end, not every refresh.
		want := a.leftovers
		a.leftovers = want && rep.Status.Final()
		err = a.render(ctx, c, rep, output)
		a.leftovers = want
		if err != nil {
			return err
		}
		if rep.Status.Final() {
			if rep.Status != migration.StatusCompleted {
				return &exitError{code: 2, msg: fmt.Sprintf("migration %s ended %s", name, rep.Status)}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// queryStatus returns the report of the migration's latest run, as
// control reads it for every caller.
func (a *app) queryStatus(ctx context.Context, c client.Client, name string) (*migration.Report, error) {
	return a.migrations(c).Status(ctx, name)
}

// migrations reads and steers migrations through c.
func (a *app) migrations(c client.Client) control.Migrations {
	ns := ""
	if a.settings != nil {
		ns = a.settings.Temporal.Namespace
	}
	return control.Migrations{Client: c, DC: a.dc, Namespace: ns, QueryTimeout: queryTimeout}
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// lastKnown prints the last known summary a *control.NoWorkerError
// carries, marked with its time, and returns err: the status is not live,
// so the command still fails (exit 1).
func (a *app) lastKnown(err error, output string) error {
	var nw *control.NoWorkerError
	if !errors.As(err, &nw) {
		return err
	}
	if nw.LastKnown == nil {
		if nw.LastKnownProblem != "" {
			return fmt.Errorf("%w\nthe last known state cannot be shown: %s", err, nw.LastKnownProblem)
		}
		return err
	}
	if output == "json" {
		enc := json.NewEncoder(a.out)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(struct {
			LastKnown *migration.Summary `json:"lastKnown"`
			Warning   string             `json:"warning"`
		}{nw.LastKnown, err.Error()}); jerr != nil {
			return jerr
		}
		return err
	}
	renderLastKnown(a.out, nw.Name, *nw.LastKnown)
	return err
}

// renderLastKnown writes a summary kept in the run's memo, marked as last
// known with its time.
func renderLastKnown(w io.Writer, name string, s migration.Summary) {
	fmt.Fprintf(w, "Migration %s — last known at %s (no worker answers: this is the state at the last phase boundary, not live)\n",
		name, s.UpdatedAt.UTC().Format(time.RFC3339))
	for _, l := range s.Lines() {
		fmt.Fprintf(w, "  %s\n", l)
	}
}

// gateLag is the requireLag of the gate rep waits at, read from the run's
// spec: status then says the approval is refused until the lag is under
// it. 0 when the run waits at no such gate or its spec cannot be read.
func (a *app) gateLag(ctx context.Context, c client.Client, rep *migration.Report) time.Duration {
	if rep.Status != migration.StatusWaitingApproval || rep.WaitingGate == "" {
		return 0
	}
	spec, _ := a.runSpec(ctx, c, rep.Name)
	if spec == nil {
		return 0
	}
	for _, p := range spec.Phases {
		if p.Approval != nil && p.Approval.Gate == rep.WaitingGate {
			return p.Approval.RequireLag.D()
		}
	}
	return 0
}
