// Package window computes when a migration may start its disruptive steps
// (a write cut-over, a decommission): inside a preferred maintenance window,
// and never during critical business hours. Times are wall-clock times in
// an IANA time zone, so a window follows daylight saving time.
package window

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	// Embedded zone data: the answer must not depend on the worker's
	// system files (and the workflow records it, so replays agree anyway).
	_ "time/tzdata"
)

// Spec is a migration's timing rules.
type Spec struct {
	// Timezone is an IANA name such as Europe/Berlin; default UTC.
	Timezone string `yaml:"timezone" json:"timezone,omitempty"`
	// Preferred lists the slots in which disruptive steps may start; none
	// means any time outside business hours.
	Preferred []Slot `yaml:"preferred" json:"preferred,omitempty"`
	// BusinessHours lists the slots in which no disruptive step starts.
	BusinessHours []Slot `yaml:"businessHours" json:"businessHours,omitempty"`
}

// Slot is a daily time range on some days of the week. An end before the
// start crosses midnight: the slot belongs to the day it starts on.
type Slot struct {
	// Days are mon..sun, or ranges such as mon-fri; none means every day.
	Days  []string `yaml:"days" json:"days,omitempty"`
	Start string   `yaml:"start" json:"start"` // HH:MM
	End   string   `yaml:"end" json:"end"`     // HH:MM
}

var hhmm = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])$`)

var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// Problem is one mistake in a Spec, at a path under the spec's section.
type Problem struct {
	Path, Message string
}

// Check reports every mistake in the spec.
func (s Spec) Check() []Problem {
	var out []Problem
	if s.Timezone != "" {
		if _, err := time.LoadLocation(s.Timezone); err != nil {
			out = append(out, Problem{"timezone", fmt.Sprintf("%q is not an IANA time zone name (e.g. Europe/Berlin, America/New_York, UTC)", s.Timezone)})
		}
	}
	if len(s.Preferred) == 0 && len(s.BusinessHours) == 0 {
		out = append(out, Problem{"", "gives neither preferred slots nor businessHours: add at least one, or remove window"})
	}
	for name, slots := range map[string][]Slot{"preferred": s.Preferred, "businessHours": s.BusinessHours} {
		for i, sl := range slots {
			path := fmt.Sprintf("%s[%d]", name, i)
			for _, f := range []struct{ field, v string }{{"start", sl.Start}, {"end", sl.End}} {
				if !hhmm.MatchString(f.v) {
					out = append(out, Problem{path + "." + f.field, fmt.Sprintf("%q is not a time of day: write HH:MM, e.g. 02:00", f.v)})
				}
			}
			if sl.Start == sl.End && hhmm.MatchString(sl.Start) {
				out = append(out, Problem{path, "starts and ends at the same time: the slot is empty"})
			}
			if _, err := parseDays(sl.Days); err != nil {
				out = append(out, Problem{path + ".days", err.Error()})
			}
		}
	}
	return out
}

func parseDays(days []string) ([7]bool, error) {
	var set [7]bool
	if len(days) == 0 {
		for i := range set {
			set[i] = true
		}
		return set, nil
	}
	index := func(d string) (int, error) {
		for i, n := range dayNames {
			if strings.EqualFold(d, n) {
				return i, nil
			}
		}
		return 0, fmt.Errorf("%q is not a day: use mon, tue, wed, thu, fri, sat, sun or a range such as mon-fri", d)
	}
	for _, d := range days {
		from, to, isRange := strings.Cut(d, "-")
		a, err := index(from)
		if err != nil {
			return set, err
		}
		b := a
		if isRange {
			if b, err = index(to); err != nil {
				return set, err
			}
		}
		for i := a; ; i = (i + 1) % 7 {
			set[i] = true
			if i == b {
				break
			}
		}
	}
	return set, nil
}

func minutes(s string) int {
	m := hhmm.FindStringSubmatch(s)
	h, _ := strconv.Atoi(m[1])
	mm, _ := strconv.Atoi(m[2])
	return h*60 + mm
}

// in reports whether local wall-clock time t falls in the slot.
func (sl Slot) in(t time.Time) bool {
	days, _ := parseDays(sl.Days)
	start, end := minutes(sl.Start), minutes(sl.End)
	now := t.Hour()*60 + t.Minute()
	wd := int(t.Weekday())
	if start < end {
		return days[wd] && now >= start && now < end
	}
	// Crosses midnight: the evening part belongs to today, the morning
	// part to yesterday's slot.
	return (days[wd] && now >= start) || (days[(wd+6)%7] && now < end)
}

// Location returns the spec's time zone.
func (s Spec) Location() (*time.Location, error) {
	if s.Timezone == "" {
		return time.UTC, nil
	}
	return time.LoadLocation(s.Timezone)
}

// Open reports whether a disruptive step may start at t.
func (s Spec) Open(t time.Time) bool {
	loc, err := s.Location()
	if err != nil {
		return false
	}
	local := t.In(loc)
	for _, b := range s.BusinessHours {
		if b.in(local) {
			return false
		}
	}
	if len(s.Preferred) == 0 {
		return true
	}
	for _, p := range s.Preferred {
		if p.in(local) {
			return true
		}
	}
	return false
}

// horizon bounds the search for the next opening: a spec whose slots never
// open within two weeks is almost certainly a mistake.
const horizon = 15 * 24 * time.Hour

// NextOpen returns the first minute at or after now when a disruptive step
// may start, and false when none comes within two weeks.
func (s Spec) NextOpen(now time.Time) (time.Time, bool) {
	if s.Open(now) {
		return now, true
	}
	t := now.Truncate(time.Minute).Add(time.Minute)
	for end := now.Add(horizon); t.Before(end); t = t.Add(time.Minute) {
		if s.Open(t) {
			return t, true
		}
	}
	return time.Time{}, false
}

// Describe says the window in words: "02:00-06:00 sat-sun Europe/Berlin,
// not during 08:00-18:00 mon-fri".
func (s Spec) Describe() string {
	tz := s.Timezone
	if tz == "" {
		tz = "UTC"
	}
	var parts []string
	for _, p := range s.Preferred {
		parts = append(parts, p.describe())
	}
	text := strings.Join(parts, " or ")
	if len(s.BusinessHours) > 0 {
		var b []string
		for _, sl := range s.BusinessHours {
			b = append(b, sl.describe())
		}
		if text != "" {
			text += ", "
		}
		text += "not during " + strings.Join(b, " or ")
	}
	return text + " (" + tz + ")"
}

func (sl Slot) describe() string {
	d := ""
	if len(sl.Days) > 0 {
		d = " " + strings.Join(sl.Days, ",")
	}
	return sl.Start + "–" + sl.End + d
}
