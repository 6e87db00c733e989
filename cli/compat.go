package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/godwit/godwit/compat"
)

func (a *app) checkCompatCommand() *cobra.Command {
	var before, after, beforeAPI, afterAPI, out, dialect, failOn string
	var noRenames bool
	cmd := &cobra.Command{
		Use:   "check-compat (--before A --after B | --before-openapi A --after-openapi B) [-o report.json]",
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
--fail-on potentially_breaking, potentially breaking ones), 1 bad input.

Schema descriptions look like:
  {"tables": {"users": {"columns": {"id": {"type": "bigint", "primary_key": true},
                                    "email": {"type": "varchar", "length": 255, "nullable": false}},
                        "constraints": {"unique": [["email"]]},
                        "indexes": [{"name": "users_email_idx", "columns": ["email"]}]}},
   "views": {...}, "procedures": [...]}

Renamed columns are recognised when a dropped and an added column have the
same definition and similar names (email -> email_address); --no-renames
reports them as a drop and an add. SQL is generated for PostgreSQL.
(godwit schema export --store, to describe a live database, is not there yet.)`,
		Example: `  godwit check-compat --before old_schema.json --after new_schema.json -o compatibility_report.json
  godwit check-compat --before-openapi v1.yaml --after-openapi v2.yaml -o api_report.json
  godwit check-compat --before a.yaml --after b.yaml --fail-on potentially_breaking`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			schemas := before != "" || after != ""
			apis := beforeAPI != "" || afterAPI != ""
			switch {
			case schemas && apis:
				return errors.New("give either --before/--after (schemas) or --before-openapi/--after-openapi (APIs), not both; run check-compat twice for both")
			case schemas && (before == "" || after == ""):
				return errors.New("--before and --after go together: the old and the new schema description")
			case apis && (beforeAPI == "" || afterAPI == ""):
				return errors.New("--before-openapi and --after-openapi go together: the old and the new OpenAPI document")
			case !schemas && !apis:
				return errors.New("nothing to compare: give --before and --after (schema descriptions) or --before-openapi and --after-openapi")
			}
			threshold := compat.Severity(failOn)
			if threshold != compat.Breaking && threshold != compat.PotentiallyBreaking {
				return fmt.Errorf("--fail-on %q: use breaking or potentially_breaking", failOn)
			}
			var report *compat.Report
			if schemas {
				d, err := compat.ParseDialect(dialect)
				if err != nil {
					return err
				}
				b, err := compat.LoadSchema(before)
				if err != nil {
					return err
				}
				af, err := compat.LoadSchema(after)
				if err != nil {
					return err
				}
				report = compat.CompareSchemas(b, af, compat.Options{Dialect: d, NoRenames: noRenames, Before: before, After: after})
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
			if report.AtLeast(threshold) {
				return &exitError{code: 2, msg: fmt.Sprintf("%s changes found: see the report for the expand–contract steps", threshold)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&before, "before", "", "the old schema description (JSON or YAML)")
	f.StringVar(&after, "after", "", "the new schema description (JSON or YAML)")
	f.StringVar(&beforeAPI, "before-openapi", "", "the old OpenAPI 3 document")
	f.StringVar(&afterAPI, "after-openapi", "", "the new OpenAPI 3 document")
	f.StringVarP(&out, "output", "o", "", "write the JSON report to this file (default: stdout)")
	f.StringVar(&dialect, "dialect", "postgres", "SQL dialect of the migration scripts (postgres)")
	f.StringVar(&failOn, "fail-on", "breaking", "exit 2 on changes this serious or more: breaking or potentially_breaking")
	f.BoolVar(&noRenames, "no-renames", false, "report renamed columns and tables as a drop and an add")
	return cmd
}

// writeJSON writes v as indented JSON to path, or to stdout when path is
// empty or "-".
func writeJSON(a *app, path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	data = append(data, '\n')
	return writeOutput(a, path, data)
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
