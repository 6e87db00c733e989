package integration

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/cli"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/connect"
	"github.com/godwit/godwit/drivers"
	"github.com/godwit/godwit/specfiles"
	"github.com/godwit/godwit/workflows"
)

// env is the shared dev server and worker for every test in the package.
var env struct {
	address     string
	taskQueue   string
	temporalBin string
	client      client.Client
}

const taskQueue = "godwit-integration"

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	// The tests' spec files (DDL scripts, Terraform modules) live in
	// temporary directories and the repository: the workers may read them.
	if os.Getenv(specfiles.DirEnv) == "" {
		os.Setenv(specfiles.DirEnv, "/")
	}
	bin, err := temporalBinary()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	stop, address, err := startDevServer(bin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop()
	env.address, env.taskQueue = address, taskQueue

	logger := hclog.New(&hclog.LoggerOptions{Name: "it", Level: hclog.Warn})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := connect.Dial(ctx, config.TemporalSettings{Address: address, Namespace: "default"}, logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer c.Close()
	env.client = c
	if err := connect.EnsureSearchAttributes(ctx, c, "default", workflows.SearchAttributes); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// Two workers on one task queue, as in production: every test runs with
	// its workflow and activity tasks spread over both.
	for i := range 2 {
		w := worker.New(c, taskQueue, worker.Options{
			MaxHeartbeatThrottleInterval: time.Second,
			Identity:                     fmt.Sprintf("it-worker-%d", i+1),
		})
		workflows.Register(w)
		activities.Register(w, drivers.Activities(logger))
		if err := w.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "start worker:", err)
			return 1
		}
		defer w.Stop()
	}
	env.temporalBin = bin
	defer func() {
		if workerBuild.bin != "" {
			os.RemoveAll(filepath.Dir(workerBuild.bin))
		}
	}()
	return m.Run()
}

// temporalBinary finds the Temporal CLI: $GODWIT_TEMPORAL_BIN, the repo's
// bin/ (where scripts/test.sh installs it) or PATH.
func temporalBinary() (string, error) {
	if p := os.Getenv("GODWIT_TEMPORAL_BIN"); p != "" {
		return p, nil
	}
	if p, err := filepath.Abs("../bin/temporal"); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("temporal"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("the integration tests need the Temporal CLI: run ./scripts/test.sh (it installs it into bin/) or set GODWIT_TEMPORAL_BIN")
}

// startDevServer runs an in-memory, headless dev server on free ports.
func startDevServer(bin string) (func(), string, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, "", err
	}
	address := fmt.Sprintf("127.0.0.1:%d", ports[0])
	var logs bytes.Buffer
	cmd := exec.Command(bin, "server", "start-dev", "--headless", "--ip", "127.0.0.1",
		"--port", fmt.Sprint(ports[0]), "--http-port", fmt.Sprint(ports[1]), "--metrics-port", fmt.Sprint(ports[2]),
		"--search-attribute", "MigrationPhase=Keyword", "--search-attribute", "MigrationStatus=Keyword",
		"--search-attribute", "ReplicationLag=Double",
		"--log-level", "error")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start temporal dev server: %w", err)
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", address, time.Second)
		if err == nil {
			conn.Close()
			return stop, address, nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, "", fmt.Errorf("temporal dev server did not listen on %s: %s", address, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// godwit runs the CLI in-process against the test server and returns its
// output and error.
func godwit(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	return godwitOn(t, env.taskQueue, &out, &errOut, args...)
}

// godwitOn runs the CLI with the given task queue.
func godwitOn(t *testing.T, queue string, out, errOut *bytes.Buffer, args ...string) (string, error) {
	t.Helper()
	out.Reset()
	errOut.Reset()
	root := cli.NewRootCommand(out, errOut)
	root.SetArgs(append(args, "--address", env.address, "--task-queue", queue))
	err := root.Execute()
	return out.String() + errOut.String(), err
}
