package datastore

import (
	"context"
	"errors"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// CheckExpr asks the store to parse expr, an SQL expression over a row of
// t as a dual-write rule or a backfill's set or where clause is written,
// reading no row. Columns in added do not exist yet (the change adds
// them): they read as NULL, whose type the engine cannot know, so then
// only a column or table the store does not know, or SQL it cannot parse,
// is an error; without them any error is. where, when not empty, is
// checked with expr as its condition ("" for expr alone).
//
// Why: PostgreSQL checks a trigger function's body only when it first
// runs, and MySQL/MariaDB a name in a trigger's body only when it fires,
// so a typo in a rule passes the expand and then refuses every write to
// the table; a typo in a backfill's expressions fails it after the expand.
func (s *Store) CheckExpr(ctx context.Context, t *Table, added []string, expr, where string) error {
	from := s.Quote(t.Name)
	if len(added) > 0 {
		nulls := make([]string, len(added))
		for i, c := range added {
			nulls[i] = "NULL AS " + s.Quote(c)
		}
		// The inner WHERE keeps an engine that materialises the derived
		// table (MySQL without derived_merge) from copying the table.
		from = "(SELECT *, " + strings.Join(nulls, ", ") + " FROM " + s.Quote(t.Name) + " WHERE 1 = 0) AS " + s.Quote(t.Name)
	}
	if expr == "" {
		expr = "1"
	}
	cond := "1 = 0"
	if where != "" {
		cond = "(" + where + ") AND 1 = 0"
	}
	rows, err := s.DB.QueryContext(ctx, "SELECT ("+expr+") FROM "+from+" WHERE "+cond)
	if err == nil {
		err = rows.Close()
	}
	if err == nil || (len(added) > 0 && !unknownNameOrSyntax(err)) {
		return nil
	}
	return err
}

// unknownNameOrSyntax reports an error that names a column or table the
// store does not have, or SQL it cannot parse: what a NULL in place of a
// column not added yet cannot cause (a type mismatch can).
func unknownNameOrSyntax(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "42703", "42P01", "42601": // undefined column, table; syntax error
			return true
		}
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1054, 1146, 1064: // unknown column, no such table, syntax error
			return true
		}
		return false
	}
	m := err.Error()
	return strings.Contains(m, "no such column") || strings.Contains(m, "no such table") || strings.Contains(m, "syntax error")
}

// IsValueError reports an error of a value the store refuses for its
// column: out of range, too long, not of the column's type (PostgreSQL's
// data exceptions, class 22; MySQL/MariaDB's 1264, 1265, 1292, 1366 and
// 1406 in strict mode). SQLite's columns take any value.
func IsValueError(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return strings.HasPrefix(pg.Code, "22")
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1264, 1265, 1292, 1366, 1406:
			return true
		}
	}
	return false
}
