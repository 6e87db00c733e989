package cdc

import (
	"context"
	"slices"
	"testing"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// A capture is set up before the copy, so when the copy (or a catchUp, a
// reconcile) resolves tables: ["*"], the capture's changelogs are already
// in the source. Before, the pattern selected them and the copy failed on
// the first one ("copy godwit_cl_…: target (provision it first)"): a spec
// with "*" in every phase could not run. No pattern selects them.
func TestAPatternDoesNotSelectTheCapturesOwnTables(t *testing.T) {
	for _, engine := range []datastore.Engine{datastore.MySQL, datastore.Postgres, datastore.SQLite} {
		t.Run(string(engine), func(t *testing.T) {
			src := dbtest.New(t, engine)
			ctx := context.Background()
			dbtest.Exec(t, src.Store,
				"CREATE TABLE parent (id integer PRIMARY KEY, name varchar(20))",
				"CREATE TABLE child (id integer PRIMARY KEY, parent_id integer REFERENCES parent (id) ON DELETE CASCADE)")
			o := Options{Source: src.Store, SourceDSN: src.DSN, Name: captureName(t), Tables: []string{"parent", "child"}, Method: MethodTriggers}
			if _, err := Setup(ctx, o); err != nil {
				t.Fatalf("setup: %v", err)
			}
			t.Cleanup(func() { Teardown(context.Background(), o) })
			for _, patterns := range [][]string{{"*"}, {"godwit_*"}, {"*child"}} {
				got, err := src.Store.ResolveTables(ctx, patterns)
				if patterns[0] == "godwit_*" {
					if err == nil {
						t.Errorf("tables %v: %v, want no table matched", patterns, got)
					}
					continue
				}
				if err != nil {
					t.Fatalf("tables %v: %v", patterns, err)
				}
				for _, n := range got {
					if !slices.Contains([]string{"parent", "child"}, n) {
						t.Errorf("tables %v selected %q, one of the capture's own tables", patterns, n)
					}
				}
			}
		})
	}
}
