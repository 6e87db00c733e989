package main

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/godwit/godwit/reconcile"
)

// The cross-engine reference: what a careful person does without Godwit to
// compare a PostgreSQL table with its MariaDB copy. Each engine renders
// every row as the same canonical text (columns joined with '|', NULL as
// \N, the decimal at its scale, the timestamp to the microsecond, the
// boolean as 1/0; MariaDB renders a DATETIME(6) so by itself, PostgreSQL
// needs to_char) and streams key, md5(text) ordered by key; the two
// streams are merged here: a key on one side only is missing or extra, a
// key whose digests differ is mismatched.
const (
	pgCanonRows = `SELECT id, md5(concat_ws('|', id, account, status, coalesce(amount::text, '\N'), coalesce(note, '\N'),
		coalesce(to_char(created_at, 'YYYY-MM-DD HH24:MI:SS.US'), '\N'), coalesce(paid::int::text, '\N')))
		FROM events ORDER BY id`
	myCanonRows = `SELECT id, MD5(CONCAT_WS('|', id, account, status, COALESCE(amount, '\\N'), COALESCE(note, '\\N'),
		COALESCE(created_at, '\\N'), COALESCE(paid, '\\N')))
		FROM events ORDER BY id`
)

// keyDigest is one streamed row: its key and the MD5 of its canonical text.
type keyDigest struct {
	id  int64
	sum [16]byte
}

// streamDigests runs q and sends its rows in batches, closing out at the
// end; the error, if any, is sent on errc.
func streamDigests(ctx context.Context, db *sql.DB, q string, out chan<- []keyDigest, errc chan<- error) {
	defer close(out)
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		errc <- err
		return
	}
	defer rows.Close()
	batch := make([]keyDigest, 0, 1024)
	var hexSum sql.RawBytes
	for rows.Next() {
		var kd keyDigest
		if err := rows.Scan(&kd.id, &hexSum); err != nil {
			errc <- err
			return
		}
		if _, err := hex.Decode(kd.sum[:], hexSum); err != nil {
			errc <- fmt.Errorf("digest of key %d: %w", kd.id, err)
			return
		}
		batch = append(batch, kd)
		if len(batch) == cap(batch) {
			select {
			case out <- batch:
			case <-ctx.Done():
				return
			}
			batch = make([]keyDigest, 0, 1024)
		}
	}
	if err := rows.Err(); err != nil {
		errc <- err
		return
	}
	if len(batch) > 0 {
		out <- batch
	}
	errc <- nil
}

// cursor reads one side's stream a row at a time.
type cursor struct {
	ch    <-chan []keyDigest
	batch []keyDigest
	i     int
}

func (c *cursor) next() (keyDigest, bool) {
	for c.i >= len(c.batch) {
		b, ok := <-c.ch
		if !ok {
			return keyDigest{}, false
		}
		c.batch, c.i = b, 0
	}
	c.i++
	return c.batch[c.i-1], true
}

// crossReference streams both tables at once and merges them; it returns
// the keys of each class (sorted as text, like godwit's) and its time.
func crossReference(ctx context.Context, pg, my *sql.DB) (map[reconcile.Class][]string, float64, error) {
	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a, b := make(chan []keyDigest, 4), make(chan []keyDigest, 4)
	errc := make(chan error, 2)
	go streamDigests(ctx, pg, pgCanonRows, a, errc)
	go streamDigests(ctx, my, myCanonRows, b, errc)
	found := map[reconcile.Class][]string{}
	add := func(c reconcile.Class, id int64) { found[c] = append(found[c], strconv.FormatInt(id, 10)) }
	ca, cb := &cursor{ch: a}, &cursor{ch: b}
	x, okA := ca.next()
	y, okB := cb.next()
	for okA || okB {
		switch {
		case okA && (!okB || x.id < y.id):
			add(reconcile.MissingInTarget, x.id)
			x, okA = ca.next()
		case okB && (!okA || y.id < x.id):
			add(reconcile.ExtraInTarget, y.id)
			y, okB = cb.next()
		default:
			if x.sum != y.sum {
				add(reconcile.Mismatched, x.id)
			}
			x, okA = ca.next()
			y, okB = cb.next()
		}
	}
	for range 2 {
		if err := <-errc; err != nil {
			return nil, 0, fmt.Errorf("cross-engine reference: %w", err)
		}
	}
	took := time.Since(start).Seconds()
	for _, ks := range found {
		sort.Strings(ks)
	}
	return found, took, nil
}

// sameKeys reports whether got holds exactly want's keys in every class.
func sameKeys(got, want map[reconcile.Class][]string) bool {
	for _, c := range []reconcile.Class{reconcile.MissingInTarget, reconcile.ExtraInTarget, reconcile.Mismatched} {
		if fmt.Sprint(got[c]) != fmt.Sprint(want[c]) {
			return false
		}
	}
	return true
}

func counts(k map[reconcile.Class][]string) string {
	return fmt.Sprintf("%d missing, %d extra, %d mismatched",
		len(k[reconcile.MissingInTarget]), len(k[reconcile.ExtraInTarget]), len(k[reconcile.Mismatched]))
}
