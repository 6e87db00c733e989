package compatdriver

import (
	"os"
	"testing"

	"github.com/godwit/godwit/specfiles"
)

// TestMain lets the tests read their files, in temporary directories and
// the repository: the worker reads spec files under its files directory
// only.
func TestMain(m *testing.M) {
	if os.Getenv(specfiles.DirEnv) == "" {
		os.Setenv(specfiles.DirEnv, "/")
	}
	os.Exit(m.Run())
}
