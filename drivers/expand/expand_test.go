package expand_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/compat"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/drivers/backfill"
	"github.com/godwit/godwit/drivers/contract"
	"github.com/godwit/godwit/drivers/expand"
	"github.com/godwit/godwit/specfiles"
)

// renameSpec is a column rename as expand → backfill → contract on db.
func renameSpec(t *testing.T, db dbtest.DB) *config.Spec {
	t.Helper()
	return renameSpecWith(t, db, `{store: app, table: users, set: {email_address: "email"}, where: "email_address IS NULL", batchRows: 2}`)
}

// renameSpecWith is renameSpec with another backfill section.
func renameSpecWith(t *testing.T, db dbtest.DB, backfillSection string) *config.Spec {
	t.Helper()
	dir := t.TempDir()
	t.Setenv(specfiles.DirEnv, dir)
	write := func(name, text string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600))
	}
	write("app.dsn", db.DSN)
	write("expand.sql", "ALTER TABLE users ADD COLUMN email_address VARCHAR(200);")
	write("expand.down.sql", "ALTER TABLE users DROP COLUMN email_address;")
	write("contract.sql", "ALTER TABLE users DROP COLUMN email;")
	text := renameSpecText(db.Store.Engine, filepath.Join(dir, "app.dsn"), `{email_address: "email", email: {from: email_address}}`, backfillSection)
	spec, err := config.ParseSpec([]byte(text))
	require.NoError(t, err)
	return spec
}

// renameSpecText is the spec of an expand with dualWrite on users, a
// backfill and a contract behind a gate, on a store of engine whose DSN is
// in dsnFile.
func renameSpecText(engine datastore.Engine, dsnFile, dualWrite, backfillSection string) string {
	return fmt.Sprintf(`name: rename-test
stores:
  app: {engine: %s, dsn: {fromFile: %s}}
phases:
  - phase: provision
    name: expand
    expand:
      store: app
      sql: {fromFile: expand.sql}
      rollback: {fromFile: expand.down.sql}
      dualWrite:
        users: %s
  - phase: copy
    name: backfill
    backfill: %s
  - phase: decommission
    name: contract
    approval: {gate: contract}
    contract: {store: app, sql: {fromFile: contract.sql}}
`, engine, dsnFile, dualWrite, backfillSection)
}

// roundTrip is the phase as the activity receives it: through JSON.
func roundTrip(t *testing.T, p config.PhaseSpec) config.PhaseSpec {
	t.Helper()
	b, err := json.Marshal(p)
	require.NoError(t, err)
	var out config.PhaseSpec
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}

func run(t *testing.T, d activities.Driver, action activities.Action, spec *config.Spec, i int) activities.PhaseResult {
	t.Helper()
	in := activities.PhaseInput{Migration: spec.Name, Phase: roundTrip(t, spec.Phases[i])}
	res, err := d.Do(context.Background(), action, in, activities.Heartbeat{}, func(activities.Heartbeat) {})
	require.NoError(t, err)
	return res
}

// An expand or a contract moves no records: its count of statements
// (trigger statements included) showed in the status as "7 records" beside
// "applied 3 statements of sql/expand.sql" in a MariaDB trial; the
// summary says what ran.
func TestSchemaChangePhasesCountNoRecords(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			log := hclog.NewNullLogger()
			db := dbtest.New(t, engine)
			dbtest.Exec(t, db.Store, "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(200))")
			spec := renameSpec(t, db)
			res := run(t, expand.New(log), activities.ActionRun, spec, 0)
			require.Contains(t, res.Summary, "applied 1 statement of ")
			require.Zero(t, res.Records, "an expand moves no records")
			res = run(t, contract.New(log), activities.ActionRun, spec, 2)
			require.Zero(t, res.Records, "a contract moves no records")
		})
	}
}

