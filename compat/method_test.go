package compat

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The Migration Architect method's sample schemas, as shipped (see
// docread/testdata/method/README.md).
const (
	methodBefore = "../docread/testdata/method/assets/database_schema_before.json"
	methodAfter  = "../docread/testdata/method/assets/database_schema_after.json"
)

func TestMethodSampleSchemasLoadAsShipped(t *testing.T) {
	for _, path := range []string{methodBefore, methodAfter} {
		t.Run(path, func(t *testing.T) {
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			for name, doc := range map[string][]byte{"as shipped": data, "with a byte-order mark": append([]byte("\xef\xbb\xbf"), data...)} {
				s, err := ParseSchema(path, doc)
				require.NoError(t, err, name)
				assert.Empty(t, s.Warnings, "%s: every field of the method's format is known", name)
				users := s.Tables["users"]
				// "unique": ["username", "email"] is two one-column
				// constraints, not one on both.
				assert.Equal(t, []ColumnList{{"email"}, {"username"}}, users.Constraints.Unique, name)
			}
		})
	}
	after, err := LoadSchema(methodAfter)
	require.NoError(t, err)
	assert.Equal(t, "When email was verified", after.Tables["users"].Columns["email_verified_at"].Comment)
	assert.Equal(t, []ColumnList{{"user_id", "preference_key"}}, after.Tables["user_preferences"].Constraints.Unique, "a list of lists still means one constraint per list")
}

func TestMethodSampleSchemasCompare(t *testing.T) {
	before, err := LoadSchema(methodBefore)
	require.NoError(t, err)
	after, err := LoadSchema(methodAfter)
	require.NoError(t, err)
	r := CompareSchemas(before, after, Options{})
	got := findings(r)
	// The four check constraints the method's own report lists, and the
	// widenings, which break nothing.
	for _, want := range []string{
		"breaking check_constraint_added tables.users.constraints.check",
		"breaking check_constraint_added tables.user_profiles.constraints.check",
		"breaking check_constraint_added tables.user_sessions.constraints.check",
		"non_breaking column_type_widened tables.user_profiles.columns.bio.type",
		"non_breaking column_type_widened tables.users.columns.email.type",
		"additive table_added tables.user_preferences",
	} {
		assert.Contains(t, got, want)
	}
}

func TestUnknownColumnFieldIsAWarning(t *testing.T) {
	s, err := ParseSchema("s.yaml", []byte("tables:\n  t:\n    columns:\n      id: {type: bigint, primary_key: true, collation: C}\n"))
	require.NoError(t, err)
	require.Len(t, s.Warnings, 1)
	assert.Contains(t, s.Warnings[0], "s.yaml: tables.t.columns.id.collation (line 4): unknown field")
}

// TestPlannedChangeSeverityAgreesWithCompare checks that a change a
// description plans gets the severity CompareSchemas gives the same change
// made to two schemas.
func TestPlannedChangeSeverityAgreesWithCompare(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change map[string]any
		want   Severity
	}{
		{"a widening breaks nothing", map[string]any{"type": "modify_column", "column": "bio", "old_type": "varchar(255)", "new_type": "text"}, NonBreaking},
		{"a narrowing breaks", map[string]any{"type": "modify_column", "column": "bio", "old_type": "text", "new_type": "varchar(255)"}, Breaking},
		{"a conversion breaks", map[string]any{"type": "modify_column", "column": "n", "old_type": "varchar(20)", "new_type": "integer"}, Breaking},
		{"a nullable column is additive", map[string]any{"type": "add_column", "column": "email_verified_at", "data_type": "timestamp", "nullable": true}, Additive},
		{"a NOT NULL column without default breaks", map[string]any{"type": "add_column", "column": "x", "data_type": "integer", "nullable": false}, Breaking},
		{"an added check breaks (rows may fail it)", map[string]any{"type": "add_constraint", "constraint_type": "check", "definition": "LENGTH(bio) <= 2000"}, Breaking},
		{"a dropped check breaks nothing", map[string]any{"type": "drop_constraint", "constraint_type": "check", "definition": "x > 0"}, NonBreaking},
		{"a dropped column breaks", map[string]any{"type": "drop_column", "column": "x", "data_type": "integer"}, Breaking},
		{"an unknown change is not counted", map[string]any{"type": "reticulate"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, PlannedChangeSeverity(tc.change))
		})
	}
	// And on the method's own files: bio varchar(255) -> text is the
	// description's modify_column and the schemas' widening.
	before, err := LoadSchema(methodBefore)
	require.NoError(t, err)
	after, err := LoadSchema(methodAfter)
	require.NoError(t, err)
	for _, i := range CompareSchemas(before, after, Options{}).Issues {
		if i.FieldPath == "tables.user_profiles.columns.bio.type" {
			assert.Equal(t, PlannedChangeSeverity(map[string]any{"type": "modify_column", "column": "bio", "old_type": "varchar(255)", "new_type": "text"}), i.Severity)
		}
	}
}

