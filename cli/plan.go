package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/godwit/godwit/compat"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/plan"
)

// planInputs are the flags plan and runbook share.
type planInputs struct {
	spec, description string
	rate              float64
	compatReports     []string
	measure           bool
}

func (in *planInputs) bind(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&in.spec, "file", "f", "", "a Godwit migration spec (YAML)")
	f.StringVar(&in.description, "description", "", "a migration description (JSON or YAML); with -f, it gives the volumes")
	f.Float64Var(&in.rate, "copy-rate", 0, "copy rate in MB/s for the estimates (default 22, or the description's performance_requirements.copy_rate_mb_per_s)")
	f.StringArrayVar(&in.compatReports, "compat", nil, "a check-compat report whose breaking findings count as a risk (repeatable)")
	f.BoolVar(&in.measure, "measure", false, "with -f: estimate the copy from the live source store (row estimates and a sampled read rate; nothing is written)")
}

func (in *planInputs) build() (*plan.Plan, error) {
	opts := plan.Options{CopyRateMBPerSecond: in.rate}
	if in.rate < 0 {
		return nil, errors.New("--copy-rate must be positive (MB/s)")
	}
	for _, path := range in.compatReports {
		r, err := readCompatReport(path)
		if err != nil {
			return nil, err
		}
		opts.Compat = append(opts.Compat, r)
	}
	var desc *plan.Description
	if in.description != "" {
		d, err := plan.LoadDescription(in.description)
		if err != nil {
			return nil, err
		}
		desc = d
	}
	switch {
	case in.spec != "":
		spec, err := config.LoadSpec(in.spec)
		if err != nil {
			return nil, err
		}
		opts.Volumes = desc
		if in.measure {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			m, err := measure(ctx, spec)
			if err != nil {
				return nil, err
			}
			opts.Measured = m
		}
		return plan.FromSpec(spec, opts), nil
	case desc != nil:
		return plan.FromDescription(desc, opts), nil
	}
	return nil, errors.New("nothing to plan: give -f SPEC (a Godwit spec) or --description FILE (a migration description)")
}

func (a *app) planCommand() *cobra.Command {
	var in planInputs
	var out, maxRisk string
	var validate, acceptBreaking bool
	cmd := &cobra.Command{
		Use:   "plan (-f SPEC | --description FILE) [--validate] [-o plan.json]",
		Short: "Plan a migration: phases, estimated durations, risk, rollback steps",
		Long: `Plan a migration from a Godwit spec or a migration description: the phases
in order, each with its estimated duration, risk, success criteria and
rollback step (and whether it can be undone), the overall risk with the
factors that make it up, and anti-patterns (big-bang cut-over, no rollback
window, decommission without bake time).

Estimates: a copy takes the data volume at the copy rate (22 MB/s unless
--copy-rate or the description says otherwise), a reconcile five times
faster, a traffic shift the sum of its rollout holds; a spec without
volumes is estimated by its phase timeouts (an upper bound). Give both -f
and --description to plan a spec with the description's volumes, or
--measure to sample the copy's source store (the engine's row estimates
for the volume, a keyset read of 20,000 rows a table for the rate; it only
reads, with the DSN this machine's environment names).

Risk factors and their points (0-1 LOW, 2-4 MEDIUM, 5+ HIGH):
  large_volume +2 (>100 GB) / +3 (>1 TB), breaking_changes +3,
  no_canary_or_shadow +2, irreversible_steps +1 each, no_reconcile +2,
  no_gate_before_decommission +2, window_shorter_than_estimate +2.

The table goes to stderr, the JSON plan to -o (or stdout). With --validate,
plan exits 2 listing every problem when the risk is above --max-risk, when
breaking changes are not accepted (--accept-breaking), or an anti-pattern
is found.`,
		Example: `  godwit plan -f migration.yaml --validate -o migration_plan.json
  godwit plan --description migration_config.json -o migration_plan.json
  godwit plan -f migration.yaml --measure            # estimates from the live source
  godwit plan -f migration.yaml --description migration_config.json --compat compatibility_report.json --validate --max-risk HIGH`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !plan.ValidRisk(maxRisk) {
				return fmt.Errorf("--max-risk %q: use LOW, MEDIUM or HIGH", maxRisk)
			}
			p, err := in.build()
			if err != nil {
				return err
			}
			if err := writeJSON(a, out, p); err != nil {
				return err
			}
			fmt.Fprint(a.errOut, p.Table())
			if !validate {
				return nil
			}
			problems := p.Problems(maxRisk, acceptBreaking)
			if len(problems) == 0 {
				note := ""
				if n := len(p.Warnings); n > 0 {
					note = fmt.Sprintf("; the %d warning(s) above are about the input and do not fail it", n)
				}
				fmt.Fprintf(a.errOut, "plan %s passes: risk %s is within %s%s\n", p.Name, p.OverallRisk, strings.ToUpper(maxRisk), note)
				return nil
			}
			return &exitError{code: 2, msg: fmt.Sprintf("plan %s does not pass its policy (%d problem(s)):\n  %s", p.Name, len(problems), strings.Join(problems, "\n  "))}
		},
	}
	in.bind(cmd)
	f := cmd.Flags()
	f.StringVarP(&out, "output", "o", "", "write the JSON plan to this file (default: stdout)")
	f.BoolVar(&validate, "validate", false, "exit 2, listing every problem, when the plan breaks its policy")
	f.StringVar(&maxRisk, "max-risk", "MEDIUM", "with --validate: the highest overall risk allowed (LOW, MEDIUM, HIGH)")
	f.BoolVar(&acceptBreaking, "accept-breaking", false, "with --validate: breaking changes are known and planned for")
	return cmd
}

