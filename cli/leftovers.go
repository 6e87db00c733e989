package cli

import (
	"cmp"
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
	"github.com/godwit/godwit/drivers/expand"
	"github.com/godwit/godwit/drivers/replicate"
	"github.com/godwit/godwit/migration"
)

// leftoverTimeout bounds the look into the stores that `godwit status`
// adds: a slow store must not hold the status up for long.
const leftoverTimeout = 20 * time.Second

// leftoverScan is what `godwit status` and `godwit cleanup` found in a
// migration's stores: change capture objects and dual-write triggers.
type leftoverScan struct {
	capture   replicate.Scan
	dualWrite expand.Scan
	// records are the schema-change records (cleanup only).
	records expand.RecordScan
}

// findLeftovers looks into the stores of spec for what its phases create
// and can leave behind.
func findLeftovers(ctx context.Context, spec *config.Spec, all bool) leftoverScan {
	var s leftoverScan
	if all || replicate.UsesCapture(spec) {
		s.capture = replicate.FindLeftovers(ctx, spec, spec.Name)
	}
	if expand.UsesDualWrite(spec) {
		s.dualWrite = expand.FindLeftovers(ctx, spec)
	}
	return s
}

// scanLeftovers looks for change capture objects and dual-write triggers
// in the stores of the run's spec, from this machine, with the DSNs the
// spec names. ok is false when the migration creates neither (no
// replicate phase, no dual-write) or its spec cannot be read.
func (a *app) scanLeftovers(ctx context.Context, c client.Client, name string) (leftoverScan, bool) {
	spec, _ := a.runSpec(ctx, c, name)
	if spec == nil || !replicate.UsesCapture(spec) && !expand.UsesDualWrite(spec) {
		return leftoverScan{}, false
	}
	ctx, cancel := context.WithTimeout(ctx, leftoverTimeout)
	defer cancel()
	return findLeftovers(ctx, spec, false), true
}

// renderLeftovers writes what scan found after a text status: while the
// migration runs (ended false) its own objects are in use (information);
// once it has ended they are leftovers (a warning, with the command that
// removes them). Others' objects are named with their drop statements.
func renderLeftovers(w io.Writer, name, status string, ended bool, scan leftoverScan) {
	renderCapture(w, name, status, ended, scan.capture)
	renderDualWrite(w, name, status, ended, scan.dualWrite)
}

