package compatdriver

import (
	"context"
	"encoding/json"

	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/compat"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/specfiles"
)

// specWith is a migration whose validate phase has the given compat
// section (indented under compat:), followed by a copy so the plan has
// something to say.
func specWith(section string) string {
	return `name: m
stores:
  live: {engine: sqlite, dsn: {fromEnv: GODWIT_TEST_COMPAT_DSN}}
phases:
  - phase: validate
    name: gate
    outputs: [compatibility, breaking]
    compat:
` + indent(section, "      ") + `
  - phase: copy
    hook: {run: {command: [c]}, compensate: {command: [u]}}
  - phase: reconcile
    hook: {run: {command: [r]}}
`
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n")
}

func TestSpecChecks(t *testing.T) {
	for _, tc := range []struct {
		name, section string
		want          []string
	}{
		{"compares nothing", "failOn: breaking", []string{"phases[0].compat (line 8): compares nothing"}},
		{"before without after", "before: {file: a.json}", []string{"phases[0].compat.after (line 8): is required with before"}},
		{"a source both file and store", "before: {file: a.json, store: live}\nafter: {file: b.json}", []string{"phases[0].compat.before (line 9): sets both file and store"}},
		{"a source neither", "before: {tables: [x]}\nafter: {file: b.json}", []string{"compat.before (line 9): needs file", "compat.before.tables (line 9): selects the tables of a store's export"}},
		{"an unknown store", "before: {file: a.json}\nafter: {store: nope}", []string{`compat.after.store (line 10): "nope" is not one of the spec's stores (the spec has live)`}},
		{"half an openapi pair", "openapi: {before: v1.yaml}", []string{"compat.openapi.after (line 9): is required"}},
		{"a bad failOn", "openapi: {before: v1.yaml, after: v2.yaml}\nfailOn: always", []string{`compat.failOn (line 10): "always": use breaking`}},
		{"a bad table pattern", "before: {store: live, tables: [\"[\"]}\nafter: {file: b.json}", []string{"compat.before.tables[0] (line 9)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.ParseSpec([]byte(specWith(tc.section)))
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
	t.Run("only in a validate phase", func(t *testing.T) {
		_, err := config.ParseSpec([]byte("name: m\nphases:\n  - phase: copy\n    compat: {openapi: {before: a, after: b}}\n"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "phases[0].compat (line 4): runs in a validate phase")
	})
	t.Run("a valid section carries its stores and the plan", func(t *testing.T) {
		spec, err := config.ParseSpec([]byte(specWith("before: {file: a.json}\nafter: {store: live, tables: [users]}")))
		require.NoError(t, err)
		s := spec.Phases[0].Driver.(*Spec)
		assert.Equal(t, map[string]config.StoreSpec{"live": spec.Stores["live"]}, s.Stores)
		for _, name := range []string{"gate", "copy", "reconcile"} {
			assert.Contains(t, s.Plan, name)
		}
		assert.Equal(t, compat.Breaking, s.Threshold())
		assert.False(t, s.HasCompensation())
		// The section survives the trip through workflow history (JSON).
		data, err := json.Marshal(spec.Phases[0])
		require.NoError(t, err)
		var back config.PhaseSpec
		require.NoError(t, json.Unmarshal(data, &back))
		assert.Equal(t, s, back.Driver)
	})
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

const usersV1 = `{"tables": {"users": {"columns": {"id": {"type": "bigint", "primary_key": true}, "email": {"type": "varchar(255)"}}}}}`

// usersV2NotNull makes email NOT NULL with a default: potentially breaking
// (existing NULLs), not breaking.
const usersV2NotNull = `{"tables": {"users": {"columns": {"id": {"type": "bigint", "primary_key": true}, "email": {"type": "varchar(255)", "nullable": false, "default": ""}}}}}`

func run(t *testing.T, spec *config.Spec) (activities.PhaseResult, error) {
	t.Helper()
	d := New(hclog.NewNullLogger())
	return d.Do(context.Background(), activities.ActionRun, activities.PhaseInput{Migration: spec.Name, Phase: spec.Phases[0]},
		activities.Heartbeat{}, func(activities.Heartbeat) {})
}

func parse(t *testing.T, section string) *config.Spec {
	t.Helper()
	spec, err := config.ParseSpec([]byte(specWith(section)))
	require.NoError(t, err)
	return spec
}

func TestGateFailsOnChangesAsSeriousAsFailOn(t *testing.T) {
	v1, v2 := writeFile(t, "v1.json", usersV1), writeFile(t, "v2.json", usersV2NotNull)
	before, after := "../../compat/testdata/before.json", "../../compat/testdata/after.yaml"
	for _, tc := range []struct {
		name, section string
		fails         bool
		summary       string
	}{
		{"no change passes", fmt.Sprintf("before: {file: %s}\nafter: {file: %s}", v1, v1), false, "schema: fully_compatible"},
		{"breaking changes fail", fmt.Sprintf("before: {file: %s}\nafter: {file: %s}", before, after), true, "schema: breaking: 19 change(s): 10 breaking"},
		{"potentially breaking passes by default", fmt.Sprintf("before: {file: %s}\nafter: {file: %s}", v1, v2), false, "schema: potentially_incompatible"},
		{"potentially breaking fails on warning", fmt.Sprintf("before: {file: %s}\nafter: {file: %s}\nfailOn: warning", v1, v2), true, "schema: potentially_incompatible"},
		{"breaking API changes fail", "openapi: {before: ../../compat/testdata/api-v1.yaml, after: ../../compat/testdata/api-v2.yaml}", true, "openapi: breaking: 5 change(s): 3 breaking"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := run(t, parse(t, tc.section))
			assert.Contains(t, res.Summary, tc.summary)
			assert.Contains(t, res.Summary, "plan: migration m: 3 phases")
			assert.Contains(t, res.Output, "plan:\nmigration m")
			assert.LessOrEqual(t, len(res.Output), maxOutputBytes)
			if !tc.fails {
				require.NoError(t, err)
				return
			}
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, err, &appErr)
			assert.Equal(t, ErrTypeIncompatible, appErr.Type())
			assert.True(t, appErr.NonRetryable(), "the same schemas give the same findings")
			assert.Contains(t, appErr.Message(), tc.summary[strings.Index(tc.summary, ": ")+2:])
		})
	}
}

func TestGateComparesAFileWithALiveStore(t *testing.T) {
	db := dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, db.Store, "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(255) NOT NULL, age INTEGER)")
	t.Setenv("GODWIT_TEST_COMPAT_DSN", db.DSN)
	exported, _, err := compat.ExportSchema(context.Background(), db.Store, compat.ExportOptions{})
	require.NoError(t, err)
	data, err := json.Marshal(exported)
	require.NoError(t, err)
	file := writeFile(t, "before.json", string(data))
	spec := parse(t, fmt.Sprintf("before: {file: %s}\nafter: {store: live}", file))

	res, err := run(t, spec)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"compatibility": compat.FullyCompatible, "breaking": "0"}, res.Outputs)

	dbtest.Exec(t, db.Store, "ALTER TABLE users DROP COLUMN age")
	res, err = run(t, spec)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "column users.age removed")
	assert.Equal(t, map[string]string{"compatibility": compat.Incompatible, "breaking": "1"}, res.Outputs)
	assert.Contains(t, res.Output, "tables.users.columns.age")
}

