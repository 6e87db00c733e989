package reconcile

import (
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/godwit/godwit/migration"
)

// Class is the kind of a difference.
type Class string

// The classes of difference.
const (
	// MissingInTarget: the key is in the source only.
	MissingInTarget Class = "missing_in_target"
	// ExtraInTarget: the key is in the target only.
	ExtraInTarget Class = "extra_in_target"
	// Mismatched: the key is on both sides with other values.
	Mismatched Class = "mismatched"
)

// Difference is one differing key.
type Difference struct {
	Class Class `json:"class"`
	// Key holds the key's values as text (datastore.EncodeValue).
	Key []string `json:"key"`
	// Columns names the differing columns of a mismatched row.
	Columns []string `json:"columns,omitempty"`
	// Values holds, for the first few mismatched rows only, each differing
	// column's canonical text on each side, truncated; null (nil) for a
	// NULL, which the text report shows as NULL unquoted.
	Values map[string][2]*string `json:"values,omitempty"`
}

// TableReport is one table's outcome.
type TableReport struct {
	Table       string `json:"table"`
	TargetTable string `json:"targetTable,omitempty"`
	// Method says how each side's checksums were computed.
	Method     string `json:"method"`
	SourceRows int64  `json:"sourceRows"`
	TargetRows int64  `json:"targetRows"`
	Missing    int64  `json:"missingInTarget"`
	Extra      int64  `json:"extraInTarget"`
	Mismatched int64  `json:"mismatched"`
	// MismatchedColumns counts mismatched rows per differing column.
	MismatchedColumns map[string]int64 `json:"mismatchedColumns,omitempty"`
	// Samples holds a bounded number of differing keys per class.
	Samples []Difference `json:"samples,omitempty"`
	// Differences is the full list (up to MaxListed); left out of
	// checkpoints and activity results.
	Differences []Difference `json:"differences,omitempty"`
	// Checksums is the number of queries run; RowsFetched the rows read to
	// compare row by row; RowsHashed the rows hashed in Go (a side without
	// a hash function); KeysRead the keys read to choose split points.
	Checksums   int64 `json:"queries"`
	RowsFetched int64 `json:"rowsFetched"`
	RowsHashed  int64 `json:"rowsHashed,omitempty"`
	KeysRead    int64 `json:"keysRead,omitempty"`
	// Rechecked is the number of differing keys fetched again after
	// RecheckAfter; Resolved those that no longer differed (in flight).
	Rechecked int64 `json:"rechecked,omitempty"`
	Resolved  int64 `json:"resolved,omitempty"`
	// Repair is set when the differences were repaired (Options.Repair):
	// what was written and what the re-check of those keys found.
	Repair *RepairReport `json:"repair,omitempty"`
	// Complete is false when the check stopped at a limit before the end.
	Complete      bool    `json:"complete"`
	Seconds       float64 `json:"seconds"`
	RowsPerSecond float64 `json:"rowsPerSecond"`
	// Note says what was not compared (target-only columns, ignored ones).
	Note string `json:"note,omitempty"`
}

// Differing is the table's number of differences.
func (t *TableReport) Differing() int64 { return t.Missing + t.Extra + t.Mismatched }

// Report is a check's outcome.
type Report struct {
	// Source and Target name the sides; Source is the side of truth.
	Source string `json:"source"`
	Target string `json:"target"`
	// Direction is "forward" (the old side is the truth) or "reverse" (the
	// new side, after the writes moved), when the caller says.
	Direction string        `json:"direction,omitempty"`
	Tables    []TableReport `json:"tables"`
	// Stopped says why the check ended before comparing everything.
	Stopped       string    `json:"stopped,omitempty"`
	Started       time.Time `json:"started"`
	Seconds       float64   `json:"seconds"`
	RowsPerSecond float64   `json:"rowsPerSecond"`
}

// Totals sums the tables' counts.
func (r *Report) Totals() (sourceRows, missing, extra, mismatched int64) {
	for _, t := range r.Tables {
		sourceRows += t.SourceRows
		missing += t.Missing
		extra += t.Extra
		mismatched += t.Mismatched
	}
	return
}

// Differing is the number of differences over all tables.
func (r *Report) Differing() int64 {
	_, m, e, x := r.Totals()
	return m + e + x
}

