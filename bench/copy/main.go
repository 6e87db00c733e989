// Command copy is the data-plane benchmark: it copies generated PostgreSQL
// tables through a real migration (a Temporal dev server, a godwit-worker
// process, the provision and copy drivers, checkpoints) and, alternating in
// the same run, through the raw reference pipe
// `psql \copy t to stdout | psql \copy t from stdin`, each into a fresh
// database whose table has only its primary key. Two shapes are copied to
// PostgreSQL: t (mixed types, about 100 bytes a row) and pgbench_accounts
// (pgbench's own: three integers and a char(84)). It prints the medians in
// rows/s; PostgreSQL → MariaDB against `psql \copy | mariadb LOAD DATA
// LOCAL INFILE` ("mariadb ratio: X"); PostgreSQL → SQLite against
// `psql \copy | sqlite3 .import` ("sqlite ratio: X"); the worker's peak
// RSS (VmHWM) for N and 2N rows; "mapped ratio: X" (t through a mapping of
// renames and one computed column ÷ unmapped); and, last, "ratio: X"
// (Godwit ÷ reference, PostgreSQL → PostgreSQL, the lower of the two
// shapes).
//
// Run it from the repository root: go run ./bench/copy (flags: -rows, -runs,
// -batch). It needs PostgreSQL and MariaDB on 127.0.0.1 (PostgreSQL as
// GODWIT_BENCH_POSTGRES, default postgres://postgres@127.0.0.1:5432; MariaDB
// as root without password), psql, mariadb, sqlite3 and the Temporal CLI
// (bin/temporal or GODWIT_TEMPORAL_BIN). Not part of the normal test run.
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/godwit/godwit/bench/internal/devserver"
	"github.com/godwit/godwit/cli"
	"github.com/godwit/godwit/migration"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/copy:", err)
		os.Exit(1)
	}
}

type bench struct {
	rows, runs, batch int
	dir               string
	pgURL             string // admin URL without database
	myHost, myUser    string
	address, queue    string
	workerBin         string
	worker            *exec.Cmd
	suffix            string
	nameSeq           int
}

