package cli

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func keyword(t *testing.T, v string) *commonpb.Payload {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(v)
	require.NoError(t, err)
	return p
}

func TestList(t *testing.T) {
	started := time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)
	execution := func(id string, status enumspb.WorkflowExecutionStatus, sa map[string]*commonpb.Payload) *workflowpb.WorkflowExecutionInfo {
		e := &workflowpb.WorkflowExecutionInfo{
			Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: id + "-run"},
			StartTime: timestamppb.New(started),
			Status:    status,
		}
		if sa != nil {
			e.SearchAttributes = &commonpb.SearchAttributes{IndexedFields: sa}
		}
		return e
	}
	startedText := strings.Fields(started.Local().Format(time.DateTime))

	tests := []struct {
		name    string
		args    []string
		resp    *workflowservice.ListWorkflowExecutionsResponse
		listErr error
		rows    [][]string // the fields of each line after the header
		wantErr string
		limit   int32
		query   string // "" = every migration
	}{
		{
			name:  "filtered by status, case-insensitive",
			args:  []string{"list", "--status", "paused"},
			resp:  &workflowservice.ListWorkflowExecutionsResponse{},
			rows:  [][]string{strings.Fields("(no migrations yet: start one with godwit start -f SPEC)")},
			limit: 50,
			query: `WorkflowType = "Migration" AND ExecutionStatus != "ContinuedAsNew" AND MigrationStatus = "PAUSED" AND ExecutionStatus = "Running"`,
		},
		{
			name: "migrations",
			args: []string{"list"},
			resp: &workflowservice.ListWorkflowExecutionsResponse{Executions: []*workflowpb.WorkflowExecutionInfo{
				execution("orders", enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, map[string]*commonpb.Payload{
					"MigrationStatus": keyword(t, "PAUSED"), "MigrationPhase": keyword(t, "shift-traffic"),
				}),
				execution("users", enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, map[string]*commonpb.Payload{
					"MigrationStatus": keyword(t, "COMPLETED"), "MigrationPhase": keyword(t, "none"),
				}),
				execution("old", enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, nil),
				// Terminated or timed out outside Godwit: the status it last
				// published (IN_PROGRESS) would read as if it went on.
				execution("stale", enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, map[string]*commonpb.Payload{
					"MigrationStatus": keyword(t, "IN_PROGRESS"), "MigrationPhase": keyword(t, "copy"),
				}),
				execution("slow", enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT, map[string]*commonpb.Payload{
					"MigrationStatus": keyword(t, "PAUSED"), "MigrationPhase": keyword(t, "copy"),
				}),
				execution("undone", enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, map[string]*commonpb.Payload{
					"MigrationStatus": keyword(t, "ROLLED_BACK"), "MigrationPhase": keyword(t, "none"),
				}),
			}},
			rows: [][]string{
				append(append([]string{"orders", "PAUSED", "shift-traffic"}, startedText...), "Running"),
				append(append([]string{"users", "COMPLETED", "-"}, startedText...), "Completed"),
				append(append([]string{"old", "TERMINATED", "-"}, startedText...), "Terminated"),
				append(append([]string{"stale", "TERMINATED", "copy"}, startedText...), "Terminated"),
				append(append([]string{"slow", "TIMED_OUT", "copy"}, startedText...), "TimedOut"),
				append(append([]string{"undone", "ROLLED_BACK", "-"}, startedText...), "Failed"),
			},
			limit: 50,
		},
		{
			name:  "none",
			args:  []string{"list", "--limit", "5"},
			resp:  &workflowservice.ListWorkflowExecutionsResponse{},
			rows:  [][]string{strings.Fields("(no migrations yet: start one with godwit start -f SPEC)")},
			limit: 5,
		},
		{
			name:    "error",
			args:    []string{"list", "--namespace", "prod"},
			listErr: errors.New("namespace prod not found"),
			wantErr: "list migrations: namespace prod not found",
			limit:   50,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &fakeClient{listResp: tt.resp, listErr: tt.listErr}
			out, _, err := godwit(t, c.dial, tt.args...)
			assert.Equal(t, 1, c.closed, "the client is closed")
			require.Len(t, c.listReqs, 1)
			req := c.listReqs[0]
			wantQuery := tt.query
			if wantQuery == "" {
				wantQuery = `WorkflowType = "Migration" AND ExecutionStatus != "ContinuedAsNew"`
			}
			assert.Equal(t, wantQuery, req.GetQuery())
			assert.Equal(t, tt.limit, req.GetPageSize())
			if tt.wantErr != "" {
				assert.EqualError(t, err, tt.wantErr)
				assert.ErrorIs(t, err, tt.listErr)
				assert.Equal(t, "prod", req.GetNamespace(), "the namespace comes from the settings")
				assert.Empty(t, out)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "default", req.GetNamespace())
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			require.Len(t, lines, 1+len(tt.rows), out)
			assert.Equal(t, []string{"NAME", "STATUS", "PHASE", "STARTED", "WORKFLOW"}, strings.Fields(lines[0]))
			for i, row := range tt.rows {
				assert.Equal(t, row, strings.Fields(lines[1+i]))
			}
			if len(tt.resp.GetExecutions()) > 0 {
				// The columns line up.
				col := strings.Index(lines[0], "STATUS")
				for _, l := range lines[1:] {
					assert.NotEqual(t, ' ', rune(l[col]), "column STATUS starts at %d in %q", col, l)
					assert.Equal(t, byte(' '), l[col-1])
				}
			}
		})
	}
}

func TestListRefusesAnUnknownStatus(t *testing.T) {
	c := &fakeClient{}
	_, _, err := godwit(t, c.dial, "list", "--status", "DONE")
	require.EqualError(t, err, `--status "DONE": use one of IN_PROGRESS, PAUSED, WAITING_APPROVAL, WAITING_WINDOW, ROLLING_BACK, ROLLBACK_BLOCKED, COMPLETED, ROLLED_BACK, ROLLBACK_FAILED, FAILED`)
	assert.Empty(t, c.listReqs)
}
