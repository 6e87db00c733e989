package compat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// pgURL is the test PostgreSQL server (CI starts it); GODWIT_TEST_PG
// overrides it.
func pgURL(db string) string {
	base := os.Getenv("GODWIT_TEST_PG")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432"
	}
	return base + "/" + db + "?sslmode=disable"
}

// tempDB creates a database of its own for the test and drops it after.
func tempDB(t *testing.T, ctx context.Context) *pgx.Conn {
	t.Helper()
	admin, err := pgx.Connect(ctx, pgURL("postgres"))
	require.NoError(t, err, "PostgreSQL must run on 127.0.0.1:5432 (user postgres, no password) for this test; set GODWIT_TEST_PG to point elsewhere")
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "godwit_compat_" + hex.EncodeToString(b)
	_, err = admin.Exec(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err)
	conn, err := pgx.Connect(ctx, pgURL(name))
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx := context.Background()
		conn.Close(ctx)
		_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close(ctx)
	})
	return conn
}

func execAll(t *testing.T, ctx context.Context, conn *pgx.Conn, what string, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		_, err := conn.Exec(ctx, s)
		require.NoError(t, err, "%s:\n%s", what, s)
	}
}

// snapshot lists what PostgreSQL knows of the public schema: columns,
// constraints, indexes and views, so two databases can be compared.
func snapshot(t *testing.T, ctx context.Context, conn *pgx.Conn) []string {
	t.Helper()
	queries := []string{
		`SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || coalesce('(' || character_maximum_length || ')', '') ||
		        coalesce(' p' || numeric_precision || ',' || numeric_scale, '') || ' null=' || is_nullable ||
		        ' default=' || coalesce(column_default, '-') || ' identity=' || is_identity
		   FROM information_schema.columns WHERE table_schema = 'public'`,
		`SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
		   FROM pg_constraint WHERE connamespace = 'public'::regnamespace`,
		`SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = 'public'`,
		`SELECT 'view ' || viewname || ' ' || definition FROM pg_views WHERE schemaname = 'public'`,
	}
	var out []string
	for _, q := range queries {
		rows, err := conn.Query(ctx, q)
		require.NoError(t, err)
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			out = append(out, s)
		}
		require.NoError(t, rows.Err())
	}
	sort.Strings(out)
	return out
}

// TestScriptsRoundTripOnPostgres applies the forward scripts of the
// fixture pair to a database built from "before" holding rows, checks the
// result equals a database built from "after", then applies the rollbacks
// in reverse and checks it equals the original again; each script's
// validation query must say ok after its forward step.
func TestScriptsRoundTripOnPostgres(t *testing.T) {
	for _, tc := range []struct {
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
			name: "table rename, primary key change, dropped constraints, generators, type conversion, views", before: "testdata/before2.yaml", after: "testdata/after2.yaml",
			seed: []string{
				`INSERT INTO customers (code, score) VALUES ('abc', '7'), ('xyz', '9')`,
				`INSERT INTO invoices SELECT id, id, 1 FROM customers`,
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
	} {
		t.Run(tc.name, func(t *testing.T) { roundTrip(t, tc.before, tc.after, tc.seed) })
	}
}

func roundTrip(t *testing.T, beforeFile, afterFile string, seed []string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before, err := LoadSchema(beforeFile)
	require.NoError(t, err)
	after, err := LoadSchema(afterFile)
	require.NoError(t, err)
	report := CompareSchemas(before, after, Options{})
	require.NotEmpty(t, report.MigrationScripts)

	db := tempDB(t, ctx)
	execAll(t, ctx, db, "create before", DDL(before)...)
	execAll(t, ctx, db, "seed", seed...)
	original := snapshot(t, ctx, db)

	for _, s := range report.MigrationScripts {
		if s.PrecheckQuery != "" {
			var n int64
			require.NoError(t, db.QueryRow(ctx, s.PrecheckQuery).Scan(&n), "precheck of %s", s.FieldPath)
			require.Zero(t, n, "precheck of %s counts rows that block it", s.FieldPath)
		}
		execAll(t, ctx, db, fmt.Sprintf("forward %d (%s)", s.Order, s.FieldPath), s.ForwardSQL)
		if s.ValidationQuery != "" {
			var ok bool
			require.NoError(t, db.QueryRow(ctx, s.ValidationQuery).Scan(&ok), "validation of %s:\n%s", s.FieldPath, s.ValidationQuery)
			require.True(t, ok, "validation of %s after its forward SQL:\n%s", s.FieldPath, s.ValidationQuery)
		}
	}
	migrated := snapshot(t, ctx, db)
	require.Equal(t, onUpdateColumns(after), pgTriggers(t, ctx, db), "every on-update column of after has its trigger")

	fresh := tempDB(t, ctx)
	execAll(t, ctx, fresh, "create after", DDL(after)...)
	require.Equal(t, strings.Join(snapshot(t, ctx, fresh), "\n"), strings.Join(migrated, "\n"),
		"forward scripts must give the schema the after description creates")

	for i := len(report.MigrationScripts) - 1; i >= 0; i-- {
		s := report.MigrationScripts[i]
		if s.RollbackPrecheckQuery != "" {
			var n int64
			require.NoError(t, db.QueryRow(ctx, s.RollbackPrecheckQuery).Scan(&n), "rollback precheck of %s", s.FieldPath)
			require.Zero(t, n, "rollback precheck of %s counts rows that block it", s.FieldPath)
		}
		execAll(t, ctx, db, fmt.Sprintf("rollback %d (%s)", s.Order, s.FieldPath), s.RollbackSQL)
	}
	require.Equal(t, strings.Join(original, "\n"), strings.Join(snapshot(t, ctx, db), "\n"),
		"rollback scripts in reverse order must give back the original schema")
	require.Equal(t, onUpdateColumns(before), pgTriggers(t, ctx, db), "after the rollback, the triggers of before only")
}

func pgTriggers(t *testing.T, ctx context.Context, conn *pgx.Conn) int {
	t.Helper()
	var n int
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE '%_on_update' AND NOT tgisinternal").Scan(&n))
	return n
}
