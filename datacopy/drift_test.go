package datacopy_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
)

// A column added, dropped or retyped on the source while the copy runs
// stops it with a permanent error that names the change, at the checkpoint
// after the change; an unchanged table copies to the end.
func TestSchemaDriftStopsTheCopy(t *testing.T) {
	cases := []struct {
		name  string
		from  datastore.Engine
		alter string // run on the source after the first batch; "" = none
		want  string // in the error; "" = no error
		// stopAt is the most rows done when it stops: a column added is
		// seen by the check after batch 2; a column dropped or retyped fails
		// batch 2 (unless it was read ahead before the change), which is
		// then reported as the change.
		stopAt int64
	}{
		{"postgres add", datastore.Postgres, `ALTER TABLE kitchen ADD COLUMN extra text`,
			"source table kitchen changed during the copy: column extra added (text)", 200},
		{"postgres drop", datastore.Postgres, `ALTER TABLE kitchen DROP COLUMN note`,
			"source table kitchen changed during the copy: column note dropped", 100},
		{"postgres retype", datastore.Postgres, `ALTER TABLE kitchen ALTER COLUMN qty TYPE bigint`,
			"source table kitchen changed during the copy: column qty retyped (integer → bigint)", 100},
		{"postgres unchanged", datastore.Postgres, "", "", 500},
		{"sqlite add", datastore.SQLite, `ALTER TABLE kitchen ADD COLUMN extra TEXT`,
			"source table kitchen changed during the copy: column extra added (TEXT)", 200},
		{"sqlite drop", datastore.SQLite, `ALTER TABLE kitchen DROP COLUMN note`,
			"source table kitchen changed during the copy: column note dropped", 200},
		{"sqlite unchanged", datastore.SQLite, "", "", 500},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			src, dst := setup(t, tc.from, datastore.Postgres, 500)
			altered := false
			opts := datacopy.Options{From: src, To: dst, Tables: []string{"kitchen"}, BatchRows: 100, DriftCheckEvery: 2, DirectBatchTime: -1}
			res, err := datacopy.Run(ctx, opts, datacopy.Checkpoint{}, func(p datacopy.Progress) {
				if tc.alter == "" || altered || p.RowsDone < 100 {
					return
				}
				altered = true
				if _, err := src.DB.ExecContext(ctx, tc.alter); err != nil {
					t.Errorf("alter the source: %v", err)
				}
			})
			done := res.Checkpoint.Tables["kitchen"].RowsDone
			if tc.want == "" {
				if err != nil || done != 500 {
					t.Fatalf("unchanged table: %d rows, %v; want all 500 and no error", done, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one containing %q", err, tc.want)
			}
			var drift *datastore.DriftError
			if !errors.Is(err, datastore.ErrSchemaDrift) || !errors.As(err, &drift) || !datastore.IsPermanent(err) {
				t.Fatalf("error %v is not a permanent *DriftError", err)
			}
			if done < 100 || done > tc.stopAt {
				t.Fatalf("stopped with %d rows done, want 100..%d", done, tc.stopAt)
			}
		})
	}
}
