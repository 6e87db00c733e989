package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

// newSpec writes spec (with DIR replaced by a fresh directory) and returns
// a demo handle on it.
func newSpec(t *testing.T, name, spec string) *demo {
	t.Helper()
	d := &demo{t: t, name: name, dir: t.TempDir()}
	d.spec = filepath.Join(d.dir, "spec.yaml")
	text := strings.ReplaceAll(spec, "DIR", d.dir)
	require.NoError(t, os.WriteFile(d.spec, []byte("name: "+name+"\n"+text), 0o644))
	return d
}

func TestDryRunReportsEveryFailedPreflightCheck(t *testing.T) {
	t.Parallel()
	d := newSpec(t, "it-dry-run", `
phases:
  - phase: validate
    hook: {run: {command: ["true"]}}
  - phase: copy
    hook:
      run:
        command: [./no-such-copy.sh]
        dir: DIR/missing
        secrets: {PGPASSWORD: {fromEnv: GODWIT_IT_UNSET_PASSWORD}}
      compensate: {command: [no-such-program-anywhere]}
`)
	for _, args := range [][]string{{"start", "--dry-run", "-f", d.spec}, {"preflight", "-f", d.spec}} {
		out, err := godwit(t, args...)
		require.Error(t, err, out)
		require.Contains(t, err.Error(), "preflight of it-dry-run found 4 problem(s); nothing was started")
		for _, want := range []string{
			"✗ phase copy: run: working directory " + d.dir + "/missing does not exist on this worker",
			"✗ phase copy: run: program ./no-such-copy.sh is not on this worker",
			"✗ phase copy: run: secret PGPASSWORD: environment variable GODWIT_IT_UNSET_PASSWORD is not set for this process",
			"✗ phase copy: compensate: program no-such-program-anywhere is not in the worker's PATH",
		} {
			require.Contains(t, out, want)
		}
	}
	_, err := env.client.DescribeWorkflowExecution(context.Background(), d.name, "")
	require.Error(t, err, "a dry run starts no migration")

	// The validate phase of a real run finds the same and stops there.
	d.start()
	final, err := d.result()
	require.Error(t, err)
	require.Equal(t, migration.StatusRolledBack, final.Status)
	require.Equal(t, migration.PhaseFailed, final.Phases[0].State)
	require.Contains(t, final.Phases[0].Error, "preflight found 4 problems: phase copy: run: working directory")
	require.Equal(t, migration.PhasePending, final.Phases[1].State, "nothing ran after the failed preflight")
}

const leasedSpec = `
resources: [store:orders/public.users]
phases:
  - phase: shift-traffic
    approval: {gate: go}
    hook: {run: {command: ["true"]}}
`

func TestAMigrationOverlappingARunningOneIsRefused(t *testing.T) {
	t.Parallel()
	a := newSpec(t, "it-lease-a", leasedSpec)
	a.start()
	a.waitFor("the gate", waitingAt("go"))

	b := newSpec(t, "it-lease-b", leasedSpec)
	out, err := godwit(t, "start", "-f", b.spec)
	require.Error(t, err, out)
	require.Contains(t, err.Error(), "migration it-lease-b not started:\n  resource store:orders/public.users is held by migration it-lease-a, which is running")
	out, err = godwit(t, "start", "--dry-run", "-f", b.spec)
	require.Error(t, err, out)
	require.Contains(t, out, "✗ resource store:orders/public.users is held by migration it-lease-a")

	// Past the CLI's check (two starts racing), the server still lets only
	// one migration hold the lease: the second stops before any phase.
	spec, err := config.LoadSpec(b.spec)
	require.NoError(t, err)
	run, err := env.client.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		ID: spec.Name, TaskQueue: env.taskQueue,
	}, workflows.WorkflowName, workflows.Input{Spec: *spec})
	require.NoError(t, err)
	var rep migration.Report
	err = run.Get(context.Background(), &rep)
	require.Error(t, err)
	final, ok := workflows.ReportFromError(err)
	require.True(t, ok)
	require.Equal(t, "resource store:orders/public.users is held by migration it-lease-a: wait for it to end, or roll it back", final.Error)
	require.Equal(t, migration.PhasePending, final.Phases[0].State)

	out, err = godwit(t, "rollback", a.name, "--reason", "free the lease")
	require.NoError(t, err, out)
	_, _ = a.result()
	waitLeaseEnded(t, activities.LeaseKeyID("store:orders/public.users"))
	recordHistory(t, a.name)

	b.start() // the lease is free again
	b.waitFor("the gate", waitingAt("go"))
	out, err = godwit(t, "approve", b.name, "--gate", "go")
	require.NoError(t, err, out)
	finalB, err := b.result()
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, finalB.Status)
	waitLeaseEnded(t, activities.LeaseKeyID("store:orders/public.users"))
}

