package reconcile

import (
	"context"
	"testing"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// A MariaDB DATETIME (whole seconds) provisioned on PostgreSQL, written
// there with a fraction (now(), as new writers do), and replicated back:
// the target keeps the source's digits, so the value that returns is the
// value the target holds, and the reverse check finds nothing. When the
// target was a microsecond timestamp, MariaDB dropped the fraction and
// every such row was mismatched ("…:34.000000" ≠ "…:34.392959").
func TestFractionWrittenOnTargetReturnsToWholeSecondSourceUnchanged(t *testing.T) {
	ctx := context.Background()
	my, pg := dbtest.New(t, datastore.MySQL).Store, dbtest.New(t, datastore.Postgres).Store
	dbtest.Exec(t, my,
		"CREATE TABLE ev (id INT PRIMARY KEY, at DATETIME NOT NULL, ms DATETIME(3) NULL, stamp TIMESTAMP NULL DEFAULT NULL)",
		"INSERT INTO ev VALUES (1, '2026-12-07 23:23:34', '2026-12-07 23:23:34.125', '2026-12-07 23:23:34'), (2, '2026-12-07 23:23:35', NULL, NULL)")
	legacy, err := my.Introspect(ctx, "ev")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := datastore.Provision(ctx, pg, []*datastore.Table{legacy}, datastore.ProvisionOptions{Owner: "m1"}); err != nil {
		t.Fatal(err)
	}
	target, err := pg.Introspect(ctx, "ev")
	if err != nil {
		t.Fatal(err)
	}
	_, rows := dbtest.ReadAll(t, my, "ev")
	if err := pg.WriteBatch(ctx, target, rows); err != nil {
		t.Fatal(err)
	}
	// New writers on the target: a fraction in every column.
	dbtest.Exec(t, pg,
		"UPDATE ev SET at = '2026-12-07 23:23:34.392959', ms = '2026-12-07 23:23:34.392959', stamp = '2026-12-07 23:23:34.392959+00' WHERE id = 1",
		"INSERT INTO ev VALUES (3, now(), now(), now())")
	// Reverse replication: the target's rows, as read there, applied to legacy.
	_, back := dbtest.ReadAll(t, pg, "ev")
	var muts []datastore.Mutation
	for _, r := range back {
		muts = append(muts, datastore.Mutation{Row: r})
	}
	if err := my.Apply(ctx, []datastore.TableMutations{{Table: legacy, Mutations: muts}}); err != nil {
		t.Fatal(err)
	}
	rep := run(t, Options{Source: pg, Target: my, Tables: []TablePair{{Source: "ev", Target: "ev"}}})
	if rep.Differing() != 0 || rep.Tables[0].SourceRows != 3 {
		t.Fatalf("reverse reconcile after a round trip:\n%s", rep.Text())
	}
}
