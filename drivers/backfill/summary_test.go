package backfill

import (
	"testing"

	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/schemachange"
)

// A retried backfill's summary gives the totals of every attempt (the
// store's record keeps them with the checkpoint), this attempt's apart:
// it used to say only "N updated in this run", less than it did.
func TestSummaryGivesTheTotalsOfEveryAttempt(t *testing.T) {
	done := datacopy.TableCheckpoint{RowsDone: 25, Total: 25, Stage: datacopy.StageDone}
	for _, tc := range []struct {
		name string
		p    schemachange.Progress
		want string
	}{
		{"one attempt", schemachange.Progress{Checkpoint: done, Updated: 25, Batches: 3},
			"backfilled users.email_address: 25 rows walked, 25 updated (3 batches)"},
		{"a retry after a killed worker", schemachange.Progress{Checkpoint: done, Updated: 15, UpdatedBefore: 10, Batches: 1},
			"backfilled users.email_address: 25 rows walked, 25 updated in all (15 in this attempt, 1 batch)"},
		{"an attempt after the last batch was done", schemachange.Progress{Checkpoint: done, UpdatedBefore: 25},
			"backfilled users.email_address: 25 rows walked, 25 updated in all (0 in this attempt)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := summary("users", []string{"email_address"}, tc.p); got != tc.want {
				t.Errorf("summary = %q\nwant      %q", got, tc.want)
			}
		})
	}
}

// The live detail counts the rows updated in every attempt too.
func TestHeartbeatCountsTheRowsUpdatedInEveryAttempt(t *testing.T) {
	p := schemachange.Progress{Checkpoint: datacopy.TableCheckpoint{RowsDone: 20, Total: 25}, Updated: 10, UpdatedBefore: 10}
	hb := heartbeat(&Spec{Table: "users"}, p)
	if want := "users: 20 / 25 rows, 20 updated"; hb.Detail != want {
		t.Errorf("detail = %q, want %q", hb.Detail, want)
	}
}
