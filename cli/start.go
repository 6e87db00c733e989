package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/control"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/plan"
	"github.com/godwit/godwit/workflows"
)

func (a *app) validateCommand() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:     "validate -f SPEC",
		Short:   "Check a migration spec offline, listing every problem with its field path",
		Example: `  godwit validate -f examples/demo.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := config.LoadSpec(file)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "%s: spec is valid\n", file)
			describeSpec(a, spec)
			printWarnings(a, spec)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "migration spec (YAML)")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

// printWarnings says what the spec's check found valid but likely not
// meant (config.Spec.Warnings), on the error stream.
func printWarnings(a *app, spec *config.Spec) {
	for _, w := range spec.Warnings() {
		fmt.Fprintln(a.errOut, "godwit: warning: "+w)
	}
}

func describeSpec(a *app, spec *config.Spec) {
	fmt.Fprintf(a.out, "migration %s: %s\n", spec.Name, migration.Count(len(spec.Phases), "phase"))
	for _, line := range spec.Outline() {
		fmt.Fprintln(a.out, "  "+line)
	}
}

func (a *app) startCommand() *cobra.Command {
	var file string
	var wait, watch, dry bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "start -f SPEC [--wait | --watch | --dry-run]",
		Short: "Start a migration (workflow ID = the spec's name)",
		Long: `Start a migration from its spec. The spec is validated first; nothing starts
if it has a problem. A migration whose name is already running is refused.

A migration that would drive a resource (tables, a route, a workspace)
held by another running migration is refused, naming the holder. A store's
tables are leased by the database's identity, which only a worker can read:
start checks routes and workspaces itself, and a run whose tables are held
(under any DSN naming that database) stops before its first phase; --dry-run
asks a worker and checks them all.

