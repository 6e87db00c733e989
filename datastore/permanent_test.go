package datastore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// A statement the server refuses as such (an unknown column, a type an
// operation cannot take, a bad value) fails the same way however often it
// is retried, so it is permanent: before, an activity spent its attempts
// on it (reconcile retried MariaDB's "Illegal parameter data type geometry
// for operation 'cast_as_char'" three times). A deadlock or a lock wait is
// not.
func TestAStatementTheServerRefusesIsPermanent(t *testing.T) {
	ctx := context.Background()
	refused := map[datastore.Engine][]string{
		datastore.Postgres: {"SELECT no_such_column FROM (SELECT 1 AS a) x", "SELECT 'x'::int", "SELECT 1/0"},
		datastore.MySQL:    {"SELECT no_such_column FROM (SELECT 1 AS a) x", "SELECT CAST(ST_GeomFromText('POINT(1 1)') AS CHAR)", "SELEC 1"},
	}
	for engine, queries := range refused {
		db := dbtest.New(t, engine)
		for _, q := range queries {
			_, err := db.Store.DB.ExecContext(ctx, q)
			if err == nil {
				t.Fatalf("%s: %s succeeded", engine, q)
			}
			if !datastore.IsPermanent(fmt.Errorf("read t: %w", err)) {
				t.Errorf("%s: %q failed with %v, not permanent", engine, q, err)
			}
		}
	}
	for _, err := range []error{
		&pgconn.PgError{Code: "40P01", Message: "deadlock detected"},
		&pgconn.PgError{Code: "40001", Message: "could not serialize access"},
		&pgconn.PgError{Code: "55P03", Message: "lock not available"},
		&pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"},
		&mysql.MySQLError{Number: 1213, SQLState: [5]byte{'4', '0', '0', '0', '1'}, Message: "Deadlock found"},
		&mysql.MySQLError{Number: 1205, SQLState: [5]byte{'H', 'Y', '0', '0', '0'}, Message: "Lock wait timeout exceeded"},
	} {
		if datastore.IsPermanent(fmt.Errorf("write t: %w", err)) {
			t.Errorf("%v is permanent, want worth retrying", err)
		}
	}
}