func TestRenameExpandBackfillContract(t *testing.T) {
	ctx := context.Background()
	log := hclog.NewNullLogger()
	db := dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, db.Store, "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(200))",
		"INSERT INTO users VALUES (1, 'a@x'), (2, 'b@x'), (3, 'c@x')")
	spec := renameSpec(t, db)
	e, b, c := expand.New(log), backfill.New(log), contract.New(log)
	// The backfill's column is one the expand adds: preflight counts it.
	for i, d := range []activities.Driver{e, b, c} {
		require.Empty(t, d.Preflight(ctx, spec, spec.Phases[i]), "preflight of %s", spec.Phases[i].Name)
	}
	require.Equal(t, []string{"users"}, spec.Phases[2].Driver.(*contract.Spec).DualWriteTables)

	res := run(t, e, activities.ActionRun, spec, 0)
	require.Contains(t, res.Summary, "dual-write on users")
	dbtest.Exec(t, db.Store, "INSERT INTO users (id, email) VALUES (4, 'd@x')")
	res = run(t, b, activities.ActionRun, spec, 1)
	require.Contains(t, res.Summary, "4 rows walked, 3 updated")
	var unequal int
	require.NoError(t, db.Store.DB.QueryRow("SELECT COUNT(*) FROM users WHERE email_address IS NOT email").Scan(&unequal))
	require.Zero(t, unequal)

	run(t, c, activities.ActionRun, spec, 2)
	tb, err := db.Store.Introspect(ctx, "users")
	require.NoError(t, err)
	require.Equal(t, []string{"id", "email_address"}, tb.ColumnNames())
	trs, err := db.Store.DualWriteTriggers(ctx)
	require.NoError(t, err)
	require.Empty(t, trs)
	// A retried contract finds itself done.
	res = run(t, c, activities.ActionRun, spec, 2)
	require.Contains(t, res.Summary, "already applied")
}

func TestExpandCompensationRestoresTheSchema(t *testing.T) {
	ctx := context.Background()
	log := hclog.NewNullLogger()
	db := dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, db.Store, "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(200))", "INSERT INTO users VALUES (1, 'a@x')")
	spec := renameSpec(t, db)
	e, b := expand.New(log), backfill.New(log)
	run(t, e, activities.ActionRun, spec, 0)
	run(t, b, activities.ActionRun, spec, 1)
	run(t, b, activities.ActionCompensate, spec, 1)
	res := run(t, e, activities.ActionCompensate, spec, 0)
	require.Contains(t, res.Summary, "removed dual-write triggers")
	tb, err := db.Store.Introspect(ctx, "users")
	require.NoError(t, err)
	require.Equal(t, []string{"id", "email"}, tb.ColumnNames())
	trs, err := db.Store.DualWriteTriggers(ctx)
	require.NoError(t, err)
	require.Empty(t, trs)

	// Run again after the rollback, the change starts afresh.
	run(t, e, activities.ActionRun, spec, 0)
	res = run(t, b, activities.ActionRun, spec, 1)
	require.Contains(t, res.Summary, "1 updated")
}

