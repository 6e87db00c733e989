package cdc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/godwit/godwit/cdc/cdctest"
	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

func TestMain(m *testing.M) { cdctest.Main(m) }

// pair is a source and a target of one test case.
type pair struct {
	name   string
	method Method
	open   func(t *testing.T) (src, dst dbtest.DB)
}

func pairs() []pair {
	return []pair{
		{"sqlite to postgres, triggers", MethodTriggers, func(t *testing.T) (dbtest.DB, dbtest.DB) {
			return dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.Postgres)
		}},
		{"mariadb to postgres, triggers", MethodTriggers, func(t *testing.T) (dbtest.DB, dbtest.DB) {
			return dbtest.New(t, datastore.MySQL), dbtest.New(t, datastore.Postgres)
		}},
		{"postgres to mariadb, triggers", MethodTriggers, func(t *testing.T) (dbtest.DB, dbtest.DB) {
			return dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.MySQL)
		}},
		{"postgres to sqlite, logical replication", MethodLogical, func(t *testing.T) (dbtest.DB, dbtest.DB) {
			return cdctest.NewLogicalDB(t), dbtest.New(t, datastore.SQLite)
		}},
	}
}

var testCaptures atomic.Int64

func captureName(t *testing.T) string {
	return fmt.Sprintf("t%d_%d", time.Now().UnixNano()%1e9, testCaptures.Add(1))
}

// seed creates the kitchen table (every common type, a TOASTed text in
// row 3) with rows 0..n-1 on src and provisions it on dst.
func seed(t *testing.T, src, dst *datastore.Store, n int) *datastore.Table {
	t.Helper()
	ctx := context.Background()
	dbtest.Exec(t, src, dbtest.KitchenDDL(src.Engine, "kitchen")...)
	tbl, err := src.Introspect(ctx, "kitchen")
	if err != nil {
		t.Fatal(err)
	}
	if err := src.WriteBatch(ctx, tbl, dbtest.KitchenRows(0, n)); err != nil {
		t.Fatal(err)
	}
	if _, err := datastore.Provision(ctx, dst, []*datastore.Table{tbl}, datastore.ProvisionOptions{Owner: "cdc-test"}); err != nil {
		t.Fatal(err)
	}
	return tbl
}

// writer makes inserts, updates (some changing only a small column of the
// row with a TOASTed text), key changes and deletes on the source.
type writer struct {
	s    *datastore.Store
	tbl  *datastore.Table
	step int
}

func (w *writer) write(t *testing.T, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := w.one(); err != nil {
			t.Fatal(err)
		}
	}
}

func (w *writer) one() error {
	ctx := context.Background()
	i := w.step
	w.step++
	ph := w.s.Placeholder
	exec := func(q string, args ...any) error {
		if _, err := w.s.DB.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("writer step %d: %s: %w", i, q, err)
		}
		return nil
	}
	switch i % 5 {
	case 0:
		if err := w.s.WriteBatch(ctx, w.tbl, [][]any{dbtest.KitchenRow(10000 + i)}); err != nil {
			return fmt.Errorf("writer insert: %w", err)
		}
	case 1:
		return exec("UPDATE kitchen SET qty = qty + 1, name = "+ph(1)+" WHERE id = "+ph(2), fmt.Sprintf("renamed-%d", i), (i*7)%300)
	case 2:
		return exec("DELETE FROM kitchen WHERE id = "+ph(1), (i*11)%300)
	case 3:
		return exec("UPDATE kitchen SET qty = qty + 100 WHERE id = 3")
	case 4:
		return exec("UPDATE kitchen SET id = "+ph(1)+" WHERE id = "+ph(2), 50000+i, (i*13)%300)
	}
	return nil
}

// untilQuiet ends a run once the writer is done and every change made
// before that is applied (Drained since the moment done was seen).
func untilQuiet(done *atomic.Bool) func(Progress) bool {
	var drained func(Progress) bool
	return func(p Progress) bool {
		if !done.Load() {
			return false
		}
		if drained == nil {
			drained = Drained(time.Now())
		}
		return drained(p)
	}
}

