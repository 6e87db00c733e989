package integration

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/migration"
)

// mappedShop is a small shop in snake_case on PostgreSQL, and an empty
// MariaDB to carry it to.
func mappedShop(t *testing.T) (src, dst dbtest.DB) {
	t.Helper()
	src, dst = dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, src.Store,
		`CREATE TABLE customer_account (customer_account_id int PRIMARY KEY, full_name text NOT NULL, legacy_code varchar(8))`,
		`CREATE TABLE order_line (order_line_id bigint PRIMARY KEY,
			customer_account_id int NOT NULL REFERENCES customer_account (customer_account_id),
			unit_price numeric(10,2) NOT NULL, quantity int NOT NULL, legacy_note text)`,
		`CREATE INDEX order_line_customer ON order_line (customer_account_id)`,
		`INSERT INTO customer_account SELECT i, 'Customer ' || i, 'C' || i FROM generate_series(1, 50) i`,
		`INSERT INTO order_line SELECT i, i % 50 + 1, (i % 90) + (i % 100) / 100.0, i % 5, 'note ' || i FROM generate_series(1, 2000) i`)
	return src, dst
}

const mappedPhases = `  - phase: validate
    hook:
      run: {command: ["true"]}
  - phase: provision
    provision: {mapping: shop, deferIndexes: true}
  - phase: copy
    copy: {mapping: shop, batchRows: 300, createIndexes: true}
  - phase: reconcile
    reconcile: {mapping: shop, threshold: 50}
`

const shopMapping = `mappings:
  shop:
    from: legacy
    to: new
    names: PascalCase
    tables:
      customer_account:
        drop: [legacy_code]
      order_line:
        to: SalesLine
        columns: {unit_price: Price}
        drop: [legacy_note]
        add:
          LineTotal: {expr: "unit_price * quantity", type: "decimal(12,2)"}
        where: "quantity > 0"
`

// A mapped migration from PostgreSQL (snake_case) to MariaDB (PascalCase)
// on the dev server: validate, provision, copy and reconcile all through
// one mapping with a names rule, a rename, a drop, a computed column and a
// filter. The run completes and reconcile finds no difference.
func TestMappedMigrationCompletes(t *testing.T) {
	t.Parallel()
	src, dst := mappedShop(t)
	r := newDataRun(t, "it-mapped", src, dst, mappedPhases+shopMapping)
	out, err := godwit(t, "validate", "-f", r.spec)
	require.NoError(t, err, out)
	out, err = godwit(t, "preflight", "-f", r.spec)
	require.NoError(t, err, out)
	r.start()
	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.Contains(t, final.Phases[1].Summary, "created 2 tables in new: CustomerAccount, SalesLine")
	require.Equal(t, int64(50+1600), final.Phases[2].Records, "the filter leaves quantity 0 out")
	require.Contains(t, final.Phases[3].Summary, "0 missing_in_target, 0 extra_in_target, 0 mismatched")

	ctx := context.Background()
	require.Equal(t, []string{"CustomerAccount", "SalesLine"}, tablesOf(t, dst.Store))
	sl, err := dst.Store.Introspect(ctx, "SalesLine")
	require.NoError(t, err)
	require.Equal(t, []string{"OrderLineId", "CustomerAccountId", "Price", "Quantity", "LineTotal"}, sl.ColumnNames())
	require.Equal(t, []string{"OrderLineId"}, sl.PrimaryKey)
	require.Len(t, sl.ForeignKeys, 1)
	require.Equal(t, "CustomerAccount", sl.ForeignKeys[0].RefTable)
	require.Len(t, sl.Indexes, 1, "the secondary index, created after the load")
	require.Equal(t, []string{"CustomerAccountId"}, sl.Indexes[0].Columns)
	var total string
	require.NoError(t, dst.Store.DB.QueryRowContext(ctx, "SELECT CAST(LineTotal AS CHAR) FROM SalesLine WHERE OrderLineId = 7").Scan(&total))
	require.Equal(t, "14.14", total, "7.07 × 2, computed by the source")

	// The same mapping in the CLI's own check.
	out, err = godwit(t, "reconcile", "-f", r.spec)
	require.NoError(t, err, out)
	require.True(t, strings.Contains(out, "order_line→SalesLine"), out)
	recordHistory(t, r.name) // provision, copy and reconcile through a mapping
}

