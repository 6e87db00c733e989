package gateway

import (
	"errors"
	"sync/atomic"

	"github.com/sony/gobreaker/v2"
)

// breaker is new's circuit breaker: gobreaker decides, and a lock-free fast
// path spares healthy traffic its mutex. While new is healthy (the breaker
// closed and the last outcome it saw a success) a request goes through
// without touching gobreaker, and its success is not reported: a success
// changes nothing then. A failure always takes the locked path, so
// gobreaker counts every failure; it then sees the outcomes of every
// request until a success in the closed state makes new healthy again.
//
// The price: a failure that lands while a concurrent success is re-arming
// the fast path is followed by fast-path successes that do not reset
// gobreaker's consecutive-failure count, so under that race a few failures
// separated only by such successes can still trip the breaker. It errs
// towards opening, never towards hiding failures.
type breaker struct {
	cb *gobreaker.TwoStepCircuitBreaker[struct{}]
	// fast holds a generation (bumped on every state change) in its upper
	// bits and "healthy" in bit 0; the generation keeps a success observed
	// before a state change from re-arming the fast path after it.
	fast atomic.Uint64
}

// ticket is one request's admission; pass it back to done.
type ticket struct {
	fast bool
	done func(error)
}

func newBreaker(st gobreaker.Settings) *breaker {
	b := &breaker{}
	onChange := st.OnStateChange
	st.OnStateChange = func(name string, from, to gobreaker.State) {
		b.disarm(true)
		if onChange != nil {
			onChange(name, from, to)
		}
	}
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](st)
	b.fast.Store(1)
	return b
}

// allow admits a request to new, or returns gobreaker's error when the
// breaker is open (or half-open and busy).
func (b *breaker) allow() (ticket, error) {
	if b.fast.Load()&1 == 1 {
		return ticket{fast: true}, nil
	}
	done, err := b.cb.Allow()
	if err != nil {
		return ticket{}, err
	}
	return ticket{done: done}, nil
}

// done reports the request's outcome: nil for success, errClientGone for
// neither success nor failure, anything else a failure.
func (b *breaker) done(t ticket, outcome error) {
	if t.fast {
		if outcome == nil || errors.Is(outcome, errClientGone) {
			return
		}
		b.disarm(false)
		// Report the failure through the locked path. In the closed state
		// Allow always admits; if the breaker changed state meanwhile the
		// failure is simply not counted, as for any request admitted
		// before the change.
		d, err := b.cb.Allow()
		if err != nil {
			return
		}
		d(outcome)
		return
	}
	t.done(outcome)
	if outcome == nil {
		v := b.fast.Load()
		if b.cb.State() == gobreaker.StateClosed {
			b.fast.CompareAndSwap(v&^1, v|1)
		}
	}
}

// disarm clears the healthy bit; newGen also bumps the generation.
func (b *breaker) disarm(newGen bool) {
	for {
		v := b.fast.Load()
		next := v &^ 1
		if newGen {
			next += 2
		}
		if v == next || b.fast.CompareAndSwap(v, next) {
			return
		}
	}
}

// State is gobreaker's state.
func (b *breaker) State() gobreaker.State { return b.cb.State() }

// errRestoredOpen is the failure reported to open a breaker restored open.
var errRestoredOpen = errors.New("breaker was open before the gateway restarted")

// trip opens the breaker by reporting the failures it needs to open. It
// restores a breaker that was open (or half-open) before a restart: it then
// stays open for its whole openFor from now, erring towards keeping a
// failing new service out of traffic rather than probing it early.
func (b *breaker) trip(failures uint32) {
	b.disarm(false)
	for i := uint32(0); i < failures && b.cb.State() == gobreaker.StateClosed; i++ {
		done, err := b.cb.Allow()
		if err != nil {
			return
		}
		done(errRestoredOpen)
	}
}
