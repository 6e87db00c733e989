package cli

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

func pastPointOfNoReturn() *migration.Report {
	r := migration.NewReport("orders", "", []migration.Phase{migration.PhaseReconcile, migration.PhaseDecommission}, nil, t0)
	r.Phases[0].State = migration.PhaseCompleted
	r.Phases[1].State = migration.PhaseRunning
	r.CurrentIndex = 1
	r.Refresh(t0)
	return r
}

func rollingBack() *migration.Report {
	r, _ := runningReport()
	r.Status = migration.StatusRollingBack
	r.RollbackNote = "requested by bob"
	r.Refresh(t0)
	return r
}

func TestSteering(t *testing.T) {
	me := whoami()
	tests := []struct {
		name      string
		args      []string
		state     wfState
		signalErr error
		wantOut   string
		wantErr   string
		signal    *sentSignal // nil: no signal may be sent
	}{
		{
			name:    "pause",
			args:    []string{"pause", "orders", "--reason", "load spike"},
			state:   running(only(runningReport())),
			wantOut: "pause sent to migration orders (now IN_PROGRESS, phase 2 of 3: copy)\n",
			signal:  &sentSignal{"orders", "", workflows.SignalPause, workflows.PauseRequest{Reason: "load spike", By: me}},
		},
		{
			name:    "resume",
			args:    []string{"resume", "orders"},
			state:   running(only(pausedReport())),
			wantOut: "resume sent to migration orders (now PAUSED, phase 2 of 3: copy)\n",
			signal:  &sentSignal{"orders", "", workflows.SignalResume, workflows.PauseRequest{By: me}},
		},
		{
			name:    "resume a migration that is not paused",
			args:    []string{"resume", "orders"},
			state:   running(only(runningReport())),
			wantErr: "migration orders is not paused (IN_PROGRESS, phase 2 of 3: copy): nothing to resume; see godwit status orders",
		},
		{
			name:    "pause a paused migration",
			args:    []string{"pause", "orders"},
			state:   running(only(pausedReport())),
			wantErr: "migration orders is already paused (PAUSED, phase 2 of 3: copy); to let it go on: godwit resume orders",
		},
		{
			name:    "pause a rollback",
			args:    []string{"pause", "orders"},
			state:   running(rollingBack()),
			wantErr: "migration orders is ROLLING_BACK: a rollback cannot be paused; see godwit status orders",
		},
		{
			name:    "pause an ended migration",
			args:    []string{"pause", "orders"},
			state:   ended(completedReport()),
			wantErr: "migration orders has already ended (COMPLETED): nothing to steer",
		},
		{
			name:    "pause a missing migration",
			args:    []string{"pause", "nope"},
			state:   wfState{describeErr: serviceerror.NewNotFound("not found")},
			wantErr: "no migration named \"nope\" in this namespace: see `godwit list`",
		},
		{
			name:      "pause, signal refused",
			args:      []string{"pause", "orders"},
			state:     running(only(runningReport())),
			signalErr: serviceerror.NewNotFound("workflow execution already completed"),
			wantErr:   "no migration named \"orders\" in this namespace: see `godwit list`",
			signal:    &sentSignal{"orders", "", workflows.SignalPause, workflows.PauseRequest{By: me}},
		},
		{
			name:    "rollback",
			args:    []string{"rollback", "orders", "--reason", "p99 too high"},
			state:   running(only(runningReport())),
			wantOut: "rollback requested for migration orders; follow it: godwit status orders --watch\n",
			signal:  &sentSignal{"orders", "", workflows.SignalRollback, workflows.RollbackRequest{Reason: "p99 too high", By: me}},
		},
		{
			name:    "rollback while waiting at a gate",
			args:    []string{"rollback", "orders", "--reason", "not today"},
			state:   running(only(waitingReport())),
			wantOut: "rollback requested for migration orders",
			signal:  &sentSignal{"orders", "", workflows.SignalRollback, workflows.RollbackRequest{Reason: "not today", By: me}},
		},
		{
			name:    "rollback past the point of no return",
			args:    []string{"rollback", "orders", "--reason", "too late"},
			state:   running(pastPointOfNoReturn()),
			wantErr: "rollback of orders refused: decommission has started: it is the point of no return (rollback: NOT_AVAILABLE)",
		},
		{
			name:    "rollback while rolling back",
			args:    []string{"rollback", "orders", "--reason", "again"},
			state:   running(rollingBack()),
			wantErr: "rollback of orders refused: requested by bob (rollback: IN_PROGRESS)",
		},
		{
			name:    "rollback of a rolled back migration",
			args:    []string{"rollback", "orders", "--reason", "again"},
			state:   ended(only(rolledBackReport())),
			wantErr: "migration orders has already ended (ROLLED_BACK): nothing to steer",
		},
		{
			name:    "rollback when the status query fails",
			args:    []string{"rollback", "orders", "--reason", "x"},
			state:   wfState{report: only(runningReport()), queryErr: errors.New("no worker")},
			wantErr: "migration orders: no worker",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &fakeClient{states: []wfState{tt.state}, signalErr: tt.signalErr}
			out, _, err := godwit(t, c.dial, tt.args...)
			if tt.wantErr != "" {
				assert.EqualError(t, err, tt.wantErr)
				assert.Empty(t, out)
			} else {
				require.NoError(t, err)
				assert.Contains(t, out, tt.wantOut)
			}
			if tt.signal == nil {
				assert.Empty(t, c.signals, "no signal may be sent")
			} else {
				assert.Equal(t, []sentSignal{*tt.signal}, c.signals)
			}
			assert.Equal(t, c.dials, c.closed, "every client dialed is closed")
			assert.Positive(t, c.closed, "the client is closed")
		})
	}
}

