package compatdriver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/compat"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/drivers/stores"
	"github.com/godwit/godwit/specfiles"
)

// ErrTypeIncompatible is the error type of a gate that found changes as
// serious as failOn. It is not retried: the same schemas give the same
// findings. Fix the change (or plan its expand–contract steps and relax
// failOn), then start the migration again.
const ErrTypeIncompatible = "IncompatibleChanges"

// maxOutputBytes bounds the phase result's output (reports and plan): it
// goes into the workflow's history.
const maxOutputBytes = 16 << 10

// maxLines bounds the findings listed per report in the summary text.
const maxLines = 40

// Driver runs compat sections.
type Driver struct {
	activities.Driver
	Logger hclog.Logger
}

// New returns the compat driver; a compensation has nothing to undo.
func New(logger hclog.Logger) *Driver {
	d := &Driver{Logger: logger.Named(Key)}
	d.Driver = activities.Adapt(logger, activities.Phase[*Spec]{Key: Key, Run: d.run, Preflight: d.preflight, Errors: errorKinds,
		NoCompensation: "nothing to undo: the compatibility checks change nothing"})
	return d
}

// run compares and fails the phase with the reports' summary when a
// change is as serious as failOn.
func (d *Driver) run(ctx context.Context, c *activities.Call[*Spec]) (activities.PhaseResult, error) {
	s, in, log := c.Spec, c.In, c.Log
	c.Beat(activities.Heartbeat{Detail: "comparing " + s.what()})
	reports, err := Compare(ctx, s, s.Stores)
	if err != nil {
		return activities.PhaseResult{}, fmt.Errorf("compat: %w", err)
	}
	res := Result(s, reports, in.Phase.Outputs)
	var failed []string
	for _, r := range reports {
		log.Info("compared", "kind", r.Kind, "before", r.Before, "after", r.After, "verdict", r.OverallCompatibility,
			"breaking", r.Summary.Breaking, "potentially_breaking", r.Summary.PotentiallyBreaking)
		if r.AtLeast(s.Threshold()) {
			failed = append(failed, fmt.Sprintf("%s %s → %s: %s (%s)", r.Kind, r.Before, r.After, r.Headline(), firstFindings(r, s.Threshold())))
		}
	}
	if len(failed) > 0 {
		msg := fmt.Sprintf("%s changes found (failOn: %s): %s; the phase result lists them with the expand–contract steps",
			s.Threshold(), orDefault(s.FailOn, FailOnBreaking), strings.Join(failed, "; "))
		return res, temporal.NewNonRetryableApplicationError(msg, ErrTypeIncompatible, nil, res)
	}
	return res, nil
}

// maxFindings is how many findings the error of a failed gate names.
const maxFindings = 5

// firstFindings lists the findings at least as serious as min, the first
// few: the error says why the gate failed without opening the result.
func firstFindings(r *compat.Report, min compat.Severity) string {
	var list []string
	n := 0
	for _, is := range r.Issues {
		if is.Severity != compat.Breaking && (min == compat.Breaking || is.Severity != compat.PotentiallyBreaking) {
			continue
		}
		if n++; n <= maxFindings {
			list = append(list, is.Description)
		}
	}
	if n > maxFindings {
		list = append(list, fmt.Sprintf("%d more", n-maxFindings))
	}
	return strings.Join(list, "; ")
}

func (s *Spec) what() string {
	var parts []string
	if s.Before != nil && s.After != nil {
		parts = append(parts, fmt.Sprintf("schema %s → %s", s.Before, s.After))
	}
	if s.OpenAPI != nil {
		parts = append(parts, fmt.Sprintf("API %s → %s", s.OpenAPI.Before, s.OpenAPI.After))
	}
	return strings.Join(parts, " and ")
}

