package config

import (
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a time.Duration written as text ("30s", "5m", "1h30m") in
// specs and in workflow history, so both stay readable.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d the way specs write it.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%s is not a duration: a duration must be a string such as \"30s\", \"5m\" or \"1h30m\"", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration: write a number with a unit, such as \"30s\", \"5m\" or \"1h30m\"", s)
	}
	*d = Duration(v)
	return nil
}
