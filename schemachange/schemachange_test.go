package schemachange_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/schemachange"
)

// renameScripts are the expand and its rollback of renaming users.email
// to email_address, per engine.
func renameScripts(e datastore.Engine) (up, down string) {
	switch e {
	case datastore.MySQL:
		return "-- expand; add the new column\nALTER TABLE users ADD COLUMN email_address VARCHAR(200) NULL;\nCREATE INDEX users_email_address ON users (email_address);",
			"DROP INDEX users_email_address ON users;\nALTER TABLE users DROP COLUMN email_address;"
	}
	return "-- expand; add the new column\nALTER TABLE users ADD COLUMN email_address VARCHAR(200);\nCREATE INDEX users_email_address ON users (email_address);",
		"DROP INDEX users_email_address;\nALTER TABLE users DROP COLUMN email_address;"
}

func setupUsers(t *testing.T, e datastore.Engine, rows int) *datastore.Store {
	t.Helper()
	db := dbtest.New(t, e)
	dbtest.Exec(t, db.Store, "CREATE TABLE users (id INTEGER NOT NULL PRIMARY KEY, email VARCHAR(200), name VARCHAR(50))")
	for i := 1; i <= rows; i++ {
		dbtest.Exec(t, db.Store, fmt.Sprintf("INSERT INTO users (id, email, name) VALUES (%d, 'User%d@Example.com', 'n%d')", i, i, i))
	}
	return db.Store
}

func renameChange(e datastore.Engine, inverse bool) schemachange.Change {
	up, down := renameScripts(e)
	rules := []datastore.DualWriteRule{{Column: "email_address", Expr: "email"}}
	if inverse {
		rules = append(rules, datastore.DualWriteRule{Column: "email", Expr: "email_address"})
	}
	return schemachange.Change{
		Name: "test/expand",
		Up:   datastore.SplitScript(e, up), Down: datastore.SplitScript(e, down),
		DualWrite: map[string][]datastore.DualWriteRule{"users": rules},
	}
}

func columns(t *testing.T, st *datastore.Store, table string) []string {
	t.Helper()
	tb, err := st.Introspect(context.Background(), table)
	if err != nil {
		t.Fatal(err)
	}
	c := tb.ColumnNames()
	sort.Strings(c)
	return c
}

func triggers(t *testing.T, st *datastore.Store) int {
	t.Helper()
	trs, err := st.DualWriteTriggers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(trs)
}

func both(t *testing.T, st *datastore.Store, id int) (sql.NullString, sql.NullString) {
	t.Helper()
	var a, b sql.NullString
	q := fmt.Sprintf("SELECT email, email_address FROM users WHERE id = %d", id)
	if err := st.DB.QueryRow(q).Scan(&a, &b); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return a, b
}

