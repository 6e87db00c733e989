package replicate

import (
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
)

// A run that ended with a pending key still violated does not stay in a
// long-lived worker's memory: the next try of any run forgets the holds
// that have run out, and keeps the ones still holding.
func TestAnEndedRunsPendingKeyHoldIsForgottenOnceItRunsOut(t *testing.T) {
	d := New(hclog.NewNullLogger())
	d.PendingKeysEvery = time.Hour
	d.pendingKeysTried("ended", true)
	d.pendingKeysTried("live", true)
	assert.False(t, d.pendingKeysDue("ended"))
	d.keysFailed["ended"] = time.Now().Add(-2 * time.Hour) // its hold ran out

	d.pendingKeysTried("other", false)
	assert.NotContains(t, d.keysFailed, "ended")
	assert.Contains(t, d.keysFailed, "live", "a hold still running is kept")
	assert.True(t, d.pendingKeysDue("ended"))
	assert.False(t, d.pendingKeysDue("live"))
}
