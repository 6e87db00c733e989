package datacopy

import (
	"encoding/json"
	"fmt"

	"github.com/godwit/godwit/datastore"
)

// Stage is where a table's copy stands.
type Stage string

// The stages a table goes through, in order.
const (
	StageBackfill Stage = "backfill" // reading the table in key order
	StageCatchUp  Stage = "catchup"  // re-reading rows changed since the backfill started
	StageDone     Stage = "done"
)

// Checkpoint is a copy's resumable state: small, JSON-serialisable, and
// safe to persist after any progress callback. Each table's entry says what
// is already committed on the target; a run given it continues after
// LastKey, so a killed process loses nothing, and the batches it re-sends
// (committed but not yet checkpointed when it died) are upserts, so nothing
// is doubled.
type Checkpoint struct {
	Tables map[string]*TableCheckpoint `json:"tables,omitempty"`
}

// TableCheckpoint is one table's state, or one key range's: a table split
// into ranges has an entry per range, keyed by Unit(table, range), with
// Table and Range set.
type TableCheckpoint struct {
	// Table is the table of a key range's entry ("" for a whole table:
	// the entry's key is the table's name).
	Table string `json:"table,omitempty"`
	// Range is the entry's key range (nil: the whole table).
	Range *Range `json:"range,omitempty"`
	Stage Stage  `json:"stage"`
	// LastKey is the primary key of the last row committed on the target in
	// the current stage (EncodeKey form); empty: the stage has not started.
	LastKey []string `json:"lastKey,omitempty"`
	// RowsDone counts the rows committed by the backfill up to LastKey.
	RowsDone int64 `json:"rowsDone"`
	// Total is the exact row count of the source, taken when the table's
	// copy first started — or, while TotalEstimated, the planner's
	// estimate until that count (taken beside the copy) arrives.
	Total int64 `json:"total"`
	// TotalEstimated says Total is still the estimate: a large table is
	// counted beside its backfill, not before it (asyncCountRows).
	TotalEstimated bool `json:"totalEstimated,omitempty"`
	// Watermark is the catch-up column's greatest value when the backfill
	// started (EncodeValue form); empty when the table was empty.
	Watermark string `json:"watermark,omitempty"`
	// CatchUpRows counts the rows the catch-up passes re-copied.
	CatchUpRows int64 `json:"catchUpRows,omitempty"`
	// NextWatermark is the catch-up column's greatest value when the
	// current catch-up pass started: the next pass's Watermark.
	NextWatermark string `json:"nextWatermark,omitempty"`
	// CatchUpPasses counts the catch-up passes finished.
	CatchUpPasses int `json:"catchUpPasses,omitempty"`
	// FullCopy marks a table without a key, copied in one pass: until its
	// stage is done, RowsDone counts the rows sent in the current attempt,
	// which a resumed run sends again from zero.
	FullCopy bool `json:"fullCopy,omitempty"`
	// DeferredIndexes, while the backfill loads the table without them,
	// are its key, constraints and indexes (Options.DeferIndexes; the
	// target table's comment holds the same).
	DeferredIndexes *datastore.DeferredIndexes `json:"deferredIndexes,omitempty"`
	// IndexesAfterLoad counts the indexes built after the load.
	IndexesAfterLoad int `json:"indexesAfterLoad,omitempty"`
}

// Clone returns a deep copy, safe to keep while the copy goes on.
func (c Checkpoint) Clone() Checkpoint {
	out := Checkpoint{Tables: make(map[string]*TableCheckpoint, len(c.Tables))}
	for name, t := range c.Tables {
		cp := *t
		cp.LastKey = append([]string(nil), t.LastKey...)
		if t.Range != nil {
			rg := *t.Range
			cp.Range = &rg
		}
		out.Tables[name] = &cp
	}
	return out
}

// ParseCheckpoint decodes a checkpoint as Marshal wrote it; empty input is
// an empty checkpoint (a fresh copy).
func ParseCheckpoint(b []byte) (Checkpoint, error) {
	var c Checkpoint
	if len(b) == 0 {
		return c, nil
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("parse copy checkpoint: %w", err)
	}
	return c, nil
}

// tableOf is the table an entry belongs to.
func (t *TableCheckpoint) tableOf(key string) string {
	if t.Table != "" {
		return t.Table
	}
	return key
}
