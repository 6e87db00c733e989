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

// ReportScripts reads a `godwit check-compat` report on this worker (under
// its files directory, as a SQL file) and returns its forward SQL, script
// by script in order, and its rollback SQL in the reverse order, split by
// the engine's rules. A report made for another dialect is refused, and
// so is one that renames a column: its plain RENAME COLUMN breaks the code
// still running on the old name (write the expand–contract split as files).
func ReportScripts(engine datastore.Engine, field, path string) (up, down []datastore.ScriptStatement, err error) {
	real, err := specfiles.Resolve(field, path)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.Open(real)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s cannot be read on this worker: %w", field, path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, schemachange.MaxScriptBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", field, path, err)
	}
	var rep compat.Report
	if err := json.Unmarshal(b, &rep); err != nil || rep.Kind != "schema" {
		return nil, nil, fmt.Errorf("%s %s is not a check-compat schema report (godwit check-compat --before-store ... --after-store ... -o FILE writes one)", field, path)
	}
	switch {
	case rep.Dialect == "":
		return nil, nil, fmt.Errorf("%s %s names no dialect: make it again with godwit check-compat --dialect %s", field, path, engine)
	case string(rep.Dialect) != string(engine):
		return nil, nil, fmt.Errorf("%s %s holds %s SQL, but the store is %s: make it again with godwit check-compat --dialect %s", field, path, rep.Dialect, engine, engine)
	}
	for _, is := range rep.Issues {
		if is.Type == "column_renamed" {
			return nil, nil, fmt.Errorf("%s %s renames a column (%s) with a plain RENAME COLUMN, which breaks the code still using the old name: "+
				"write the expand–contract split as files instead (expand adds the new column with dualWrite both ways, backfill fills it, contract drops the old one; see docs/expand-contract.md)",
				field, path, strings.TrimPrefix(is.FieldPath, "tables."))
		}
	}
	scripts := append([]compat.Script(nil), rep.MigrationScripts...)
	sort.SliceStable(scripts, func(i, j int) bool { return scripts[i].Order < scripts[j].Order })
	for _, s := range scripts {
		up = append(up, datastore.SplitScript(engine, s.ForwardSQL)...)
	}
	for i := len(scripts) - 1; i >= 0; i-- {
		down = append(down, datastore.SplitScript(engine, scripts[i].RollbackSQL)...)
	}
	if len(up) == 0 {
		return nil, nil, fmt.Errorf("%s %s holds no migration script: the schemas it compares do not differ", field, path)
	}
	return up, down, nil
}