// Complete reports whether every table was compared to the end.
func (r *Report) Complete() bool {
	if r.Stopped != "" {
		return false
	}
	for _, t := range r.Tables {
		if !t.Complete {
			return false
		}
	}
	return true
}

// Summary is one line for people and activity results:
// "3 tables, 1000000 source rows: 2 missing_in_target, 0 extra_in_target, 1 mismatched (source legacy)".
func (r *Report) Summary() string {
	src, m, e, x := r.Totals()
	s := fmt.Sprintf("%s, %d source rows: %d %s, %d %s, %d %s (truth: %s, %.1fs, %.0f rows/s)",
		migration.Count(len(r.Tables), "table"), src, m, MissingInTarget, e, ExtraInTarget, x, Mismatched, r.Source, r.Seconds, r.RowsPerSecond)
	var repaired bool
	var up, del, still int64
	for _, t := range r.Tables {
		if t.Repair != nil {
			repaired = true
			up += t.Repair.Upserted
			del += t.Repair.Deleted
			still += t.Repair.Missing + t.Repair.Extra + t.Repair.Mismatched
		}
	}
	if repaired {
		s += fmt.Sprintf("; repaired: %d rows re-copied, %d deleted, %d still differing", up, del, still)
	}
	if r.Stopped != "" {
		s += "; INCOMPLETE: " + r.Stopped
	}
	return s
}

// Remaining sums the differences the gate judges: per table, those found,
// or for a repaired table those its re-check still found.
func (r *Report) Remaining() (missing, extra, mismatched int64) {
	for _, t := range r.Tables {
		if t.Repair != nil {
			missing += t.Repair.Missing
			extra += t.Repair.Extra
			mismatched += t.Repair.Mismatched
			continue
		}
		missing += t.Missing
		extra += t.Extra
		mismatched += t.Mismatched
	}
	return
}

// Brief returns the report without the full lists: what goes into an
// activity result or a checkpoint.
func (r *Report) Brief() Report {
	b := *r
	b.Tables = make([]TableReport, len(r.Tables))
	for i, t := range r.Tables {
		t.Differences = nil
		b.Tables[i] = t
	}
	return b
}

// Text renders the report as a table for a terminal.
func (r *Report) Text() string {
	var b strings.Builder
	dir := ""
	if r.Direction != "" {
		dir = ", " + r.Direction
	}
	fmt.Fprintf(&b, "source of truth: %s; compared with: %s%s\n", r.Source, r.Target, dir)
	// The first column is as wide as its longest name (at least 24), so a
	// mapped name (PlaylistTrack→playlist_track) does not push its row's
	// figures out from under their headings.
	names := make([]string, len(r.Tables))
	width := 24
	for i, t := range r.Tables {
		name := t.Table
		if t.TargetTable != "" && t.TargetTable != t.Table {
			name += "→" + t.TargetTable
		}
		if !t.Complete {
			name += " (incomplete)"
		}
		names[i] = name
		width = max(width, utf8.RuneCountInString(name))
	}
	fmt.Fprintf(&b, "%-*s %12s %12s %10s %10s %10s  %s\n", width, "TABLE", "SOURCE ROWS", "TARGET ROWS", "MISSING", "EXTRA", "MISMATCHED", "METHOD")
	for i, t := range r.Tables {
		fmt.Fprintf(&b, "%-*s %12d %12d %10d %10d %10d  %s\n", width, names[i], t.SourceRows, t.TargetRows, t.Missing, t.Extra, t.Mismatched, t.Method)
	}
	for _, t := range r.Tables {
		if len(t.Samples) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n%s: %s", t.Table, migration.Count(int(t.Differing()), "difference"))
		if len(t.MismatchedColumns) > 0 {
			cols := make([]string, 0, len(t.MismatchedColumns))
			for c, n := range t.MismatchedColumns {
				cols = append(cols, fmt.Sprintf("%s (%d)", c, n))
			}
			sort.Strings(cols)
			fmt.Fprintf(&b, "; mismatched columns: %s", strings.Join(cols, ", "))
		}
		b.WriteString("\n")
		for _, d := range t.Samples {
			fmt.Fprintf(&b, "  %-18s key=%s", d.Class, strings.Join(d.Key, ","))
			if len(d.Columns) > 0 {
				fmt.Fprintf(&b, " columns=%s", strings.Join(d.Columns, ","))
			}
			for _, c := range d.Columns {
				if v, ok := d.Values[c]; ok {
					fmt.Fprintf(&b, " %s: %s≠%s", c, quotedOrNull(v[0]), quotedOrNull(v[1]))
				}
			}
			b.WriteString("\n")
		}
		if n := t.Differing(); n > int64(len(t.Samples)) {
			fmt.Fprintf(&b, "  … %d more (full list: -o json)\n", n-int64(len(t.Samples)))
		}
		if rr := t.Repair; rr != nil {
			fmt.Fprintf(&b, "  repaired: %d rows re-copied from %s, %d deleted", rr.Upserted, r.Source, rr.Deleted)
			if rr.ExtraKept > 0 {
				fmt.Fprintf(&b, ", %d extra kept (deleteExtra is off)", rr.ExtraKept)
			}
			if rr.Clean() {
				b.WriteString("; re-check: clean\n")
			} else {
				fmt.Fprintf(&b, "; re-check: %d %s, %d %s, %d %s still differ\n",
					rr.Missing, MissingInTarget, rr.Extra, ExtraInTarget, rr.Mismatched, Mismatched)
				for _, d := range rr.Still {
					fmt.Fprintf(&b, "    still %-18s key=%s\n", d.Class, strings.Join(d.Key, ","))
				}
			}
		}
	}
	fmt.Fprintf(&b, "\n%s\n", r.Summary())
	return b.String()
}

