package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/migration"
)

// A pause records who paused the run, why and since when; the stretch it
// held a started phase is kept, so the phase's working time leaves it
// out; a resume forgets who paused.
func TestAPauseRecordsWhoWhyAndTheTimeItHeldThePhase(t *testing.T) {
	spec := mustSpec(t, `name: test
phases:
  - phase: shift-traffic
    hook:
      steps:
        - {name: "set 10%", run: {command: ["true"]}}
        - {name: "set 100%", run: {command: ["true"]}}
      compensate: {command: ["true"]}
`)
	h := newHarness(t)
	h.fake.behave = func(_ context.Context, call string, _ int32) error {
		if call == "run:shift-traffic#1" {
			h.env.SignalWorkflow(SignalPause, PauseRequest{By: "ana", Reason: "waiting for DBA"})
		}
		return nil
	}
	h.env.RegisterDelayedCallback(func() {
		rep := h.query()
		require.Equal(t, migration.StatusPaused, rep.Status)
		require.Equal(t, "ana", rep.PausedBy)
		require.Equal(t, "waiting for DBA", rep.PauseReason)
		require.False(t, rep.PausedSince.IsZero())
		require.Less(t, rep.PausedSince.Sub(rep.StartTime), time.Minute, "paused when the signal came")
		p := rep.Phases[0]
		require.Len(t, p.Pauses, 1, "the pause holds the phase between its steps")
		require.True(t, p.Pauses[0].End.IsZero(), "the hold goes on")
		h.env.SignalWorkflow(SignalResume, PauseRequest{By: "ana"})
	}, 30*time.Minute)
	rep, err := h.run(spec)
	require.NoError(t, err)
	require.Empty(t, rep.PausedBy, "a resume forgets who paused")
	require.Empty(t, rep.PauseReason)
	require.True(t, rep.PausedSince.IsZero())
	p := rep.Phases[0]
	require.Len(t, p.Pauses, 1)
	held := p.Pauses[0].End.Sub(p.Pauses[0].Start)
	require.InDelta(t, (30 * time.Minute).Seconds(), held.Seconds(), 60)
	require.Equal(t, held, p.PausedTime(p.EndTime))
	require.Less(t, p.WorkingTime(p.EndTime), time.Minute, "the phase's own time leaves the pause out")
}

// A pause with no payload (the temporal CLI without --input, old
// clients) still pauses; who and why are unknown, since when is not.
func TestAPauseWithoutPayloadStillPauses(t *testing.T) {
	h := newHarness(t)
	h.fake.behave = func(_ context.Context, call string, _ int32) error {
		if call == "run:validate" {
			h.env.SignalWorkflow(SignalPause, nil)
		}
		return nil
	}
	h.env.RegisterDelayedCallback(func() {
		rep := h.query()
		require.Equal(t, migration.StatusPaused, rep.Status)
		require.True(t, rep.Paused)
		require.Empty(t, rep.PausedBy)
		require.False(t, rep.PausedSince.IsZero())
		require.Empty(t, rep.Phases[0].Pauses, "a pause between phases holds no phase")
		h.env.SignalWorkflow(SignalResume, nil)
	}, time.Hour)
	rep, err := h.run(specWith(migration.PhaseValidate, migration.PhaseCopy))
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, rep.Status)
	require.Empty(t, rep.Phases[1].Pauses)
}
