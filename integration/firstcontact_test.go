package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// firstContactPhases is the spec a new user writes from the docs:
// validate → provision → copy → reconcile of every table ("*") into an
// empty target.
func firstContactPhases(provisionExtra string) string {
	return `  - phase: validate
    hook: {run: {command: ["true"]}}
  - phase: provision
    provision: {from: legacy, to: new, tables: ["*"]` + provisionExtra + `}
  - phase: copy
    copy: {from: legacy, to: new, tables: ["*"]}
  - phase: reconcile
    reconcile: {from: legacy, to: new, tables: ["*"]}
`
}

// seedFirstContact is a source of three tables, with accents, decimals
// and timestamps, in the engine's own DDL.
func seedFirstContact(t *testing.T, db dbtest.DB) {
	t.Helper()
	money, text, ts := "NUMERIC(10,2)", "TEXT", "TIMESTAMP"
	if db.Store.Engine == datastore.MySQL {
		money, text, ts = "DECIMAL(10,2)", "VARCHAR(200)", "DATETIME"
	}
	dbtest.Exec(t, db.Store,
		"CREATE TABLE customers (id INTEGER PRIMARY KEY, name "+text+" NOT NULL)",
		"CREATE TABLE products (id INTEGER PRIMARY KEY, title "+text+" NOT NULL, price "+money+" NOT NULL)",
		"CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, product_id INTEGER NOT NULL, placed "+ts+" NOT NULL,"+
			" FOREIGN KEY (customer_id) REFERENCES customers (id), FOREIGN KEY (product_id) REFERENCES products (id))",
		"INSERT INTO customers VALUES (1, 'Zoë Ångström'), (2, 'José'), (3, 'Ada')",
		"INSERT INTO products VALUES (1, 'Crème brûlée', 7.50), (2, 'Tea', 2.05)",
		"INSERT INTO orders VALUES (10, 1, 1, '2024-03-01 10:00:00'), (11, 2, 2, '2024-03-02 11:30:00'), (12, 3, 1, '2024-03-03 12:45:00'), (13, 1, 2, '2024-03-04 08:15:00')",
	)
}

