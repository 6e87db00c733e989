package migration

import "testing"

func TestCountSaysOneTableNotOneTables(t *testing.T) {
	for _, tc := range []struct {
		n    int
		noun string
		want string
	}{
		{0, "table", "0 tables"},
		{1, "table", "1 table"},
		{2, "table", "2 tables"},
		{1, "note", "1 note"},
		{3, "foreign key", "3 foreign keys"},
		{2, "batch", "2 batches"},
		{2, "index", "2 indexes"},
		{1, "batch", "1 batch"},
	} {
		if got := Count(tc.n, tc.noun); got != tc.want {
			t.Errorf("Count(%d, %q) = %q, want %q", tc.n, tc.noun, got, tc.want)
		}
	}
}
