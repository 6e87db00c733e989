package migration

import "testing"

// TestStatusMoves: final statuses have no way out, every other status can
// reach a final one, and every status the table names is a known one.
func TestStatusMoves(t *testing.T) {
	for _, s := range allStatuses {
		if s.Final() {
			for _, to := range allStatuses {
				if to != s && s.CanMoveTo(to) {
					t.Errorf("final %s may move to %s", s, to)
				}
			}
			continue
		}
		if !reachesFinal(s, map[Status]bool{}) {
			t.Errorf("%s reaches no final status", s)
		}
		for _, to := range moves[s] {
			if !to.Valid() {
				t.Errorf("%s moves to unknown %q", s, to)
			}
		}
	}
	if StatusCompleted.CanMoveTo(StatusInProgress) || !StatusPaused.CanMoveTo(StatusInProgress) || !StatusFailed.CanMoveTo(StatusFailed) {
		t.Error("CanMoveTo disagrees with the table")
	}
}

func reachesFinal(s Status, seen map[Status]bool) bool {
	if s.Final() {
		return true
	}
	seen[s] = true
	for _, to := range moves[s] {
		if !seen[to] && reachesFinal(to, seen) {
			return true
		}
	}
	return false
}
