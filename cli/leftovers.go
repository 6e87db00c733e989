package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/control"
	"github.com/godwit/godwit/drivers/replicate"
	"github.com/godwit/godwit/migration"
)

// leftoverTimeout bounds the look into the stores that `godwit status`
// adds: a slow store must not hold the status up for long.
const leftoverTimeout = 20 * time.Second

// scanLeftovers looks for change capture objects in the stores of the
// run's spec, from this machine, with the DSNs the spec names. ok is
// false when the migration creates none (no replicate phase) or its spec
// cannot be read.
func (a *app) scanLeftovers(ctx context.Context, c client.Client, name string) (replicate.Scan, bool) {
	spec, _ := a.runSpec(ctx, c, name)
	if spec == nil || !replicate.UsesCapture(spec) {
		return replicate.Scan{}, false
	}
	ctx, cancel := context.WithTimeout(ctx, leftoverTimeout)
	defer cancel()
	return replicate.FindLeftovers(ctx, spec, spec.Name), true
}

// renderLeftovers writes what scan found after a text status: while the
// migration runs its own objects are in use (information); once it has
// ended they are leftovers (a warning, with the command that removes
// them). Other captures' objects are named with their drop statements.
func renderLeftovers(w io.Writer, rep *migration.Report, scan replicate.Scan) {
	ours, others := scan.Ours(), scan.Others()
	if len(ours)+len(others)+len(scan.Problems) == 0 {
		return
	}
	fmt.Fprintln(w, "\nChange capture")
	if len(ours) > 0 && !rep.Status.Final() {
		fmt.Fprintf(w, "  in use by this migration (%s), removed by its stop phase or its rollback:\n", rep.Status)
		for _, l := range ours {
			fmt.Fprintf(w, "    · %s (%s): %s\n", l.Store, l.Engine, l.Object)
		}
	}
	if len(ours) > 0 && rep.Status.Final() {
		fmt.Fprintf(w, "  ⚠ WARNING: the migration ended %s but its change capture objects remain "+
			"(an unused replication slot retains WAL until the disk fills; triggers slow every write):\n", rep.Status)
		for _, l := range ours {
			fmt.Fprintf(w, "    ⚠ %s (%s): %s\n", l.Store, l.Engine, l.Object)
		}
		fmt.Fprintf(w, "    remove them: godwit cleanup %s   (--dry-run lists them without removing)\n", rep.Name)
	}
	if len(others) > 0 {
		fmt.Fprintln(w, "  ⚠ WARNING: objects of another change capture (not this migration's; owner unknown):")
		for _, l := range others {
			fmt.Fprintf(w, "    ⚠ %s (%s): %s — once sure no migration uses it: %s\n", l.Store, l.Engine, l.Object, l.Drop)
		}
		fmt.Fprintln(w, "    (`godwit cleanup OTHER` removes a capture of migration OTHER; `godwit list` shows the migrations)")
	}
	for _, p := range scan.Problems {
		fmt.Fprintf(w, "  ? %s\n", p)
	}
}

func (a *app) cleanupCommand() *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "cleanup NAME [--dry-run]",
		Short: "Remove the change capture objects an ended migration left in its stores",
		Long: `Remove what a migration's change capture left behind once the migration has
ended (completed, rolled back, failed): replication slots and publications
(PostgreSQL logical replication), changelog tables, triggers and trigger
functions. They are found by the name Godwit gave them, in every store of
the spec the run started with, from this machine, with the DSNs the spec
names (the variables or files must exist here, as for the worker).

A running migration's capture is in use: cleanup refuses it (its stop phase
or its rollback removes it). Objects of other captures are never removed;
they are listed with the statement that drops them.

--dry-run lists what would be removed, and removes nothing.`,
		Example: `  godwit cleanup cdc-demo --dry-run
  godwit cleanup cdc-demo`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			defer c.Close()
			return a.cleanup(cmd.Context(), c, args[0], dryRun)
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list the objects, remove nothing")
	return cmd
}

func (a *app) cleanup(ctx context.Context, c client.Client, name string, dryRun bool) error {
	desc, err := c.DescribeWorkflowExecution(ctx, name, "")
	if err != nil {
		return control.Explain(name, err)
	}
	if desc.GetWorkflowExecutionInfo().GetStatus() == enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return fmt.Errorf("migration %s is running: its change capture is in use (its stop phase or its rollback removes it); "+
			"cleanup is for a migration that has ended", name)
	}
	spec, note := a.runSpec(ctx, c, name)
	if spec == nil {
		return fmt.Errorf("migration %s: %s", name, note)
	}
	scan := replicate.FindLeftovers(ctx, spec, spec.Name)
	for _, p := range scan.Problems {
		fmt.Fprintf(a.errOut, "godwit: %s\n", p)
	}
	ours := scan.Ours()
	for _, l := range scan.Others() {
		fmt.Fprintf(a.out, "left alone (another capture): %s %s — %s\n", l.Store, l.Object, l.Drop)
	}
	if len(ours) == 0 {
		fmt.Fprintf(a.out, "no change capture object of migration %s in %s\n", name, storeList(spec))
		return a.cleanupProblems(scan)
	}
	if dryRun {
		for _, l := range ours {
			fmt.Fprintf(a.out, "would remove: %s %s\n", l.Store, l.Object)
		}
		return a.cleanupProblems(scan)
	}
	dropped, err := replicate.Cleanup(ctx, spec, spec.Name, ours)
	for _, store := range slices.Sorted(maps.Keys(dropped)) {
		for _, o := range dropped[store] {
			fmt.Fprintf(a.out, "removed: %s %s\n", store, o)
		}
	}
	if err != nil {
		return fmt.Errorf("cleanup of migration %s: %w", name, err)
	}
	return a.cleanupProblems(scan)
}

// cleanupProblems fails the command when a store could not be looked
// into: what it holds is unknown.
func (a *app) cleanupProblems(scan replicate.Scan) error {
	if len(scan.Problems) > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%d store(s) could not be checked (above)", len(scan.Problems))}
	}
	return nil
}

func storeList(spec *config.Spec) string {
	return "stores " + strings.Join(sortedStoreNames(spec.Stores), ", ")
}
