package provision

import (
	"strings"
	"testing"

	"github.com/godwit/godwit/datastore"
)

func TestSummaryOfOneTableCreated(t *testing.T) {
	got := summary("new", datastore.ProvisionResult{Created: []string{"orders"}})
	if want := "created 1 table in new: orders"; got != want {
		t.Errorf("summary = %q, want %q", got, want)
	}
}

// One of anything is singular in the summary: "1 note", not "1 notes".
func TestSummaryCountsOneInTheSingular(t *testing.T) {
	got := summary("new", datastore.ProvisionResult{Created: []string{"orders"}, ForeignKeysLater: 1,
		Notes:       []string{"orders.total: NUMERIC(40) kept as TEXT"},
		ForeignKeys: datastore.ForeignKeyResult{Carried: []string{"orders → customers"}, NotCarried: []string{"orders → regions: filtered out"}}})
	for _, want := range []string{"1 foreign key carried (", "1 foreign key NOT carried:", "1 foreign key left for after the copy", "1 note on what was not carried over"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary = %q, want it to contain %q", got, want)
		}
	}
	for _, bad := range []string{"1 notes", "1 foreign keys"} {
		if strings.Contains(got, bad) {
			t.Errorf("summary = %q says %q", got, bad)
		}
	}
}
