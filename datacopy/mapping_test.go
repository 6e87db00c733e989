package datacopy_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/mapping"
	"github.com/godwit/godwit/mapping/mappingtest"
	"github.com/godwit/godwit/reconcile"
)

var orderLineDDL = map[datastore.Engine]string{
	datastore.Postgres: `CREATE TABLE order_line (order_line_id bigint PRIMARY KEY, unit_price numeric(10,2), quantity int NOT NULL, legacy_note text)`,
	datastore.MySQL:    `CREATE TABLE order_line (order_line_id BIGINT PRIMARY KEY, unit_price DECIMAL(10,2), quantity INT NOT NULL, legacy_note TEXT)`,
}

var salesLineDDL = map[datastore.Engine]string{
	datastore.Postgres: `CREATE TABLE "SalesLine" ("OrderLineId" bigint PRIMARY KEY, "Price" numeric(10,2), "Quantity" int NOT NULL, "LineTotal" numeric(12,2))`,
	datastore.MySQL:    "CREATE TABLE SalesLine (OrderLineId BIGINT PRIMARY KEY, Price DECIMAL(10,2), Quantity INT NOT NULL, LineTotal DECIMAL(12,2))",
	datastore.SQLite:   `CREATE TABLE SalesLine (OrderLineId INTEGER PRIMARY KEY, Price DECIMAL_TEXT(10,2), Quantity INTEGER NOT NULL, LineTotal DECIMAL_TEXT(12,2))`,
}

