package schemachange_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/schemachange"
)

// On MySQL/MariaDB a contract that fails after it removed the dual-write
// triggers (its DDL commits at once) leaves the expand recorded as
// applied. A new run of the migration then finds the expand's record: its
// triggers must be there again, or the new run dual-writes nothing while
// its summary names triggers.
func TestReappliedExpandRestoresTriggersAFailedContractRemoved(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			log := hclog.NewNullLogger()
			st := setupUsers(t, e, 1)
			expand := renameChange(e, true)
			first, err := schemachange.Apply(ctx, st, expand, log)
			if err != nil {
				t.Fatal(err)
			}
			want := triggers(t, st)
			contract := schemachange.Change{Name: "test/contract", RemoveDualWrite: []string{"users"},
				Up: []datastore.ScriptStatement{{SQL: "ALTER TABLE later DROP COLUMN x", Line: 1}}}
			_, err = schemachange.Apply(ctx, st, contract, log)
			if err == nil {
				t.Fatal("a failing contract applied")
			}
			if removed := strings.Contains(err.Error(), "dual-write triggers on users were removed"); removed != (e == datastore.MySQL) {
				t.Errorf("the failed contract's error says the triggers were removed: %v, want %v (%v)", removed, e == datastore.MySQL, err)
			}
			res, err := schemachange.Apply(ctx, st, expand, log)
			if err != nil {
				t.Fatal(err)
			}
			if n := triggers(t, st); n != want {
				t.Fatalf("the expand found applied (%+v, first %+v) left %d dual-write triggers, want %d", res, first, n, want)
			}
			dbtest.Exec(t, st, "UPDATE users SET email = 'after@example.com' WHERE id = 1")
			if a, b := both(t, st, 1); a != b {
				t.Fatalf("not dual-written after the rerun: email %v, email_address %v", a, b)
			}
		})
	}
}

// When the failed contract had dropped a column the rules set before it
// failed, re-created triggers would fail every write: the rerun's expand
// refuses, naming the column, and creates none.
func TestReappliedExpandRefusesWhenAFailedContractDroppedItsColumn(t *testing.T) {
	ctx := context.Background()
	log := hclog.NewNullLogger()
	st := setupUsers(t, datastore.MySQL, 1)
	expand := renameChange(datastore.MySQL, true)
	if _, err := schemachange.Apply(ctx, st, expand, log); err != nil {
		t.Fatal(err)
	}
	contract := schemachange.Change{Name: "test/contract", RemoveDualWrite: []string{"users"},
		Up: datastore.SplitScript(datastore.MySQL, "ALTER TABLE users DROP COLUMN email;\nALTER TABLE later DROP COLUMN x;")}
	if _, err := schemachange.Apply(ctx, st, contract, log); err == nil {
		t.Fatal("a failing contract applied")
	}
	_, err := schemachange.Apply(ctx, st, expand, log)
	if err == nil || !strings.Contains(err.Error(), "users.email no longer exists") {
		t.Fatalf("the rerun's expand did not refuse naming the dropped column: %v", err)
	}
	if n := triggers(t, st); n != 0 {
		t.Fatalf("%d triggers re-created on a table without their column", n)
	}
	dbtest.Exec(t, st, "UPDATE users SET email_address = 'still@example.com' WHERE id = 1")
}
