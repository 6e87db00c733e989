package gateway

import (
	"errors"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
)

// The fast path must leave gobreaker's verdict intact: consecutive failures
// trip it, a success in between resets the count, and an open breaker
// refuses requests even after the fast path was armed.
func TestBreakerFastPathKeepsVerdict(t *testing.T) {
	fail := errors.New("boom")
	cases := []struct {
		name     string
		outcomes []error
		wantOpen bool
	}{
		{"five failures in a row trip it", []error{nil, fail, fail, fail, fail, fail}, true},
		{"a success resets the count", []error{fail, fail, fail, fail, nil, fail, fail, fail, fail}, false},
		{"client gone is neither", []error{fail, fail, errClientGone, fail, fail, fail}, true},
		{"successes alone keep it closed", []error{nil, nil, nil, nil, nil, nil}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBreaker(gobreaker.Settings{
				Timeout:     time.Hour,
				ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 5 },
				IsExcluded:  func(err error) bool { return errors.Is(err, errClientGone) },
			})
			for i, o := range tc.outcomes {
				tk, err := b.allow()
				if err != nil {
					t.Fatalf("request %d refused early: %v", i, err)
				}
				b.done(tk, o)
			}
			if open := b.State() == gobreaker.StateOpen; open != tc.wantOpen {
				t.Fatalf("open = %v, want %v", open, tc.wantOpen)
			}
			if _, err := b.allow(); (err != nil) != tc.wantOpen {
				t.Fatalf("allow after: err = %v, want refused %v", err, tc.wantOpen)
			}
		})
	}
}