func run() error {
	b := &bench{}
	flag.IntVar(&b.rows, "rows", 1_000_000, "rows in the generated table")
	flag.IntVar(&b.runs, "runs", 3, "runs of each side (medians count)")
	flag.IntVar(&b.batch, "batch", 10_000, "the copy phase's batchRows")
	flag.Parse()
	var err error
	if b.dir, err = os.MkdirTemp("", "godwit-bench-copy"); err != nil {
		return err
	}
	defer os.RemoveAll(b.dir)
	b.suffix = randomHex(4)
	b.pgURL = strings.TrimSuffix(envOr("GODWIT_BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432"), "/")
	b.myHost, b.myUser = "127.0.0.1", "root"

	stop, err := b.startServer()
	if err != nil {
		return err
	}
	defer stop()
	if err := b.buildWorker(); err != nil {
		return err
	}
	if err := b.startWorker(); err != nil {
		return err
	}
	defer b.stopWorker()

	src := "godwit_bench_src_" + b.suffix
	if err := b.pgCreate(src); err != nil {
		return err
	}
	defer b.pgDrop(src)
	fmt.Printf("generating %d rows of t and of pgbench_accounts in PostgreSQL database %s\n", b.rows, src)
	if err := b.generate(src, 1, b.rows); err != nil {
		return err
	}
	if err := b.generatePgbench(src); err != nil {
		return err
	}

	// PostgreSQL → PostgreSQL, alternating within each run: both shapes
	// unmapped and through their references, and t through a mapping
	// (renames plus one computed column).
	var gw, ref, gwPB, refPB, mapped []float64
	for i := 0; i < b.runs; i++ {
		steps := []struct {
			label string
			into  *[]float64
			do    func() (float64, error)
		}{
			{"godwit", &gw, func() (float64, error) { return b.godwitRun(src, "t", "postgres", false) }},
			{"reference", &ref, func() (float64, error) { return b.referencePG(src, "t", ddl) }},
			{"mapped", &mapped, func() (float64, error) { return b.godwitRun(src, "t", "postgres", true) }},
			{"pgbench godwit", &gwPB, func() (float64, error) { return b.godwitRun(src, "pgbench_accounts", "postgres", false) }},
			{"pgbench reference", &refPB, func() (float64, error) { return b.referencePG(src, "pgbench_accounts", pgbenchDDL) }},
		}
		// Each round starts one step later: the first step of a round
		// follows the last round's (or the generation's) 1M-row writes, and
		// unmapped t, always first before, was beaten by mapped t, which
		// does more, in 10 of 18 recorded rounds (by 1.5-2.1x in four).
		fmt.Printf("run %d:", i+1)
		for k := range steps {
			st := steps[(k+i)%len(steps)]
			r, err := st.do()
			if err != nil {
				fmt.Println()
				return err
			}
			*st.into = append(*st.into, r)
			fmt.Printf(" %s %.0f rows/s;", st.label, r)
		}
		fmt.Println()
	}
	hwm1, err := b.workerHWM()
	if err != nil {
		return err
	}

	// PostgreSQL → MariaDB and PostgreSQL → SQLite, each against its
	// engine's own bulk loader fed by psql \copy.
	var gwMy, refMy, gwLite, refLite []float64
	for i := 0; i < b.runs; i++ {
		r, err := b.godwitRun(src, "t", "mysql", false)
		if err != nil {
			return err
		}
		gwMy = append(gwMy, r)
		if r, err = b.referenceMy(src); err != nil {
			return err
		}
		refMy = append(refMy, r)
		fmt.Printf("run %d to MariaDB: godwit %.0f rows/s, reference %.0f rows/s\n", i+1, gwMy[i], r)
		if r, err = b.godwitRun(src, "t", "sqlite", false); err != nil {
			return err
		}
		gwLite = append(gwLite, r)
		if r, err = b.referenceSQLite(src); err != nil {
			return err
		}
		refLite = append(refLite, r)
		fmt.Printf("run %d to SQLite: godwit %.0f rows/s, reference %.0f rows/s\n", i+1, gwLite[i], r)
	}

	// Peak RSS for twice the rows, on a fresh worker.
	if err := b.generate(src, b.rows+1, 2*b.rows); err != nil {
		return err
	}
	b.stopWorker()
	if err := b.startWorker(); err != nil {
		return err
	}
	if _, err := b.godwitRunRows(src, "t", "postgres", false, 2*b.rows); err != nil {
		return err
	}
	hwm2, err := b.workerHWM()
	if err != nil {
		return err
	}

	g, r := median(gw), median(ref)
	gPB, rPB := median(gwPB), median(refPB)
	fmt.Printf("PostgreSQL → PostgreSQL, t, %d rows, median of %d: godwit %.0f rows/s, reference (psql \\copy | psql \\copy) %.0f rows/s, t ratio %.2f\n", b.rows, b.runs, g, r, g/r)
	fmt.Printf("PostgreSQL → PostgreSQL, pgbench_accounts, %d rows, median of %d: godwit %.0f rows/s, reference %.0f rows/s, pgbench ratio %.2f\n", b.rows, b.runs, gPB, rPB, gPB/rPB)
	fmt.Printf("PostgreSQL → MariaDB, %d rows, median of %d: godwit %.0f rows/s, reference (psql \\copy | mariadb LOAD DATA LOCAL INFILE) %.0f rows/s\n",
		b.rows, b.runs, median(gwMy), median(refMy))
	fmt.Printf("PostgreSQL → SQLite, %d rows, median of %d: godwit %.0f rows/s, reference (psql \\copy | sqlite3 .import) %.0f rows/s\n",
		b.rows, b.runs, median(gwLite), median(refLite))
	fmt.Printf("worker peak RSS (VmHWM): %d rows %.1f MiB, %d rows %.1f MiB, rss growth %.2f\n",
		b.rows, float64(hwm1)/1024, 2*b.rows, float64(hwm2)/1024, float64(hwm2)/float64(hwm1))
	// Never a plain "ratio:" line but the last: that one is the unmapped
	// PostgreSQL → PostgreSQL figure, the lower of the two shapes.
	fmt.Printf("mariadb ratio: %.2f\n", median(gwMy)/median(refMy))
	fmt.Printf("sqlite ratio: %.2f\n", median(gwLite)/median(refLite))
	fmt.Printf("mapped ratio: %.2f (mapped %.0f rows/s ÷ unmapped, PostgreSQL → PostgreSQL, renames and one computed column)\n", median(mapped)/g, median(mapped))
	fmt.Printf("ratio: %.2f\n", min(g/r, gPB/rPB))
	return nil
}

// --- the real migration ---

