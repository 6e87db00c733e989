package copy

import (
	"testing"

	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/mapping"
)

// Through a mapping the indexes were built on the target's tables: the
// summary names those (the music-store trial's said "invoice_line (3
// indexes)" for InvoiceItem, beside "6 foreign keys carried
// (InvoiceItem.…)" in the same line).
func TestIndexesNoteNamesTheTargetTables(t *testing.T) {
	res := datacopy.Result{Tables: []datacopy.TableProgress{
		{Table: "genre", IndexesAfterLoad: 1},
		{Table: "invoice_line", IndexesAfterLoad: 3},
		{Table: "audit", IndexesAfterLoad: 0},
	}}
	mapped := map[string]mapping.Table{"genre": {Target: "Genre"}, "invoice_line": {Target: "InvoiceItem"}}
	want := "; key and indexes built after the load: Genre (1 index), InvoiceItem (3 indexes)"
	if got := indexesNote(res, mapped); got != want {
		t.Fatalf("indexesNote = %q, want %q", got, want)
	}
	if got := indexesNote(res, nil); got != "; key and indexes built after the load: genre (1 index), invoice_line (3 indexes)" {
		t.Fatalf("unmapped: %q", got)
	}
}
