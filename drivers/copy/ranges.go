package copy

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-hclog"

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
	case s.SplitRows == 0 && s.SplitStreams != 0:
		c.Errorf("splitStreams", "applies to key ranges: set splitRows too")
	case s.SplitRows == 0:
	case s.SplitRows < MinSplitRows:
		c.Errorf("splitRows", "must be at least %d rows per key range (or left out: tables are not split), not %d", MinSplitRows, s.SplitRows)
	case s.BatchRows > 0 && s.SplitRows < int64(s.BatchRows):
		c.Errorf("splitRows", "is %d rows per key range, less than one batch (batchRows: %d): make it several batches", s.SplitRows, s.BatchRows)
	case s.SplitStreams < 0 || s.SplitStreams > MaxFanOut:
		c.Errorf("splitStreams", "must be between 1 and %d (key ranges of a table planned at most), or left out to let the worker choose, not %d", MaxFanOut, s.SplitStreams)
	case s.Units == 0 && s.Concurrency <= 1:
		c.Errorf("splitRows", "needs concurrency above 1 or fanOut: the key ranges of a table are copied side by side, and with concurrency 1 they would run one after another")
	}
}

// rangeUnits lists a fanned-out copy's units: each table of more than
// splitRows rows is split into key ranges (datacopy.PlanRangesSized: as
// many as z finds worth running at once, each at least splitRows rows),
// one unit per range ("orders [1000, 2000)"); other tables are one unit
// each.
func rangeUnits(ctx context.Context, from *datastore.Store, tables []string, splitRows int64, z *datacopy.Sizing, fullCopy []string, log hclog.Logger) ([]string, error) {
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
		plan, err := datacopy.PlanRangesSized(ctx, from, t, splitRows, z)
		if err != nil {
			return nil, err
		}
		if log != nil && plan.Rows > splitRows {
			log.Info("planned key ranges", "table", name, "rows", plan.Rows, "ranges", len(plan.Ranges), "because", plan.Reason)
		}
		if len(plan.Ranges) == 0 {
			units = append(units, name)
			continue
		}
		for i := range plan.Ranges {
			units = append(units, datacopy.Unit(name, &plan.Ranges[i]))
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
