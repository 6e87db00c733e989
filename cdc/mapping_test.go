package cdc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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
	var q string
	var args []any
	switch i % 6 {
	case 0: // an insert, in or out of the filter
		q, args = "INSERT INTO order_line VALUES ($1, $2, $3, 'new', now())", []any{1000 + i, 1.25, i % 4}
	case 1: // a price change: Price and LineTotal follow
		q, args = "UPDATE order_line SET unit_price = unit_price + 1 WHERE order_line_id = $1", []any{i%300 + 1}
	case 2: // a delete
		q, args = "DELETE FROM order_line WHERE order_line_id = $1", []any{(i*7)%300 + 1}
	case 3: // a dropped column only: nothing the target holds changes
		q, args = "UPDATE order_line SET legacy_note = 'seen' WHERE order_line_id = $1", []any{i%300 + 1}
	case 4: // a quantity change, which may move the row across the filter
		q, args = "UPDATE order_line SET quantity = (quantity + 1) % 3 WHERE order_line_id = $1", []any{(i*5)%300 + 1}
	case 5: // a key change
		q, args = "UPDATE order_line SET order_line_id = $1 WHERE order_line_id = $2", []any{5000 + i, (i*11)%300 + 1}
	}
	if _, err := s.DB.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("writer step %d: %s: %w", i, q, err)
	}
	return nil
}

// Change capture by triggers through a mapping (PostgreSQL to MariaDB):
// a writer's inserts, updates, deletes and key changes arrive renamed and
// computed by the source; a row updated out of the filter is deleted on
// the target and one updated into it is inserted; reconcile through the
// mapping then finds no difference.
func TestTriggersApplyChangesThroughAMapping(t *testing.T) {
	ctx := context.Background()
	src, dst := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, src.Store,
		`CREATE TABLE order_line (order_line_id bigint PRIMARY KEY, unit_price numeric(10,2), quantity int NOT NULL,
			legacy_note text, created_at timestamp NOT NULL)`,
		`INSERT INTO order_line SELECT i, (i % 70) + (i % 100) / 100.0, i % 6, 'note ' || i, timestamp '2026-01-01' + i * interval '1 second'
			FROM generate_series(1, 300) i`)
	dbtest.Exec(t, dst.Store, "CREATE TABLE SalesLine (OrderLineId BIGINT PRIMARY KEY, Price DECIMAL(10,2), Quantity INT NOT NULL, CreatedAt DATETIME(6) NOT NULL, LineTotal DECIMAL(12,2))")
	pairs, err := reconcile.ResolveMapped(ctx, src.Store, mappingtest.SalesLine())
	if err != nil {
		t.Fatal(err)
	}
	mapped := map[string]mapping.Table{"order_line": *pairs[0].Map}

	o := runOpts(src, dst, captureName(t), MethodAuto)
	o.Tables, o.Mapped = []string{"order_line"}, mapped
	if res, err := Setup(ctx, o.Options); err != nil || res.Method != MethodTriggers {
		t.Fatalf("Setup through a mapping = %v, %v; want method triggers", res.Method, err)
	}
	t.Cleanup(func() { Teardown(context.Background(), o.Options) })
	if _, err := datacopy.Run(ctx, datacopy.Options{From: src.Store, To: dst.Store, Tables: o.Tables, Mapped: mapped}, datacopy.Checkpoint{}, nil); err != nil {
		t.Fatal(err)
	}

	var done atomic.Bool
	errs := make(chan error, 1)
	go func() {
		defer done.Store(true)
		for i := 0; i < 240; i++ {
			if err := mappedWrite(ctx, src.Store, i); err != nil {
				errs <- err
				return
			}
		}
		for _, q := range []string{
			fmt.Sprintf("UPDATE order_line SET quantity = 0 WHERE order_line_id = %d", movedOut),
			fmt.Sprintf("UPDATE order_line SET quantity = 4 WHERE order_line_id = %d", movedIn),
		} {
			if _, err := src.Store.DB.ExecContext(ctx, q); err != nil {
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

	var out, in int
	if err := dst.Store.DB.QueryRowContext(ctx, "SELECT COUNT(*) FROM SalesLine WHERE OrderLineId = ?", movedOut).Scan(&out); err != nil || out != 0 {
		t.Errorf("row %d, updated out of the filter: %d on the target (%v), want deleted", movedOut, out, err)
	}
	var total string
	if err := dst.Store.DB.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(MAX(LineTotal), '') FROM SalesLine WHERE OrderLineId = ?", movedIn).Scan(&in, &total); err != nil || in != 1 || total == "" {
		t.Errorf("row %d, updated into the filter: %d on the target, LineTotal %q (%v), want inserted with its computed total", movedIn, in, total, err)
	}
	rep, err := reconcile.Run(ctx, reconcile.Options{Source: src.Store, Target: dst.Store, Tables: pairs[:1]}, reconcile.Checkpoint{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Differing() != 0 {
		t.Fatalf("reconcile through the mapping after %d changes applied:\n%s", cp.Applied, rep.Text())
	}
}

// A mapped capture takes the triggers method: logical replication,
// asked for, is refused with what to do instead.
func TestMappedCaptureRefusesLogical(t *testing.T) {
	src := dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store, "CREATE TABLE order_line (order_line_id bigint PRIMARY KEY, unit_price numeric(10,2), quantity int NOT NULL, legacy_note text)")
	o := Options{Source: src.Store, SourceDSN: src.DSN, Name: captureName(t), Tables: []string{"order_line"}, Method: MethodLogical,
		Mapped: map[string]mapping.Table{"order_line": {Source: "order_line", Target: "SalesLine"}}}
	_, err := Setup(context.Background(), o)
	if !errors.Is(err, ErrNotSupported) || !IsPermanent(err) {
		t.Fatalf("Setup of a mapped capture with method logical = %v, want ErrNotSupported naming method triggers", err)
	}
	if !strings.Contains(err.Error(), "through a mapping uses method triggers") {
		t.Fatalf("error %q does not say to use method triggers", err)
	}
}
