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
			", 10,000 rows/s over 1s of copying"},
		{"a resumed attempt says its rate is the last attempt's", datacopy.Result{Rows: 4_000, Duration: time.Second, Checkpoint: done(10_000)},
			", 4,000 rows/s over the last attempt's 1s of copying, which resumed after 6,000 rows"},
		// The phase line of godwit status gives the rows over the whole
		// phase (1.6s, 20000 records at 12798/s): the summary names the
		// shorter time its rate is over.
		{"the rate names the time spent copying", datacopy.Result{Rows: 20_000, Duration: 843_600 * time.Microsecond, Checkpoint: done(20_000)},
			", 23,707 rows/s over 844ms of copying"},
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
