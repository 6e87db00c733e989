// Command fanout is the fan-out benchmark: a copy phase of 20,000 units
// and one of 1,000, each unit a key range of one row of a PostgreSQL
// table (so the data is not the cost: the orchestration is), run through
// a real migration on a Temporal dev server with a worker of this
// process (the real workflows, activities and copy driver; only the
// planning of the units is the benchmark's, since the copy driver's own
// ranges are at least 10,000 rows). The 20,000 units run in windows of
// FanOutWindow children; the 1,000 in the migration itself.
//
// The 1,000 run before and after the 20,000, and their mean counts. It
// prints the units, the wall time and per-unit time of each run, the
// largest history of any workflow run it made ("max events per run: N",
// the migrations and their windows alike) and, last, "ratio: X" =
// per-unit time at 20,000 ÷ per-unit time at 1,000 (goal: at most 1.2).
//
// Run it from the repository root: bench/fanout.sh, or go run ./bench/fanout
// (flags: -units, -reference, -fanout). It needs PostgreSQL on 127.0.0.1
// (GODWIT_BENCH_POSTGRES, default postgres://postgres@127.0.0.1:5432), psql
// and the Temporal CLI (bin/temporal or GODWIT_TEMPORAL_BIN). Not part of
// the normal test run.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/bench/internal/devserver"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/drivers"
	copydriver "github.com/godwit/godwit/drivers/copy"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/fanout:", err)
		os.Exit(1)
	}
}

// oneRowRanges is the copy driver with the benchmark's planning: n units,
// each the key range [k, k+1) of the table, one row.
type oneRowRanges struct {
	*copydriver.Driver
	n *atomic.Int64
}

// Units lists n one-row ranges of the phase's first table.
func (d oneRowRanges) Units(ctx context.Context, in activities.PhaseInput) ([]string, error) {
	s, ok := in.Phase.Driver.(*copydriver.Spec)
	if !ok || len(s.Tables) == 0 {
		return nil, fmt.Errorf("phase %s: not a copy of a table", in.Phase.Name)
	}
	units := make([]string, d.n.Load())
	for k := range units {
		from, to := strconv.Itoa(k+1), strconv.Itoa(k+2)
		units[k] = datacopy.Unit(s.Tables[0], &datacopy.Range{From: &from, To: &to})
	}
	return units, nil
}

type bench struct {
	units, reference, fanOut int
	dir, pgURL, suffix       string
	address, queue           string
	client                   client.Client
	planned                  atomic.Int64
}

func run() error {
	b := &bench{}
	flag.IntVar(&b.units, "units", 20_000, "units of the large fan-out")
	flag.IntVar(&b.reference, "reference", 1_000, "units of the reference fan-out")
	flag.IntVar(&b.fanOut, "fanout", 8, "the copy phase's fanOut (units at once)")
	flag.Parse()
	var err error
	if b.dir, err = os.MkdirTemp("", "godwit-bench-fanout"); err != nil {
		return err
	}
	defer os.RemoveAll(b.dir)
	b.suffix = randomHex(4)
	b.pgURL = strings.TrimSuffix(envOr("GODWIT_BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432"), "/")

	stop, err := b.startServer()
	if err != nil {
		return err
	}
	defer stop()
	stopWorker, err := b.startWorker()
	if err != nil {
		return err
	}
	defer stopWorker()

	src, dst := "bench_fanout_src_"+b.suffix, "bench_fanout_dst_"+b.suffix
	for _, db := range []string{src, dst} {
		if err := b.psql("postgres", "CREATE DATABASE "+db); err != nil {
			return err
		}
		defer func() { _ = b.psql("postgres", "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)") }()
	}
	if err := b.psql(src, fmt.Sprintf("CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT NOT NULL); "+
		"INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, %d) g", max(b.units, b.reference))); err != nil {
		return err
	}
	if err := b.psql(dst, "CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT NOT NULL)"); err != nil {
		return err
	}

	// The reference runs before and after the large fan-out, and counts
	// their mean: a shared machine's load drifts over a quarter of an hour.
	before, err := b.fanOutRun(src, dst, b.reference, "a")
	if err != nil {
		return err
	}
	big, err := b.fanOutRun(src, dst, b.units, "")
	if err != nil {
		return err
	}
	after, err := b.fanOutRun(src, dst, b.reference, "b")
	if err != nil {
		return err
	}
	most, mostID, err := b.maxEventsPerRun()
	if err != nil {
		return err
	}
	ref := (before + after) / 2
	perRef, perBig := ref.Seconds()/float64(b.reference), big.Seconds()/float64(b.units)
	fmt.Printf("reference: %d units in %.1fs before and %.1fs after, %.2f ms per unit\n",
		b.reference, before.Seconds(), after.Seconds(), 1000*perRef)
	fmt.Printf("units: %d\n", b.units)
	fmt.Printf("fan-out: %d units in %.1fs, %.2f ms per unit, fanOut %d, windows of %d units\n",
		b.units, big.Seconds(), 1000*perBig, b.fanOut, workflows.DefaultFanOutWindow)
	fmt.Printf("largest history: %s\n", mostID)
	fmt.Printf("max events per run: %d\n", most)
	fmt.Printf("ratio: %.2f\n", perBig/perRef)
	return nil
}

