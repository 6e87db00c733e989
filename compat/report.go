package compat

import (
	"fmt"
	"sort"
	"strings"
)

// Severity says how a change affects the code and data that use the old
// schema or API.
type Severity string

// The severities, most serious first.
const (
	// Breaking: code or data written for the old version fails or is lost.
	Breaking Severity = "breaking"
	// PotentiallyBreaking: it fails for some data or some clients.
	PotentiallyBreaking Severity = "potentially_breaking"
	// NonBreaking: a change that existing code and data survive.
	NonBreaking Severity = "non_breaking"
	// Additive: something new that nothing uses yet.
	Additive Severity = "additive"
)

// rank orders severities, most serious first.
func (s Severity) rank() int {
	switch s {
	case Breaking:
		return 0
	case PotentiallyBreaking:
		return 1
	case NonBreaking:
		return 2
	}
	return 3
}

// The overall verdicts of a report.
const (
	FullyCompatible         = "fully_compatible"
	BackwardCompatible      = "backward_compatible"
	PotentiallyIncompatible = "potentially_incompatible"
	Incompatible            = "breaking"
)

// Report is a compatibility report in the Migration Architect format.
type Report struct {
	// Kind is "schema" or "openapi".
	Kind                 string         `json:"kind"`
	Before               string         `json:"before,omitempty"`
	After                string         `json:"after,omitempty"`
	OverallCompatibility string         `json:"overall_compatibility"`
	Summary              Summary        `json:"summary"`
	Issues               []Issue        `json:"issues"`
	Dialect              Dialect        `json:"dialect,omitempty"`
	MigrationScripts     []Script       `json:"migration_scripts"`
	RiskAssessment       RiskAssessment `json:"risk_assessment"`
	Recommendations      []string       `json:"recommendations"`
	// Warnings are the fields of the two descriptions that Godwit does not
	// know and ignored (file, field path, line).
	Warnings []string `json:"warnings,omitempty"`
}

// Summary counts the issues by severity.
type Summary struct {
	Total               int `json:"total_issues"`
	Breaking            int `json:"breaking"`
	PotentiallyBreaking int `json:"potentially_breaking"`
	NonBreaking         int `json:"non_breaking"`
	Additive            int `json:"additive"`
}

// Issue is one change between the two versions.
type Issue struct {
	Type               string   `json:"type"`
	Severity           Severity `json:"severity"`
	Description        string   `json:"description"`
	FieldPath          string   `json:"field_path"`
	OldValue           any      `json:"old_value,omitempty"`
	NewValue           any      `json:"new_value,omitempty"`
	Impact             string   `json:"impact"`
	SuggestedMigration string   `json:"suggested_migration,omitempty"`
	AffectedOperations []string `json:"affected_operations,omitempty"`
}

// Script applies one change and undoes it. Scripts are listed in the order
// they must run; run the rollbacks in the reverse order.
type Script struct {
	Order       int    `json:"order"`
	FieldPath   string `json:"field_path"`
	Description string `json:"description"`
	ForwardSQL  string `json:"forward_sql"`
	RollbackSQL string `json:"rollback_sql"`
	// PrecheckQuery counts the rows that would make the forward SQL fail or
	// lose data; run it before: 0 means safe.
	PrecheckQuery string `json:"precheck_query,omitempty"`
	// PrecheckAfterExpand marks a precheck that reads a column this
	// migration adds: it can run only once the expand step (the ADD
	// COLUMN before it) has; the query starts with a comment saying so.
	PrecheckAfterExpand bool `json:"precheck_after_expand,omitempty"`
	// RollbackPrecheckQuery counts the rows the rollback SQL would fail on
	// or cut (a widening's rollback narrows the column again); run it
	// before rolling back: 0 means safe.
	RollbackPrecheckQuery string `json:"rollback_precheck_query,omitempty"`
	// ValidationQuery returns one row with ok = true once the forward SQL
	// has been applied.
	ValidationQuery string `json:"validation_query,omitempty"`
	// DataLoss is set when the rollback restores the structure but not the
	// data the forward SQL removed.
	DataLoss bool `json:"data_loss,omitempty"`
	// ExpandContract is the online form of a column rename, for a live
	// schema that old and new code use at once: the forward SQL's plain
	// RENAME COLUMN breaks the code still on the old name. Set only when
	// the rename is the whole script (no constraint, trigger or table
	// rebuild goes with it).
	ExpandContract *RenameSplit `json:"expand_contract,omitempty"`
}

