package cli

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
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

// A command that takes a migration's name, given none, says what it
// needs and lists the migrations it could mean, as godwit list does.
func TestACommandWithoutANameListsTheMigrations(t *testing.T) {
	listed := &workflowservice.ListWorkflowExecutionsResponse{Executions: []*workflowpb.WorkflowExecutionInfo{
		{Execution: &commonpb.WorkflowExecution{WorkflowId: "orders-to-pg", RunId: "r1"}, StartTime: timestamppb.New(t0), Status: enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING},
		{Execution: &commonpb.WorkflowExecution{WorkflowId: "users", RunId: "r2"}, StartTime: timestamppb.New(t0), Status: enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED},
	}}
	for _, cmd := range []string{"status", "pause", "output"} {
		c := &fakeClient{listResp: listed}
		_, _, err := godwit(t, c.dial, cmd)
		require.Error(t, err, cmd)
		assert.Contains(t, err.Error(), "godwit "+cmd+" needs the name of a migration: godwit "+cmd+" NAME", cmd)
		assert.Contains(t, err.Error(), "migrations in this namespace, newest first (godwit list shows them all):")
		assert.Regexp(t, `\n  orders-to-pg +\S+`, err.Error())
		assert.Regexp(t, `\n  users +\S+`, err.Error())
		assert.NotContains(t, err.Error(), "accepts 1 arg(s)")
	}

	_, _, err := godwit(t, (&fakeClient{listResp: &workflowservice.ListWorkflowExecutionsResponse{}}).dial, "status")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "there is no migration in this namespace yet: start one with godwit start -f SPEC")

	unreachable := func(context.Context) (client.Client, error) { return nil, errors.New("connection refused") }
	_, _, err = godwit(t, unreachable, "resume")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "godwit resume needs the name of a migration: godwit resume NAME")
	assert.Contains(t, err.Error(), "the migrations are listed by `godwit list` (not read here: connection refused)")

	_, _, err = godwit(t, unreachable, "resume", "a", "b")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "accepts 1 arg(s), received 2", "two names are still refused as before")
}