func TestApprove(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		state     *wfState // nil: a running migration
		updateErr error
		getErr    error
		result    workflows.ApproveResult
		wantReq   workflows.ApproveRequest
		wantOut   string
		wantErr   string
		noUpdate  bool // refused before any update is sent
	}{
		{
			name:    "approved",
			args:    []string{"approve", "orders", "--gate", "go-live", "--by", "alice"},
			result:  workflows.ApproveResult{Gate: "go-live", Phase: "shift-traffic", By: "alice"},
			wantReq: workflows.ApproveRequest{Gate: "go-live", By: "alice"},
			wantOut: "gate go-live approved by alice: migration orders goes on with phase shift-traffic\n",
		},
		{
			name:    "by defaults to the user",
			args:    []string{"approve", "orders", "--gate", "go-live"},
			result:  workflows.ApproveResult{Gate: "go-live", Phase: "shift-traffic", By: whoami()},
			wantReq: workflows.ApproveRequest{Gate: "go-live", By: whoami()},
			wantOut: "approved by " + whoami(),
		},
		{
			name:    "rejected by the workflow",
			args:    []string{"approve", "orders", "--gate", "nope"},
			getErr:  errors.New(`gate "nope" is not waiting: the migration waits at no gate`),
			wantReq: workflows.ApproveRequest{Gate: "nope", By: whoami()},
			wantErr: `approve nope of migration orders: gate "nope" is not waiting: the migration waits at no gate`,
		},
		{
			name:     "missing migration",
			args:     []string{"approve", "nope", "--gate", "go-live"},
			state:    &wfState{describeErr: serviceerror.NewNotFound("not found")},
			wantErr:  "no migration named \"nope\" in this namespace: see `godwit list`",
			noUpdate: true,
		},
		{
			name:     "ended migration",
			args:     []string{"approve", "orders", "--gate", "go-live"},
			state:    &wfState{ended: true, report: endedAs(migration.StatusRolledBack)},
			wantErr:  "migration orders has already ended (ROLLED_BACK): nothing to steer",
			noUpdate: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := wfState{report: mustRunning()}
			if tt.state != nil {
				state = *tt.state
			}
			c := &fakeClient{states: []wfState{state}, updateErr: tt.updateErr, updateGetErr: tt.getErr, updateResult: tt.result}
			out, _, err := godwit(t, c.dial, tt.args...)
			if tt.wantErr != "" {
				assert.EqualError(t, err, tt.wantErr)
				assert.Empty(t, out)
			} else {
				require.NoError(t, err)
				assert.Contains(t, out, tt.wantOut)
			}
			if tt.noUpdate {
				assert.Empty(t, c.updates)
				return
			}
			require.Len(t, c.updates, 1)
			u := c.updates[0]
			assert.Equal(t, tt.args[1], u.WorkflowID)
			assert.Equal(t, workflows.UpdateApprove, u.UpdateName)
			assert.Equal(t, []any{tt.wantReq}, u.Args)
			assert.Equal(t, client.WorkflowUpdateStageCompleted, u.WaitForStage, "wait for the workflow's answer")
			assert.Empty(t, c.signals)
			assert.Equal(t, c.dials, c.closed, "every client dialed is closed")
			assert.Positive(t, c.closed, "the client is closed")
		})
	}
}

func mustRunning() *migration.Report {
	r, _ := runningReport()
	return r
}

func endedAs(status migration.Status) *migration.Report {
	r := mustRunning()
	r.Status = status
	r.Refresh(t0)
	return r
}

// throttle 0 lifts the limit, and says so: not "takes 0 rows/s", which
// reads as a copy stopped.
func TestThrottleSaysWhatTheCopyTakes(t *testing.T) {
	for _, tt := range []struct{ rate, want string }{
		{"2000", "phase copy of orders takes 2000 rows/s at its next checkpoint\n"},
		{"0", "phase copy of orders takes no rate limit at its next checkpoint\n"},
	} {
		c := &fakeClient{states: []wfState{{report: mustRunning()}}, updateResult: "copy"}
		out, _, err := godwit(t, c.dial, "throttle", "orders", tt.rate)
		require.NoError(t, err)
		assert.Equal(t, tt.want, out)
		require.Len(t, c.updates, 1)
		assert.Equal(t, workflows.UpdateThrottle, c.updates[0].UpdateName)
	}
}
