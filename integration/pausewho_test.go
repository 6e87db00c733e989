package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/migration"
)

// TestAPauseSaysWhoWhyAndItsTimeApart pauses a resumable copy twice: with
// godwit pause --reason --by, then with the temporal CLI's pause signal
// without a payload. The status says who paused, why and since when
// (and still pauses without a payload); the finished copy's duration
// shows the time the pauses held it apart from its working time.
func TestAPauseSaysWhoWhyAndItsTimeApart(t *testing.T) {
	t.Parallel()
	d := newSpec(t, "it-pause-who", `
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
              while [ "$i" -ge 10 ] && [ ! -e go-on ]; do sleep 0.1; done
              i=$((i + 1))
              echo "godwit:checkpoint=$i"; echo "godwit:progress=$((i * 100 / 40))"
            done
  - phase: reconcile
    hook: {run: {command: ["true"]}}
`)
	d.start()
	d.waitFor("the copy to hold at unit 10", func(r migration.Report) bool { return r.Phases[0].Progress >= 25 })
	out, err := godwit(t, "pause", d.name, "--reason", "waiting for DBA", "--by", "ana")
	require.NoError(t, err, out)
	// The pause holds the copy once it stopped at its checkpoint: then
	// the report has the hold, open.
	held := func(n int) func(r migration.Report) bool {
		return func(r migration.Report) bool {
			p := r.Phases[0]
			return r.Status == migration.StatusPaused && len(p.Pauses) == n && p.Pauses[n-1].End.IsZero() &&
				strings.HasPrefix(p.Summary, "stopped by pause at its checkpoint")
		}
	}
	paused := d.waitFor("the pause to stop the copy", held(1))
	require.Equal(t, "ana", paused.PausedBy)
	require.Equal(t, "waiting for DBA", paused.PauseReason)
	require.False(t, paused.PausedSince.IsZero())
	out, err = godwit(t, "status", d.name, "--leftovers=false")
	require.NoError(t, err, out)
	require.Regexp(t, `\n  Paused     by ana since \S+ \S+ UTC \([0-9ms.]+ ago\): waiting for DBA\n`, out)
	time.Sleep(2 * time.Second) // the pause's time, to be told apart
	out, err = godwit(t, "resume", d.name)
	require.NoError(t, err, out)
	d.waitFor("the copy to run again", func(r migration.Report) bool {
		return r.Status == migration.StatusInProgress && r.Phases[0].State == migration.PhaseRunning && r.PausedBy == ""
	})

	// The temporal CLI without --input: a pause signal with no payload.
	out, err = temporalCLI(t, "workflow", "signal", "--workflow-id", d.name, "--name", "pause")
	require.NoError(t, err, out)
	again := d.waitFor("the payload-less pause to stop the copy", held(2))
	require.True(t, again.PausedSince.After(paused.PausedSince), "since the second pause")
	require.Empty(t, again.PausedBy)
	require.Empty(t, again.PauseReason)
	out, err = godwit(t, "status", d.name, "--leftovers=false")
	require.NoError(t, err, out)
	require.Contains(t, out, "ago) (no reason given)\n")
	time.Sleep(2 * time.Second)
	require.NoError(t, os.WriteFile(filepath.Join(d.dir, "go-on"), nil, 0o644))
	out, err = temporalCLI(t, "workflow", "signal", "--workflow-id", d.name, "--name", "resume")
	require.NoError(t, err, out)

	final, err := d.result()
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.Empty(t, final.PausedBy)
	require.True(t, final.PausedSince.IsZero())
	p := final.Phases[0]
	require.Len(t, p.Pauses, 2, "each pause held the copy once")
	for _, s := range p.Pauses {
		require.False(t, s.End.IsZero(), "every hold ended")
	}
	pausedFor := p.PausedTime(p.EndTime)
	require.GreaterOrEqual(t, pausedFor, 4*time.Second)
	require.Equal(t, p.EndTime.Sub(p.StartTime)-pausedFor, p.WorkingTime(p.EndTime))
	out, err = godwit(t, "status", d.name, "--leftovers=false")
	require.NoError(t, err, out)
	require.Regexp(t, `1\. copy .* COMPLETED +[0-9ms.]+ \(paused [0-9ms]+\)`, out)
	recordHistory(t, d.name)
}
