package expand_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/drivers/backfill"
	"github.com/godwit/godwit/drivers/contract"
	"github.com/godwit/godwit/drivers/expand"
	"github.com/godwit/godwit/specfiles"
)

// partitionedPayment makes Pagila's payment shape on PostgreSQL: a table
// partitioned by range of paid_at, three partitions with rows in each, and
// returns the spec of an expand (amount_cents, dual-written both ways), a
// backfill and a contract (drop amount) on it.
func partitionedPayment(t *testing.T) (dbtest.DB, *config.Spec) {
	t.Helper()
	db := dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, db.Store,
		`CREATE TABLE payment (payment_id integer NOT NULL, paid_at timestamptz NOT NULL, amount numeric(5,2) NOT NULL, PRIMARY KEY (paid_at, payment_id)) PARTITION BY RANGE (paid_at)`,
		`CREATE TABLE payment_p2022_01 PARTITION OF payment FOR VALUES FROM ('2022-01-01') TO ('2022-02-01')`,
		`CREATE TABLE payment_p2022_02 PARTITION OF payment FOR VALUES FROM ('2022-02-01') TO ('2022-03-01')`,
		`CREATE TABLE payment_p2022_03 PARTITION OF payment FOR VALUES FROM ('2022-03-01') TO ('2022-04-01')`,
		`INSERT INTO payment VALUES (1, '2022-01-05', 1.99), (2, '2022-01-06', 2.99), (3, '2022-02-05', 3.99), (4, '2022-03-05', 4.99)`)
	dir := t.TempDir()
	t.Setenv(specfiles.DirEnv, dir)
	for name, text := range map[string]string{
		"app.dsn":         db.DSN,
		"expand.sql":      "ALTER TABLE payment ADD COLUMN amount_cents integer;",
		"expand.down.sql": "ALTER TABLE payment DROP COLUMN amount_cents;",
		"contract.sql":    "ALTER TABLE payment DROP COLUMN amount;",
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600))
	}
	spec, err := config.ParseSpec([]byte(fmt.Sprintf(`name: payment-cents
stores:
  app: {engine: postgres, dsn: {fromFile: %s}}
phases:
  - phase: provision
    name: expand
    expand:
      store: app
      sql: {fromFile: expand.sql}
      rollback: {fromFile: expand.down.sql}
      dualWrite:
        payment: {amount_cents: "round(amount * 100)::integer", amount: {from: "amount_cents / 100.0"}}
  - phase: copy
    name: backfill
    backfill: {store: app, table: payment, set: {amount_cents: "round(amount * 100)::integer"}, where: "amount_cents IS NULL", batchRows: 2}
  - phase: decommission
    name: contract
    approval: {gate: contract}
    contract: {store: app, sql: {fromFile: contract.sql}}
`, filepath.Join(dir, "app.dsn"))))
	require.NoError(t, err)
	return db, spec
}

// An expand → backfill → contract on a partitioned table: the one trigger
// on the parent (which PostgreSQL clones onto each partition) dual-writes
// rows written through the parent and through a partition, is the only
// one listed as the migration's, and the contract removes it.
func TestPartitionedTableExpandBackfillContract(t *testing.T) {
	ctx := context.Background()
	log := hclog.NewNullLogger()
	db, spec := partitionedPayment(t)
	e, b, c := expand.New(log), backfill.New(log), contract.New(log)
	for i, d := range []activities.Driver{e, b, c} {
		require.Empty(t, d.Preflight(ctx, spec, spec.Phases[i]), "preflight of %s", spec.Phases[i].Name)
	}
	run(t, e, activities.ActionRun, spec, 0)
	// Old code through a partition, new code through the parent.
	dbtest.Exec(t, db.Store, `INSERT INTO payment_p2022_02 (payment_id, paid_at, amount) VALUES (5, '2022-02-07', 5.99)`,
		`INSERT INTO payment (payment_id, paid_at, amount_cents) VALUES (6, '2022-03-07', 699)`)

	scan := expand.FindLeftovers(ctx, spec)
	require.Empty(t, scan.Problems)
	require.Len(t, scan.Found, 1, "listed as the migration's triggers: %+v (a partition's clone of the parent's trigger is not one of its own)", scan.Found)
	require.Equal(t, "payment", scan.Found[0].Table)
	require.True(t, scan.Found[0].Ours)

	res := run(t, b, activities.ActionRun, spec, 1)
	require.Contains(t, res.Summary, "6 rows walked, 4 updated")
	var wrong int
	require.NoError(t, db.Store.DB.QueryRow(`SELECT count(*) FROM payment WHERE amount_cents IS DISTINCT FROM round(amount * 100)::integer`).Scan(&wrong))
	require.Zero(t, wrong, "rows whose amount_cents is not amount in cents")

	run(t, c, activities.ActionRun, spec, 2)
	for _, table := range []string{"payment", "payment_p2022_01"} {
		tb, err := db.Store.Introspect(ctx, table)
		require.NoError(t, err)
		require.Equal(t, []string{"payment_id", "paid_at", "amount_cents"}, tb.ColumnNames(), table)
	}
	require.Empty(t, expand.FindLeftovers(ctx, spec).Found, "triggers left after the contract")
}

// The expand's rollback on a partitioned table removes its trigger (and
// the partitions' clones with it) and the column.
func TestPartitionedTableExpandRollsBack(t *testing.T) {
	ctx := context.Background()
	db, spec := partitionedPayment(t)
	e := expand.New(hclog.NewNullLogger())
	run(t, e, activities.ActionRun, spec, 0)
	res := run(t, e, activities.ActionCompensate, spec, 0)
	require.Contains(t, res.Summary, "removed dual-write triggers")
	tb, err := db.Store.Introspect(ctx, "payment_p2022_03")
	require.NoError(t, err)
	require.Equal(t, []string{"payment_id", "paid_at", "amount"}, tb.ColumnNames())
	var left int
	require.NoError(t, db.Store.DB.QueryRow(`SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'godwit%'`).Scan(&left))
	require.Zero(t, left, "triggers left after the rollback, clones included")
}

// Cleanup of an ended run's trigger on a partitioned table whose
// partitions sort before it (p2022_04 < payment) drops the parent's
// trigger: dropping a partition's clone first failed with "cannot drop
// trigger … because trigger … on table payment requires it".
func TestCleanupOfAPartitionedTablesTrigger(t *testing.T) {
	ctx := context.Background()
	db, spec := partitionedPayment(t)
	dbtest.Exec(t, db.Store, `CREATE TABLE p2022_04 PARTITION OF payment FOR VALUES FROM ('2022-04-01') TO ('2022-05-01')`,
		`INSERT INTO payment VALUES (7, '2022-04-05', 7.99)`)
	run(t, expand.New(hclog.NewNullLogger()), activities.ActionRun, spec, 0)
	scan := expand.FindLeftovers(ctx, spec)
	removed, err := expand.Cleanup(ctx, spec, scan.Found)
	require.NoError(t, err)
	require.Equal(t, map[string][]string{"app": {datastore.DualWriteTaggedPrefix + datastore.DualWriteTag(spec.Name) + "_payment"}}, removed)
	var left int
	require.NoError(t, db.Store.DB.QueryRow(`SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'godwit%'`).Scan(&left))
	require.Zero(t, left, "triggers left after cleanup, clones included")
}
