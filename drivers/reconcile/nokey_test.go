package reconcile

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	_ "github.com/godwit/godwit/drivers/provision" // the spec's provision: section
)

// TestATableWithoutAKeyIsNamedWithHowToLeaveItOut: `tables: ["*"]` in a
// reconcile after a provision that creates a fullCopy table without a key
// fails preflight; the problem says how to go on, not only why.
func TestATableWithoutAKeyIsNamedWithHowToLeaveItOut(t *testing.T) {
	a, b := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.SQLite)
	dbtest.Exec(t, a.Store, "CREATE TABLE items (id INTEGER PRIMARY KEY)", "CREATE TABLE nokey_log (msg TEXT)")
	t.Setenv("RC_NOKEY_LEGACY", a.DSN)
	t.Setenv("RC_NOKEY_NEW", b.DSN)
	spec, err := config.ParseSpec([]byte(fmt.Sprintf(`name: nokey
stores:
  legacy: {engine: sqlite, dsn: {fromEnv: %s}}
  new: {engine: sqlite, dsn: {fromEnv: %s}}
phases:
  - phase: provision
    provision: {from: legacy, to: new, tables: ["*"], fullCopy: [nokey_log]}
  - phase: reconcile
    reconcile: {from: legacy, to: new, tables: ["*"]}
`, "RC_NOKEY_LEGACY", "RC_NOKEY_NEW")))
	if err != nil {
		t.Fatal(err)
	}
	problems := New(hclog.NewNullLogger()).Preflight(context.Background(), spec, spec.Phases[1])
	if len(problems) != 1 {
		t.Fatalf("want one problem, got %q", problems)
	}
	for _, want := range []string{"table nokey_log has no primary key", "leave it out of this phase's tables", "[!n]*"} {
		if !strings.Contains(problems[0], want) {
			t.Errorf("problem %q does not say %q", problems[0], want)
		}
	}
}
