package schemachange

import "testing"

// A record of one statement reads in the singular, as cleanup prints it
// ("forgot: ... record x/expand: 1 statements applied" before).
func TestRecordCountsInTheSingular(t *testing.T) {
	for r, want := range map[Record]string{
		{Name: "m/expand", Step: stepUp, Done: 1}:   "m/expand: 1 statement applied (its dual-write triggers' included)",
		{Name: "m/expand", Step: stepUp, Done: 5}:   "m/expand: 5 statements applied (its dual-write triggers' included)",
		{Name: "m/expand", Step: stepDown, Done: 1}: "m/expand: rollback, 1 statement of its down script done",
		// Whose it is, when the record says.
		{Name: "m/expand", Step: stepUp, Done: 2, Run: "0191"}: "m/expand: 2 statements applied (its dual-write triggers' included), by run 0191",
	} {
		if got := r.String(); got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
}