// Preflight checks a mapping against the live schemas and names what does
// not fit: an unknown column (with a suggestion), an expression the source
// cannot compile, a filter over a column that does not exist.
func TestMappedPreflightNamesWhatDoesNotFit(t *testing.T) {
	t.Parallel()
	src, dst := mappedShop(t)
	bad := strings.NewReplacer("{unit_price: Price}", "{unit_prise: Price}").Replace(shopMapping)
	r := newDataRun(t, "it-mapped-typo", src, dst, mappedPhases+bad)
	out, err := godwit(t, "preflight", "-f", r.spec)
	require.Error(t, err, out)
	require.Contains(t, out, `columns.unit_prise: column unit_prise is not in source table order_line (did you mean "unit_price"?)`)

	bad = strings.NewReplacer("unit_price * quantity", "unit_price * qty", `"quantity > 0"`, `"shipped"`).Replace(shopMapping)
	r = newDataRun(t, "it-mapped-expr", src, dst, mappedPhases+bad)
	out, err = godwit(t, "preflight", "-f", r.spec)
	require.Error(t, err, out)
	require.Contains(t, out, `mapping shop table order_line: store legacy cannot compile add.LineTotal (expr "unit_price * qty")`)
	require.Contains(t, out, `store legacy cannot compile where "shipped"`)
	require.Empty(t, tablesOf(t, dst.Store), "preflight created nothing")

	// A cast that may change values is refused unless it says lossy.
	lossy := strings.NewReplacer("drop: [legacy_code]", `cast: {full_name: {type: "varchar(10)"}}`).Replace(shopMapping)
	r = newDataRun(t, "it-mapped-cast", src, dst, mappedPhases+lossy)
	out, err = godwit(t, "preflight", "-f", r.spec)
	require.Error(t, err, out)
	require.Contains(t, out, `mapping shop table customer_account: cast full_name to "varchar(10)" may change values (varchar(10) does not hold every value of text)`)
	lossy = strings.NewReplacer("drop: [legacy_code]", `cast: {full_name: {type: "varchar(10)", lossy: true}}`).Replace(shopMapping)
	r = newDataRun(t, "it-mapped-lossy", src, dst, mappedPhases+lossy)
	out, err = godwit(t, "preflight", "-f", r.spec)
	require.NoError(t, err, out)
}