func renderCapture(w io.Writer, name, status string, ended bool, scan replicate.Scan) {
	ours, others := scan.Ours(), scan.Others()
	if len(ours)+len(others)+len(scan.Problems) == 0 {
		return
	}
	fmt.Fprintln(w, "\nChange capture")
	if len(ours) > 0 && !ended {
		fmt.Fprintf(w, "  in use by this migration (%s), removed by its stop phase or its rollback:\n", status)
		if len(ours) <= inUseListed {
			for _, l := range ours {
				fmt.Fprintf(w, "    · %s (%s): %s\n", l.Store, l.Engine, l.Object)
			}
		} else {
			// Five objects a table: a capture of 15 tables was 85 lines
			// of the status. Counted per store; listed on request.
			for _, line := range countObjects(ours) {
				fmt.Fprintf(w, "    · %s\n", line)
			}
			fmt.Fprintf(w, "    (one a line: godwit cleanup %s --dry-run)\n", name)
		}
	}
	if len(ours) > 0 && ended {
		fmt.Fprintf(w, "  ⚠ WARNING: the migration ended %s but its change capture objects remain "+
			"(an unused replication slot retains WAL until the disk fills; triggers slow every write):\n", status)
		for _, l := range ours {
			fmt.Fprintf(w, "    ⚠ %s (%s): %s\n", l.Store, l.Engine, l.Object)
		}
		fmt.Fprintf(w, "    remove them: godwit cleanup %s   (--dry-run lists them without removing)\n", name)
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

// inUseListed is how many capture objects in use a status lists one a
// line; more are counted per store (countObjects).
const inUseListed = 8

// countObjects sums capture objects per store and kind: "legacy (mysql):
// 45 triggers on 15 tables, 16 capture tables" (changelogs, origin marker).
func countObjects(objs []replicate.Leftover) []string {
	type group struct {
		label  string
		kinds  map[string]int
		tables map[string]bool
	}
	var order []string
	groups := map[string]*group{}
	for _, l := range objs {
		key := l.Store + " (" + l.Engine + ")"
		g := groups[key]
		if g == nil {
			g = &group{label: key, kinds: map[string]int{}, tables: map[string]bool{}}
			groups[key] = g
			order = append(order, key)
		}
		g.kinds[l.Kind]++
		if l.Kind == "trigger" && l.Table != "" {
			g.tables[l.Table] = true
		}
	}
	words := map[string][2]string{
		"trigger": {"trigger", "triggers"}, "function": {"function", "functions"}, "table": {"capture table", "capture tables"},
		"slot": {"replication slot", "replication slots"}, "publication": {"publication", "publications"},
	}
	var out []string
	for _, key := range order {
		g := groups[key]
		var parts []string
		for _, kind := range slices.Sorted(maps.Keys(g.kinds)) {
			n, w := g.kinds[kind], words[kind]
			if w[0] == "" {
				w = [2]string{kind, kind + "s"}
			}
			part := fmt.Sprintf("%d %s", n, w[1])
			if n == 1 {
				part = "1 " + w[0]
			}
			if kind == "trigger" && len(g.tables) > 0 {
				part += " on " + migration.Count(len(g.tables), "table")
			}
			parts = append(parts, part)
		}
		out = append(out, g.label+": "+strings.Join(parts, ", "))
	}
	return out
}

func renderDualWrite(w io.Writer, name, status string, ended bool, scan expand.Scan) {
	ours, others := scan.Ours(), scan.Others()
	if len(ours)+len(others)+len(scan.Problems) == 0 {
		return
	}
	fmt.Fprintln(w, "\nDual-write")
	if len(ours) > 0 && !ended {
		fmt.Fprintf(w, "  in use by this migration (%s), removed by its contract phase or its rollback:\n", status)
		for _, l := range ours {
			fmt.Fprintf(w, "    · %s (%s): %s\n", l.Store, l.Engine, l.Object())
		}
	}
	if len(ours) > 0 && ended {
		fmt.Fprintf(w, "  ⚠ WARNING: the migration ended %s but its dual-write triggers remain "+
			"(every write to their tables runs them, and fails once a column they name is dropped):\n", status)
		for _, l := range ours {
			fmt.Fprintf(w, "    ⚠ %s (%s): %s\n", l.Store, l.Engine, l.Object())
		}
		fmt.Fprintf(w, "    remove them: godwit cleanup %s   (--dry-run lists them without removing)\n", name)
	}
	if len(others) > 0 {
		fmt.Fprintln(w, "  ⚠ WARNING: dual-write triggers of another migration:")
		for _, l := range others {
			fmt.Fprintf(w, "    ⚠ %s (%s): %s (%s) — once sure no migration uses it: %s\n", l.Store, l.Engine, l.Object(), whoseTrigger(l), l.Drop)
		}
	}
	for _, p := range scan.Problems {
		fmt.Fprintf(w, "  ? %s\n", p)
	}
}

func (a *app) cleanupCommand() *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "cleanup NAME [--dry-run]",
		Short: "Remove the change capture objects and dual-write triggers an ended migration left in its stores",
		Long: `Remove what a migration left behind once it has ended (completed, rolled
back, failed, terminated by hand): its change capture's replication slots and
publications (PostgreSQL logical replication), changelog tables, triggers and
trigger functions, and its expand phases' dual-write triggers (godwit_dw_...,
godwit_dwm_<tag>_..., and their functions on PostgreSQL). They are found by
the name Godwit gave them, in every store of the spec the run started with,
from this machine, with the DSNs the spec names (the variables or files must
exist here, as for the worker). A dual-write trigger is the migration's when
its name carries the migration's tag (8 hex digits of the SHA-256 of its
name), or, for a name without a tag (made before tags), when it is on a
table one of its expand phases dual-writes in that store. It also forgets the
run's schema-change records (godwit_schema_changes: how far its expand,
backfill and contract got), which a later run under the same name would
otherwise take for its own progress; a partly applied expand's record is
printed first, so you know which statements had run. Cleanup never undoes
a schema change itself: an expand's statements stay applied, and it says so,
naming the phase's rollback script that undoes them.

A running migration's objects are in use: cleanup refuses it (its stop
phase, its contract phase or its rollback removes them); with --dry-run it
lists them, one a line (godwit status counts them once there are more than
8). Other captures'
objects and dual-write triggers on other tables are never removed; they are
listed with the statement that drops them.

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
	running := desc.GetWorkflowExecutionInfo().GetStatus() == enums.WORKFLOW_EXECUTION_STATUS_RUNNING
	if running && !dryRun {
		return fmt.Errorf("migration %s is running: its change capture and dual-write triggers are in use "+
			"(its stop phase, its contract phase or its rollback removes them); cleanup is for a migration that has ended "+
			"(--dry-run lists them)", name)
	}
	if running {
		fmt.Fprintf(a.out, "migration %s is running: what it uses is listed, nothing would be removed now "+
			"(its stop phase, its contract phase or its rollback removes it)\n", name)
	}
	spec, note := a.runSpec(ctx, c, name)
	if spec == nil {
		return fmt.Errorf("migration %s: %s", name, note)
	}
	scan := findLeftovers(ctx, spec, true)
	scan.records = expand.FindRecords(ctx, spec)
	problems := slices.Concat(scan.capture.Problems, scan.dualWrite.Problems, scan.records.Problems)
	for _, p := range problems {
		fmt.Fprintf(a.errOut, "godwit: %s\n", p)
	}
	// A running migration's objects are listed as in use, not as what a
	// cleanup would remove (it refuses to).
	a.dryRunVerb = "would remove"
	if running {
		a.dryRunVerb = "in use"
	}
	errCapture := a.cleanupCapture(ctx, spec, name, scan.capture, dryRun)
	errDualWrite := a.cleanupDualWrite(ctx, spec, name, scan.dualWrite, dryRun)
	// The records go after the triggers: a record forgotten while its
	// trigger stayed would leave a trigger no record explains.
	errRecords := a.cleanupRecords(ctx, spec, name, scan.records, dryRun)
	if err := cmp.Or(errCapture, errDualWrite, errRecords); err != nil {
		return err
	}
	if len(problems) > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%d store(s) could not be checked (above)", len(problems))}
	}
	return nil
}

func (a *app) cleanupCapture(ctx context.Context, spec *config.Spec, name string, scan replicate.Scan, dryRun bool) error {
	ours := scan.Ours()
	for _, l := range scan.Others() {
		fmt.Fprintf(a.out, "left alone (another capture): %s %s — %s\n", l.Store, l.Object, l.Drop)
	}
	if len(ours) == 0 {
		fmt.Fprintf(a.out, "no change capture object of migration %s in %s\n", name, storeList(spec))
		return nil
	}
	if dryRun {
		for _, l := range ours {
			fmt.Fprintf(a.out, "%s: %s %s\n", a.dryRunVerb, l.Store, l.Object)
		}
		return nil
	}
	dropped, err := replicate.Cleanup(ctx, spec, spec.Name, ours)
	a.printRemoved(dropped, func(o string) string { return o })
	if err != nil {
		return fmt.Errorf("cleanup of migration %s: %w", name, err)
	}
	return nil
}

func (a *app) cleanupDualWrite(ctx context.Context, spec *config.Spec, name string, scan expand.Scan, dryRun bool) error {
	if !expand.UsesDualWrite(spec) {
		return nil
	}
	ours := scan.Ours()
	for _, l := range scan.Others() {
		fmt.Fprintf(a.out, "left alone (%s): %s %s — %s\n", whoseTrigger(l), l.Store, l.Object(), l.Drop)
	}
	if len(ours) == 0 {
		fmt.Fprintf(a.out, "no dual-write trigger of migration %s in %s\n", name, strings.Join(slices.Sorted(maps.Keys(expand.DualWriteTables(spec))), ", "))
		return nil
	}
	if dryRun {
		for _, l := range ours {
			fmt.Fprintf(a.out, "%s: %s %s\n", a.dryRunVerb, l.Store, l.Object())
		}
		return nil
	}
	removed, err := expand.Cleanup(ctx, spec, ours)
	a.printRemoved(removed, func(o string) string { return "dual-write trigger " + o })
	if err != nil {
		return fmt.Errorf("cleanup of migration %s: %w", name, err)
	}
	return nil
}

// cleanupRecords forgets the schema-change records (expand, backfill and
// contract progress) the run left: a later run under the same name would
// take them for its own progress and skip its statements.
func (a *app) cleanupRecords(ctx context.Context, spec *config.Spec, name string, scan expand.RecordScan, dryRun bool) error {
	if len(expand.RecordStores(spec)) == 0 {
		return nil
	}
	if len(scan.Found) == 0 {
		fmt.Fprintf(a.out, "no schema-change progress record of migration %s in %s\n", name, strings.Join(expand.RecordStores(spec), ", "))
		return nil
	}
	stays := func(r expand.StoreRecord) {
		if note := r.StaysApplied(spec); note != "" {
			fmt.Fprintf(a.out, "  note: %s\n", note)
		}
	}
	if dryRun {
		for _, r := range scan.Found {
			fmt.Fprintf(a.out, "would forget: %s %s\n", r.Store, r.Object())
			stays(r)
		}
		return nil
	}
	forgotten, err := expand.ForgetRecords(ctx, spec, scan.Found)
	for _, store := range slices.Sorted(maps.Keys(forgotten)) {
		for _, r := range forgotten[store] {
			fmt.Fprintf(a.out, "forgot: %s %s\n", store, r.Object())
			stays(r)
		}
	}
	if err != nil {
		return fmt.Errorf("cleanup of migration %s: %w", name, err)
	}
	return nil
}

// whoseTrigger says why a dual-write trigger is another migration's: its
// name carries another migration's tag, or (a name without a tag, from
// before tags) it is on a table this migration does not dual-write.
func whoseTrigger(l expand.Leftover) string {
	if l.Tagged {
		return "its name carries another migration's tag, " + l.Tag
	}
	return "not a table this migration dual-writes; owner unknown"
}

func (a *app) printRemoved(byStore map[string][]string, label func(string) string) {
	for _, store := range slices.Sorted(maps.Keys(byStore)) {
		for _, o := range byStore[store] {
			fmt.Fprintf(a.out, "removed: %s %s\n", store, label(o))
		}
	}
}

func storeList(spec *config.Spec) string {
	return "stores " + strings.Join(sortedStoreNames(spec.Stores), ", ")
}
