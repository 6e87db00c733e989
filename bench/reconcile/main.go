// Command reconcile is the reconcile benchmark (issue 7, issue 24): it
// builds a PostgreSQL table of GODWIT_BENCH_ROWS rows (default 1,000,000,
// about 110 bytes each) in two databases, identical, and times Godwit's
// check through the CLI (`godwit diff`, a separate process, across the two
// databases) against the reference: the Migration Architect delta query
// (NOT EXISTS both ways) plus a full-row EXCEPT each way, run on copies of
// both tables in one database, the two interleaved for -rounds rounds. It
// prints rows/s for both, the canonical cross-engine hash (--portable-hash)
// against the same reference, then makes 100 differences of each class at
// seeded random keys and checks that Godwit finds and classifies every one.
// Then PostgreSQL ↔ MariaDB on the same rows: Godwit against the
// cross-engine reference of cross.go (key, md5(canonical text) streamed
// from both engines in key order and merged in Go), interleaved, then with
// planted differences that both must find, printing `cross-engine
// speedup: X`. Last, `speedup: X` (reference ÷ Godwit, PostgreSQL ↔
// PostgreSQL, summed over the rounds). Every database it creates is
// dropped at the end.
//
//	go run ./bench/reconcile            # or: bench/reconcile.sh
//
// Needs PostgreSQL on 127.0.0.1:5432 and MariaDB on 127.0.0.1:3306 (or
// GODWIT_TEST_POSTGRES / GODWIT_TEST_MYSQL admin DSNs). Not part of the
// normal test run.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/reconcile"
)

func main() {
	rows := flag.Int("rows", envInt("GODWIT_BENCH_ROWS", 1_000_000), "rows in the table")
	seed := flag.Uint64("seed", 7, "seed of the random keys that differ")
	skipMaria := flag.Bool("skip-mariadb", false, "leave out the PostgreSQL ↔ MariaDB measure")
	rounds := flag.Int("rounds", 2, "interleaved reference and godwit runs on identical tables, per pair of engines")
	flag.Parse()
	if err := run(context.Background(), *rows, *seed, !*skipMaria, max(1, *rounds)); err != nil {
		fmt.Fprintln(os.Stderr, "bench/reconcile:", err)
		os.Exit(1)
	}
}

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v > 0 {
		return v
	}
	return def
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// bench holds the databases of one run.
type bench struct {
	ctx      context.Context
	n        int
	godwit   string // the CLI binary
	pgAdmin  *datastore.Store
	pgURL    *url.URL
	src, tgt *datastore.Store // the two databases Godwit compares
	ref      *datastore.Store // copies of both tables, for the reference
	srcDSN   string
	tgtDSN   string
	drops    []func()
}