func runOpts(src, dst dbtest.DB, name string, m Method) RunOptions {
	return RunOptions{
		Options: Options{Source: src.Store, SourceDSN: src.DSN, Name: name, Tables: []string{"kitchen"}, Method: m},
		Target:  dst.Store, BatchChanges: 50, Wait: 100 * time.Millisecond, LagEvery: 100 * time.Millisecond,
	}
}

// Changes made during the backfill (between its batches), after it, and
// while replication runs all reach the target: same rows, same values.
func TestChangesDuringAndAfterBackfillArrive(t *testing.T) {
	for _, pc := range pairs() {
		t.Run(pc.name, func(t *testing.T) {
			src, dst := pc.open(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			tbl := seed(t, src.Store, dst.Store, 300)
			o := runOpts(src, dst, captureName(t), pc.method)
			res, err := Setup(ctx, o.Options)
			if err != nil {
				t.Fatalf("setup: %v", err)
			}
			if res.Method != pc.method {
				t.Fatalf("setup chose %s, want %s", res.Method, pc.method)
			}
			t.Cleanup(func() { Teardown(context.Background(), o.Options) })
			w := &writer{s: src.Store, tbl: tbl}
			_, err = datacopy.Run(ctx, datacopy.Options{From: src.Store, To: dst.Store, Tables: []string{"kitchen"}, BatchRows: 40},
				datacopy.Checkpoint{}, func(datacopy.Progress) { w.write(t, 7) })
			if err != nil {
				t.Fatalf("backfill: %v", err)
			}
			w.write(t, 40)
			var done atomic.Bool
			var werr atomic.Value
			go func() {
				defer done.Store(true)
				for i := 0; i < 60 && ctx.Err() == nil; i++ {
					if err := w.one(); err != nil {
						werr.Store(err)
						return
					}
					time.Sleep(2 * time.Millisecond)
				}
			}()
			o.Until = untilQuiet(&done)
			var reports int
			cp, err := Run(ctx, o, Checkpoint{}, func(Progress) { reports++ })
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if err, _ := werr.Load().(error); err != nil {
				t.Fatal(err)
			}
			if cp.Applied == 0 || reports == 0 {
				t.Fatalf("applied %d changes with %d reports, want some", cp.Applied, reports)
			}
			if pc.method == MethodLogical && cp.LSN == "" {
				t.Fatalf("logical checkpoint has no LSN: %+v", cp)
			}
			dbtest.AssertSameRows(t, src.Store, dst.Store, "kitchen")
			if dst.Store.Engine == datastore.SQLite {
				assertSQLiteRepresentation(t, dst.Store)
			}
		})
	}
}

// assertSQLiteRepresentation checks that the rows a capture applied to
// SQLite are stored as the copy stores them (docs/data-plane.md): a
// numeric(12,2) as a number, a timestamp without a zero fraction.
func assertSQLiteRepresentation(t *testing.T, s *datastore.Store) {
	t.Helper()
	var applied, textPrice, zeroFraction int
	err := s.DB.QueryRow(`SELECT count(*), sum(typeof(price) NOT IN ('real', 'integer')), sum(updated_at || '' LIKE '%.000000')
		FROM kitchen WHERE id >= 10000 AND id < 50000`).Scan(&applied, &textPrice, &zeroFraction)
	if err != nil {
		t.Fatal(err)
	}
	if applied == 0 || textPrice != 0 || zeroFraction != 0 {
		t.Fatalf("of %d rows inserted by the capture, %d have price stored as text and %d a timestamp with a zero fraction", applied, textPrice, zeroFraction)
	}
}

// faultyReader fails the confirmation of batch failAt, as a worker killed
// after applying a batch and before confirming or checkpointing it.
type faultyReader struct {
	reader
	batches, failAt int
}

var errKilled = errors.New("worker killed")

func (f *faultyReader) confirm(ctx context.Context, b batch) error {
	if b.n > 0 {
		f.batches++
		if f.batches == f.failAt {
			return errKilled
		}
	}
	return f.reader.confirm(ctx, b)
}

// A run killed between applying a batch and confirming it resumes from its
// last checkpoint: the batch is applied again, and nothing is lost or
// doubled; a replay of everything from the capture's start (killed at the
// first batch) ends in the same state.
func TestRestartFromCheckpointReplaysIdempotently(t *testing.T) {
	for _, pc := range pairs() {
		for _, failAt := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s, killed at batch %d", pc.name, failAt), func(t *testing.T) {
				src, dst := pc.open(t)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				tbl := seed(t, src.Store, dst.Store, 300)
				o := runOpts(src, dst, captureName(t), pc.method)
				if _, err := Setup(ctx, o.Options); err != nil {
					t.Fatalf("setup: %v", err)
				}
				t.Cleanup(func() { Teardown(context.Background(), o.Options) })
				if _, err := datacopy.Run(ctx, datacopy.Options{From: src.Store, To: dst.Store, Tables: []string{"kitchen"}}, datacopy.Checkpoint{}, nil); err != nil {
					t.Fatal(err)
				}
				w := &writer{s: src.Store, tbl: tbl}
				w.write(t, 200)

				first, err := killedRun(ctx, o, failAt)
				if !errors.Is(err, errKilled) {
					t.Fatalf("first run: got %v, want the injected kill", err)
				}
				var done atomic.Bool
				done.Store(true)
				o.Until = untilQuiet(&done)
				cp, err := Run(ctx, o, first, nil)
				if err != nil {
					t.Fatalf("resumed run: %v", err)
				}
				if cp.Applied <= first.Applied {
					t.Fatalf("resumed run applied nothing: %+v after %+v", cp, first)
				}
				dbtest.AssertSameRows(t, src.Store, dst.Store, "kitchen")
				// Again from the same stale checkpoint: nothing left to do, no change.
				cp2, err := Run(ctx, o, first, nil)
				if err != nil {
					t.Fatalf("third run: %v", err)
				}
				_ = cp2
				dbtest.AssertSameRows(t, src.Store, dst.Store, "kitchen")
			})
		}
	}
}

