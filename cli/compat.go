package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/spf13/cobra"

	"github.com/godwit/godwit/compat"
	"github.com/godwit/godwit/config"
	compatdriver "github.com/godwit/godwit/drivers/compat"
)

func (a *app) checkCompatCommand() *cobra.Command {
	var before, after, beforeAPI, afterAPI, out, dialect, failOn string
	var beforeStore, afterStore, spec string
	var noRenames bool
	cmd := &cobra.Command{
		Use:   "check-compat (--before A | --before-store S) (--after B | --after-store S) [-f SPEC] | --before-openapi A --after-openapi B [-o report.json]",
		Short: "Compare two schema descriptions or two OpenAPI documents; exit 2 on breaking changes",
		Long: `Compare two versions of a database schema (schema descriptions in JSON or
YAML) or of an API (OpenAPI 3 documents), and report every change: its
severity (breaking, potentially_breaking, non_breaking, additive), its
impact, and for schemas the SQL that applies it, the SQL that undoes it, a
precheck query (rows that would make it fail) and a validation query.

The report (-o, JSON) follows the Migration Architect format:
overall_compatibility, summary, issues, migration_scripts, risk_assessment
and recommendations. A one-line summary and the breaking findings go to
stderr, so a CI log shows why a stage failed.

Exit codes: 0 compatible, 2 breaking changes found (or, with
--fail-on potentially_breaking, potentially breaking ones; never with
--fail-on never, so a pipeline can pass the report on to
plan --compat ... --accept-breaking), 1 bad input.

Schema descriptions look like:
  {"tables": {"users": {"columns": {"id": {"type": "bigint", "primary_key": true},
                                    "email": {"type": "varchar", "length": 255, "nullable": false}},
                        "constraints": {"unique": [["email"]]},
                        "indexes": [{"name": "users_email_idx", "columns": ["email"]}]}},
   "views": {...}, "procedures": [...]}

Renamed columns are recognised when a dropped and an added column have the
same definition and similar names (email -> email_address); --no-renames
reports them as a drop and an add. SQL is generated for PostgreSQL unless
--dialect says mysql or sqlite.

Either side may be a live database instead of a file: --before-store or
--after-store names a store of the spec given with -f, whose schema is
exported as godwit schema export does (the DSN is read from the store's
fromEnv or fromFile, here). Files and databases compare in any mix.`,
		Example: `  godwit check-compat --before old_schema.json --after new_schema.json -o compatibility_report.json
  godwit check-compat --before-openapi v1.yaml --after-openapi v2.yaml -o api_report.json
  godwit check-compat --before a.yaml --after b.yaml --fail-on potentially_breaking
  godwit check-compat --before a.yaml --after b.yaml --fail-on never -o report.json && godwit plan -f migration.yaml --compat report.json --validate --accept-breaking
  godwit check-compat --before old_schema.json --after-store new -f migration.yaml
  godwit check-compat --before-store legacy --after-store new -f migration.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			schemas := before != "" || after != "" || beforeStore != "" || afterStore != ""
			apis := beforeAPI != "" || afterAPI != ""
			switch {
			case schemas && apis:
				return errors.New("give either --before/--after (schemas) or --before-openapi/--after-openapi (APIs), not both; run check-compat twice for both")
			case before != "" && beforeStore != "", after != "" && afterStore != "":
				return errors.New("each side is a file or a store: give --before or --before-store, --after or --after-store")
			case schemas && (before == "" && beforeStore == "" || after == "" && afterStore == ""):
				return errors.New("--before and --after go together: the old and the new schema description (or --before-store / --after-store)")
			case (beforeStore != "" || afterStore != "") && spec == "":
				return errors.New("--before-store and --after-store name stores of a spec: give it with -f SPEC")
			case apis && (beforeAPI == "" || afterAPI == ""):
				return errors.New("--before-openapi and --after-openapi go together: the old and the new OpenAPI document")
			case !schemas && !apis:
				return errors.New("nothing to compare: give --before and --after (schema descriptions) or --before-openapi and --after-openapi")
			}
			threshold := compat.Severity(failOn)
			if threshold != compat.Breaking && threshold != compat.PotentiallyBreaking && failOn != "never" {
				return fmt.Errorf("--fail-on %q: use never, breaking or potentially_breaking", failOn)
			}
			var report *compat.Report
			if schemas {
				d, err := compat.ParseDialect(dialect)
				if err != nil {
					return err
				}
				var st map[string]config.StoreSpec
				if spec != "" {
					s, err := config.LoadSpec(spec)
					if err != nil {
						return err
					}
					st = s.Stores
				}
				bsrc := compatdriver.Source{File: before, Store: beforeStore}
				asrc := compatdriver.Source{File: after, Store: afterStore}
				b, err := loadSide(cmd.Context(), spec, bsrc, st)
				if err != nil {
					return err
				}
				af, err := loadSide(cmd.Context(), spec, asrc, st)
				if err != nil {
					return err
				}
				report = compat.CompareSchemas(b, af, compat.Options{Dialect: d, NoRenames: noRenames, Before: bsrc.String(), After: asrc.String()})
			} else {
				var err error
				if report, err = compat.CompareOpenAPI(beforeAPI, afterAPI); err != nil {
					return err
				}
			}
			if err := writeJSON(a, out, report); err != nil {
				return err
			}
			fmt.Fprintln(a.errOut, report.Headline())
			for _, line := range report.Lines() {
				fmt.Fprintln(a.errOut, "  "+line)
			}
			if failOn != "never" && report.AtLeast(threshold) {
				return &exitError{code: 2, msg: fmt.Sprintf("%s changes found: see the report for the expand–contract steps", threshold)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&before, "before", "", "the old schema description (JSON or YAML)")
	f.StringVar(&after, "after", "", "the new schema description (JSON or YAML)")
	f.StringVar(&beforeStore, "before-store", "", "instead of --before: a store of the spec (-f) whose live schema is the old one")
	f.StringVar(&afterStore, "after-store", "", "instead of --after: a store of the spec (-f) whose live schema is the new one")
	f.StringVarP(&spec, "file", "f", "", "the Godwit spec whose stores: --before-store and --after-store name")
	f.StringVar(&beforeAPI, "before-openapi", "", "the old OpenAPI 3 document")
	f.StringVar(&afterAPI, "after-openapi", "", "the new OpenAPI 3 document")
	f.StringVarP(&out, "output", "o", "", "write the JSON report to this file (default: stdout)")
	f.StringVar(&dialect, "dialect", "postgres", "SQL dialect of the migration scripts: postgres, mysql (MySQL 8, MariaDB 10.5+) or sqlite (3.35+; changes its ALTER TABLE cannot make rebuild the table)")
	f.StringVar(&failOn, "fail-on", "breaking", "exit 2 on changes this serious or more: breaking or potentially_breaking; never: always exit 0 with the report (for a pipeline that acknowledges them with plan --accept-breaking)")
	f.BoolVar(&noRenames, "no-renames", false, "report renamed columns and tables as a drop and an add")
	return cmd
}

// loadSide reads one side of a schema comparison: a file, or a store of
// the spec, exported.
func loadSide(ctx context.Context, spec string, src compatdriver.Source, st map[string]config.StoreSpec) (*compat.Schema, error) {
	if src.Store != "" {
		if _, ok := st[src.Store]; !ok {
			return nil, fmt.Errorf("%s has no store %q (it has %s)", spec, src.Store, orNone(sortedStoreNames(st)))
		}
	}
	return compatdriver.LoadSchema(ctx, src, st)
}

func sortedStoreNames(st map[string]config.StoreSpec) []string {
	names := make([]string, 0, len(st))
	for n := range st {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// writeJSON writes v as indented JSON to path, or to stdout when path is
// empty or "-".
func writeJSON(a *app, path string, v any) error {
	// Not HTML-escaped: reports and schemas hold SQL (amount >= 0) that
	// people read.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	return writeOutput(a, path, buf.Bytes())
}

func writeOutput(a *app, path string, data []byte) error {
	if path == "" || path == "-" {
		_, err := a.out.Write(data)
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