func run(ctx context.Context, n int, seed uint64, maria bool, rounds int) error {
	b := &bench{ctx: ctx, n: n}
	defer b.cleanup()
	if err := b.build(); err != nil {
		return err
	}
	suffix := randomSuffix()
	var err error
	pgAdmin := envOr("GODWIT_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	if b.pgURL, err = url.Parse(pgAdmin); err != nil {
		return fmt.Errorf("GODWIT_TEST_POSTGRES: %w", err)
	}
	if b.pgAdmin, err = datastore.Open(ctx, datastore.Postgres, pgAdmin); err != nil {
		return fmt.Errorf("PostgreSQL is not reachable: %w", err)
	}
	// Closed after the databases are dropped through it (drops run last
	// first): a deferred Close here ran before cleanup and left them all.
	b.drops = append(b.drops, func() { b.pgAdmin.Close() })
	if b.src, b.srcDSN, err = b.pgDatabase("godwit_benchrc_src_" + suffix); err != nil {
		return err
	}
	if b.tgt, b.tgtDSN, err = b.pgDatabase("godwit_benchrc_tgt_" + suffix); err != nil {
		return err
	}
	if b.ref, _, err = b.pgDatabase("godwit_benchrc_ref_" + suffix); err != nil {
		return err
	}
	start := time.Now()
	for _, t := range []struct {
		s    *datastore.Store
		name string
	}{{b.src, "events"}, {b.tgt, "events"}, {b.ref, "events_a"}, {b.ref, "events_b"}} {
		if err := exec1(ctx, t.s, pgTable(t.name, n)...); err != nil {
			return err
		}
	}
	fmt.Printf("built %d rows × 4 PostgreSQL tables in %.1fs (%s)\n", n, time.Since(start).Seconds(), b.tableSize())

	// Identical tables: reference and godwit interleaved, rounds times.
	var ref refResult
	var g godwitResult
	var refSum, gSum float64
	fmt.Printf("identical %d rows:\n", n)
	for round := 1; round <= rounds; round++ {
		r, refParts, err := b.reference()
		if err != nil {
			return err
		}
		if r.total() != 0 {
			return fmt.Errorf("the reference found %d differences in identical tables", r.total())
		}
		gr, err := b.diff(false)
		if err != nil {
			return err
		}
		if gr.differing != 0 {
			return fmt.Errorf("godwit found %d differences in identical tables", gr.differing)
		}
		ref, g = r, gr
		refSum += r.seconds
		gSum += gr.seconds
		fmt.Printf("  round %d: reference (NOT EXISTS both ways + EXCEPT each way, one database): %.2fs (%.0f rows/s; %s)\n",
			round, r.seconds, rate(n, r.seconds), refParts)
		fmt.Printf("  round %d: godwit diff, postgres ↔ postgres (%s): %.2fs (%.0f rows/s; check %.2fs, %d queries, %d rows fetched)\n",
			round, gr.method, gr.seconds, rate(n, gr.seconds), gr.checkSeconds, gr.queries, gr.fetched)
	}
	p, err := b.diff(true)
	if err != nil {
		return err
	}
	if p.differing != 0 {
		return fmt.Errorf("godwit (portable hash) found %d differences in identical tables", p.differing)
	}
	fmt.Printf("  godwit diff --portable-hash (%s): %.2fs (%.0f rows/s)\n", p.method, p.seconds, rate(n, p.seconds))
	fmt.Printf("canonical cross-engine hash speedup: %.2f\n", ref.seconds/p.seconds)

	// 100 differences of each class at seeded random keys.
	want, stmts := differences(n, seed)
	for _, t := range []struct {
		s    *datastore.Store
		name string
	}{{b.src, "events"}, {b.tgt, "events"}, {b.ref, "events_a"}, {b.ref, "events_b"}} {
		side := stmts.src
		if t.name == "events" && t.s == b.tgt || t.name == "events_b" {
			side = stmts.tgt
		}
		var qs []string
		for _, q := range side {
			qs = append(qs, strings.ReplaceAll(q, "{t}", t.name))
		}
		qs = append(qs, "VACUUM ANALYZE "+t.name)
		if err := exec1(ctx, t.s, qs...); err != nil {
			return err
		}
	}
	ref2, refParts2, err := b.reference()
	if err != nil {
		return err
	}
	g2, err := b.diff(false)
	if err != nil {
		return err
	}
	found := g2.keys
	ok := true
	for _, c := range []reconcile.Class{reconcile.MissingInTarget, reconcile.ExtraInTarget, reconcile.Mismatched} {
		if strings.Join(found[c], " ") != strings.Join(want[c], " ") {
			ok = false
			fmt.Printf("  MISSED: %s found %d keys, want %d\n", c, len(found[c]), len(want[c]))
		}
	}
	fmt.Printf("with 100 differences per class (seed %d):\n", seed)
	fmt.Printf("  reference: %.2fs (%s; found %d missing, %d extra, %d mismatched)\n",
		ref2.seconds, refParts2, ref2.missing, ref2.extra, ref2.mismatched)
	fmt.Printf("  godwit diff: %.2fs (%.2fx the last identical case; check %.2fs, %d queries, %d rows fetched); found %d missing_in_target, %d extra_in_target, %d mismatched, every key as planted: %v\n",
		g2.seconds, g2.seconds/g.seconds, g2.checkSeconds, g2.queries, g2.fetched,
		len(found[reconcile.MissingInTarget]), len(found[reconcile.ExtraInTarget]), len(found[reconcile.Mismatched]), ok)

	crossOK := true
	if maria {
		if crossOK, err = b.mariadb(suffix, seed, rounds); err != nil {
			return err
		}
	}
	fmt.Printf("speedup: %.2f\n", refSum/gSum)
	if !ok || !crossOK {
		return fmt.Errorf("godwit or the reference did not find every planted difference")
	}
	return nil
}

func rate(n int, s float64) float64 { return float64(n) / s }

// build compiles the CLI once, so its timing is the check, not the build.
func (b *bench) build() error {
	dir, err := os.MkdirTemp("", "godwit-benchrc-")
	if err != nil {
		return err
	}
	b.drops = append(b.drops, func() { os.RemoveAll(dir) })
	b.godwit = filepath.Join(dir, "godwit")
	cmd := exec.CommandContext(b.ctx, "go", "build", "-o", b.godwit, "./starter")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build godwit: %w", err)
	}
	return nil
}