func TestCopyThroughAMapping(t *testing.T) {
	pairs := [][2]datastore.Engine{
		{datastore.Postgres, datastore.MySQL},    // LOAD DATA (or multi-row INSERT)
		{datastore.Postgres, datastore.Postgres}, // the COPY pipe
		{datastore.Postgres, datastore.SQLite},   // the generic path
		{datastore.MySQL, datastore.Postgres},
	}
	const n = 1000
	for _, pair := range pairs {
		from, to := pair[0], pair[1]
		t.Run(string(from)+"→"+string(to), func(t *testing.T) {
			ctx := context.Background()
			src, dst := dbtest.New(t, from).Store, dbtest.New(t, to).Store
			dbtest.Exec(t, src, orderLineDDL[from])
			var rows []string
			for i := 1; i <= n; i++ {
				rows = append(rows, fmt.Sprintf("(%d, %d.%02d, %d, 'note %d')", i, i%70, i%100, i%6, i))
			}
			dbtest.Exec(t, src, "INSERT INTO order_line VALUES "+strings.Join(rows, ", "))
			dbtest.Exec(t, dst, salesLineDDL[to])

			m := mappingtest.SalesLine()
			pairs, err := reconcile.ResolveMapped(ctx, src, m)
			if err != nil {
				t.Fatal(err)
			}
			mapped := map[string]mapping.Table{"order_line": *pairs[0].Map}
			if from == datastore.Postgres && to == datastore.Postgres {
				// The mapped table keeps the fast path.
				s, _ := src.Introspect(ctx, "order_line")
				d, _ := dst.Introspect(ctx, "SalesLine")
				view, target, err := datastore.MapTable(s, d, mapped["order_line"])
				if err != nil || !src.CanCopyDirect(ctx, dst, view, target, nil) {
					t.Fatalf("mapped PostgreSQL → PostgreSQL does not take the COPY pipe (%v)", err)
				}
			}

			if to == datastore.MySQL {
				if p, err := dst.WritePath(ctx); err != nil || p != datastore.PathLoadData {
					t.Logf("LOAD DATA LOCAL INFILE is off on this server (%v, %v): the mapped rows go through multi-row INSERT", p, err)
				}
			}

			// Interrupted after its first batch, resumed from the checkpoint.
			cctx, cancel := context.WithCancel(ctx)
			opts := datacopy.Options{From: src, To: dst, Tables: []string{"order_line"}, Mapped: mapped, BatchRows: 100,
				DirectBatchTime: -1, AfterCommit: func(string) { cancel() }}
			res, err := datacopy.Run(cctx, opts, datacopy.Checkpoint{}, nil)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted copy: %v", err)
			}
			opts.AfterCommit = nil
			res, err = datacopy.Run(ctx, opts, res.Checkpoint, nil)
			if err != nil {
				t.Fatalf("resumed copy: %v", err)
			}
			if want := int64(n - n/6); res.Checkpoint.Tables["order_line"].RowsDone != want {
				t.Errorf("rows done %d, want %d (the filter leaves quantity 0 out)", res.Checkpoint.Tables["order_line"].RowsDone, want)
			}
			var total string
			q := "SELECT CAST(LineTotal AS CHAR) FROM SalesLine WHERE OrderLineId = 7"
			if to == datastore.Postgres {
				q = `SELECT "LineTotal"::text FROM "SalesLine" WHERE "OrderLineId" = 7`
			} else if to == datastore.SQLite {
				q = "SELECT LineTotal FROM SalesLine WHERE OrderLineId = 7"
			}
			if err := dst.DB.QueryRowContext(ctx, q).Scan(&total); err != nil || total != "7.07" {
				t.Errorf("LineTotal of 7 (7.07 × 1) = %q (%v)", total, err)
			}
			rep, err := reconcile.Run(ctx, reconcile.Options{Source: src, Target: dst, Tables: pairs}, reconcile.Checkpoint{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Differing() != 0 {
				t.Fatalf("reconcile through the mapping after the copy:\n%s", rep.Text())
			}
		})
	}
}

// A computed decimal with more places than its declared type (a third of
// a price into decimal(12,2)) is rounded by the source engine to the
// target's scale on every path — the COPY pipe, LOAD DATA, the decoded
// path — and reconcile compares that rounded value: the copy neither
// refuses it on one path nor rounds it silently on another, and reconcile
// does not call every row mismatched.
func TestAComputedDecimalIsRoundedToItsDeclaredScale(t *testing.T) {
	for _, pair := range [][2]datastore.Engine{{datastore.Postgres, datastore.Postgres}, {datastore.Postgres, datastore.MySQL}, {datastore.MySQL, datastore.Postgres}} {
		from, to := pair[0], pair[1]
		t.Run(string(from)+"→"+string(to), func(t *testing.T) {
			ctx := context.Background()
			src, dst, pairs := copyComputedLineTotal(t, from, to, salesLineDDL[to], mapping.Computed{Expr: "unit_price * quantity / 3", Type: "decimal(12,2)"})
			// Row 7: 7.07 × 3 / 3 = 7.07; row 8: 8.08 × 4 / 3 = 10.7733… → 10.77.
			if total, err := lineTotalOf8(dst, to); err != nil || total != "10.77" {
				t.Errorf("LineTotal of 8 (8.08 × 4 / 3) = %q (%v), want 10.77", total, err)
			}
			// A target value off by a cent is still found.
			up := "UPDATE SalesLine SET LineTotal = LineTotal + 0.01 WHERE OrderLineId = 8"
			if to == datastore.Postgres {
				up = `UPDATE "SalesLine" SET "LineTotal" = "LineTotal" + 0.01 WHERE "OrderLineId" = 8`
			}
			dbtest.Exec(t, dst, up)
			if rep, err := reconcile.Run(ctx, reconcile.Options{Source: src, Target: dst, Tables: pairs}, reconcile.Checkpoint{}); err != nil || rep.Differing() != 1 {
				t.Fatalf("a cent off: %v\n%s", err, rep.Text())
			}
		})
	}
}

// copyComputedLineTotal copies 300 order lines from a from source into a
// to target (created by targetDDL) through SalesLine's mapping with c as
// its LineTotal, and checks that reconcile through the mapping finds no
// difference after the copy.
func copyComputedLineTotal(t *testing.T, from, to datastore.Engine, targetDDL string, c mapping.Computed) (src, dst *datastore.Store, pairs []reconcile.TablePair) {
	t.Helper()
	ctx := context.Background()
	src, dst = dbtest.New(t, from).Store, dbtest.New(t, to).Store
	dbtest.Exec(t, src, orderLineDDL[from])
	var rows []string
	for i := 1; i <= 300; i++ {
		rows = append(rows, fmt.Sprintf("(%d, %d.%02d, %d, 'note %d')", i, i%70, i%100, 1+i%5, i))
	}
	dbtest.Exec(t, src, "INSERT INTO order_line VALUES "+strings.Join(rows, ", "))
	dbtest.Exec(t, dst, targetDDL)
	m := mappingtest.SalesLine()
	tb := m.Tables["order_line"]
	tb.Add = map[string]mapping.Computed{"LineTotal": c}
	m.Tables["order_line"] = tb
	pairs, err := reconcile.ResolveMapped(ctx, src, m)
	if err != nil {
		t.Fatal(err)
	}
	mapped := map[string]mapping.Table{"order_line": *pairs[0].Map}
	if _, err := datacopy.Run(ctx, datacopy.Options{From: src, To: dst, Tables: []string{"order_line"}, Mapped: mapped, BatchRows: 100},
		datacopy.Checkpoint{}, nil); err != nil {
		t.Fatalf("copy: %v", err)
	}
	rep, err := reconcile.Run(ctx, reconcile.Options{Source: src, Target: dst, Tables: pairs}, reconcile.Checkpoint{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Differing() != 0 {
		t.Fatalf("reconcile through the mapping after the copy:\n%s", rep.Text())
	}
	return src, dst, pairs
}

// lineTotalOf8 is SalesLine 8's LineTotal as text.
func lineTotalOf8(dst *datastore.Store, to datastore.Engine) (string, error) {
	q := "SELECT CAST(LineTotal AS CHAR) FROM SalesLine WHERE OrderLineId = 8"
	if to == datastore.Postgres {
		q = `SELECT "LineTotal"::text FROM "SalesLine" WHERE "OrderLineId" = 8`
	}
	var total string
	err := dst.DB.QueryRowContext(context.Background(), q).Scan(&total)
	return total, err
}

// A computed column declared as an integer whose expression gives a
// decimal (a price in cents, `unit_price * 100` over a decimal(10,2):
// "707.00") is converted by the source engine like a decimal one: a new
// user's `AmountCents: {expr: "amount * 100", type: integer}` on Sakila's
// payment stopped every copy at its first row ("299.00" is not an
// integer). The copy carries it on every path and reconcile finds 0
// differences.
func TestAComputedIntegerFromADecimalExpressionIsCarried(t *testing.T) {
	cents := map[datastore.Engine]string{
		datastore.Postgres: `CREATE TABLE "SalesLine" ("OrderLineId" bigint PRIMARY KEY, "Price" numeric(10,2), "Quantity" int NOT NULL, "LineTotal" bigint)`,
		datastore.MySQL:    "CREATE TABLE SalesLine (OrderLineId BIGINT PRIMARY KEY, Price DECIMAL(10,2), Quantity INT NOT NULL, LineTotal INT)",
	}
	for _, pair := range [][2]datastore.Engine{{datastore.Postgres, datastore.Postgres}, {datastore.Postgres, datastore.MySQL}, {datastore.MySQL, datastore.Postgres}} {
		from, to := pair[0], pair[1]
		t.Run(string(from)+"→"+string(to), func(t *testing.T) {
			_, dst, _ := copyComputedLineTotal(t, from, to, cents[to], mapping.Computed{Expr: "unit_price * 100", Type: "bigint"})
			if total, err := lineTotalOf8(dst, to); err != nil || total != "808" {
				t.Errorf("LineTotal of 8 (8.08 × 100) = %q (%v), want 808", total, err)
			}
		})
	}
}
