package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/godwit/godwit/activities"
)

// leaseChecks runs a Lease whose holder is gone and returns when it asked
// whether the holder runs, after the lease started.
func leaseChecks(t *testing.T, version workflow.Version) []time.Duration {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(Lease, workflow.RegisterOptions{Name: LeaseWorkflowName})
	start := env.Now()
	var asked []time.Duration
	env.RegisterActivityWithOptions(func(_ context.Context, holder string) (bool, error) {
		asked = append(asked, env.Now().Sub(start))
		return len(asked) < 2, nil // gone at the second check
	}, activity.RegisterOptions{Name: activities.HolderRunningName})
	env.OnGetVersion(changeLeaseCheck, workflow.DefaultVersion, leaseCheckV1).Return(version)
	env.ExecuteWorkflow(LeaseWorkflowName, LeaseInput{Resource: "store:orders", Holder: "m1"})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	return asked
}

// A lease checks its holder every 10 minutes since leaseCheckV1, not every
// minute: the check only ends leases of a migration terminated by hand,
// and 2,000 leases checking each minute kept the task queue busy with
// 4,000 workflow tasks a minute. A lease started before keeps its minute.
func TestALeaseChecksItsHolderEveryTenMinutes(t *testing.T) {
	require.Equal(t, []time.Duration{10 * time.Minute, 20 * time.Minute}, leaseChecks(t, leaseCheckV1))
	require.Equal(t, []time.Duration{time.Minute, 2 * time.Minute}, leaseChecks(t, workflow.DefaultVersion))
}
