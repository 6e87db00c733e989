package plan

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/config"
)

var updateRunbook = flag.Bool("update-runbook", false, "rewrite testdata/runbook.golden.md from the code")

// TestRunbookMatchesTheReviewedGolden compares the runbook of
// testdata/spec.yaml with a golden file a person has read and agreed to:
// a change to the runbook shows up as a diff to review, and rewriting the
// golden (-update-runbook) is a deliberate act.
func TestRunbookMatchesTheReviewedGolden(t *testing.T) {
	spec, err := config.LoadSpec(filepath.Join("testdata", "spec.yaml"))
	require.NoError(t, err)
	desc, err := LoadDescription(filepath.Join("testdata", "database.json"))
	require.NoError(t, err)
	got := FromSpec(spec, Options{Volumes: desc}).Runbook()
	golden := filepath.Join("testdata", "runbook.golden.md")
	if *updateRunbook {
		require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "write it with: go test ./plan -run TestRunbookMatchesTheReviewedGolden -update-runbook, then read it")
	require.Equal(t, string(want), got)
}
