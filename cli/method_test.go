package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// method is one of the Migration Architect method's sample files, as
// shipped (docread/testdata/method/README.md).
func method(t *testing.T, name string) string {
	t.Helper()
	return fixture(t, "docread", filepath.Join("method", "assets", name))
}

// TestMethodSampleFilesLoadAsShipped runs check-compat, plan and init on
// the method's four sample files exactly as published.
func TestMethodSampleFilesLoadAsShipped(t *testing.T) {
	t.Run("check-compat", func(t *testing.T) {
		before, after := method(t, "database_schema_before.json"), method(t, "database_schema_after.json")
		report := filepath.Join(t.TempDir(), "report.json")
		_, stderr, err := godwit(t, noDial(t), "check-compat", "--before", before, "--after", after, "-o", report)
		assert.Equal(t, 2, exitCode(err), "the added checks are breaking; error: %v", err)
		assert.Contains(t, stderr, "check constraint on users added")
		assert.NotContains(t, stderr, "WARNING")
		data, err := os.ReadFile(report)
		require.NoError(t, err)
		var r struct {
			Overall string `json:"overall_compatibility"`
		}
		require.NoError(t, json.Unmarshal(data, &r))
		assert.Equal(t, "breaking", r.Overall)
	})
	for _, desc := range []string{"sample_database_migration.json", "sample_service_migration.json"} {
		file := method(t, desc)
		t.Run("plan "+desc, func(t *testing.T) {
			out, stderr, err := godwit(t, noDial(t), "plan", "--description", file)
			require.NoError(t, err)
			assert.Contains(t, stderr, "RISK")
			var p map[string]any
			require.NoError(t, json.Unmarshal([]byte(out), &p))
		})
		t.Run("init "+desc, func(t *testing.T) {
			out, stderr, err := godwit(t, noDial(t), "init", "--description", file)
			require.NoError(t, err, stderr)
			assert.Contains(t, out, "phases:")
			assert.NotContains(t, stderr, "unknown field")
		})
	}
}

func TestUnknownDescriptionFieldIsAWarningOnStderr(t *testing.T) {
	desc := filepath.Join(t.TempDir(), "d.yaml")
	require.NoError(t, os.WriteFile(desc, []byte("type: service\nowner_team: identity\n"), 0o600))
	_, stderr, err := godwit(t, noDial(t), "init", "--description", desc)
	require.NoError(t, err)
	assert.Contains(t, stderr, "warning: "+desc+": owner_team (line 2): unknown field")

	schema := filepath.Join(t.TempDir(), "s.yaml")
	report := filepath.Join(t.TempDir(), "report.json")
	require.NoError(t, os.WriteFile(schema, []byte("tables:\n  t:\n    columns:\n      id: {type: bigint, collation: C}\n"), 0o600))
	_, stderr, err = godwit(t, noDial(t), "check-compat", "--before", schema, "--after", schema)
	require.NoError(t, err)
	assert.Contains(t, stderr, "WARNING              "+schema+": tables.t.columns.id.collation (line 4): unknown field")
	_, _, err = godwit(t, noDial(t), "check-compat", "--before", schema, "--after", schema, "-o", report)
	require.NoError(t, err)
	data, err := os.ReadFile(report)
	require.NoError(t, err)
	var r struct {
		Warnings []string `json:"warnings"`
	}
	require.NoError(t, json.Unmarshal(data, &r))
	require.Len(t, r.Warnings, 2, "the report lists them too, once per side")
	assert.Contains(t, r.Warnings[0], "tables.t.columns.id.collation (line 4): unknown field")
}