func TestSpecMistakes(t *testing.T) {
	cases := []struct{ section, want string }{
		{`{store: app, rollback: {fromFile: x.sql}}`, "expand.sql (line 6): is required"},
		{`{store: app, sql: {fromFile: x.sql}}`, "expand.rollback (line 6): is required"},
		{`{store: app, sql: {fromReport: r.json, fromFile: x.sql}, rollback: {fromFile: x.sql}}`, "sets both fromFile and fromReport"},
		{`{store: app, sql: {fromFile: x.sql}, rollback: {fromFile: x.sql}, dualWrite: {users: {a: {to: b}}}}`, `"to" is not a field`},
		{`{store: nope, sql: {fromFile: x.sql}, rollback: {fromFile: x.sql}}`, "not one of the spec's stores"},
		{`{store: app, sql: {fromFile: x.sql}, rollback: {fromFile: x.sql}, online: always}`, `expand.online (line 6): is "always": write prefer`},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			_, err := config.ParseSpec([]byte(`name: bad
stores:
  app: {engine: sqlite, dsn: {fromEnv: APP_DSN}}
phases:
  - phase: provision
    expand: ` + tc.section + "\n"))
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestPreflightDryRunsBothScriptsAndKeepsNothing(t *testing.T) {
	for _, engine := range []datastore.Engine{datastore.SQLite, datastore.Postgres} {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.New(t, engine)
			dbtest.Exec(t, db.Store, "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(200))")
			spec := renameSpec(t, db)
			d := expand.New(hclog.NewNullLogger())
			require.Empty(t, d.Preflight(ctx, spec, spec.Phases[0]))
			// A rollback script that does not undo the expand is found
			// before anything runs.
			dir := os.Getenv(specfiles.DirEnv)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "expand.down.sql"), []byte("ALTER TABLE users DROP COLUMN nope;"), 0o600))
			problems := d.Preflight(ctx, spec, spec.Phases[0])
			require.Len(t, problems, 1)
			require.Contains(t, problems[0], "rollback script's statement 1 of 1 (line 1)")
			require.Contains(t, problems[0], "dry run")
			tb, err := db.Store.Introspect(ctx, "users")
			require.NoError(t, err)
			require.Equal(t, []string{"id", "email"}, tb.ColumnNames(), "the dry run kept nothing")
			trs, err := db.Store.DualWriteTriggers(ctx)
			require.NoError(t, err)
			require.Empty(t, trs)
		})
	}
}

