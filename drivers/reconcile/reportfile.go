package reconcile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	rec "github.com/godwit/godwit/reconcile"
)

// StateDirEnv names the environment variable holding the worker's state
// directory, under which full reports are written by default.
const StateDirEnv = "GODWIT_STATE_DIR"

// OutputReportFile is the key of the phase result's Outputs naming the file
// the full report was written to on the worker.
const OutputReportFile = "reportFile"

// OutputDifferences is the key of the phase result's Outputs counting the
// rows found different (missing + extra + mismatched), for the dashboard's
// findings chart.
const OutputDifferences = "differences"

// FullReport is what the report file holds: the phase's verdict and the
// report with every differing key (up to 10,000 per table; tables resumed
// from a checkpoint carry their counts and samples only).
type FullReport struct {
	Migration string      `json:"migration"`
	Phase     string      `json:"phase"`
	Passed    bool        `json:"passed"`
	Failures  []string    `json:"failures,omitempty"`
	Report    *rec.Report `json:"report"`
}

// ReportPath is where the full report of a phase goes: the spec's
// reportFile when set, else <state dir>/reconcile/<migration>/<phase>.json,
// the state dir being stateDir, or $GODWIT_STATE_DIR, or godwit under the
// system's temporary directory.
func ReportPath(s *Spec, stateDir, migration, phase string) string {
	if s.ReportFile != "" {
		return s.ReportFile
	}
	if stateDir == "" {
		stateDir = os.Getenv(StateDirEnv)
	}
	if stateDir == "" {
		stateDir = filepath.Join(os.TempDir(), "godwit")
	}
	return filepath.Join(stateDir, "reconcile", safeName(migration), safeName(phase)+".json")
}

// safeName keeps a name to one path element.
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 {
			return '_'
		}
		return r
	}, s)
	if s == "" || s == "." || s == ".." {
		return "_"
	}
	return s
}

// WriteReport writes v as indented JSON to path, creating its directory;
// it writes a temporary file and renames it, so a reader never sees half a
// report. The file is readable by its owner only: it holds row keys.
func WriteReport(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("report file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("report file %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".reconcile-*.json")
	if err != nil {
		return fmt.Errorf("report file %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("report file %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("report file %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("report file %s: %w", path, err)
	}
	return nil
}
