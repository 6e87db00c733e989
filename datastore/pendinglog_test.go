package datastore_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// A copy with no foreign key left pending, on a target that has no
// record table, leaves nothing to drop: it tried to lock the missing
// table, which failed harmlessly but wrote "ERROR: relation
// godwit_pending_foreign_keys does not exist" into the target's server
// log at the end of every copy (seen in a benchmark's log). The failed
// statement rolled its transaction back, which PostgreSQL counts.
func TestRecordingNoPendingKeyWhereNoneWasRecordedFailsNoStatement(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t, datastore.Postgres)
	var name string
	if err := db.Store.DB.QueryRowContext(ctx, "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("pgx", db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	admin.SetMaxOpenConns(1)
	rollbacks := func() int64 {
		var n int64
		if _, err := admin.ExecContext(ctx, "SELECT pg_stat_clear_snapshot()"); err != nil {
			t.Fatal(err)
		}
		if err := admin.QueryRowContext(ctx, "SELECT xact_rollback FROM pg_stat_database WHERE datname = $1", name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := rollbacks()
	s, err := datastore.Open(ctx, datastore.Postgres, db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	if err := datastore.RecordPendingForeignKeys(ctx, s, "run-1", []string{"orders"}, nil); err != nil {
		t.Fatal(err)
	}
	s.Close() // its sessions end and report their statistics
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if after := rollbacks(); after != before {
			t.Fatalf("%d transactions rolled back on the target (a statement failed); want none", after-before)
		}
	}
	var exists bool
	if err := admin.QueryRowContext(ctx, "SELECT to_regclass('godwit_pending_foreign_keys') IS NOT NULL").Scan(&exists); err != nil || exists {
		t.Fatalf("record table exists %v (%v): nothing was pending", exists, err)
	}
}
