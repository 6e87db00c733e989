package datacopy_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

func TestStreamsChosenFromCoresAndRate(t *testing.T) {
	const M = 1_000_000
	fast := datacopy.Sample{Rows: 10_000, Rate: 200_000, RowBytes: 100}
	for _, tt := range []struct {
		name      string
		z         datacopy.Sizing
		rows      int64
		split     int64
		sample    datacopy.Sample
		want      int
		reasonHas string
	}{
		{"two cores carry one stream: no split", datacopy.Sizing{Cores: 2}, 10 * M, M, fast, 1, "2 cores"},
		{"three cores still one", datacopy.Sizing{Cores: 3}, 10 * M, M, fast, 1, "3 cores"},
		{"eight cores carry four", datacopy.Sizing{Cores: 8}, 100 * M, M, fast, 4, "8 cores"},
		{"splitRows bounds the ranges", datacopy.Sizing{Cores: 64}, 3 * M, M / 2, datacopy.Sample{}, 6, "splitRows"},
		{"a table one stream copies quickly is not split", datacopy.Sizing{Cores: 16}, 2 * M, 100_000, fast, 1, "at least 30s a range"},
		{"wide rows read slowly earn ranges sooner", datacopy.Sizing{Cores: 16}, 2 * M, 100_000,
			datacopy.Sample{Rows: 10_000, Rate: 10_000, RowBytes: 2000}, 6, "2000-byte rows"},
		{"splitStreams overrides cores and rate", datacopy.Sizing{Cores: 2, MaxStreams: 4}, 10 * M, M, fast, 4, "splitStreams"},
		{"splitStreams never plans more than splitRows makes", datacopy.Sizing{MaxStreams: 8}, 3 * M, M, fast, 3, "splitStreams"},
		{"a table under splitRows is whole", datacopy.Sizing{Cores: 64}, M, M, fast, 1, "not more rows"},
		{"minRangeTime negative: any range is long enough", datacopy.Sizing{Cores: 8, MinRangeTime: -1}, 2 * M, 100_000, fast, 4, "8 cores"},
		{"minRangeTime shorter", datacopy.Sizing{Cores: 64, MinRangeTime: time.Second}, 2 * M, 100_000, fast, 10, "at least 1s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, why := tt.z.Streams(tt.rows, tt.split, tt.sample)
			if got != tt.want || !strings.Contains(why, tt.reasonHas) {
				t.Errorf("Streams = %d (%s), want %d (%s)", got, why, tt.want, tt.reasonHas)
			}
		})
	}
}

// TestPlanRangesSizedOnTwoCores: a table splitRows would cut in four is
// not split on a 2-core worker, and is cut in as many ranges as the
// sizing allows, each within splitRows' bound, elsewhere; a copy run with
// the 2-core sizing copies it as one entry.
func TestPlanRangesSizedOnTwoCores(t *testing.T) {
	ctx := context.Background()
	src, dst := setup(t, datastore.Postgres, datastore.Postgres, 1234)
	tbl, err := src.Introspect(ctx, "kitchen")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := datacopy.PlanRangesSized(ctx, src, tbl, 300, &datacopy.Sizing{Cores: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Ranges) != 0 || plan.Rows != 1234 || plan.Sample.Rows != 1234 || plan.Sample.RowBytes <= 0 {
		t.Errorf("2 cores: plan %+v, want no ranges, 1234 rows and a sample of them", plan)
	}
	plan, err = datacopy.PlanRangesSized(ctx, src, tbl, 300, &datacopy.Sizing{Cores: 4, MinRangeTime: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Ranges) != 2 {
		t.Errorf("4 cores: %d ranges %v (%s), want 2", len(plan.Ranges), plan.Ranges, plan.Reason)
	}
	plan, err = datacopy.PlanRangesSized(ctx, src, tbl, 300, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Ranges) != 5 {
		t.Errorf("no sizing: %d ranges, want 5 of splitRows rows", len(plan.Ranges))
	}

	res, err := datacopy.Run(ctx, datacopy.Options{From: src, To: dst, Tables: []string{"kitchen"},
		BatchRows: 100, Concurrency: 4, SplitRows: 300, Sizing: &datacopy.Sizing{Cores: 2}}, datacopy.Checkpoint{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dbtest.AssertSameRows(t, src, dst, "kitchen")
	if st := res.Checkpoint.Tables["kitchen"]; len(res.Checkpoint.Tables) != 1 || st == nil || st.Range != nil {
		t.Errorf("checkpoint %+v, want the table as one entry", res.Checkpoint.Tables)
	}
}