func TestExpandDualWriteRollback(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			st := setupUsers(t, e, 3)
			c := renameChange(e, true)
			res, err := schemachange.Apply(ctx, st, c, hclog.NewNullLogger())
			if err != nil {
				t.Fatal(err)
			}
			if res.Already || len(res.Triggers) == 0 {
				t.Fatalf("first apply: %+v", res)
			}
			if got := columns(t, st, "users"); fmt.Sprint(got) != "[email email_address id name]" {
				t.Fatalf("columns after expand: %v", got)
			}
			// Applying again (a retried activity) does nothing.
			if res, err := schemachange.Apply(ctx, st, c, hclog.NewNullLogger()); err != nil || !res.Already {
				t.Fatalf("second apply: %+v, %v", res, err)
			}

			// Old code writes only the old column: the new one follows.
			dbtest.Exec(t, st, "INSERT INTO users (id, email) VALUES (10, 'old@x')")
			dbtest.Exec(t, st, "UPDATE users SET email = 'old2@x' WHERE id = 10")
			if a, b := both(t, st, 10); a.String != "old2@x" || b.String != "old2@x" {
				t.Fatalf("old-style writes: email %v, email_address %v", a, b)
			}
			// New code writes only the new column: the old one follows.
			dbtest.Exec(t, st, "INSERT INTO users (id, email_address) VALUES (11, 'new@x')")
			dbtest.Exec(t, st, "UPDATE users SET email_address = 'new2@x' WHERE id = 11")
			if a, b := both(t, st, 11); a.String != "new2@x" || b.String != "new2@x" {
				t.Fatalf("new-style writes: email %v, email_address %v", a, b)
			}
			// A write of both keeps both as written.
			dbtest.Exec(t, st, "UPDATE users SET email = 'a@x', email_address = 'b@x' WHERE id = 11")
			if a, b := both(t, st, 11); a.String != "a@x" || b.String != "b@x" {
				t.Fatalf("write of both: email %v, email_address %v", a, b)
			}
			// A write of neither leaves both.
			dbtest.Exec(t, st, "UPDATE users SET name = 'z' WHERE id = 11")
			if a, b := both(t, st, 11); a.String != "a@x" || b.String != "b@x" {
				t.Fatalf("write of neither: email %v, email_address %v", a, b)
			}
			if n := triggers(t, st); n == 0 {
				t.Fatal("no dual-write trigger listed")
			}

			res, err = schemachange.Rollback(ctx, st, c, hclog.NewNullLogger())
			if err != nil {
				t.Fatal(err)
			}
			if got := columns(t, st, "users"); fmt.Sprint(got) != "[email id name]" {
				t.Fatalf("columns after rollback: %v", got)
			}
			if n := triggers(t, st); n != 0 {
				t.Fatalf("%d dual-write triggers left after rollback", n)
			}
			var rows int
			if err := st.DB.QueryRow("SELECT COUNT(*) FROM users").Scan(&rows); err != nil || rows != 5 {
				t.Fatalf("rows after rollback: %d, %v", rows, err)
			}
			// Rolling back again (a retried compensation) does nothing.
			if res, err := schemachange.Rollback(ctx, st, c, hclog.NewNullLogger()); err != nil || !res.Already {
				t.Fatalf("second rollback: %+v, %v", res, err)
			}
		})
	}
}

func TestForwardRuleOnlyUsesExpression(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			st := setupUsers(t, e, 0)
			c := renameChange(e, false)
			c.DualWrite["users"][0].Expr = "lower(email)"
			if _, err := schemachange.Apply(ctx, st, c, hclog.NewNullLogger()); err != nil {
				t.Fatal(err)
			}
			dbtest.Exec(t, st, "INSERT INTO users (id, email) VALUES (1, 'MiXed@X')")
			if a, b := both(t, st, 1); a.String != "MiXed@X" || b.String != "mixed@x" {
				t.Fatalf("email %v, email_address %v", a, b)
			}
			// Without an inverse rule, a write of the new column alone stays alone.
			dbtest.Exec(t, st, "UPDATE users SET email_address = 'other@x' WHERE id = 1")
			if a, b := both(t, st, 1); a.String != "MiXed@X" || b.String != "other@x" {
				t.Fatalf("email %v, email_address %v", a, b)
			}
		})
	}
}

func TestApplyFailureLeavesNothingWhereTransactional(t *testing.T) {
	for _, e := range []datastore.Engine{datastore.Postgres, datastore.SQLite} {
		t.Run(string(e), func(t *testing.T) {
			st := setupUsers(t, e, 1)
			c := renameChange(e, false)
			c.Up = append(c.Up, datastore.ScriptStatement{SQL: "ALTER TABLE no_such_table ADD COLUMN x INTEGER", Line: 9})
			_, err := schemachange.Apply(context.Background(), st, c, hclog.NewNullLogger())
			if err == nil {
				t.Fatal("a failing statement applied")
			}
			if got := columns(t, st, "users"); fmt.Sprint(got) != "[email id name]" {
				t.Fatalf("columns after a failed expand: %v (%v)", got, err)
			}
			if n := triggers(t, st); n != 0 {
				t.Fatalf("%d triggers after a failed expand", n)
			}
		})
	}
}

