package datastore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// A declared type the target does not take is found before anything is
// created (the music-store trial's add.LineTotal with type "money2" passed
// preflight and failed the provision phase), and a good one passes.
func TestDeclaredTypesAreCheckedOnTheTarget(t *testing.T) {
	ctx := context.Background()
	tbl := &datastore.Table{Name: "InvoiceItem", Columns: []datastore.Column{{Name: "Id"}, {Name: "LineTotal"}, {Name: "Note"}, {Name: "Kept"}}}
	for _, engine := range []datastore.Engine{datastore.Postgres, datastore.MySQL} {
		t.Run(string(engine), func(t *testing.T) {
			dst := dbtest.New(t, engine)
			good := map[string]string{"InvoiceItem.LineTotal": "decimal(12,2)", "InvoiceItem.Note": "varchar(40)"}
			if err := dst.Store.DeclaredTypes(ctx, tbl, good); err != nil {
				t.Fatalf("good types refused: %v", err)
			}
			bad := map[string]string{"InvoiceItem.LineTotal": "money2", "InvoiceItem.Note": "decimal(12,2", "InvoiceItem.Kept": "text"}
			err := dst.Store.DeclaredTypes(ctx, tbl, bad)
			if err == nil {
				t.Fatal("money2 and decimal(12,2 passed")
			}
			for _, want := range []string{`the target does not take the declared type: `, `column LineTotal: type "money2"`, `column Note: type "decimal(12,2"`} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "Kept") {
				t.Errorf("error %q names a good type", err)
			}
			if got := listTables(t, dst.Store); got != "" {
				t.Fatalf("the check left tables: %s", got)
			}
		})
	}
}