// report writes a check-compat report (as `godwit check-compat -o`
// writes it) into the files directory.
func report(t *testing.T, dialect string, issues, scripts string) string {
	t.Helper()
	dir := os.Getenv(specfiles.DirEnv)
	path := filepath.Join(dir, "compat-"+dialect+".json")
	text := fmt.Sprintf(`{"kind": "schema", "overall_compatibility": "BACKWARD_COMPATIBLE", "summary": {}, "dialect": %q,
  "issues": [%s], "migration_scripts": [%s], "risk_assessment": {"overall_risk": "LOW", "factors": []}, "recommendations": []}`,
		dialect, issues, scripts)
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

func TestExpandFromReport(t *testing.T) {
	ctx := context.Background()
	log := hclog.NewNullLogger()
	db := dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, db.Store, "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(200))", "INSERT INTO users VALUES (1, 'a@x')")
	spec := renameSpec(t, db) // sets the files directory
	scripts := `{"order": 2, "field_path": "tables.users.indexes.users_ea", "description": "add index",
	  "forward_sql": "CREATE INDEX users_ea ON users (email_address);", "rollback_sql": "DROP INDEX users_ea;"},
	 {"order": 1, "field_path": "tables.users.columns.email_address", "description": "add column",
	  "forward_sql": "ALTER TABLE users ADD COLUMN email_address VARCHAR(200);", "rollback_sql": "ALTER TABLE users DROP COLUMN email_address;"}`
	good := report(t, "sqlite", "", scripts)
	e := spec.Phases[0].Driver.(*expand.Spec)
	e.SQL, e.Rollback = &expand.Source{FromReport: good}, &expand.Source{FromReport: good}
	d := expand.New(log)
	require.Empty(t, d.Preflight(ctx, spec, spec.Phases[0]), "the report's forward and rollback SQL dry-run")
	res := run(t, d, activities.ActionRun, spec, 0)
	require.Contains(t, res.Summary, "applied 2 statements of "+good)
	tb, err := db.Store.Introspect(ctx, "users")
	require.NoError(t, err)
	require.Equal(t, []string{"id", "email", "email_address"}, tb.ColumnNames())
	run(t, d, activities.ActionCompensate, spec, 0) // the rollback SQL in reverse order: index, then column
	tb, err = db.Store.Introspect(ctx, "users")
	require.NoError(t, err)
	require.Equal(t, []string{"id", "email"}, tb.ColumnNames())

	for name, tc := range map[string]struct{ path, want string }{
		"another dialect": {report(t, "postgres", "", scripts), "holds postgres SQL, but the store is sqlite: make it again with godwit check-compat --dialect sqlite"},
		"a plain rename": {report(t, "sqlite", `{"type": "column_renamed", "severity": "BREAKING", "description": "renamed", "field_path": "tables.users.columns.email_address", "impact": "x"}`, scripts),
			"renames a column (users.columns.email_address) in a way Godwit cannot split into expand and contract"},
	} {
		t.Run(name, func(t *testing.T) {
			e.SQL, e.Rollback = &expand.Source{FromReport: tc.path}, &expand.Source{FromReport: tc.path}
			problems := d.Preflight(ctx, spec, spec.Phases[0])
			require.NotEmpty(t, problems)
			require.Contains(t, problems[0], tc.want)
			in := activities.PhaseInput{Migration: spec.Name, Phase: roundTrip(t, spec.Phases[0])}
			_, err := d.Do(ctx, activities.ActionRun, in, activities.Heartbeat{}, func(activities.Heartbeat) {})
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestBackfillPreflightNamesAColumnNoPhaseAdds(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, db.Store, "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(200))")
	spec := renameSpec(t, db)
	b := spec.Phases[1].Driver.(*backfill.Spec)
	b.Set = map[string]string{"email_lower": "lower(email)"}
	problems := backfill.New(hclog.NewNullLogger()).Preflight(ctx, spec, spec.Phases[1])
	require.Equal(t, []string{"store app: table users has no column email_lower to set, and no earlier phase adds it (an expand phase's dualWrite names the columns it adds)"}, problems)
}

// A backfill's throttle.probe (the copy's section) is checked with the
// spec, asked by preflight, shown in the heartbeat, and a probe that keeps
// failing stops the phase for good.
func TestBackfillThrottleProbe(t *testing.T) {
	ctx := context.Background()
	log := hclog.NewNullLogger()
	db := dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, db.Store, "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(200))",
		"INSERT INTO users VALUES (1, 'a@x'), (2, 'b@x'), (3, 'c@x')",
		"CREATE TABLE throttle_control (lag INTEGER)", "INSERT INTO throttle_control VALUES (0)")
	section := func(query string) string {
		return `{store: app, table: users, set: {email_address: "email"}, batchRows: 2,
      throttle: {probe: {name: lag, store: app, query: "` + query + `", max: 5, attempts: 1, every: 100ms}}}`
	}
	_, err := config.ParseSpec([]byte(`name: bad
stores:
  app: {engine: sqlite, dsn: {fromEnv: APP_DSN}}
phases:
  - phase: copy
    backfill: {store: app, table: users, set: {a: b}, throttle: {probe: {store: app, query: "SELECT 1"}}}
`))
	require.ErrorContains(t, err, "backfill.throttle.probe.max")

	spec := renameSpecWith(t, db, section("SELECT lag FROM throttle_control"))
	e, b := expand.New(log), backfill.New(log)
	require.Empty(t, b.Preflight(ctx, spec, spec.Phases[1]))
	run(t, e, activities.ActionRun, spec, 0)
	var beats []activities.Heartbeat
	in := activities.PhaseInput{Migration: spec.Name, Phase: roundTrip(t, spec.Phases[1])}
	res, err := b.Do(ctx, activities.ActionRun, in, activities.Heartbeat{}, func(hb activities.Heartbeat) { beats = append(beats, hb) })
	require.NoError(t, err)
	require.Contains(t, res.Summary, "3 updated")
	require.NotEmpty(t, beats)
	require.Contains(t, beats[len(beats)-1].Detail, "probe lag 0 (max 5)")

	bad := renameSpecWith(t, db, section("SELECT lag FROM no_such_table"))
	require.Contains(t, strings.Join(b.Preflight(ctx, bad, bad.Phases[1]), "\n"), "throttle probe lag: the query on store app fails")
	dbtest.Exec(t, db.Store, "UPDATE users SET email_address = NULL")
	in = activities.PhaseInput{Migration: "other", Phase: roundTrip(t, bad.Phases[1])}
	_, err = b.Do(ctx, activities.ActionRun, in, activities.Heartbeat{}, func(activities.Heartbeat) {})
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.True(t, appErr.NonRetryable(), "a failing probe is permanent: %v", err)
	require.ErrorContains(t, err, "throttle probe failed")
	var filled int
	require.NoError(t, db.Store.DB.QueryRow("SELECT COUNT(*) FROM users WHERE email_address IS NOT NULL").Scan(&filled))
	require.Zero(t, filled, "the backfill wrote although its probe failed")
}

// A run under the name of one that completed its expand, backfill and
// contract applies all of its own statements: the completed run's records
// (its contract's stays, for a retried contract) must not make the new
// run's contract take itself as already applied.
func TestRerunAfterACompletedRunAppliesItsOwnStatements(t *testing.T) {
	log := hclog.NewNullLogger()
	db := dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, db.Store, "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(200))",
		"INSERT INTO users VALUES (1, 'a@x'), (2, 'b@x'), (3, 'c@x')")
	spec := renameSpec(t, db)
	e, b, c := expand.New(log), backfill.New(log), contract.New(log)
	run(t, e, activities.ActionRun, spec, 0)
	run(t, b, activities.ActionRun, spec, 1)
	run(t, c, activities.ActionRun, spec, 2)

	// The next change, under the same migration name: the column back.
	dir := os.Getenv(specfiles.DirEnv)
	for name, text := range map[string]string{
		"expand.sql":      "ALTER TABLE users ADD COLUMN email VARCHAR(200);",
		"expand.down.sql": "ALTER TABLE users DROP COLUMN email;",
		"contract.sql":    "ALTER TABLE users DROP COLUMN email_address;",
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600))
	}
	text := renameSpecText(datastore.SQLite, filepath.Join(dir, "app.dsn"), `{email: "email_address", email_address: {from: email}}`,
		`{store: app, table: users, set: {email: "email_address"}, where: "email IS NULL", batchRows: 2}`)
	again, err := config.ParseSpec([]byte(text))
	require.NoError(t, err)
	res := run(t, e, activities.ActionRun, again, 0)
	require.NotContains(t, res.Summary, "already applied", "the new run's expand")
	res = run(t, b, activities.ActionRun, again, 1)
	require.Contains(t, res.Summary, "3 updated", "the new run's backfill")
	res = run(t, c, activities.ActionRun, again, 2)
	require.NotContains(t, res.Summary, "already applied", "the new run's contract")
	tb, err := db.Store.Introspect(context.Background(), "users")
	require.NoError(t, err)
	require.Equal(t, []string{"id", "email"}, tb.ColumnNames())
}

