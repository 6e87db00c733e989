package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// A name no migration has, one typo away from one that exists, gets that
// one as a "did you mean", for every command that takes a name first.
func TestAMistypedMigrationNameGetsTheNearestOne(t *testing.T) {
	listed := &workflowservice.ListWorkflowExecutionsResponse{Executions: []*workflowpb.WorkflowExecutionInfo{
		{Execution: &commonpb.WorkflowExecution{WorkflowId: "orders-to-pg", RunId: "r1"}, StartTime: timestamppb.New(t0), Status: enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING},
		{Execution: &commonpb.WorkflowExecution{WorkflowId: "users", RunId: "r2"}, StartTime: timestamppb.New(t0), Status: enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED},
	}}
	for _, args := range [][]string{
		{"status", "orders-to-pq"},
		{"resume", "orders-to-pq"},
		{"approve", "orders-to-pq", "--gate", "go-live"},
	} {
		c := &fakeClient{states: []wfState{{describeErr: serviceerror.NewNotFound("not found")}}, listResp: listed}
		_, _, err := godwit(t, c.dial, args...)
		require.Error(t, err, args)
		assert.Equal(t, "no migration named \"orders-to-pq\" in this namespace (did you mean \"orders-to-pg\"?): see `godwit list`", err.Error(), args)
	}

	c := &fakeClient{states: []wfState{{describeErr: serviceerror.NewNotFound("not found")}}, listResp: listed}
	_, _, err := godwit(t, c.dial, "status", "inventory")
	require.Error(t, err)
	assert.Equal(t, "no migration named \"inventory\" in this namespace: see `godwit list`", err.Error(), "nothing near: the plain answer")
}