func TestCompensationChangesNothing(t *testing.T) {
	spec := parse(t, "openapi: {before: missing.yaml, after: missing.yaml}")
	res, err := New(hclog.NewNullLogger()).Do(context.Background(), activities.ActionCompensate,
		activities.PhaseInput{Migration: "m", Phase: spec.Phases[0]}, activities.Heartbeat{}, func(activities.Heartbeat) {})
	require.NoError(t, err)
	assert.Contains(t, res.Summary, "nothing to undo")
}

func TestAMissingFileIsNotRetried(t *testing.T) {
	_, err := run(t, parse(t, "before: {file: /nonexistent/a.json}\nafter: {file: /nonexistent/b.json}"))
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, activities.ErrTypeConfig, appErr.Type())
	assert.True(t, appErr.NonRetryable())
}

func TestPreflightListsEveryProblem(t *testing.T) {
	db := dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, db.Store, "CREATE TABLE users (id INTEGER PRIMARY KEY)")
	t.Setenv("GODWIT_TEST_COMPAT_DSN", db.DSN)
	bad := writeFile(t, "bad.json", `{"tables": {"t": {"columns": {"id": {"tipe": "int"}}}}}`)
	spec := parse(t, fmt.Sprintf("before: {file: %s}\nafter: {store: live, tables: [users, orders]}\nopenapi: {before: /nonexistent/v1.yaml, after: ../../compat/testdata/api-v2.yaml}", bad))
	problems := New(hclog.NewNullLogger()).Preflight(context.Background(), spec, spec.Phases[0])
	text := strings.Join(problems, "\n")
	assert.Len(t, problems, 3, text)
	assert.Contains(t, text, "compat before: "+bad)
	assert.Contains(t, text, `store live: table "orders" does not exist`)
	assert.Contains(t, text, "compat openapi: stat /nonexistent/v1.yaml")

	good := parse(t, "before: {store: live}\nafter: {store: live}")
	assert.Empty(t, New(hclog.NewNullLogger()).Preflight(context.Background(), good, good.Phases[0]))

	t.Setenv("GODWIT_TEST_COMPAT_DSN", "")
	problems = New(hclog.NewNullLogger()).Preflight(context.Background(), good, good.Phases[0])
	require.Len(t, problems, 2, "each source names the store it cannot open")
	assert.Contains(t, problems[0], "store live")
}