func (a *app) runbookCommand() *cobra.Command {
	var in planInputs
	var out string
	cmd := &cobra.Command{
		Use:   "runbook (-f SPEC | --description FILE) [-o ROLLBACK.md]",
		Short: "Write the rollback runbook of a migration in Markdown",
		Long: `Write the rollback runbook of a migration: its point of no return, how to
roll back with the exact godwit commands, per phase the rollback triggers,
the rollback step, who approves and the success criteria to check, and the
checklists for before, during and after. An item is ticked only when the
plan itself shows it (a reconcile phase exists, a gate holds decommission);
the rest is for a person to tick.`,
		Example: `  godwit runbook -f migration.yaml > ROLLBACK.md
  godwit runbook -f migration.yaml --description migration_config.json -o ROLLBACK.md`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := in.build()
			if err != nil {
				return err
			}
			return writeOutput(a, out, []byte(p.Runbook()))
		},
	}
	in.bind(cmd)
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the runbook to this file (default: stdout)")
	return cmd
}

func (a *app) initCommand() *cobra.Command {
	var description, before, after, out string
	var force bool
	cmd := &cobra.Command{
		Use:   "init (--description FILE | --before A.json --after B.json) [-o migration.yaml]",
		Short: "Write a Godwit spec from a migration description or a schema change",
		Long: `Write a runnable Godwit spec from a migration description: its phases in
order, approval gates before the traffic shift and decommission, timeouts
of twice the estimates, and typed drivers where the description gives what
they need: stores legacy and new with provision, copy and reconcile of
tables_to_migrate; a traffic shift whose steps are the feature flag's
rollout_schedule (setWeight, analysis, hold), the analysis thresholds from
automatic_rollback triggers and alert_thresholds; notifications for
alert_team triggers; window from preferred_migration_window and
critical_business_hours. Other phases get a command hook with the
description's values as environment.

With --before and --after (two schema descriptions in the Migration
Architect format, as godwit check-compat reads them), it proposes a
mapping (docs/mapping.md) from the before schema to the after one, and
provision, copy and reconcile take it (mapping: schema):
  - the names rule most names follow (snake_case to PascalCase ...); only
    the names that do not follow it are listed;
  - a table renamed where one disappears and one with the same columns
    appears, or else one with the same primary key and most of the other
    columns (its column renames, drops and adds then listed); a column renamed where one disappears and one of the same
    type (or else one of a wider type, with a cast) appears in the same table;
  - columns gone with no partner under drop:, new columns under add: with
    their constant default or NULL as the value, changed types under cast:.
A guess (a rename, a value for a new column) is written as a rule with a
"# TODO(godwit init): confirm" comment: the spec validates with it, so
read each one. What cannot be guessed (a column that could have become
one of several, the value of a NOT NULL column with no constant default)
is a placeholder value that godwit validate refuses until it is filled in.
Tables new in the after schema are listed in a comment, not created.
With --description as well, the description's spec gets the mapping.

What cannot be derived (the stores' DSN variables, the gateway's admin URL,
the route, the webhook variable) is a value starting "TODO(godwit init):"
saying what to put there: godwit validate names each such field until it
is filled in. Commands are TODO-<phase>-command placeholders, which fail at
once if run.`,
		Example: `  godwit init --description migration_config.json -o migration.yaml
  godwit init --description service.yaml | less
  godwit init --before schema_before.json --after schema_after.json -o migration.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (before == "") != (after == "") {
				return fmt.Errorf("--before and --after go together: the schema descriptions before and after the migration")
			}
			if description == "" && before == "" {
				return fmt.Errorf("give --description FILE (a migration description) or --before A.json --after B.json (two schema descriptions)")
			}
			var opts plan.Options
			source := description
			if before != "" {
				p, err := proposeMapping(a, before, after)
				if err != nil {
					return err
				}
				opts.Mapping = p
				source = before + " and " + after
			}
			data, err := a.initSpec(description, opts)
			if err != nil {
				return err
			}
			todo, err := initPlaceholders(data, source)
			if err != nil {
				return err
			}
			if out != "" && out != "-" && !force {
				if _, err := os.Stat(out); err == nil {
					return fmt.Errorf("%s exists: pass --force to overwrite it", out)
				}
			}
			if err := writeOutput(a, out, data); err != nil {
				return err
			}
			if out != "" && out != "-" {
				fmt.Fprintf(a.errOut, "wrote %s: fill in every TODO(godwit init) value and confirm every TODO(godwit init) comment, then: godwit validate -f %s\n", out, out)
			}
			if len(todo) > 0 {
				fmt.Fprintf(a.errOut, "godwit validate refuses the spec until these fields are filled in:\n%v\n", todo)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&description, "description", "", "the migration description (JSON or YAML)")
	f.StringVar(&before, "before", "", "the schema description before the migration (JSON or YAML): with --after, propose a mapping")
	f.StringVar(&after, "after", "", "the schema description after the migration (JSON or YAML)")
	f.StringVarP(&out, "output", "o", "", "write the spec to this file (default: stdout)")
	f.BoolVar(&force, "force", false, "overwrite the output file")
	return cmd
}

// initSpec writes the spec of godwit init: from the description when there
// is one, else around the proposed mapping alone.
func (a *app) initSpec(description string, opts plan.Options) ([]byte, error) {
	if description == "" {
		return plan.MappingSpec("schema-change", opts.Mapping)
	}
	d, err := plan.LoadDescription(description)
	if err != nil {
		return nil, err
	}
	for _, w := range d.Warnings {
		fmt.Fprintln(a.errOut, "warning: "+w)
	}
	return plan.InitSpec(d, opts)
}

// proposeMapping reads the before and after schema descriptions and infers
// the mapping between them.
func proposeMapping(a *app, before, after string) (*compat.Proposal, error) {
	var schemas [2]*compat.Schema
	for i, path := range []string{before, after} {
		s, err := compat.LoadSchema(path)
		if err != nil {
			return nil, err
		}
		for _, w := range s.Warnings {
			fmt.Fprintln(a.errOut, "warning: "+w)
		}
		schemas[i] = s
	}
	p := compat.ProposeMapping(schemas[0], schemas[1])
	return &p, nil
}

// initPlaceholders parses the spec godwit init wrote and returns the fields
// still placeholders; any other error is a bug of init's: never hand over
// a spec Godwit itself would refuse for anything but its placeholders.
func initPlaceholders(data []byte, source string) (config.FieldErrors, error) {
	_, err := config.ParseSpec(data)
	if err == nil {
		return nil, nil
	}
	var fe config.FieldErrors
	if !errors.As(err, &fe) {
		return nil, fmt.Errorf("the spec written from %s is not valid (a bug in godwit init, please report it):\n%w", source, err)
	}
	var todo, other config.FieldErrors
	for _, e := range fe {
		if strings.HasPrefix(e.Message, config.PlaceholderMessage) {
			todo = append(todo, e)
		} else {
			other = append(other, e)
		}
	}
	if len(other) > 0 {
		return nil, fmt.Errorf("the spec written from %s is not valid (a bug in godwit init, please report it):\n%w", source, other)
	}
	return todo, nil
}

func readCompatReport(path string) (*compat.Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read --compat report: %w", err)
	}
	r, err := compat.DecodeReport(data)
	if err != nil {
		return nil, fmt.Errorf("--compat %s is not a compatibility report (JSON with overall_compatibility, as godwit check-compat or the Migration Architect method's checker writes it): %v", path, err)
	}
	return r, nil
}
