package drivers_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/config"
	_ "github.com/godwit/godwit/drivers"
)

// Every shipped example parses with every driver of this build linked
// (config's own tests skip those using drivers they do not link).
func TestShippedExamplesParse(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "examples", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			_, err := config.LoadSpec(path)
			require.NoError(t, err)
		})
	}
}
