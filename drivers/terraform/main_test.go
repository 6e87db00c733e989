package terraform

import (
	"os"
	"testing"

	"github.com/godwit/godwit/specfiles"
)

// TestMain lets the tests' modules, in temporary directories, be read:
// the worker reads spec files under its files directory only.
func TestMain(m *testing.M) {
	if os.Getenv(specfiles.DirEnv) == "" {
		os.Setenv(specfiles.DirEnv, os.TempDir())
	}
	os.Exit(m.Run())
}