func TestCompatReportWithAByteOrderMarkIsRead(t *testing.T) {
	desc := method(t, "sample_database_migration.json")
	report := filepath.Join(t.TempDir(), "report.json")
	_, _, err := godwit(t, noDial(t), "check-compat", "--before", fixture(t, "compat", "before.json"), "--after", fixture(t, "compat", "after.yaml"), "-o", report)
	require.Equal(t, 2, exitCode(err))
	data, err := os.ReadFile(report)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(report, append([]byte("\xef\xbb\xbf"), data...), 0o600))
	_, stderr, err := godwit(t, noDial(t), "plan", "--description", desc, "--compat", report)
	require.NoError(t, err)
	assert.Contains(t, stderr, "schema comparison: 10 breaking change(s)")
}

// TestFailOnNeverLetsThePipelineReachAcceptBreaking: check-compat --fail-on
// never exits 0 with the report, plan --accept-breaking acknowledges it,
// and the runbook carries its rollback SQL.
func TestFailOnNeverLetsThePipelineReachAcceptBreaking(t *testing.T) {
	before, after := method(t, "database_schema_before.json"), method(t, "database_schema_after.json")
	spec := fixture(t, "plan", "spec.yaml")
	report := filepath.Join(t.TempDir(), "report.json")
	_, stderr, err := godwit(t, noDial(t), "check-compat", "--before", before, "--after", after, "--fail-on", "never", "-o", report)
	require.NoError(t, err, "never: the report is written and the stage passes")
	assert.Contains(t, stderr, "breaking")

	_, _, err = godwit(t, noDial(t), "plan", "-f", spec, "--compat", report, "--validate", "--max-risk", "HIGH")
	assert.Equal(t, 2, exitCode(err), "unacknowledged: %v", err)
	_, _, err = godwit(t, noDial(t), "plan", "-f", spec, "--compat", report, "--validate", "--max-risk", "HIGH", "--accept-breaking")
	assert.NoError(t, err)

	out, _, err := godwit(t, noDial(t), "runbook", "-f", spec, "--compat", report)
	require.NoError(t, err)
	assert.Contains(t, out, "## Schema rollback SQL")
	assert.Contains(t, out, "DROP TABLE user_preferences;")

	_, _, err = godwit(t, noDial(t), "check-compat", "--before", before, "--after", after, "--fail-on", "sometimes")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "use never, breaking or potentially_breaking")
}

// The method's own compatibility report (its expected_outputs), as shipped
// and with a byte-order mark, is read by plan --compat and runbook
// --compat: its rollback SQL reaches the runbook, and a breaking issue in
// it is a risk.
func TestPlanReadsTheMethodsOwnCompatReport(t *testing.T) {
	desc := method(t, "sample_database_migration.json")
	shipped := fixture(t, "docread", filepath.Join("method", "expected_outputs", "schema_compatibility_report.json"))
	data, err := os.ReadFile(shipped)
	require.NoError(t, err)
	bom := filepath.Join(t.TempDir(), "bom.json")
	require.NoError(t, os.WriteFile(bom, append([]byte("\xef\xbb\xbf"), data...), 0o600))
	for _, report := range []string{shipped, bom} {
		_, stderr, err := godwit(t, noDial(t), "plan", "--description", desc, "--compat", report)
		require.NoError(t, err, stderr)
		out, stderr, err := godwit(t, noDial(t), "runbook", "--description", desc, "--compat", report)
		require.NoError(t, err, stderr)
		assert.Contains(t, out, "## Schema rollback SQL (schema comparison)")
		assert.Contains(t, out, "DROP TABLE IF EXISTS user_preferences;")
		assert.NotContains(t, out, "### Undo 0:")
	}
	breaking := filepath.Join(t.TempDir(), "breaking.json")
	require.NoError(t, os.WriteFile(breaking, []byte(strings.Replace(string(data), `"severity": "potentially_breaking"`, `"severity": "breaking"`, 1)), 0o600))
	_, stderr, err := godwit(t, noDial(t), "plan", "--description", desc, "--compat", breaking)
	require.NoError(t, err, stderr)
	assert.Contains(t, stderr, "risk +3 breaking_changes: schema comparison: 1 breaking change(s)")
}
