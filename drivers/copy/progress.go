package copy

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/drivers/stores"
	"github.com/godwit/godwit/migration"
)

// detailTables bounds the per-table lines of a heartbeat's detail: the
// status shows a few short lines, not a thousand.
const detailTables = 6

// Heartbeat turns a copy's progress into the phase's heartbeat: percent
// and rows from the real counts, the checkpoint to resume from, and per
// table "orders: 120,000 / 1,000,000 rows, 41,000 rows/s, ETA 21s".
func Heartbeat(p datacopy.Progress) activities.Heartbeat {
	hb := activities.Heartbeat{Records: p.RowsDone}
	if p.Total > 0 {
		hb.Percent = min(100*float64(p.RowsDone)/float64(p.Total), 100)
	}
	hb.Checkpoint, _ = marshalCheckpoint(p.Checkpoint)
	hb.Detail = Detail(p)
	hb.Tables = Tables(p)
	return hb
}

// heartbeatTables bounds the tables a heartbeat carries, unfinished first:
// a heartbeat stays small however many tables a copy has.
const heartbeatTables = 20

// Tables is the progress of each table as figures (unfinished tables
// first, at most heartbeatTables), for the dashboard's progress bars.
func Tables(p datacopy.Progress) []migration.TableProgress {
	var open, done []migration.TableProgress
	for _, t := range p.Tables {
		tp := migration.TableProgress{Table: t.Table, RowsDone: t.RowsDone, Total: t.Total, TotalEstimated: t.TotalEstimated,
			Done: t.Stage == datacopy.StageDone}
		if t.Range != "" {
			tp.Table += " " + t.Range
		}
		if !tp.Done && t.RowsPerSecond > 0 {
			tp.RowsPerSecond = t.RowsPerSecond
			if left := t.Total - t.RowsDone; left > 0 {
				tp.ETASeconds = float64(left) / t.RowsPerSecond
			}
		}
		if tp.Done {
			done = append(done, tp)
		} else {
			open = append(open, tp)
		}
	}
	all := append(open, done...)
	if len(all) > heartbeatTables {
		all = all[:heartbeatTables]
	}
	return all
}

func marshalCheckpoint(cp datacopy.Checkpoint) (string, error) {
	b, err := json.Marshal(cp)
	return string(b), err
}

// Detail is the progress in words: one line per unfinished table (at most
// detailTables), finished ones counted, and a total line for several tables.
func Detail(p datacopy.Progress) string {
	var lines []string
	if len(p.Tables) > 1 {
		estimated := false
		for _, t := range p.Tables {
			estimated = estimated || t.TotalEstimated
		}
		line := fmt.Sprintf("all %d tables: %s / %s rows, %s rows/s", len(p.Tables),
			stores.Humanize(p.RowsDone), stores.TotalText(p.Total, estimated), stores.Humanize(int64(p.RowsPerSecond)))
		if p.ETA >= 0 {
			line += ", ETA " + eta(p.ETA)
		}
		lines = append(lines, line)
	}
	shown, done, hidden := 0, 0, 0
	for _, t := range p.Tables {
		if t.Stage == datacopy.StageDone {
			done++
			if len(p.Tables) > 1 {
				continue
			}
		}
		if shown == detailTables {
			hidden++
			continue
		}
		shown++
		lines = append(lines, tableLine(t))
	}
	if hidden > 0 {
		lines = append(lines, "… "+migration.Count(hidden, "more table")+" to copy")
	}
	if done > 0 && len(p.Tables) > 1 {
		lines = append(lines, fmt.Sprintf("%d of %d tables done", done, len(p.Tables)))
	}
	lines = WithThrottle(lines, p.Throttle)
	return strings.Join(lines, "\n")
}

func tableLine(t datacopy.TableProgress) string {
	name := t.Table
	if t.Range != "" {
		name += " " + t.Range
	}
	line := fmt.Sprintf("%s: %s / %s rows", name, stores.Humanize(t.RowsDone), stores.TotalText(t.Total, t.TotalEstimated))
	if t.Ranges > 1 {
		line += fmt.Sprintf(" (%d of %d key ranges done)", t.RangesDone, t.Ranges)
	}
	if t.FullCopy {
		line += " (no key: full copy, restarts from zero if interrupted)"
	}
	if t.BuildingIndexes > 0 {
		return fmt.Sprintf("building %s of %s (its %s rows are in)", indexCount(t.BuildingIndexes), name, stores.Humanize(t.RowsDone))
	}
	switch t.Stage {
	case datacopy.StageDone:
		return line + ", done"
	case datacopy.StageCatchUp:
		return line + fmt.Sprintf(", catching up: %s changed rows re-copied", stores.Humanize(t.CatchUpRows))
	}
	if t.RowsPerSecond <= 0 {
		return line + ", starting"
	}
	line += fmt.Sprintf(", %s rows/s", stores.Humanize(int64(t.RowsPerSecond)))
	if left := t.Total - t.RowsDone; left > 0 {
		line += ", ETA " + eta(time.Duration(float64(left)/t.RowsPerSecond*float64(time.Second)))
	}
	return line
}

func eta(d time.Duration) string {
	if d < time.Second {
		return "<1s"
	}
	return d.Round(time.Second).String()
}
