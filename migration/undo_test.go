package migration

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// requestedRollback is a run a person rolled back, as the workflow records
// it: the request's note in RollbackNote and Error.
func requestedRollback(status Status, by, reason string) *Report {
	t0 := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	r := NewReport("orders", "", []Phase{PhaseCopy, PhaseShiftTraffic}, nil, t0)
	r.Phases[0].State = PhaseCompensated
	r.Status = status
	r.Error = RollbackRequestNote(by, reason)
	r.RollbackNote = r.Error
	r.CurrentIndex = -1
	r.Refresh(t0.Add(time.Minute))
	return r
}

func TestRollbackRequestNoteKeepsTheWorkflowsText(t *testing.T) {
	// Runs in flight and recorded histories hold this text.
	assert.Equal(t, "rollback requested by alice: p99 too high", RollbackRequestNote("alice", "p99 too high"))
	assert.Equal(t, "rollback requested", RollbackRequestNote("", ""))
	assert.Equal(t, "rollback requested: no reason", RollbackRequestNote("", "no reason"))
}

func TestRequestedRollbackSaysWhoAndWhyNotAnError(t *testing.T) {
	r := requestedRollback(StatusRolledBack, "alice", "p99 too high")
	by, reason, ok := r.RequestedRollback()
	require.True(t, ok)
	assert.Equal(t, "alice", by)
	assert.Equal(t, "p99 too high", reason)
	steps := strings.Join(r.NextSteps, "\n")
	assert.NotContains(t, steps, "find the cause", "nothing failed")
	assert.Contains(t, r.NextSteps[0], "nothing failed: the rollback was asked for by alice: p99 too high")
	assert.Contains(t, steps, "godwit start -f <spec>")

	r = requestedRollback(StatusRollingBack, "", "")
	by, _, ok = r.RequestedRollback()
	require.True(t, ok)
	assert.Equal(t, "someone", by)
	assert.Contains(t, r.NextSteps[0], "the rollback was asked for by someone (no reason given); wait for the compensations to finish")

	r = requestedRollback(StatusRollbackFailed, "bob", "bad data")
	r.Error += "; then rollback failed: compensate copy: boom"
	_, reason, ok = r.RequestedRollback()
	require.True(t, ok)
	assert.Equal(t, "bad data", reason)

	failed := requestedRollback(StatusRolledBack, "x", "y")
	failed.Error, failed.RollbackNote = "phase copy failed: disk full", "phase copy failed"
	failed.Refresh(failed.UpdatedTime)
	_, _, ok = failed.RequestedRollback()
	assert.False(t, ok, "a rollback after a failure was not asked for")
	assert.Contains(t, failed.NextSteps[0], "find the cause")
}

func TestHeadlineIsMarkdownWithCommandsAsCode(t *testing.T) {
	t0 := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	r := NewReport("orders", "", []Phase{PhaseCopy, PhaseShiftTraffic}, map[Phase]string{PhaseShiftTraffic: "go-live"}, t0)
	r.Phases[0].State, r.Phases[0].Progress = PhaseCompleted, 100
	r.Status, r.WaitingGate, r.CurrentIndex = StatusWaitingApproval, "go-live", 1
	r.Refresh(t0)
	h := r.Headline()
	for _, line := range strings.Split(strings.TrimSuffix(h, "\n"), "\n") {
		assert.True(t, strings.HasPrefix(line, "- "), "each line is a list item, or Markdown runs them together: %q", line)
	}
	assert.Contains(t, h, "`godwit approve orders --gate go-live`", "a code span keeps --gate from becoming an en dash")
	assert.NotContains(t, h, "gate go-live shows", "a gate before its phase has nothing of the phase to show")

	// A gate inside a phase (a Terraform plan's) shows what the phase found.
	r.Phases[1].State, r.Phases[1].Summary = PhaseRunning, "plan 9c87dcffff59: 0 to add, 0 to change, 1 to destroy: - terraform_data.blue[0]"
	r.Refresh(t0)
	h = r.Headline()
	assert.Contains(t, h, "- gate go-live shows shift-traffic: plan 9c87dcffff59: 0 to add, 0 to change, 1 to destroy: - terraform\\_data.blue\\[0\\]\n")
	assert.Contains(t, h, "- what it printed (a Terraform plan in full, with its values): `godwit output orders shift-traffic`\n")

	rb := requestedRollback(StatusRolledBack, "alice", "p99 too high")
	h = rb.Headline()
	assert.Contains(t, h, "- rollback asked for by alice: p99 too high\n")
	rb.Error, rb.RollbackNote = "phase copy failed", "phase copy failed"
	rb.Refresh(rb.UpdatedTime)
	assert.Contains(t, rb.Headline(), "`godwit start -f <spec>`", "<spec> survives inside a code span")
}

