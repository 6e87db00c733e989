package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/gateway/gatewaytest"
	"github.com/godwit/godwit/migration"
)

// storeService is a stand-in for legacy's or new's service: each POST
// /items?id=N inserts the kitchen row N into its own database and answers
// 201 only once the row is committed, so a 2xx is an acknowledged write.
// It looks its table up at each write: new's is created by the migration.
func storeService(t *testing.T, s *datastore.Store) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		if req.Method != http.MethodPost {
			_, _ = io.WriteString(w, "ok")
			return
		}
		var id int
		if _, err := fmt.Sscan(req.URL.Query().Get("id"), &id); err != nil {
			http.Error(w, "id: "+err.Error(), http.StatusBadRequest)
			return
		}
		tbl, err := s.Introspect(req.Context(), "kitchen")
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		if err := s.WriteBatch(req.Context(), tbl, [][]any{dbtest.KitchenRow(id)}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// gatewayWriter sends writes through the gateway, one at a time per
// client, each a new row, and remembers the ones acknowledged and which
// side answered them.
type gatewayWriter struct {
	url     string
	next    atomic.Int64
	mu      sync.Mutex
	acked   map[int64]string
	refused atomic.Int64
	stop    chan struct{}
	wg      sync.WaitGroup
}

func startGatewayWriter(t *testing.T, url string, clients int) *gatewayWriter {
	t.Helper()
	w := &gatewayWriter{url: url, acked: map[int64]string{}, stop: make(chan struct{})}
	w.next.Store(500000)
	for c := 0; c < clients; c++ {
		w.wg.Add(1)
		go w.run(c)
	}
	t.Cleanup(w.halt)
	return w
}

func (w *gatewayWriter) run(c int) {
	defer w.wg.Done()
	hc := &http.Client{Timeout: 10 * time.Second}
	for {
		select {
		case <-w.stop:
			return
		case <-time.After(5 * time.Millisecond):
		}
		id := w.next.Add(1)
		req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/items?id=%d", w.url, id), nil)
		req.Header.Set("X-User-ID", fmt.Sprintf("client-%d", c))
		resp, err := hc.Do(req)
		if err != nil {
			w.refused.Add(1)
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			w.refused.Add(1) // held past the gateway's maxWait: not acknowledged
			continue
		}
		w.mu.Lock()
		w.acked[id] = resp.Header.Get("X-Godwit-Side")
		w.mu.Unlock()
	}
}

func (w *gatewayWriter) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	w.wg.Wait()
}

// bySide counts the acknowledged writes each side answered.
func (w *gatewayWriter) bySide() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := map[string]int{}
	for _, side := range w.acked {
		n[side]++
	}
	return n
}

// TestCutOverUnderWriteLoadLosesNoAcknowledgedWrite moves a route whose
// clients write all along through the gateway: legacy's service writes
// legacy's database, new's writes new's. Reads move first, then the
// cut-over holds the writes, drains the capture, switches and releases;
// the clients never stop. Every write a client was told succeeded — by
// either side, before, during or after the switch — is in new at the end,
// and after the switch only new answers writes.
func TestCutOverUnderWriteLoadLosesNoAcknowledgedWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src, dst := dbtest.New(t, datastore.SQLite), dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, src.Store, dbtest.KitchenDDL(src.Store.Engine, "kitchen")...)
	k, err := src.Store.Introspect(ctx, "kitchen")
	require.NoError(t, err)
	require.NoError(t, src.Store.WriteBatch(ctx, k, dbtest.KitchenRows(0, 2000)))
	legacySvc, newSvc := storeService(t, src.Store), storeService(t, dst.Store)
	gw := gatewaytest.Start(t, gatewaytest.Options{Legacy: legacySvc.URL, New: newSvc.URL})

	r := newDataRun(t, "it-cutover-load", src, dst, fmt.Sprintf(`  - phase: provision
    provision: {from: legacy, to: new, tables: [kitchen]}
  - phase: provision
    name: capture
    replicate: {from: legacy, to: new, tables: [kitchen], mode: setup}
  - phase: copy
    copy: {from: legacy, to: new, tables: [kitchen], batchRows: 200}
  - phase: copy
    name: replicate
    replicate: {from: legacy, to: new, tables: [kitchen], maxLag: 2s, holdFor: 1s}
  - phase: shift-traffic
    name: reads
    traffic: {gateway: {admin: %q}, route: users, move: reads, writeConsistency: pinned, stores: {legacy: legacy, new: new}, steps: [{setWeight: 100}]}
  - phase: shift-traffic
    name: writes
    approval: {gate: cut-over}
    cutover: {gateway: {admin: %q}, route: users, from: legacy, to: new, tables: [kitchen], timeout: 20s}
  - phase: decommission
    name: stop-replication
    approval: {gate: decommission}
    replicate: {from: legacy, to: new, tables: [kitchen], mode: stop}
`, gw.AdminURL, gw.AdminURL))
	w := startGatewayWriter(t, gw.TrafficURL, 3)
	r.start()
	r.waitFor("the cut-over gate", waitingAt("cut-over"))
	before := w.bySide()
	require.Greater(t, before["legacy"], 20, "writes acknowledged by legacy before the switch: %v", before)
	require.Zero(t, before["new"], "writes reached new before the write switch: %v", before)
	out, err := godwit(t, "approve", r.name, "--gate", "cut-over")
	require.NoError(t, err, out)

	rep := r.waitFor("the decommission gate", waitingAt("decommission"))
	require.Contains(t, rep.Phases[5].Summary, "route users cut over to new")
	// The switch itself drained the capture: every write legacy
	// acknowledged is on new already, before the stop phase drains again.
	require.Empty(t, w.missingOn(t, dst.Store, "legacy"), "writes acknowledged by legacy not on new right after the switch")
	// Let new's side take writes for a while, then finish the migration.
	deadline := time.Now().Add(30 * time.Second)
	for w.bySide()["new"] < 20 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	out, err = godwit(t, "approve", r.name, "--gate", "decommission")
	require.NoError(t, err, out)
	final, err := r.result()
	require.NoError(t, err, "%+v", final)
	require.Equal(t, migration.StatusCompleted, final.Status)
	w.halt()

	sides := w.bySide()
	t.Logf("acknowledged writes by side: %v; not acknowledged (held past maxWait, refused): %d; %s",
		sides, w.refused.Load(), final.Phases[5].Summary)
	require.Greater(t, sides["new"], 20, "writes acknowledged by new after the switch: %v", sides)
	require.Empty(t, w.missingOn(t, dst.Store, ""), "acknowledged writes missing on new")
}

// missingOn lists the writes acknowledged by side ("" for either) that s's
// kitchen table does not hold.
func (w *gatewayWriter) missingOn(t *testing.T, s *datastore.Store, side string) []int64 {
	t.Helper()
	tbl, rows := dbtest.ReadAll(t, s, "kitchen")
	idCol := -1
	for i, c := range tbl.Columns {
		if c.Name == "id" {
			idCol = i
		}
	}
	require.GreaterOrEqual(t, idCol, 0)
	on := map[int64]bool{}
	for _, row := range rows {
		on[row[idCol].(int64)] = true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var missing []int64
	for id, by := range w.acked {
		if (side == "" || by == side) && !on[id] {
			missing = append(missing, id)
		}
	}
	return missing
}
