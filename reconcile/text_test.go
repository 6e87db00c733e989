package reconcile

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// A mapped table's name (source→target) longer than the first column's
// usual width keeps every row's figures under their headings.
func TestTextKeepsFiguresUnderTheirHeadingsForLongMappedNames(t *testing.T) {
	r := &Report{Source: "legacy", Target: "new", Tables: []TableReport{
		{Table: "Album", TargetTable: "album", SourceRows: 347, TargetRows: 347, Complete: true},
		{Table: "PlaylistTrack", TargetTable: "playlist_track", SourceRows: 8715, TargetRows: 8715, Complete: true},
	}}
	lines := strings.Split(r.Text(), "\n")
	head := lines[1]
	end := utf8.RuneCountInString(head[:strings.Index(head, "SOURCE ROWS")+len("SOURCE ROWS")])
	for _, l := range lines[2:4] {
		var fig string
		switch {
		case strings.HasPrefix(l, "Album"):
			fig = "347"
		default:
			fig = "8715"
		}
		at := strings.Index(l, " "+fig+" ") + 1 + len(fig)
		if got := utf8.RuneCountInString(l[:at]); got != end {
			t.Errorf("source rows of %q end at column %d, its heading at %d:\n%s\n%s", l[:5], got, end, head, l)
		}
	}
}

// One difference is "1 difference", as people say it.
func TestTextCountsOneDifference(t *testing.T) {
	r := &Report{Source: "legacy", Target: "new", Tables: []TableReport{{Table: "track", TargetTable: "Track",
		SourceRows: 3, TargetRows: 3, Mismatched: 1, Complete: true,
		Samples: []Difference{{Class: Mismatched, Key: []string{"3"}}}}}}
	if text := r.Text(); !strings.Contains(text, "\ntrack: 1 difference\n") {
		t.Errorf("want \"track: 1 difference\" in\n%s", text)
	}
}
