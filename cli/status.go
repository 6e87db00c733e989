package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
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

--format prints the Migration Architect templates instead: exec (executive
summary), team (technical team update) or markdown (both, for a ticket).
Availability and performance impact come from the gateway of the traffic
phase (or --gateway and --gateway-route); a figure that was not measured says
so and why.

For a migration with replicate phases, the text status also looks into the
stores of its spec (from this machine, with the DSNs the spec names) for
change capture objects: while it runs, its own are listed; once it has
ended, any that remain are a warning with the command that removes them
(godwit cleanup NAME); another capture's objects are named with the
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
				return err
			}
			return a.render(cmd.Context(), c, rep, output)
		},
	}
	a.brief.bindFlags(cmd)
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "refresh until the migration ends")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.Flags().DurationVar(&interval, "interval", defaultInterval, "refresh interval with --watch")
	cmd.Flags().BoolVar(&a.leftovers, "leftovers", true,
		"look into the spec's stores for change capture objects (replication slots, triggers) and warn about any an ended run left")
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
	renderText(a.out, rep, time.Now())
	if a.leftovers {
		if scan, ok := a.scanLeftovers(ctx, c, rep.Name); ok {
			renderLeftovers(a.out, rep, scan)
		}
	}
	return nil
}

// watch re-renders the report until the migration reaches a final status.
func (a *app) watch(ctx context.Context, c client.Client, name, output string, interval time.Duration) error {
	tty := isTerminal(a.out)
	for {
		rep, err := a.queryStatus(ctx, c, name)
		if err != nil {
			return err
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

// queryStatus returns the report of the migration's latest run. A running
// migration answers the status query; an ended one is read from its
// result, which needs no worker.
func (a *app) queryStatus(ctx context.Context, c client.Client, name string) (*migration.Report, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	desc, err := c.DescribeWorkflowExecution(ctx, name, "")
	if err != nil {
		return nil, explain(name, err)
	}
	if desc.GetWorkflowExecutionInfo().GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return finalReport(ctx, c.GetWorkflow(ctx, name, ""))
	}
	// A query is answered by a worker; without one it would wait for ever.
	qctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	v, err := c.QueryWorkflow(qctx, name, "", workflows.QueryStatus)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(qctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("migration %s is running but no worker answered its status query within %s: is godwit-worker running on task queue %s?",
				name, queryTimeout, desc.GetExecutionConfig().GetTaskQueue().GetName())
		}
		return nil, explain(name, err)
	}
	var rep migration.Report
	if err := v.Get(&rep); err != nil {
		return nil, explainDecode(fmt.Errorf("decode status of %s: %w", name, err))
	}
	if live, ok := liveProgress(a.dc, desc.GetPendingActivities()); ok {
		rep.MergeLive(live, time.Now())
	}
	return &rep, nil
}

// liveProgress reads the running phase activity's heartbeat and retry state
// from the workflow's description. A migration runs one phase activity at a
// time, besides the bounded replications of a follower (their IDs start
// with workflows.FollowActivityPrefix), so the first other phase activity
// found is the current phase's. dc
// decodes the heartbeat and, when encryption is on, the failure's message.
func liveProgress(dc converter.DataConverter, pending []*workflowpb.PendingActivityInfo) (migration.Live, bool) {
	for _, pa := range pending {
		switch pa.GetActivityType().GetName() {
		case activities.RunPhaseName, activities.CompensatePhaseName:
		default:
			continue
		}
		if strings.HasPrefix(pa.GetActivityId(), workflows.FollowActivityPrefix) {
			continue // a replication beside the phase (requireLag, background)
		}
		live := migration.Live{Attempt: int(pa.GetAttempt())}
		if pa.GetHeartbeatDetails() != nil {
			var hb activities.Heartbeat
			if err := dc.FromPayloads(pa.GetHeartbeatDetails(), &hb); err == nil {
				live.Percent, live.Records, live.Detail, live.Host = hb.Percent, hb.Records, hb.Detail, hb.Host
			}
		}
		if f := pa.GetLastFailure(); f != nil && pa.GetAttempt() > 1 {
			live.LastFailure = failureMessage(dc, f)
		}
		return live, true
	}
	return migration.Live{}, false
}

// finalReport waits for the run's end and returns the report it left as
// its result or as its failure's details. It needs no worker.
func finalReport(ctx context.Context, run client.WorkflowRun) (_ *migration.Report, err error) {
	defer func() { err = explainDecode(err) }()
	var rep migration.Report
	err = run.Get(ctx, &rep)
	if err == nil {
		return &rep, nil
	}
	if final, ok := workflows.ReportFromError(err); ok {
		return final, nil
	}
	derr := undecryptable(err)
	if derr == nil {
		derr = undecodableDetails(err)
	}
	if derr != nil {
		return nil, fmt.Errorf("migration %s ended, but its report cannot be decoded: %w", run.GetID(), derr)
	}
	return nil, fmt.Errorf("migration %s ended without a report (terminated or timed out outside Godwit): %w", run.GetID(), err)
}

// explain turns Temporal's errors about a missing workflow into advice.
func explain(name string, err error) error {
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return fmt.Errorf("no migration named %q in this namespace: see `godwit list`", name)
	}
	return fmt.Errorf("migration %s: %w", name, err)
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// undecodableDetails returns the error decoding err's details when they
// are encrypted and cannot be decrypted.
func undecodableDetails(err error) error {
	var rep migration.Report
	var appErr *temporal.ApplicationError
	var canceled *temporal.CanceledError
	switch {
	case errors.As(err, &appErr) && appErr.HasDetails():
		return undecryptable(appErr.Details(&rep))
	case errors.As(err, &canceled) && canceled.HasDetails():
		return undecryptable(canceled.Details(&rep))
	}
	return nil
}

// explainDecode says what to do about payloads this CLI cannot decode
// because they are encrypted and it has no keyring. (With a keyring that
// lacks the key, the codec's own error already names the key.)
func explainDecode(err error) error {
	if errors.Is(err, converter.ErrEncodingIsNotSupported) {
		return fmt.Errorf("%w\nthe migration's payloads are encrypted: give this CLI the keyring the worker uses, "+
			"with --codec-keys-file or --codec-keys-env (see docs/encryption.md)", err)
	}
	return err
}
