package compat

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// methodReport holds the fields of a compatibility report written by the
// Migration Architect method's own checker (its
// expected_outputs/schema_compatibility_report.json) that Godwit's report
// names differently: counts at the top level instead of a summary, and
// scripts as script_content and rollback_script.
type methodReport struct {
	SchemaBefore     *string `json:"schema_before"`
	SchemaAfter      *string `json:"schema_after"`
	Breaking         *int    `json:"breaking_changes_count"`
	Potentially      *int    `json:"potentially_breaking_count"`
	NonBreaking      *int    `json:"non_breaking_changes_count"`
	Additive         *int    `json:"additive_changes_count"`
	MigrationScripts []struct {
		Description     string `json:"description"`
		ScriptContent   string `json:"script_content"`
		RollbackScript  string `json:"rollback_script"`
		ValidationQuery string `json:"validation_query"`
	} `json:"migration_scripts"`
}

// DecodeReport reads a compatibility report: one `godwit check-compat`
// wrote, or one in the Migration Architect method's own format, as its
// checker writes it. Either may start with a UTF-8 byte-order mark (an
// editor's save). The method's shape is read into Godwit's: its counts
// become the summary (or, when missing, are counted from the issues) and
// its scripts' script_content and rollback_script become the forward and
// rollback SQL, in the order given.
func DecodeReport(data []byte) (*Report, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	if r.OverallCompatibility == "" {
		return nil, errors.New("no overall_compatibility field")
	}
	var m methodReport
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	if m.SchemaBefore == nil && m.SchemaAfter == nil && m.Breaking == nil {
		return &r, nil // Godwit's own shape
	}
	if r.Kind == "" {
		r.Kind = "schema"
	}
	if r.Summary == (Summary{}) {
		r.Summary = countIssues(r.Issues)
		if r.Summary.Total == 0 {
			r.Summary = Summary{Breaking: deref(m.Breaking), PotentiallyBreaking: deref(m.Potentially),
				NonBreaking: deref(m.NonBreaking), Additive: deref(m.Additive)}
			r.Summary.Total = r.Summary.Breaking + r.Summary.PotentiallyBreaking + r.Summary.NonBreaking + r.Summary.Additive
		}
	}
	for i, s := range m.MigrationScripts {
		if i >= len(r.MigrationScripts) {
			break
		}
		ms := &r.MigrationScripts[i]
		if ms.Order == 0 {
			ms.Order = i + 1
		}
		if ms.ForwardSQL == "" {
			ms.ForwardSQL = s.ScriptContent
		}
		if ms.RollbackSQL == "" {
			ms.RollbackSQL = s.RollbackScript
		}
		if ms.ValidationQuery == "" {
			ms.ValidationQuery = s.ValidationQuery
		}
		if ms.FieldPath == "" {
			ms.FieldPath = strings.TrimSpace(s.Description)
		}
	}
	return &r, nil
}

// countIssues is the summary of issues by severity.
func countIssues(issues []Issue) Summary {
	s := Summary{Total: len(issues)}
	for _, i := range issues {
		switch i.Severity {
		case Breaking:
			s.Breaking++
		case PotentiallyBreaking:
			s.PotentiallyBreaking++
		case NonBreaking:
			s.NonBreaking++
		default:
			s.Additive++
		}
	}
	return s
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
