package datacopy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
)

// Example provisions and copies the orders_* tables of one SQLite database
// into another, as a provision phase and a copy phase would.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "datacopy-example")
	defer os.RemoveAll(dir)
	legacy, _ := datastore.Open(ctx, datastore.SQLite, filepath.Join(dir, "legacy.db"))
	target, _ := datastore.Open(ctx, datastore.SQLite, filepath.Join(dir, "new.db"))
	defer legacy.Close()
	defer target.Close()
	legacy.DB.Exec(`CREATE TABLE orders_2024 (id INTEGER PRIMARY KEY, total DECIMAL_TEXT(10,2), updated_at TIMESTAMP)`)
	legacy.DB.Exec(`INSERT INTO orders_2024 VALUES (1, '9.90', '2024-03-01 10:00:00'), (2, '120.00', '2024-03-02 11:00:00')`)

	// provision: introspect the source, create on the target, record what was created.
	names, _ := legacy.ResolveTables(ctx, []string{"orders_*"})
	var tables []*datastore.Table
	for _, n := range names {
		t, _ := legacy.Introspect(ctx, n)
		tables = append(tables, t)
	}
	prov, err := datastore.Provision(ctx, target, tables, datastore.ProvisionOptions{Owner: "orders-move", DeferIndexes: true})
	fmt.Println("created:", prov.Created, err)

	// copy: resume from the checkpoint the driver saved last (none here).
	var saved []byte
	res, err := datacopy.Run(ctx, datacopy.Options{
		From: legacy, To: target, Tables: []string{"orders_*"},
		BatchRows: 1000, CatchUp: &datacopy.CatchUp{Column: "updated_at"},
	}, datacopy.Checkpoint{}, func(p datacopy.Progress) {
		saved, _ = json.Marshal(p.Checkpoint) // a driver heartbeats this
	})
	fmt.Println("rows:", res.Tables[0].RowsDone, "of", res.Tables[0].Total, err)
	fmt.Println("checkpoint:", string(saved))

	// compensation of provision: drops only what it created.
	dropped, err := datastore.DropProvisioned(ctx, target, "orders-move")
	fmt.Println("dropped:", dropped, err)
	// Output:
	// created: [orders_2024] <nil>
	// rows: 2 of 2 <nil>
	// checkpoint: {"tables":{"orders_2024":{"stage":"done","rowsDone":2,"total":2,"watermark":"2024-03-02T11:00:00Z","catchUpRows":1,"catchUpPasses":1}}}
	// dropped: [orders_2024] <nil>
}
