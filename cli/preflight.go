package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/drivers/stores"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

// preflightWait bounds how long the CLI waits for a worker to run the
// checks: long enough for a worker that is starting, short enough to tell
// a person that none is there.
const preflightWait = 3 * time.Minute

func (a *app) preflightCommand() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "preflight -f SPEC",
		Short: "Run every phase's preflight checks on a worker, changing nothing",
		Long: `Check, before anything changes, that a migration can run: the spec is
valid, every phase's driver finds what it needs from a worker (programs,
directories, secrets, databases reachable with the privileges it needs,
gateway routes, Terraform modules), and no running migration holds the
resources this one would drive.

The checks run on a worker of the spec's task queue, as a short Preflight
workflow, so they see what the workers see: their network, files and
environment. The validate phase of a migration runs the same checks
before its first step. Exits 0 when all is well, 2 when a check found a
problem (each is listed), 1 when the checks could not run.`,
		Example: `  godwit preflight -f examples/demo.yaml
  godwit start -f examples/demo.yaml --dry-run    # the same, as part of start`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := config.LoadSpec(file)
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			defer c.Close()
			return a.dryRun(cmd.Context(), c, spec)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "migration spec (YAML)")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

// dryRun runs the preflight and the lease check and reports both; it
// returns an exitError with code 2 when either found a problem.
func (a *app) dryRun(ctx context.Context, c client.Client, spec *config.Spec) error {
	fmt.Fprintf(a.out, "spec %s is valid: %s\n", spec.Name, migration.Count(len(spec.Phases), "phase"))
	res, err := a.runPreflight(ctx, c, spec)
	if err != nil {
		return err
	}
	held, err := a.leaseHolders(ctx, c, spec, res.Leases)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.out, "preflight ran on worker %s\n", res.Worker)
	if n := writeProblems(a.out, res.Problems, held); n > 0 {
		return &exitError{code: 2, msg: fmt.Sprintf("preflight of %s found %d problem(s); nothing was started", spec.Name, n)}
	}
	fmt.Fprintf(a.out, "  ✓ every phase's checks passed")
	if rs := spec.AllResources(); len(rs) > 0 {
		fmt.Fprintf(a.out, "; resources free: %d", len(rs))
	}
	fmt.Fprintln(a.out)
	return nil
}

// writeProblems lists the preflight's problems, each once with the phases
// that found it, and the leases held; it returns how many it listed.
func writeProblems(w io.Writer, ps []activities.Problem, held []string) int {
	problems := activities.GroupProblems(ps)
	for _, p := range problems {
		fmt.Fprintf(w, "  ✗ %s: %s\n", p.Where(), p.Message)
	}
	for _, h := range held {
		fmt.Fprintf(w, "  ✗ %s\n", h)
	}
	return len(problems) + len(held)
}

// runPreflight runs the Preflight workflow on a worker of the spec's task
// queue and waits for its result.
func (a *app) runPreflight(ctx context.Context, c client.Client, spec *config.Spec) (activities.PreflightResult, error) {
	var res activities.PreflightResult
	queue := a.taskQueue(spec)
	ctx, cancel := context.WithTimeout(ctx, preflightWait)
	defer cancel()
	a.warnIfNoWorker(ctx, c, queue)
	id := fmt.Sprintf("%s%s-%d", workflows.PreflightIDPrefix, spec.Name, time.Now().UnixNano())
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: queue, WorkflowExecutionTimeout: preflightWait,
		StaticSummary: "preflight of migration " + spec.Name,
	}, workflows.PreflightWorkflowName, activities.PreflightInput{Spec: *spec, Leases: true})
	if err != nil {
		return res, fmt.Errorf("start preflight of %s: %w", spec.Name, err)
	}
	if err := run.Get(ctx, &res); err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return res, fmt.Errorf("preflight of %s: no worker ran it within %s: start godwit-worker on task queue %s", spec.Name, preflightWait, queue)
		}
		return res, fmt.Errorf("preflight of %s: %w", spec.Name, err)
	}
	return res, nil
}

// leaseHolders says, for each resource of the spec held by another running
// migration, which one holds it. leases are the spec's leases as a worker
// keyed them (a preflight's); without them (a plain start, which asks no
// worker) only what needs no I/O is checked: every resource's old-form
// lease, and the keyed lease of each resource that is not a store's table
// (a store's identity is read on a worker; the run's own start checks it,
// atomically).
func (a *app) leaseHolders(ctx context.Context, c client.Client, spec *config.Spec, leases []activities.LeaseResource) ([]string, error) {
	if leases == nil {
		for _, res := range spec.AllResources() {
			l := activities.LeaseResource{ID: activities.LeaseKeyID(res), Name: res, Legacy: []string{res}}
			if _, _, ok := stores.ParseResource(spec, res); ok {
				l.ID = ""
			}
			leases = append(leases, l)
		}
	}
	var held []string
	for _, l := range leases {
		ids := make([]string, 0, len(l.Legacy)+1)
		if l.ID != "" {
			ids = append(ids, l.ID)
		}
		for _, old := range l.Legacy {
			ids = append(ids, activities.LeaseWorkflowID(old))
		}
		for _, id := range ids {
			holder, err := runningHolder(ctx, c, spec, id)
			if err != nil {
				return nil, fmt.Errorf("check lease on %s: %w", l.Name, err)
			}
			if holder != "" {
				held = append(held, fmt.Sprintf("resource %s is held by migration %s, which is running: wait for it to end (godwit status %s --watch) or roll it back",
					l.Name, holder, holder))
				break
			}
		}
	}
	return held, nil
}

// runningHolder is the running migration, other than spec's, that holds
// the lease workflow id; "" when none does.
func runningHolder(ctx context.Context, c client.Client, spec *config.Spec, id string) (string, error) {
	ref, running, err := activities.LeaseHolderOf(ctx, c, id)
	if err != nil || !running {
		return "", err
	}
	holder := ref.Workflow
	if holder == "" || holder == spec.Name {
		return "", nil // an earlier run of this migration: its start settles it
	}
	hd, err := c.DescribeWorkflowExecution(ctx, holder, "")
	if err == nil && hd.GetWorkflowExecutionInfo().GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return "", nil // stale: the next start clears it
	}
	return holder, nil
}
