package cdc

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/godwit/godwit/cdc/cdctest"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// BenchmarkReplicate runs a load generator at full speed on 4 connections
// (one change per transaction: inserts, updates, deletes; GODWIT_BENCH_CHANGES
// changes, 20,000 by default) against the source while Run applies them to
// a PostgreSQL target, and prints the write rate, the apply rate, the lag
// when the load stopped and how long until it was under 1 s. Then, with
// Run stopped, it lets a backlog of as many changes build, starts Run
// again and prints the drain rate. For PostgreSQL (logical replication, on
// the throwaway cluster) and MariaDB (triggers). The last line is
// `ratio: X`: PostgreSQL's drain rate ÷ its write rate (above 1: the
// replication can apply faster than four writers write).
//
//	go test -run '^$' -bench Replicate -benchtime 1x -timeout 30m ./cdc/
func BenchmarkReplicate(b *testing.B) {
	n := 20000
	if v, err := strconv.Atoi(os.Getenv("GODWIT_BENCH_CHANGES")); err == nil && v > 0 {
		n = v
	}
	var ratio float64
	for _, c := range []struct {
		name   string
		method Method
		src    func(b *testing.B) dbtest.DB
	}{
		{"postgres-logical", MethodLogical, func(b *testing.B) dbtest.DB { return cdctest.NewLogicalDB(b) }},
		{"mariadb-triggers", MethodTriggers, func(b *testing.B) dbtest.DB { return dbtest.New(b, datastore.MySQL) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			src, dst := c.src(b), dbtest.New(b, datastore.Postgres)
			ddl := "CREATE TABLE bench_load (id BIGINT PRIMARY KEY, qty INTEGER NOT NULL, name VARCHAR(100) NOT NULL)"
			dbtest.Exec(b, src.Store, ddl)
			dbtest.Exec(b, dst.Store, ddl)
			o := RunOptions{
				Options: Options{Source: src.Store, SourceDSN: src.DSN, Name: fmt.Sprintf("bench%d", time.Now().UnixNano()%1e9),
					Tables: []string{"bench_load"}, Method: c.method},
				Target: dst.Store, LagEvery: 200 * time.Millisecond,
			}
			if _, err := Setup(context.Background(), o.Options); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { Teardown(context.Background(), o.Options) })
			for i := 0; i < b.N; i++ {
				live := replicateUnderLoad(b, o, src.Store, n, int64(2*i)*4*int64(n))
				drain := drainBacklog(b, o, src.Store, n, int64(2*i+1)*4*int64(n))
				fmt.Printf("%s: written %.0f changes/s on 4 connections, applied %.0f changes/s during the load; lag %.2fs when the load stopped, under 1s %.1fs later\n",
					c.name, live.written, live.applied, live.lagAtStop, live.under1s.Seconds())
				fmt.Printf("%s: backlog of %d changes drained at %.0f changes/s\n", c.name, n, drain)
				if c.method == MethodLogical {
					ratio = drain / live.written
				}
			}
		})
	}
	if ratio > 0 {
		fmt.Printf("ratio: %.2f\n", ratio)
	}
}

type liveResult struct {
	written, applied, lagAtStop float64
	under1s                     time.Duration
}

func replicateUnderLoad(b *testing.B, o RunOptions, s *datastore.Store, n int, base int64) liveResult {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var loadDone atomic.Bool
	var stoppedAt time.Time
	var res liveResult
	var mu sync.Mutex
	var applied int64
	var until func(Progress) bool
	o.Until = func(p Progress) bool {
		mu.Lock()
		defer mu.Unlock()
		applied = p.AppliedThisRun
		if !loadDone.Load() {
			return false
		}
		if res.lagAtStop == 0 {
			res.lagAtStop = EffectiveLag(p).Seconds()
		}
		if res.under1s == 0 && EffectiveLag(p) < time.Second {
			res.under1s = time.Since(stoppedAt)
		}
		if until == nil {
			until = Drained(time.Now())
		}
		return until(p)
	}
	runErr := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := Run(ctx, o, Checkpoint{}, nil)
		runErr <- err
	}()
	load(b, s, n, base)
	mu.Lock()
	stoppedAt = time.Now()
	loadSecs := stoppedAt.Sub(start).Seconds()
	res.written = float64(n) / loadSecs
	res.applied = float64(applied) / loadSecs
	mu.Unlock()
	loadDone.Store(true)
	if err := <-runErr; err != nil {
		b.Fatal(err)
	}
	return res
}

func drainBacklog(b *testing.B, o RunOptions, s *datastore.Store, n int, base int64) float64 {
	load(b, s, n, base)
	o.Until = Drained(time.Now())
	start := time.Now()
	cp, err := Run(context.Background(), o, Checkpoint{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	return float64(cp.Applied) / time.Since(start).Seconds()
}

// load makes n changes on 4 connections, one per transaction: each
// connection inserts a row, updates it, and every third row deletes it.
func load(b *testing.B, s *datastore.Store, n int, base int64) {
	ph := s.Placeholder
	ins := "INSERT INTO bench_load (id, qty, name) VALUES (" + ph(1) + ", 0, " + ph(2) + ")"
	upd := "UPDATE bench_load SET qty = qty + 1 WHERE id = " + ph(1)
	del := "DELETE FROM bench_load WHERE id = " + ph(1)
	var wg sync.WaitGroup
	var failed atomic.Value
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			ctx := context.Background()
			id := base + int64(w)*int64(n)
			for i := w; i < n; i += 4 {
				var err error
				switch i / 4 % 3 {
				case 0:
					id++
					_, err = s.DB.ExecContext(ctx, ins, id, "row")
				case 1:
					_, err = s.DB.ExecContext(ctx, upd, id)
				case 2:
					if id%3 == 0 {
						_, err = s.DB.ExecContext(ctx, del, id)
					} else {
						_, err = s.DB.ExecContext(ctx, upd, id)
					}
				}
				if err != nil {
					failed.Store(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
}
