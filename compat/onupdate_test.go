package compat

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

func TestOnUpdateIsItsOwnAttribute(t *testing.T) {
	s := mustParse(t, "s.yaml", `
tables:
  t:
    columns:
      id: {type: bigint, primary_key: true}
      updated_at: {type: timestamp, nullable: false, default: "CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP"}
`)
	col := s.Tables["t"].Columns["updated_at"]
	assert.Equal(t, "CURRENT_TIMESTAMP", col.Default, "the default is only the default")
	assert.Equal(t, "CURRENT_TIMESTAMP", col.OnUpdate)
	for d, want := range map[Dialect][]string{
		Postgres: {"updated_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,", "CREATE TRIGGER t_updated_at_on_update BEFORE UPDATE ON t"},
		MySQL:    {"updated_at datetime NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP"},
		SQLite:   {"updated_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,", "CREATE TRIGGER t_updated_at_on_update AFTER UPDATE ON t"},
	} {
		ddl := strings.Join(DDLFor(d, s), "\n")
		for _, w := range want {
			assert.Contains(t, ddl, w, d)
		}
		assert.NotContains(t, ddl, "'CURRENT_TIMESTAMP ON UPDATE", "%s: never a string literal", d)
	}
}

// onUpdateBefore and onUpdateAfter add an on-update to an existing column
// and a new table with one.
const (
	onUpdateBefore = `
tables:
  items:
    columns:
      id: {type: bigint, primary_key: true}
      name: {type: varchar(40)}
      updated_at: {type: timestamp, nullable: false, default: CURRENT_TIMESTAMP}
`
	onUpdateAfter = `
tables:
  items:
    columns:
      id: {type: bigint, primary_key: true}
      name: {type: varchar(40)}
      updated_at: {type: timestamp, nullable: false, default: "CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP"}
  prefs:
    columns:
      id: {type: bigint, primary_key: true}
      v: {type: varchar(40)}
      changed_at: {type: timestamp, nullable: false, on_update: CURRENT_TIMESTAMP, default: CURRENT_TIMESTAMP}
`
)

// TestOnUpdateRoundTripsOnEveryEngine applies the forward SQL on real
// PostgreSQL, MariaDB and SQLite, checks an UPDATE bumps the column, then
// applies the rollback SQL and checks the trigger (or MySQL's clause) is
// gone and an UPDATE leaves the column alone.
func TestOnUpdateRoundTripsOnEveryEngine(t *testing.T) {
	before := mustParse(t, "before.yaml", onUpdateBefore)
	after := mustParse(t, "after.yaml", onUpdateAfter)
	const old = "2000-01-01 00:00:00"
	for _, engine := range []datastore.Engine{datastore.Postgres, datastore.MySQL, datastore.SQLite} {
		t.Run(string(engine), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			d := Dialect(engine)
			r := CompareSchemas(before, after, Options{Dialect: d})
			assert.Contains(t, findings(r), "non_breaking column_on_update_added tables.items.columns.updated_at.on_update")
			db := dbtest.New(t, engine)
			conn, err := db.Store.DB.Conn(ctx)
			require.NoError(t, err)
			defer conn.Close()
			for _, s := range DDLFor(d, before) {
				execScript(t, ctx, conn, "create before", s)
			}
			execScript(t, ctx, conn, "seed", fmt.Sprintf("INSERT INTO items (id, name, updated_at) VALUES (1, 'a', '%s');\n", old))

			for _, s := range r.MigrationScripts {
				execScript(t, ctx, conn, fmt.Sprintf("forward %d (%s)", s.Order, s.FieldPath), s.ForwardSQL)
				if s.ValidationQuery != "" {
					var ok bool
					require.NoError(t, conn.QueryRowContext(ctx, s.ValidationQuery).Scan(&ok), s.ValidationQuery)
					require.True(t, ok, "validation of %s after its forward SQL:\n%s", s.FieldPath, s.ValidationQuery)
				}
			}
			assert.True(t, bumped(t, ctx, conn, "items", "updated_at", "name", old), "after the forward SQL an UPDATE sets items.updated_at")
			execScript(t, ctx, conn, "seed prefs", fmt.Sprintf("INSERT INTO prefs (id, v, changed_at) VALUES (1, 'a', '%s');\n", old))
			assert.True(t, bumped(t, ctx, conn, "prefs", "changed_at", "v", old), "the new table's on-update works")
			assert.Equal(t, 2, triggers(t, ctx, conn, d), "a trigger (on MySQL the column's clause) per on-update column")

			for i := len(r.MigrationScripts) - 1; i >= 0; i-- {
				s := r.MigrationScripts[i]
				execScript(t, ctx, conn, fmt.Sprintf("rollback %d (%s)", s.Order, s.FieldPath), s.RollbackSQL)
			}
			assert.Zero(t, triggers(t, ctx, conn, d), "the rollback SQL removes the triggers")
			if d == Postgres {
				var fns int
				require.NoError(t, conn.QueryRowContext(ctx, "SELECT count(*) FROM pg_proc WHERE proname LIKE '%_on_update'").Scan(&fns))
				assert.Zero(t, fns, "and their functions")
			}
			assert.False(t, bumped(t, ctx, conn, "items", "updated_at", "name", old), "after the rollback an UPDATE leaves items.updated_at alone")
		})
	}
}

// bumped sets col to old, updates other, and reports whether col moved.
func bumped(t *testing.T, ctx context.Context, conn *sql.Conn, table, col, other, old string) bool {
	t.Helper()
	_, err := conn.ExecContext(ctx, fmt.Sprintf("UPDATE %s SET %s = '%s'", table, col, old))
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, fmt.Sprintf("UPDATE %s SET %s = %s || 'x'", table, other, other))
	if err != nil { // MySQL's || is OR
		_, err = conn.ExecContext(ctx, fmt.Sprintf("UPDATE %s SET %s = concat(%s, 'x')", table, other, other))
	}
	require.NoError(t, err)
	var n int
	require.NoError(t, conn.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM %s WHERE %s > '%s'", table, col, old)).Scan(&n))
	return n > 0
}

// triggers counts the database's on-update triggers; on MySQL the columns
// that carry ON UPDATE.
func triggers(t *testing.T, ctx context.Context, conn *sql.Conn, d Dialect) int {
	t.Helper()
	q := map[Dialect]string{
		Postgres: "SELECT count(*) FROM pg_trigger WHERE tgname LIKE '%_on_update' AND NOT tgisinternal",
		SQLite:   "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'",
		MySQL:    "SELECT count(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND lower(EXTRA) LIKE '%on update%'",
	}[d]
	var n int
	require.NoError(t, conn.QueryRowContext(ctx, q).Scan(&n))
	return n
}

// onUpdateColumns counts the columns of s with an on-update expression.
func onUpdateColumns(s *Schema) int {
	n := 0
	for _, t := range s.Tables {
		for _, c := range t.Columns {
			if c.OnUpdate != "" {
				n++
			}
		}
	}
	return n
}