// killedRun runs until the injected kill and returns the checkpoint of the
// last report before it (what a heartbeat would have saved).
func killedRun(ctx context.Context, o RunOptions, failAt int) (Checkpoint, error) {
	o.defaults()
	m, err := existingMethod(ctx, o.Options)
	if err != nil {
		return Checkpoint{}, err
	}
	tables, err := planTables(ctx, o.Source, o.Target, o.Tables, o.Mapped)
	if err != nil {
		return Checkpoint{}, err
	}
	cp := Checkpoint{Method: m}
	var r reader
	if m == MethodLogical {
		srcs := map[string]*datastore.Table{}
		for n, p := range tables {
			srcs[n] = p.src
		}
		r, err = openLogical(ctx, o.Options, srcs, cp)
	} else {
		r, err = openTriggers(ctx, o.Options, tables)
	}
	if err != nil {
		return cp, err
	}
	defer r.close()
	saved := cp
	_, err = loop(ctx, o, &faultyReader{reader: r, failAt: failAt}, tables, cp, func(p Progress) { saved = p.Checkpoint })
	return saved, err
}

// Setup is idempotent, Teardown removes every object (slot, publication,
// changelogs, triggers, functions) and is idempotent, and a run after the
// teardown says the capture is gone.
func TestSetupAndTeardownLeaveNothing(t *testing.T) {
	for _, pc := range pairs() {
		t.Run(pc.name, func(t *testing.T) {
			src, dst := pc.open(t)
			ctx := context.Background()
			seed(t, src.Store, dst.Store, 5)
			dbtest.Exec(t, src.Store, dbtest.KitchenDDL(src.Store.Engine, "other")[0])
			o := Options{Source: src.Store, SourceDSN: src.DSN, Name: captureName(t), Tables: []string{"kitchen", "other"}, Method: pc.method}
			first, err := Setup(ctx, o)
			if err != nil {
				t.Fatalf("setup: %v", err)
			}
			if len(first.Created) == 0 {
				t.Fatal("setup created nothing")
			}
			again, err := Setup(ctx, o)
			if err != nil || len(again.Created) != 0 {
				t.Fatalf("second setup: created %v, err %v; want nothing new", again.Created, err)
			}
			objs, err := Objects(ctx, src.Store, o.Name)
			if err != nil {
				t.Fatal(err)
			}
			if len(objs) != len(first.Created) {
				t.Fatalf("objects %v, created %v", objs, first.Created)
			}
			dropped, err := Teardown(ctx, o)
			if err != nil {
				t.Fatalf("teardown: %v", err)
			}
			if len(dropped) != len(objs) {
				t.Fatalf("teardown dropped %v, want every one of %v", dropped, objs)
			}
			if left, err := Leftovers(ctx, src.Store); err != nil || len(left) != 0 {
				t.Fatalf("leftovers after teardown: %v (err %v)", left, err)
			}
			if dropped, err := Teardown(ctx, o); err != nil || len(dropped) != 0 {
				t.Fatalf("second teardown: dropped %v, err %v", dropped, err)
			}
			ro := RunOptions{Options: o, Target: dst.Store}
			ro.Tables = []string{"kitchen"}
			if _, err := Run(ctx, ro, Checkpoint{}, nil); !errors.Is(err, ErrNotSetUp) || !IsPermanent(err) {
				t.Fatalf("run after teardown: %v, want permanent ErrNotSetUp", err)
			}
		})
	}
}