With --wait, godwit waits for the end and exits 0 only if the migration
COMPLETED (2 if it was rolled back or failed). With --watch, it shows the live
status until the end. With --dry-run, nothing starts: the spec is checked,
every phase's preflight runs on a worker (as godwit preflight does) and the
resources' leases are checked; exit 2 if anything would stop the migration.`,
		Example: `  godwit start -f examples/demo.yaml
  godwit start -f examples/demo.yaml --watch
  godwit start -f examples/demo.yaml --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := config.LoadSpec(file)
			if err != nil {
				return err
			}
			printWarnings(a, spec)
			c, err := a.client()
			if err != nil {
				return err
			}
			defer c.Close()
			if dry {
				return a.dryRun(cmd.Context(), c, spec)
			}
			held, err := a.leaseHolders(cmd.Context(), c, spec, nil)
			if err != nil {
				return err
			}
			if len(held) > 0 {
				return fmt.Errorf("migration %s not started:\n  %s", spec.Name, strings.Join(held, "\n  "))
			}
			run, err := a.start(cmd.Context(), c, spec)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "started migration %s (run %s) on task queue %s\n", spec.Name, run.GetRunID(), a.taskQueue(spec))
			a.warnIfNoWorker(cmd.Context(), c, a.taskQueue(spec))
			ctx := cmd.Context()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			var werr error
			switch {
			case watch:
				werr = a.watch(ctx, c, spec.Name, "text", defaultInterval)
			case wait:
				werr = a.waitResult(ctx, run)
			default:
				fmt.Fprintf(a.out, "follow it:  godwit status %s --watch\n", spec.Name)
				return nil
			}
			if errors.Is(werr, context.DeadlineExceeded) && ctx.Err() != nil && cmd.Context().Err() == nil {
				status := "still running"
				if rep, err := a.queryStatus(cmd.Context(), c, spec.Name); err == nil {
					status = "still " + string(rep.Status)
				}
				return &exitError{code: 2, msg: fmt.Sprintf("migration %s is %s after %s; it goes on: godwit status %s", spec.Name, status, timeout, spec.Name)}
			}
			return werr
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "migration spec (YAML)")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the migration to end; exit 0 only if it COMPLETED")
	cmd.Flags().BoolVar(&watch, "watch", false, "show the live status until the migration ends")
	_ = cmd.MarkFlagRequired("file")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "with --wait or --watch: stop waiting after this long (exit 2); the migration goes on, e.g. while ROLLBACK_BLOCKED waits for a person")
	cmd.Flags().BoolVar(&dry, "dry-run", false, "check everything (spec, preflight on a worker, leases) and start nothing")
	cmd.MarkFlagsMutuallyExclusive("wait", "watch", "dry-run")
	return cmd
}

// warnIfNoWorker tells the user when no worker polls the task queue: the
// migration would wait silently, the most common first-run surprise.
func (a *app) warnIfNoWorker(ctx context.Context, c client.Client, queue string) {
	resp, err := c.DescribeTaskQueue(ctx, queue, enums.TASK_QUEUE_TYPE_WORKFLOW)
	if err != nil {
		a.logger.Debug("describe task queue", "queue", queue, "error", err)
		return
	}
	if len(resp.GetPollers()) == 0 {
		fmt.Fprintf(a.errOut, "warning: no worker is polling task queue %s, so the migration waits until one does: start godwit-worker (with --task-queue %s)\n", queue, queue)
	}
}

func (a *app) taskQueue(spec *config.Spec) string {
	if spec.TaskQueue != "" {
		return spec.TaskQueue
	}
	return a.settings.Temporal.TaskQueue
}

func (a *app) start(ctx context.Context, c client.Client, spec *config.Spec) (client.WorkflowRun, error) {
	opts := client.StartWorkflowOptions{
		ID:        spec.Name,
		TaskQueue: a.taskQueue(spec),
		// One live run per migration name; a finished one may be run again.
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		// Without this the SDK quietly hands back the running execution.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.SearchAttrPhase.ValueSet("none"),
			workflows.SearchAttrStatus.ValueSet(string(migration.StatusInProgress)),
		),
		StaticSummary: spec.Description,
		// Shown in the Temporal UI beside the run: its plan (phases with
		// estimate, risk and rollback step), bounded in size.
		StaticDetails: plan.FromSpec(spec, plan.Options{}).Details(plan.DefaultDetailsBytes),
	}
	// The plan is made here, once: the run decides with it and never asks
	// a driver, so a worker upgraded later runs it as planned.
	plan := config.PlanSpec(spec)
	run, err := c.ExecuteWorkflow(ctx, opts, workflows.WorkflowName, workflows.Input{Spec: *spec, Plan: &plan})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	var invalid *serviceerror.InvalidArgument
	switch {
	case errors.As(err, &started):
		if st := a.endedStatus(ctx, c, spec.Name, started.RunId); st != "" {
			return nil, fmt.Errorf("migration %q ended %s, but its run %s is still closing (releasing its leases, a minute or more with hundreds of tables): start it again once it has closed; `temporal workflow describe -w %s` shows when",
				spec.Name, st, started.RunId, spec.Name)
		}
		return nil, fmt.Errorf("migration %q is already running (run %s): follow it with `godwit status %s --watch`, or roll it back first",
			spec.Name, started.RunId, spec.Name)
	case errors.As(err, &invalid) && strings.Contains(invalid.Error(), "search attribute"):
		return nil, fmt.Errorf("start migration %s: %w\nthe namespace lacks Godwit's search attributes: start godwit-worker once (it registers them) or run: temporal operator search-attribute create --name MigrationPhase --type Keyword --name MigrationStatus --type Keyword --name ReplicationLag --type Double", spec.Name, err)
	case err != nil:
		return nil, fmt.Errorf("start migration %s: %w", spec.Name, err)
	}
	return run, nil
}

// endedStatus is the final status a still-open run has already reached
// (its memo's), or "" when it has not ended or cannot be read. A run that
// held many leases stays open for a while after it ended, releasing them.
func (a *app) endedStatus(ctx context.Context, c client.Client, name, runID string) migration.Status {
	desc, err := c.DescribeWorkflowExecution(ctx, name, runID)
	if err != nil {
		return ""
	}
	sum, err := control.MemoSummary(a.dc, desc.GetWorkflowExecutionInfo().GetMemo())
	if err != nil || sum == nil || !sum.Status.Final() {
		return ""
	}
	return sum.Status
}

// waitResult waits for the run's end and prints its final report.
func (a *app) waitResult(ctx context.Context, run client.WorkflowRun) error {
	rep, err := control.FinalReport(ctx, run)
	if err != nil {
		return err
	}
	renderText(a.out, rep, rep.UpdatedTime)
	if rep.Status != migration.StatusCompleted {
		return &exitError{code: 2, msg: fmt.Sprintf("migration %s ended %s: %s", run.GetID(), rep.Status, rep.Error)}
	}
	return nil
}