// fanOutRun runs a migration whose copy phase fans out to n units and
// returns its wall time, from start to result.
func (b *bench) fanOutRun(src, dst string, n int, tag string) (time.Duration, error) {
	if err := b.psql(dst, "TRUNCATE items"); err != nil {
		return 0, err
	}
	name := fmt.Sprintf("bench-fanout-%d%s-%s", n, tag, b.suffix)
	for file, db := range map[string]string{"legacy.dsn": src, "new.dsn": dst} {
		if err := os.WriteFile(filepath.Join(b.dir, file), []byte(b.pgURL+"/"+db+"?sslmode=disable\n"), 0o600); err != nil {
			return 0, err
		}
	}
	text := fmt.Sprintf(`name: %s
defaults:
  timeout: 10m
  heartbeatTimeout: 30s
  retry: {maxAttempts: 3, initialInterval: 1s}
stores:
  legacy: {engine: postgres, dsn: {fromFile: %s/legacy.dsn}}
  new: {engine: postgres, dsn: {fromFile: %s/new.dsn}}
phases:
  - phase: copy
    copy: {from: legacy, to: new, tables: [items], batchRows: 100, fanOut: %d}
`, name, b.dir, b.dir, b.fanOut)
	specFile := filepath.Join(b.dir, name+".yaml")
	if err := os.WriteFile(specFile, []byte(text), 0o644); err != nil {
		return 0, err
	}
	spec, err := config.LoadSpec(specFile)
	if err != nil {
		return 0, err
	}
	b.planned.Store(int64(n))
	ctx := context.Background()
	start := time.Now()
	run, err := b.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: name, TaskQueue: b.queue},
		workflows.WorkflowName, workflows.Input{Spec: *spec})
	if err != nil {
		return 0, err
	}
	var rep migration.Report
	if err := run.Get(ctx, &rep); err != nil {
		return 0, fmt.Errorf("migration %s: %w", name, err)
	}
	took := time.Since(start)
	if rep.Status != migration.StatusCompleted || rep.Phases[0].UnitsDone != n || rep.Phases[0].Records != int64(n) {
		return 0, fmt.Errorf("migration %s: %s, %d of %d units, %d records", name, rep.Status, rep.Phases[0].UnitsDone, n, rep.Phases[0].Records)
	}
	out, err := exec.Command("psql", b.pgURL+"/"+dst, "-tAc", "SELECT count(*) FROM items").Output()
	if err != nil {
		return 0, fmt.Errorf("count the target's rows: %w", err)
	}
	if got := strings.TrimSpace(string(out)); got != strconv.Itoa(n) {
		return 0, fmt.Errorf("migration %s: the target has %s rows, not %d", name, got, n)
	}
	return took, nil
}

// maxEventsPerRun is the longest history of any workflow run on the
// server: the migrations and their windows (it is the benchmark's own).
func (b *bench) maxEventsPerRun() (int64, string, error) {
	var most int64
	var id string
	var token []byte
	for {
		resp, err := b.client.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{NextPageToken: token})
		if err != nil {
			return 0, "", err
		}
		for _, info := range resp.Executions {
			if info.GetHistoryLength() > most {
				most, id = info.GetHistoryLength(), info.GetExecution().GetWorkflowId()
			}
		}
		if token = resp.NextPageToken; len(token) == 0 {
			return most, id, nil
		}
	}
}

func (b *bench) startWorker() (func(), error) {
	c, err := client.Dial(client.Options{HostPort: b.address, Logger: quiet{}})
	if err != nil {
		return nil, err
	}
	b.client = c
	logger := hclog.New(&hclog.LoggerOptions{Name: "bench-worker", Level: hclog.Warn, Output: os.Stderr})
	acts := drivers.Activities(logger)
	cp, ok := acts.Drivers[copydriver.Key].(*copydriver.Driver)
	if !ok {
		return nil, fmt.Errorf("this build has no copy driver")
	}
	acts.Drivers[copydriver.Key] = oneRowRanges{Driver: cp, n: &b.planned}
	w := worker.New(c, b.queue, worker.Options{MaxHeartbeatThrottleInterval: 2 * time.Second})
	workflows.Register(w)
	activities.Register(w, acts)
	if err := w.Start(); err != nil {
		c.Close()
		return nil, err
	}
	return func() { w.Stop(); c.Close() }, nil
}

func (b *bench) startServer() (func(), error) {
	address, stop, err := devserver.Start()
	if err != nil {
		return nil, err
	}
	b.address, b.queue = address, "bench-fanout-"+b.suffix
	return stop, nil
}

func (b *bench) psql(db, sql string) error {
	out, err := exec.Command("psql", b.pgURL+"/"+db, "-v", "ON_ERROR_STOP=1", "-qc", sql).CombinedOutput()
	if err != nil {
		return fmt.Errorf("psql %s: %w\n%s", db, err, out)
	}
	return nil
}

// quiet drops the SDK client's own log lines: the benchmark prints its
// figures on stdout, and errors come back as errors.
type quiet struct{}

func (quiet) Debug(string, ...any) {}
func (quiet) Info(string, ...any)  {}
func (quiet) Warn(string, ...any)  {}
func (quiet) Error(string, ...any) {}

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