// A worker killed with SIGKILL in the middle of a mapped copy: another
// worker resumes it from the last heartbeated checkpoint, and the mapped
// reconcile after it finds no row lost, doubled or computed otherwise.
func TestMappedCopyResumesAfterWorkerKilled(t *testing.T) {
	t.Parallel()
	bin := buildWorker(t)
	queue := "it-mapped-crash"
	first, _ := startWorker(t, bin, queue)

	const rows = 40_000
	src, dst := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, src.Store, "CREATE TABLE plain_item (item_id bigint PRIMARY KEY, item_label text NOT NULL)",
		fmt.Sprintf("INSERT INTO plain_item SELECT i, 'label ' || i FROM generate_series(1, %d) i", rows))
	r := newDataRun(t, "it-mapped-crash", src, dst, `  - phase: provision
    provision: {mapping: items}
  - phase: copy
    heartbeatTimeout: 3s
    copy: {mapping: items, batchRows: 500, rowsPerSecond: 5000}
  - phase: reconcile
    reconcile: {mapping: items}
mappings:
  items:
    from: legacy
    to: new
    names: PascalCase
    tables:
      plain_item:
        columns: {item_label: Label}
        add:
          LabelLength: {expr: "length(item_label)", type: "int"}
        where: "item_id % 10 <> 0"
`)
	var out, errOut bytes.Buffer
	res, err := godwitOn(t, queue, &out, &errOut, "start", "-f", r.spec)
	require.NoError(t, err, res)
	r.waitFor("the copy to be a fifth done", func(rep migration.Report) bool {
		return rep.Phases[1].State == migration.PhaseRunning && rep.Phases[1].Progress >= 20
	})
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_, _ = first.Process.Wait()
	before, err := dst.Store.Count(context.Background(), "PlainItem")
	require.NoError(t, err)
	require.Less(t, before, int64(rows*9/10), "killed mid-copy")

	_, logs := startWorker(t, bin, queue)
	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.GreaterOrEqual(t, final.Phases[1].Attempts, 2, "the copy ran a second attempt on the new worker")
	require.Equal(t, int64(rows*9/10), final.Phases[1].Records, "the filter leaves every tenth row out")
	require.Contains(t, final.Phases[2].Summary, "0 missing_in_target, 0 extra_in_target, 0 mismatched")
	resumed := regexp.MustCompile(`"@message":"resuming from checkpoint"[^\n]*"rows_done":(\d+)`).FindStringSubmatch(logs.String())
	require.NotNil(t, resumed, "the second worker resumed from a checkpoint:\n%s", logs.String())
	require.NotEqual(t, "0", resumed[1])
}

// mappedShopOnMariaDB is mappedShop's source on MariaDB.
func mappedShopOnMariaDB(t *testing.T) dbtest.DB {
	t.Helper()
	src := dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, src.Store,
		"CREATE TABLE customer_account (customer_account_id INT PRIMARY KEY, full_name VARCHAR(100) NOT NULL, legacy_code VARCHAR(8))",
		"CREATE TABLE order_line (order_line_id BIGINT PRIMARY KEY, customer_account_id INT NOT NULL, unit_price DECIMAL(10,2) NOT NULL, "+
			"quantity INT NOT NULL, legacy_note TEXT, FOREIGN KEY (customer_account_id) REFERENCES customer_account (customer_account_id))",
		"INSERT INTO customer_account SELECT seq, CONCAT('Customer ', seq), CONCAT('C', seq) FROM seq_1_to_50",
		"INSERT INTO order_line SELECT seq, seq % 50 + 1, (seq % 90) + (seq % 100) / 100.0, seq % 5, CONCAT('note ', seq) FROM seq_1_to_2000")
	return src
}

// The same mapped migration from MariaDB to PostgreSQL and from
// PostgreSQL to SQLite: it completes and reconcile finds no difference.
func TestMappedMigrationOtherEnginePairs(t *testing.T) {
	t.Parallel()
	for _, pair := range []struct{ from, to datastore.Engine }{
		{datastore.MySQL, datastore.Postgres},
		{datastore.Postgres, datastore.SQLite},
	} {
		t.Run(string(pair.from)+" to "+string(pair.to), func(t *testing.T) {
			t.Parallel()
			var src dbtest.DB
			if pair.from == datastore.MySQL {
				src = mappedShopOnMariaDB(t)
			} else {
				src, _ = mappedShop(t)
			}
			dst := dbtest.New(t, pair.to)
			r := newDataRun(t, fmt.Sprintf("it-mapped-%s-%s", pair.from, pair.to), src, dst, mappedPhases+shopMapping)
			out, err := godwit(t, "preflight", "-f", r.spec)
			require.NoError(t, err, out)
			r.start()
			final, err := r.result()
			require.NoError(t, err, "%+v", final)
			require.Equal(t, migration.StatusCompleted, final.Status)
			require.Equal(t, int64(50+1600), final.Phases[2].Records)
			require.Contains(t, final.Phases[3].Summary, "0 missing_in_target, 0 extra_in_target, 0 mismatched")
			require.Equal(t, []string{"CustomerAccount", "SalesLine"}, tablesOf(t, dst.Store))
		})
	}
}