// waitLeaseEnded waits until the lease workflow id has ended.
func waitLeaseEnded(t *testing.T, id string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		desc, err := env.client.DescribeWorkflowExecution(context.Background(), id, "")
		require.NoError(t, err)
		if desc.GetWorkflowExecutionInfo().GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return
		}
		require.True(t, time.Now().Before(deadline), "the lease %s was not released", id)
		time.Sleep(200 * time.Millisecond)
	}
}

// TestPauseStopsAResumableHookAtItsCheckpoint: pause stops the running
// hook at once (its process ends) and resume runs it again from its last
// checkpoint. The hook waits at unit 10 until the test lets it go on, so
// a slow machine cannot let it finish before the pause reaches it; the
// test waits for events (a checkpoint, the pause, the process's end), not
// for time.
func TestPauseStopsAResumableHookAtItsCheckpoint(t *testing.T) {
	t.Parallel()
	d := newSpec(t, "it-pause-checkpoint", `
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
            echo $$ > pid
            i=${GODWIT_CHECKPOINT:-0}
            [ "$i" -gt 0 ] && echo "resuming after unit $i"
            while [ "$i" -lt 40 ]; do
              while [ "$i" -ge 10 ] && [ ! -e go-on ]; do sleep 0.1; done
              i=$((i + 1)); echo "$i" >> units
              echo "godwit:checkpoint=$i"; echo "godwit:progress=$((i * 100 / 40))"
            done
            echo "done at unit $i"
  - phase: reconcile
    hook: {run: {dir: DIR, command: [sh, -c, 'test "$(sort -n units | uniq | wc -l)" = 40 && test "$(wc -l < units)" -le 41']}}
`)
	d.start()
	d.waitFor("the copy to report its checkpoint at unit 10", func(r migration.Report) bool { return r.Phases[0].Progress >= 25 })
	pid := strings.TrimSpace(d.read("pid"))
	require.True(t, processRuns(pid), "the hook (pid %s) runs, held at unit 10", pid)
	out, err := godwit(t, "pause", d.name)
	require.NoError(t, err, out)
	rep := d.waitFor("the pause to stop the copy at its checkpoint", func(r migration.Report) bool {
		return r.Status == migration.StatusPaused && strings.HasPrefix(r.Phases[0].Summary, "stopped by pause at its checkpoint")
	})
	require.Equal(t, migration.PhasePaused, rep.Phases[0].State, "the phase is held, not finished, and shown paused")
	require.InDelta(t, 25.0, rep.Phases[0].Progress, 1e-9, "the paused copy keeps the progress it stopped at (unit 10 of 40)")
	// The activity returned when its process was stopped; a process that
	// outlived it (a bug) would still be there seconds later.
	deadline := time.Now().Add(time.Minute)
	for processRuns(pid) {
		require.True(t, time.Now().Before(deadline), "the paused hook (pid %s) was stopped, not left running: it still runs a minute after the pause", pid)
		time.Sleep(100 * time.Millisecond)
	}
	require.Equal(t, "10", lastLine(d.read("units")), "no unit after the pause's checkpoint")
	require.NoError(t, os.WriteFile(filepath.Join(d.dir, "go-on"), nil, 0o644))

	out, err = godwit(t, "resume", d.name)
	require.NoError(t, err, out)
	final, err := d.result()
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, final.Status)
	out, err = godwit(t, "output", d.name, "copy")
	require.NoError(t, err, out)
	require.Regexp(t, `resuming after unit [1-9][0-9]*`, out, "the resumed hook went on from its checkpoint")
	require.Contains(t, out, "done at unit 40")
	recordHistory(t, d.name)
}