func TestUndoneTextTellsNoCompensationFromUndone(t *testing.T) {
	assert.Equal(t, "NOT UNDONE: it has no compensation, its effects remain",
		PhaseReport{State: PhaseCompensated, Summary: NoCompensationSummary}.UndoneText())
	assert.Equal(t, "NOTHING TO UNDO: a reconcile changes nothing",
		PhaseReport{State: PhaseCompensated, Summary: "nothing to undo: a reconcile changes nothing"}.UndoneText())
	assert.Empty(t, PhaseReport{State: PhaseCompensated, Summary: "dropped 3 tables"}.UndoneText())
	assert.Empty(t, PhaseReport{State: PhaseFailed, Summary: NoCompensationSummary}.UndoneText())
}

func TestShownStateSaysCompensatedOnlyWhenSomethingWasUndone(t *testing.T) {
	assert.Equal(t, "NOT_UNDONE", PhaseReport{State: PhaseCompensated, Summary: NoCompensationSummary}.ShownState())
	assert.Equal(t, "NOTHING_TO_UNDO", PhaseReport{State: PhaseCompensated, Summary: "nothing to undo: a catchUp has no compensation"}.ShownState())
	assert.Equal(t, "COMPENSATED", PhaseReport{State: PhaseCompensated, Summary: "dropped 3 tables"}.ShownState())
	assert.Equal(t, "FAILED", PhaseReport{State: PhaseFailed, Summary: NoCompensationSummary}.ShownState())
}

// A rolled-back run's validate phase (a hook with no compensation, as the
// README's preflight-only phase) changed nothing: it reads NOTHING_TO_UNDO,
// as godwit plan says, not NOT_UNDONE with "its effects remain".
func TestAValidatePhaseWithoutCompensationHasNothingToUndo(t *testing.T) {
	v := PhaseReport{Phase: "validate", Kind: PhaseValidate, State: PhaseCompensated, Summary: NoCompensationSummary}
	assert.Equal(t, "NOTHING_TO_UNDO", v.ShownState())
	assert.Equal(t, "NOTHING TO UNDO: a validate phase checks, it changes nothing", v.UndoneText())
	old := PhaseReport{Phase: "validate", State: PhaseCompensated, Summary: NoCompensationSummary}
	assert.Equal(t, "NOTHING_TO_UNDO", old.ShownState(), "a report from before phases had kinds: its name is its kind")
	hook := PhaseReport{Phase: "migrate-schema", Kind: PhaseProvision, State: PhaseCompensated, Summary: NoCompensationSummary}
	assert.Equal(t, "NOT_UNDONE", hook.ShownState(), "a phase of another kind may have changed things")
}

// A requested rollback one of whose compensations failed, and that a
// person repaired (retried, or skipped having undone the phase by hand),
// does not end saying "nothing failed".
func TestARepairedRollbackDoesNotSayNothingFailed(t *testing.T) {
	r := requestedRollback(StatusRolledBack, "alice", "p99 too high")
	r.Issues = append(r.Issues, Issue{Phase: "copy", Severity: SeverityError, Message: "compensation failed: drop tables: connection refused"})
	r.Refresh(r.UpdatedTime)
	assert.NotContains(t, r.NextSteps[0], "nothing failed")
	assert.Contains(t, r.NextSteps[0], "the rollback was asked for by alice: p99 too high; 1 compensation failed on the way and was repaired by a person (see issues); every other completed phase that could be undone was")

	r.Phases[1].State = PhaseUndoneByHand
	r.Refresh(r.UpdatedTime)
	assert.Contains(t, r.NextSteps[0], "; shift-traffic marked undone by hand, not by Godwit: check it really is; every other")
}
