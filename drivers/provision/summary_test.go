package provision

import (
	"testing"

	"github.com/godwit/godwit/datastore"
)

func TestSummaryOfOneTableCreated(t *testing.T) {
	got := summary("new", datastore.ProvisionResult{Created: []string{"orders"}})
	if want := "created 1 table in new: orders"; got != want {
		t.Errorf("summary = %q, want %q", got, want)
	}
}
