package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/migration"
)

// syncBuffer collects a process's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// buildWorker builds the godwit-worker binary once for every test.
func buildWorker(t *testing.T) string {
	t.Helper()
	workerBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "godwit-it-worker")
		if err != nil {
			workerBuild.err = err
			return
		}
		workerBuild.bin = filepath.Join(dir, "godwit-worker")
		out, err := exec.Command("go", "build", "-o", workerBuild.bin, "../worker").CombinedOutput()
		if err != nil {
			workerBuild.err = fmt.Errorf("build godwit-worker: %w\n%s", err, out)
		}
	})
	require.NoError(t, workerBuild.err)
	return workerBuild.bin
}

var workerBuild struct {
	once sync.Once
	bin  string
	err  error
}

// startWorker runs the godwit-worker binary on queue until the test ends.
func startWorker(t *testing.T, bin, queue string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	w := exec.Command(bin, "--address", env.address, "--task-queue", queue, "--log-format", "json")
	w.Stdout, w.Stderr = logs, logs
	require.NoError(t, w.Start())
	t.Cleanup(func() { _ = w.Process.Kill(); _, _ = w.Process.Wait() })
	return w, logs
}

// TestWorkerBinaryRunsMigrationsAndStopsGracefully runs the real
// godwit-worker binary on a task queue of its own, runs a migration on it
// with `start --wait`, then stops it with SIGTERM. The ended migration's
// status must still be readable with no worker left.
func TestWorkerBinaryRunsMigrationsAndStopsGracefully(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	queue := "it-worker-binary"
	w, logs := startWorker(t, buildWorker(t), queue)

	spec := filepath.Join(dir, "spec.yaml")
	require.NoError(t, os.WriteFile(spec, []byte(`name: it-worker-binary
phases:
  - phase: provision
    hook:
      run: {command: [sh, -c, 'touch provisioned'], dir: `+dir+`}
      compensate: {command: [rm, -f, provisioned], dir: `+dir+`}
  - phase: copy
    retry: {maxAttempts: 1}
    hook:
      run: {command: [sh, -c, 'echo "no route to source" >&2; exit 3'], dir: `+dir+`}
`), 0o644))

	var cliOut, cliErr bytes.Buffer
	res, err := godwitOn(t, queue, &cliOut, &cliErr, "start", "-f", spec, "--wait")
	require.Error(t, err, res)
	require.Contains(t, err.Error(), "ended ROLLED_BACK")
	require.Contains(t, res, "no route to source", "the failing hook's output reaches the report")
	_, statErr := os.Stat(filepath.Join(dir, "provisioned"))
	require.True(t, errors.Is(statErr, os.ErrNotExist), "provision was compensated")

	require.NoError(t, w.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- w.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, logs.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("worker did not stop within 20s of SIGTERM:\n%s", logs.String())
	}
	require.Contains(t, logs.String(), `"@message":"worker stopped"`)

	res, err = godwitOn(t, queue, &cliOut, &cliErr, "output", "it-worker-binary")
	require.NoError(t, err, res)
	require.Equal(t, []string{
		"== provision run, attempt 1,",
		"== copy run, attempt 1,",
		"== provision compensate, attempt 1,",
	}, outputHeaders(res))
	require.Contains(t, res, ", failed: run copy: exited with code 3: no route to source ==\nno route to source\n")

	res, err = godwitOn(t, queue, &cliOut, &cliErr, "status", "it-worker-binary")
	require.NoError(t, err, res)
	require.Contains(t, res, "Migration it-worker-binary — ROLLED_BACK")
	require.True(t, strings.Contains(res, "exited with code 3"), res)
}

// TestCopyResumesFromCheckpointAfterWorkerCrash kills the worker with
// SIGKILL in the middle of the demo's copy phase. Another worker picks the
// phase up once its heartbeat times out, resumes from the last heartbeated
// checkpoint, and the target ends with exactly the legacy rows.
func TestCopyResumesFromCheckpointAfterWorkerCrash(t *testing.T) {
	t.Parallel()
	bin := buildWorker(t)
	queue := "it-worker-crash"
	first, _ := startWorker(t, bin, queue)

	// Slow batches and a short heartbeat timeout: a wide window to kill
	// the worker in, and a quick takeover afterwards.
	d := newDemo(t, "it-worker-crash", "0.8")
	text, err := os.ReadFile(d.spec)
	require.NoError(t, err)
	slow := strings.Replace(string(text), "heartbeatTimeout: 10s", "heartbeatTimeout: 3s", 1)
	require.NoError(t, os.WriteFile(d.spec, []byte(slow), 0o644))
	var out, errOut bytes.Buffer
	res, err := godwitOn(t, queue, &out, &errOut, "start", "-f", d.spec)
	require.NoError(t, err, res)

	status := func() migration.Report {
		res, err := godwitOn(t, queue, &out, &errOut, "status", d.name, "-o", "json")
		require.NoError(t, err, res)
		var rep migration.Report
		require.NoError(t, json.Unmarshal([]byte(res), &rep), res)
		return rep
	}
	require.Eventually(t, func() bool {
		rep := status()
		return rep.Phases[2].State == migration.PhaseRunning && rep.Phases[2].Progress >= 20
	}, 30*time.Second, 100*time.Millisecond, "copy reports progress through heartbeats")
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_, _ = first.Process.Wait()

	startWorker(t, bin, queue)
	rep := d.waitFor("the go-live gate", waitingAt("go-live"))
	require.Equal(t, migration.PhaseCompleted, rep.Phases[2].State)
	require.Equal(t, 2, rep.Phases[2].Attempts, "the copy ran a second attempt on the new worker")
	require.Equal(t, d.read("legacy/users.csv"), d.read("target/users.csv"), "no row lost or doubled")

	res, err = godwitOn(t, queue, &out, &errOut, "output", d.name, "copy")
	require.NoError(t, err, res)
	require.Regexp(t, `^== copy run, attempt 2, [^\n]*==\nresuming after row [1-9]\d*00\n`, res, "the second attempt resumed from the checkpoint")
	res, err = godwitOn(t, queue, &out, &errOut, "rollback", d.name, "--reason", "test over")
	require.NoError(t, err, res)
	_, _ = d.result()
	recordHistory(t, d.name)
}

// outputHeaders returns the start of each "== phase action, attempt N,"
// header that `godwit output` printed.
func outputHeaders(out string) []string {
	var heads []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "== ") {
			if i := strings.Index(line, "attempt "); i > 0 {
				end := i + strings.Index(line[i:], ",") + 1
				heads = append(heads, line[:end])
			}
		}
	}
	return heads
}