// compatReport writes the check-compat report of before → after for the
// engine's dialect into the files directory, as `godwit check-compat
// --dialect` would, and returns its path.
func compatReport(t *testing.T, engine datastore.Engine, before, after string) string {
	t.Helper()
	b, err := compat.ParseSchema("before.json", []byte(before))
	require.NoError(t, err)
	a, err := compat.ParseSchema("after.json", []byte(after))
	require.NoError(t, err)
	rep := compat.CompareSchemas(b, a, compat.Options{Dialect: compat.Dialect(engine)})
	text, err := json.MarshalIndent(rep, "", "  ")
	require.NoError(t, err)
	path := filepath.Join(os.Getenv(specfiles.DirEnv), "compat-"+string(engine)+".json")
	require.NoError(t, os.WriteFile(path, text, 0o600))
	return path
}

// The method's pipeline closes: a check-compat report that renames a
// column runs as the expand–contract split on each engine — expand adds
// the new column (and the report's other changes), dual-write keeps old
// and new writers in step, backfill fills it, contract drops the old name
// — and the expand's rollback leaves the original schema.
func TestRenameFromACheckCompatReport(t *testing.T) {
	for _, engine := range []datastore.Engine{datastore.SQLite, datastore.Postgres, datastore.MySQL} {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			log := hclog.NewNullLogger()
			// SQLite cannot make a column NOT NULL in place, so its report
			// splits only a nullable rename.
			notNull := engine != datastore.SQLite
			nullable := fmt.Sprint(!notNull)
			before := `{"tables": {"users": {"columns": {"id": {"type": "integer", "primary_key": true},
			  "email": {"type": "varchar", "length": 200, "nullable": ` + nullable + `}, "name": {"type": "varchar", "length": 50, "nullable": true}}}}}`
			after := `{"tables": {"users": {"columns": {"id": {"type": "integer", "primary_key": true},
			  "email_address": {"type": "varchar", "length": 200, "nullable": ` + nullable + `}, "name": {"type": "varchar", "length": 50, "nullable": true},
			  "age": {"type": "integer", "nullable": true}}}}}`
			fresh := func() (dbtest.DB, *config.Spec, string) {
				db := dbtest.New(t, engine)
				null := ""
				if notNull {
					null = " NOT NULL"
				}
				dbtest.Exec(t, db.Store, "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(200)"+null+", name VARCHAR(50))",
					"INSERT INTO users (id, email, name) VALUES (1, 'a@x', 'A'), (2, 'b@x', 'B'), (3, 'c@x', NULL)")
				spec := renameSpec(t, db)
				path := compatReport(t, engine, before, after)
				e := spec.Phases[0].Driver.(*expand.Spec)
				e.SQL, e.Rollback = &expand.Source{FromReport: path}, &expand.Source{FromReport: path}
				spec.Phases[2].Driver.(*contract.Spec).SQL = &expand.Source{FromReport: path}
				return db, spec, path
			}

			db, spec, _ := fresh()
			e, b, c := expand.New(log), backfill.New(log), contract.New(log)
			for i, d := range []activities.Driver{e, b, c} {
				require.Empty(t, d.Preflight(ctx, spec, spec.Phases[i]), "preflight of %s", spec.Phases[i].Name)
			}
			res := run(t, e, activities.ActionRun, spec, 0)
			require.Contains(t, res.Summary, "dual-write on users")
			cols := func() []string {
				tb, err := db.Store.Introspect(ctx, "users")
				require.NoError(t, err)
				return tb.ColumnNames()
			}
			require.Equal(t, []string{"id", "email", "name", "email_address", "age"}, cols(), "the rename is an added column, not a RENAME")
			// Old code writes only the old name, new code only the new one.
			dbtest.Exec(t, db.Store, "INSERT INTO users (id, email, name) VALUES (4, 'd@x', 'D')",
				"UPDATE users SET email = 'a2@x' WHERE id = 1")
			if !notNull {
				dbtest.Exec(t, db.Store, "INSERT INTO users (id, email_address) VALUES (5, 'e@x')")
			} else {
				dbtest.Exec(t, db.Store, "UPDATE users SET email_address = 'b2@x' WHERE id = 2")
			}
			run(t, b, activities.ActionRun, spec, 1)
			var unequal, total int
			require.NoError(t, db.Store.DB.QueryRow("SELECT COUNT(*) FROM users WHERE email_address IS NULL OR email IS NULL OR email_address <> email").Scan(&unequal))
			require.NoError(t, db.Store.DB.QueryRow("SELECT COUNT(*) FROM users").Scan(&total))
			require.Zero(t, unequal, "after the backfill every row holds both shapes, equal")

			res = run(t, c, activities.ActionRun, spec, 2)
			require.Contains(t, res.Summary, "removed the dual-write triggers on users")
			require.Equal(t, []string{"id", "name", "email_address", "age"}, cols())
			tb, err := db.Store.Introspect(ctx, "users")
			require.NoError(t, err)
			require.Equal(t, !notNull, tb.Column("email_address").Nullable, "the contract gives the new name the old one's NOT NULL")
			trs, err := db.Store.DualWriteTriggers(ctx)
			require.NoError(t, err)
			require.Empty(t, trs)
			var kept int
			require.NoError(t, db.Store.DB.QueryRow("SELECT COUNT(*) FROM users").Scan(&kept))
			require.Equal(t, total, kept)

			// Rolled back at the contract gate: the original schema, every row, no trigger.
			db, spec, _ = fresh()
			run(t, e, activities.ActionRun, spec, 0)
			dbtest.Exec(t, db.Store, "INSERT INTO users (id, email, name) VALUES (4, 'd@x', 'D')")
			run(t, b, activities.ActionRun, spec, 1)
			run(t, e, activities.ActionCompensate, spec, 0)
			require.Equal(t, []string{"id", "email", "name"}, cols())
			trs, err = db.Store.DualWriteTriggers(ctx)
			require.NoError(t, err)
			require.Empty(t, trs)
			require.NoError(t, db.Store.DB.QueryRow("SELECT COUNT(*) FROM users").Scan(&kept))
			require.Equal(t, 4, kept)

			// Without the dual-write both ways, preflight says what to add.
			_, spec, path := fresh()
			es := spec.Phases[0].Driver.(*expand.Spec)
			es.DualWrite = map[string]map[string]expand.Rule{"users": {"email_address": {Expr: "email"}}}
			problems := e.Preflight(ctx, spec, spec.Phases[0])
			require.Len(t, problems, 1)
			require.Contains(t, problems[0], "add dualWrite: {users: {email_address: email, email: {from: email_address}}}")
			in := activities.PhaseInput{Migration: spec.Name, Phase: roundTrip(t, spec.Phases[0])}
			_, err = e.Do(ctx, activities.ActionRun, in, activities.Heartbeat{}, func(activities.Heartbeat) {})
			require.ErrorContains(t, err, "add dualWrite")
			require.Equal(t, []string{"id", "email", "name"}, cols(), "nothing applied")
			_ = path
		})
	}
}

