package activities_test

import (
	"sync"
	"testing"
	"time"

	"github.com/godwit/godwit/activities"
)

func TestKeepAliveRepeatsTheLastHeartbeatUntilStopped(t *testing.T) {
	var mu sync.Mutex
	var got []activities.Heartbeat
	beat := func(hb activities.Heartbeat) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, hb)
	}
	k := activities.StartKeepAlive(beat, time.Millisecond)
	k.Set(activities.Heartbeat{Records: 7})
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 3 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	k.Stop()
	mu.Lock()
	after := len(got)
	last := got[after-1]
	mu.Unlock()
	if last.Records != 7 {
		t.Fatalf("repeated heartbeat %+v, want the last one set", last)
	}
	time.Sleep(5 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != after {
		t.Fatalf("%d heartbeats after Stop", len(got)-after)
	}
}