// godwitRun provisions and copies table of src into a fresh database of
// engine through a migration and returns the copy phase's rows/s (its
// start to end as the workflow recorded them); mapped goes through a
// mapping of renames (PascalCase, name → Label) and one computed column.
func (b *bench) godwitRun(src, table, engine string, mapped bool) (float64, error) {
	return b.godwitRunRows(src, table, engine, mapped, b.rows)
}

// godwitRunRows is godwitRun for a source table of rows rows (checked on
// the copy phase's count).
func (b *bench) godwitRunRows(src, table, engine string, mapped bool, rows int) (float64, error) {
	b.settle()
	b.nameSeq++
	name := fmt.Sprintf("bench-copy-%s-%d", b.suffix, b.nameSeq)
	dst := fmt.Sprintf("godwit_bench_dst_%s_%d", b.suffix, b.nameSeq)
	var dstDSN string
	switch engine {
	case "postgres":
		if err := b.pgCreate(dst); err != nil {
			return 0, err
		}
		defer b.pgDrop(dst)
		dstDSN = b.pgURL + "/" + dst
	case "sqlite":
		dstDSN = filepath.Join(b.dir, dst+".db")
		defer os.Remove(dstDSN)
	default:
		if err := b.mariadb("", "CREATE DATABASE "+dst); err != nil {
			return 0, err
		}
		defer b.mariadb("", "DROP DATABASE "+dst)
		dstDSN = fmt.Sprintf("%s@tcp(%s:3306)/%s", b.myUser, b.myHost, dst)
	}
	for file, dsn := range map[string]string{"legacy.dsn": b.pgURL + "/" + src, "new.dsn": dstDSN} {
		if err := os.WriteFile(filepath.Join(b.dir, file), []byte(dsn+"\n"), 0o600); err != nil {
			return 0, err
		}
	}
	spec := filepath.Join(b.dir, name+".yaml")
	text := fmt.Sprintf(`name: %s
defaults:
  timeout: 30m
  heartbeatTimeout: 30s
stores:
  legacy: {engine: postgres, dsn: {fromFile: %[2]s/legacy.dsn}}
  new: {engine: %[3]s, dsn: {fromFile: %[2]s/new.dsn}}
phases:
  - phase: provision
    provision: {from: legacy, to: new, tables: [%[5]s]}
  - phase: copy
    copy: {from: legacy, to: new, tables: [%[5]s], batchRows: %[4]d}
`, name, b.dir, engine, b.batch, table)
	if mapped {
		text = strings.NewReplacer("{from: legacy, to: new, tables: ["+table+"]}", "{mapping: m}",
			"{from: legacy, to: new, tables: ["+table+"], batchRows:", "{mapping: m, batchRows:").Replace(text) + `mappings:
  m:
    from: legacy
    to: new
    names: PascalCase
    tables:
      t:
        columns: {name: Label}
        add:
          Total: {expr: "price * n", type: "numeric(24,2)"}
`
	}
	if err := os.WriteFile(spec, []byte(text), 0o644); err != nil {
		return 0, err
	}
	if out, err := b.cli("start", "-f", spec, "--wait"); err != nil {
		return 0, fmt.Errorf("migration %s: %w\n%s", name, err, out)
	}
	out, err := b.cli("status", name, "-o", "json")
	if err != nil {
		return 0, fmt.Errorf("status %s: %w\n%s", name, err, out)
	}
	var rep migration.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		return 0, fmt.Errorf("status %s: %w", name, err)
	}
	cp := rep.Phases[1]
	if rep.Status != migration.StatusCompleted || cp.Records != int64(rows) {
		return 0, fmt.Errorf("migration %s ended %s, copy %+v", name, rep.Status, cp)
	}
	if os.Getenv("GODWIT_BENCH_DEBUG") != "" {
		fmt.Fprintf(os.Stderr, "copy phase: %s, %v\n", cp.Summary, cp.EndTime.Sub(cp.StartTime))
	}
	return float64(cp.Records) / cp.EndTime.Sub(cp.StartTime).Seconds(), nil
}

func (b *bench) cli(args ...string) (string, error) {
	var out, errOut bytes.Buffer
	root := cli.NewRootCommand(&out, &errOut)
	root.SetArgs(append(args, "--address", b.address, "--task-queue", b.queue))
	err := root.Execute()
	return out.String() + errOut.String(), err
}

// --- the references ---

const ddl = `CREATE TABLE t (id bigint PRIMARY KEY, n integer, price numeric(12,2), ratio double precision,
	active boolean, name varchar(40), note text, ts timestamptz, born date)`