// missingDatabase is a DSN of engine naming a database that does not exist
// yet, dropped at the end of the test if something created it.
func missingDatabase(t *testing.T, engine datastore.Engine) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "godwit_it_new_" + hex.EncodeToString(b)
	var dsn string
	switch engine {
	case datastore.SQLite:
		return filepath.Join(t.TempDir(), name+".db")
	case datastore.MySQL:
		dsn = envOr("GODWIT_TEST_MYSQL", "root@tcp(127.0.0.1:3306)/") + name
	case datastore.Postgres:
		u, err := url.Parse(envOr("GODWIT_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"))
		require.NoError(t, err)
		u.Path = "/" + name
		dsn = u.String()
	}
	t.Cleanup(func() {
		// Created by a run of this test (under its name): it goes.
		if owner, err := datastore.DatabaseCreator(context.Background(), engine, dsn); err == nil && strings.HasPrefix(owner, "it-first-contact-") {
			_, _ = datastore.DropCreatedDatabase(context.Background(), engine, dsn, owner)
		}
	})
	return dsn
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// TestFirstSpecRunsAsWritten: `godwit start --wait` of validate →
// provision → copy → reconcile with tables: ["*"] into an empty target
// exits 0 on each of the six engine pairs: the preflight in validate
// counts the tables provision creates as present for the copy and the
// reconcile after it. Into SQLite and MariaDB the target database does
// not even exist yet: provision creates it (createDatabase: true), and
// the preflight before it neither fails on it nor creates it.
func TestFirstSpecRunsAsWritten(t *testing.T) {
	t.Parallel()
	for _, pair := range []struct {
		from, to datastore.Engine
		create   bool
	}{
		{datastore.Postgres, datastore.MySQL, true},
		{datastore.Postgres, datastore.SQLite, true},
		{datastore.MySQL, datastore.Postgres, false},
		{datastore.MySQL, datastore.SQLite, true},
		{datastore.SQLite, datastore.Postgres, false},
		{datastore.SQLite, datastore.MySQL, true},
	} {
		t.Run(string(pair.from)+" to "+string(pair.to), func(t *testing.T) {
			t.Parallel()
			src := dbtest.New(t, pair.from)
			seedFirstContact(t, src)
			var dst dbtest.DB
			extra := ""
			if pair.create {
				dst.DSN, extra = missingDatabase(t, pair.to), ", createDatabase: true"
			} else {
				dst = dbtest.New(t, pair.to)
			}
			name := fmt.Sprintf("it-first-%s-%s", pair.from, pair.to)
			if pair.create {
				name = fmt.Sprintf("it-first-contact-%s-%s", pair.from, pair.to)
			}
			r := newDataRunDSN(t, name, src, pair.to, dst.DSN, firstContactPhases(extra))

			out, err := godwit(t, "preflight", "-f", r.spec)
			require.NoError(t, err, out)
			if pair.to == datastore.SQLite {
				_, err := os.Stat(dst.DSN)
				require.True(t, errors.Is(err, os.ErrNotExist), "preflight created the SQLite file %s", dst.DSN)
			}

			out, err = godwit(t, "start", "-f", r.spec, "--wait")
			require.NoError(t, err, "godwit start --wait exits 0:\n%s", out)
			final := r.status()
			require.Equal(t, "COMPLETED", string(final.Status), out)
			require.Equal(t, int64(9), final.Phases[2].Records, "rows copied")
			require.Equal(t, int64(9), final.Metrics.RecordsCopied, "metrics.recordsCopied counts the rows copied, nothing else")
			require.Regexp(t, `^3 tables, 9 source rows: 0 \S+, 0 \S+, 0 \S+ `, final.Phases[3].Summary, "reconcile found no difference")

			target, err := datastore.Open(context.Background(), pair.to, dst.DSN)
			require.NoError(t, err)
			defer target.Close()
			for _, table := range []string{"customers", "orders", "products"} {
				dbtest.AssertSameRows(t, src.Store, target, table)
			}
			orders, err := target.Introspect(context.Background(), "orders")
			require.NoError(t, err)
			var refs []string
			for _, fk := range orders.ForeignKeys {
				refs = append(refs, fmt.Sprintf("%v→%s%v", fk.Columns, fk.RefTable, fk.RefColumns))
			}
			sort.Strings(refs)
			require.Equal(t, []string{"[customer_id]→customers[id]", "[product_id]→products[id]"}, refs, "the foreign keys are on the target")
		})
	}
}

// newDataRunDSN is newDataRun for a target given by engine and DSN (a
// database that may not exist yet).
func newDataRunDSN(t *testing.T, name string, src dbtest.DB, engine datastore.Engine, dsn, phases string) *dataRun {
	t.Helper()
	return newDataRun(t, name, src, dbtest.DB{DSN: dsn, Store: &datastore.Store{Engine: engine}}, phases)
}

// TestRollbackDropsTheDatabaseProvisionCreated: a rollback after the copy
// drops the target database that provision created (createDatabase), and
// the run ends ROLLED_BACK.
func TestRollbackDropsTheDatabaseProvisionCreated(t *testing.T) {
	t.Parallel()
	src := dbtest.New(t, datastore.Postgres)
	seedFirstContact(t, src)
	dsn := missingDatabase(t, datastore.MySQL)
	r := newDataRunDSN(t, "it-first-contact-mysql-rollback", src, datastore.MySQL, dsn, firstContactPhases(", createDatabase: true")+`  - phase: reconcile
    name: go-live
    approval: {gate: go-live}
    hook: {run: {command: ["true"]}}
`)
	r.start()
	r.waitFor("the go-live gate", waitingAt("go-live"))
	exists, err := datastore.DatabaseExists(context.Background(), datastore.MySQL, dsn)
	require.NoError(t, err)
	require.True(t, exists, "provision created the database")
	out, err := godwit(t, "rollback", r.name, "--reason", "test")
	require.NoError(t, err, out)
	final, err := r.result()
	require.NoError(t, err, "a requested rollback that undid every phase completes the run")
	require.Equal(t, "ROLLED_BACK", string(final.Status))
	name := datastore.DatabaseName(datastore.MySQL, dsn)
	require.Equal(t, "dropped database "+name+" of store new, which this migration created (with its 3 tables)", final.Phases[1].Summary)
	exists, err = datastore.DatabaseExists(context.Background(), datastore.MySQL, dsn)
	require.NoError(t, err)
	require.False(t, exists, "the rollback dropped the database it created")
}
