package stores

import (
	"strings"
	"testing"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/mapping"
)

// TestACastFromATypeWithoutAKindNamesTheSourceType: Sakila's film.rating
// (an enum) cast to VARCHAR(10) was refused "(varchar(10) does not hold
// every value of unsupported)", naming no type the user wrote.
func TestACastFromATypeWithoutAKindNamesTheSourceType(t *testing.T) {
	src := &datastore.Table{Name: "film", Engine: datastore.Postgres, Columns: []datastore.Column{
		{Name: "rating", NativeType: "mpaa_rating", Type: datastore.Type{Kind: datastore.KindUnsupported}},
	}}
	m := mapping.Table{Source: "film", Target: "Movie", Columns: []mapping.Column{{Source: "rating", Target: "Rating", Type: "VARCHAR(10)"}}}
	problems := CastProblems("sak", src, m, datastore.MySQL)
	if len(problems) != 1 || !strings.Contains(problems[0], "the source type mpaa_rating") || strings.Contains(problems[0], "of unsupported") {
		t.Fatalf("problems = %q, want one naming mpaa_rating", problems)
	}
}