func TestMySQLResumesAfterLastStatement(t *testing.T) {
	st := setupUsers(t, datastore.MySQL, 1)
	c := renameChange(datastore.MySQL, false)
	bad := datastore.ScriptStatement{SQL: "ALTER TABLE no_such_table ADD COLUMN x INTEGER", Line: 9}
	c.Up = append(c.Up, bad)
	if _, err := schemachange.Apply(context.Background(), st, c, hclog.NewNullLogger()); err == nil {
		t.Fatal("a failing statement applied")
	}
	// The statements before the failing one stay applied and recorded; a
	// fixed run goes on after them instead of adding the column twice.
	dbtest.Exec(t, st, "CREATE TABLE no_such_table (id INTEGER PRIMARY KEY)")
	res, err := schemachange.Apply(context.Background(), st, c, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	if res.Statements != 1+4 { // the fixed statement and the triggers' drop+create pairs
		t.Fatalf("resumed apply ran %d statements, want 5", res.Statements)
	}
}

func TestLockTimeoutRetriesThenSucceeds(t *testing.T) {
	for _, e := range []datastore.Engine{datastore.Postgres, datastore.MySQL} {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			st := setupUsers(t, e, 1)
			// A long transaction holds the table.
			tx, err := st.DB.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec("UPDATE users SET name = 'held' WHERE id = 1"); err != nil {
				t.Fatal(err)
			}
			c := renameChange(e, false)
			c.LockTimeout, c.Retries, c.Backoff = 1, 1, 1
			_, err = schemachange.Apply(ctx, st, c, hclog.NewNullLogger())
			if err == nil || !st.IsLockTimeout(err) {
				t.Fatalf("apply under a held lock: %v, want a lock timeout", err)
			}
			tx.Rollback()
			if _, err := schemachange.Apply(ctx, st, c, hclog.NewNullLogger()); err != nil {
				t.Fatalf("apply once the lock is free: %v", err)
			}
		})
	}
}

// A contract whose statement fails after its trigger removals ran (on
// MySQL they are not undone) must still apply the statement on the retry,
// though the retry finds no trigger left to remove.
func TestContractRetriedAfterTriggersWentStillApplies(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			st := setupUsers(t, e, 1)
			if _, err := schemachange.Apply(ctx, st, renameChange(e, true), hclog.NewNullLogger()); err != nil {
				t.Fatal(err)
			}
			contract := schemachange.Change{Name: "test/contract", RemoveDualWrite: []string{"users"},
				Up: []datastore.ScriptStatement{{SQL: "ALTER TABLE later DROP COLUMN x", Line: 1}}}
			if _, err := schemachange.Apply(ctx, st, contract, hclog.NewNullLogger()); err == nil {
				t.Fatal("a failing contract applied")
			}
			dbtest.Exec(t, st, "CREATE TABLE later (id INTEGER PRIMARY KEY, x INTEGER)")
			res, err := schemachange.Apply(ctx, st, contract, hclog.NewNullLogger())
			if err != nil || res.Already || res.Statements != 1 {
				t.Fatalf("retried contract: %+v, %v", res, err)
			}
			if n := triggers(t, st); n != 0 {
				t.Fatalf("%d triggers left", n)
			}
			if got := columns(t, st, "later"); fmt.Sprint(got) != "[id]" {
				t.Fatalf("later's columns: %v", got)
			}
		})
	}
}

