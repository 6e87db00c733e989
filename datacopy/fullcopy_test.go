package datacopy_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// keyless creates on src a table without any key, 500 rows of which many
// are exact duplicates (a full copy must keep each copy of a row once),
// and provisions it on dst, opted in to have no key.
func keyless(t *testing.T, src, dst *datastore.Store) {
	t.Helper()
	ctx := context.Background()
	dbtest.Exec(t, src, `CREATE TABLE audit (who VARCHAR(40), n INTEGER, note TEXT)`)
	var vals []string
	for i := 0; i < 500; i++ {
		note := "NULL"
		if i%3 != 0 {
			note = fmt.Sprintf("'note %d'", i%10)
		}
		vals = append(vals, fmt.Sprintf("('u%d', %d, %s)", i%25, i%5, note))
	}
	dbtest.Exec(t, src, "INSERT INTO audit (who, n, note) VALUES "+strings.Join(vals, ", "))
	tbl, err := src.Introspect(ctx, "audit")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := datastore.Provision(ctx, dst, []*datastore.Table{tbl}, datastore.ProvisionOptions{Owner: "test"}); !errors.Is(err, datastore.ErrNoPrimaryKey) {
		t.Fatalf("provision without the opt-in: %v, want ErrNoPrimaryKey", err)
	}
	if _, err := datastore.Provision(ctx, dst, []*datastore.Table{tbl}, datastore.ProvisionOptions{Owner: "test",
		WithoutKey: func(table string) bool { return table == "audit" }}); err != nil {
		t.Fatalf("provision with the opt-in: %v", err)
	}
}

// multiset reads every row of audit, rendered and sorted: two stores hold
// the same rows, duplicates included, when their multisets are equal.
func multiset(t *testing.T, s *datastore.Store) []string {
	t.Helper()
	rows, err := s.DB.QueryContext(context.Background(), "SELECT who, n, note FROM audit")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var who, note *string
		var n *int64
		if err := rows.Scan(&who, &n, &note); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%v|%v|%v", deref(who), deref(n), deref(note)))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func sameMultiset(t *testing.T, src, dst *datastore.Store) {
	t.Helper()
	want, got := multiset(t, src), multiset(t, dst)
	if strings.Join(want, "\n") != strings.Join(got, "\n") {
		t.Fatalf("target audit has %d rows, source %d, or they differ", len(got), len(want))
	}
}

// TestFullCopyOfTableWithoutKey copies a keyless table beside a keyed
// one: stopped in the middle it leaves nothing of its attempt on the
// target; resumed (from a checkpoint taken mid-attempt) it starts again
// from zero; run again over a complete target it doubles nothing.
func TestFullCopyOfTableWithoutKey(t *testing.T) {
	for _, pair := range [][2]datastore.Engine{{datastore.Postgres, datastore.MySQL}, {datastore.SQLite, datastore.Postgres}, {datastore.MySQL, datastore.SQLite}} {
		t.Run(string(pair[0])+"→"+string(pair[1]), func(t *testing.T) {
			src, dst := setup(t, pair[0], pair[1], 300)
			keyless(t, src, dst)
			ctx := context.Background()
			opts := datacopy.Options{From: src, To: dst, Tables: []string{"kitchen", "audit"}, BatchRows: 50}
			if _, err := datacopy.Run(ctx, opts, datacopy.Checkpoint{}, nil); !errors.Is(err, datastore.ErrNoPrimaryKey) || !strings.Contains(err.Error(), "fullCopy") {
				t.Fatalf("without fullCopy: %v, want ErrNoPrimaryKey naming fullCopy", err)
			}
			opts.FullCopy = []string{"aud*"}
			// Catch-up applies to kitchen; audit has no such column and
			// needs none (a full copy has no catch-up).
			opts.CatchUp = &datacopy.CatchUp{Column: "updated_at", MaxPasses: 1}

			cctx, cancel := context.WithCancel(ctx)
			var mid datacopy.Checkpoint
			_, err := datacopy.Run(cctx, opts, datacopy.Checkpoint{}, func(p datacopy.Progress) {
				if st := p.Checkpoint.Tables["audit"]; st != nil && st.RowsDone >= 200 && mid.Tables == nil {
					mid = p.Checkpoint
					cancel()
				}
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if n, _ := dst.Count(ctx, "audit"); n != 0 {
				t.Fatalf("after the stop the target holds %d audit rows, want 0 (the attempt is rolled back)", n)
			}
			if st := mid.Tables["audit"]; st == nil || !st.FullCopy || st.Total != 500 {
				t.Fatalf("mid-attempt checkpoint %+v, want a full copy of 500 rows", st)
			}

			var last datacopy.Progress
			res, err := datacopy.Run(ctx, opts, mid, func(p datacopy.Progress) { last = p })
			if err != nil {
				t.Fatal(err)
			}
			sameMultiset(t, src, dst)
			dbtest.AssertSameRows(t, src, dst, "kitchen")
			if st := res.Checkpoint.Tables["audit"]; st.Stage != datacopy.StageDone || st.RowsDone != 500 {
				t.Fatalf("audit after resume: %+v, want done with 500 rows (counted once)", st)
			}
			var seen bool
			for _, tp := range last.Tables {
				if tp.Table == "audit" {
					seen = tp.FullCopy
				}
			}
			if !seen {
				t.Errorf("progress does not say audit is a full copy: %+v", last.Tables)
			}

			// A retry after the commit but before its heartbeat: the rows
			// are deleted first, so none is doubled.
			if _, err := datacopy.Run(ctx, opts, mid, nil); err != nil {
				t.Fatal(err)
			}
			sameMultiset(t, src, dst)
		})
	}
}
