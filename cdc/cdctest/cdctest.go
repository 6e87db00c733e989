// Package cdctest gives change-capture tests a PostgreSQL server that
// allows logical replication. The machine's own server is not touched: if
// it does not run with wal_level=logical (changing that needs a restart),
// the first test that asks starts a throwaway cluster (initdb on a free
// port, wal_level=logical) for the test binary, removed when it exits
// (call Main from TestMain). GODWIT_TEST_POSTGRES_LOGICAL names a server
// to use instead.
package cdctest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

var cluster struct {
	mu      sync.Mutex
	started bool
	admin   string
	err     error
	dir     string
	run     func(args ...string) *exec.Cmd
	users   int // tests holding it through StopWhenDone
}

// Main runs the package's tests, then stops the throwaway cluster if one
// was started.
func Main(m *testing.M) {
	code := m.Run()
	stop()
	os.Exit(code)
}

// LogicalAdmin returns an admin URL of a PostgreSQL server with
// wal_level=logical, starting a throwaway one if need be. It fails the
// test, saying why, when none can be had.
func LogicalAdmin(t testing.TB) string {
	t.Helper()
	cluster.mu.Lock()
	if !cluster.started {
		cluster.started = true
		cluster.admin, cluster.err = find()
	}
	admin, err := cluster.admin, cluster.err
	cluster.mu.Unlock()
	if err != nil {
		t.Fatalf("cdctest: no PostgreSQL with wal_level=logical for the logical replication tests: %v\n"+
			"The machine's server runs with another wal_level and cannot be restarted by a test; install the PostgreSQL "+
			"server binaries (initdb, pg_ctl) so the tests start a throwaway cluster, or set GODWIT_TEST_POSTGRES_LOGICAL "+
			"to the URL of a server with wal_level=logical. The triggers method runs on any PostgreSQL.", err)
	}
	return admin
}

// NewLogicalDB creates a fresh database on the logical server, dropped
// when the test ends.
func NewLogicalDB(t testing.TB) dbtest.DB {
	t.Helper()
	admin := LogicalAdmin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	as, err := datastore.Open(ctx, datastore.Postgres, admin)
	if err != nil {
		t.Fatalf("cdctest: open the logical server: %v", err)
	}
	name := "godwit_cdc_" + strconv.FormatInt(time.Now().UnixNano()%1e12, 36) + strconv.Itoa(os.Getpid())
	if _, err := as.DB.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("cdctest: create database: %v", err)
	}
	u, _ := url.Parse(admin)
	u.Path = "/" + name
	dsn := u.String()
	t.Cleanup(func() {
		// Slots of the database must go before it can be dropped.
		as.DB.Exec("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active", name)
		as.DB.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		as.Close()
	})
	s, err := datastore.Open(ctx, datastore.Postgres, dsn)
	if err != nil {
		t.Fatalf("cdctest: open fresh database: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return dbtest.DB{DSN: dsn, Store: s}
}

func find() (string, error) {
	if dsn := os.Getenv("GODWIT_TEST_POSTGRES_LOGICAL"); dsn != "" {
		return dsn, checkLogical(dsn)
	}
	main := os.Getenv("GODWIT_TEST_POSTGRES")
	if main == "" {
		main = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	if checkLogical(main) == nil {
		return main, nil
	}
	return start()
}

func checkLogical(dsn string) error {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var level string
	if err := db.QueryRowContext(ctx, "SHOW wal_level").Scan(&level); err != nil {
		return err
	}
	if level != "logical" {
		return fmt.Errorf("wal_level is %s", level)
	}
	return nil
}

// start runs initdb and pg_ctl (as the postgres user when running as
// root: PostgreSQL refuses to run as root).
func start() (string, error) {
	initdb, err := exec.LookPath("initdb")
	if err != nil {
		// Debian keeps the server binaries off PATH.
		if found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(found) > 0 {
			initdb, err = found[len(found)-1], nil
		}
	}
	if err != nil {
		return "", fmt.Errorf("initdb not found on PATH nor under /usr/lib/postgresql: %w", err)
	}
	pgctl := filepath.Join(filepath.Dir(initdb), "pg_ctl")
	dir, err := os.MkdirTemp("", "godwit-pglogical-")
	if err != nil {
		return "", err
	}
	cluster.dir = dir
	cluster.run = func(args ...string) *exec.Cmd { return exec.Command(args[0], args[1:]...) }
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return "", fmt.Errorf("running as root and there is no postgres user to run initdb as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return "", err
		}
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			return "", fmt.Errorf("running as root and runuser is missing: %w", err)
		}
		cluster.run = func(args ...string) *exec.Cmd {
			return exec.Command(runuser, append([]string{"-u", "postgres", "--"}, args...)...)
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := cluster.run(initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "-N").CombinedOutput(); err != nil {
		return "", fmt.Errorf("initdb: %v: %s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	opts := fmt.Sprintf("-c port=%d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s -c wal_level=logical "+
		"-c max_replication_slots=40 -c max_wal_senders=40 -c fsync=off -c synchronous_commit=off -c full_page_writes=off", port, dir)
	if out, err := cluster.run(pgctl, "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "-o", opts, "start").CombinedOutput(); err != nil {
		return "", fmt.Errorf("pg_ctl start: %v: %s", err, out)
	}
	cluster.run = withStop(cluster.run, pgctl, data)
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port), nil
}

var stopCmd *exec.Cmd

func withStop(run func(...string) *exec.Cmd, pgctl, data string) func(...string) *exec.Cmd {
	stopCmd = run(pgctl, "-D", data, "-m", "immediate", "-w", "stop")
	return run
}

func stop() {
	cluster.mu.Lock()
	defer cluster.mu.Unlock()
	stopLocked()
}

// stopLocked stops the cluster; the next LogicalAdmin starts a new one.
func stopLocked() {
	if stopCmd != nil {
		_ = stopCmd.Run()
		stopCmd = nil
	}
	if cluster.dir != "" {
		os.RemoveAll(cluster.dir)
		cluster.dir = ""
	}
	cluster.started, cluster.admin, cluster.err = false, "", nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StopWhenDone stops the throwaway cluster (if one gets started) once t
// and every other test that called it ended, for packages whose TestMain
// cannot call Main. Call it before NewLogicalDB, so the databases are
// dropped first. A later test starts a new cluster.
func StopWhenDone(t testing.TB) {
	cluster.mu.Lock()
	cluster.users++
	cluster.mu.Unlock()
	t.Cleanup(func() {
		cluster.mu.Lock()
		defer cluster.mu.Unlock()
		cluster.users--
		if cluster.users == 0 {
			stopLocked()
		}
	})
}