// A contract can take its SQL from a report only when the report renames
// a column (the rest of a report is the expand's).
func TestContractFromAReportWithoutARename(t *testing.T) {
	db := dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, db.Store, "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(200))")
	spec := renameSpec(t, db)
	path := compatReport(t, datastore.SQLite,
		`{"tables": {"users": {"columns": {"id": {"type": "integer", "primary_key": true}, "email": {"type": "varchar", "length": 200}}}}}`,
		`{"tables": {"users": {"columns": {"id": {"type": "integer", "primary_key": true}, "email": {"type": "varchar", "length": 200}, "age": {"type": "integer"}}}}}`)
	spec.Phases[2].Driver.(*contract.Spec).SQL = &expand.Source{FromReport: path}
	problems := contract.New(hclog.NewNullLogger()).Preflight(context.Background(), spec, spec.Phases[2])
	require.Len(t, problems, 1)
	require.Contains(t, problems[0], "renames no column, so it holds nothing to contract: write the contract SQL into a file")
}

// One statement is "1 statement", as the status says it to people.
func TestExpandSummaryCountsOneStatement(t *testing.T) {
	db := dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, db.Store, "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(200))")
	spec := renameSpec(t, db) // sets the files directory
	one := report(t, "sqlite", "", `{"order": 1, "field_path": "tables.users.columns.email_address", "description": "add column",
	  "forward_sql": "ALTER TABLE users ADD COLUMN email_address VARCHAR(200);", "rollback_sql": "ALTER TABLE users DROP COLUMN email_address;"}`)
	e := spec.Phases[0].Driver.(*expand.Spec)
	e.SQL, e.Rollback = &expand.Source{FromReport: one}, &expand.Source{FromReport: one}
	res := run(t, expand.New(hclog.NewNullLogger()), activities.ActionRun, spec, 0)
	require.Contains(t, res.Summary, "applied 1 statement of "+one+" to ")
}

