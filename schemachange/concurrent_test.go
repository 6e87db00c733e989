package schemachange_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/schemachange"
)

// A backfill shares its table with the application's writers. On SQLite a
// transaction that reads first and writes later fails at once with
// SQLITE_BUSY when another connection has written meanwhile (its busy
// timeout cannot help: waiting would deadlock), so a batch must take the
// write lock before it reads.
func TestBackfillBesideAWriterOnTheSameSQLiteFile(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t, datastore.SQLite)
	st := db.Store
	dbtest.Exec(t, st, "CREATE TABLE users (id INTEGER NOT NULL PRIMARY KEY, email VARCHAR(200), name VARCHAR(50), email_address VARCHAR(200))")
	for i := 1; i <= 400; i++ {
		dbtest.Exec(t, st, fmt.Sprintf("INSERT INTO users (id, email, name) VALUES (%d, 'u%d@example.com', 'n')", i, i))
	}
	writer, err := datastore.Open(ctx, datastore.SQLite, db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writes atomic.Int64
	var writeErr error
	started := make(chan struct{}) // closed once the writer has written (or failed)
	wg.Add(1)
	go func() {
		defer wg.Done()
		var once sync.Once
		defer once.Do(func() { close(started) })
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			// Each write is its own short transaction, as an application's are.
			if _, err := writer.DB.ExecContext(ctx, "UPDATE users SET name = ? WHERE id = ?", fmt.Sprint("w", i), i%400+1); err != nil {
				writeErr = err
				return
			}
			writes.Add(1)
			once.Do(func() { close(started) })
		}
	}()
	<-started
	b := schemachange.Backfill{Name: "test/concurrent", Table: "users", BatchRows: 5, Retries: 1,
		Set: map[string]string{"email_address": "email"}}
	p, err := schemachange.RunBackfill(ctx, st, b, hclog.NewNullLogger(), nil)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("backfill beside a writer (%d writes meanwhile): %v", writes.Load(), err)
	}
	if writeErr != nil {
		t.Fatalf("the writer failed: %v", writeErr)
	}
	var left int
	if err := st.DB.QueryRow("SELECT COUNT(*) FROM users WHERE email_address IS NULL OR email_address <> email").Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 || p.Checkpoint.RowsDone != 400 {
		t.Fatalf("%d rows not backfilled, %d walked", left, p.Checkpoint.RowsDone)
	}
	t.Logf("%d batches beside %d writes", p.Batches, writes.Load())
}
