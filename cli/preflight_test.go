package cli

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/activities"
)

// A mistake in a mapping that five phases go through is one problem,
// listed once with its phases (the music-store trial printed the same
// typo five times, and counted five problems).
func TestPreflightListsAProblemOnceWithItsPhases(t *testing.T) {
	typo := `mapping music on store legacy: bad mapping: table track: columns.milisecond: column milisecond is not in source table track (did you mean "milliseconds"?)`
	var ps []activities.Problem
	for _, ph := range []string{"provision", "capture", "copy", "replicate"} {
		ps = append(ps, activities.Problem{Phase: ph, Message: typo})
	}
	ps = append(ps, activities.Problem{Phase: "copy", Message: "run: program x is not on this worker"},
		activities.Problem{Phase: "copy", Message: typo})
	var out strings.Builder
	n := writeProblems(&out, ps, []string{"table album of store new is held by migration other"})
	require.Equal(t, 3, n)
	require.Equal(t, "  ✗ phases provision, capture, copy, replicate: "+typo+"\n"+
		"  ✗ phase copy: run: program x is not on this worker\n"+
		"  ✗ table album of store new is held by migration other\n", out.String())
}
