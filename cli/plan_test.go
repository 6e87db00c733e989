package cli

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/config"
)

// fixture is a testdata file of another package, as an absolute path:
// godwit() runs the CLI in an empty directory.
func fixture(t *testing.T, pkg, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", pkg, "testdata", name))
	require.NoError(t, err)
	return p
}

// exitCode is the code Execute would return for err.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 1
}

func TestCheckCompatExitCodes(t *testing.T) {
	before, after := fixture(t, "compat", "before.json"), fixture(t, "compat", "after.yaml")
	v1, v2 := fixture(t, "compat", "api-v1.yaml"), fixture(t, "compat", "api-v2.yaml")
	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		stderr     string
		errMessage string
	}{
		{"breaking schema change fails the stage", []string{"--before", before, "--after", after}, 2, "breaking: 19 change(s): 10 breaking", "breaking changes found"},
		{"same schema passes", []string{"--before", before, "--after", before}, 0, "fully_compatible: 0 change(s)", ""},
		{"breaking API change fails the stage", []string{"--before-openapi", v1, "--after-openapi", v2}, 2, "GET /api/v1/legacy-report: API path removed without deprecation", "breaking changes found"},
		{"same API passes", []string{"--before-openapi", v1, "--after-openapi", v1}, 0, "fully_compatible", ""},
		{"missing --after is a usage error", []string{"--before", before}, 1, "", "--before and --after go together"},
		{"nothing to compare", nil, 1, "", "nothing to compare"},
		{"unknown dialect", []string{"--before", before, "--after", after, "--dialect", "oracle"}, 1, "", `dialect "oracle" is not known`},
		{"bad schema names file, path and fix", []string{"--before", before, "--after", writeSpec(t, "tables:\n  t:\n    columns: {id: {tipe: int}}\n")}, 1, "",
			`tables.t.columns.id.tipe (line 3): unknown field (did you mean "type"?)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, err := godwit(t, noDial(t), append([]string{"check-compat"}, tc.args...)...)
			assert.Equal(t, tc.code, exitCode(err), "error: %v", err)
			assert.Contains(t, stderr, tc.stderr)
			if tc.errMessage != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.errMessage)
			}
			if tc.code != 1 {
				var report map[string]any
				require.NoError(t, json.Unmarshal([]byte(out), &report), "the report goes to stdout without -o")
				assert.Contains(t, report, "overall_compatibility")
			}
		})
	}
}

func TestCheckCompatWritesReportFile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "report.json")
	_, _, err := godwit(t, noDial(t), "check-compat", "--before", fixture(t, "compat", "before.json"), "--after", fixture(t, "compat", "after.yaml"), "-o", out)
	require.Equal(t, 2, exitCode(err))
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	var report struct {
		Overall string `json:"overall_compatibility"`
		Scripts []struct {
			Forward  string `json:"forward_sql"`
			Rollback string `json:"rollback_sql"`
		} `json:"migration_scripts"`
	}
	require.NoError(t, json.Unmarshal(data, &report))
	assert.Equal(t, "breaking", report.Overall)
	require.NotEmpty(t, report.Scripts)
	assert.NotEmpty(t, report.Scripts[0].Forward)
	assert.NotEmpty(t, report.Scripts[0].Rollback)
}

func TestPlanValidateExitCodes(t *testing.T) {
	spec := fixture(t, "plan", "spec.yaml")
	service := fixture(t, "plan", "service.yaml")
	// The service description with every legacy endpoint on the new side
	// and two fields Godwit does not know: warnings, not problems.
	data, err := os.ReadFile(service)
	require.NoError(t, err)
	warnOnly := filepath.Join(t.TempDir(), "service.yaml")
	desc := strings.Replace(string(data), `endpoints: ["GET /api/v1/users/{id}", "POST /api/v1/users"]`,
		`endpoints: ["GET /api/v1/users/{id}", "POST /api/v1/users", "GET /api/v1/users/{id}/avatar"]`, 1)
	require.NoError(t, os.WriteFile(warnOnly, []byte(desc+"owner_team: identity\ntarget_performance: {p99_ms: 200}\n"), 0o600))
	ungated := writeSpec(t, "name: quick\nphases:\n  - phase: copy\n    hook: {run: {command: [./copy.sh]}}\n  - phase: shift-traffic\n    hook: {run: {command: [./shift.sh]}}\n  - phase: decommission\n    hook: {run: {command: [./drop.sh]}}\n")
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		problems []string
	}{
		{"a gated spec with reconcile passes", []string{"-f", spec, "--validate"}, 0, nil},
		{"without --validate a risky plan still exits 0", []string{"-f", ungated}, 0, nil},
		{"an ungated spec fails listing every problem", []string{"-f", ungated, "--validate"}, 2, []string{
			"overall risk HIGH", "big-bang cut-over", "decommission without bake time", "no rollback window",
		}},
		{"breaking findings need acknowledging", []string{"--description", service, "--validate", "--max-risk", "HIGH"}, 2, []string{"unacknowledged breaking changes: endpoints of the legacy service missing"}},
		{"a description with only warnings about its fields passes, printing them", []string{"--description", warnOnly, "--validate"}, 0, nil},
		{"a bad --max-risk is a usage error", []string{"-f", spec, "--max-risk", "SEVERE"}, 1, []string{"use LOW, MEDIUM or HIGH"}},
		{"nothing to plan", []string{"--validate"}, 1, []string{"nothing to plan"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, err := godwit(t, noDial(t), append([]string{"plan"}, tc.args...)...)
			assert.Equal(t, tc.code, exitCode(err), "error: %v", err)
			if tc.name == "a description with only warnings about its fields passes, printing them" {
				assert.Contains(t, stderr, "warning: "+warnOnly+": owner_team (line")
				assert.Contains(t, stderr, "passes: risk LOW is within MEDIUM; the 2 warning(s) above are about the input and do not fail it")
			}
			for _, p := range tc.problems {
				require.Error(t, err)
				assert.Contains(t, err.Error(), p)
			}
			if tc.code != 1 {
				var p map[string]any
				require.NoError(t, json.Unmarshal([]byte(out), &p))
				assert.Contains(t, p, "phases")
			}
		})
	}
}

func TestInitWritesASpecThatValidates(t *testing.T) {
	for _, desc := range []string{"database.json", "service.yaml"} {
		t.Run(desc, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "migration.yaml")
			_, stderr, err := godwit(t, noDial(t), "init", "--description", fixture(t, "plan", desc), "-o", out)
			require.NoError(t, err)
			assert.Contains(t, stderr, "fill in every TODO(godwit init) value")
			data, err := os.ReadFile(out)
			require.NoError(t, err)
			assert.Contains(t, stderr, "godwit validate refuses the spec until these fields are filled in:")
			_, _, err = godwit(t, noDial(t), "validate", "-f", out)
			require.Error(t, err, "the fields init cannot derive are named until filled in")
			assert.Contains(t, err.Error(), "is still a placeholder written by godwit init: fill in")
			filled := regexp.MustCompile(`(\w+): 'TODO\(godwit init\)[^\n]*`).ReplaceAllStringFunc(string(data), func(m string) string {
				key := m[:strings.Index(m, ":")]
				return key + ": " + map[string]string{"fromEnv": "FILLED_VAR", "admin": "http://127.0.0.1:18490", "route": "users"}[key]
			})
			_, err = config.ParseSpec([]byte(filled))
			require.NoError(t, err, "filled in, init's spec must pass ParseSpec:\n%s", filled)
			require.NoError(t, os.WriteFile(out, []byte(filled), 0o644))
			_, _, err = godwit(t, noDial(t), "validate", "-f", out)
			require.NoError(t, err)
			_, _, err = godwit(t, noDial(t), "init", "--description", fixture(t, "plan", desc), "-o", out)
			require.Error(t, err, "an existing file is not overwritten without --force")
		})
	}
}

func TestRunbookFromSpec(t *testing.T) {
	out, _, err := godwit(t, noDial(t), "runbook", "-f", fixture(t, "plan", "spec.yaml"))
	require.NoError(t, err)
	for _, want := range []string{
		"# Rollback runbook: orders-to-postgres",
		"**Point of no return: decommission.**",
		"godwit rollback orders-to-postgres --reason",
		"godwit approve orders-to-postgres --gate drop-legacy",
		"| 2 | copy | runs the compensation: ./truncate-target.sh | yes |",
		"| 5 | decommission | none: this is the point of no return",
		"- [x] a reconcile compares the data after the copy",
		"- [x] a gate holds decommission until the bake time is over",
		"- [ ] the rollback has been rehearsed",
	} {
		assert.Contains(t, out, want)
	}
}