// TestRollbackOfAWideningCountsWhatWouldNotFit: bio varchar(255) -> text
// breaks nothing forward, but its rollback narrows the column again, so
// the script counts the rows it would cut and is flagged data_loss.
func TestRollbackOfAWideningCountsWhatWouldNotFit(t *testing.T) {
	before, err := LoadSchema(methodBefore)
	require.NoError(t, err)
	after, err := LoadSchema(methodAfter)
	require.NoError(t, err)
	for d, length := range map[Dialect]string{Postgres: "char_length", MySQL: "char_length", SQLite: "length"} {
		r := CompareSchemas(before, after, Options{Dialect: d})
		var found bool
		for _, s := range r.MigrationScripts {
			if s.FieldPath == "tables.user_profiles.columns.bio.type" || d == SQLite && s.FieldPath == "tables.user_profiles" {
				found = true
				if d == SQLite {
					break // the rebuild carries the change; its rollback is checked on the engine
				}
				assert.Equal(t, "SELECT count(*) FROM user_profiles WHERE "+length+"(bio) > 255;", s.RollbackPrecheckQuery, d)
				assert.True(t, s.DataLoss, "%s: the rollback may cut values", d)
			}
		}
		require.True(t, found, d)
		path := "tables.users.columns.email.type"
		if d == SQLite {
			path = "tables.users" // the table's rebuild carries it
		}
		assert.Contains(t, r.RiskAssessment.DataLossChanges, path, "%s: email varchar(320) -> varchar(255) on rollback", d)
	}
}

// TestPrecheckOfANewColumnRunsAfterExpand: the method's after schema adds
// user_profiles.language with a check on it; counting the rows that fail
// the check needs the column, so the precheck is marked.
func TestPrecheckOfANewColumnRunsAfterExpand(t *testing.T) {
	before, err := LoadSchema(methodBefore)
	require.NoError(t, err)
	after, err := LoadSchema(methodAfter)
	require.NoError(t, err)
	r := CompareSchemas(before, after, Options{})
	var marked, unmarked []string
	for _, s := range r.MigrationScripts {
		if s.PrecheckQuery == "" {
			continue
		}
		if s.PrecheckAfterExpand {
			marked = append(marked, s.PrecheckQuery)
		} else {
			unmarked = append(unmarked, s.PrecheckQuery)
		}
	}
	require.Len(t, marked, 2, "language and session_type are new columns with checks")
	assert.Contains(t, marked[0]+marked[1], "-- run after expand: it reads language, which this migration adds\n")
	assert.Contains(t, marked[0]+marked[1], "-- run after expand: it reads session_type, which this migration adds\n")
	for _, q := range unmarked {
		assert.NotContains(t, q, "run after expand")
	}
	assert.NotEmpty(t, unmarked, "checks on existing columns (phone, bio) run any time")
}

// The method's own compatibility report, as its checker writes it
// (expected_outputs/schema_compatibility_report.json), reads into Godwit's
// shape: its top-level counts are the summary and its scripts'
// script_content and rollback_script the forward and rollback SQL.
func TestDecodeReportReadsTheMethodsOwnReport(t *testing.T) {
	data, err := os.ReadFile("../docread/testdata/method/expected_outputs/schema_compatibility_report.json")
	require.NoError(t, err)
	for name, doc := range map[string][]byte{"as shipped": data, "with a byte-order mark": append([]byte("\xef\xbb\xbf"), data...)} {
		t.Run(name, func(t *testing.T) {
			r, err := DecodeReport(doc)
			require.NoError(t, err)
			assert.Equal(t, "schema", r.Kind)
			assert.Equal(t, PotentiallyIncompatible, r.OverallCompatibility)
			assert.Equal(t, Summary{Total: 4, PotentiallyBreaking: 4}, r.Summary)
			assert.False(t, r.Breaking())
			require.Len(t, r.MigrationScripts, 13)
			first := r.MigrationScripts[0]
			assert.Equal(t, 1, first.Order)
			assert.Equal(t, "Create new table user_preferences", first.FieldPath)
			assert.Contains(t, first.ForwardSQL, "CREATE TABLE user_preferences")
			assert.Equal(t, "DROP TABLE IF EXISTS user_preferences;", first.RollbackSQL)
		})
	}
	t.Run("a breaking issue counts as breaking", func(t *testing.T) {
		doc := strings.Replace(string(data), `"severity": "potentially_breaking"`, `"severity": "breaking"`, 1)
		r, err := DecodeReport([]byte(doc))
		require.NoError(t, err)
		assert.True(t, r.Breaking())
		assert.Equal(t, 1, r.Summary.Breaking)
	})
	t.Run("godwit's own report reads unchanged", func(t *testing.T) {
		before, err := LoadSchema(methodBefore)
		require.NoError(t, err)
		after, err := LoadSchema(methodAfter)
		require.NoError(t, err)
		want := CompareSchemas(before, after, Options{Before: "a.json", After: "b.json"})
		b, err := json.Marshal(want)
		require.NoError(t, err)
		got, err := DecodeReport(b)
		require.NoError(t, err)
		assert.Equal(t, want.Summary, got.Summary)
		assert.Equal(t, want.MigrationScripts, got.MigrationScripts)
		assert.Equal(t, "a.json", got.Before)
	})
	t.Run("not a report", func(t *testing.T) {
		_, err := DecodeReport([]byte(`{"tables": {}}`))
		require.ErrorContains(t, err, "overall_compatibility")
	})
}
