package cli

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/godwit/godwit/migration"
)

// TestRenderCountsRepeatedIssues: an issue seen many times is one line
// saying how often and when last; issues dropped by the cap are counted.
func TestRenderCountsRepeatedIssues(t *testing.T) {
	r, now := waitingReport()
	for i := range 3 {
		r.NoteIssue(t0.Add(time.Duration(i)*30*time.Second), "copy", migration.SeverityWarning, `signal "pasue" ignored`)
	}
	r.IssuesDropped = 7
	r.Refresh(now)
	var buf bytes.Buffer
	renderText(&buf, r, now)
	out := buf.String()
	assert.Contains(t, out, "  "+t0.Local().Format(time.TimeOnly)+` WARNING copy signal "pasue" ignored (3 times, last at `+
		t0.Add(time.Minute).Local().Format(time.TimeOnly)+")\n")
	assert.Contains(t, out, "  (7 older occurrences of other issues not kept)\n")
	assert.Contains(t, out, "Issues 10")
}

// One issue dropped by the cap is "1 older occurrence".
func TestRenderCountsOneDroppedIssueInTheSingular(t *testing.T) {
	r, now := waitingReport()
	r.NoteIssue(t0, "copy", migration.SeverityWarning, "slow")
	r.IssuesDropped = 1
	r.Refresh(now)
	var buf bytes.Buffer
	renderText(&buf, r, now)
	assert.Contains(t, buf.String(), "  (1 older occurrence of other issues not kept)\n")
}

// A fanned-out phase whose one attempt failed says "1 attempt".
func TestAttemptsTextCountsOneAttemptInTheSingular(t *testing.T) {
	p := migration.PhaseReport{Units: 4, Attempts: 1, FailedAttempts: 1}
	assert.Equal(t, []string{"0 of 4 units done, 1 attempt (1 failed)"}, attemptsText(p))
}
