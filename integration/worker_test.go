package integration

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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

// TestWorkerBinaryRunsMigrationsAndStopsGracefully runs the real
// godwit-worker binary on a task queue of its own, runs a migration on it
// with `start --wait`, then stops it with SIGTERM. The ended migration's
// status must still be readable with no worker left.
func TestWorkerBinaryRunsMigrationsAndStopsGracefully(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "godwit-worker")
	build := exec.Command("go", "build", "-o", bin, "../worker")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))

	queue := "it-worker-binary"
	var logs syncBuffer
	w := exec.Command(bin, "--address", env.address, "--task-queue", queue, "--log-format", "json")
	w.Stdout, w.Stderr = &logs, &logs
	require.NoError(t, w.Start())
	t.Cleanup(func() { _ = w.Process.Kill() })

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

	res, err = godwitOn(t, queue, &cliOut, &cliErr, "status", "it-worker-binary")
	require.NoError(t, err, res)
	require.Contains(t, res, "Migration it-worker-binary — ROLLED_BACK")
	require.True(t, strings.Contains(res, "exited with code 3"), res)
}