// On MySQL/MariaDB an up script refused part way stays partly applied.
// Its rollback runs the down script with recorded progress: statements
// that drop what the unapplied up statements would have made find nothing
// and are passed over, reported; the rest undo the applied prefix. A
// down statement that fails for another reason still fails, and after a
// complete up a missing object is an error like any other.
func TestRollbackOfAPartlyAppliedChangeOnMySQL(t *testing.T) {
	ctx := context.Background()
	log := hclog.NewNullLogger()
	up := "ALTER TABLE users ADD COLUMN email_address VARCHAR(200) NULL;\n" +
		"ALTER TABLE users ADD COLUMN age NOT_A_TYPE;\n" +
		"CREATE INDEX users_email_address ON users (email_address);"
	down := "DROP INDEX users_email_address ON users;\n" +
		"ALTER TABLE users DROP COLUMN age;\n" +
		"ALTER TABLE users DROP COLUMN email_address;"
	change := func(down string) schemachange.Change {
		return schemachange.Change{Name: "test/partial", Up: datastore.SplitScript(datastore.MySQL, up),
			Down: datastore.SplitScript(datastore.MySQL, down)}
	}

	t.Run("skips what never ran", func(t *testing.T) {
		st := setupUsers(t, datastore.MySQL, 3)
		c := change(down)
		_, err := schemachange.Apply(ctx, st, c, log)
		var se *schemachange.StatementError
		if !errors.As(err, &se) || se.Index != 2 || !se.Refused {
			t.Fatalf("apply: %v, want statement 2 refused", err)
		}
		if got := columns(t, st, "users"); fmt.Sprint(got) != "[email email_address id name]" {
			t.Fatalf("partly applied: %v", got)
		}
		res, err := schemachange.Rollback(ctx, st, c, log)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Skipped) != 2 || res.Skipped[0].Index != 1 || res.Skipped[1].Index != 2 || res.Skipped[1].Line != 2 || res.Statements != 1 {
			t.Fatalf("rollback ran %d, skipped %+v; want 1 run, statements 1 and 2 skipped", res.Statements, res.Skipped)
		}
		t.Log(res.Skipped[0])
		if got := columns(t, st, "users"); fmt.Sprint(got) != "[email id name]" {
			t.Fatalf("after rollback: %v", got)
		}
		// The change is forgotten: applied again (fixed), it starts afresh.
		if res, err := schemachange.Rollback(ctx, st, c, log); err != nil || !res.Already {
			t.Fatalf("second rollback: %+v, %v", res, err)
		}
	})

	t.Run("fails on another error", func(t *testing.T) {
		st := setupUsers(t, datastore.MySQL, 1)
		c := change("DROP INDEX users_email_address ON users;\nALTER TABLE users DROP COLUMN email_address, NOT SQL;")
		if _, err := schemachange.Apply(ctx, st, c, log); err == nil {
			t.Fatal("apply succeeded")
		}
		_, err := schemachange.Rollback(ctx, st, c, log)
		var se *schemachange.StatementError
		if !errors.As(err, &se) || !se.Down || se.Index != 2 || !strings.Contains(err.Error(), "partly applied (1 of its 3 statements)") {
			t.Fatalf("rollback: %v, want down statement 2 failing, saying the change was partly applied", err)
		}
		// The down script fixed, the rollback goes on after statement 1
		// (recorded, skipped), still passing over what never ran.
		c = change("DROP INDEX users_email_address ON users;\nALTER TABLE users DROP COLUMN email_address;")
		res, err := schemachange.Rollback(ctx, st, c, log)
		if err != nil || res.Statements != 1 || len(res.Skipped) != 0 {
			t.Fatalf("resumed rollback: %+v, %v; want statement 2 run", res, err)
		}
		if got := columns(t, st, "users"); fmt.Sprint(got) != "[email id name]" {
			t.Fatalf("after rollback: %v", got)
		}
	})

	t.Run("a complete change skips nothing", func(t *testing.T) {
		st := setupUsers(t, datastore.MySQL, 1)
		c := change(down)
		c.Up = datastore.SplitScript(datastore.MySQL, "ALTER TABLE users ADD COLUMN email_address VARCHAR(200) NULL;")
		if _, err := schemachange.Apply(ctx, st, c, log); err != nil {
			t.Fatal(err)
		}
		_, err := schemachange.Rollback(ctx, st, c, log)
		var se *schemachange.StatementError
		if !errors.As(err, &se) || !se.Down || se.Index != 1 {
			t.Fatalf("rollback: %v, want down statement 1 failing (its index does not exist, yet the up ran whole)", err)
		}
	})
}

