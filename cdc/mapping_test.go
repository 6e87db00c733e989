package cdc

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/godwit/godwit/cdc/cdctest"
	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/mapping"
	"github.com/godwit/godwit/mapping/mappingtest"
	"github.com/godwit/godwit/reconcile"
)

// The steps of the mapped writer: rows 1..300 start with quantity i % 6,
// so multiples of 6 are outside the filter.
const (
	movedOut = 7  // quantity 1 → 0: leaves the filter, deleted on the target
	movedIn  = 12 // quantity 0 → 4: enters the filter, inserted on the target
)

func mappedWrite(ctx context.Context, s *datastore.Store, i int) error {
	ph := s.Placeholder
	var q string
	var args []any
	switch i % 6 {
	case 0: // an insert, in or out of the filter
		q, args = "INSERT INTO order_line VALUES ("+ph(1)+", 1.25, "+ph(2)+", 'new', "+ph(3)+")", []any{1000 + i, i % 4, "2026-02-01 10:00:00"}
	case 1: // a price change: Price and LineTotal follow
		q, args = "UPDATE order_line SET unit_price = unit_price + 1 WHERE order_line_id = "+ph(1), []any{i%300 + 1}
	case 2: // a delete
		q, args = "DELETE FROM order_line WHERE order_line_id = "+ph(1), []any{(i*7)%300 + 1}
	case 3: // a dropped column only: nothing the target holds changes
		q, args = "UPDATE order_line SET legacy_note = 'seen' WHERE order_line_id = "+ph(1), []any{i%300 + 1}
	case 4: // a quantity change, which may move the row across the filter
		q, args = "UPDATE order_line SET quantity = (quantity + 1) % 3 WHERE order_line_id = "+ph(1), []any{(i*5)%300 + 1}
	case 5: // a key change
		q, args = "UPDATE order_line SET order_line_id = "+ph(1)+" WHERE order_line_id = "+ph(2), []any{5000 + i, (i*11)%300 + 1}
	}
	if _, err := s.DB.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("writer step %d: %s: %w", i, q, err)
	}
	return nil
}

// orderLineDDL is the source table on each engine.
var orderLineDDL = map[datastore.Engine]string{
	datastore.Postgres: "CREATE TABLE order_line (order_line_id bigint PRIMARY KEY, unit_price numeric(10,2), quantity int NOT NULL, legacy_note text, created_at timestamp NOT NULL)",
	datastore.MySQL:    "CREATE TABLE order_line (order_line_id BIGINT PRIMARY KEY, unit_price DECIMAL(10,2), quantity INT NOT NULL, legacy_note TEXT, created_at DATETIME(6) NOT NULL)",
}

// mappedPair creates order_line with rows 1..300 on src (quantity i % 6)
// and provisions its mapped table (SalesLine) on dst; it returns the
// mapped table and the reconcile pairs of the mapping.
func mappedPair(t *testing.T, src, dst *datastore.Store) (map[string]mapping.Table, []reconcile.TablePair) {
	t.Helper()
	dbtest.Exec(t, src, orderLineDDL[src.Engine])
	for i := 1; i <= 300; i++ {
		dbtest.Exec(t, src, fmt.Sprintf("INSERT INTO order_line VALUES (%d, %d.%02d, %d, 'note %d', '2026-01-01 00:00:00')", i, i%70, i%100, i%6, i))
	}
	return provisionMapped(t, src, dst)
}

// provisionMapped provisions order_line's mapped table (SalesLine) on dst.
func provisionMapped(t *testing.T, src, dst *datastore.Store) (map[string]mapping.Table, []reconcile.TablePair) {
	t.Helper()
	ctx := context.Background()
	pairs, err := reconcile.ResolveMapped(ctx, src, mappingtest.SalesLine())
	if err != nil {
		t.Fatal(err)
	}
	m := *pairs[0].Map
	tbl, err := src.Introspect(ctx, "order_line")
	if err != nil {
		t.Fatal(err)
	}
	target, overrides, _ := datastore.TargetTable(tbl, m, nil)
	if _, err := datastore.Provision(ctx, dst, []*datastore.Table{target}, datastore.ProvisionOptions{Owner: "cdc-test", TypeOverrides: overrides}); err != nil {
		t.Fatal(err)
	}
	return map[string]mapping.Table{"order_line": m}, pairs[:1]
}

