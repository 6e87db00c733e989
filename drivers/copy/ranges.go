package copy

import (
	"context"
	"fmt"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
)

// MinSplitRows is the smallest splitRows: ranges smaller than this cost
// more in planning and units than they gain in parallelism.
const MinSplitRows = 10_000

// checkSplit checks splitRows: a range is at least a few batches, and
// splitting is only worth it when ranges run side by side.
func checkSplit(c *config.CheckContext, s *Spec) {
	switch {
	case s.SplitRows == 0:
	case s.SplitRows < MinSplitRows:
		c.Errorf("splitRows", "must be at least %d rows per key range (or left out: tables are not split), not %d", MinSplitRows, s.SplitRows)
	case s.BatchRows > 0 && s.SplitRows < int64(s.BatchRows):
		c.Errorf("splitRows", "is %d rows per key range, less than one batch (batchRows: %d): make it several batches", s.SplitRows, s.BatchRows)
	case s.Units == 0 && s.Concurrency <= 1:
		c.Errorf("splitRows", "needs concurrency above 1 or fanOut: the key ranges of a table are copied side by side, and with concurrency 1 they would run one after another")
	}
}

// rangeUnits lists a fanned-out copy's units: each table of more than
// splitRows rows is split into key ranges (datacopy.PlanRanges), one unit
// per range ("orders [1000, 2000)"); smaller tables are one unit each.
func rangeUnits(ctx context.Context, from *datastore.Store, tables []string, splitRows int64, fullCopy []string) ([]string, error) {
	var units []string
	for _, name := range tables {
		t, err := from.Introspect(ctx, name)
		if err != nil {
			return nil, err
		}
		if err := t.CheckCopyable(); err != nil {
			if !matchesAny(name, fullCopy) {
				return nil, fmt.Errorf("copy %s: %w", name, err)
			}
			units = append(units, name) // no key, no ranges: one full copy
			continue
		}
		ranges, _, err := datacopy.PlanRanges(ctx, from, t, splitRows)
		if err != nil {
			return nil, err
		}
		if len(ranges) == 0 {
			units = append(units, name)
			continue
		}
		for i := range ranges {
			units = append(units, datacopy.Unit(name, &ranges[i]))
		}
	}
	return units, nil
}

// rangesCopied counts the key ranges a run copied (0: no table was split).
func rangesCopied(res datacopy.Result) int {
	n := 0
	for _, t := range res.Tables {
		n += t.Ranges
	}
	return n
}
