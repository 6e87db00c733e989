package provision_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/drivers/provision"
)

// newDatabaseDSN is a DSN of engine naming a database that does not exist
// yet (a unique name; for SQLite a file in a fresh directory).
func newDatabaseDSN(t *testing.T, engine datastore.Engine) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "godwit_created_" + hex.EncodeToString(b)
	switch engine {
	case datastore.MySQL:
		return "root@tcp(127.0.0.1:3306)/" + name
	case datastore.Postgres:
		u, _ := url.Parse("postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
		u.Path = "/" + name
		return u.String()
	}
	return filepath.Join(t.TempDir(), name+".db")
}

func createDBSpec(t *testing.T, name string, src dbtest.DB, engine datastore.Engine, dsn string) *config.Spec {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "legacy"), []byte(src.DSN), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "new"), []byte(dsn), 0o600))
	text := fmt.Sprintf(`name: %s
stores:
  legacy: {engine: %s, dsn: {fromFile: %s/legacy}}
  new: {engine: %s, dsn: {fromFile: %s/new}}
phases:
  - phase: provision
    provision: {from: legacy, to: new, tables: ["*"], createDatabase: true}
`, name, src.Store.Engine, dir, engine, dir)
	spec, err := config.ParseSpec([]byte(text))
	require.NoError(t, err, text)
	return spec
}

// createDatabase: true creates a missing target database (PostgreSQL,
// MariaDB, a SQLite file) with the tables in it; a retry finds it; the
// compensation drops it, and a second compensation finds nothing to do.
func TestProvisionCreatesTheDatabaseAndItsRollbackDropsIt(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			src := dbtest.New(t, datastore.SQLite)
			seedShop(t, src)
			dsn := newDatabaseDSN(t, engine)
			t.Cleanup(func() { _, _ = datastore.DropCreatedDatabase(context.Background(), engine, dsn, "createdb") })
			spec := createDBSpec(t, "createdb", src, engine, dsn)
			d := provision.New(hclog.NewNullLogger())

			require.Empty(t, d.Preflight(ctx, spec, spec.Phases[0]), "preflight with createDatabase: true")
			exists, err := datastore.DatabaseExists(ctx, engine, dsn)
			require.NoError(t, err)
			require.False(t, exists, "preflight created the database")

			res, err := d.Do(ctx, activities.ActionRun, in(spec, 0), activities.Heartbeat{}, none)
			require.NoError(t, err)
			what := "database " + datastore.DatabaseName(engine, dsn)
			if engine == datastore.SQLite {
				what = "the database file" // its path is the DSN: not in history
			}
			require.Contains(t, res.Summary, "created "+what+" for store new")
			require.Contains(t, res.Summary, "created 2 tables in new")
			// A retry of the phase: the database is there, and it is ours.
			res, err = d.Do(ctx, activities.ActionRun, in(spec, 0), activities.Heartbeat{}, none)
			require.NoError(t, err)
			require.Contains(t, res.Summary, "created by an earlier attempt")

			res, err = d.Do(ctx, activities.ActionCompensate, in(spec, 0), activities.Heartbeat{}, none)
			require.NoError(t, err)
			require.Contains(t, res.Summary, "dropped "+what+" of store new, which this migration created")
			exists, err = datastore.DatabaseExists(ctx, engine, dsn)
			require.NoError(t, err)
			require.False(t, exists, "the compensation left the database it created")
			res, err = d.Do(ctx, activities.ActionCompensate, in(spec, 0), activities.Heartbeat{}, none)
			require.NoError(t, err, "a second compensation")
			require.Contains(t, res.Summary, "nothing to drop")
			exists, err = datastore.DatabaseExists(ctx, engine, dsn)
			require.NoError(t, err)
			require.False(t, exists, "the second compensation created the database again")
		})
	}
}

// With createDatabase: true on a database that already existed, the
// compensation drops only the tables, never the database.
func TestProvisionCompensationKeepsADatabaseItDidNotCreate(t *testing.T) {
	for _, engine := range dbtest.Engines {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			src := dbtest.New(t, datastore.SQLite)
			seedShop(t, src)
			dst := dbtest.New(t, engine)
			spec := createDBSpec(t, "keepdb", src, engine, dst.DSN)
			d := provision.New(hclog.NewNullLogger())
			res, err := d.Do(ctx, activities.ActionRun, in(spec, 0), activities.Heartbeat{}, none)
			require.NoError(t, err)
			require.NotContains(t, res.Summary, "database")
			res, err = d.Do(ctx, activities.ActionCompensate, in(spec, 0), activities.Heartbeat{}, none)
			require.NoError(t, err)
			require.Contains(t, res.Summary, "dropped 2 tables")
			exists, err := datastore.DatabaseExists(ctx, engine, dst.DSN)
			require.NoError(t, err)
			require.True(t, exists, "the compensation dropped a database it did not create")
		})
	}
}