// Change capture by triggers through a mapping: a writer's inserts,
// updates, deletes and key changes arrive renamed and computed by the
// source; a row updated out of the filter is deleted on the target and
// one updated into it is inserted; reconcile through the mapping then
// finds no difference.
func TestTriggersApplyChangesThroughAMapping(t *testing.T) {
	for _, pc := range [][2]datastore.Engine{
		{datastore.Postgres, datastore.MySQL},
		{datastore.MySQL, datastore.Postgres},
		{datastore.Postgres, datastore.SQLite},
	} {
		t.Run(string(pc[0])+" to "+string(pc[1]), func(t *testing.T) {
			mappedCapture(t, dbtest.New(t, pc[0]), dbtest.New(t, pc[1]), MethodTriggers)
		})
	}
}

// The same through logical replication: each change the stream brings is
// read back from the source by key through the mapping, as the trigger
// drain reads it (readBack).
func TestLogicalAppliesChangesThroughAMapping(t *testing.T) {
	for _, dst := range []datastore.Engine{datastore.MySQL, datastore.SQLite} {
		t.Run("postgres to "+string(dst), func(t *testing.T) {
			mappedCapture(t, cdctest.NewLogicalDB(t), dbtest.New(t, dst), MethodLogical)
		})
	}
}

// mappedCapture sets up a mapped capture of order_line by method, copies,
// follows a live writer, then checks the rows moved across the filter and
// reconciles through the mapping.
func mappedCapture(t *testing.T, src, dst dbtest.DB, method Method) {
	t.Helper()
	ctx := context.Background()
	mapped, pairs := mappedPair(t, src.Store, dst.Store)
	o := runOpts(src, dst, captureName(t), MethodAuto)
	o.Tables, o.Mapped = []string{"order_line"}, mapped
	if method == MethodLogical {
		o.Method = MethodLogical // auto takes triggers on the machine's PostgreSQL (wal_level=replica)
	}
	if res, err := Setup(ctx, o.Options); err != nil || res.Method != method {
		t.Fatalf("Setup through a mapping = %v, %v; want method %s", res.Method, err, method)
	}
	t.Cleanup(func() { Teardown(context.Background(), o.Options) })
	if _, err := datacopy.Run(ctx, datacopy.Options{From: src.Store, To: dst.Store, Tables: o.Tables, Mapped: mapped}, datacopy.Checkpoint{}, nil); err != nil {
		t.Fatal(err)
	}
	cp := followMappedWriter(t, o)

	q, ph := dst.Store.Quote, dst.Store.Placeholder
	var out, in int
	var total any
	if err := dst.Store.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+q("SalesLine")+" WHERE "+q("OrderLineId")+" = "+ph(1), movedOut).Scan(&out); err != nil || out != 0 {
		t.Errorf("row %d, updated out of the filter: %d on the target (%v), want deleted", movedOut, out, err)
	}
	if err := dst.Store.DB.QueryRowContext(ctx, "SELECT COUNT(*), MAX("+q("LineTotal")+") FROM "+q("SalesLine")+" WHERE "+q("OrderLineId")+" = "+ph(1), movedIn).Scan(&in, &total); err != nil || in != 1 || total == nil {
		t.Errorf("row %d, updated into the filter: %d on the target, LineTotal %v (%v), want inserted with its computed total", movedIn, in, total, err)
	}
	rep, err := reconcile.Run(ctx, reconcile.Options{Source: src.Store, Target: dst.Store, Tables: pairs}, reconcile.Checkpoint{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Differing() != 0 {
		t.Fatalf("reconcile through the mapping after %d changes applied (%s):\n%s", cp.Applied, method, rep.Text())
	}
}

// followMappedWriter runs the capture while a writer makes its changes,
// then moves movedOut out of the filter and movedIn into it, until every
// change is applied.
func followMappedWriter(t *testing.T, o RunOptions) Checkpoint {
	t.Helper()
	ctx := context.Background()
	var done atomic.Bool
	errs := make(chan error, 1)
	go func() {
		defer done.Store(true)
		for i := 0; i < 240; i++ {
			if err := mappedWrite(ctx, o.Source, i); err != nil {
				errs <- err
				return
			}
		}
		for _, q := range []string{
			fmt.Sprintf("UPDATE order_line SET quantity = 0 WHERE order_line_id = %d", movedOut),
			fmt.Sprintf("UPDATE order_line SET quantity = 4 WHERE order_line_id = %d", movedIn),
		} {
			if _, err := o.Source.DB.ExecContext(ctx, q); err != nil {
				errs <- fmt.Errorf("%s: %w", q, err)
				return
			}
		}
	}()
	o.Until = untilQuiet(&done)
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cp, err := Run(rctx, o, Checkpoint{}, nil)
	if err != nil {
		t.Fatalf("Run through the mapping (applied %d changes): %v", cp.Applied, err)
	}
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	if cp.Applied == 0 {
		t.Fatal("Run applied no change: the writer's changes were not captured")
	}
	return cp
}

// Both capture methods compute a mapped table's rows the same way: one
// source table, captured by triggers into one target and by logical
// replication into another, takes the same writes; the two targets end
// with the same rows, and each reconciles with the source through the
// mapping.
func TestCaptureMethodsAgreeThroughAMapping(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src := cdctest.NewLogicalDB(t)
	byTriggers, byLogical := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.SQLite)
	mapped, pairs := mappedPair(t, src.Store, byTriggers.Store)
	provisionMapped(t, src.Store, byLogical.Store)
	var runs []RunOptions
	for _, c := range []struct {
		dst    dbtest.DB
		method Method
	}{{byTriggers, MethodTriggers}, {byLogical, MethodLogical}} {
		o := runOpts(src, c.dst, captureName(t), c.method)
		o.Tables, o.Mapped = []string{"order_line"}, mapped
		if res, err := Setup(ctx, o.Options); err != nil || res.Method != c.method {
			t.Fatalf("Setup = %v, %v; want method %s", res.Method, err, c.method)
		}
		t.Cleanup(func() { Teardown(context.Background(), o.Options) })
		if _, err := datacopy.Run(ctx, datacopy.Options{From: src.Store, To: c.dst.Store, Tables: o.Tables, Mapped: mapped}, datacopy.Checkpoint{}, nil); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, o)
	}
	for i := 0; i < 240; i++ {
		if err := mappedWrite(ctx, src.Store, i); err != nil {
			t.Fatal(err)
		}
	}
	dbtest.Exec(t, src.Store, fmt.Sprintf("UPDATE order_line SET quantity = 0 WHERE order_line_id = %d", movedOut),
		fmt.Sprintf("UPDATE order_line SET quantity = 4 WHERE order_line_id = %d", movedIn))
	since := time.Now()
	for _, o := range runs {
		o.Until = Drained(since)
		cp, err := Run(ctx, o, Checkpoint{}, nil)
		if err != nil || cp.Applied == 0 {
			t.Fatalf("Run by %s: %v (%d changes applied)", o.Method, err, cp.Applied)
		}
		rep, err := reconcile.Run(ctx, reconcile.Options{Source: src.Store, Target: o.Target, Tables: pairs}, reconcile.Checkpoint{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Differing() != 0 {
			t.Fatalf("reconcile of the %s capture through the mapping:\n%s", o.Method, rep.Text())
		}
	}
	dbtest.AssertSameRows(t, byTriggers.Store, byLogical.Store, "SalesLine")
}

// Reverse replication through the inverse of a mapping, by logical
// replication on a PostgreSQL new (what a cut-over's reverse capture,
// method auto, takes there): writes made on SalesLine come back to
// legacy's order_line under its names (renames and the names rule mapped
// back, the computed column not carried back), and reconcile through the
// forward mapping finds no difference.
func TestLogicalReverseThroughTheInverseMapping(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	legacy, next := dbtest.New(t, datastore.MySQL), cdctest.NewLogicalDB(t)
	dbtest.Exec(t, legacy.Store, orderLineDDL[datastore.MySQL])
	for i := 1; i <= 50; i++ {
		dbtest.Exec(t, legacy.Store, fmt.Sprintf("INSERT INTO order_line VALUES (%d, %d.%02d, %d, 'note %d', '2026-01-01 00:00:00')", i, i%70, i%100, i%6+1, i))
	}
	spec := mappingtest.SalesLine()
	tspec := spec.Tables["order_line"]
	tspec.Where = "" // a filter has no inverse
	spec.Tables["order_line"] = tspec
	pairs, err := reconcile.ResolveMapped(ctx, legacy.Store, spec)
	if err != nil {
		t.Fatal(err)
	}
	forward := map[string]mapping.Table{"order_line": *pairs[0].Map}
	tbl, err := legacy.Store.Introspect(ctx, "order_line")
	if err != nil {
		t.Fatal(err)
	}
	target, overrides, _ := datastore.TargetTable(tbl, forward["order_line"], nil)
	if _, err := datastore.Provision(ctx, next.Store, []*datastore.Table{target}, datastore.ProvisionOptions{Owner: "cdc-test", TypeOverrides: overrides}); err != nil {
		t.Fatal(err)
	}
	if _, err := datacopy.Run(ctx, datacopy.Options{From: legacy.Store, To: next.Store, Tables: []string{"order_line"}, Mapped: forward}, datacopy.Checkpoint{}, nil); err != nil {
		t.Fatal(err)
	}
	inv, err := forward["order_line"].Inverse(nil)
	if err != nil {
		t.Fatal(err)
	}
	o := runOpts(legacy, next, captureName(t), MethodTriggers)
	o.Tables, o.Mapped = []string{"order_line"}, forward
	r := o.Reversed(captureName(t), next.DSN, map[string]mapping.Table{inv.Source: inv})
	if res, err := Setup(ctx, r.Options); err != nil || res.Method != MethodLogical {
		t.Fatalf("Setup of the reverse capture on new = %v, %v; want method logical", res.Method, err)
	}
	t.Cleanup(func() { Teardown(context.Background(), r.Options) })
	total := `"LineTotal" = "Price" * "Quantity"`
	dbtest.Exec(t, next.Store,
		`INSERT INTO "SalesLine" ("OrderLineId", "Price", "Quantity", "CreatedAt", "LineTotal") VALUES (900, 2.50, 4, '2026-03-01 12:00:00', 10.00)`,
		`UPDATE "SalesLine" SET "Price" = "Price" + 1 WHERE "OrderLineId" BETWEEN 1 AND 10`,
		`UPDATE "SalesLine" SET `+total+` WHERE "OrderLineId" BETWEEN 1 AND 10`,
		`DELETE FROM "SalesLine" WHERE "OrderLineId" IN (11, 12)`,
		`UPDATE "SalesLine" SET "OrderLineId" = 700 WHERE "OrderLineId" = 13`,
		`UPDATE "SalesLine" SET "Quantity" = 9 WHERE "OrderLineId" = 14`,
		`UPDATE "SalesLine" SET `+total+` WHERE "OrderLineId" = 14`,
	)
	r.Until = Drained(time.Now())
	cp, err := Run(ctx, r, Checkpoint{}, nil)
	if err != nil || cp.Applied == 0 {
		t.Fatalf("reverse Run: %v (%d changes applied)", err, cp.Applied)
	}
	rep, err := reconcile.Run(ctx, reconcile.Options{Source: legacy.Store, Target: next.Store, Tables: pairs}, reconcile.Checkpoint{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Differing() != 0 {
		t.Fatalf("reconcile through the mapping after the reverse replication:\n%s", rep.Text())
	}
	var note any
	if err := legacy.Store.DB.QueryRowContext(ctx, "SELECT legacy_note FROM order_line WHERE order_line_id = 700").Scan(&note); err != nil {
		t.Fatalf("row 13, moved to key 700 on new, is not on legacy under its new key: %v", err)
	}
}