// A dual-write rule that reads no column of the row, or a dual-written
// table that does not exist, is one problem of preflight on every engine:
// on MySQL/MariaDB (no dry run) it used to pass preflight and fail the
// expand phase; on PostgreSQL a missing table was named twice.
func TestPreflightChecksTheRulesOnEveryEngine(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.New(t, engine)
			dbtest.Exec(t, db.Store, "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(200))")
			spec := renameSpec(t, db)
			e := spec.Phases[0].Driver.(*expand.Spec)
			d := expand.New(hclog.NewNullLogger())
			require.Empty(t, d.Preflight(ctx, spec, spec.Phases[0]))

			e.DualWrite["users"]["email_address"] = expand.Rule{Expr: "emial"}
			problems := d.Preflight(ctx, spec, spec.Phases[0])
			require.Equal(t, []string{`store app: bad dual-write rule: users.email_address = "emial" reads no column of users (did you mean "email"?): write it over the row's columns (id, email, email_address)`}, problems)

			e.DualWrite = map[string]map[string]expand.Rule{"usres": {"email_address": {Expr: "email"}}}
			problems = d.Preflight(ctx, spec, spec.Phases[0])
			require.Equal(t, []string{"store app: dualWrite.usres: no such table"}, problems)
		})
	}
}

// A dual-written column that is neither in the table nor named by the
// expand SQL (a typo in the spec, or spec and script disagreeing on the
// name) is a problem of preflight on every engine: on MySQL/MariaDB,
// which has no dry run, it used to pass preflight, and the phase then
// applied the expand to the live table, failed creating the triggers
// ("Unknown column 'email_adress' in 'NEW'") and rolled it back.
func TestPreflightNamesADualWrittenColumnTheExpandDoesNotAdd(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.New(t, engine)
			dbtest.Exec(t, db.Store, "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(200))")
			spec := renameSpec(t, db)
			e := spec.Phases[0].Driver.(*expand.Spec)
			d := expand.New(hclog.NewNullLogger())
			require.Empty(t, d.Preflight(ctx, spec, spec.Phases[0]))

			e.DualWrite["users"] = map[string]expand.Rule{"email_adress": {Expr: "email"}}
			problems := d.Preflight(ctx, spec, spec.Phases[0])
			require.Equal(t, []string{`store app: dualWrite.users.email_adress: users has no column email_adress, and the expand SQL (expand.sql) does not add it (did you mean "email_address"?): name in dualWrite the column the expand SQL adds`}, problems)
		})
	}
}

