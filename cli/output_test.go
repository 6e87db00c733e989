package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/migration"
)

// A phase name the run's spec does not have is a typo, not a phase that
// has not run yet: `godwit output` says so, with the phases it has.
func TestOutputOfAPhaseTheSpecDoesNotHave(t *testing.T) {
	spec := &config.Spec{Name: "orders", Phases: []config.PhaseSpec{
		{Phase: migration.PhaseValidate, Name: "validate", Driver: &config.Hook{}},
		{Phase: migration.PhaseCopy, Name: "copy-orders", Driver: &config.Hook{}},
		{Phase: migration.PhaseReconcile, Name: "reconcile", Driver: &config.Hook{}},
	}}
	r, _ := runningReport()
	c := &fakeClient{states: []wfState{{report: r}}, startSpec: spec}

	out, _, err := godwit(t, c.dial, "output", "orders", "copy-order")
	require.Error(t, err, out)
	assert.Equal(t, `migration orders has no phase named "copy-order" (did you mean "copy-orders"?); its phases: validate, copy-orders, reconcile`, err.Error())

	// A phase the spec has that has not run yet keeps the plain answer.
	out, _, err = godwit(t, c.dial, "output", "orders", "reconcile")
	require.NoError(t, err)
	assert.Equal(t, "no hook output recorded for orders reconcile: a phase that has not run yet, or was cancelled while running, has none\n", out)
}