// A change's triggers carry its owner's tag, and work as untagged ones
// did; on a table that already has untagged triggers of Godwit's (a run
// from before tags, resumed after an upgrade) the change keeps untagged
// names, so the table never holds two sets.
func TestTriggersCarryTheOwnersTagUnlessTheTableHasUntaggedOnes(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			log := hclog.NewNullLogger()
			st := setupUsers(t, e, 1)
			dbtest.Exec(t, st, "CREATE TABLE accounts (id INTEGER NOT NULL PRIMARY KEY, email VARCHAR(200), login VARCHAR(200))")
			c := renameChange(e, false)
			c.Owner = "orders"
			if _, err := schemachange.Apply(ctx, st, c, log); err != nil {
				t.Fatal(err)
			}
			rule := map[string][]datastore.DualWriteRule{"accounts": {{Column: "login", Expr: "email"}}}
			// accounts has an untagged set, as a run from before tags left it.
			if _, err := schemachange.Apply(ctx, st, schemachange.Change{Name: "old/expand", DualWrite: rule}, log); err != nil {
				t.Fatal(err)
			}
			if _, err := schemachange.Apply(ctx, st, schemachange.Change{Name: "resumed/expand", Owner: "resumed", DualWrite: rule}, log); err != nil {
				t.Fatal(err)
			}
			trs, err := st.DualWriteTriggers(ctx)
			if err != nil {
				t.Fatal(err)
			}
			tags := map[string][]string{}
			for _, tr := range trs {
				tags[tr.Table] = append(tags[tr.Table], tr.Tag)
				if tr.Tag != "" && !strings.HasPrefix(tr.Name, datastore.DualWriteTaggedPrefix+tr.Tag+"_") {
					t.Errorf("trigger %s: tag %q is not in its name", tr.Name, tr.Tag)
				}
			}
			for _, tag := range tags["users"] {
				if tag != datastore.DualWriteTag("orders") {
					t.Errorf("users' triggers have tags %v, want all %s (orders)", tags["users"], datastore.DualWriteTag("orders"))
					break
				}
			}
			for _, tag := range tags["accounts"] {
				if tag != "" {
					t.Errorf("accounts' triggers have tags %v, want untagged: the table had an untagged set", tags["accounts"])
					break
				}
			}
			if len(tags["users"]) == 0 || len(tags["accounts"]) != len(tags["users"]) {
				t.Fatalf("triggers per table %v: want one set on each", tags)
			}
			// The tagged triggers do what untagged ones did.
			dbtest.Exec(t, st, "INSERT INTO users (id, email) VALUES (7, 'x@y')")
			if _, b := both(t, st, 7); b.String != "x@y" {
				t.Fatalf("email_address of a row written the old way = %v, want x@y", b)
			}
		})
	}
}

// On MySQL/MariaDB each ALTER TABLE runs in the most online form the
// engine takes: ADD COLUMN instantly, ADD INDEX in place without a lock,
// a column type change (which only a table copy can make) as written —
// and with RequireOnline that one is refused, naming why, after the
// statements before it were applied and recorded.
func TestMySQLPrefersOnlineForms(t *testing.T) {
	stmts := "ALTER TABLE users ADD COLUMN age INTEGER NULL;\nALTER TABLE users ADD INDEX users_name (name);\nALTER TABLE users MODIFY name VARCHAR(40);"
	var out strings.Builder
	log := hclog.New(&hclog.LoggerOptions{Output: &out, Level: hclog.Debug})
	st := setupUsers(t, datastore.MySQL, 3)
	c := schemachange.Change{Name: "test/online", Up: datastore.SplitScript(datastore.MySQL, stmts)}
	if _, err := schemachange.Apply(context.Background(), st, c, log); err != nil {
		t.Fatal(err)
	}
	if got := columns(t, st, "users"); strings.Join(got, ",") != "age,email,id,name" {
		t.Fatalf("columns %v", got)
	}
	refused := func(n int) int {
		return strings.Count(out.String(), fmt.Sprintf("online form refused, trying the next: change=test/online statement=%d ", n))
	}
	if refused(1) != 0 || refused(2) != 1 || refused(3) != 2 {
		t.Fatalf("online forms refused per statement: %d %d %d, want 0 (INSTANT), 1 (INPLACE), 2 (as written); log:\n%s", refused(1), refused(2), refused(3), out.String())
	}
	if n := strings.Count(out.String(), "statement ran as written"); n != 1 || !strings.Contains(out.String(), "statement ran as written: the engine has no online form for it, so it may have copied the table and held writes while it ran: change=test/online statement=3") {
		t.Fatalf("want one warning, for statement 3; log:\n%s", out.String())
	}

	st = setupUsers(t, datastore.MySQL, 3)
	c.RequireOnline = true
	_, err := schemachange.Apply(context.Background(), st, c, hclog.NewNullLogger())
	var se *schemachange.StatementError
	if !errors.As(err, &se) || se.Index != 3 || !se.Refused {
		t.Fatalf("want statement 3 refused, got %v", err)
	}
	for _, want := range []string{"neither INSTANT nor INPLACE with LOCK=NONE", "Cannot change column type", "online: require", "gh-ost"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not say %q", err, want)
		}
	}
	if got := columns(t, st, "users"); strings.Join(got, ",") != "age,email,id,name" {
		t.Fatalf("the statements before the refused one are applied: columns %v", got)
	}
	// The rollback runs whatever form it can.
	c.Down = datastore.SplitScript(datastore.MySQL, "ALTER TABLE users DROP INDEX users_name;\nALTER TABLE users DROP COLUMN age;")
	if _, err := schemachange.Rollback(context.Background(), st, c, hclog.NewNullLogger()); err != nil {
		t.Fatal(err)
	}
	if got := columns(t, st, "users"); strings.Join(got, ",") != "email,id,name" {
		t.Fatalf("after the rollback: columns %v", got)
	}
}

