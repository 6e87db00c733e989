package integration

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/connect"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

// durableServer is a Temporal dev server of one test, persisted in a
// SQLite file, that the test can kill and start again on the same file
// and ports.
type durableServer struct {
	t       *testing.T
	address string
	// dbFile is the server's SQLite database file (with its -wal and
	// -shm files beside it).
	dbFile string
	args   []string
	cmd    *exec.Cmd
	logs   *syncBuffer
}

// startDurableServer starts a server on free ports. Ports found free may
// be taken by another process before the server binds them (tests and
// other servers run side by side): then it tries again on others.
func startDurableServer(t *testing.T) *durableServer {
	t.Helper()
	s := &durableServer{t: t, dbFile: filepath.Join(t.TempDir(), "temporal.db")}
	for attempt := 1; ; attempt++ {
		ports, err := freePorts(3)
		require.NoError(t, err)
		s.address = fmt.Sprintf("127.0.0.1:%d", ports[0])
		s.args = []string{"server", "start-dev", "--headless", "--ip", "127.0.0.1",
			"--db-filename", s.dbFile,
			"--port", fmt.Sprint(ports[0]), "--http-port", fmt.Sprint(ports[1]), "--metrics-port", fmt.Sprint(ports[2]),
			"--search-attribute", "MigrationPhase=Keyword", "--search-attribute", "MigrationStatus=Keyword",
			"--search-attribute", "ReplicationLag=Double",
			"--log-level", "error"}
		err = s.launch()
		if err == nil {
			t.Cleanup(s.kill)
			return s
		}
		require.True(t, strings.Contains(err.Error(), "address already in use") && attempt < 5, "%v", err)
		t.Logf("dev server start %d: a port was taken, trying others", attempt)
	}
}

// start starts the server again on its database file and ports.
func (s *durableServer) start() {
	s.t.Helper()
	require.NoError(s.t, s.launch())
}

// launch runs the server and waits until it listens; it fails (the
// process killed) if the server does not listen within a minute or says
// a port is in use.
func (s *durableServer) launch() error {
	s.logs = &syncBuffer{}
	s.cmd = exec.Command(env.temporalBin, s.args...)
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start the dev server: %w", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", s.address, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		logs := s.logs.String()
		if strings.Contains(logs, "address already in use") || time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("the dev server did not listen on %s:\n%s", s.address, logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *durableServer) kill() {
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	_, _ = s.cmd.Process.Wait()
}

// TestFaultTemporalServerKilledMidCopy kills the Temporal server itself
// (SIGKILL) while a throttled copy runs, and starts it again on the same
// database file. The worker reconnects on its own, the copy goes on, and
// the run completes with exactly the source's rows in the target.
func TestFaultTemporalServerKilledMidCopy(t *testing.T) {
	t.Parallel()
	srv := startDurableServer(t)
	queue := "it-fault-server"
	worker := startWorkerAt(t, srv.address, queue)

	const rows = 40_000
	src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store, "CREATE TABLE plain (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL)")
	seedPlain(t, src, rows)
	r := newDataRun(t, "it-fault-server", src, dst, `  - phase: provision
    provision: {from: legacy, to: new, tables: [plain]}
  - phase: copy
    copy: {from: legacy, to: new, tables: [plain], batchRows: 500, rowsPerSecond: 4000}
`)
	// 10 s of copy: at 8,000 rows/s the window between a quarter done and
	// done (under 4 s) sometimes passed between two status polls of a busy
	// parallel run, and the test never saw the copy running.
	out, err := godwitAt(t, srv.address, queue, "start", "-f", r.spec)
	require.NoError(t, err, out)
	waitReport(t, srv.address, queue, r.name, "the copy a quarter done", 60*time.Second, func(rep migration.Report) bool {
		return rep.Phases[1].State == migration.PhaseRunning && rep.Phases[1].Progress >= 25
	})

	srv.kill()
	down := time.Now()
	copiedWhileUp, err := dst.Store.Count(context.Background(), "plain")
	require.NoError(t, err)
	require.Less(t, copiedWhileUp, int64(rows), "killed mid-copy")
	time.Sleep(2 * time.Second)
	srv.start()
	t.Logf("server down %s with %d of %d rows copied", time.Since(down).Round(time.Millisecond), copiedWhileUp, rows)

	logger := hclog.New(&hclog.LoggerOptions{Name: "it-fault-server", Level: hclog.Warn})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, err := connect.Dial(ctx, config.TemporalSettings{Address: srv.address, Namespace: "default"}, logger)
	require.NoError(t, err)
	defer c.Close()
	var final migration.Report
	if err := c.GetWorkflow(ctx, r.name, "").Get(ctx, &final); err != nil {
		rep, ok := workflows.ReportFromError(err)
		require.True(t, ok, "the run ended without a report: %v\nworker:\n%s", err, worker.logs.String())
		final = *rep
	}
	require.Equal(t, migration.StatusCompleted, final.Status, "%+v", final)
	require.Equal(t, int64(rows), final.Phases[1].Records)
	dbtest.AssertSameRows(t, src.Store, dst.Store, "plain")
}
