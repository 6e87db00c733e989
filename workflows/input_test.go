package workflows

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
)

// runRaw executes the workflow with input as another client sends it: JSON
// that godwit did not write.
func (h *harness) runRaw(input string) error {
	h.t.Helper()
	h.env.ExecuteWorkflow(WorkflowName, json.RawMessage(input))
	require.True(h.t, h.env.IsWorkflowCompleted())
	return h.env.GetWorkflowError()
}

// TestInputWithoutDefaultsCompletes: the README's payload for `temporal
// workflow start`, with a spec that leaves every default out, runs as the
// same spec started by godwit would (it used to panic on the missing retry
// policy, and the run hung).
func TestInputWithoutDefaultsCompletes(t *testing.T) {
	h := newHarness(t)
	err := h.runRaw(`{"spec":{"name":"x","phases":[{"phase":"validate","hook":{"run":{"command":["true"]}}}]}}`)
	require.NoError(t, err)
	var rep migration.Report
	require.NoError(t, h.env.GetWorkflowResult(&rep))
	require.Equal(t, migration.StatusCompleted, rep.Status)
	require.Equal(t, []string{"run:validate"}, h.fake.Calls())
	got := h.fake.inputs[0].Phase
	require.NotNil(t, got.Retry, "the phase ran with the default retry policy")
	assert.Equal(t, config.DefaultMaxAttempts, got.Retry.MaxAttempts)
	assert.Equal(t, config.Duration(config.DefaultPhaseTimeout), got.Timeout)
	assert.Equal(t, config.Duration(config.DefaultCommandTimeout), got.Hook().Run.Timeout)
}

// TestBadInputFailsNamingTheField: an input that does not decode, or a
// spec that is not valid, ends the run FAILED with a non-retryable error
// that names the problem; nothing runs.
func TestBadInputFailsNamingTheField(t *testing.T) {
	cases := []struct{ name, input, want string }{
		{"a phase without a driver", `{"spec":{"name":"x","phases":[{"phase":"validate"}]}}`,
			"the spec is not valid:\nphases[0]: has no action"},
		{"no phases", `{"spec":{"name":"x"}}`, "phases: is required"},
		{"no spec at all", `{"name":"x","phases":[]}`, "name: is required"},
		{"a number where a duration belongs", `{"spec":{"name":"x","defaults":{"timeout":5},"phases":[{"phase":"validate","hook":{"run":{"command":["true"]}}}]}}`,
			`the input is not a Migration input: 5 is not a duration: a duration must be a string such as "30s"`},
		{"a duration without a unit in a phase", `{"spec":{"name":"x","phases":[{"phase":"validate","timeout":"10","hook":{"run":{"command":["true"]}}}]}}`,
			`the input is not a Migration input: phase validate: "10" is not a duration`},
		{"an unknown driver", `{"spec":{"name":"x","phases":[{"phase":"validate","hok":{"run":{"command":["true"]}}}]}}`,
			`the input is not a Migration input: phase validate: driver "hok" is not part of this build of godwit`},
		{"a bad value", `{"spec":{"name":"x","phases":[{"phase":"validate","retry":{"maxAttempts":-1},"hook":{"run":{"command":["true"]}}}]}}`,
			"phases[0].retry.maxAttempts: must be at least 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			err := h.runRaw(c.input)
			require.Error(t, err)
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, err, &appErr, "a failure, not a panic: %v", err)
			assert.Equal(t, ErrTypeInvalidInput, appErr.Type())
			assert.True(t, appErr.NonRetryable())
			assert.Contains(t, appErr.Message(), c.want)
			rep, ok := ReportFromError(err)
			require.True(t, ok, "the failure carries a report for godwit status")
			assert.Equal(t, migration.StatusFailed, rep.Status)
			assert.Contains(t, rep.Error, c.want)
			assert.Empty(t, h.fake.Calls(), "nothing runs")
		})
	}
}

// TestUnknownSignalIsAnIssue: a signal of a name the workflow does not
// handle (`pasue`) shows in the status as an issue, once, counted.
func TestUnknownSignalIsAnIssue(t *testing.T) {
	h := newHarness(t)
	spec := specWith(migration.PhaseValidate, migration.PhaseCopy)
	spec.Phases[1].Approval = &config.Approval{Gate: "go"}
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow("pasue", PauseRequest{By: "ops"})
	}, time.Minute)
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow("pasue", nil)
		h.env.SignalWorkflow("Rollback", "not JSON we know")
	}, 2*time.Minute)
	h.env.RegisterDelayedCallback(func() {
		rep := h.query()
		require.False(t, rep.Paused, "pasue is not pause")
		var ours []migration.Issue
		for _, is := range rep.Issues {
			if strings.Contains(is.Message, "ignored") {
				ours = append(ours, is)
			}
		}
		require.Len(t, ours, 2, "%+v", rep.Issues)
		assert.Equal(t, `signal "Rollback" ignored: this workflow handles only "pause", "resume" and "rollback" (check the name; updates such as approve are sent with `+"`temporal workflow update execute`)", ours[1].Message)
		assert.Contains(t, ours[0].Message, `signal "pasue" ignored`)
		assert.Equal(t, 2, ours[0].Count, "the same signal twice is one issue seen twice")
		assert.True(t, ours[0].LastSeen.After(ours[0].Time), "last seen at the second signal: %+v", ours[0])
		h.env.SignalWorkflow(SignalRollback, RollbackRequest{Reason: "done", By: "ops"})
	}, 3*time.Minute)
	rep, err := h.run(spec)
	require.NoError(t, err, "a requested rollback that undid every phase completes the run")
	require.Equal(t, migration.StatusRolledBack, rep.Status)
}

