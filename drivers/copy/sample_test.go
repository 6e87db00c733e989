package copy_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	copydriver "github.com/godwit/godwit/drivers/copy"
	"github.com/godwit/godwit/drivers/provision"
	"github.com/godwit/godwit/reconcile"
)

// TestSampleShopMigratesWithItsForeignKeysAndAnswers moves a small shop
// database — a self-referencing and a composite foreign key, cascading
// actions, numeric(10,2) totals, timestamps with and without a fraction,
// accented text — with tables: ["*"] through provision and copy, as a new
// user's first spec would, and checks that the target has every foreign
// key, that the phase summaries say so, that the item-5 queries (WHERE
// with literals, MIN, MAX, ORDER BY, COUNT, SUM) answer the same on both
// sides, that a retried copy does not trip over its own constraints, and
// that the rollback drops everything.
func TestSampleShopMigratesWithItsForeignKeysAndAnswers(t *testing.T) {
	pairs := [][2]datastore.Engine{
		{datastore.Postgres, datastore.MySQL},
		{datastore.Postgres, datastore.SQLite},
		{datastore.MySQL, datastore.SQLite},
		{datastore.Postgres, datastore.Postgres},
	}
	for _, p := range pairs {
		t.Run(fmt.Sprintf("%s to %s", p[0], p[1]), func(t *testing.T) {
			src, dst := dbtest.New(t, p[0]), dbtest.New(t, p[1])
			dbtest.Exec(t, src.Store, dbtest.SampleDDL(p[0])...)
			dbtest.Exec(t, src.Store, dbtest.SampleData()...)
			ctx := context.Background()
			var srcTables []*datastore.Table
			for _, n := range dbtest.SampleTables {
				tb, err := src.Store.Introspect(ctx, n)
				require.NoError(t, err)
				srcTables = append(srcTables, tb)
			}
			require.Equal(t, dbtest.SampleForeignKeys(p[0]), dbtest.DescribeForeignKeys(srcTables...), "the source's foreign keys, introspected")

			spec := sampleSpec(t, "shop-"+string(p[0])+"-"+string(p[1]), src, dst, "")
			prov, cp := provision.New(logger()), copydriver.New(logger())
			assert.Empty(t, prov.Preflight(ctx, spec, spec.Phases[0]))
			res, err := prov.Do(ctx, activities.ActionRun, input(spec, 0), activities.Heartbeat{}, func(activities.Heartbeat) {})
			require.NoError(t, err)
			if p[1] == datastore.SQLite {
				assert.Contains(t, res.Summary, "4 foreign keys carried", "SQLite declares them in CREATE TABLE")
			} else {
				assert.Contains(t, res.Summary, "4 foreign keys left for after the copy")
			}
			for attempt := 1; attempt <= 2; attempt++ { // the second is a retried activity
				if attempt == 2 {
					// New rows in a parent and its children: the repeated copy
					// writes parents first (order_lines sorts before orders),
					// or the constraints now on the target refuse the children.
					dbtest.Exec(t, src.Store, "INSERT INTO customers (id, name, city, referred_by) VALUES (41, 'Noël', 'Genève', 40)",
						"INSERT INTO orders (id, customer_id, total, placed_at) VALUES (301, 41, 77.70, '2024-06-30 23:59:59')",
						"INSERT INTO order_lines (order_id, line, sku, variant, qty) VALUES (301, 1, 'SKU-01', 1, 3)")
				}
				res, err = cp.Do(ctx, activities.ActionRun, input(spec, 1), activities.Heartbeat{}, func(activities.Heartbeat) {})
				require.NoError(t, err, "copy attempt %d", attempt)
				assert.Contains(t, res.Summary, "4 foreign keys carried", "attempt %d", attempt)
				assert.NotContains(t, res.Summary, "NOT carried", "attempt %d", attempt)
			}
			var dstTables []*datastore.Table
			for _, n := range dbtest.SampleTables {
				tb, err := dst.Store.Introspect(ctx, n)
				require.NoError(t, err)
				dstTables = append(dstTables, tb)
				dbtest.AssertSameRows(t, src.Store, dst.Store, n)
			}
			assert.Equal(t, dbtest.SampleForeignKeys(p[0], p[1]), dbtest.DescribeForeignKeys(dstTables...), "the target's foreign keys")
			assert.Equal(t, dbtest.Answers(t, src.Store, dbtest.SampleQueries), dbtest.Answers(t, dst.Store, dbtest.SampleQueries))
			var pairs []reconcile.TablePair
			for _, n := range dbtest.SampleTables {
				pairs = append(pairs, reconcile.TablePair{Source: n, Target: n})
			}
			rep, err := reconcile.Run(ctx, reconcile.Options{Source: src.Store, Target: dst.Store, Tables: pairs, Threshold: 16}, reconcile.Checkpoint{})
			require.NoError(t, err)
			assert.True(t, rep.Complete())
			assert.Zero(t, rep.Differing(), "reconcile finds the copy equal: %s", rep.Summary())

			for range 2 {
				_, err = cp.Do(ctx, activities.ActionCompensate, input(spec, 1), activities.Heartbeat{}, func(activities.Heartbeat) {})
				require.NoError(t, err)
				_, err = prov.Do(ctx, activities.ActionCompensate, input(spec, 0), activities.Heartbeat{}, func(activities.Heartbeat) {})
				require.NoError(t, err)
			}
			left, err := dst.Store.ListTables(ctx)
			require.NoError(t, err)
			assert.Empty(t, left, "the rollback drops every table it created, foreign keys and all")
		})
	}
}

