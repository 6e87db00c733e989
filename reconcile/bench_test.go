package reconcile

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// BenchmarkReconcile compares checksum bisection with a naive full fetch
// and compare (both tables streamed in key order and merged in Go), on two
// PostgreSQL databases holding the same GODWIT_BENCH_ROWS rows (default
// 1,000,000, about 110 bytes each), then with 100 differences of each
// class. It prints both rates and `ratio: X` (naive time ÷ bisection time
// on identical tables). Run it alone:
//
//	go test -run '^$' -bench Reconcile -benchtime 1x ./reconcile/
func BenchmarkReconcile(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("GODWIT_BENCH_ROWS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	src, tgt := dbtest.New(b, datastore.Postgres), dbtest.New(b, datastore.Postgres)
	for _, db := range []dbtest.DB{src, tgt} {
		dbtest.Exec(b, db.Store,
			`CREATE TABLE events (id bigint PRIMARY KEY, account int NOT NULL, kind varchar(20), amount numeric(12,2),
				note text, at timestamptz, ok boolean)`,
			fmt.Sprintf(`INSERT INTO events SELECT i, i %% 9973, 'kind-' || (i %% 17), (i %% 100000) / 100.0,
				'note for event number ' || i || ' of the benchmark', '2024-01-01'::timestamptz + i * interval '1 second', i %% 2 = 0
				FROM generate_series(1, %d) i`, n),
			"VACUUM ANALYZE events")
	}
	o := Options{Source: src.Store, Target: tgt.Store, Tables: []TablePair{{Source: "events", Target: "events"}}}
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		rep, err := Run(ctx, o, Checkpoint{})
		if err != nil {
			b.Fatal(err)
		}
		godwit := time.Since(start)
		if rep.Differing() != 0 {
			b.Fatalf("identical tables differ: %s", rep.Summary())
		}
		start = time.Now()
		diffs, err := naiveCompare(ctx, src.Store, tgt.Store, "events")
		if err != nil {
			b.Fatal(err)
		}
		naive := time.Since(start)
		if diffs != 0 {
			b.Fatalf("naive compare found %d differences in identical tables", diffs)
		}
		fmt.Printf("identical %d rows: bisection %.2fs (%.0f rows/s, %d rows fetched), naive fetch-and-compare %.2fs (%.0f rows/s)\n",
			n, godwit.Seconds(), float64(n)/godwit.Seconds(), rep.Tables[0].RowsFetched, naive.Seconds(), float64(n)/naive.Seconds())
		fmt.Printf("ratio: %.2f\n", naive.Seconds()/godwit.Seconds())

		// The canonical MD5 hash, as used between different engines.
		md5o := o
		md5o.PortableHash = true
		start = time.Now()
		if rep, err = Run(ctx, md5o, Checkpoint{}); err != nil || rep.Differing() != 0 {
			b.Fatalf("md5 check: %v %v", err, rep)
		}
		portable := time.Since(start)
		fmt.Printf("canonical md5 hash (the cross-engine path): %.2fs (%.0f rows/s), ratio against naive: %.2f\n",
			portable.Seconds(), float64(n)/portable.Seconds(), naive.Seconds()/portable.Seconds())

		// 100 differences of each class at spread keys.
		var missing, extra, changed []string
		for i := 0; i < 100; i++ {
			missing = append(missing, strconv.Itoa(1+(i*7919)%n))
			changed = append(changed, strconv.Itoa(1+(i*104729+13)%n))
			extra = append(extra, strconv.Itoa(n+1+i*3))
		}
		dbtest.Exec(b, tgt.Store,
			"DELETE FROM events WHERE id IN ("+strings.Join(missing, ",")+")",
			"UPDATE events SET note = note || '!' WHERE id IN ("+strings.Join(changed, ",")+")",
			"INSERT INTO events (id, account) SELECT unnest(ARRAY["+strings.Join(extra, ",")+"]::bigint[]), 1")
		start = time.Now()
		rep, err = Run(ctx, o, Checkpoint{})
		if err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		t := rep.Tables[0]
		fmt.Printf("with 100 differences per class: %.2fs (%.2fx the identical case), found %d missing, %d extra, %d mismatched, %d rows fetched, %d queries\n",
			took.Seconds(), took.Seconds()/godwit.Seconds(), t.Missing, t.Extra, t.Mismatched, t.RowsFetched, t.Checksums)
		if t.Missing != 100 || t.Extra != 100 || t.Mismatched < 99 { // two changed keys may coincide with missing ones
			b.Fatalf("not every difference found: %s", rep.Summary())
		}
	}
}

// naiveCompare streams both tables in key order and compares each row's
// canonical texts: the reference a checksum must beat.
func naiveCompare(ctx context.Context, a, b *datastore.Store, table string) (int, error) {
	tc, err := planTable(ctx, &Options{Source: a, Target: b, FloatDecimals: 6, SourceName: "a", TargetName: "b"}, TablePair{Source: table, Target: table}, time.Now())
	if err != nil {
		return 0, err
	}
	stream := func(s *side, out chan<- *row, errc chan<- error) {
		defer close(out)
		q := "SELECT " + strings.Join(s.selects, ", ") + s.from() + " ORDER BY " + strings.Join(s.keys, ", ")
		errc <- s.scan(ctx, q, nil, 0, func(_ []any, r *row) { out <- r })
	}
	ca, cb := make(chan *row, 1024), make(chan *row, 1024)
	errc := make(chan error, 2)
	go stream(tc.src, ca, errc)
	go stream(tc.tgt, cb, errc)
	diffs := 0
	ra, rb := <-ca, <-cb
	for ra != nil || rb != nil {
		switch {
		case rb == nil || (ra != nil && keyLess(ra, rb)):
			diffs++
			ra = <-ca
		case ra == nil || keyLess(rb, ra):
			diffs++
			rb = <-cb
		default:
			if len(tc.differing(ra, rb)) > 0 {
				diffs++
			}
			ra, rb = <-ca, <-cb
		}
	}
	for range 2 {
		if err := <-errc; err != nil {
			return 0, err
		}
	}
	return diffs, nil
}

func keyLess(a, b *row) bool {
	x, _ := a.key[0].(int64)
	y, _ := b.key[0].(int64)
	return x < y
}
