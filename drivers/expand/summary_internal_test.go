package expand

import (
	"testing"

	"github.com/godwit/godwit/schemachange"
)

// A one-statement rollback script (the usual DROP COLUMN) reads in the
// singular in the phase's summary.
func TestRollbackSummaryCountsInTheSingular(t *testing.T) {
	for n, want := range map[int]string{
		1: "ran the 1 statement of the rollback SQL in app",
		2: "ran the 2 statements of the rollback SQL in app",
	} {
		if got := rollbackSummary("app", schemachange.Result{Statements: n}); got != want {
			t.Errorf("%d statements: %q, want %q", n, got, want)
		}
	}
}
