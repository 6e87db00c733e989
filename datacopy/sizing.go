package datacopy

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/godwit/godwit/datastore"
)

// Defaults of Sizing.
const (
	// DefaultMinRangeTime: a key range that one stream would copy in less
	// than this is not worth its own stream (its planning, count, probe,
	// activity and commit overheads would eat what it gains).
	DefaultMinRangeTime = 30 * time.Second
	// SampleRows is the rows MeasureRate reads to time the source.
	SampleRows = 10_000
	// CoresPerStream is the cores one concurrent range keeps busy: a
	// decoded copy decodes and encodes every row in the worker (about a
	// core), and where the databases share the worker's machine the
	// target's backend takes about a core and the source's a fraction of
	// one. Two cores therefore carry one stream: a second only makes the
	// first wait (measured: splitRows 1,000,000 with fanOut 4 took 51 s
	// where one activity took 27 s on 2 cores).
	CoresPerStream = 2
)

// Sizing decides how many key ranges of a table are worth copying at once
// (PlanRangesSized). It is what the worker that plans the ranges knows of
// itself: datacopy never reads the machine, the caller passes it in.
type Sizing struct {
	// Cores is the planning worker's runtime.NumCPU().
	Cores int
	// MaxStreams, when positive, replaces the automatic choice: up to this
	// many ranges of splitRows rows, whatever the cores and the rate (for
	// databases on other machines than the worker, or a fan-out shared by
	// several workers).
	MaxStreams int
	// MinRangeTime: see DefaultMinRangeTime (0: that default; negative:
	// any range is long enough).
	MinRangeTime time.Duration
}

// Sample is what a short read of a table's first rows measured.
type Sample struct {
	Rows     int     // rows read
	Rate     float64 // rows/s of the read (0: nothing read)
	RowBytes float64 // average bytes a row held (its width)
}

// MeasureRate reads up to SampleRows of t's first rows (in key order, as
// the copy reads them) and times the read: the source's rate for this
// table's row width, which bounds what one stream can copy.
func MeasureRate(ctx context.Context, s *datastore.Store, t *datastore.Table) (Sample, error) {
	start := time.Now()
	rows, err := s.ReadBatch(ctx, t, nil, SampleRows, nil)
	if err != nil {
		return Sample{}, fmt.Errorf("sample %s: %w", t.Name, err)
	}
	took := time.Since(start)
	out := Sample{Rows: len(rows)}
	if len(rows) == 0 || took <= 0 {
		return out, nil
	}
	out.Rate = float64(len(rows)) / took.Seconds()
	var bytes int
	for _, r := range rows {
		bytes += rowBytes(r)
	}
	out.RowBytes = float64(bytes) / float64(len(rows))
	return out, nil
}

// rowBytes approximates a decoded row's width: strings and byte slices by
// their length, anything else (numbers, times, booleans) as 8 bytes.
func rowBytes(row []any) int {
	n := 0
	for _, v := range row {
		switch x := v.(type) {
		case string:
			n += len(x)
		case []byte:
			n += len(x)
		case nil:
		default:
			n += 8
		}
	}
	return n
}

// Streams says how many ranges a table of rows rows is split into, given
// splitRows (the smallest range) and the sample: never more than
// ceil(rows/splitRows); automatically at most Cores/CoresPerStream, and
// at most as many as keep each range above MinRangeTime at the sampled
// rate (a wide row reads fewer rows a second, so a table of wide rows
// earns its ranges sooner). 1 means: do not split. The reason says why,
// for the log.
func (z Sizing) Streams(rows, splitRows int64, sample Sample) (int, string) {
	if splitRows <= 0 || rows <= splitRows {
		return 1, "not more rows than splitRows"
	}
	want := int(min((rows+splitRows-1)/splitRows, math.MaxInt32))
	if z.MaxStreams > 0 {
		return min(want, z.MaxStreams), "splitStreams"
	}
	byCores := max(1, z.Cores/CoresPerStream)
	n, why := want, "splitRows"
	if byCores < n {
		n, why = byCores, fmt.Sprintf("%d cores (%d per concurrent range)", z.Cores, CoresPerStream)
	}
	minTime := z.MinRangeTime
	if minTime == 0 {
		minTime = DefaultMinRangeTime
	}
	if minTime > 0 && sample.Rate > 0 {
		secs := float64(rows) / sample.Rate
		byTime := max(1, int(secs/minTime.Seconds()))
		if byTime < n {
			n, why = byTime, fmt.Sprintf("about %.0fs for one stream at the sampled %.0f rows/s of %.0f-byte rows, at least %v a range",
				secs, sample.Rate, sample.RowBytes, minTime)
		}
	}
	return n, why
}

// RangePlan is what PlanRangesSized decided for one table.
type RangePlan struct {
	Ranges  []Range // nil: the table is copied whole
	Rows    int64   // the table's exact row count
	Streams int     // ranges chosen (1: not split)
	Reason  string  // why that many
	Sample  Sample  // the measured read (zero when none was taken)
}

// PlanRangesSized is PlanRanges with the number of ranges chosen by z
// (Streams) rather than by splitRows alone: the table is cut into that
// many ranges of about equal rows, each at least splitRows. A nil z
// plans as PlanRanges does.
func PlanRangesSized(ctx context.Context, s *datastore.Store, t *datastore.Table, splitRows int64, z *Sizing) (RangePlan, error) {
	if z == nil {
		ranges, n, err := PlanRanges(ctx, s, t, splitRows)
		return RangePlan{Ranges: ranges, Rows: n, Streams: max(1, len(ranges)), Reason: "splitRows"}, err
	}
	n, err := s.Count(ctx, t.Name)
	if err != nil {
		return RangePlan{}, fmt.Errorf("plan key ranges of %s: %w", t.Name, err)
	}
	plan := RangePlan{Rows: n, Streams: 1}
	if splitRows <= 0 || n <= splitRows {
		plan.Reason = "not more rows than splitRows"
		return plan, nil
	}
	if z.MaxStreams <= 0 {
		if plan.Sample, err = MeasureRate(ctx, s, t); err != nil {
			return plan, fmt.Errorf("plan key ranges of %s: %w", t.Name, err)
		}
	}
	plan.Streams, plan.Reason = z.Streams(n, splitRows, plan.Sample)
	if plan.Streams <= 1 {
		plan.Streams = 1
		return plan, nil
	}
	per := max(splitRows, (n+int64(plan.Streams)-1)/int64(plan.Streams))
	ranges, err := cutRanges(ctx, s, t, n, per)
	if err != nil {
		return plan, err
	}
	plan.Ranges, plan.Streams = ranges, max(1, len(ranges))
	return plan, nil
}