// RenameSplit is a column rename written as an expand–contract change:
// expand adds the new column (nullable: old code does not write it),
// dual-write keeps both in step while a backfill fills it, contract drops
// the old column (and makes the new one NOT NULL when it must be).
type RenameSplit struct {
	Table             string `json:"table"`
	From              string `json:"from"`
	To                string `json:"to"`
	ExpandSQL         string `json:"expand_sql"`
	ExpandRollbackSQL string `json:"expand_rollback_sql"`
	ContractSQL       string `json:"contract_sql"`
}

// RiskAssessment sums up what the changes put at risk.
type RiskAssessment struct {
	OverallRisk string `json:"overall_risk"` // LOW, MEDIUM, HIGH
	// DataLossChanges are the field paths whose rollback cannot bring
	// back the data the change removes.
	DataLossChanges []string `json:"data_loss_changes,omitempty"`
	// NeedsPrecheck are the field paths whose forward SQL fails on some
	// existing data: run their precheck queries first.
	NeedsPrecheck []string `json:"needs_precheck,omitempty"`
	Factors       []string `json:"factors"`
}

// Breaking reports whether the report holds a breaking change.
func (r *Report) Breaking() bool { return r.Summary.Breaking > 0 }

// AtLeast reports whether the report holds a change at least as serious as s.
func (r *Report) AtLeast(s Severity) bool {
	for _, i := range r.Issues {
		if i.Severity.rank() <= s.rank() {
			return true
		}
	}
	return false
}

// finish sorts the issues (most serious first, then by path), counts them
// and derives the verdict, the risk and the recommendations.
func (r *Report) finish() {
	sort.SliceStable(r.Issues, func(i, j int) bool {
		a, b := r.Issues[i], r.Issues[j]
		if a.Severity.rank() != b.Severity.rank() {
			return a.Severity.rank() < b.Severity.rank()
		}
		return a.FieldPath < b.FieldPath
	})
	r.Summary = countIssues(r.Issues)
	switch {
	case r.Summary.Breaking > 0:
		r.OverallCompatibility = Incompatible
	case r.Summary.PotentiallyBreaking > 0:
		r.OverallCompatibility = PotentiallyIncompatible
	case r.Summary.Total > 0:
		r.OverallCompatibility = BackwardCompatible
	default:
		r.OverallCompatibility = FullyCompatible
	}
	if r.Issues == nil {
		r.Issues = []Issue{}
	}
	if r.MigrationScripts == nil {
		r.MigrationScripts = []Script{}
	}
	r.assessRisk()
	r.recommend()
}

func (r *Report) assessRisk() {
	ra := RiskAssessment{OverallRisk: "LOW", Factors: []string{}}
	for _, s := range r.MigrationScripts {
		if s.DataLoss {
			ra.DataLossChanges = appendUnique(ra.DataLossChanges, s.FieldPath)
		}
		if s.PrecheckQuery != "" {
			ra.NeedsPrecheck = appendUnique(ra.NeedsPrecheck, s.FieldPath)
		}
	}
	if r.Summary.Breaking > 0 {
		ra.OverallRisk = "HIGH"
		ra.Factors = append(ra.Factors, fmt.Sprintf("%d breaking change(s): code written for the old version fails against the new one", r.Summary.Breaking))
	}
	if n := len(ra.DataLossChanges); n > 0 {
		ra.OverallRisk = "HIGH"
		ra.Factors = append(ra.Factors, fmt.Sprintf("%d change(s) remove data that their rollback cannot restore: take a backup first", n))
	}
	if r.Summary.PotentiallyBreaking > 0 {
		if ra.OverallRisk == "LOW" {
			ra.OverallRisk = "MEDIUM"
		}
		ra.Factors = append(ra.Factors, fmt.Sprintf("%d potentially breaking change(s): they fail for some data or clients", r.Summary.PotentiallyBreaking))
	}
	if n := len(ra.NeedsPrecheck); n > 0 {
		if ra.OverallRisk == "LOW" {
			ra.OverallRisk = "MEDIUM"
		}
		ra.Factors = append(ra.Factors, fmt.Sprintf("%d change(s) fail on some existing data: run their precheck queries first", n))
	}
	if len(ra.Factors) == 0 {
		ra.Factors = append(ra.Factors, "no change breaks existing readers or writers")
	}
	r.RiskAssessment = ra
}