// Compare runs the section's comparisons, schemas first, then APIs, with
// stores resolved through st (engine and DSN reference by name).
func Compare(ctx context.Context, s *Spec, st map[string]config.StoreSpec) ([]*compat.Report, error) {
	if err := filesInside(s); err != nil {
		return nil, fileError{err}
	}
	var reports []*compat.Report
	if s.Before != nil && s.After != nil {
		before, err := LoadSchema(ctx, *s.Before, st)
		if err != nil {
			return nil, fmt.Errorf("before: %w", err)
		}
		after, err := LoadSchema(ctx, *s.After, st)
		if err != nil {
			return nil, fmt.Errorf("after: %w", err)
		}
		reports = append(reports, compat.CompareSchemas(before, after, compat.Options{
			Dialect: compat.Postgres, NoRenames: s.NoRenames, Before: s.Before.String(), After: s.After.String(),
		}))
	}
	if o := s.OpenAPI; o != nil {
		r, err := compat.CompareOpenAPI(o.Before, o.After)
		if err != nil {
			return nil, fileError{fmt.Errorf("openapi: %w", err)}
		}
		reports = append(reports, r)
	}
	return reports, nil
}

// filesInside refuses the section's files that lie outside the worker's
// files directory (specfiles): a spec must not make the worker read any
// file it can.
func filesInside(s *Spec) error {
	var files []struct{ field, path string }
	for _, f := range []struct {
		field string
		src   *Source
	}{{"compat.before.file", s.Before}, {"compat.after.file", s.After}} {
		if f.src != nil && f.src.File != "" {
			files = append(files, struct{ field, path string }{f.field, f.src.File})
		}
	}
	if o := s.OpenAPI; o != nil {
		files = append(files, struct{ field, path string }{"compat.openapi.before", o.Before}, struct{ field, path string }{"compat.openapi.after", o.After})
	}
	for _, f := range files {
		if _, err := specfiles.Resolve(f.field, f.path); errors.Is(err, specfiles.ErrOutside) {
			return err
		}
	}
	return nil
}

// LoadSchema reads a schema: a description file, or the live schema of a
// store of st, exported.
func LoadSchema(ctx context.Context, src Source, st map[string]config.StoreSpec) (*compat.Schema, error) {
	if src.Store == "" {
		s, err := compat.LoadSchema(src.File)
		if err != nil {
			return nil, fileError{err}
		}
		return s, nil
	}
	db, err := stores.Open(ctx, st, src.Store)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	s, _, err := compat.ExportSchema(ctx, db, compat.ExportOptions{Tables: src.Tables})
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", src.Store, err)
	}
	return s, nil
}

// fileError marks a file that is missing or not valid: a retry reads the
// same file.
type fileError struct{ error }

func (e fileError) Unwrap() error { return e.error }

// errorKinds: a missing or invalid file is a ConfigError (a retry reads
// the same file); then those of any store.
var errorKinds = append([]activities.ErrorKind{{Is: isFileError, Type: activities.ErrTypeConfig}}, stores.Errors...)

func isFileError(err error) bool {
	var fe fileError
	return errors.As(err, &fe)
}

// Result is the phase result of the comparisons: the verdicts and the
// plan's headline as its summary; the findings, the plan and the reports
// (JSON, cut to fit) as its output; the declared outputs among
// compatibility, api_compatibility and breaking (the count).
func Result(s *Spec, reports []*compat.Report, declared []string) activities.PhaseResult {
	var summary, text []string
	values := map[string]string{}
	breaking := 0
	for _, r := range reports {
		summary = append(summary, fmt.Sprintf("%s: %s", r.Kind, r.Headline()))
		text = append(text, fmt.Sprintf("%s %s → %s: %s", r.Kind, r.Before, r.After, r.Headline()))
		lines := r.Lines()
		for i, l := range lines {
			if i == maxLines {
				text = append(text, fmt.Sprintf("  … and %d more (see the report below)", len(lines)-maxLines))
				break
			}
			text = append(text, "  "+l)
		}
		breaking += r.Summary.Breaking
		if r.Kind == "openapi" {
			values["api_compatibility"] = r.OverallCompatibility
		} else {
			values["compatibility"] = r.OverallCompatibility
		}
	}
	values["breaking"] = fmt.Sprint(breaking)
	if s.Plan != "" {
		head, _, _ := strings.Cut(s.Plan, "\n")
		summary = append(summary, "plan: "+head)
		text = append(text, "", "plan:", strings.TrimRight(s.Plan, "\n"))
	}
	out := strings.Join(text, "\n") + "\n"
	if room := maxOutputBytes - len(out) - len("\nreports:\n\n"); room > 200 {
		out += "\nreports:\n" + boundedJSON(reports, room) + "\n"
	}
	res := activities.PhaseResult{Summary: strings.Join(summary, "; "), Output: cut(out, maxOutputBytes)}
	for _, name := range declared {
		if v, ok := values[name]; ok {
			if res.Outputs == nil {
				res.Outputs = map[string]string{}
			}
			res.Outputs[name] = v
		}
	}
	for _, r := range reports {
		res.Records += int64(r.Summary.Total)
	}
	return res
}

