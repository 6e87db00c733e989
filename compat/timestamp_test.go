package compat

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

func TestTimestampDigitsParseAndCompare(t *testing.T) {
	parse := func(s string) SQLType {
		t.Helper()
		ty, err := ParseType(s, 0, 0, 0)
		require.NoError(t, err, s)
		return ty
	}
	assert.Equal(t, parse("timestamp"), parse("timestamp(6)"), "six digits is PostgreSQL's default")
	assert.Equal(t, parse("timestamp(3)"), parse("timestamp(3) without time zone"), "format_type's spelling")
	assert.Equal(t, "timestamptz(0)", parse("timestamp(0) with time zone").String())
	for _, c := range []struct {
		from, to string
		want     TypeChange
	}{
		{"timestamp", "timestamp(0)", TypeNarrowed},
		{"timestamp(3)", "timestamp(0)", TypeNarrowed},
		{"timestamptz", "timestamptz(3)", TypeNarrowed},
		{"timestamp(0)", "timestamp", TypeWidened},
		{"timestamp(0)", "timestamp(3)", TypeWidened},
		{"timestamp(3)", "timestamptz(3)", TypeWidened},
		{"timestamp", "timestamptz(0)", TypeNarrowed},
	} {
		assert.Equal(t, c.want, CompareTypes(parse(c.from), parse(c.to)), "%s → %s", c.from, c.to)
	}
}

// Fewer fractional-second digits round (PostgreSQL) or cut (MySQL) the
// values that have more: a narrowing with a precheck that counts them, and
// the rollback does not bring them back. On MySQL a timestamp without
// digits is a DATETIME (none), so giving it some widens it.
func TestTimestampDigitsNarrowingIsReportedWithAWorkingPrecheck(t *testing.T) {
	schema := func(typ string) *Schema {
		return mustParse(t, "s", "tables:\n  ev:\n    columns:\n      id: {type: bigint, primary_key: true}\n      at: {type: \""+typ+"\"}\n")
	}
	for _, c := range []struct {
		dialect  Dialect
		engine   datastore.Engine
		ddl      string
		from, to string
		forward  string
	}{
		{Postgres, datastore.Postgres, "CREATE TABLE ev (id bigint PRIMARY KEY, at timestamp)", "timestamp", "timestamp(0)",
			"ALTER TABLE ev ALTER COLUMN at TYPE timestamp(0);"},
		{MySQL, datastore.MySQL, "CREATE TABLE ev (id BIGINT PRIMARY KEY, at DATETIME(6))", "timestamp(6)", "timestamp",
			"ALTER TABLE ev MODIFY COLUMN at datetime NULL;"},
	} {
		t.Run(string(c.dialect), func(t *testing.T) {
			r := CompareSchemas(schema(c.from), schema(c.to), Options{Dialect: c.dialect})
			require.Equal(t, []string{"breaking column_type_narrowed tables.ev.columns.at.type"}, findings(r))
			require.Len(t, r.MigrationScripts, 1)
			s := r.MigrationScripts[0]
			assert.Equal(t, c.forward, strings.TrimSpace(s.ForwardSQL))
			assert.True(t, s.DataLoss, "the rollback does not bring the digits back")
			assert.Contains(t, r.Issues[0].Impact, "fractional-second digits")

			db := dbtest.New(t, c.engine)
			dbtest.Exec(t, db.Store, c.ddl, "INSERT INTO ev VALUES (1, '2026-12-07 23:23:34'), (2, '2026-12-07 23:23:34.392959')")
			var n int
			require.NoError(t, db.Store.DB.QueryRowContext(context.Background(), s.PrecheckQuery).Scan(&n), s.PrecheckQuery)
			assert.Equal(t, 1, n, "%s counts the value with a fraction", s.PrecheckQuery)
		})
	}
	r := CompareSchemas(schema("timestamp"), schema("timestamp(3)"), Options{Dialect: MySQL})
	assert.Equal(t, []string{"non_breaking column_type_widened tables.ev.columns.at.type"}, findings(r), "DATETIME → DATETIME(3)")
	require.Len(t, r.MigrationScripts, 1)
	assert.Contains(t, r.MigrationScripts[0].ForwardSQL, "datetime(3)")
}

// An exported MySQL description writes a timestamp's digits, which a
// description's bare timestamp does not say the same way on each engine.
func TestExportWritesMySQLTimestampDigits(t *testing.T) {
	db := dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, db.Store, "CREATE TABLE ev (id BIGINT PRIMARY KEY, plain DATETIME, milli DATETIME(3), micro DATETIME(6), stamp TIMESTAMP NULL)")
	s, _, err := ExportSchema(context.Background(), db.Store, ExportOptions{})
	require.NoError(t, err)
	cols := s.Tables["ev"].Columns
	got := map[string]string{}
	for _, n := range []string{"plain", "milli", "micro", "stamp"} {
		got[n] = cols[n].Type
	}
	assert.Equal(t, map[string]string{"plain": "timestamp(0)", "milli": "timestamp(3)", "micro": "timestamp(6)", "stamp": "timestamptz(0)"}, got)
}
