package datastore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// missingDSN returns a DSN of engine naming a database that does not exist
// (a unique name; for SQLite a file in a fresh directory), and its name.
func missingDSN(t *testing.T, engine datastore.Engine) (dsn, name string) {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name = "godwit_missing_" + hex.EncodeToString(b)
	switch engine {
	case datastore.Postgres:
		u, err := url.Parse(envOr("GODWIT_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"))
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/" + name
		return u.String(), name
	case datastore.MySQL:
		return envOr("GODWIT_TEST_MYSQL", "root@tcp(127.0.0.1:3306)/") + name, name
	}
	p := filepath.Join(t.TempDir(), name+".db")
	return p, p
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// A DSN naming a database that does not exist fails with ErrNoDatabase,
// naming the database, never as access denied; a SQLite file is not
// created by OpenReadOnly.
func TestOpenMissingDatabaseSaysSo(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			dsn, name := missingDSN(t, engine)
			s, err := datastore.OpenReadOnly(ctx, engine, dsn)
			if err == nil {
				s.Close()
				t.Fatal("OpenReadOnly of a missing database succeeded")
			}
			if !errors.Is(err, datastore.ErrNoDatabase) || errors.Is(err, datastore.ErrAccessDenied) {
				t.Fatalf("error = %v; want ErrNoDatabase and not ErrAccessDenied", err)
			}
			if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "does not exist") {
				t.Fatalf("error %q does not say that %s does not exist", err, name)
			}
			if !datastore.IsPermanent(err) {
				t.Fatalf("a missing database must be permanent: %v", err)
			}
			if engine == datastore.SQLite {
				if _, err := os.Stat(dsn); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("OpenReadOnly created %s (stat: %v)", dsn, err)
				}
				return
			}
			// Open (not read-only) says the same for a server database.
			if _, err := datastore.Open(ctx, engine, dsn); !errors.Is(err, datastore.ErrNoDatabase) || errors.Is(err, datastore.ErrAccessDenied) {
				t.Fatalf("Open error = %v; want ErrNoDatabase", err)
			}
		})
	}
}

// CreateDatabase creates a missing database once, marked as the owner's;
// DropCreatedDatabase drops only a database its owner created, and both
// can be repeated.
func TestCreateDatabaseAndDropOnlyOurs(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			dsn, _ := missingDSN(t, engine)
			t.Cleanup(func() { _, _ = datastore.DropCreatedDatabase(context.Background(), engine, dsn, "m1") })
			created, err := datastore.CreateDatabase(ctx, engine, dsn, "m1")
			if err != nil || !created {
				t.Fatalf("CreateDatabase = %v, %v; want true", created, err)
			}
			if again, err := datastore.CreateDatabase(ctx, engine, dsn, "m1"); err != nil || again {
				t.Fatalf("second CreateDatabase = %v, %v; want false (it exists)", again, err)
			}
			s, err := datastore.OpenReadOnly(ctx, engine, dsn)
			if err != nil {
				t.Fatalf("open the created database: %v", err)
			}
			tables, err := s.ListTables(ctx)
			s.Close()
			if err != nil || len(tables) != 0 {
				t.Fatalf("a created database lists %v, %v; want no tables (the marker is Godwit's)", tables, err)
			}
			if dropped, err := datastore.DropCreatedDatabase(ctx, engine, dsn, "other"); err != nil || dropped {
				t.Fatalf("drop by another owner = %v, %v; want false", dropped, err)
			}
			if dropped, err := datastore.DropCreatedDatabase(ctx, engine, dsn, "m1"); err != nil || !dropped {
				t.Fatalf("drop by its owner = %v, %v; want true", dropped, err)
			}
			if exists, err := datastore.DatabaseExists(ctx, engine, dsn); err != nil || exists {
				t.Fatalf("after the drop DatabaseExists = %v, %v", exists, err)
			}
			if dropped, err := datastore.DropCreatedDatabase(ctx, engine, dsn, "m1"); err != nil || dropped {
				t.Fatalf("second drop = %v, %v; want false, nil", dropped, err)
			}
		})
	}
}

// A database that existed before is never dropped, even by the owner.
func TestDropCreatedDatabaseLeavesOthers(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.New(t, engine)
			if created, err := datastore.CreateDatabase(ctx, engine, db.DSN, "m1"); err != nil || created {
				t.Fatalf("CreateDatabase of an existing database = %v, %v; want false", created, err)
			}
			if dropped, err := datastore.DropCreatedDatabase(ctx, engine, db.DSN, "m1"); err != nil || dropped {
				t.Fatalf("DropCreatedDatabase of a database Godwit did not create = %v, %v; want false", dropped, err)
			}
			if exists, err := datastore.DatabaseExists(ctx, engine, db.DSN); err != nil || !exists {
				t.Fatalf("the database is gone: %v, %v", exists, err)
			}
		})
	}
}

// The same database reached by two different DSNs has one identity;
// another database of the same server has another.
func TestIdentityIsTheDatabaseNotTheDSN(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			a, b := dbtest.New(t, engine), dbtest.New(t, engine)
			other := a.DSN
			switch engine {
			case datastore.Postgres:
				other = strings.Replace(a.DSN, "127.0.0.1", "localhost", 1)
			case datastore.MySQL:
				other = a.DSN + "?timeout=5s" // another DSN string, the same database
			case datastore.SQLite:
				other = "file:" + a.DSN + "?cache=private"
			}
			a2, err := datastore.Open(ctx, engine, other)
			if err != nil {
				t.Fatal(err)
			}
			defer a2.Close()
			idA, err := a.Store.Identity(ctx)
			if err != nil {
				t.Fatal(err)
			}
			idA2, err := a2.Identity(ctx)
			if err != nil {
				t.Fatal(err)
			}
			idB, err := b.Store.Identity(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if idA != idA2 {
				t.Fatalf("one database, two identities: %s and %s", idA, idA2)
			}
			if idA == idB || idA.Server == "" {
				t.Fatalf("two databases, identities %s and %s", idA, idB)
			}
		})
	}
}

// A SQLite file opened read-only is checked for writability without a
// write, and a read-only file fails the check.
func TestReadOnlySQLiteChecksWithoutWriting(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, db.Store, "CREATE TABLE t (id INTEGER PRIMARY KEY)")
	s, err := datastore.OpenReadOnly(ctx, datastore.SQLite, db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CheckCreate(ctx); err != nil {
		t.Fatalf("CheckCreate on a writable file: %v", err)
	}
	if err := s.CheckWrite(ctx, "t"); err != nil {
		t.Fatalf("CheckWrite on a writable file: %v", err)
	}
	if _, err := s.DB.ExecContext(ctx, "INSERT INTO t VALUES (1)"); err == nil {
		t.Fatal("a store opened read-only accepted a write")
	}
}