// recommend gives the expand–contract steps for each kind of breaking
// change found, once per kind.
func (r *Report) recommend() {
	seen := map[string]bool{}
	r.Recommendations = []string{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			r.Recommendations = append(r.Recommendations, s)
		}
	}
	for _, i := range r.Issues {
		if i.Severity == Breaking || i.Severity == PotentiallyBreaking {
			if rec := recommendations[i.Type]; rec != "" {
				add(rec)
			}
		}
	}
	if r.Summary.Breaking > 0 {
		add("Ship breaking changes with the expand–contract pattern: add the new structure beside the old (expand), dual-write, backfill, switch reads, and drop the old one (contract) only in a later release, once nothing uses it.")
	}
	if len(r.RiskAssessment.NeedsPrecheck) > 0 {
		add("Run each script's precheck_query against production data before the migration; any count above 0 makes the forward SQL fail or lose data.")
	}
	if r.Kind == "schema" && len(r.MigrationScripts) > 0 {
		add("Apply migration_scripts in order; to undo, run their rollback_sql in reverse order.")
	}
}

var recommendations = map[string]string{
	"column_removed":          "Before dropping a column, release code that neither reads nor writes it, and keep the column for one release (contract last).",
	"column_renamed":          "For a column rename, expand–contract: add the new column, dual-write both, backfill, switch reads, then drop the old column; a plain RENAME breaks every running client at once.",
	"table_removed":           "Before dropping a table, make sure no service, job or report still reads it, and keep a backup: its rollback recreates it empty.",
	"table_renamed":           "For a table rename, expand–contract: create the new table (or a view with the old name) so old and new code both work during the release.",
	"column_type_narrowed":    "Before narrowing a type, run the precheck query: existing values that do not fit make the ALTER fail; fix or migrate them first.",
	"column_type_changed":     "A change of type family needs an expand–contract: add a column of the new type, dual-write, backfill with a conversion, switch reads, drop the old.",
	"column_made_not_null":    "Before SET NOT NULL, deploy writers that always set the column and backfill existing NULLs; on large tables add a CHECK (col IS NOT NULL) NOT VALID, VALIDATE it, then SET NOT NULL.",
	"column_added":            "A NOT NULL column without a default breaks inserts from old code: give it a default, or add it nullable, backfill, and set NOT NULL later.",
	"unique_constraint_added": "Before adding a unique constraint, remove duplicates (precheck query) and make writers avoid them; on large tables build a unique index CONCURRENTLY and attach it.",
	"check_constraint_added":  "Add CHECK and FOREIGN KEY constraints as NOT VALID, then VALIDATE CONSTRAINT, so existing rows are checked without a long lock.",
	"foreign_key_added":       "Add CHECK and FOREIGN KEY constraints as NOT VALID, then VALIDATE CONSTRAINT, so existing rows are checked without a long lock.",
	"primary_key_added":       "Before adding or changing a primary key, make sure the key columns are unique and not null (precheck query).",
	"primary_key_changed":     "Before adding or changing a primary key, make sure the key columns are unique and not null (precheck query).",
	"view_removed":            "Dropping a view breaks its readers: keep it (possibly over the new tables) until they have moved.",
	"procedure_removed":       "Dropping a procedure breaks its callers: keep it until they have moved.",
	"auto_increment_removed":  "Without auto-increment, inserts that omit the key fail: release writers that set the key first.",
	"endpoint_removed":        "Keep removed endpoints (or redirect them) until no client calls them; announce a deprecation first.",
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// Headline is a one-line summary for a terminal or a CI log.
func (r *Report) Headline() string {
	return fmt.Sprintf("%s: %d change(s): %d breaking, %d potentially breaking, %d non-breaking, %d additive",
		r.OverallCompatibility, r.Summary.Total, r.Summary.Breaking, r.Summary.PotentiallyBreaking, r.Summary.NonBreaking, r.Summary.Additive)
}

// Lines lists the issues one per line, most serious first, for a terminal.
func (r *Report) Lines() []string {
	lines := make([]string, 0, len(r.Issues)+len(r.Warnings))
	for _, i := range r.Issues {
		lines = append(lines, fmt.Sprintf("%-20s %s: %s", strings.ToUpper(string(i.Severity)), i.FieldPath, i.Description))
	}
	for _, w := range r.Warnings {
		lines = append(lines, fmt.Sprintf("%-20s %s", "WARNING", w))
	}
	return lines
}
