package schemachange_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/schemachange"
)

// A dual-write on a table other tables inherit from (Sakila's payment and
// payment_p2007_01 …, filled by INSERT rules) is refused unless each
// child is dual-written too: an insert routed to a child fires only the
// child's triggers, so its new column would stay NULL and the contract
// would drop the only copy of what it wrote. With the children named,
// their writes are dual-written.
func TestDualWriteCoversInheritanceChildren(t *testing.T) {
	ctx := context.Background()
	st := setupUsers(t, datastore.Postgres, 1)
	dbtest.Exec(t, st, "CREATE TABLE users_2020 () INHERITS (users)",
		"CREATE RULE users_2020_insert AS ON INSERT TO users WHERE NEW.id >= 2020 DO INSTEAD INSERT INTO users_2020 VALUES (NEW.*)")
	c := renameChange(datastore.Postgres, true)
	_, err := schemachange.Apply(ctx, st, c, hclog.NewNullLogger())
	if !errors.Is(err, datastore.ErrBadDualWrite) || !strings.Contains(err.Error(), "users_2020") {
		t.Fatalf("a dual-write missing the inheriting table was not refused naming it: %v", err)
	}
	if got := columns(t, st, "users"); strings.Join(got, ",") != "email,id,name" {
		t.Fatalf("the refused expand changed users: %v", got)
	}

	c.DualWrite["users_2020"] = c.DualWrite["users"]
	if _, err := schemachange.Apply(ctx, st, c, hclog.NewNullLogger()); err != nil {
		t.Fatal(err)
	}
	dbtest.Exec(t, st, "INSERT INTO users (id, email) VALUES (2021, 'routed@example.com')")
	if a, b := both(t, st, 2021); a != b || !b.Valid {
		t.Fatalf("a row a rule routed to the child: email %v, email_address %v", a, b)
	}
}