func (b *bench) cleanup() {
	for i := len(b.drops) - 1; i >= 0; i-- {
		b.drops[i]()
	}
}

func randomSuffix() string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	return hex.EncodeToString(r[:])
}

// pgDatabase creates a database, dropped at the end.
func (b *bench) pgDatabase(name string) (*datastore.Store, string, error) {
	if _, err := b.pgAdmin.DB.ExecContext(b.ctx, "CREATE DATABASE "+name); err != nil {
		return nil, "", fmt.Errorf("create database %s: %w", name, err)
	}
	b.drops = append(b.drops, func() {
		_, _ = b.pgAdmin.DB.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u := *b.pgURL
	u.Path = "/" + name
	s, err := datastore.Open(b.ctx, datastore.Postgres, u.String())
	if err != nil {
		return nil, "", fmt.Errorf("open %s: %w", name, err)
	}
	b.drops = append(b.drops, func() { s.Close() })
	return s, u.String(), nil
}

func exec1(ctx context.Context, s *datastore.Store, stmts ...string) error {
	for _, q := range stmts {
		if _, err := s.DB.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%.80s: %w", q, err)
		}
	}
	return nil
}

// pgTable creates and fills a table of n rows of about 110 bytes.
func pgTable(name string, n int) []string {
	return []string{
		`CREATE TABLE ` + name + ` (id bigint PRIMARY KEY, account int NOT NULL, status varchar(12) NOT NULL,
			amount numeric(12,2), note text, created_at timestamp(6), paid boolean)`,
		fmt.Sprintf(`INSERT INTO %s SELECT i, i %% 9973, (ARRAY['new','paid','shipped','void'])[1 + i %% 4],
			(i * 37 %% 1000000) / 100.0, 'order ' || i || ' ' || md5(i::text) || ' ' || substr(md5((i * 7)::text), 1, 20),
			timestamp '2024-01-01' + i * interval '1 second', i %% 3 = 0
			FROM generate_series(1, %d) i`, name, n),
		"VACUUM ANALYZE " + name,
	}
}

func (b *bench) tableSize() string {
	var size string
	var avg float64
	_ = b.src.DB.QueryRowContext(b.ctx, "SELECT pg_size_pretty(pg_table_size('events')), (SELECT avg(pg_column_size(e.*)) FROM (SELECT * FROM events LIMIT 10000) e)").Scan(&size, &avg)
	return fmt.Sprintf("%s per table, ~%.0f bytes a row", size, avg)
}

// planted is the statements that make the differences, per side, and the
// keys expected in each class (sorted as text).
type planted struct{ src, tgt []string }

func differences(n int, seed uint64) (map[reconcile.Class][]string, planted) {
	r := mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	seen := map[int]bool{}
	pick := func() []string {
		var out []string
		for len(out) < 100 {
			k := 1 + r.IntN(n)
			if !seen[k] {
				seen[k] = true
				out = append(out, strconv.Itoa(k))
			}
		}
		return out
	}
	missing, extra, changed := pick(), pick(), pick()
	want := map[reconcile.Class][]string{reconcile.MissingInTarget: missing, reconcile.ExtraInTarget: extra, reconcile.Mismatched: changed}
	for _, ks := range want {
		sort.Strings(ks)
	}
	return want, planted{
		// Extra keys: rows the target has and the source lost.
		src: []string{"DELETE FROM {t} WHERE id IN (" + strings.Join(extra, ",") + ")"},
		tgt: []string{
			"DELETE FROM {t} WHERE id IN (" + strings.Join(missing, ",") + ")",
			"UPDATE {t} SET amount = amount + 0.01 WHERE id IN (" + strings.Join(changed, ",") + ")",
		},
	}
}

// refResult is the reference's time and counts.
type refResult struct {
	seconds                     float64
	missing, extra, mismatched  int64
	notExists, except1, except2 float64
}

func (r refResult) total() int64 { return r.missing + r.extra + r.mismatched }

// reference runs the delta query and the two EXCEPTs on the copies.
func (b *bench) reference() (refResult, string, error) {
	var r refResult
	timed := func(q string, into *int64) (float64, error) {
		start := time.Now()
		if err := b.ref.DB.QueryRowContext(b.ctx, q).Scan(into); err != nil {
			return 0, fmt.Errorf("reference %.60s: %w", q, err)
		}
		return time.Since(start).Seconds(), nil
	}
	var err error
	var tmp int64
	// The delta query: keys only in one side, both ways.
	if r.notExists, err = timed(`SELECT (SELECT count(*) FROM events_a a WHERE NOT EXISTS (SELECT 1 FROM events_b b WHERE b.id = a.id))`, &r.missing); err != nil {
		return r, "", err
	}
	t, err := timed(`SELECT count(*) FROM events_b b WHERE NOT EXISTS (SELECT 1 FROM events_a a WHERE a.id = b.id)`, &r.extra)
	if err != nil {
		return r, "", err
	}
	r.notExists += t
	// Full-row EXCEPT each way: rows that differ in any column (the
	// missing and extra keys show up here too).
	if r.except1, err = timed(`SELECT count(*) FROM (SELECT * FROM events_a EXCEPT SELECT * FROM events_b) x`, &r.mismatched); err != nil {
		return r, "", err
	}
	if r.except2, err = timed(`SELECT count(*) FROM (SELECT * FROM events_b EXCEPT SELECT * FROM events_a) x`, &tmp); err != nil {
		return r, "", err
	}
	r.mismatched -= r.missing // a_except_b = missing + mismatched
	r.seconds = r.notExists + r.except1 + r.except2
	return r, fmt.Sprintf("delta query %.2fs, EXCEPT %.2fs + %.2fs", r.notExists, r.except1, r.except2), nil
}

// godwitResult is one `godwit diff` run.
type godwitResult struct {
	seconds, checkSeconds float64
	method                string
	differing             int64
	queries, fetched      int64
	keys                  map[reconcile.Class][]string
}

// diff runs `godwit diff` between the two databases and reads its JSON.
func (b *bench) diff(portable bool) (godwitResult, error) {
	return b.diffWith("postgres", b.tgtDSN, "", portable)
}

func (b *bench) diffWith(toEngine, toDSN, label string, portable bool) (godwitResult, error) {
	args := []string{"diff", "--from-engine", "postgres", "--from-dsn-env", "BENCH_A", "--from-table", "events",
		"--to-engine", toEngine, "--to-dsn-env", "BENCH_B", "-o", "json"}
	if portable {
		args = append(args, "--portable-hash")
	}
	cmd := exec.CommandContext(b.ctx, b.godwit, args...)
	cmd.Env = append(os.Environ(), "BENCH_A="+b.srcDSN, "BENCH_B="+toDSN)
	cmd.Stderr = os.Stderr
	start := time.Now()
	out, err := cmd.Output()
	took := time.Since(start).Seconds()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
			return godwitResult{}, fmt.Errorf("godwit diff%s: %w", label, err)
		}
	}
	var rep reconcile.Report
	if err := json.Unmarshal(out, &rep); err != nil {
		return godwitResult{}, fmt.Errorf("godwit diff%s: output: %w", label, err)
	}
	t := rep.Tables[0]
	g := godwitResult{seconds: took, checkSeconds: rep.Seconds, method: t.Method, differing: rep.Differing(),
		queries: t.Checksums, fetched: t.RowsFetched, keys: map[reconcile.Class][]string{}}
	for _, d := range t.Differences {
		g.keys[d.Class] = append(g.keys[d.Class], strings.Join(d.Key, ","))
	}
	for _, ks := range g.keys {
		sort.Strings(ks)
	}
	return g, nil
}

