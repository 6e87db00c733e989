package datastore_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// deferrableSource is a PostgreSQL source whose keys are checked at
// commit (a), when a transaction asks (b), and at each statement (c).
func deferrableSource(t *testing.T) []*datastore.Table {
	t.Helper()
	src := dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store,
		`CREATE TABLE parent (id int PRIMARY KEY)`,
		`CREATE TABLE child (id int PRIMARY KEY,
			a int CONSTRAINT child_a_fkey REFERENCES parent DEFERRABLE INITIALLY DEFERRED,
			b int CONSTRAINT child_b_fkey REFERENCES parent ON DELETE CASCADE DEFERRABLE,
			c int CONSTRAINT child_c_fkey REFERENCES parent)`)
	var tables []*datastore.Table
	for _, n := range []string{"parent", "child"} {
		tb, err := src.Store.Introspect(context.Background(), n)
		require.NoError(t, err)
		tables = append(tables, tb)
	}
	return tables
}

// A key the source checks at commit is read as such and carried as such:
// an application that writes a child before its parent in one
// transaction, as the source lets it, can on the target too. Before, every
// key was created NOT DEFERRABLE, and that transaction failed on the new
// database after the cut-over.
func TestDeferrableForeignKeysAreCarriedAsTheSourceChecksThem(t *testing.T) {
	tables := deferrableSource(t)
	assert.Equal(t, []string{
		"child(a) → parent(id) ON DELETE NO ACTION ON UPDATE NO ACTION DEFERRABLE INITIALLY DEFERRED",
		"child(b) → parent(id) ON DELETE CASCADE ON UPDATE NO ACTION DEFERRABLE INITIALLY IMMEDIATE",
		"child(c) → parent(id) ON DELETE NO ACTION ON UPDATE NO ACTION",
	}, dbtest.DescribeForeignKeys(tables...))

	for _, to := range dbtest.Engines {
		t.Run("postgres to "+string(to), func(t *testing.T) {
			ctx := context.Background()
			dst := dbtest.New(t, to).Store
			res, err := datastore.Provision(ctx, dst, tables, datastore.ProvisionOptions{Owner: "m1"})
			require.NoError(t, err)
			fks, err := datastore.CreateForeignKeys(ctx, dst, tables)
			require.NoError(t, err)
			switch to {
			case datastore.Postgres:
				require.Len(t, fks.Carried, 3, fks.Summary())
				got, err := dst.Introspect(ctx, "child")
				require.NoError(t, err)
				assert.Equal(t, dbtest.DescribeForeignKeys(tables[1]), dbtest.DescribeForeignKeys(got))
				// The application's transaction: the child first.
				tx, err := dst.DB.BeginTx(ctx, nil)
				require.NoError(t, err)
				_, err = tx.ExecContext(ctx, `INSERT INTO child (id, a) VALUES (1, 7)`)
				require.NoError(t, err, "a key checked at commit lets the child come first")
				_, err = tx.ExecContext(ctx, `INSERT INTO parent VALUES (7)`)
				require.NoError(t, err)
				require.NoError(t, tx.Commit())
				_, err = dst.DB.ExecContext(ctx, `INSERT INTO child (id, c) VALUES (2, 8)`)
				assert.Error(t, err, "a key the source checks at each statement still is")
			case datastore.SQLite:
				require.Len(t, res.ForeignKeys.Carried, 3, res.ForeignKeys.Summary())
				var ddl string
				require.NoError(t, dst.DB.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE name = 'child'`).Scan(&ddl))
				assert.Contains(t, ddl, "REFERENCES \"parent\" (\"id\") DEFERRABLE INITIALLY DEFERRED")
				assert.Contains(t, ddl, "ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE")
			case datastore.MySQL:
				require.Len(t, fks.Carried, 3, fks.Summary())
				require.Len(t, fks.Changed, 2, fks.Summary())
				assert.Contains(t, strings.Join(fks.Changed, "\n"), "child.child_a_fkey: DEFERRABLE INITIALLY DEFERRED on the source: checked at each statement here (MySQL/MariaDB have no deferred constraints)")
			}
		})
	}
}

// Change capture writes a batch table by table; two new rows that
// reference each other (a new store and its new manager, who works in
// it) meet a key before the row it needs. A deferrable key waits for the
// batch's commit, as it waited for the source's: the batch is applied.
func TestABatchOfRowsThatReferenceEachOtherIsAppliedUnderDeferrableKeys(t *testing.T) {
	ctx := context.Background()
	dst := dbtest.New(t, datastore.Postgres).Store
	dbtest.Exec(t, dst,
		`CREATE TABLE store (id int PRIMARY KEY, manager int)`,
		`CREATE TABLE staff (id int PRIMARY KEY, store int NOT NULL REFERENCES store DEFERRABLE)`,
		`ALTER TABLE store ADD FOREIGN KEY (manager) REFERENCES staff DEFERRABLE`)
	store, err := dst.Introspect(ctx, "store")
	require.NoError(t, err)
	staff, err := dst.Introspect(ctx, "staff")
	require.NoError(t, err)
	err = dst.Apply(ctx, []datastore.TableMutations{
		{Table: store, Mutations: []datastore.Mutation{{Row: []any{int64(1), int64(10)}}}},
		{Table: staff, Mutations: []datastore.Mutation{{Row: []any{int64(10), int64(1)}}}},
	})
	require.NoError(t, err)
	var manager sql.NullInt64
	require.NoError(t, dst.DB.QueryRowContext(ctx, `SELECT manager FROM store WHERE id = 1`).Scan(&manager))
	assert.Equal(t, int64(10), manager.Int64)

	// A batch the keys refuse at commit is refused, whole.
	err = dst.Apply(ctx, []datastore.TableMutations{
		{Table: store, Mutations: []datastore.Mutation{{Row: []any{int64(2), int64(99)}}}},
	})
	require.Error(t, err)
	assert.True(t, datastore.IsForeignKeyViolation(err), "the change capture's growing read needs to know it: %v", err)
	var n int
	require.NoError(t, dst.DB.QueryRowContext(ctx, `SELECT count(*) FROM store`).Scan(&n))
	assert.Equal(t, 1, n)
}

// Keys that close a cycle (store ↔ staff, as in Sakila; the source's are
// NOT DEFERRABLE) are created deferrable on a PostgreSQL target, and say
// so: change capture can then write a new store and its new manager in
// one batch. A key outside the cycle stays as the source has it; so do
// the keys on MySQL/MariaDB, which cannot defer.
func TestKeysOfACycleAreDeferrableOnAPostgresTarget(t *testing.T) {
	src := dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, src.Store,
		`CREATE TABLE store (id int PRIMARY KEY, manager int)`,
		`CREATE TABLE staff (id int PRIMARY KEY, store int NOT NULL, CONSTRAINT staff_store_fk FOREIGN KEY (store) REFERENCES store (id))`,
		`ALTER TABLE store ADD CONSTRAINT store_manager_fk FOREIGN KEY (manager) REFERENCES staff (id)`,
		`CREATE TABLE customer (id int PRIMARY KEY, store int, CONSTRAINT customer_store_fk FOREIGN KEY (store) REFERENCES store (id))`)
	var tables []*datastore.Table
	for _, n := range []string{"customer", "staff", "store"} {
		tb, err := src.Store.Introspect(context.Background(), n)
		require.NoError(t, err)
		tables = append(tables, tb)
	}
	for _, to := range []datastore.Engine{datastore.Postgres, datastore.MySQL} {
		t.Run("mariadb to "+string(to), func(t *testing.T) {
			ctx := context.Background()
			dst := dbtest.New(t, to).Store
			_, err := datastore.Provision(ctx, dst, tables, datastore.ProvisionOptions{Owner: "m1"})
			require.NoError(t, err)
			for attempt := 1; attempt <= 2; attempt++ { // a retry finds them there
				fks, err := datastore.CreateForeignKeys(ctx, dst, tables)
				require.NoError(t, err)
				require.Len(t, fks.Carried, 3, fks.Summary())
				var got []*datastore.Table
				for _, n := range []string{"customer", "staff", "store"} {
					tb, err := dst.Introspect(ctx, n)
					require.NoError(t, err)
					got = append(got, tb)
				}
				if to == datastore.MySQL {
					assert.Empty(t, fks.Changed)
					assert.Equal(t, dbtest.DescribeForeignKeys(tables...), dbtest.DescribeForeignKeys(got...))
					continue
				}
				assert.Equal(t, []string{
					"customer(store) → store(id) ON DELETE NO ACTION ON UPDATE NO ACTION",
					"staff(store) → store(id) ON DELETE NO ACTION ON UPDATE NO ACTION DEFERRABLE INITIALLY IMMEDIATE",
					"store(manager) → staff(id) ON DELETE NO ACTION ON UPDATE NO ACTION DEFERRABLE INITIALLY IMMEDIATE",
				}, dbtest.DescribeForeignKeys(got...))
				if attempt == 2 {
					continue // a retry finds them there, as they were made
				}
				assert.Equal(t, []string{
					"staff.staff_store_fk: DEFERRABLE INITIALLY IMMEDIATE here, NOT DEFERRABLE on the source: it closes a cycle of keys (staff → store → staff), " +
						"and change capture writes rows that reference each other across it (a new row of each) in one batch, checked at its commit; " +
						"a transaction that does not defer it sees no difference",
					"store.store_manager_fk: DEFERRABLE INITIALLY IMMEDIATE here, NOT DEFERRABLE on the source: it closes a cycle of keys (store → staff → store), " +
						"and change capture writes rows that reference each other across it (a new row of each) in one batch, checked at its commit; " +
						"a transaction that does not defer it sees no difference",
				}, fks.Changed)
			}
		})
	}
}
