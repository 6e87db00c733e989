package provision

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/godwit/godwit/activities"
	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/specfiles"
)

// MaxDDLBytes bounds a DDL file: it is read whole, on the worker.
const MaxDDLBytes = 16 << 20

// DDL names where the target tables' DDL comes from instead of being
// rendered from the source.
type DDL struct {
	// FromFile is a SQL script on the worker, under its files directory
	// ($GODWIT_FILES_DIR, default its working directory; relative paths
	// are relative to it), read by the activity, never carried in
	// the workflow's history: CREATE TABLE for each table of tables, and
	// CREATE INDEX / ALTER TABLE on them.
	FromFile string `yaml:"fromFile" json:"fromFile"`
}

// check reports a ddl section's mistakes.
func (d *DDL) check(c *config.CheckContext, s *Spec) {
	if d == nil {
		return
	}
	if d.FromFile == "" {
		c.Errorf("ddl.fromFile", "is required: the path of a SQL script (on the worker) that creates the tables")
	}
	if len(s.TypeOverrides) > 0 {
		c.Errorf("typeOverrides", "applies to rendered DDL only: with ddl.fromFile the script gives every column's type, so leave typeOverrides out")
	}
	if s.DeferIndexes {
		c.Errorf("deferIndexes", "applies to rendered DDL only: with ddl.fromFile the script says which indexes exist, so leave deferIndexes out")
	}
}

// readDDL reads the spec's DDL file on this worker, only under the
// worker's files directory (specfiles): a spec must not make the worker
// read any file it can.
func readDDL(path string) (string, error) {
	real, err := specfiles.Resolve("ddl.fromFile", path)
	if err != nil {
		return "", err
	}
	f, err := os.Open(real)
	if err != nil {
		return "", fmt.Errorf("ddl.fromFile %s cannot be read on this worker: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxDDLBytes+1))
	if err != nil {
		return "", fmt.Errorf("ddl.fromFile %s: %w", path, err)
	}
	if len(b) > MaxDDLBytes {
		return "", fmt.Errorf("ddl.fromFile %s is larger than %d MiB: a DDL script, not a dump with data", path, MaxDDLBytes>>20)
	}
	return string(b), nil
}

// createFromDDL is the run of a provision with ddl.fromFile.
func createFromDDL(ctx context.Context, to *datastore.Store, s *Spec, tables []*datastore.Table, opts datastore.ProvisionOptions) (datastore.ProvisionResult, error) {
	script, err := readDDL(s.DDL.FromFile)
	if err != nil {
		return datastore.ProvisionResult{}, activities.ConfigError(fmt.Errorf("provision: %w", err))
	}
	res, err := datastore.ProvisionFromDDL(ctx, to, tables, script, s.DDL.FromFile, opts)
	if err != nil {
		return res, fmt.Errorf("provision into %s: %w", s.To, err)
	}
	return res, nil
}

// ddlProblems is preflight's check of the DDL file against the tables.
func ddlProblems(to *datastore.Store, s *Spec, tables []*datastore.Table) []string {
	script, err := readDDL(s.DDL.FromFile)
	if err != nil {
		return []string{err.Error()}
	}
	if to == nil {
		return nil
	}
	if err := datastore.CheckScript(to.Engine, script, tables); err != nil {
		return []string{fmt.Sprintf("ddl.fromFile %s: %v", s.DDL.FromFile, err)}
	}
	return nil
}
