package integration

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/migration"
)

// temporalCLI runs the official temporal CLI against the test server.
func temporalCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return temporalCLIAt(t, env.address, args...)
}

// temporalCLIAt runs the temporal CLI against the server at address.
func temporalCLIAt(t *testing.T, address string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(env.temporalBin, append(args, "--address", address, "--namespace", "default")...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestSteerWithTheTemporalCLI drives a migration with nothing but the
// official temporal CLI, through the stable signal, update and query names
// the README documents.
func TestSteerWithTheTemporalCLI(t *testing.T) {
	t.Parallel()
	d := newDemo(t, "it-temporal-cli", "0.1")
	d.start()

	out, err := temporalCLI(t, "workflow", "signal", "--workflow-id", d.name, "--name", "pause", "--input", `{"by": "ops"}`)
	require.NoError(t, err, out)
	// Paused while copying, the status is PAUSED; at the gate it stays
	// WAITING_APPROVAL: either way the report says paused.
	d.waitFor("pause", func(r migration.Report) bool { return r.Paused })

	out, err = temporalCLI(t, "workflow", "query", "--workflow-id", d.name, "--type", "status")
	require.NoError(t, err, out)
	require.Contains(t, out, `"paused":true`)

	out, err = temporalCLI(t, "workflow", "signal", "--workflow-id", d.name, "--name", "resume")
	require.NoError(t, err, out)
	d.waitFor("the go-live gate", waitingAt("go-live"))

	out, err = temporalCLI(t, "workflow", "update", "execute", "--workflow-id", d.name, "--name", "approve",
		"--input", `{"gate": "wrong", "by": "ops"}`)
	require.Error(t, err, out)
	require.Contains(t, out, `gate \"wrong\" is not waiting for approval`)

	out, err = temporalCLI(t, "workflow", "signal", "--workflow-id", d.name, "--name", "rollback",
		"--input", `{"reason": "from the temporal CLI", "by": "ops"}`)
	require.NoError(t, err, out)
	final, err := d.result()
	require.NoError(t, err, "a requested rollback that undid every phase completes the run")
	require.Equal(t, migration.StatusRolledBack, final.Status)
	require.Equal(t, "rollback requested by ops: from the temporal CLI", final.Error)
	// temporal-cli.json is the same run before changeRolledBackResult,
	// when it ended Failed.
	events := recordRun(t, d.name, "", "temporal-cli-completed.json")
	require.NotNil(t, events[len(events)-1].GetWorkflowExecutionCompletedEventAttributes(),
		"the run ends Completed in Temporal's terms; its last event: %v", events[len(events)-1].GetEventType())

	// Visibility may trail the run by a moment. The query is the one
	// docs/status-and-notifications.md gives for rollbacks people asked for.
	require.Eventually(t, func() bool {
		out, err = temporalCLI(t, "workflow", "list", "--query", `MigrationStatus = "ROLLED_BACK" AND ExecutionStatus = "Completed"`)
		return err == nil && strings.Contains(out, d.name)
	}, 10*time.Second, 200*time.Millisecond, "the run is listed by its MigrationStatus search attribute, as Completed")

	// godwit still says ROLLED_BACK, and ends with the error (exit code
	// 2) it gives any run that did not complete.
	out, err = godwit(t, "status", d.name, "--watch")
	require.EqualError(t, err, "migration "+d.name+" ended ROLLED_BACK", out)
	require.Contains(t, out, "ROLLED_BACK")
}

// TestCancelFromTheTemporalCLIRollsBack cancels a run the way the Temporal
// UI's Cancel button does: the compensations still run (they use a
// disconnected context), and the report says ROLLED_BACK.
func TestCancelFromTheTemporalCLIRollsBack(t *testing.T) {
	t.Parallel()
	d := newDemo(t, "it-temporal-cancel", "3")
	d.start()
	d.waitFor("copy to run", func(r migration.Report) bool {
		return r.CurrentIndex == 2 && r.Phases[2].State == migration.PhaseRunning
	})
	out, err := temporalCLI(t, "workflow", "cancel", "--workflow-id", d.name)
	require.NoError(t, err, out)

	_, err = d.result()
	var canceled *temporal.CanceledError
	require.ErrorAs(t, err, &canceled)
	final := d.status() // read from the cancelled run's details
	require.Equal(t, migration.StatusRolledBack, final.Status)
	require.Equal(t, "the workflow was cancelled", final.Error)
	require.Equal(t, migration.PhaseCancelled, final.Phases[2].State)
	require.False(t, d.exists("target"), "provision was compensated after the cancel")
	recordHistory(t, d.name)
}