// boundedJSON writes the reports as JSON in at most max bytes: whole if
// they fit, else without their SQL scripts and recommendations, else with
// as many issues as fit (the summary counts stay whole).
func boundedJSON(reports []*compat.Report, max int) string {
	enc := func(rs []*compat.Report) string {
		b, _ := json.Marshal(rs)
		return string(b)
	}
	if s := enc(reports); len(s) <= max {
		return s
	}
	lean := make([]*compat.Report, len(reports))
	for i, r := range reports {
		c := *r
		c.MigrationScripts, c.Recommendations = nil, nil
		lean[i] = &c
	}
	for {
		s := enc(lean)
		if len(s) <= max {
			return s
		}
		cutOne := false
		for _, r := range lean {
			if n := len(r.Issues); n > 0 {
				r.Issues = r.Issues[:n/2]
				cutOne = true
			}
		}
		if !cutOne {
			return cut(s, max)
		}
	}
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-len("…")] + "…"
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// preflight checks, changing nothing, that the files exist and are valid
// and that the stores answer (and have the tables named).
func (d *Driver) preflight(ctx context.Context, spec *config.Spec, phase config.PhaseSpec, s *Spec) []string {
	if err := filesInside(s); err != nil {
		return []string{err.Error()}
	}
	var problems []string
	for _, f := range []struct {
		field string
		src   *Source
	}{{"before", s.Before}, {"after", s.After}} {
		if f.src == nil {
			continue
		}
		if f.src.File != "" {
			if _, err := compat.LoadSchema(f.src.File); err != nil {
				problems = append(problems, fmt.Sprintf("compat %s: %v", f.field, err))
			}
			continue
		}
		problems = append(problems, storeProblems(ctx, spec.Stores, stores.Before(spec, phase.Name), *f.src)...)
	}
	if o := s.OpenAPI; o != nil {
		missing := false
		for _, p := range []string{o.Before, o.After} {
			if _, err := os.Stat(p); err != nil {
				problems = append(problems, fmt.Sprintf("compat openapi: %v (paths are read on the worker, relative to its directory)", err))
				missing = true
			}
		}
		if !missing {
			if _, err := compat.CompareOpenAPI(o.Before, o.After); err != nil {
				problems = append(problems, fmt.Sprintf("compat openapi: %v", err))
			}
		}
	}
	return problems
}

func storeProblems(ctx context.Context, st map[string]config.StoreSpec, plan stores.Plan, src Source) []string {
	db, err := stores.OpenReadOnly(ctx, st, src.Store)
	if err != nil {
		if errors.Is(err, datastore.ErrNoDatabase) && plan.Database(src.Store) {
			return nil
		}
		return []string{stores.Unreachable(src.Store, st, err)}
	}
	defer db.Close()
	if len(src.Tables) == 0 {
		if _, err := db.ListTables(ctx); err != nil {
			return []string{stores.Problem(src.Store, err)}
		}
		return nil
	}
	var problems []string
	for _, p := range src.Tables {
		if plan.Table(src.Store, p) {
			continue // created by an earlier phase
		}
		_, missing, err := stores.ResolveEach(ctx, db, src.Store, []string{p})
		if err != nil {
			return []string{stores.Problem(src.Store, err)}
		}
		problems = append(problems, missing...)
	}
	return problems
}
