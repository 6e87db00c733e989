package integration

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/workflows"
)

// startWithTemporalCLI starts a Migration with the official temporal CLI
// and the README's payload, as a user who never ran godwit start would.
func startWithTemporalCLI(t *testing.T, id, input string) {
	t.Helper()
	out, err := temporalCLI(t, "workflow", "start", "--type", workflows.WorkflowName, "--task-queue", env.taskQueue,
		"--workflow-id", id, "--input", input)
	require.NoError(t, err, out)
}

// TestStartWithTheTemporalCLI: a spec with no defaults, sent by `temporal
// workflow start`, completes (it used to panic the workflow, and the run
// hung); a spec that is not valid ends FAILED at once, naming the field,
// and godwit status says so.
func TestStartWithTheTemporalCLI(t *testing.T) {
	t.Parallel()
	good := &demo{t: t, name: "it-temporal-start"}
	startWithTemporalCLI(t, good.name,
		fmt.Sprintf(`{"spec":{"name":%q,"phases":[{"phase":"validate","hook":{"run":{"command":["true"]}}}]}}`, good.name))
	final, err := good.result()
	require.NoError(t, err)
	require.Equal(t, migration.StatusCompleted, final.Status)
	require.Equal(t, migration.PhaseCompleted, final.Phases[0].State)
	recordHistory(t, good.name)

	bad := &demo{t: t, name: "it-temporal-start-bad"}
	startWithTemporalCLI(t, bad.name,
		fmt.Sprintf(`{"spec":{"name":%q,"phases":[{"phase":"validate","timeout":"-1m","hook":{"run":{"command":["true"]}}}]}}`, bad.name))
	final, err = bad.result()
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, workflows.ErrTypeInvalidInput, appErr.Type())
	require.Equal(t, migration.StatusFailed, final.Status)
	require.Contains(t, final.Error, "phases[0].timeout: must be positive")
	out, err := godwit(t, "status", bad.name)
	require.NoError(t, err, out)
	require.Contains(t, out, "FAILED")
	require.Contains(t, out, "phases[0].timeout: must be positive")
	recordHistory(t, bad.name)
}

// TestMisspelledSignalFromTheTemporalCLI: `pasue` is not dropped in
// silence: godwit status shows it as an issue.
func TestMisspelledSignalFromTheTemporalCLI(t *testing.T) {
	t.Parallel()
	d := &demo{t: t, name: "it-temporal-pasue"}
	startWithTemporalCLI(t, d.name, fmt.Sprintf(`{"spec":{"name":%q,"phases":[`+
		`{"phase":"validate","hook":{"run":{"command":["true"]}}},`+
		`{"phase":"copy","approval":{"gate":"go"},"hook":{"run":{"command":["true"]}}}]}}`, d.name))
	d.waitFor("the gate", waitingAt("go"))

	out, err := temporalCLI(t, "workflow", "signal", "--workflow-id", d.name, "--name", "pasue", "--input", `{"by": "ops"}`)
	require.NoError(t, err, out)
	rep := d.waitFor("the misspelled signal's issue", func(r migration.Report) bool {
		for _, is := range r.Issues {
			if strings.Contains(is.Message, `signal "pasue" ignored`) {
				return true
			}
		}
		return false
	})
	require.False(t, rep.Paused, "pasue is not pause")
	out, err = godwit(t, "status", d.name)
	require.NoError(t, err, out)
	require.Contains(t, out, `signal "pasue" ignored: this workflow handles only "pause", "resume" and "rollback"`)

	out, err = temporalCLI(t, "workflow", "signal", "--workflow-id", d.name, "--name", "rollback", "--input", `{"reason": "done", "by": "ops"}`)
	require.NoError(t, err, out)
	final, _ := d.result()
	require.Equal(t, migration.StatusRolledBack, final.Status)
	recordHistory(t, d.name)
}
