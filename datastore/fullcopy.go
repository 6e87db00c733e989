package datastore

import (
	"context"
	"fmt"
)

// FullCopy copies every row of src (a table on from that has no primary
// key) into dst (the target's view of it, as Project returns) in ONE
// target transaction that first deletes the target's rows: with no key
// there is no way to resume after a row or to upsert one, so an attempt
// either commits the whole table or nothing, and a retry starts again
// from zero without doubling a row. onBatch is called after each batch of
// batchRows rows has been sent (not committed: for progress only); an
// error from it stops the copy and rolls it back. It returns the rows
// copied.
func (s *Store) FullCopy(ctx context.Context, from *Store, src, dst *Table, batchRows int, onBatch func(rows int64) error) (int64, error) {
	if len(src.Columns) != len(dst.Columns) || len(src.Columns) == 0 {
		return 0, fmt.Errorf("full copy %s: %w: %d source columns, %d target", src.Name, ErrShapeMismatch, len(src.Columns), len(dst.Columns))
	}
	if batchRows <= 0 {
		batchRows = 1000
	}
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("full copy %s: %w", src.Name, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "DELETE FROM "+s.d.quote(dst.Name)); err != nil {
		return 0, fmt.Errorf("full copy %s: empty the target first: %w", src.Name, err)
	}
	q := "SELECT " + from.selectList(src) + " FROM " + from.d.quote(src.Name)
	if src.Where != "" {
		q += " WHERE " + src.Where
	}
	rows, err := from.DB.QueryContext(ctx, q)
	if err != nil {
		return 0, fmt.Errorf("full copy %s: read: %w", src.Name, err)
	}
	defer rows.Close()
	per := min(s.d.maxParams()/len(dst.Columns), maxRowsPerStatement, batchRows)
	var batch [][]any
	var n int64
	flush := func() error {
		for start := 0; start < len(batch); start += per {
			q, args, err := s.plainInsert(dst, batch[start:min(start+per, len(batch))])
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return err
			}
		}
		k := int64(len(batch))
		n += k
		batch = batch[:0]
		if onBatch != nil {
			return onBatch(k)
		}
		return nil
	}
	for rows.Next() {
		raw, err := ScanValues(rows, len(src.Columns))
		if err != nil {
			return 0, fmt.Errorf("full copy %s: read: %w", src.Name, err)
		}
		for i, c := range src.Columns {
			if raw[i], err = Canonical(c.Type, raw[i]); err != nil {
				return 0, fmt.Errorf("full copy %s column %s: %w", src.Name, c.Name, err)
			}
		}
		batch = append(batch, raw)
		if len(batch) == batchRows {
			if err := flush(); err != nil {
				return 0, fmt.Errorf("full copy %s: %w", src.Name, err)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("full copy %s: read: %w", src.Name, err)
	}
	if len(batch) > 0 {
		if err := flush(); err != nil {
			return 0, fmt.Errorf("full copy %s: %w", src.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("full copy %s: commit: %w", src.Name, err)
	}
	return n, nil
}