func sampleSpec(t *testing.T, name string, src, dst dbtest.DB, copyExtra string) *config.Spec {
	t.Helper()
	dir := t.TempDir()
	file := func(n, dsn string) string {
		p := filepath.Join(dir, n)
		require.NoError(t, os.WriteFile(p, []byte(dsn+"\n"), 0o600))
		return p
	}
	text := fmt.Sprintf(`name: %s
stores:
  legacy: {engine: %s, dsn: {fromFile: %s}}
  new: {engine: %s, dsn: {fromFile: %s}}
phases:
  - phase: provision
    provision: {from: legacy, to: new, tables: ["*"]}
  - phase: copy
    copy: {from: legacy, to: new, tables: ["*"], batchRows: 50%s}
`, name, src.Store.Engine, file("legacy", src.DSN), dst.Store.Engine, file("new", dst.DSN), copyExtra)
	if copyExtra == "alone" {
		text = text[:strings.Index(text, "  - phase: copy")]
	}
	spec, err := config.ParseSpec([]byte(text))
	require.NoError(t, err, text)
	return spec
}

// TestForeignKeysWhenNoCopyFollowsOrItFansOut: with no copy phase after
// it, provision creates the foreign keys itself; before a copy, also one
// that fans out (it creates them once its units have finished), it leaves
// them to the copy.
func TestForeignKeysWhenNoCopyFollowsOrItFansOut(t *testing.T) {
	ctx := context.Background()
	src := dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store, dbtest.SampleDDL(datastore.Postgres)...)
	for _, target := range []datastore.Engine{datastore.MySQL, datastore.Postgres} {
		t.Run("provision alone into "+string(target), func(t *testing.T) {
			dst := dbtest.New(t, target)
			spec := sampleSpec(t, "shop-alone-"+string(target), src, dst, "alone")
			res, err := provision.New(logger()).Do(ctx, activities.ActionRun, input(spec, 0), activities.Heartbeat{}, func(activities.Heartbeat) {})
			require.NoError(t, err)
			assert.Contains(t, res.Summary, "4 foreign keys carried")
			var tables []*datastore.Table
			for _, n := range dbtest.SampleTables {
				tb, err := dst.Store.Introspect(ctx, n)
				require.NoError(t, err)
				tables = append(tables, tb)
			}
			assert.Equal(t, dbtest.SampleForeignKeys(target), dbtest.DescribeForeignKeys(tables...))
		})
	}
	t.Run("before a copy with fanOut", func(t *testing.T) {
		dst := dbtest.New(t, datastore.MySQL)
		spec := sampleSpec(t, "shop-fan", src, dst, ", fanOut: 2")
		res, err := provision.New(logger()).Do(ctx, activities.ActionRun, input(spec, 0), activities.Heartbeat{}, func(activities.Heartbeat) {})
		require.NoError(t, err)
		assert.Contains(t, res.Summary, "4 foreign keys left for after the copy")
		assert.NotContains(t, res.Summary, "NOT carried")
	})
}
