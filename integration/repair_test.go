package integration

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/migration"
)

// A compensation that fails until its cause is fixed blocks the rollback;
// the CLI's repair commands unblock it.
const blockedRollbackSpec = `
defaults: {retry: {maxAttempts: 2, initialInterval: 100ms}}
phases:
  - phase: provision
    hook:
      run: {dir: DIR, command: [sh, -c, 'touch target']}
      compensate: {dir: DIR, command: [sh, -c, 'rm -f target']}
  - phase: shift-traffic
    hook:
      run: {dir: DIR, command: [sh, -c, 'echo new > routing']}
      compensate: {dir: DIR, command: [sh, -c, 'test -f router-up || { echo "router unreachable" >&2; exit 1; }; echo legacy > routing']}
  - phase: reconcile
    approval: {gate: check}
    hook: {run: {command: ["true"]}}
`

func startBlockedRollback(t *testing.T, name string) *demo {
	t.Helper()
	d := newSpec(t, name, blockedRollbackSpec)
	d.start()
	d.waitFor("the gate", waitingAt("check"))
	out, err := godwit(t, "rollback", d.name, "--reason", "reconcile looks wrong")
	require.NoError(t, err, out)
	rep := d.waitFor("the blocked rollback", func(r migration.Report) bool { return r.Status == migration.StatusRollbackBlocked })
	require.Equal(t, migration.PhaseCompFailed, rep.Phases[1].State)
	require.Contains(t, rep.Phases[1].Error, "router unreachable")
	require.Equal(t, migration.PhaseCompleted, rep.Phases[0].State, "provision is not undone while shift-traffic is in effect")
	out, err = godwit(t, "status", d.name)
	require.NoError(t, err, out)
	require.Contains(t, out, "godwit rollback "+d.name+" --retry")
	return d
}

func TestABlockedRollbackIsRetriedOnceFixed(t *testing.T) {
	t.Parallel()
	d := startBlockedRollback(t, "it-repair-retry")
	out, err := godwit(t, "rollback", d.name, "--skip", "provision")
	require.Error(t, err, out)
	require.Contains(t, err.Error(), `skip names phase "provision", but the rollback is blocked at phase "shift-traffic"`)

	require.NoError(t, os.WriteFile(filepath.Join(d.dir, "router-up"), nil, 0o644))
	out, err = godwit(t, "rollback", d.name, "--retry")
	require.NoError(t, err, out)
	require.Contains(t, out, "retrying the compensation of shift-traffic")
	final, _ := d.result()
	require.Equal(t, migration.StatusRolledBack, final.Status)
	require.Equal(t, "legacy\n", d.read("routing"))
	require.False(t, d.exists("target"), "the rollback went on to provision")
	recordHistory(t, d.name)
}

func TestABlockedRollbackGoesOnAfterASkipOrEndsOnAbandon(t *testing.T) {
	t.Parallel()
	d := startBlockedRollback(t, "it-repair-skip")
	out, err := godwit(t, "rollback", d.name, "--skip", "shift-traffic", "--reason", "routing reset by hand")
	require.NoError(t, err, out)
	final, _ := d.result()
	require.Equal(t, migration.StatusRolledBack, final.Status)
	require.Equal(t, migration.PhaseUndoneByHand, final.Phases[1].State)
	require.False(t, d.exists("target"))
	require.Contains(t, final.Issues[len(final.Issues)-1].Message, "compensation of shift-traffic skipped by")
	recordHistory(t, d.name)

	a := startBlockedRollback(t, "it-repair-abandon")
	out, err = godwit(t, "rollback", a.name, "--abandon")
	require.NoError(t, err, out)
	finalA, _ := a.result()
	require.Equal(t, migration.StatusRollbackFailed, finalA.Status)
	require.True(t, a.exists("target"), "abandon leaves the rest as it is")
	recordHistory(t, a.name)
	out, err = godwit(t, "rollback", a.name, "--retry")
	require.Error(t, err, out)
	require.Contains(t, err.Error(), "has already ended (ROLLBACK_FAILED)")
}
