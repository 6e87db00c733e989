package suggest

import "testing"

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"hook", "hook", 0},
		{"hok", "hook", 1},
		{"", "abc", 3},
		{"kitten", "sitting", 3},
		{"flaw", "lawn", 2},
	} {
		if got := Distance(c.a, c.b); got != c.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := Distance(c.b, c.a); got != c.want {
			t.Errorf("Distance(%q, %q) = %d, want %d (symmetric)", c.b, c.a, got, c.want)
		}
	}
}

func TestClosest(t *testing.T) {
	for _, c := range []struct {
		name     string
		got      string
		known    []string
		maxEdits int
		want     string
	}{
		{"a typo within the bound", "hok", []string{"phase", "hook", "timeout"}, 2, "hook"},
		{"case is ignored", "HOOK", []string{"hook"}, 0, "hook"},
		{"too far is no suggestion", "xyzzy", []string{"hook", "phase"}, 2, ""},
		{"nearest wins over the first", "copie", []string{"cope", "copy"}, 2, "cope"},
		{"ties go to the alphabetically first whatever the order", "cat", []string{"cut", "bat"}, 2, "bat"},
		{"no known names", "hook", nil, 2, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Closest(c.got, c.known, c.maxEdits); got != c.want {
				t.Errorf("Closest(%q, %v, %d) = %q, want %q", c.got, c.known, c.maxEdits, got, c.want)
			}
		})
	}
}

func TestDidYouMean(t *testing.T) {
	if got, want := DidYouMean("hok", []string{"hook"}), ` (did you mean "hook"?)`; got != want {
		t.Errorf("DidYouMean = %q, want %q", got, want)
	}
	if got := DidYouMean("nothing-like", []string{"hook"}); got != "" {
		t.Errorf("DidYouMean of a far name = %q, want empty", got)
	}
}
