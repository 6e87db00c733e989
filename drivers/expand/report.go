package expand

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/godwit/godwit/compat"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/schemachange"
	"github.com/godwit/godwit/specfiles"
)

// ReportSQL is what a `godwit check-compat` report gives the phases of an
// expand–contract change to one store.
type ReportSQL struct {
	// Up is the forward SQL, script by script in order; Down the rollback
	// SQL in the reverse order. A column rename is in its online form: Up
	// adds the new column, Down drops it.
	Up, Down []datastore.ScriptStatement
	// Contract drops the renamed columns' old names (the contract phase's
	// SQL); Renames are the renames, which the expand phase dual-writes.
	Contract []datastore.ScriptStatement
	Renames  []compat.RenameSplit
}

// ReadReport reads a `godwit check-compat` report on this worker (under
// its files directory, as a SQL file) made for the store's dialect; a
// report of another dialect is refused. A column rename becomes the
// expand–contract split the report gives it (add the new column, drop
// the old one at contract), since a plain RENAME COLUMN breaks the code
// still running on the old name; a rename that cannot be split (it
// carries a constraint or trigger, or SQLite must rebuild its table) is
// refused.
func ReadReport(engine datastore.Engine, field, path string) (*ReportSQL, error) {
	real, err := specfiles.Resolve(field, path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(real)
	if err != nil {
		return nil, fmt.Errorf("%s %s cannot be read on this worker: %w", field, path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, schemachange.MaxScriptBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", field, path, err)
	}
	var rep compat.Report
	if err := json.Unmarshal(b, &rep); err != nil || rep.Kind != "schema" {
		return nil, fmt.Errorf("%s %s is not a check-compat schema report (godwit check-compat --before-store ... --after-store ... -o FILE writes one)", field, path)
	}
	switch {
	case rep.Dialect == "":
		return nil, fmt.Errorf("%s %s names no dialect: make it again with godwit check-compat --dialect %s", field, path, engine)
	case string(rep.Dialect) != string(engine):
		return nil, fmt.Errorf("%s %s holds %s SQL, but the store is %s: make it again with godwit check-compat --dialect %s", field, path, rep.Dialect, engine, engine)
	}
	scripts := append([]compat.Script(nil), rep.MigrationScripts...)
	sort.SliceStable(scripts, func(i, j int) bool { return scripts[i].Order < scripts[j].Order })
	split := map[string]bool{}
	for _, s := range scripts {
		if s.ExpandContract != nil {
			split[s.FieldPath] = true
		}
	}
	for _, is := range rep.Issues {
		if is.Type == "column_renamed" && !split[is.FieldPath] {
			return nil, fmt.Errorf("%s %s renames a column (%s) in a way Godwit cannot split into expand and contract (a constraint or trigger goes with it, or SQLite rebuilds the table): "+
				"write the split as files instead (expand adds the new column with dualWrite both ways, backfill fills it, contract drops the old one; see docs/expand-contract.md)",
				field, path, strings.TrimPrefix(is.FieldPath, "tables."))
		}
	}
	out := &ReportSQL{}
	for _, s := range scripts {
		fwd := s.ForwardSQL
		if r := s.ExpandContract; r != nil {
			fwd = r.ExpandSQL
			out.Renames = append(out.Renames, *r)
			out.Contract = append(out.Contract, datastore.SplitScript(engine, r.ContractSQL)...)
		}
		out.Up = append(out.Up, datastore.SplitScript(engine, fwd)...)
	}
	for i := len(scripts) - 1; i >= 0; i-- {
		back := scripts[i].RollbackSQL
		if r := scripts[i].ExpandContract; r != nil {
			back = r.ExpandRollbackSQL
		}
		out.Down = append(out.Down, datastore.SplitScript(engine, back)...)
	}
	if len(out.Up) == 0 {
		return nil, fmt.Errorf("%s %s holds no migration script: the schemas it compares do not differ", field, path)
	}
	return out, nil
}

// RenameRulesMissing lists, for each rename of a report, the dual-write
// rules the expand phase lacks: while both names exist, old code writes
// only the old column and new code only the new one, so both directions
// are needed. It says what to write.
func (s *Spec) RenameRulesMissing(renames []compat.RenameSplit) []string {
	var out []string
	for _, r := range renames {
		var rules map[string]Rule
		for t, cols := range s.DualWrite {
			if strings.EqualFold(t, r.Table) {
				rules = cols
			}
		}
		has := func(col string) bool {
			for c := range rules {
				if strings.EqualFold(c, col) {
					return true
				}
			}
			return false
		}
		if !has(r.To) || !has(r.From) {
			out = append(out, fmt.Sprintf("sql.fromReport renames %s.%s to %s, so the expand must dual-write both ways while old and new code run: add dualWrite: {%s: {%s: %s, %s: {from: %s}}}",
				r.Table, r.From, r.To, r.Table, r.To, r.From, r.From, r.To))
		}
	}
	return out
}
