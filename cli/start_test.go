package cli

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/plan"
	"github.com/godwit/godwit/workflows"
)

func TestStart(t *testing.T) {
	demoDoc, err := os.ReadFile(demoSpec)
	require.NoError(t, err)
	withQueue := writeSpec(t, strings.Replace(string(demoDoc), "name: demo\n", "name: demo\ntaskQueue: spec-queue\n", 1))

	boom := errors.New("boom")
	done := completedReport()
	done.Name = "demo"
	tests := []struct {
		name      string
		args      []string
		startErr  error
		run       *fakeRun
		states    []wfState
		wantQueue string
		wantOut   []string
		absent    []string
		wantErr   string
		wantCode  int
		// notWrapped: the error is rewritten, not wrapped.
		notWrapped bool
		noPollers  bool
		wantErrOut string // "" = nothing on stderr
	}{
		{
			name:       "no worker on the queue is warned about",
			args:       []string{"start", "-f", demoSpec},
			noPollers:  true,
			wantQueue:  "godwit",
			wantOut:    []string{"started migration demo (run run-1) on task queue godwit\n"},
			wantErrOut: "warning: no worker is polling task queue godwit, so the migration waits until one does: start godwit-worker (with --task-queue godwit)\n",
		},
		{
			name:      "start",
			args:      []string{"start", "-f", demoSpec},
			wantQueue: "godwit",
			wantOut: []string{
				"started migration demo (run run-1) on task queue godwit\n",
				"follow it:  godwit status demo --watch\n",
			},
		},
		{
			name:      "task queue from the settings",
			args:      []string{"start", "-f", demoSpec, "--task-queue", "eu"},
			wantQueue: "eu",
			wantOut:   []string{"on task queue eu\n"},
		},
		{
			name:      "task queue from the spec wins",
			args:      []string{"start", "-f", withQueue, "--task-queue", "eu"},
			wantQueue: "spec-queue",
			wantOut:   []string{"on task queue spec-queue\n"},
		},
		{
			name:       "already running",
			args:       []string{"start", "-f", demoSpec},
			startErr:   serviceerror.NewWorkflowExecutionAlreadyStarted("already started", "req", "run-0"),
			wantQueue:  "godwit",
			states:     []wfState{{}},
			wantErr:    "migration \"demo\" is already running (run run-0): follow it with `godwit status demo --watch`, or roll it back first",
			notWrapped: true,
		},
		{
			name:       "ended but still releasing its leases",
			args:       []string{"start", "-f", demoSpec},
			startErr:   serviceerror.NewWorkflowExecutionAlreadyStarted("already started", "req", "run-0"),
			states:     []wfState{{memo: memoOf(t, migration.Summary{Status: migration.StatusRolledBack})}},
			wantQueue:  "godwit",
			wantErr:    "migration \"demo\" ended ROLLED_BACK, but its run run-0 is still closing (releasing its leases",
			notWrapped: true,
		},
		{
			name:      "search attributes missing",
			args:      []string{"start", "-f", demoSpec},
			startErr:  serviceerror.NewInvalidArgument("search attribute MigrationPhase is not defined"),
			wantQueue: "godwit",
			wantErr:   "temporal operator search-attribute create --name MigrationPhase --type Keyword --name MigrationStatus --type Keyword",
		},
		{
			name:      "other invalid argument",
			args:      []string{"start", "-f", demoSpec},
			startErr:  serviceerror.NewInvalidArgument("task queue name too long"),
			wantQueue: "godwit",
			wantErr:   "start migration demo: task queue name too long",
		},
		{
			name:      "other error",
			args:      []string{"start", "-f", demoSpec, "--wait"},
			startErr:  boom,
			wantQueue: "godwit",
			wantErr:   "start migration demo: boom",
		},
		{
			name:      "wait, completed",
			args:      []string{"start", "-f", demoSpec, "--wait"},
			run:       &fakeRun{report: done},
			wantQueue: "godwit",
			wantOut:   []string{"started migration demo", "Migration demo — COMPLETED\n"},
			absent:    []string{"follow it"},
		},
		{
			name:      "wait, failed: exit code 2",
			args:      []string{"start", "-f", demoSpec, "--wait"},
			run:       &fakeRun{err: overTheWire(temporal.NewApplicationError("x", "MigrationFailed", *failedReport()))},
			wantQueue: "godwit",
			wantOut:   []string{"started migration demo", "Migration orders — FAILED\n"},
			wantErr:   "migration demo ended FAILED: phase decommission failed: mv: permission denied",
			wantCode:  2,
		},
		{
			name:      "watch until completed",
			args:      []string{"start", "-f", demoSpec, "--watch"},
			states:    []wfState{ended(done)}, // a running state would wait defaultInterval
			wantQueue: "godwit",
			wantOut:   []string{"started migration demo", "Migration demo — COMPLETED\n"},
			absent:    []string{"follow it"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &fakeClient{startErr: tt.startErr, run: tt.run, states: tt.states, noPollers: tt.noPollers}
			out, errOut, err := godwit(t, c.dial, tt.args...)
			assert.Equal(t, tt.wantErrOut, errOut)
			switch {
			case tt.wantCode != 0:
				var exit *exitError
				require.ErrorAs(t, err, &exit)
				assert.Equal(t, tt.wantCode, exit.code)
				assert.Equal(t, tt.wantErr, exit.msg)
			case tt.wantErr != "":
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				if !tt.notWrapped {
					assert.ErrorIs(t, err, tt.startErr)
				}
				assert.Empty(t, out)
			default:
				require.NoError(t, err)
			}
			for _, w := range tt.wantOut {
				assert.Contains(t, out, w)
			}
			for _, w := range tt.absent {
				assert.NotContains(t, out, w)
			}
			assert.Equal(t, 1, c.closed, "the client is closed")

			require.NotNil(t, c.started, "ExecuteWorkflow was not called")
			o := c.started
			assert.Equal(t, "demo", o.ID, "workflow ID = spec name")
			assert.Equal(t, tt.wantQueue, o.TaskQueue)
			assert.Equal(t, enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL, o.WorkflowIDConflictPolicy)
			assert.Equal(t, enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE, o.WorkflowIDReusePolicy)
			assert.True(t, o.WorkflowExecutionErrorWhenAlreadyStarted, "a running migration must be refused, not joined")
			assert.Contains(t, o.StaticSummary, "Move the users table")
			for _, p := range demoPhases {
				assert.Contains(t, o.StaticDetails, "| "+p+" |", "the plan in the UI names every phase")
			}
			assert.Contains(t, o.StaticDetails, "risk **", "the plan's overall risk")
			assert.Contains(t, o.StaticDetails, "point of no return: decommission")
			assert.Contains(t, o.StaticDetails, "runs the compensation: ", "each phase's rollback step")
			assert.LessOrEqual(t, len(o.StaticDetails), plan.DefaultDetailsBytes)
			assert.Equal(t, 2, o.TypedSearchAttributes.Size())
			status, ok := o.TypedSearchAttributes.GetKeyword(workflows.SearchAttrStatus)
			assert.True(t, ok)
			assert.Equal(t, string(migration.StatusInProgress), status)

			require.Len(t, c.startArgs, 1)
			in, ok := c.startArgs[0].(workflows.Input)
			require.True(t, ok, "the workflow's input is a workflows.Input, got %T", c.startArgs[0])
			assert.Equal(t, "demo", in.Spec.Name)
			require.Len(t, in.Spec.Phases, len(demoPhases))
			for i, p := range demoPhases {
				assert.Equal(t, p, string(in.Spec.Phases[i].Phase))
			}
			assert.Equal(t, 3, in.Spec.Phases[0].Retry.MaxAttempts, "the spec is sent with its defaults applied")
		})
	}
}
