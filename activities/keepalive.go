package activities

import (
	"sync"
	"time"
)

// DefaultKeepAlive is how often a KeepAlive repeats the last heartbeat.
const DefaultKeepAlive = 5 * time.Second

// KeepAlive repeats a phase's last heartbeat every few seconds while its
// driver waits on something that reports no progress (a long ALTER TABLE,
// a lock, a throttle's pause), so the phase's heartbeat timeout measures a
// dead worker, not a slow statement. Set records new progress at once.
type KeepAlive struct {
	beat func(Heartbeat)
	mu   sync.Mutex
	// next is what the next repeat sends: the last heartbeat set, or
	// what Follow asked for.
	next func() Heartbeat
	done chan struct{}
	wg   sync.WaitGroup
}

// KeepAliveEvery is how often a phase with heartbeat timeout timeout
// should repeat its heartbeat: a third of it, at most DefaultKeepAlive.
func KeepAliveEvery(timeout time.Duration) time.Duration {
	if timeout > 0 && timeout/3 < DefaultKeepAlive {
		return max(timeout/3, 100*time.Millisecond)
	}
	return DefaultKeepAlive
}

// StartKeepAlive starts repeating beat's last heartbeat every every
// (DefaultKeepAlive when zero) until Stop.
func StartKeepAlive(beat func(Heartbeat), every time.Duration) *KeepAlive {
	if every <= 0 {
		every = DefaultKeepAlive
	}
	if beat == nil {
		beat = func(Heartbeat) {}
	}
	k := &KeepAlive{beat: beat, done: make(chan struct{}), next: func() Heartbeat { return Heartbeat{} }}
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-k.done:
				return
			case <-t.C:
				k.mu.Lock()
				k.beat(k.next())
				k.mu.Unlock()
			}
		}
	}()
	return k
}

// Set records hb as the last heartbeat and sends it.
func (k *KeepAlive) Set(hb Heartbeat) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.next = func() Heartbeat { return hb }
	k.beat(hb)
}

// Follow has each repeat send fn's heartbeat from now on, until the next
// Set or Follow; it sends nothing now. fn runs with the keep-alive's lock
// held: it must not call back into it.
func (k *KeepAlive) Follow(fn func() Heartbeat) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.next = fn
}

// Stop ends the repetition; no heartbeat is sent after it returns.
func (k *KeepAlive) Stop() {
	close(k.done)
	k.wg.Wait()
}
