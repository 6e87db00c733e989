package datastore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

func TestProvisionCreatesRecordsAndDropsOnlyItsOwn(t *testing.T) {
	for _, pair := range [][2]datastore.Engine{{datastore.Postgres, datastore.MySQL}, {datastore.MySQL, datastore.SQLite}, {datastore.SQLite, datastore.Postgres}} {
		from, to := pair[0], pair[1]
		t.Run(string(from)+"→"+string(to), func(t *testing.T) {
			ctx := context.Background()
			src := dbtest.New(t, from).Store
			dst := dbtest.New(t, to).Store
			dbtest.Exec(t, src, dbtest.KitchenDDL(from, "kitchen")...)
			dbtest.Exec(t, src, dbtest.KitchenDDL(from, "legacy")...)
			dbtest.Exec(t, dst, dbtest.KitchenDDL(to, "legacy")...) // exists before: never ours
			kitchen, _ := src.Introspect(ctx, "kitchen")
			legacy, _ := src.Introspect(ctx, "legacy")
			opts := datastore.ProvisionOptions{Owner: "m1"}

			// A table that already exists refuses the whole provision, before anything is created.
			_, err := datastore.Provision(ctx, dst, []*datastore.Table{kitchen, legacy}, opts)
			if !errors.Is(err, datastore.ErrTableExists) || !strings.Contains(err.Error(), "legacy") {
				t.Fatalf("provision over an existing table: err = %v, want ErrTableExists naming legacy", err)
			}
			if _, err := dst.Introspect(ctx, "kitchen"); !errors.Is(err, datastore.ErrUnknownTable) {
				t.Fatalf("kitchen was created although the provision was refused: %v", err)
			}

			res, err := datastore.Provision(ctx, dst, []*datastore.Table{kitchen}, opts)
			if err != nil || strings.Join(res.Created, ",") != "kitchen" {
				t.Fatalf("provision = %+v, %v", res, err)
			}
			got, err := dst.Introspect(ctx, "kitchen")
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range kitchen.Columns {
				g := got.Column(c.Name)
				if g == nil || g.Nullable != c.Nullable {
					t.Errorf("column %s: target %+v, source nullable %v", c.Name, g, c.Nullable)
				}
			}
			if len(got.Indexes) != len(kitchen.Indexes) {
				t.Errorf("target indexes %+v, want %d like the source", got.Indexes, len(kitchen.Indexes))
			}
			if d := got.Column("name").Default; d == nil || d.Value != "anon" {
				t.Errorf("name default on target = %+v, want anon", d)
			}
			// Retrying is harmless.
			res, err = datastore.Provision(ctx, dst, []*datastore.Table{kitchen}, opts)
			if err != nil || len(res.Created) != 0 || strings.Join(res.Already, ",") != "kitchen" {
				t.Fatalf("second provision = %+v, %v; want kitchen already there", res, err)
			}
			// Another owner's drop touches nothing; ours drops kitchen only, once.
			if d, err := datastore.DropProvisioned(ctx, dst, "m2"); err != nil || len(d) != 0 {
				t.Fatalf("drop for another owner = %v, %v", d, err)
			}
			for i, want := range []string{"kitchen", ""} {
				d, err := datastore.DropProvisioned(ctx, dst, "m1")
				if err != nil || strings.Join(d, ",") != want {
					t.Fatalf("drop #%d = %v, %v; want [%s]", i+1, d, err, want)
				}
			}
			tables, err := dst.ListTables(ctx)
			if err != nil || strings.Join(tables, ",") != "legacy" {
				t.Fatalf("tables left = %v, %v; want the pre-existing legacy only", tables, err)
			}
		})
	}
}

func TestProvisionRefusesUnmappableTypeUnlessOverridden(t *testing.T) {
	ctx := context.Background()
	src := dbtest.New(t, datastore.Postgres).Store
	dst := dbtest.New(t, datastore.MySQL).Store
	dbtest.Exec(t, src, `CREATE TABLE jobs (id bigint PRIMARY KEY, every interval NOT NULL)`)
	jobs, err := src.Introspect(ctx, "jobs")
	if err != nil {
		t.Fatal(err)
	}
	_, err = datastore.Provision(ctx, dst, []*datastore.Table{jobs}, datastore.ProvisionOptions{Owner: "m"})
	if !errors.Is(err, datastore.ErrUnsupportedType) || !strings.Contains(err.Error(), "jobs.every") {
		t.Fatalf("err = %v, want ErrUnsupportedType naming jobs.every", err)
	}
	if tables, _ := dst.ListTables(ctx); len(tables) != 0 {
		t.Fatalf("tables created although refused: %v", tables)
	}
	_, err = datastore.Provision(ctx, dst, []*datastore.Table{jobs}, datastore.ProvisionOptions{Owner: "m",
		TypeOverrides: map[string]string{"jobs.every": "VARCHAR(64)"}})
	if err != nil {
		t.Fatalf("with an override: %v", err)
	}
}

func TestProvisionRefusesTableWithoutKey(t *testing.T) {
	ctx := context.Background()
	src := dbtest.New(t, datastore.SQLite).Store
	dst := dbtest.New(t, datastore.SQLite).Store
	dbtest.Exec(t, src, `CREATE TABLE events (at TEXT, what TEXT)`)
	events, _ := src.Introspect(ctx, "events")
	_, err := datastore.Provision(ctx, dst, []*datastore.Table{events}, datastore.ProvisionOptions{Owner: "m"})
	if !errors.Is(err, datastore.ErrNoPrimaryKey) || !strings.Contains(err.Error(), "events") {
		t.Fatalf("err = %v, want ErrNoPrimaryKey naming events", err)
	}
}
