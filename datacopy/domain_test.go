package datacopy_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// A PostgreSQL domain (Pagila's year, over integer) holds its base type's
// values: across engines it maps as its base type does, with no
// typeOverrides. Provision refused it before ("type has no lossless
// mapping to mysql for columns film.release_year (year)"), suggesting
// SMALLINT from MySQL's YEAR by its name. Its CHECK is not carried.
func TestAPostgresDomainMapsAsItsBaseType(t *testing.T) {
	for _, to := range []datastore.Engine{datastore.MySQL, datastore.SQLite} {
		t.Run(string(to), func(t *testing.T) {
			ctx := context.Background()
			src, dst := dbtest.New(t, datastore.Postgres).Store, dbtest.New(t, to).Store
			dbtest.Exec(t, src,
				`CREATE DOMAIN year AS integer CHECK (VALUE >= 1901 AND VALUE <= 2155)`,
				`CREATE DOMAIN money2 AS numeric(7,2)`,
				`CREATE DOMAIN label AS varchar(12) NOT NULL`,
				`CREATE TABLE film (film_id integer PRIMARY KEY, release_year year, price money2, tag label)`,
				`INSERT INTO film VALUES (1, 2006, 12345.67, 'épique'), (2, NULL, NULL, 'x'), (3, 2155, -0.01, '')`)
			tbl, err := src.Introspect(ctx, "film")
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(tbl.Column("release_year").Type, " ", tbl.Column("price").Type, " ", tbl.Column("tag").Type); got != "int decimal(7,2) varchar(12)" {
				t.Fatalf("domain kinds %s, want int decimal(7,2) varchar(12) (their base types)", got)
			}
			if _, err := datastore.Provision(ctx, dst, []*datastore.Table{tbl}, datastore.ProvisionOptions{Owner: "test"}); err != nil {
				t.Fatalf("provision without typeOverrides: %v", err)
			}
			for _, noDirect := range []bool{false, true} {
				if _, err := datacopy.Run(ctx, datacopy.Options{From: src, To: dst, Tables: []string{"film"}, NoDirect: noDirect},
					datacopy.Checkpoint{}, nil); err != nil {
					t.Fatalf("copy (decoded path %v): %v", noDirect, err)
				}
				dbtest.AssertSameRows(t, src, dst, "film")
			}
		})
	}
}