func TestResultIsBounded(t *testing.T) {
	r := &compat.Report{Kind: "schema", Before: "a", After: "b", OverallCompatibility: compat.Incompatible}
	for i := 0; i < 2000; i++ {
		r.Issues = append(r.Issues, compat.Issue{Type: "column_removed", Severity: compat.Breaking,
			FieldPath: fmt.Sprintf("tables.t.columns.c%d", i), Description: strings.Repeat("x", 100)})
		r.MigrationScripts = append(r.MigrationScripts, compat.Script{ForwardSQL: strings.Repeat("y", 100)})
	}
	r.Summary = compat.Summary{Total: 2000, Breaking: 2000}
	res := Result(&Spec{Plan: "migration m: 1 phases\n"}, []*compat.Report{r}, []string{"breaking", "unknown"})
	assert.LessOrEqual(t, len(res.Output), maxOutputBytes)
	assert.Contains(t, res.Output, "… and 1960 more")
	assert.Equal(t, map[string]string{"breaking": "2000"}, res.Outputs, "only declared outputs it knows")
	_, js, ok := strings.Cut(res.Output, "reports:\n")
	require.True(t, ok)
	var back []compat.Report
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(js)), &back), "the bounded report is still JSON")
	assert.Equal(t, 2000, back[0].Summary.Breaking, "counts stay whole")
	assert.Less(t, len(back[0].Issues), 2000)
	assert.Empty(t, back[0].MigrationScripts)
}

// TestGateRunsTheMethodSamplesAndListsUnknownFields: the method's own
// schemas load in the gate as shipped, and a field Godwit does not know
// shows in the phase's output instead of failing it.
func TestGateRunsTheMethodSamplesAndListsUnknownFields(t *testing.T) {
	t.Setenv(specfiles.DirEnv, "/") // the samples are in another package's testdata
	before, after := "../../docread/testdata/method/assets/database_schema_before.json", "../../docread/testdata/method/assets/database_schema_after.json"
	res, err := run(t, parse(t, fmt.Sprintf("before: {file: %s}\nafter: {file: %s}", before, after)))
	require.Error(t, err, "the method's added checks are breaking")
	assert.Contains(t, res.Summary, "schema: breaking")

	extra := writeFile(t, "extra.json", `{"tables": {"t": {"columns": {"id": {"type": "bigint", "primary_key": true, "collation": "C"}}}}}`)
	res, err = run(t, parse(t, fmt.Sprintf("before: {file: %s}\nafter: {file: %s}", extra, extra)))
	require.NoError(t, err)
	assert.Contains(t, res.Output, "tables.t.columns.id.collation (line 1): unknown field")
}

// TestFilesOutsideTheFilesDirectoryAreNotRead: a schema or API file
// outside GODWIT_FILES_DIR is refused by preflight and the run, without
// retrying, and its content is never quoted.
func TestFilesOutsideTheFilesDirectoryAreNotRead(t *testing.T) {
	outside := writeFile(t, "passwd.json", `root:hunter2-pw:0:0`)
	t.Setenv(specfiles.DirEnv, t.TempDir())
	for _, section := range []string{
		fmt.Sprintf("before: {file: %s}\nafter: {file: %s}", outside, outside),
		"before: {file: ../../../../../../etc/passwd}\nafter: {file: ../../../../../../etc/passwd}",
		fmt.Sprintf("openapi: {before: %s, after: %s}", outside, outside),
	} {
		spec := parse(t, section)
		problems := New(hclog.NewNullLogger()).Preflight(context.Background(), spec, spec.Phases[0])
		require.Len(t, problems, 1, "%v", problems)
		assert.Contains(t, problems[0], "is outside the directory the worker reads spec files from")
		_, err := run(t, spec)
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, err, &appErr)
		assert.Equal(t, activities.ErrTypeConfig, appErr.Type())
		assert.Contains(t, appErr.Error(), specfiles.DirEnv)
		assert.NotContains(t, appErr.Error()+problems[0], "hunter2")
	}
}