// A contract refused because a view reads the column it drops names the
// view (PostgreSQL says so only in the error's DETAIL): Sakila's
// film_list on film.rental_rate.
func TestRefusedStatementNamesWhatDependsOnIt(t *testing.T) {
	st := setupUsers(t, datastore.Postgres, 1)
	dbtest.Exec(t, st, "CREATE VIEW users_directory AS SELECT id, email FROM users")
	c := schemachange.Change{Name: "test/contract", Up: datastore.SplitScript(datastore.Postgres, "ALTER TABLE users DROP COLUMN email;")}
	_, err := schemachange.Apply(context.Background(), st, c, hclog.NewNullLogger())
	if err == nil {
		t.Fatal("dropped a column a view reads")
	}
	if !strings.Contains(err.Error(), "view users_directory depends on column email") {
		t.Fatalf("the error does not name the view: %v", err)
	}
}

// A failing statement is numbered among its script's statements, not
// among those plus the dual-write triggers' (a two-statement expand said
// "statement 2 of 6").
func TestAFailedStatementIsCountedInItsScript(t *testing.T) {
	ctx := context.Background()
	st := setupUsers(t, datastore.MySQL, 1)
	c := renameChange(datastore.MySQL, true)
	c.Up = []datastore.ScriptStatement{
		{SQL: "ALTER TABLE users ADD COLUMN email_address VARCHAR(200) NULL", Line: 1},
		{SQL: "ALTER TABLE users MODIFY emial VARCHAR(300) NULL", Line: 2},
	}
	_, err := schemachange.Apply(ctx, st, c, hclog.NewNullLogger())
	var se *schemachange.StatementError
	if !errors.As(err, &se) || se.Trigger || se.Index != 2 || se.Total != 2 ||
		!strings.Contains(err.Error(), "statement 2 of 2 (line 2) failed") || !strings.Contains(err.Error(), "the phase's rollback undoes them") {
		t.Fatalf("apply: %v, want statement 2 of 2 named", err)
	}
	// The first statement failing: nothing was applied, say so.
	st = setupUsers(t, datastore.MySQL, 1)
	c.Up = c.Up[1:]
	_, err = schemachange.Apply(ctx, st, c, hclog.NewNullLogger())
	if !strings.Contains(fmt.Sprint(err), "statement 1 of 1 (line 2) failed") || !strings.Contains(fmt.Sprint(err), "; nothing of the change was applied") {
		t.Fatalf("apply: %v, want nothing applied said", err)
	}
}

