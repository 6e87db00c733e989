package compat

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// statements splits a script into the statements it is made of (MySQL's
// driver runs one statement per call).
func statements(script string) []string {
	var out []string
	for _, s := range strings.Split(script, ";\n") {
		s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), ";"))
		lines := strings.Split(s, "\n")
		for len(lines) > 0 && strings.HasPrefix(strings.TrimSpace(lines[0]), "--") {
			lines = lines[1:]
		}
		if s = strings.Join(lines, "\n"); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func execScript(t *testing.T, ctx context.Context, conn *sql.Conn, what, script string) {
	t.Helper()
	for _, s := range statements(script) {
		_, err := conn.ExecContext(ctx, s)
		require.NoError(t, err, "%s:\n%s", what, s)
	}
}

// exported is the schema description `godwit schema export` writes for the
// database, as JSON, with the database's own name taken out of view
// definitions (MySQL qualifies the tables a view reads).
func exported(t *testing.T, db dbtest.DB, engine datastore.Engine) string {
	t.Helper()
	s, _, err := ExportSchema(context.Background(), db.Store, ExportOptions{})
	require.NoError(t, err)
	data, err := json.MarshalIndent(s, "", "  ")
	require.NoError(t, err)
	out := string(data)
	if engine == datastore.MySQL {
		name := path.Base(db.DSN)
		if u, err := url.Parse("x://" + db.DSN); err == nil {
			name = path.Base(u.Path)
		}
		out = strings.ReplaceAll(out, "`"+name+"`.", "")
	}
	return out
}

// TestScriptsRoundTripOnMySQLAndSQLite is the PostgreSQL round trip on
// MariaDB and SQLite: a database built from "before" (in the dialect)
// holding rows takes the forward scripts — each validation query saying
// ok after its step — and its export must equal the export of a database
// built from "after"; the rollbacks in reverse order must then give an
// export equal to the original's.
func TestScriptsRoundTripOnMySQLAndSQLite(t *testing.T) {
	pairs := []struct {
		name, before, after string
		seed                []string
	}{
		{
			name: "columns, types, defaults, not null, new constraints, new table, view change", before: "testdata/before.json", after: "testdata/after.yaml",
			seed: []string{
				`INSERT INTO users (email, user_name, status, legacy_flag, age) VALUES ('a@x.io', 'ann', NULL, true, 30), ('b@x.io', 'bob', 'active', false, 40)`,
				`INSERT INTO orders (id, user_id, total, note) SELECT id, id, NULL, 'first' FROM users`,
				`INSERT INTO audit_log VALUES (1, 'hello')`,
			},
		},
		{
			name: "table rename, primary key change, dropped constraints, generators, type conversion, views", before: "testdata/before3.yaml", after: "testdata/after3.yaml",
			seed: []string{
				`INSERT INTO customers (code, score) VALUES ('abc', '7'), ('xyz', '9')`,
				`INSERT INTO invoices SELECT id, id, 1 FROM customers`,
				`INSERT INTO old_events VALUES (1, '{}')`,
			},
		},
		{
			name: "the Migration Architect method's sample schemas as shipped", before: methodBefore, after: methodAfter,
			seed: []string{
				`INSERT INTO users (username, email, password_hash) VALUES ('ann', 'ann@x.io', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx')`,
				`INSERT INTO user_profiles (user_id, bio) SELECT id, 'hello' FROM users`,
				`INSERT INTO user_sessions (id, user_id, expires_at) SELECT 's1', id, '2030-01-01 00:00:00' FROM users`,
			},
		},
	}
	for _, engine := range []datastore.Engine{datastore.MySQL, datastore.SQLite} {
		dialect := Dialect(engine)
		for _, tc := range pairs {
			t.Run(fmt.Sprintf("%s/%s", engine, tc.name), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				before, err := LoadSchema(tc.before)
				require.NoError(t, err)
				after, err := LoadSchema(tc.after)
				require.NoError(t, err)
				report := CompareSchemas(before, after, Options{Dialect: dialect})
				require.NotEmpty(t, report.MigrationScripts)

				db := dbtest.New(t, engine)
				// One connection: SQLite's PRAGMAs hold per connection.
				conn, err := db.Store.DB.Conn(ctx)
				require.NoError(t, err)
				defer conn.Close()
				for _, s := range append(DDLFor(dialect, before), tc.seed...) {
					execScript(t, ctx, conn, "create before", s)
				}
				original := exported(t, db, engine)

				for _, s := range report.MigrationScripts {
					if s.PrecheckQuery != "" {
						var n int64
						require.NoError(t, conn.QueryRowContext(ctx, s.PrecheckQuery).Scan(&n), "precheck of %s:\n%s", s.FieldPath, s.PrecheckQuery)
						require.Zero(t, n, "precheck of %s counts rows that block it", s.FieldPath)
					}
					execScript(t, ctx, conn, fmt.Sprintf("forward %d (%s)", s.Order, s.FieldPath), s.ForwardSQL)
					if s.ValidationQuery != "" {
						var ok bool
						require.NoError(t, conn.QueryRowContext(ctx, s.ValidationQuery).Scan(&ok), "validation of %s:\n%s", s.FieldPath, s.ValidationQuery)
						require.True(t, ok, "validation of %s after its forward SQL:\n%s", s.FieldPath, s.ValidationQuery)
					}
				}
				migrated := exported(t, db, engine)
				require.Equal(t, onUpdateColumns(after), triggers(t, ctx, conn, dialect), "every on-update column of after has its trigger (on MySQL its clause)")

				fresh := dbtest.New(t, engine)
				freshConn, err := fresh.Store.DB.Conn(ctx)
				require.NoError(t, err)
				defer freshConn.Close()
				for _, s := range DDLFor(dialect, after) {
					execScript(t, ctx, freshConn, "create after", s)
				}
				require.Equal(t, exported(t, fresh, engine), migrated, "forward scripts must give the schema the after description creates")

				for i := len(report.MigrationScripts) - 1; i >= 0; i-- {
					s := report.MigrationScripts[i]
					if s.RollbackPrecheckQuery != "" {
						var n int64
						require.NoError(t, conn.QueryRowContext(ctx, s.RollbackPrecheckQuery).Scan(&n), "rollback precheck of %s:\n%s", s.FieldPath, s.RollbackPrecheckQuery)
						require.Zero(t, n, "rollback precheck of %s counts rows that block it", s.FieldPath)
					}
					execScript(t, ctx, conn, fmt.Sprintf("rollback %d (%s)", s.Order, s.FieldPath), s.RollbackSQL)
				}
				require.Equal(t, original, exported(t, db, engine), "rollback scripts in reverse order must give back the original schema")
				require.Equal(t, onUpdateColumns(before), triggers(t, ctx, conn, dialect), "after the rollback, the on-update columns of before only")
			})
		}
	}
}