// Tolerance is the gate: how many differences of each class are accepted,
// as a count or as a percentage of the source rows (both zero by default:
// none). A check that stopped at a limit never passes.
type Tolerance struct {
	MaxMissing           int64   `yaml:"maxMissing" json:"maxMissing,omitempty"`
	MaxExtra             int64   `yaml:"maxExtra" json:"maxExtra,omitempty"`
	MaxMismatched        int64   `yaml:"maxMismatched" json:"maxMismatched,omitempty"`
	MaxMissingPercent    float64 `yaml:"maxMissingPercent" json:"maxMissingPercent,omitempty"`
	MaxExtraPercent      float64 `yaml:"maxExtraPercent" json:"maxExtraPercent,omitempty"`
	MaxMismatchedPercent float64 `yaml:"maxMismatchedPercent" json:"maxMismatchedPercent,omitempty"`
}

// Check returns the reasons the report fails the gate (nil: it passes).
// A repaired table is judged on what its re-check still found, and a key
// the repair wrote or deleted that still differs fails whatever the
// tolerance.
func (t Tolerance) Check(r *Report) []string {
	var out []string
	if !r.Complete() {
		reason := r.Stopped
		if reason == "" {
			reason = "a table was not compared to the end"
		}
		out = append(out, "the check is incomplete: "+reason)
	}
	src, _, _, _ := r.Totals()
	m, e, x := r.Remaining()
	var unfixed int64
	for _, tb := range r.Tables {
		if tb.Repair != nil {
			unfixed += tb.Repair.Unfixed
		}
	}
	if unfixed > 0 {
		out = append(out, fmt.Sprintf("the repair did not fix %d keys (the re-check still finds them)", unfixed))
	}
	class := func(name Class, n, max int64, pct float64) {
		allowed := max
		if p := int64(pct / 100 * float64(src)); p > allowed {
			allowed = p
		}
		if n > allowed {
			out = append(out, fmt.Sprintf("%d %s, tolerance %d", n, name, allowed))
		}
	}
	class(MissingInTarget, m, t.MaxMissing, t.MaxMissingPercent)
	class(ExtraInTarget, e, t.MaxExtra, t.MaxExtraPercent)
	class(Mismatched, x, t.MaxMismatched, t.MaxMismatchedPercent)
	return out
}

// withinTolerance compares two exact canonical numbers.
func withinTolerance(a, b string, tol *big.Rat) bool {
	x, ok1 := new(big.Rat).SetString(a)
	y, ok2 := new(big.Rat).SetString(b)
	if !ok1 || !ok2 {
		return a == b
	}
	d := new(big.Rat).Sub(x, y)
	return d.Abs(d).Cmp(tol) <= 0
}

// quotedOrNull shows a differing value quoted, or NULL bare for a NULL.
func quotedOrNull(v *string) string {
	if v == nil {
		return "NULL"
	}
	return strconv.Quote(*v)
}