// pgbenchDDL is pgbench's own accounts table (pgbench -i): narrow
// integers and one wide fixed char column, a shape nobody here designed.
const pgbenchDDL = `CREATE TABLE pgbench_accounts (aid integer PRIMARY KEY, bid integer, abalance integer, filler char(84))`

// referencePG times psql \copy | psql \copy of table into a fresh table
// (created by ddl) with only its primary key.
func (b *bench) referencePG(src, table, ddl string) (float64, error) {
	b.nameSeq++
	dst := fmt.Sprintf("godwit_bench_ref_%s_%d", b.suffix, b.nameSeq)
	if err := b.pgCreate(dst); err != nil {
		return 0, err
	}
	defer b.pgDrop(dst)
	if err := b.psql(dst, ddl); err != nil {
		return 0, err
	}
	r, err := b.pipe(fmt.Sprintf(`psql -X -q %q -c '\copy %s to stdout' | psql -X -q %q -c '\copy %s from stdin'`,
		b.pgURL+"/"+src, table, b.pgURL+"/"+dst, table))
	if err != nil {
		return 0, err
	}
	out, err := exec.Command("psql", "-X", "-A", "-t", b.pgURL+"/"+dst, "-c", "SELECT COUNT(*) FROM "+table).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != strconv.Itoa(b.rows) {
		return 0, fmt.Errorf("reference to PostgreSQL loaded %s rows of %s, want %d (%v)", strings.TrimSpace(string(out)), table, b.rows, err)
	}
	return r, nil
}

// referenceSQLite times psql \copy (CSV) | sqlite3 .import into a fresh
// SQLite file whose table has only its primary key (.import runs in one
// transaction).
func (b *bench) referenceSQLite(src string) (float64, error) {
	b.nameSeq++
	dst := filepath.Join(b.dir, fmt.Sprintf("godwit_bench_ref_%s_%d.db", b.suffix, b.nameSeq))
	defer os.Remove(dst)
	create := `CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, price NUMERIC, ratio REAL, active BOOLEAN,
		name VARCHAR(40), note TEXT, ts TIMESTAMP, born DATE)`
	if out, err := exec.Command("sqlite3", dst, create).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("sqlite3: %w\n%s", err, out)
	}
	r, err := b.pipe(fmt.Sprintf(`psql -X -q %q -c '\copy t to stdout (format csv)' | sqlite3 %q '.mode csv' '.import /dev/stdin t'`,
		b.pgURL+"/"+src, dst))
	if err != nil {
		return 0, err
	}
	out, err := exec.Command("sqlite3", dst, "SELECT COUNT(*) FROM t").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != strconv.Itoa(b.rows) {
		return 0, fmt.Errorf("reference to SQLite loaded %s rows, want %d (%v)", strings.TrimSpace(string(out)), b.rows, err)
	}
	return r, nil
}

// referenceMy times psql \copy | mariadb LOAD DATA LOCAL INFILE into a
// fresh table with only its primary key (booleans and times in the forms
// MariaDB reads).
func (b *bench) referenceMy(src string) (float64, error) {
	b.nameSeq++
	dst := fmt.Sprintf("godwit_bench_ref_%s_%d", b.suffix, b.nameSeq)
	if err := b.mariadb("", "CREATE DATABASE "+dst); err != nil {
		return 0, err
	}
	defer b.mariadb("", "DROP DATABASE "+dst)
	if err := b.mariadb(dst, `CREATE TABLE t (id BIGINT PRIMARY KEY, n INT, price DECIMAL(12,2), ratio DOUBLE,
		active TINYINT(1), name VARCHAR(40), note LONGTEXT, ts TIMESTAMP(6) NULL, born DATE) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`); err != nil {
		return 0, err
	}
	sel := `SELECT id, n, price, ratio, active::int, name, note, (ts AT TIME ZONE 'UTC')::timestamp, born FROM t`
	r, err := b.pipe(fmt.Sprintf(`psql -X -q %q -c %q | mariadb --local-infile=1 -h %s -u %s %s -e "SET time_zone = '+00:00'; LOAD DATA LOCAL INFILE '/dev/stdin' INTO TABLE t"`,
		b.pgURL+"/"+src, `\copy (`+sel+`) to stdout`, b.myHost, b.myUser, dst))
	if err != nil {
		return 0, err
	}
	out, err := exec.Command("mariadb", "-N", "-h", b.myHost, "-u", b.myUser, dst, "-e", "SELECT COUNT(*) FROM t").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != strconv.Itoa(b.rows) {
		return 0, fmt.Errorf("reference to MariaDB loaded %s rows, want %d (%v)", strings.TrimSpace(string(out)), b.rows, err)
	}
	return r, nil
}