// TestIssuesAreCountedAndCapped: an issue seen again is counted, not
// added; a report carried from a run before that is compacted.
func TestIssuesAreCountedAndCapped(t *testing.T) {
	h := newHarness(t)
	spec := specWith(migration.PhaseValidate, migration.PhaseCopy)
	plan := []migration.PlannedPhase{{Name: "validate", Kind: migration.PhaseValidate}, {Name: "copy", Kind: migration.PhaseCopy}}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	carried := migration.NewPlannedReport("test", "", plan, t0)
	for i := range 500 { // what a failing follower left, every 30 s, before issuesV1
		carried.AddIssue(t0.Add(time.Duration(i)*30*time.Second), "copy", migration.SeverityWarning, "replication (catchUp) failed, tried again in 30s: boom")
	}
	for i := range 80 {
		carried.AddIssue(t0, "copy", migration.SeverityWarning, fmt.Sprintf("distinct %d", i))
	}
	h.env.ExecuteWorkflow(WorkflowName, Input{Spec: spec, Carry: &Carry{Report: *carried, Phase: 0, PreflightDone: true}})
	require.True(t, h.env.IsWorkflowCompleted())
	require.NoError(t, h.env.GetWorkflowError())
	var rep migration.Report
	require.NoError(t, h.env.GetWorkflowResult(&rep))
	require.LessOrEqual(t, len(rep.Issues), migration.MaxIssues)
	assert.Equal(t, 580, rep.Metrics.IssuesEncountered, "every occurrence is still counted")
	assert.Greater(t, rep.IssuesDropped, 0)
	var follower *migration.Issue
	for i := range rep.Issues {
		if strings.HasPrefix(rep.Issues[i].Message, "replication") {
			follower = &rep.Issues[i]
		}
	}
	require.NotNil(t, follower, "the issue that keeps coming back is kept: %+v", rep.Issues)
	assert.Equal(t, 500, follower.Count)
	assert.Equal(t, t0.Add(499*30*time.Second), follower.LastSeen.UTC())
}

// TestPreparedSpecsOfGodwitStartAreNotRecordedAgain: a spec godwit start
// parsed already has its defaults, so the workflow's side effect records
// no second copy of it in history; and it passes the checks again.
func TestPreparedSpecsOfGodwitStartAreNotRecordedAgain(t *testing.T) {
	files, err := filepath.Glob("../examples/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			spec, err := config.LoadSpec(f)
			if err != nil {
				t.Skipf("not a spec on its own: %v", err)
			}
			// Through JSON, as the workflow receives it.
			b, err := json.Marshal(Input{Spec: *spec})
			require.NoError(t, err)
			var in Input
			require.NoError(t, json.Unmarshal(b, &in))
			p := prepare(in)
			require.Empty(t, p.Error)
			require.Nil(t, p.Spec, "the spec changed when prepared again")
		})
	}
}

// TestEmptyDriverSectionsAreReportedNotPanicked: every driver's section,
// sent empty by another client, is reported by its checks (the recover in
// prepare is a last resort, not the way these fail).
func TestEmptyDriverSectionsAreReportedNotPanicked(t *testing.T) {
	for _, key := range config.DriverKeys() {
		t.Run(key, func(t *testing.T) {
			var in Input
			require.NoError(t, json.Unmarshal([]byte(fmt.Sprintf(`{"spec":{"name":"x","phases":[{"phase":"copy","%s":{}}]}}`, key)), &in))
			p := prepare(in)
			require.NotContains(t, p.Error, "could not be checked", "the checks of an empty %s section panicked", key)
		})
	}
}

// TestALongIssueMessageIsClipped: a record update carrying 100 KB is one
// issue of at most migration.MaxIssueMessage bytes (issuesV2), so fifty
// such issues cannot push the report past Temporal's payload limit.
func TestALongIssueMessageIsClipped(t *testing.T) {
	h := newHarness(t)
	spec := specWith(migration.PhaseValidate, migration.PhaseCopy)
	spec.Phases[1].Approval = &config.Approval{Gate: "go"}
	long := "weights set by hand: " + strings.Repeat("x", 100000)
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(UpdateRecord, "record", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("record rejected: %v", err) },
			OnAccept: func() {}, OnComplete: func(any, error) {},
		}, RecordRequest{By: "ops", Message: long})
		h.env.UpdateWorkflow(UpdateApprove, "approve", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("approval rejected: %v", err) },
			OnAccept: func() {}, OnComplete: func(any, error) {},
		}, ApproveRequest{Gate: "go", By: "ops"})
	}, time.Minute)
	rep, err := h.run(spec)
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, rep.Status)
	require.Len(t, rep.Issues, 1, "%+v", rep.Issues)
	msg := rep.Issues[0].Message
	end := msg[max(0, len(msg)-60):]
	require.LessOrEqual(t, len(msg), migration.MaxIssueMessage, "the message was kept whole, ending %q", end)
	assert.True(t, strings.HasPrefix(msg, "weights set by hand: xxx"), msg[:40])
	assert.Contains(t, msg, " bytes not kept) … xxx")
	assert.True(t, strings.HasSuffix(msg, "xxx (by ops)"), "who recorded it is kept: the message ends %q", end)
}
