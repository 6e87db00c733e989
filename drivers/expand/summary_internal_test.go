package expand

import (
	"strings"
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

// One rollback statement skipped reads in the singular too.
func TestSkippedRollbackStatementCountsInTheSingular(t *testing.T) {
	res := schemachange.Result{Statements: 1, Skipped: []schemachange.Skipped{{Index: 1, Line: 1, SQL: "DROP INDEX i ON t", Error: "Error 1091"}}}
	got := rollbackSummary("app", res)
	if !strings.Contains(got, "so 1 rollback statement found nothing to drop and was skipped (") {
		t.Errorf("summary %q", got)
	}
}