// mariadb rebuilds the PostgreSQL source without the differences, builds
// the same rows in MariaDB from the same arithmetic, and times godwit diff
// from one to the other against the cross-engine reference (cross.go),
// interleaved, on identical tables and then with planted differences, which
// both must find. It prints `cross-engine speedup: X` (reference ÷ godwit,
// summed over the identical rounds) and reports whether both found every
// planted key.
func (b *bench) mariadb(suffix string, seed uint64, rounds int) (bool, error) {
	admin := envOr("GODWIT_TEST_MYSQL", "root@tcp(127.0.0.1:3306)/")
	m, err := datastore.Open(b.ctx, datastore.MySQL, admin)
	if err != nil {
		return false, fmt.Errorf("MariaDB is not reachable: %w", err)
	}
	defer m.Close()
	name := "godwit_benchrc_my_" + suffix
	if _, err := m.DB.ExecContext(b.ctx, "CREATE DATABASE "+name); err != nil {
		return false, fmt.Errorf("create database %s: %w", name, err)
	}
	defer m.DB.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name)
	dsn := strings.TrimSuffix(admin, "/") + "/" + name
	if i := strings.Index(admin, ")/"); i >= 0 {
		dsn = admin[:i+2] + name + admin[i+2:]
	}
	my, err := datastore.Open(b.ctx, datastore.MySQL, dsn)
	if err != nil {
		return false, fmt.Errorf("open %s: %w", name, err)
	}
	defer my.Close()
	start := time.Now()
	// Rebuild the PostgreSQL source without the differences, and the
	// same rows in MariaDB from the same arithmetic.
	if err := exec1(b.ctx, b.src, append([]string{"DROP TABLE events"}, pgTable("events", b.n)...)...); err != nil {
		return false, err
	}
	if err := exec1(b.ctx, my,
		`CREATE TABLE events (id BIGINT PRIMARY KEY, account INT NOT NULL, status VARCHAR(12) NOT NULL,
			amount DECIMAL(12,2), note TEXT, created_at DATETIME(6), paid TINYINT(1))
			DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
		fmt.Sprintf(`INSERT INTO events SELECT seq, seq %% 9973, ELT(1 + seq %% 4, 'new','paid','shipped','void'),
			(seq * 37 %% 1000000) / 100.0, CONCAT('order ', seq, ' ', md5(seq), ' ', substr(md5(seq * 7), 1, 20)),
			TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq SECOND, seq %% 3 = 0 FROM seq_1_to_%d`, b.n),
		"ANALYZE TABLE events"); err != nil {
		return false, err
	}
	fmt.Printf("built the table in MariaDB and rebuilt the PostgreSQL source in %.1fs\n", time.Since(start).Seconds())

	fmt.Printf("postgres ↔ mariadb, identical %d rows:\n", b.n)
	var refSum, gSum float64
	for round := 1; round <= rounds; round++ {
		keys, refSecs, err := crossReference(b.ctx, b.src.DB, my.DB)
		if err != nil {
			return false, err
		}
		if n := len(keys[reconcile.MissingInTarget]) + len(keys[reconcile.ExtraInTarget]) + len(keys[reconcile.Mismatched]); n != 0 {
			return false, fmt.Errorf("the cross-engine reference found %d differences between equal tables (%s)", n, counts(keys))
		}
		g, err := b.diffWith("mysql", dsn, " to MariaDB", false)
		if err != nil {
			return false, err
		}
		if g.differing != 0 {
			return false, fmt.Errorf("godwit found %d differences between equal PostgreSQL and MariaDB tables", g.differing)
		}
		refSum += refSecs
		gSum += g.seconds
		fmt.Printf("  round %d: reference (key, md5(canonical text) streamed from both in key order, merged in Go): %.2fs (%.0f rows/s)\n",
			round, refSecs, rate(b.n, refSecs))
		fmt.Printf("  round %d: godwit diff (%s): %.2fs (%.0f rows/s; check %.2fs, %d queries, %d rows fetched)\n",
			round, g.method, g.seconds, rate(b.n, g.seconds), g.checkSeconds, g.queries, g.fetched)
	}

	// The same planted differences as between the PostgreSQL tables.
	want, stmts := differences(b.n, seed)
	var pgQ, myQ []string
	for _, q := range stmts.src {
		pgQ = append(pgQ, strings.ReplaceAll(q, "{t}", "events"))
	}
	for _, q := range stmts.tgt {
		myQ = append(myQ, strings.ReplaceAll(q, "{t}", "events"))
	}
	if err := exec1(b.ctx, b.src, append(pgQ, "VACUUM ANALYZE events")...); err != nil {
		return false, err
	}
	if err := exec1(b.ctx, my, append(myQ, "ANALYZE TABLE events")...); err != nil {
		return false, err
	}
	keys, refSecs, err := crossReference(b.ctx, b.src.DB, my.DB)
	if err != nil {
		return false, err
	}
	g, err := b.diffWith("mysql", dsn, " to MariaDB", false)
	if err != nil {
		return false, err
	}
	refOK, gOK := sameKeys(keys, want), sameKeys(g.keys, want)
	fmt.Printf("postgres ↔ mariadb with 100 differences per class (seed %d):\n", seed)
	fmt.Printf("  reference: %.2fs (found %s; every key as planted: %v)\n", refSecs, counts(keys), refOK)
	fmt.Printf("  godwit diff: %.2fs (check %.2fs, %d queries, %d rows fetched; found %s; every key as planted: %v)\n",
		g.seconds, g.checkSeconds, g.queries, g.fetched, counts(g.keys), gOK)
	fmt.Printf("cross-engine speedup: %.2f\n", refSum/gSum)
	return refOK && gOK, nil
}