// Logical replication is refused, with a reason, where the server does not
// allow it; auto picks triggers there.
func TestResolveMethod(t *testing.T) {
	ctx := context.Background()
	pg := dbtest.New(t, datastore.Postgres)
	level, err := WALLevel(ctx, pg.Store)
	if err != nil {
		t.Fatal(err)
	}
	logical := cdctest.NewLogicalDB(t)
	my := dbtest.New(t, datastore.MySQL)
	wantPG := MethodTriggers
	if level == "logical" {
		wantPG = MethodLogical
	}
	cases := []struct {
		name    string
		s       *datastore.Store
		m       Method
		want    Method
		wantErr error
	}{
		{"auto on the machine's postgres (wal_level " + level + ")", pg.Store, MethodAuto, wantPG, nil},
		{"auto on a logical postgres", logical.Store, MethodAuto, MethodLogical, nil},
		{"triggers on a logical postgres", logical.Store, MethodTriggers, MethodTriggers, nil},
		{"auto on mariadb", my.Store, MethodAuto, MethodTriggers, nil},
		{"logical on mariadb", my.Store, MethodLogical, "", ErrNotSupported},
	}
	if level != "logical" {
		cases = append(cases, struct {
			name    string
			s       *datastore.Store
			m       Method
			want    Method
			wantErr error
		}{"logical where wal_level is " + level, pg.Store, MethodLogical, "", ErrNotSupported})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Resolve(ctx, c.s, c.m)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) || !IsPermanent(err) {
					t.Fatalf("got %v, want permanent %v", err, c.wantErr)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %s, %v; want %s", got, err, c.want)
			}
		})
	}
}

// The caught-up test holds only after the lag stayed under the limit long
// enough, and starts over when it rises.
func TestCaughtUp(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(sec int, lag float64) Progress {
		return Progress{Lag: Lag{Seconds: lag, Measured: t0.Add(time.Duration(sec) * time.Second)}}
	}
	cases := []struct {
		name  string
		steps []Progress
		want  []bool
	}{
		{"under the limit for the hold", []Progress{at(0, 1), at(2, 0.5), at(3, 0)}, []bool{false, false, true}},
		{"a rise starts the hold over", []Progress{at(0, 1), at(2, 9), at(3, 1), at(5, 1), at(6, 1)}, []bool{false, false, false, false, true}},
		{"never under", []Progress{at(0, 6), at(10, 7)}, []bool{false, false}},
		{"a young backlog that takes long to apply is not caught up", []Progress{
			{Lag: Lag{Seconds: 0.1, Changes: 1000, Measured: t0}, ChangesPerSecond: 100},
			{Lag: Lag{Seconds: 0.1, Changes: 1000, Measured: t0.Add(5 * time.Second)}, ChangesPerSecond: 100},
			{Lag: Lag{Seconds: 0.1, Changes: 100, Measured: t0.Add(6 * time.Second)}, ChangesPerSecond: 100},
			{Lag: Lag{Seconds: 0.1, Changes: 100, Measured: t0.Add(9 * time.Second)}, ChangesPerSecond: 100},
		}, []bool{false, false, false, true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			until := CaughtUp(5*time.Second, 3*time.Second)
			for i, p := range c.steps {
				if got := until(p); got != c.want[i] {
					t.Fatalf("step %d (lag %.1fs at %s): got %v, want %v", i, p.Lag.Seconds, p.Lag.Measured.Format("05"), got, c.want[i])
				}
			}
		})
	}
}