// A name the table does not have, in a rule that also reads a real column,
// passes the trigger's creation on every engine (PostgreSQL checks a
// function's body when it first runs, MySQL/MariaDB a trigger's when it
// fires), and then refuses every write to the table: preflight asks the
// store to parse each rule, and each backfill expression, over the row.
func TestPreflightParsesRulesAndBackfillExpressions(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.New(t, engine)
			dbtest.Exec(t, db.Store, "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(200))")
			spec := renameSpec(t, db)
			e := spec.Phases[0].Driver.(*expand.Spec)
			b := spec.Phases[1].Driver.(*backfill.Spec)
			ed, bd := expand.New(hclog.NewNullLogger()), backfill.New(hclog.NewNullLogger())
			require.Empty(t, ed.Preflight(ctx, spec, spec.Phases[0]))
			require.Empty(t, bd.Preflight(ctx, spec, spec.Phases[1]))

			e.DualWrite["users"]["email_address"] = expand.Rule{Expr: "email || emial"}
			problems := ed.Preflight(ctx, spec, spec.Phases[0])
			require.Len(t, problems, 1, "%q", problems)
			require.Contains(t, problems[0], `store app: dualWrite.users.email_address: "email || emial" does not read as an expression over a row of users: `)
			require.Contains(t, problems[0], "emial")

			b.Set = map[string]string{"email_address": "lower(emial)"}
			b.Where = "email_adress IS NULL"
			problems = bd.Preflight(ctx, spec, spec.Phases[1])
			require.Len(t, problems, 2, "%q", problems)
			require.Contains(t, problems[0], `store app: set.email_address: "lower(emial)" does not read as an expression over a row of users: `)
			require.Contains(t, problems[1], `store app: where: "email_adress IS NULL" does not read as a condition on a row of users: `)
		})
	}
}