func (b *bench) pipe(script string) (float64, error) {
	b.settle()
	start := time.Now()
	out, err := exec.Command("sh", "-c", "set -e; "+script).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("reference: %w\n%s", err, out)
	}
	return float64(b.rows) / time.Since(start).Seconds(), nil
}

// --- data ---

// generate inserts rows from..to: mixed types, about 100 bytes a row.
func (b *bench) generate(db string, from, to int) error {
	if from == 1 {
		if err := b.psql(db, ddl); err != nil {
			return err
		}
	}
	return b.psql(db, fmt.Sprintf(`INSERT INTO t
		SELECT i, (i * 7919) %% 100000, ((i * 31) %% 1000000) / 100.0, i / 7.0, i %% 2 = 0,
		       'name-' || i || '-ünï', md5(i::text) || ' note ' || (i %% 97),
		       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second' + (i %% 1000) * interval '1 microsecond',
		       date '2000-01-01' + (i %% 9000)::int
		FROM generate_series(%d::bigint, %d) i; ANALYZE t`, from, to))
}

// generatePgbench fills pgbench_accounts as pgbench -i does: rows
// accounts, 100,000 to a branch, balance 0, a blank filler.
func (b *bench) generatePgbench(db string) error {
	return b.psql(db, pgbenchDDL+fmt.Sprintf(`; INSERT INTO pgbench_accounts
		SELECT i, (i - 1) / 100000 + 1, 0, '' FROM generate_series(1, %d) i; ANALYZE pgbench_accounts`, b.rows))
}

// settle starts each timed step from the same state: PostgreSQL's dirty
// buffers written by a checkpoint and the system's dirty pages on disk, so
// that a step does not pay for the writes of the one before it (which made
// the figures depend on the order of the steps).
func (b *bench) settle() {
	_ = b.psql("postgres", "CHECKPOINT")
	syscall.Sync()
}

func (b *bench) psql(db, sql string) error {
	out, err := exec.Command("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", b.pgURL+"/"+db, "-c", sql).CombinedOutput()
	if err != nil {
		return fmt.Errorf("psql: %w\n%s", err, out)
	}
	return nil
}

func (b *bench) pgCreate(db string) error { return b.psql("postgres", "CREATE DATABASE "+db) }
func (b *bench) pgDrop(db string) {
	_ = b.psql("postgres", "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
}

func (b *bench) mariadb(db, sql string) error {
	args := []string{"-h", b.myHost, "-u", b.myUser}
	if db != "" {
		args = append(args, db)
	}
	out, err := exec.Command("mariadb", append(args, "-e", sql)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mariadb: %w\n%s", err, out)
	}
	return nil
}

// --- Temporal and the worker ---

func (b *bench) startServer() (func(), error) {
	address, stop, err := devserver.Start()
	if err != nil {
		return nil, err
	}
	b.address, b.queue = address, "bench-copy-"+b.suffix
	return stop, nil
}

func (b *bench) buildWorker() error {
	b.workerBin = filepath.Join(b.dir, "godwit-worker")
	out, err := exec.Command("go", "build", "-o", b.workerBin, "./worker").CombinedOutput()
	if err != nil {
		return fmt.Errorf("build godwit-worker: %w\n%s", err, out)
	}
	return nil
}

func (b *bench) startWorker() error {
	w := exec.Command(b.workerBin, "--address", b.address, "--task-queue", b.queue, "--log-format", "json")
	logs, err := os.Create(filepath.Join(b.dir, "worker.log"))
	if err != nil {
		return err
	}
	w.Stdout, w.Stderr = logs, logs
	if err := w.Start(); err != nil {
		return err
	}
	b.worker = w
	return nil
}

func (b *bench) stopWorker() {
	if b.worker == nil {
		return
	}
	_ = b.worker.Process.Kill()
	_, _ = b.worker.Process.Wait()
	b.worker = nil
}

// workerHWM reads the worker's peak resident set (VmHWM, KiB).
func (b *bench) workerHWM() (int64, error) {
	text, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", b.worker.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(text), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			return strconv.ParseInt(f[1], 10, 64)
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

// --- small things ---

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