// An expand-only migration that completed leaves its record (no contract
// forgets it): the next change under the same name is applied, not taken
// as "already applied" and skipped (nor, on MySQL/MariaDB, resumed after
// as many statements as the old one had), while a retry of it still
// finds it done. (A trial's second expand, qty INT to BIGINT in place, completed
// having changed nothing.)
func TestANewChangeUnderTheNameOfACompletedOneIsApplied(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			log := hclog.NewNullLogger()
			st := setupUsers(t, e, 1)
			change := func(up string) schemachange.Change {
				return schemachange.Change{Name: "only-expand/expand", Up: datastore.SplitScript(e, up)}
			}
			if _, err := schemachange.Apply(ctx, st, change("ALTER TABLE users ADD COLUMN a INTEGER;"), log); err != nil {
				t.Fatal(err)
			}
			next := change("ALTER TABLE users ADD COLUMN b INTEGER;\nALTER TABLE users ADD COLUMN c INTEGER;")
			res, err := schemachange.Apply(ctx, st, next, log)
			if err != nil || res.Already || res.Statements != 2 {
				t.Fatalf("the next change: %+v, %v; want its 2 statements applied", res, err)
			}
			if got := columns(t, st, "users"); fmt.Sprint(got) != "[a b c email id name]" {
				t.Fatalf("columns: %v", got)
			}
			if res, err := schemachange.Apply(ctx, st, next, log); err != nil || !res.Already {
				t.Fatalf("its retry: %+v, %v; want already applied", res, err)
			}
			// Fewer statements than the record counts: not done either.
			res, err = schemachange.Apply(ctx, st, change("ALTER TABLE users ADD COLUMN d INTEGER;"), log)
			if err != nil || res.Already || res.Statements != 1 {
				t.Fatalf("the third change: %+v, %v; want its statement applied", res, err)
			}
			if got := columns(t, st, "users"); fmt.Sprint(got) != "[a b c d email id name]" {
				t.Fatalf("columns: %v", got)
			}
		})
	}
}

// A rollback on MySQL/MariaDB whose script makes the old column NOT NULL
// again (as docs/expand-contract.md advises) is refused when new code,
// writing only the new column, inserted rows after the dual-write
// triggers went (a trial: ROLLBACK_BLOCKED on "Error 1265: Data truncated
// for column 'last_name'"). Its error used to end "nothing of the change
// was applied", which is wrong for a rollback (the change is applied, the
// triggers gone); it now says what stays and names the NULL rows' fix.
func TestARefusedRollbackSaysWhatStaysAndHowToFixNulls(t *testing.T) {
	ctx := context.Background()
	st := setupUsers(t, datastore.MySQL, 3)
	c := schemachange.Change{
		Name: "test/expand",
		Up: datastore.SplitScript(datastore.MySQL, "ALTER TABLE users ADD COLUMN email_address VARCHAR(200) NULL;\n"+
			"ALTER TABLE users MODIFY name VARCHAR(50) NULL;"),
		Down: datastore.SplitScript(datastore.MySQL, "ALTER TABLE users MODIFY name VARCHAR(50) NOT NULL;\n"+
			"ALTER TABLE users DROP COLUMN email_address;"),
		DualWrite: map[string][]datastore.DualWriteRule{"users": {{Column: "email_address", Expr: "email"}}},
	}
	if _, err := schemachange.Apply(ctx, st, c, hclog.NewNullLogger()); err != nil {
		t.Fatal(err)
	}
	dbtest.Exec(t, st, "INSERT INTO users (id, email_address) VALUES (4, 'new@x')") // new code: no name
	_, err := schemachange.Rollback(ctx, st, c, hclog.NewNullLogger())
	if err == nil {
		t.Fatal("a NOT NULL over a NULL row was applied")
	}
	msg := err.Error()
	for _, want := range []string{
		"rollback script's statement 1 of 2 (line 1) failed",
		"no rollback statement ran: the change stays applied, without its dual-write triggers",
		"a row holds NULL in a column this statement makes NOT NULL",
		"SELECT COUNT(*) FROM users WHERE name IS NULL",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "nothing of the change was applied") {
		t.Errorf("a rollback's error says the change was not applied:\n%s", msg)
	}
	// Fixed by hand, the retried rollback completes.
	dbtest.Exec(t, st, "UPDATE users SET name = 'filled' WHERE name IS NULL")
	if _, err := schemachange.Rollback(ctx, st, c, hclog.NewNullLogger()); err != nil {
		t.Fatal(err)
	}
}