// processRuns reports whether the process pid exists (and is not a zombie).
func processRuns(pid string) bool {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command's closing parenthesis.
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func TestStepsGatesAndOutputsOnARealServer(t *testing.T) {
	t.Parallel()
	d := newSpec(t, "it-steps-outputs", `
phases:
  - phase: validate
    hook: {run: {command: ["true"]}}
  - phase: provision
    name: infra-green
    outputs: [url]
    hook:
      run: {command: [sh, -c, 'echo "godwit:output.url=http://green.internal:8080"']}
      compensate: {command: ["true"]}
  - phase: shift-traffic
    name: shift-reads
    hook:
      steps:
        - {name: "10% of reads", run: {dir: DIR, command: [sh, -c, 'echo "reads 10 to $TARGET" >> routing'], env: {TARGET: "${phases.infra-green.outputs.url}"}}}
        - {gate: all-reads}
        - {name: "100% of reads", run: {dir: DIR, command: [sh, -c, 'echo "reads 100 to $TARGET" >> routing'], env: {TARGET: "${phases.infra-green.outputs.url}"}}}
      compensate: {dir: DIR, command: [sh, -c, 'echo "back after $GODWIT_STEPS_DONE steps" >> routing']}
  - phase: decommission
    name: retire-legacy
    hook: {run: {command: ["true"]}}
`)
	d.start()
	rep := d.waitFor("the step gate", waitingAt("all-reads"))
	require.Equal(t, "3 of 4: shift-reads, step 2 of 3: gate all-reads", rep.CurrentPhase)
	require.Equal(t, map[string]string{"url": "http://green.internal:8080"}, rep.Phases[1].Outputs)
	require.Equal(t, "reads 10 to http://green.internal:8080\n", d.read("routing"))
	out, err := godwit(t, "status", d.name)
	require.NoError(t, err, out)
	require.Contains(t, out, "output url = http://green.internal:8080")

	out, err = godwit(t, "approve", d.name, "--gate", "all-reads")
	require.NoError(t, err, out)
	final, err := d.result()
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.Equal(t, "reads 10 to http://green.internal:8080\nreads 100 to http://green.internal:8080\n", d.read("routing"))
	out, err = godwit(t, "output", d.name, "shift-reads")
	require.NoError(t, err, out)
	require.Contains(t, out, "== shift-reads run step 1, attempt 1")
	require.Contains(t, out, "== shift-reads run step 3, attempt 1")
	recordHistory(t, d.name)
}

func TestRollbackMidStepsCompensatesThePhase(t *testing.T) {
	t.Parallel()
	d := newSpec(t, "it-steps-rollback", `
phases:
  - phase: shift-traffic
    hook:
      steps:
        - {run: {dir: DIR, command: [sh, -c, 'echo 10 > weight']}}
        - {wait: 1h}
        - {run: {dir: DIR, command: [sh, -c, 'echo 100 > weight']}}
      compensate: {dir: DIR, command: [sh, -c, 'echo "0 (undone after $GODWIT_STEPS_DONE steps)" > weight']}
`)
	d.start()
	d.waitFor("the wait step", func(r migration.Report) bool { return strings.Contains(r.CurrentPhase, "step 2 of 3") })
	out, err := godwit(t, "rollback", d.name, "--reason", "errors at 10%")
	require.NoError(t, err, out)
	final, _ := d.result()
	require.Equal(t, migration.StatusRolledBack, final.Status)
	require.Equal(t, "0 (undone after 1 steps)\n", d.read("weight"))
	recordHistory(t, d.name)
}