// With createDatabase: true on a database that does not exist, preflight
// checks that it can be created: a PostgreSQL role without CREATEDB, a
// SQLite file in a directory that does not exist.
func TestProvisionPreflightChecksTheDatabaseCanBeCreated(t *testing.T) {
	ctx := context.Background()
	src := dbtest.New(t, datastore.SQLite)
	seedShop(t, src)

	admin := dbtest.New(t, datastore.Postgres)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	role := "godwit_nocreatedb_" + hex.EncodeToString(b)
	dbtest.Exec(t, admin.Store, "CREATE ROLE "+role+" LOGIN NOCREATEDB")
	t.Cleanup(func() { _, _ = admin.Store.DB.ExecContext(context.Background(), "DROP ROLE IF EXISTS "+role) })
	u, err := url.Parse(newDatabaseDSN(t, datastore.Postgres))
	require.NoError(t, err)
	u.User = url.User(role)
	spec := createDBSpec(t, "nocreatedb", src, datastore.Postgres, u.String())
	d := provision.New(hclog.NewNullLogger())
	require.Equal(t, []string{"store new: createDatabase: access denied: the user may not create database " + u.Path[1:]},
		d.Preflight(ctx, spec, spec.Phases[0]))

	nowhere := filepath.Join(t.TempDir(), "no-such-dir", "new.db")
	spec = createDBSpec(t, "nodir", src, datastore.SQLite, nowhere)
	problems := d.Preflight(ctx, spec, spec.Phases[0])
	require.Len(t, problems, 1)
	require.Contains(t, problems[0], "store new: createDatabase: access denied: the directory "+filepath.Dir(nowhere)+" cannot take the database file")
}

// With createDatabase: true on a database that does not exist yet,
// preflight still checks that every column's type maps to the target's
// engine: it passed, and provision then refused a MariaDB YEAR and
// GEOMETRY on SQLite and PostgreSQL.
func TestProvisionPreflightChecksTypesBeforeTheDatabaseExists(t *testing.T) {
	ctx := context.Background()
	src := dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, src.Store, "CREATE TABLE film (film_id INT PRIMARY KEY, release_year YEAR, location GEOMETRY)")
	d := provision.New(hclog.NewNullLogger())
	for _, engine := range []datastore.Engine{datastore.SQLite, datastore.Postgres} {
		t.Run(string(engine), func(t *testing.T) {
			spec := createDBSpec(t, "types", src, engine, newDatabaseDSN(t, engine))
			problems := d.Preflight(ctx, spec, spec.Phases[0])
			require.Len(t, problems, 1, "%q", problems)
			require.Contains(t, problems[0], "table film cannot be created in new")
			require.Contains(t, problems[0], "film.release_year (year(4)), film.location (geometry)")
		})
	}
}

// A provision that creates the target database and then fails (a MariaDB
// YEAR with no typeOverrides) drops that database again: a failed phase
// has no compensation, so the rollback left it behind. A database that
// existed before is kept.
func TestAFailedProvisionDropsTheDatabaseItCreated(t *testing.T) {
	ctx := context.Background()
	src := dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, src.Store, "CREATE TABLE film (film_id INT PRIMARY KEY, release_year YEAR)")
	d := provision.New(hclog.NewNullLogger())
	for _, engine := range []datastore.Engine{datastore.SQLite, datastore.Postgres} {
		t.Run(string(engine), func(t *testing.T) {
			dsn := newDatabaseDSN(t, engine)
			t.Cleanup(func() { _, _ = datastore.DropCreatedDatabase(context.Background(), engine, dsn, "faileddb") })
			spec := createDBSpec(t, "faileddb", src, engine, dsn)
			_, err := d.Do(ctx, activities.ActionRun, in(spec, 0), activities.Heartbeat{}, none)
			require.ErrorContains(t, err, "film.release_year (year(4))")
			require.ErrorContains(t, err, "which this attempt created, was dropped again")
			require.ErrorContains(t, err, "retryable: false", "still a refusal, not retried")
			exists, err := datastore.DatabaseExists(ctx, engine, dsn)
			require.NoError(t, err)
			require.False(t, exists, "the failed provision left the database it created")

			kept := dbtest.New(t, engine)
			spec = createDBSpec(t, "faileddb", src, engine, kept.DSN)
			_, err = d.Do(ctx, activities.ActionRun, in(spec, 0), activities.Heartbeat{}, none)
			require.Error(t, err)
			require.NotContains(t, err.Error(), "dropped again")
			exists, err = datastore.DatabaseExists(ctx, engine, kept.DSN)
			require.NoError(t, err)
			require.True(t, exists, "a failed provision dropped a database it did not create")
		})
	}
}
