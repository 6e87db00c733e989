package datacopy_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// A PostgreSQL character(n) (Pagila's language.name) is blank-padded to n
// by PostgreSQL, and the padding is no part of its value: it compares
// equal without it, and ::text drops it. It becomes a VARCHAR(n) on
// MySQL and SQLite, where padding would be data: the copy writes the value
// without it ('English', not 'English' and 13 spaces), as reconcile compares it.
func TestAPostgresCharColumnArrivesWithoutItsPadding(t *testing.T) {
	for _, to := range []datastore.Engine{datastore.MySQL, datastore.SQLite, datastore.Postgres} {
		for _, noDirect := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, decoded path %v", to, noDirect), func(t *testing.T) {
				charPadCase(t, to, noDirect)
			})
		}
	}
}

func charPadCase(t *testing.T, to datastore.Engine, noDirect bool) {
	ctx := context.Background()
	src, dst := dbtest.New(t, datastore.Postgres).Store, dbtest.New(t, to).Store
	dbtest.Exec(t, src, `CREATE TABLE language (language_id integer PRIMARY KEY, name character(20) NOT NULL, code char, note text)`,
		`INSERT INTO language VALUES (1, 'English', 'e', 'kept  '), (2, 'Français', NULL, NULL), (3, '  lead', ' ', ' ')`)
	tbl, err := src.Introspect(ctx, "language")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := datastore.Provision(ctx, dst, []*datastore.Table{tbl}, datastore.ProvisionOptions{Owner: "test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := datacopy.Run(ctx, datacopy.Options{From: src, To: dst, Tables: []string{"language"}, BatchRows: 2, NoDirect: noDirect},
		datacopy.Checkpoint{}, nil); err != nil {
		t.Fatal(err)
	}
	rows, err := dst.DB.QueryContext(ctx, `SELECT name, code, note FROM language ORDER BY language_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got [][3]*string
	for rows.Next() {
		var r [3]*string
		if err := rows.Scan(&r[0], &r[1], &r[2]); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	str := func(s string) *string { return &s }
	pad := func(s string, n int) *string {
		if to == datastore.Postgres { // the same character(n): PostgreSQL pads it again
			for len([]rune(s)) < n {
				s += " "
			}
		}
		return &s
	}
	want := [][3]*string{
		{pad("English", 20), pad("e", 1), str("kept  ")},
		{pad("Français", 20), nil, nil},
		{pad("  lead", 20), pad("", 1), str(" ")},
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows on the target, want %d", len(got), len(want))
	}
	for i := range want {
		for j := range want[i] {
			g, w := got[i][j], want[i][j]
			if (g == nil) != (w == nil) || (g != nil && *g != *w) {
				t.Errorf("row %d column %d: %q, want %q", i+1, j, shown(g), shown(w))
			}
		}
	}
}

func shown(s *string) string {
	if s == nil {
		return "<NULL>"
	}
	return *s
}