// Coalescing keeps one change per key: the last state wins, a partial
// update folds into the row before it, a partial update after a delete is
// read back from the source, a truncate forgets what came before.
func TestBatchCoalesces(t *testing.T) {
	key := []int{0}
	full := func(id, v int) change { return change{row: []any{int64(id), int64(v), "x"}} }
	part := func(id, v int) change {
		return change{row: []any{int64(id), int64(v), nil}, set: []bool{true, true, false}}
	}
	del := func(id int) change { return change{delete: true, row: []any{int64(id), nil, nil}} }
	look := func(id int) change { return change{lookup: true, row: []any{int64(id), nil, nil}} }
	cases := []struct {
		name string
		in   []change
		want []change
	}{
		{"last full row wins", []change{full(1, 1), full(1, 2)}, []change{full(1, 2)}},
		{"partial folds into full", []change{full(1, 1), part(1, 5)}, []change{full(1, 5)}},
		// A partial change after a delete is a row moved onto the key by
		// a key change (an insert would be whole): only the source has
		// the values left out, so the key is read back.
		{"partial after delete is read back", []change{del(1), part(1, 5)}, []change{{lookup: true, row: part(1, 5).row}}},
		{"read back after anything is read back", []change{full(1, 1), look(1)}, []change{look(1)}},
		{"partial after read back is the read back", []change{look(1), part(1, 5)}, []change{look(1)}},
		{"delete after read back is the delete", []change{look(1), del(1)}, []change{del(1)}},
		{"full row after read back is the row", []change{look(1), full(1, 3)}, []change{full(1, 3)}},
		{"delete then insert is the insert", []change{del(1), full(1, 3)}, []change{full(1, 3)}},
		{"two partials merge", []change{part(1, 5), {row: []any{int64(1), nil, "y"}, set: []bool{true, false, true}}},
			[]change{{row: []any{int64(1), int64(5), "y"}, set: []bool{true, true, true}}}},
		{"keys kept apart", []change{full(1, 1), full(2, 2), del(1)}, []change{del(1), full(2, 2)}},
		{"truncate forgets the earlier changes", []change{full(1, 1), {truncate: true}, full(2, 2)}, []change{full(2, 2)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b batch
			for _, ch := range c.in {
				b.add("t", key, ch)
			}
			got := b.tables["t"].muts
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

// PostgreSQL leaves an unchanged TOASTed value out of an update's change;
// the target keeps its copy instead of losing it.
func TestLogicalKeepsUnchangedToastedValues(t *testing.T) {
	src, dst := cdctest.NewLogicalDB(t), dbtest.New(t, datastore.SQLite)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dbtest.Exec(t, src.Store, "CREATE TABLE big (id bigint PRIMARY KEY, qty integer NOT NULL, doc text NOT NULL)",
		// md5 chains do not compress: the value is stored out of line.
		"INSERT INTO big SELECT g, 0, (SELECT string_agg(md5(g::text || i::text), '') FROM generate_series(1, 2000) i) FROM generate_series(1, 3) g")
	tbl, err := src.Store.Introspect(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := datastore.Provision(ctx, dst.Store, []*datastore.Table{tbl}, datastore.ProvisionOptions{Owner: "cdc-test"}); err != nil {
		t.Fatal(err)
	}
	o := runOpts(src, dst, captureName(t), MethodLogical)
	o.Tables = []string{"big"}
	if _, err := Setup(ctx, o.Options); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Teardown(context.Background(), o.Options) })
	if _, err := datacopy.Run(ctx, datacopy.Options{From: src.Store, To: dst.Store, Tables: []string{"big"}}, datacopy.Checkpoint{}, nil); err != nil {
		t.Fatal(err)
	}
	dbtest.Exec(t, src.Store, "UPDATE big SET qty = qty + 1", "UPDATE big SET qty = qty + 1 WHERE id = 2")
	var done atomic.Bool
	done.Store(true)
	o.Until = untilQuiet(&done)
	if _, err := Run(ctx, o, Checkpoint{}, nil); err != nil {
		t.Fatal(err)
	}
	dbtest.AssertSameRows(t, src.Store, dst.Store, "big")
}

// An update that changes a row's key while the row holds an unchanged
// TOASTed value: pgoutput leaves the value out of the new tuple, so the
// change for the new key is partial, and the target has no row under the
// new key to update. The row is read back from the source instead of
// vanishing, also when its new key was deleted just before in the same
// batch (delete K, then a partial change to K).
func TestLogicalKeyChangeOfARowWithAToastedValue(t *testing.T) {
	src, dst := cdctest.NewLogicalDB(t), dbtest.New(t, datastore.SQLite)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dbtest.Exec(t, src.Store, "CREATE TABLE bigkey (id bigint PRIMARY KEY, qty integer NOT NULL, doc text NOT NULL)",
		// md5 chains do not compress: the value (64 KB) is stored out of line.
		"INSERT INTO bigkey SELECT g, 0, (SELECT string_agg(md5(g::text || i::text), '') FROM generate_series(1, 2000) i) FROM generate_series(1, 5) g",
		// A key of two columns: the read-back matches them together.
		"CREATE TABLE bigpair (a integer, b text, doc text NOT NULL, PRIMARY KEY (a, b))",
		"INSERT INTO bigpair SELECT g, 'k' || g, (SELECT string_agg(md5(g::text || i::text), '') FROM generate_series(1, 2000) i) FROM generate_series(1, 3) g")
	for _, name := range []string{"bigkey", "bigpair"} {
		tbl, err := src.Store.Introspect(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := datastore.Provision(ctx, dst.Store, []*datastore.Table{tbl}, datastore.ProvisionOptions{Owner: "cdc-test"}); err != nil {
			t.Fatal(err)
		}
	}
	o := runOpts(src, dst, captureName(t), MethodLogical)
	o.Tables = []string{"bigkey", "bigpair"}
	if _, err := Setup(ctx, o.Options); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Teardown(context.Background(), o.Options) })
	if _, err := datacopy.Run(ctx, datacopy.Options{From: src.Store, To: dst.Store, Tables: o.Tables}, datacopy.Checkpoint{}, nil); err != nil {
		t.Fatal(err)
	}
	dbtest.Exec(t, src.Store,
		"UPDATE bigkey SET id = 100 WHERE id = 1",                                               // a key change alone
		"UPDATE bigkey SET id = 200, qty = 7 WHERE id = 2",                                      // with another column
		"BEGIN; DELETE FROM bigkey WHERE id = 3; UPDATE bigkey SET id = 3 WHERE id = 4; COMMIT", // delete K, then K again
		"UPDATE bigpair SET b = 'moved' WHERE a = 1",
		"UPDATE bigpair SET a = 20, b = 'k2' WHERE a = 2",
	)
	var done atomic.Bool
	done.Store(true)
	o.Until = untilQuiet(&done)
	if _, err := Run(ctx, o, Checkpoint{}, nil); err != nil {
		t.Fatal(err)
	}
	dbtest.AssertSameRows(t, src.Store, dst.Store, "bigkey")
	dbtest.AssertSameRows(t, src.Store, dst.Store, "bigpair")
}

// A table that was not captured from the start (created after setup, then
// matched by a pattern) is refused: its changes since setup are lost.
func TestRunRefusesATableCapturedAfterSetup(t *testing.T) {
	for _, pc := range pairs() {
		t.Run(pc.name, func(t *testing.T) {
			src, dst := pc.open(t)
			ctx := context.Background()
			seed(t, src.Store, dst.Store, 5)
			o := runOpts(src, dst, captureName(t), pc.method)
			if _, err := Setup(ctx, o.Options); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { Teardown(context.Background(), o.Options) })
			dbtest.Exec(t, src.Store, dbtest.KitchenDDL(src.Store.Engine, "later")[0])
			dbtest.Exec(t, dst.Store, dbtest.KitchenDDL(dst.Store.Engine, "later")[0])
			o.Tables = []string{"kitchen", "later"}
			_, err := Run(ctx, o, Checkpoint{}, nil)
			if !errors.Is(err, ErrNotSetUp) || !strings.Contains(err.Error(), "later") {
				t.Fatalf("got %v, want ErrNotSetUp naming table later", err)
			}
		})
	}
}

// A column added on the source while the replication runs stops it with
// ErrSchemaDrift naming the column, whatever the method (the triggers
// record only keys, so the trigger run compares the table's columns every
// few seconds; pgoutput announces the new relation), after applying what
// it read before; nothing is applied in the wrong shape.
func TestColumnAddedWhileReplicatingStopsTheRun(t *testing.T) {
	for _, pc := range pairs() {
		t.Run(pc.name, func(t *testing.T) {
			t.Parallel()
			src, dst := pc.open(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			tbl := seed(t, src.Store, dst.Store, 20)
			o := runOpts(src, dst, captureName(t), pc.method)
			if _, err := Setup(ctx, o.Options); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { Teardown(context.Background(), o.Options) })
			w := &writer{s: src.Store, tbl: tbl}
			w.write(t, 10)
			added := false
			o.Until = func(Progress) bool { return false }
			_, err := Run(ctx, o, Checkpoint{}, func(p Progress) {
				if !added && p.AppliedThisRun > 0 {
					added = true
					dbtest.Exec(t, src.Store, "ALTER TABLE kitchen ADD COLUMN extra TEXT")
					if err := w.one(); err != nil { // a change in the new shape
						t.Error(err)
					}
				}
			})
			if !added {
				t.Fatal("nothing was applied before the column was to be added")
			}
			if !errors.Is(err, ErrSchemaDrift) || !IsPermanent(err) {
				t.Fatalf("got %v, want a permanent ErrSchemaDrift", err)
			}
			if !strings.Contains(err.Error(), "extra") {
				t.Fatalf("the error does not name the new column: %v", err)
			}
		})
	}
}

// The logical reader deletes rows and notices key changes by the old
// tuple's primary key: a table whose REPLICA IDENTITY leaves it out is
// refused at setup, naming the fix.
func TestLogicalRefusesAReplicaIdentityWithoutTheKey(t *testing.T) {
	src := cdctest.NewLogicalDB(t)
	dbtest.Exec(t, src.Store, "CREATE TABLE ident_n (id bigint PRIMARY KEY, v text)", "ALTER TABLE ident_n REPLICA IDENTITY NOTHING",
		"CREATE TABLE ident_i (id bigint PRIMARY KEY, code text NOT NULL UNIQUE)", "ALTER TABLE ident_i REPLICA IDENTITY USING INDEX ident_i_code_key",
		"CREATE TABLE ident_f (id bigint PRIMARY KEY, v text)", "ALTER TABLE ident_f REPLICA IDENTITY FULL")
	for _, c := range []struct {
		table string
		ok    bool
	}{{"ident_n", false}, {"ident_i", false}, {"ident_f", true}} {
		o := Options{Source: src.Store, SourceDSN: src.DSN, Name: captureName(t), Tables: []string{c.table}, Method: MethodLogical}
		_, err := Setup(context.Background(), o)
		t.Cleanup(func() { Teardown(context.Background(), o) })
		if c.ok && err != nil {
			t.Errorf("%s: %v", c.table, err)
		}
		if !c.ok && (!errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), "REPLICA IDENTITY DEFAULT")) {
			t.Errorf("%s: Setup = %v, want ErrNotSupported naming REPLICA IDENTITY DEFAULT", c.table, err)
		}
	}
}
