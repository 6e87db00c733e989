package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/migration"
)

// TestAWorkerKilledBeforeAPauseStaysInTheReport kills the worker under a
// resumable copy (SIGKILL: its attempt times out and a fresh worker runs
// the next), then pauses the run and resumes it. The phase runs again as
// a new activity, whose attempts start at 1: its report keeps the failed
// attempt from before the pause, where it used to read as one clean
// attempt.
func TestAWorkerKilledBeforeAPauseStaysInTheReport(t *testing.T) {
	t.Parallel()
	const name = "it-pause-after-kill"
	d := &demo{t: t, name: name, dir: t.TempDir()}
	d.spec = filepath.Join(d.dir, "spec.yaml")
	spec := `name: ` + name + `
defaults:
  heartbeatTimeout: 3s
  retry: {maxAttempts: 5, initialInterval: 200ms}
phases:
  - phase: copy
    hook:
      resumable: true
      run:
        dir: DIR
        command:
          - sh
          - -c
          - |
            echo $$ >> pids
            i=${GODWIT_CHECKPOINT:-0}
            while [ "$i" -lt 40 ]; do
              while [ "$i" -ge 10 ] && [ ! -e go-on ]; do sleep 0.1; done
              i=$((i + 1))
              echo "godwit:checkpoint=$i"; echo "godwit:progress=$((i * 100 / 40))"
            done
            echo "done at unit $i"
  - phase: reconcile
    hook: {run: {command: ["true"]}}
`
	require.NoError(t, os.WriteFile(d.spec, []byte(strings.ReplaceAll(spec, "DIR", d.dir)), 0o644))
	t.Cleanup(func() { // the killed worker's hook, if it outlived it
		pids, _ := os.ReadFile(filepath.Join(d.dir, "pids"))
		for _, p := range strings.Fields(string(pids)) {
			if pid, err := strconv.Atoi(p); err == nil && processRuns(p) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	w := startWorkerAt(t, env.address, name)
	out, err := godwitAt(t, env.address, name, "start", "-f", d.spec)
	require.NoError(t, err, out)
	d.waitFor("the copy to hold at unit 10", func(r migration.Report) bool { return r.Phases[0].Progress >= 25 })
	w.kill()
	w = startWorkerAt(t, env.address, name)
	d.waitFor("the next attempt to run on the fresh worker", func(r migration.Report) bool {
		return r.Phases[0].Attempts == 2 && r.Phases[0].Progress >= 25
	})

	out, err = godwitAt(t, env.address, name, "pause", name)
	require.NoError(t, err, out)
	d.waitFor("the pause to stop the copy at its checkpoint", func(r migration.Report) bool {
		return r.Status == migration.StatusPaused && strings.HasPrefix(r.Phases[0].Summary, "stopped by pause at its checkpoint")
	})
	require.NoError(t, os.WriteFile(filepath.Join(d.dir, "go-on"), nil, 0o644))
	out, err = godwitAt(t, env.address, name, "resume", name)
	require.NoError(t, err, out)
	final, err := d.result()
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, final.Status)

	copyPhase := final.Phases[0]
	require.Equal(t, 1, copyPhase.Attempts, "the activity the resume started succeeded at once")
	require.Equal(t, 1, copyPhase.EarlierAttempts, "the attempt the kill ended, before the pause")
	attempts, failed := copyPhase.AttemptCounts()
	require.Equal(t, [2]int{2, 1}, [2]int{attempts, failed})
	require.Equal(t, 1, final.Metrics.FailedAttempts)
	require.Zero(t, final.Metrics.ErrorRate, "a retry that went on to succeed is no failed work")
	out, err = godwitAt(t, env.address, name, "status", name, "--leftovers=false")
	require.NoError(t, err, out)
	require.Contains(t, out, "2 attempts (1 failed, 1 before a pause or a new throttle started it again)")
	require.Contains(t, out, "phase copy succeeded after 2 attempts, 1 failed (1 before a pause or a new throttle started it again)")
	require.Contains(t, out, "Attempts 3, 1 failed")
	out, err = godwitAt(t, env.address, name, "output", name, "copy")
	require.NoError(t, err, out)
	require.Regexp(t, `== copy run, attempt 2, [^,]+, stopped at its checkpoint`, out, "the attempt the pause stopped, after the kill")
	require.Regexp(t, `== copy run, attempt 1, [^,]+ ==\n(.*\n)*done at unit 40`, out)
	recordHistory(t, name)
}

// TestACopyPausedThenRolledBackHasAnEnd pauses a resumable copy, then
// rolls the run back while it is paused: the stopped copy gets its end
// (when the pause stopped it), so its duration and rate stop counting.
func TestACopyPausedThenRolledBackHasAnEnd(t *testing.T) {
	t.Parallel()
	d := newSpec(t, "it-pause-rollback", `
phases:
  - phase: copy
    heartbeatTimeout: 30s
    hook:
      resumable: true
      run:
        dir: DIR
        command:
          - sh
          - -c
          - |
            i=${GODWIT_CHECKPOINT:-0}
            while [ "$i" -lt 40 ]; do
              while [ "$i" -ge 10 ]; do sleep 0.1; done
              i=$((i + 1))
              echo "godwit:checkpoint=$i"; echo "godwit:progress=$((i * 100 / 40))"
            done
  - phase: reconcile
    hook: {run: {command: ["true"]}}
`)
	d.start()
	d.waitFor("the copy to hold at unit 10", func(r migration.Report) bool { return r.Phases[0].Progress >= 25 })
	out, err := godwit(t, "pause", d.name)
	require.NoError(t, err, out)
	paused := d.waitFor("the pause to stop the copy", func(r migration.Report) bool {
		return r.Status == migration.StatusPaused && strings.HasPrefix(r.Phases[0].Summary, "stopped by pause at its checkpoint")
	})
	out, err = godwit(t, "rollback", d.name, "--reason", "enough")
	require.NoError(t, err, out)
	final, err := d.result()
	require.NoError(t, err)
	require.Equal(t, migration.StatusRolledBack, final.Status)
	p := final.Phases[0]
	require.Equal(t, migration.PhaseCancelled, p.State)
	require.False(t, p.EndTime.IsZero(), "the stopped copy has an end")
	require.False(t, p.EndTime.After(paused.UpdatedTime), "it ended when the pause stopped it, not at the rollback")
	recordHistory(t, d.name)
}
