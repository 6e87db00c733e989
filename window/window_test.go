package window

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func at(t *testing.T, zone, value string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	require.NoError(t, err)
	v, err := time.ParseInLocation("2006-01-02 15:04", value, loc)
	require.NoError(t, err)
	return v
}

func TestNextOpen(t *testing.T) {
	nightly := Spec{Timezone: "Europe/Berlin", Preferred: []Slot{{Start: "02:00", End: "06:00"}}}
	weekendNights := Spec{Timezone: "America/New_York", Preferred: []Slot{{Days: []string{"fri-sat"}, Start: "22:00", End: "04:00"}}}
	notBusiness := Spec{Timezone: "Asia/Tokyo", BusinessHours: []Slot{{Days: []string{"mon-fri"}, Start: "09:00", End: "18:00"}}}
	tests := []struct {
		name string
		spec Spec
		now  time.Time
		want time.Time
	}{
		{"inside the window: now", nightly, at(t, "Europe/Berlin", "2026-11-25 03:30"), at(t, "Europe/Berlin", "2026-11-25 03:30")},
		{"before it: today at 02:00", nightly, at(t, "Europe/Berlin", "2026-11-25 01:10"), at(t, "Europe/Berlin", "2026-11-25 02:00")},
		{"after it: tomorrow at 02:00", nightly, at(t, "Europe/Berlin", "2026-11-25 06:00"), at(t, "Europe/Berlin", "2026-11-26 02:00")},
		{"from another zone: the window's zone counts", nightly, at(t, "UTC", "2026-11-25 00:30"), at(t, "UTC", "2026-11-25 01:00")},
		{"crossing midnight, on the next morning", weekendNights, at(t, "America/New_York", "2026-11-28 03:00"), at(t, "America/New_York", "2026-11-28 03:00")},
		{"crossing midnight, saturday's slot runs into sunday", weekendNights, at(t, "America/New_York", "2026-11-29 03:00"), at(t, "America/New_York", "2026-11-29 03:00")},
		{"crossing midnight, not on monday morning", weekendNights, at(t, "America/New_York", "2026-11-30 03:00"), at(t, "America/New_York", "2026-12-04 22:00")},
		{"business hours: wait for their end", notBusiness, at(t, "Asia/Tokyo", "2026-11-25 10:00"), at(t, "Asia/Tokyo", "2026-11-25 18:00")},
		{"business hours: weekends are free", notBusiness, at(t, "Asia/Tokyo", "2026-11-28 10:00"), at(t, "Asia/Tokyo", "2026-11-28 10:00")},
		// Berlin leaves summer time on 2026-10-25 at 03:00 CEST (back to
		// 02:00 CET): the window opens at the first 02:00, CEST, 00:00 UTC;
		// the day before it opened at 00:00 UTC too, the day after at 01:00.
		{"across the end of summer time", nightly, at(t, "Europe/Berlin", "2026-10-24 07:00"), time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC)},
		{"after the end of summer time", nightly, at(t, "Europe/Berlin", "2026-10-25 07:00"), time.Date(2026, 10, 26, 1, 0, 0, 0, time.UTC)},
		// New York starts summer time on 2026-03-08: 22:00 is EDT then.
		{"across the start of summer time", weekendNights, at(t, "America/New_York", "2026-03-08 05:00"), at(t, "America/New_York", "2026-03-13 22:00")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.spec.NextOpen(tc.now)
			require.True(t, ok)
			assert.True(t, tc.want.Equal(got), "want %s, got %s", tc.want, got.In(tc.want.Location()))
		})
	}
}

func TestCheck(t *testing.T) {
	bad := Spec{Timezone: "Mars/Olympus", Preferred: []Slot{{Days: []string{"funday"}, Start: "2am", End: "06:00"}, {Start: "01:00", End: "01:00"}}}
	assert.Equal(t, []Problem{
		{"timezone", `"Mars/Olympus" is not an IANA time zone name (e.g. Europe/Berlin, America/New_York, UTC)`},
		{"preferred[0].start", `"2am" is not a time of day: write HH:MM, e.g. 02:00`},
		{"preferred[0].days", `"funday" is not a day: use mon, tue, wed, thu, fri, sat, sun or a range such as mon-fri`},
		{"preferred[1]", "starts and ends at the same time: the slot is empty"},
	}, bad.Check())
	assert.Equal(t, []Problem{{"", "gives neither preferred slots nor businessHours: add at least one, or remove window"}}, Spec{}.Check())
}

func TestNeverOpening(t *testing.T) {
	s := Spec{Preferred: []Slot{{Start: "09:00", End: "10:00"}}, BusinessHours: []Slot{{Start: "08:00", End: "18:00"}}}
	_, ok := s.NextOpen(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	assert.False(t, ok)
	assert.Equal(t, "09:00–10:00, not during 08:00–18:00 (UTC)", s.Describe())
}
