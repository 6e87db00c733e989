package reconcile

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
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

// A NULL on one side and the text "NULL" on the other are a difference the
// report shows as such: NULL bare, the text quoted, and null in JSON.
func TestANullAndTheTextNULLAreToldApart(t *testing.T) {
	a, b := newItems(t, datastore.SQLite, 30), newItems(t, datastore.SQLite, 30)
	// Row 11's label is NULL on both sides (itemRow); the target's becomes
	// the word, and row 12's word becomes NULL.
	dbtest.Exec(t, b.Store, `UPDATE items SET label = 'NULL' WHERE id = 11`, `UPDATE items SET label = NULL WHERE id = 12`)
	rep := run(t, Options{Source: a.Store, Target: b.Store})
	text := rep.Text()
	for _, want := range []string{`key=11 columns=label label: NULL≠"NULL"`, `key=12 columns=label label: "item 12"≠NULL`} {
		if !strings.Contains(text, want) {
			t.Errorf("want %q in\n%s", want, text)
		}
	}
	js, err := json.Marshal(rep.Tables[0].Samples)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"label":[null,"NULL"]`) {
		t.Errorf("want the NULL as null in JSON: %s", js)
	}
}

// Two long values that differ past their first 40 characters are shown
// around where they differ, not as two identical clipped beginnings
// (Chinook's track 3485: a backslash one load kept and the other ate,
// 60 characters in, read `"Symphony No. 3 … and …"≠"Symphony No. 3 … and …"`).
func TestLongValuesAreShownWhereTheyDiffer(t *testing.T) {
	a, b := newItems(t, datastore.SQLite, 30), newItems(t, datastore.SQLite, 30)
	long := `Symphony No. 3 Op. 36 for Orchestra and Soprano "Symfonia Piesni Zalosnych" \ Lento E Largo - Tranquillissimo`
	dbtest.Exec(t, a.Store, `UPDATE items SET label = '`+long+`' WHERE id = 7`)
	dbtest.Exec(t, b.Store, `UPDATE items SET label = '`+strings.Replace(long, `\ `, ``, 1)+`' WHERE id = 7`)
	rep := run(t, Options{Source: a.Store, Target: b.Store})
	if len(rep.Tables) != 1 || len(rep.Tables[0].Samples) != 1 {
		t.Fatalf("want one sample: %+v", rep.Tables)
	}
	v := rep.Tables[0].Samples[0].Values["label"]
	if v[0] == nil || v[1] == nil {
		t.Fatalf("want both values shown: %v", v)
	}
	if *v[0] == *v[1] {
		t.Errorf("the two values read alike: %q and %q", *v[0], *v[1])
	}
	if !strings.Contains(*v[0], `\ Lento`) || !strings.Contains(*v[1], `" Lento`) {
		t.Errorf("want the part where they differ shown: %q≠%q", *v[0], *v[1])
	}
	for _, s := range []string{*v[0], *v[1]} {
		if n := utf8.RuneCountInString(s); n > 50 {
			t.Errorf("value %q is %d characters: still clipped, please", s, n)
		}
	}
}
