package datastore

import (
	"testing"
	"time"
)

// SQLiteTimeText writes what time.Format writes for SQLite's layouts, on
// fractions of every length, zones other than UTC and the edges of the
// years it renders by hand (and past them).
func TestSQLiteTimeTextMatchesFormat(t *testing.T) {
	zone := time.FixedZone("x", -(7*3600 + 30*60))
	var times []time.Time
	for _, y := range []int{-1, 0, 1, 999, 1970, 2024, 9999, 10000} {
		for _, ns := range []int{0, 1, 999, 1000, 10000, 120000, 123456000, 100000000, 999999999, 500} {
			times = append(times, time.Date(y, 12, 31, 23, 59, 59, ns, time.UTC), time.Date(y, 1, 2, 3, 4, 5, ns, zone))
		}
	}
	for _, tm := range times {
		for k, layout := range map[Kind]string{KindDate: sqliteDate, KindTimestamp: sqliteTimestamp, KindTimestampTZ: sqliteTimestampTZ} {
			want := tm.Format(layout)
			if k == KindTimestampTZ {
				want = tm.UTC().Format(layout)
			}
			if got := SQLiteTimeText(k, tm); got != want {
				t.Errorf("%s of %v: %q, want %q", k, tm, got, want)
			}
		}
	}
}
