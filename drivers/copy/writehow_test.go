package copy

import (
	"testing"

	"github.com/godwit/godwit/datastore"
)

// The summary says how rows were written as the store writes them: SQLite
// runs 32 rows a prepared INSERT (datastore's writePrepared), no longer
// one row each.
func TestWriteHowSaysWhatTheStoreDoes(t *testing.T) {
	for _, c := range []struct {
		p    datastore.WritePath
		e    datastore.Engine
		want string
	}{
		{datastore.PathInsert, datastore.SQLite, "prepared multi-row INSERTs"},
		{datastore.PathInsert, datastore.MySQL, "multi-row INSERT"},
		{datastore.PathCopy, datastore.Postgres, "COPY"},
	} {
		if got := writeHow(c.p, c.e); got != c.want {
			t.Errorf("writeHow(%v, %v) = %q, want %q", c.p, c.e, got, c.want)
		}
	}
}