// A mapped migration rolled back at a gate after the copy: the copy's
// compensation empties the target tables under their mapped names, and
// provision's drops them.
func TestMappedMigrationRollsBack(t *testing.T) {
	t.Parallel()
	src, dst := mappedShop(t)
	r := newDataRun(t, "it-mapped-rollback", src, dst, mappedPhases+`  - phase: reconcile
    name: go-live
    approval: {gate: go-live}
    hook:
      run: {command: ["true"]}
`+shopMapping)
	r.start()
	r.waitFor("the go-live gate", waitingAt("go-live"))
	require.Equal(t, []string{"CustomerAccount", "SalesLine"}, tablesOf(t, dst.Store))
	out, err := godwit(t, "rollback", r.name, "--reason", "test")
	require.NoError(t, err, out)
	final, err := r.result()
	require.NoError(t, err, "a requested rollback that undid every phase completes the run")
	require.Equal(t, migration.StatusRolledBack, final.Status)
	require.Equal(t, "emptied CustomerAccount, SalesLine in new", final.Phases[2].Summary)
	require.Equal(t, "dropped 2 tables this migration created in new: CustomerAccount, SalesLine", final.Phases[1].Summary)
	require.Empty(t, tablesOf(t, dst.Store))
}

// TestRetireThroughAMappingTakesItsLegacyTablesOutOfService: as
// TestRetireTakesTheLegacyTablesOutOfService, through a mapping that
// renames the table (plain → Item): the decommission's retire {mapping:}
// renames legacy's plain out of the way (the mapping's source, not its
// target Item), and leaves a table the mapping does not carry alone.
func TestRetireThroughAMappingTakesItsLegacyTablesOutOfService(t *testing.T) {
	t.Parallel()
	src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, src.Store, "CREATE TABLE plain (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL)",
		"CREATE TABLE audit (id INTEGER PRIMARY KEY)")
	seedPlain(t, src, 20)
	r := newDataRun(t, "it-mapped-retire", src, dst, `  - phase: provision
    provision: {mapping: items}
  - phase: copy
    copy: {mapping: items}
  - phase: decommission
    retire: {mapping: items}
mappings:
  items:
    from: legacy
    to: new
    tables:
      plain: {to: Item, columns: {label: Title}}
`)
	r.start()
	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.Equal(t, "renamed plain to plain_retired in legacy (rename them back to undo)", final.Phases[2].Summary)
	ctx := context.Background()
	names, err := src.Store.ListTables(ctx)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"audit", "plain_retired"}, names, "the mapped legacy table is out of the way, the other one is not")
	names, err = dst.Store.ListTables(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"Item"}, names, "new keeps the mapped table")
	n, err := dst.Store.Count(ctx, "Item")
	require.NoError(t, err)
	require.EqualValues(t, 20, n)
}

// One preflight names every problem of a mapping: a misspelt column in one
// table no longer hides the other tables' problems (a trial fixed
// unit_prise, ran preflight again and only then learnt of a lossy cast in
// another table).
func TestMappedPreflightGoesOnPastAMisspeltColumn(t *testing.T) {
	t.Parallel()
	src, dst := mappedShop(t)
	bad := strings.NewReplacer("{unit_price: Price}", "{unit_prise: Price}",
		"drop: [legacy_code]", `cast: {full_name: {type: "varchar(10)"}}`).Replace(shopMapping)
	r := newDataRun(t, "it-mapped-typo-and-cast", src, dst, mappedPhases+bad)
	out, err := godwit(t, "preflight", "-f", r.spec)
	require.Error(t, err, out)
	require.Contains(t, out, `columns.unit_prise: column unit_prise is not in source table order_line (did you mean "unit_price"?)`)
	require.Contains(t, out, `mapping shop table customer_account: cast full_name to "varchar(10)" may change values`)
	require.Empty(t, tablesOf(t, dst.Store), "preflight created nothing")
}
