package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/drivers/stores"
	"github.com/godwit/godwit/migration"
	"github.com/godwit/godwit/plan"
)

// sampleRows is how many rows of each table `plan --measure` reads.
const sampleRows = 20000

// tablesLister is a copy-like driver section: the store it reads and its
// tables (the copy and reconcile sections have both).
type tablesLister interface {
	SourceTables() (store string, tables []string)
}

// measure samples the source store of the spec's first copy phase: the
// engine's row estimates give the volume, a keyset read of a sample of
// each table gives the rate. It only reads; the DSN comes from this
// machine's environment or files, as the worker reads it.
func measure(ctx context.Context, spec *config.Spec) (*plan.Measurement, error) {
	var storeName string
	var patterns []string
	for _, p := range spec.Phases {
		if tl, ok := p.Driver.(tablesLister); ok && p.Phase == "copy" {
			storeName, patterns = tl.SourceTables()
			break
		}
	}
	if storeName == "" {
		return nil, fmt.Errorf("--measure needs a copy phase with a copy: section (its from store is sampled)")
	}
	if _, ok := spec.Stores[storeName]; !ok {
		return nil, fmt.Errorf("--measure: store %q is not in the spec's stores", storeName)
	}
	s, err := stores.Open(ctx, spec.Stores, storeName)
	if cause := stores.UnreadableDSN(err); cause != nil {
		return nil, fmt.Errorf("--measure: store %s: cannot read its DSN here: %w", storeName, cause)
	}
	if err != nil {
		return nil, fmt.Errorf("--measure: %w", err)
	}
	defer s.Close()
	tables, err := s.ResolveTables(ctx, patterns)
	if err != nil {
		return nil, fmt.Errorf("--measure: %w", err)
	}
	var rows, sampled, bytes int64
	var took time.Duration
	for _, name := range tables {
		n, err := s.EstimateCount(ctx, name)
		if err == nil && n <= 0 {
			// No statistics yet (SQLite, a fresh table): count exactly.
			n, err = s.Count(ctx, name)
		}
		if err != nil {
			return nil, fmt.Errorf("--measure: count %s: %w", name, err)
		}
		t, err := s.Introspect(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("--measure: %w", err)
		}
		start := time.Now()
		batch, err := s.ReadBatch(ctx, t, nil, sampleRows, nil)
		if err != nil {
			return nil, fmt.Errorf("--measure: read %s: %w", name, err)
		}
		took += time.Since(start)
		for _, r := range batch {
			bytes += rowBytes(r)
		}
		rows += n
		sampled += int64(len(batch))
	}
	if sampled == 0 || took <= 0 {
		return nil, fmt.Errorf("--measure: the source tables are empty: nothing to measure")
	}
	avg := float64(bytes) / float64(sampled)
	m := &plan.Measurement{
		VolumeMB:        float64(rows) * avg / 1e6,
		RateMBPerSecond: float64(bytes) / 1e6 / took.Seconds(),
		Rows:            rows,
	}
	m.Basis = fmt.Sprintf("measured on %s: %d rows estimated in %s, %.0f bytes a row, read at %.0f rows/s over a %d-row sample (a read rate: the copy is slower)",
		storeName, rows, migration.Count(len(tables), "table"), avg, float64(sampled)/took.Seconds(), sampled)
	return m, nil
}

// rowBytes approximates a row's size from its values.
func rowBytes(r []any) int64 {
	var n int64
	for _, v := range r {
		switch x := v.(type) {
		case nil:
		case string:
			n += int64(len(x))
		case []byte:
			n += int64(len(x))
		default:
			n += 8
		}
	}
	return n
}
