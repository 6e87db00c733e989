package cutover_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	copydriver "github.com/godwit/godwit/drivers/copy"
	"github.com/godwit/godwit/drivers/cutover"
	"github.com/godwit/godwit/drivers/provision"
	"github.com/godwit/godwit/drivers/replicate"
	"github.com/godwit/godwit/gateway/gatewaytest"
)

// A live copy sees a new payment but not its new rental, so the copy
// leaves payment's foreign key off; with no catchUp phase in between, the
// cut-over, whose capture is drained, adds it. A retried cut-over (its
// checkpoint says the weights moved) finds nothing left to add.
func TestCutOverAddsTheForeignKeyALiveCopyLeftOff(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) (dbtest.DB, dbtest.DB){
		"postgres to mariadb": func(t *testing.T) (dbtest.DB, dbtest.DB) {
			return dbtest.New(t, datastore.Postgres), dbtest.New(t, datastore.MySQL)
		},
		"mariadb to postgres": func(t *testing.T) (dbtest.DB, dbtest.DB) {
			return dbtest.New(t, datastore.MySQL), dbtest.New(t, datastore.Postgres)
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			src, dst := open(t)
			gw := gatewaytest.Start(t, gatewaytest.Options{Legacy: gatewaytest.NewUpstream(t, "legacy").URL, New: gatewaytest.NewUpstream(t, "new").URL, Route: "users"})
			dbtest.Exec(t, src.Store,
				"CREATE TABLE rental (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL)",
				"CREATE TABLE payment (id INTEGER PRIMARY KEY, rental_id INTEGER NOT NULL, amount INTEGER NOT NULL, CONSTRAINT payment_rental_fk FOREIGN KEY (rental_id) REFERENCES rental (id))")
			var rentals, payments []string
			for i := 1; i <= 25; i++ {
				rentals = append(rentals, fmt.Sprintf("(%d, 'r%d')", i, i))
			}
			for i := 1; i <= 200; i++ {
				payments = append(payments, fmt.Sprintf("(%d, %d, %d)", i, i%25+1, i))
			}
			dbtest.Exec(t, src.Store, "INSERT INTO rental (id, label) VALUES "+strings.Join(rentals, ", "),
				"INSERT INTO payment (id, rental_id, amount) VALUES "+strings.Join(payments, ", "))
			dir := t.TempDir()
			file := func(n, dsn string) string {
				p := filepath.Join(dir, n)
				require.NoError(t, os.WriteFile(p, []byte(dsn+"\n"), 0o600))
				return p
			}
			text := fmt.Sprintf(`name: fkcut-%d
stores:
  legacy: {engine: %s, dsn: {fromFile: %q}}
  new: {engine: %s, dsn: {fromFile: %q}}
phases:
  - {phase: provision, name: tables, provision: {from: legacy, to: new, tables: [rental, payment]}}
  - {phase: provision, name: capture, replicate: {from: legacy, to: new, tables: [rental, payment], mode: setup, method: triggers}}
  - {phase: copy, copy: {from: legacy, to: new, tables: [rental, payment], batchRows: 10, concurrency: 1}}
  - {phase: shift-traffic, name: switch-writes, cutover: {gateway: {admin: %q}, route: users, from: legacy, to: new, tables: [rental, payment], timeout: 20s}}
`, time.Now().UnixNano()%1e9, src.Store.Engine, file("legacy", src.DSN), dst.Store.Engine, file("new", dst.DSN), gw.AdminURL)
			spec, err := config.ParseSpec([]byte(text))
			require.NoError(t, err, text)
			in := func(i int) activities.PhaseInput {
				return activities.PhaseInput{Migration: spec.Name, Phase: spec.Phases[i]}
			}
			log := hclog.NewNullLogger()
			run := func(d interface {
				Do(context.Context, activities.Action, activities.PhaseInput, activities.Heartbeat, func(activities.Heartbeat)) (activities.PhaseResult, error)
			}, i int, resume activities.Heartbeat) activities.PhaseResult {
				res, err := d.Do(ctx, activities.ActionRun, in(i), resume, func(activities.Heartbeat) {})
				require.NoError(t, err, "phase %s", spec.Phases[i].Name)
				return res
			}
			run(provision.New(log), 0, activities.Heartbeat{})
			run(replicate.New(log), 1, activities.Heartbeat{})
			cp := copydriver.New(log)
			var once sync.Once
			cp.AfterCommit = func(table string) {
				if table == "payment" { // rental is copied, payment under way
					once.Do(func() {
						dbtest.Exec(t, src.Store, "INSERT INTO rental (id, label) VALUES (1000, 'late')",
							"INSERT INTO payment (id, rental_id, amount) VALUES (1000, 1000, 5)")
					})
				}
			}
			res := run(cp, 2, activities.Heartbeat{})
			require.Contains(t, res.Summary, "1 of them only because rows violate them now", res.Summary)

			d := cutover.New(log)
			res = run(d, 3, activities.Heartbeat{})
			assert.Contains(t, res.Summary, "route users cut over to new")
			assert.Contains(t, res.Summary, "1 foreign key the copy had left off (rows not yet caught up) added now: payment.")
			assert.Empty(t, res.Warnings)
			tbl, err := dst.Store.Introspect(ctx, "payment")
			require.NoError(t, err)
			require.Len(t, tbl.ForeignKeys, 1, "the target has payment's key after the cut-over")
			assert.Equal(t, "rental", tbl.ForeignKeys[0].RefTable)
			dbtest.AssertSameRows(t, src.Store, dst.Store, "rental")

			// A retry after the weights moved: nothing pending, nothing said.
			res = run(d, 3, activities.Heartbeat{Checkpoint: `{"switched":true}`})
			assert.NotContains(t, res.Summary, "foreign key")
		})
	}
}
