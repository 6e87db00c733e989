package reconcile

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// liveOrders makes equal orders tables of n rows on PostgreSQL (the live
// source) and MariaDB, each row dated an hour ago.
func liveOrders(t *testing.T, n int) (src, tgt dbtest.DB) {
	t.Helper()
	src, tgt = dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.MySQL)
	dbtest.Exec(t, src.Store, "CREATE TABLE orders (id bigint PRIMARY KEY, label text, updated_at timestamptz NOT NULL)")
	dbtest.Exec(t, tgt.Store, "CREATE TABLE orders (id BIGINT PRIMARY KEY, label TEXT, updated_at DATETIME(6) NOT NULL)")
	past := time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
	mk := func(i int) []any { return []any{int64(i), fmt.Sprintf("order %d", i), past} }
	writeRows(t, src.Store, "orders", 1, n+1, mk)
	writeRows(t, tgt.Store, "orders", 1, n+1, mk)
	return src, tgt
}

// writer inserts rows after n (and, with updates, rewrites existing rows)
// on the source until stop is closed, counting its writes.
func writer(t *testing.T, s *datastore.Store, n int, updates bool, stop <-chan struct{}, writes *atomic.Int64, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		next := n + 1
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			q := fmt.Sprintf("INSERT INTO orders VALUES (%d, 'new', clock_timestamp())", next)
			if updates && i%2 == 1 {
				q = fmt.Sprintf("UPDATE orders SET label = 'changed', updated_at = clock_timestamp() WHERE id = %d", 1+(i*7919)%n)
			} else {
				next++
			}
			if _, err := s.DB.Exec(q); err != nil {
				t.Errorf("live writer: %v", err)
				return
			}
			writes.Add(1)
		}
	}()
}

// A source taking writes while the check runs: the inserts and updates
// made during the check are in flight and not reported, when the check is
// bounded by where (inserts past the bound) or by updatedColumn (inserts
// and updates dated after the check began); unbounded, they are.
func TestLiveWritesDuringTheCheckAreNotReportedWhenBounded(t *testing.T) {
	const n = 40000
	cases := []struct {
		name    string
		updates bool
		opts    func(o *Options)
	}{
		{"where bound, inserts", false, func(o *Options) { o.Where = map[string]string{"orders": fmt.Sprintf("id <= %d", n)} }},
		{"updatedColumn, inserts and updates", true, func(o *Options) { o.UpdatedColumn = "updated_at" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src, tgt := liveOrders(t, n)
			o := Options{Source: src.Store, Target: tgt.Store, Threshold: 64, Tables: []TablePair{{Source: "orders", Target: "orders"}}}
			c.opts(&o)
			var writes, during atomic.Int64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var rep *Report
			var err error
			done := make(chan struct{})
			// Every write happens after the check took its start, and the
			// check goes on only once the first one is in: a check faster
			// than the writer's first write would prove nothing.
			o.started = func() {
				writer(t, src.Store, n, c.updates, stop, &writes, &wg)
				for deadline := time.Now().Add(10 * time.Second); writes.Load() == 0 && time.Now().Before(deadline); {
					time.Sleep(time.Millisecond)
				}
			}
			go func() {
				defer close(done)
				rep, err = Run(context.Background(), o, Checkpoint{})
				during.Store(writes.Load())
			}()
			<-done
			close(stop)
			wg.Wait()
			if err != nil {
				t.Fatal(err)
			}
			if during.Load() == 0 {
				t.Fatalf("the writer wrote nothing while the check ran (%.2fs): the test proves nothing", rep.Seconds)
			}
			if rep.Differing() != 0 || !rep.Complete() {
				t.Fatalf("%d writes during the check were reported: %s\n%s", during.Load(), rep.Summary(), rep.Text())
			}
			// The same check unbounded sees them: they were real differences.
			o.Where, o.UpdatedColumn, o.started = nil, "", nil
			again, err := Run(context.Background(), o, Checkpoint{})
			if err != nil {
				t.Fatal(err)
			}
			if again.Differing() == 0 {
				t.Fatalf("an unbounded check after %d writes finds nothing", writes.Load())
			}
			t.Logf("%d writes during a %.2fs check; unbounded afterwards: %s", during.Load(), rep.Seconds, again.Summary())
		})
	}
}
