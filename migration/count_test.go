package migration

import "testing"

func TestCountSaysOneTableNotOneTables(t *testing.T) {
	for n, want := range map[int]string{0: "0 tables", 1: "1 table", 2: "2 tables"} {
		if got := Count(n, "table"); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}
