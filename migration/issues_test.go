package migration

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNoteIssueCountsRepeatsAndCaps: a follower failing every 30 s for a
// day is one issue counted 2,880 times, not 2,880 issues; many distinct
// issues stop at MaxIssues, the ones seen least recently dropped first
// (warnings before errors), and every occurrence stays in the metrics.
func TestNoteIssueCountsRepeatsAndCaps(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := NewPlannedReport("m", "", []PlannedPhase{{Name: "copy", Kind: PhaseCopy}}, t0)
	for i := range 2880 {
		r.NoteIssue(t0.Add(time.Duration(i)*30*time.Second), "copy", SeverityWarning, "replication failed")
	}
	require.Len(t, r.Issues, 1)
	assert.Equal(t, Issue{Time: t0, Phase: "copy", Severity: SeverityWarning, Message: "replication failed",
		Count: 2880, LastSeen: t0.Add(2879 * 30 * time.Second)}, r.Issues[0])

	r.NoteIssue(t0, "copy", SeverityError, "the first error")
	for i := range 2 * MaxIssues {
		r.NoteIssue(t0.Add(time.Duration(i)*time.Second), "copy", SeverityWarning, fmt.Sprintf("warning %d", i))
	}
	r.NoteIssue(t0.Add(time.Hour*30), "copy", SeverityWarning, "replication failed")
	r.Refresh(t0.Add(time.Hour * 30))
	require.Len(t, r.Issues, MaxIssues)
	assert.Equal(t, "replication failed", r.Issues[0].Message, "an issue that keeps coming back stays")
	assert.Equal(t, 2881, r.Issues[0].Count)
	assert.Equal(t, "the first error", r.Issues[1].Message, "errors stay while there are warnings to drop")
	assert.Equal(t, fmt.Sprintf("warning %d", 2*MaxIssues-1), r.Issues[MaxIssues-1].Message)
	assert.Equal(t, MaxIssues+2, r.IssuesDropped)
	assert.Equal(t, 2881+1+2*MaxIssues, r.Metrics.IssuesEncountered)
}

// TestCompactIssuesMergesACarriedReport: the report of a run from before
// NoteIssue, carried through continue-as-new, is merged and capped.
func TestCompactIssuesMergesACarriedReport(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := NewPlannedReport("m", "", nil, t0)
	for i := range 300 {
		r.AddIssue(t0.Add(time.Duration(i)*time.Minute), "copy", SeverityWarning, "again")
		r.AddIssue(t0, "", SeverityError, fmt.Sprintf("error %d", i%3))
	}
	r.CompactIssues()
	r.Refresh(t0)
	require.Len(t, r.Issues, 4)
	assert.Equal(t, 300, r.Issues[0].Count)
	assert.Equal(t, t0.Add(299*time.Minute), r.Issues[0].LastSeen)
	assert.Equal(t, 100, r.Issues[1].Count)
	assert.Equal(t, 600, r.Metrics.IssuesEncountered)
	assert.Zero(t, r.IssuesDropped)
}

// TestClipIssueMessageBoundsItsBytes: a long message keeps its beginning
// and its end, cut at character boundaries, within MaxIssueMessage bytes,
// and says how much of the middle was left out; a short one is kept as it
// is.
func TestClipIssueMessageBoundsItsBytes(t *testing.T) {
	assert.Equal(t, "replication failed", ClipIssueMessage("replication failed"))
	exact := strings.Repeat("x", MaxIssueMessage)
	assert.Equal(t, exact, ClipIssueMessage(exact))
	for _, long := range []string{
		strings.Repeat("x", 100000) + " (by ops)",
		strings.Repeat("é", 50000) + " (by ops)",
		"a" + strings.Repeat("語", 30000) + " (by ops)",
	} {
		got := ClipIssueMessage(long)
		end := got[max(0, len(got)-60):]
		require.LessOrEqual(t, len(got), MaxIssueMessage, "ending %q", end)
		require.True(t, utf8.ValidString(got), "cut inside a character: ending %q", end)
		head, rest, ok := strings.Cut(got, " … (")
		require.True(t, ok, "no note of the cut: ending %q", end)
		note, tail, ok := strings.Cut(rest, ") … ")
		require.True(t, ok, "no note of the cut: ending %q", end)
		assert.True(t, strings.HasPrefix(long, head), "the beginning is kept")
		assert.True(t, strings.HasSuffix(tail, " (by ops)"), "the end is kept: %q", end)
		assert.Equal(t, fmt.Sprintf("%d bytes not kept", len(long)-len(head)-len(tail)), note)
	}
}
