package integration

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/migration"
)

// seedShop gives a PostgreSQL source customers, orders and order_lines,
// each a child of the one before by a foreign key.
func seedShop(t *testing.T, src dbtest.DB) {
	t.Helper()
	dbtest.Exec(t, src.Store,
		"CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL)",
		"CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers (id))",
		"CREATE TABLE order_lines (order_id INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE, n INTEGER NOT NULL, qty INTEGER NOT NULL, PRIMARY KEY (order_id, n))",
		"INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 200) g",
		"INSERT INTO orders SELECT g, 1 + g % 200 FROM generate_series(1, 2000) g",
		"INSERT INTO order_lines SELECT 1 + g % 2000, g, g % 7 FROM generate_series(1, 6000) g")
}

// shopPhases provisions the shop's tables and copies them fanned out, two
// tables at once.
const shopPhases = `  - phase: provision
    provision: {from: legacy, to: new, tables: [customers, orders, order_lines]}
  - phase: copy
    copy: {from: legacy, to: new, tables: [customers, orders, order_lines], fanOut: 2}
`

// shopKeys is the copy's summary of the shop's keys, parents first.
const shopKeys = "; 2 foreign keys carried (orders.orders_customer_id_fkey, order_lines.order_lines_order_id_fkey)"

// targetForeignKeys lists the target's foreign keys as "table.name", on
// PostgreSQL only those validated (pg_constraint), on MySQL/MariaDB from
// information_schema.
func targetForeignKeys(t *testing.T, s *datastore.Store) []string {
	t.Helper()
	q := `SELECT conrelid::regclass::text || '.' || conname FROM pg_constraint WHERE contype = 'f' AND convalidated`
	if s.Engine == datastore.MySQL {
		q = `SELECT CONCAT(table_name, '.', constraint_name) FROM information_schema.referential_constraints WHERE constraint_schema = DATABASE()`
	}
	rows, err := s.DB.QueryContext(context.Background(), q)
	require.NoError(t, err)
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		require.NoError(t, rows.Scan(&k))
		keys = append(keys, k)
	}
	require.NoError(t, rows.Err())
	sort.Strings(keys)
	return keys
}

// TestAFannedOutCopyLeavesTheForeignKeysOnTheTarget: a copy with fanOut
// runs each table as its own activity and, once all have finished,
// creates the foreign keys as a plain copy does after its load: on
// PostgreSQL validated, on MariaDB declared, and its summary says so.
func TestAFannedOutCopyLeavesTheForeignKeysOnTheTarget(t *testing.T) {
	t.Parallel()
	for _, target := range []datastore.Engine{datastore.Postgres, datastore.MySQL} {
		t.Run(string(target), func(t *testing.T) {
			t.Parallel()
			src, dst := dbtest.New(t, datastore.Postgres), dbtest.New(t, target)
			seedShop(t, src)
			r := newDataRun(t, "it-fanout-foreign-keys-"+string(target), src, dst, shopPhases)
			r.start()
			final, err := r.result()
			require.NoError(t, err, "%+v", final)
			require.Equal(t, migration.StatusCompleted, final.Status)
			require.Equal(t, "created 3 tables in new: customers, order_lines, orders; 2 foreign keys left for after the copy", final.Phases[0].Summary)
			cp := final.Phases[1]
			require.Equal(t, int64(8200), cp.Records)
			require.Equal(t, "3 of 3 units done, 0 running", cp.Step)
			require.True(t, strings.HasPrefix(cp.Summary, "3 units: customers: copied 200 rows"), cp.Summary)
			require.True(t, strings.HasSuffix(cp.Summary, shopKeys), cp.Summary)
			require.Equal(t, []string{"order_lines.order_lines_order_id_fkey", "orders.orders_customer_id_fkey"}, targetForeignKeys(t, dst.Store))
			_, err = dst.Store.DB.ExecContext(context.Background(), "INSERT INTO orders (id, customer_id) VALUES (9999, 4242)")
			require.Error(t, err, "the target refuses an order of no customer")
			for _, table := range []string{"customers", "orders", "order_lines"} {
				dbtest.AssertSameRows(t, src.Store, dst.Store, table)
			}
			out, err := godwit(t, "output", r.name, "copy")
			require.NoError(t, err, out)
			require.Equal(t, 3, strings.Count(out, "== copy run, attempt"), "one activity per table:\n%s", out)
			require.Equal(t, 1, strings.Count(out, "== copy run after its units, attempt 1,"), "then one for the keys:\n%s", out)
			if target == datastore.Postgres {
				recordHistory(t, r.name)
			}
		})
	}
}

// TestARetriedFinishOfAFannedOutCopyIsIdempotent: the worker that creates
// a fanned-out copy's foreign keys dies (SIGKILL) before it reports them;
// the retry, on another worker, finds them there, counts them as carried
// and the phase completes with the same summary, each key once.
func TestARetriedFinishOfAFannedOutCopyIsIdempotent(t *testing.T) {
	t.Parallel()
	queue := "it-fanout-keys-kill"
	killer := startWorkerAt(t, env.address, queue, "GODWIT_FAULT_KILL_AFTER_FOREIGN_KEYS=1")
	src, dst := dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.Postgres)
	seedShop(t, src)
	r := newDataRun(t, "it-fanout-keys-kill", src, dst, strings.Replace(shopPhases, "  - phase: copy\n",
		"  - phase: copy\n    heartbeatTimeout: 2s\n    retry: {maxAttempts: 5, initialInterval: 200ms}\n", 1))
	var out, errOut bytes.Buffer
	res, err := godwitOn(t, queue, &out, &errOut, "start", "-f", r.spec)
	require.NoError(t, err, res)
	const killed = "fault injection: killing this worker between the foreign keys and the activity's result"
	deadline := time.Now().Add(2 * time.Minute)
	for !killer.logged(killed, nil) {
		require.True(t, time.Now().Before(deadline), "the worker never reached the foreign keys:\n%s", killer.logs.String())
		time.Sleep(200 * time.Millisecond)
	}
	require.Equal(t, []string{"order_lines.order_lines_order_id_fkey", "orders.orders_customer_id_fkey"}, targetForeignKeys(t, dst.Store),
		"the killed attempt had created the keys")
	startWorkerAt(t, env.address, queue)
	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	cp := final.Phases[1]
	require.Equal(t, 2, cp.Attempts, "the keys' step ran twice")
	require.True(t, strings.HasSuffix(cp.Summary, shopKeys), cp.Summary)
	require.Equal(t, []string{"order_lines.order_lines_order_id_fkey", "orders.orders_customer_id_fkey"}, targetForeignKeys(t, dst.Store), "each key once")
	var issues []string
	for _, is := range final.Issues {
		issues = append(issues, is.Message)
	}
	require.Contains(t, issues, fmt.Sprintf("phase copy succeeded on attempt 2 of %d", 5))
}
