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

// TestCastsOfMariaDBYearAndGeometry: a YEAR cast to the very type
// provision's refusal suggests as lossless (smallint) was refused as "may
// change values"; a GEOMETRY cast to text passed (every type "has a text
// form") and the copy then failed on its binary value — and lossy: true
// cannot make that work, so it is no way out.
func TestCastsOfMariaDBYearAndGeometry(t *testing.T) {
	src := &datastore.Table{Name: "film", Engine: datastore.MySQL, Columns: []datastore.Column{
		{Name: "release_year", NativeType: "year(4)", Type: datastore.Type{Kind: datastore.KindUnsupported}},
		{Name: "location", NativeType: "geometry", Type: datastore.Type{Kind: datastore.KindUnsupported}},
	}}
	for _, tc := range []struct {
		year, location string
		lossy          bool
		want           []string
	}{
		{"smallint", "bytea", false, nil},
		{"SMALLINT", "bytea", false, nil},
		{"smallint", "text", false, []string{`cast location to "text" cannot work: a geometry value is MySQL's binary stored form`, `cast it to "bytea"`}},
		{"smallint", "text", true, []string{`cast location to "text" cannot work`}},
		{"varchar(2)", "bytea", false, []string{`cast release_year to "varchar(2)" may change values (the source type year(4)`}},
	} {
		m := mapping.Table{Source: "film", Target: "Movie", Columns: []mapping.Column{
			{Source: "release_year", Target: "ReleaseYear", Type: tc.year, Lossy: tc.lossy},
			{Source: "location", Target: "Location", Type: tc.location, Lossy: tc.lossy}}}
		problems := CastProblems("sak", src, m, datastore.Postgres)
		if len(tc.want) == 0 && len(problems) != 0 || len(tc.want) > 0 && len(problems) != 1 {
			t.Errorf("%s, %s (lossy %v): problems %q, want %q", tc.year, tc.location, tc.lossy, problems, tc.want)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(problems[0], w) {
				t.Errorf("%s, %s: problem %q does not say %q", tc.year, tc.location, problems[0], w)
			}
		}
	}
}
