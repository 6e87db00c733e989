package provision

import (
	"fmt"
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

// A summary is one line of `godwit status`: 300 tables created and 80
// foreign keys left off for one reason are counted, a few named, and the
// reason said once.
func TestSummaryOfManyTablesStaysShort(t *testing.T) {
	var created, notCarried []string
	for i := range 300 {
		created = append(created, fmt.Sprintf("table_%03d", i))
	}
	const why = "phase copy copies the tables with fanOut, one activity per table, so no activity sees the whole load to create them after it"
	for i := range 80 {
		notCarried = append(notCarried, fmt.Sprintf("child_%02d.child_%02d_parent_fkey: %s", i, i, why))
	}
	notCarried = append(notCarried, "odd.odd_fk: table odd is not on the target")
	got := summary("new", datastore.ProvisionResult{Created: created, ForeignKeys: datastore.ForeignKeyResult{NotCarried: notCarried}})
	if len(got) > 1200 {
		t.Errorf("summary is %d bytes long: %q", len(got), got)
	}
	for _, want := range []string{"created 300 tables in new: table_000, table_001", "and 288 more;", "81 foreign keys NOT carried: child_00.child_00_parent_fkey, child_01.child_01_parent_fkey", "and 68 more: " + why + "; odd.odd_fk: table odd is not on the target"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary = %q, want it to contain %q", got, want)
		}
	}
	if n := strings.Count(got, why); n != 1 {
		t.Errorf("the shared reason is said %d times", n)
	}
}
