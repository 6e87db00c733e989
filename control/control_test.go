package control

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/godwit/godwit/workflows"

	"github.com/godwit/godwit/migration"
)

func TestExplainAndKinds(t *testing.T) {
	err := Explain("orders", serviceerror.NewNotFound("workflow not found"))
	assert.EqualError(t, err, "no migration named \"orders\" in this namespace: see `godwit list`")
	assert.Equal(t, KindNotFound, KindOf(fmt.Errorf("approve go-live: %w", err)), "the kind survives wrapping")

	err = Explain("orders", errors.New("connection refused"))
	assert.EqualError(t, err, "migration orders: connection refused")
	assert.Zero(t, KindOf(err), "a transport error has no kind: the caller cannot act on it")
}

func TestListQuery(t *testing.T) {
	q, err := ListQuery("")
	require.NoError(t, err)
	assert.Equal(t, `WorkflowType = "Migration" AND ExecutionStatus != "ContinuedAsNew"`, q,
		"migrations only: no lease or preflight workflow, no run left behind by continue-as-new")
	q, err = ListQuery(migration.StatusRolledBack)
	require.NoError(t, err)
	assert.Contains(t, q, ` AND MigrationStatus = "ROLLED_BACK"`)
	assert.NotContains(t, q, `ExecutionStatus = "Running"`, "a final status is the run's own")
	q, err = ListQuery(migration.StatusPaused)
	require.NoError(t, err)
	assert.Contains(t, q, ` AND MigrationStatus = "PAUSED" AND ExecutionStatus = "Running"`,
		"a run terminated while paused keeps PAUSED as its last status: it is not paused")
	_, err = ListQuery("DONE")
	assert.Equal(t, KindRefused, KindOf(err))
	assert.ErrorContains(t, err, `status "DONE": use one of IN_PROGRESS, PAUSED`)
}

// noClient fails the test on any call: the request must be refused first.
type noClient struct {
	client.Client
	t *testing.T
}

func (c noClient) DescribeWorkflowExecution(context.Context, string, string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	c.t.Fatal("Temporal was asked")
	return nil, nil
}

func TestRollbackNeedsAReasonBeforeAsking(t *testing.T) {
	m := Migrations{Client: noClient{t: t}}
	err := m.Rollback(t.Context(), "orders", workflows.RollbackRequest{Reason: "  ", By: "ana"})
	assert.Equal(t, KindRefused, KindOf(err))
	assert.EqualError(t, err, "rollback of orders needs a reason, for the record")
}
