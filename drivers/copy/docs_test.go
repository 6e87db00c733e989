package copy

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
)

// The copy summaries the docs show in transcripts read as the product
// prints them today: docs/cdc.md showed 'copied 109,978 rows of 2 tables
// from legacy to new, 13,123 rows/s' after the summary had come to name the
// time its rate is over and how the rows were written. The figures may
// differ; the words may not.
func TestDocsTranscriptsShowTheCopySummaryOfToday(t *testing.T) {
	res := datacopy.Result{Tables: []datacopy.TableProgress{{Table: "customers"}, {Table: "order_lines"}}, Rows: 109_946, Duration: 2150 * time.Millisecond,
		Checkpoint: datacopy.Checkpoint{Tables: map[string]*datacopy.TableCheckpoint{"customers": {RowsDone: 109_946}}}}
	printed := copySummary(&Spec{From: "legacy", To: "new"}, res, datastore.PathInsert, datastore.SQLite, nil)
	// Any figure stands for any figure.
	figure := regexp.MustCompile(`[0-9][0-9,.]*(ms|s)?`)
	shape := regexp.MustCompile("^" + figure.ReplaceAllLiteralString(regexp.QuoteMeta(printed), `[0-9][0-9,.]*(ms|s|m)?`) + "$")
	line := regexp.MustCompile(`^\s+(copied [0-9][0-9,]* rows of .*)$`)
	text, err := os.ReadFile("../../docs/cdc.md")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for n, l := range strings.Split(string(text), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		found++
		if !shape.MatchString(m[1]) {
			t.Errorf("docs/cdc.md:%d shows\n  %s\nbut a copy of its kind prints\n  %s", n+1, m[1], printed)
		}
	}
	if found == 0 {
		t.Fatal("docs/cdc.md shows no copy summary in a transcript")
	}
}
