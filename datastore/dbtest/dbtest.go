// Package dbtest gives tests a fresh, empty database of each engine — on the
// PostgreSQL and MariaDB servers the test machine runs, or in a SQLite file —
// named godwit_data_<random> and dropped when the test ends, so parallel
// runs never collide. A server that is down fails the test with a message
// saying which one and how to point the tests elsewhere.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/godwit/godwit/datastore"
)

// Server addresses, overridable for machines where they differ.
var (
	postgresAdmin = envOr("GODWIT_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	mysqlAdmin    = envOr("GODWIT_TEST_MYSQL", "root@tcp(127.0.0.1:3306)/")
)

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// Engines lists the engines tests run against.
var Engines = []datastore.Engine{datastore.SQLite, datastore.Postgres, datastore.MySQL}

// DB is a fresh database: its DSN and an open store on it.
type DB struct {
	DSN   string
	Store *datastore.Store
}

// New creates a fresh database of the engine for the test.
func New(t testing.TB, engine datastore.Engine) DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := "godwit_data_" + randomSuffix()
	var dsn string
	switch engine {
	case datastore.SQLite:
		dsn = filepath.Join(t.TempDir(), name+".db")
	case datastore.Postgres:
		admin := openAdmin(t, ctx, datastore.Postgres, postgresAdmin)
		exec(t, ctx, admin, "CREATE DATABASE "+name)
		u, err := url.Parse(postgresAdmin)
		if err != nil {
			t.Fatalf("dbtest: GODWIT_TEST_POSTGRES is not a URL: %v", err)
		}
		u.Path = "/" + name
		dsn = u.String()
		t.Cleanup(func() {
			exec(t, context.Background(), admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			admin.Close()
		})
	case datastore.MySQL:
		admin := openAdmin(t, ctx, datastore.MySQL, mysqlAdmin)
		exec(t, ctx, admin, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4")
		dsn = mysqlAdmin + name
		t.Cleanup(func() {
			exec(t, context.Background(), admin, "DROP DATABASE IF EXISTS "+name)
			admin.Close()
		})
	default:
		t.Fatalf("dbtest: unknown engine %q", engine)
	}
	s, err := datastore.Open(ctx, engine, dsn)
	if err != nil {
		t.Fatalf("dbtest: open fresh %s database: %v", engine, err)
	}
	// Registered after the drop, so it runs first: close before dropping.
	t.Cleanup(func() { s.Close() })
	return DB{DSN: dsn, Store: s}
}

func openAdmin(t testing.TB, ctx context.Context, engine datastore.Engine, dsn string) *sql.DB {
	t.Helper()
	s, err := datastore.Open(ctx, engine, dsn)
	if err != nil {
		t.Fatalf("dbtest: the %s server is not reachable (%v); start it (CI does) or set GODWIT_TEST_POSTGRES / GODWIT_TEST_MYSQL", engine, err)
	}
	return s.DB
}

// Exec runs statements on a store, failing the test on error.
func Exec(t testing.TB, s *datastore.Store, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		exec(t, context.Background(), s.DB, q)
	}
}

func exec(t testing.TB, ctx context.Context, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.ExecContext(ctx, q); err != nil {
		t.Fatalf("dbtest: %s: %v", q, err)
	}
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
