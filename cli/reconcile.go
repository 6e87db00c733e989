package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	reconciledriver "github.com/godwit/godwit/drivers/reconcile"
	"github.com/godwit/godwit/drivers/stores"
	"github.com/godwit/godwit/mapping"
	"github.com/godwit/godwit/reconcile"
)

// phaseCheck is one reconcile phase's outcome, as `godwit reconcile -o json`
// prints it.
type phaseCheck struct {
	Phase    string            `json:"phase"`
	Passed   bool              `json:"passed"`
	Failures []string          `json:"failures,omitempty"`
	Report   *reconcile.Report `json:"report"`
}

func (a *app) reconcileCommand() *cobra.Command {
	var file, phase, output, reportFile string
	var repair, deleteExtra bool
	cmd := &cobra.Command{
		Use:   "reconcile -f SPEC [--phase NAME] [-o text|json]",
		Short: "Run a spec's reconcile check now, outside a workflow; exit 2 beyond its tolerance",
		Long: `Run the reconcile phases of a spec (or the one named by --phase) from this
machine, as the worker would: the stores' DSNs are read from the environment
variables or files the spec names. Nothing is changed on either side.

For each table: row counts, then checksums of key ranges computed inside the
databases, bisection of the ranges that differ, and the differing keys by
class (missing_in_target, extra_in_target, mismatched with the columns
named). The spec's tolerance decides the exit code.

--repair (or repair: in the spec) re-copies the differing rows from the
source of truth into the other side and re-checks exactly those keys;
extra rows are deleted only with --delete-extra (or repair: {deleteExtra:
true}). This is the one way this command changes data.

Exit codes: 0 within tolerance, 2 beyond it (or stopped at a limit), 1 the
check could not run (unreachable store, missing table, bad spec).`,
		Example: `  LEGACY_DSN=postgres://... NEW_DSN='user:pw@tcp(db:3306)/shop' godwit reconcile -f spec.yaml
  godwit reconcile -f spec.yaml --phase verify-after-cutover -o json > report.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("-o %q: use text or json", output)
			}
			spec, err := config.LoadSpec(file)
			if err != nil {
				return err
			}
			var checks []phaseCheck
			var names []string
			for _, p := range spec.Phases {
				s, ok := p.Driver.(*reconciledriver.Spec)
				if !ok {
					continue
				}
				names = append(names, p.Name)
				if phase != "" && p.Name != phase {
					continue
				}
				if repair || deleteExtra {
					s.Repair.Enabled = true
					s.Repair.DeleteExtra = s.Repair.DeleteExtra || deleteExtra
				}
				rep, err := a.runReconcile(cmd.Context(), s)
				if err != nil {
					return fmt.Errorf("phase %s: %w", p.Name, err)
				}
				fails := s.Tolerance.Check(rep)
				checks = append(checks, phaseCheck{Phase: p.Name, Passed: len(fails) == 0, Failures: fails, Report: rep})
			}
			if len(checks) == 0 {
				if phase != "" {
					return fmt.Errorf("%s has no reconcile phase named %q (its reconcile phases: %s)", file, phase, strings.Join(names, ", "))
				}
				return fmt.Errorf("%s has no reconcile phase: add one with a reconcile: section (see docs/reconcile.md)", file)
			}
			if err := writeReportFile(reportFile, checks); err != nil {
				return err
			}
			failed := 0
			if output == "json" {
				enc := json.NewEncoder(a.out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(map[string]any{"phases": checks}); err != nil {
					return err
				}
			}
			for _, c := range checks {
				if output == "text" {
					fmt.Fprintf(a.out, "== %s ==\n%s", c.Phase, c.Report.Text())
					if c.Passed {
						fmt.Fprintln(a.out, "within tolerance")
					}
				}
				if !c.Passed {
					failed++
					fmt.Fprintf(a.errOut, "%s: beyond tolerance: %s\n", c.Phase, strings.Join(c.Failures, "; "))
				}
			}
			if failed > 0 {
				return &exitError{code: 2}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "file", "f", "", "migration spec (YAML)")
	f.StringVar(&phase, "phase", "", "run only this reconcile phase (by name)")
	f.StringVarP(&output, "output", "o", "text", "output format: text (a table and sample keys) or json (the full report)")
	f.StringVar(&reportFile, "report-file", "", "also write the full JSON report (every differing key) to this file")
	f.BoolVar(&repair, "repair", false, "re-copy missing and mismatched rows from the source of truth, then re-check them")
	f.BoolVar(&deleteExtra, "delete-extra", false, "with --repair: also delete the extra rows (implies --repair)")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

func (a *app) runReconcile(ctx context.Context, s *reconciledriver.Spec) (*reconcile.Report, error) {
	opts, closeStores, err := reconciledriver.Options(ctx, s)
	if err != nil {
		return nil, err
	}
	defer closeStores()
	opts.Logger = a.logger.Named("reconcile")
	rep, err := reconcile.Run(ctx, opts, reconcile.Checkpoint{})
	if err != nil {
		return nil, err
	}
	rep.Direction = s.Truth
	return rep, nil
}

func writeReportFile(path string, v any) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

func (a *app) diffCommand() *cobra.Command {
	var fromEngine, fromEnv, fromTable, toEngine, toEnv, toTable, output, reportFile, where, updated, names string
	var ignore, mapColumns []string
	var portable bool
	var threshold, concurrency int
	var maxDiffs int64
	var maxDuration, recheck time.Duration
	cmd := &cobra.Command{
		Use:   "diff --from-engine E --from-dsn-env VAR --from-table T --to-engine E --to-dsn-env VAR [--to-table T] [--names RULE] [--map-column SRC=DST]...",
		Short: "Compare two tables given by DSN environment variables; exit 2 when they differ",
		Long: `Compare one table of one database with one table of another (any of
postgres, mysql/mariadb, sqlite, in any direction), ad hoc, without a spec.
The DSNs are read from the environment variables named, never from flags
(they would end up in shell history). The "from" side is the truth: keys only
it has are missing_in_target, keys only the other has are extra_in_target.

When the two sides name things differently, --names RULE names the other
side's table and columns from the source's (PascalCase | camelCase |
snake_case | lower | upper | asIs: order_line_id -> OrderLineId with
PascalCase), --map-column SRC=DST renames one column by hand (repeatable)
and --to-table names the other table; findings then name the other side's
columns. --ignore names the source's columns; --where is not supported with
them yet. A spec's mappings:
(docs/mapping.md) do the same for godwit reconcile -f.

Exit codes: 0 equal, 2 differences found (or stopped at a limit), 1 the
comparison could not run.`,
		Example: `  export A='postgres://app@db1:5432/shop?sslmode=disable' B='app:pw@tcp(db2:3306)/shop'
  godwit diff --from-engine postgres --from-dsn-env A --from-table users --to-engine mysql --to-dsn-env B --to-table users
  godwit diff ... --ignore updated_at --where "id < 1000000" -o json
  godwit diff --from-engine postgres --from-dsn-env A --from-table order_line --to-engine mysql --to-dsn-env B --names PascalCase --map-column unit_price=Price`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("-o %q: use text or json", output)
			}
			if concurrency < 0 {
				return fmt.Errorf("--concurrency %d: want 1 or more key ranges checked at once (leave it out for 2)", concurrency)
			}
			adhoc, err := adhocMapping(fromTable, toTable, names, mapColumns)
			if err != nil {
				return err
			}
			if adhoc != nil && where != "" {
				return fmt.Errorf("--where with --names or --map-column is not supported yet: the condition runs on both sides, whose column names differ (use --updated-column)")
			}
			if toTable == "" {
				toTable = fromTable
			}
			ctx := cmd.Context()
			from, err := openFromEnv(ctx, "from", fromEngine, fromEnv)
			if err != nil {
				return err
			}
			defer from.Close()
			to, err := openFromEnv(ctx, "to", toEngine, toEnv)
			if err != nil {
				return err
			}
			defer to.Close()
			o := reconcile.Options{
				Source: from, Target: to, SourceName: fromEnv, TargetName: toEnv,
				Tables:    []reconcile.TablePair{{Source: fromTable, Target: toTable}},
				Threshold: threshold, MaxDifferences: maxDiffs, MaxDuration: maxDuration, RecheckAfter: recheck,
				Logger: a.logger.Named("diff"), UpdatedColumn: updated, PortableHash: portable,
				Concurrency: concurrency,
			}
			if adhoc != nil {
				if o.Tables, err = reconcile.ResolveMapped(ctx, from, adhoc); err != nil {
					return err
				}
			}
			if where != "" {
				o.Where = map[string]string{"*": where}
			}
			for _, c := range ignore {
				if o.Columns == nil {
					o.Columns = map[string]reconcile.ColumnRule{}
				}
				o.Columns["*."+c] = reconcile.ColumnRule{Ignore: true}
			}
			rep, err := reconcile.Run(ctx, o, reconcile.Checkpoint{})
			if err != nil {
				return err
			}
			if err := writeReportFile(reportFile, rep); err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(a.out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				fmt.Fprint(a.out, rep.Text())
			}
			if rep.Differing() > 0 || !rep.Complete() {
				return &exitError{code: 2}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&fromEngine, "from-engine", "", "engine of the source of truth: postgres, mysql (mariadb) or sqlite")
	f.StringVar(&fromEnv, "from-dsn-env", "", "environment variable holding the source's DSN")
	f.StringVar(&fromTable, "from-table", "", "table on the source")
	f.StringVar(&toEngine, "to-engine", "", "engine of the other side")
	f.StringVar(&toEnv, "to-dsn-env", "", "environment variable holding the other side's DSN")
	f.StringVar(&toTable, "to-table", "", "table on the other side (default: --from-table, named by --names)")
	f.StringVar(&names, "names", "", "how the other side names tables and columns not mapped by hand: "+strings.Join(mapping.Rules, " | "))
	f.StringArrayVar(&mapColumns, "map-column", nil, "SRC=DST: source column SRC is DST on the other side (repeatable)")
	f.StringVarP(&output, "output", "o", "text", "output format: text or json (the full report)")
	f.StringVar(&reportFile, "report-file", "", "also write the full JSON report to this file")
	f.StringVar(&where, "where", "", "SQL condition bounding the rows compared on both sides (rows in flight)")
	f.StringVar(&updated, "updated-column", "", "timestamp column set by every write: rows written after the check began are not compared")
	f.BoolVar(&portable, "portable-hash", false, "hash rows by MD5 of the canonical text on every engine, instead of hashtextextended (two PostgreSQL databases) or CRC-32 × CRC-32C (MariaDB on a side)")
	f.StringSliceVar(&ignore, "ignore", nil, "columns to leave out of the comparison")
	f.IntVar(&threshold, "threshold", 0, "largest key range compared row by row (default 256)")
	f.IntVar(&concurrency, "concurrency", 0, "key ranges checked at once on each side (default 2): MySQL/MariaDB runs each on a core of its own, so a larger server checks a large table faster with more (SQLite: always 1)")
	f.Int64Var(&maxDiffs, "max-differences", 0, "stop after this many differences (0: no limit)")
	f.DurationVar(&maxDuration, "max-duration", 0, "stop after this long (0: no limit)")
	f.DurationVar(&recheck, "recheck-after", 0, "re-fetch differing keys after this delay before they count")
	for _, n := range []string{"from-engine", "from-dsn-env", "from-table", "to-engine", "to-dsn-env"} {
		_ = cmd.MarkFlagRequired(n)
	}
	return cmd
}

// adhocMapping is the one-table mapping of diff's --names, --map-column
// and --to-table; nil when neither --names nor --map-column is given (the
// tables then have the same columns).
func adhocMapping(fromTable, toTable, names string, mapColumns []string) (*mapping.Spec, error) {
	if names == "" && len(mapColumns) == 0 {
		return nil, nil
	}
	renames := map[string]string{}
	for _, mc := range mapColumns {
		src, dst, ok := strings.Cut(mc, "=")
		src, dst = strings.TrimSpace(src), strings.TrimSpace(dst)
		if !ok || src == "" || dst == "" {
			return nil, fmt.Errorf("--map-column %q: want SRC=DST, e.g. --map-column unit_price=Price", mc)
		}
		if prev, dup := renames[src]; dup {
			return nil, fmt.Errorf("--map-column: %s is mapped twice (to %s and %s)", src, prev, dst)
		}
		renames[src] = dst
	}
	m, err := mapping.Adhoc(fromTable, toTable, names, renames)
	if err != nil {
		return nil, fmt.Errorf("--names: %w", err)
	}
	if ps := m.Check(); len(ps) > 0 {
		return nil, fmt.Errorf("--map-column: %s", ps[0].Message)
	}
	return m, nil
}

// openFromEnv opens the store `godwit diff`'s --SIDE-engine and
// --SIDE-dsn-env flags name; its errors name the flag to fix.
func openFromEnv(ctx context.Context, side, engine, env string) (*datastore.Store, error) {
	if _, err := datastore.ParseEngine(engine); err != nil {
		return nil, fmt.Errorf("--%s-engine: %w", side, err)
	}
	// The flags make a store as a spec names one, opened as the drivers
	// open theirs (with a timeout, its DSN redacted from what follows).
	name := fmt.Sprintf("%s (%s)", side, env)
	st := config.StoreSpec{Engine: engine, DSN: config.SecretRef{FromEnv: env}}
	if dsn, err := stores.DSN(map[string]config.StoreSpec{name: st}, name); err != nil || dsn == "" {
		return nil, fmt.Errorf("--%s-dsn-env: environment variable %s is not set", side, env)
	}
	return stores.OpenOne(ctx, name, st)
}
