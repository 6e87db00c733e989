package copy

import (
	"testing"
	"time"

	"github.com/godwit/godwit/datacopy"
)

func TestAttemptRateSaysWhenAnAttemptResumed(t *testing.T) {
	done := func(rows int64) datacopy.Checkpoint {
		return datacopy.Checkpoint{Tables: map[string]*datacopy.TableCheckpoint{"orders": {RowsDone: rows}}}
	}
	tests := []struct {
		name string
		res  datacopy.Result
		want string
	}{
		{"one attempt gives the copy's rate", datacopy.Result{Rows: 10_000, Duration: time.Second, Checkpoint: done(10_000)},
			", 10,000 rows/s"},
		{"a resumed attempt says its rate is the last attempt's", datacopy.Result{Rows: 4_000, Duration: time.Second, Checkpoint: done(10_000)},
			", 4,000 rows/s in the last attempt, which resumed after 6,000 rows"},
		{"nothing copied gives no rate", datacopy.Result{Duration: time.Second, Checkpoint: done(10_000)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := attemptRate(tt.res); got != tt.want {
				t.Errorf("attemptRate = %q, want %q", got, tt.want)
			}
		})
	}
}
