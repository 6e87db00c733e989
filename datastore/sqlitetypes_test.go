package datastore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// TestSQLiteTargetAnswersQueriesLikeTheSource provisions the sample shop
// from PostgreSQL and from MariaDB into SQLite and copies it: on the
// numeric(10,2) and timestamp columns, WHERE col > literal, WHERE col =
// literal, MIN, MAX, ORDER BY, COUNT and a SUM rounded to the scale give
// the source's answers (decimals stored as TEXT compared as text, and
// timestamps stored with ".000000" matched no literal).
func TestSQLiteTargetAnswersQueriesLikeTheSource(t *testing.T) {
	for _, from := range []datastore.Engine{datastore.Postgres, datastore.MySQL} {
		t.Run(string(from)+" to sqlite", func(t *testing.T) {
			ctx := context.Background()
			src, tables := sampleSource(t, from)
			dst := dbtest.New(t, datastore.SQLite)
			if _, err := datastore.Provision(ctx, dst.Store, tables, datastore.ProvisionOptions{Owner: "m1"}); err != nil {
				t.Fatal(err)
			}
			copyAll(t, src.Store, dst.Store, tables)
			want, got := dbtest.Answers(t, src.Store, dbtest.SampleQueries), dbtest.Answers(t, dst.Store, dbtest.SampleQueries)
			for i := range want {
				if want[i] != got[i] {
					t.Errorf("source and SQLite answer differently:\nsource: %.300s\nsqlite: %.300s", want[i], got[i])
				}
			}
			var stored string
			if err := dst.Store.DB.QueryRow(`SELECT placed_at || '' FROM orders WHERE id = 50`).Scan(&stored); err != nil || stored != "2024-02-01 10:00:00" {
				t.Errorf("a timestamp without a fraction is stored as %q (%v), want the canonical 2024-02-01 10:00:00", stored, err)
			}
			var typ string
			if err := dst.Store.DB.QueryRow(`SELECT typeof(total) FROM orders WHERE id = 7`).Scan(&typ); err != nil || typ != "real" {
				t.Errorf("a numeric(10,2) is stored as %s (%v), want real (NUMERIC affinity)", typ, err)
			}
			for _, tb := range dbtest.SampleTables {
				dbtest.AssertSameRows(t, src.Store, dst.Store, tb)
			}
		})
	}
}

// TestSQLiteWideDecimalsStayExactAsText: beyond 15 significant digits a
// float64 would round, so the column is TEXT, and provision says what
// that means for queries.
func TestSQLiteWideDecimalsStayExactAsText(t *testing.T) {
	ctx := context.Background()
	src := dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store, "CREATE TABLE w (id integer PRIMARY KEY, big numeric(30,10), free numeric, small numeric(15,3))",
		"INSERT INTO w VALUES (1, 12345678901234567890.0123456789, 1.5, 123456789012.345)")
	w, err := src.Store.Introspect(ctx, "w")
	if err != nil {
		t.Fatal(err)
	}
	dst := dbtest.New(t, datastore.SQLite)
	res, err := datastore.Provision(ctx, dst.Store, []*datastore.Table{w}, datastore.ProvisionOptions{Owner: "m1"})
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(res.Notes, "\n")
	for _, c := range []string{"w.big", "w.free"} {
		if !strings.Contains(notes, c+": ") || !strings.Contains(notes, "compares and sorts as text") {
			t.Errorf("provision's notes do not say that %s compares as text:\n%s", c, notes)
		}
	}
	if strings.Contains(notes, "w.small") {
		t.Errorf("numeric(15,3) fits a float64 exactly and needs no note:\n%s", notes)
	}
	copyAll(t, src.Store, dst.Store, []*datastore.Table{w})
	dbtest.AssertSameRows(t, src.Store, dst.Store, "w")
}

// TestSQLiteNumbersReadBackWithTheColumnsScale: a NUMERIC(p,s) value
// comes back from SQLite as a float64 or an int64 and reads as the decimal
// the other engines print; one with more places than s is not rounded.
func TestSQLiteNumbersReadBackWithTheColumnsScale(t *testing.T) {
	dec := datastore.Type{Kind: datastore.KindDecimal, Precision: 10, Scale: 2}
	for _, c := range []struct {
		name string
		typ  datastore.Type
		in   any
		want string
	}{
		{"real padded to the scale", dec, 12.3, "12.30"},
		{"integer padded to the scale", dec, int64(-12), "-12.00"},
		{"text as it is", dec, "12.30", "12.30"},
		{"more places than the scale: not rounded", dec, 9.999, "9.999"},
		{"fifteen digits exact", datastore.Type{Kind: datastore.KindDecimal, Precision: 15, Scale: 3}, 123456789012.345, "123456789012.345"},
		{"unbounded: shortest form", datastore.Type{Kind: datastore.KindDecimal}, 0.5, "0.5"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := datastore.Canonical(c.typ, c.in)
			if err != nil || got != c.want {
				t.Fatalf("Canonical(%s, %v) = %v, %v; want %s", c.typ, c.in, got, err, c.want)
			}
		})
	}
}
