package drivers

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/config"
)

// The examples shipped with the repository must stay valid. They are
// parsed here, not in package config, because their phases use drivers
// that only this package links in.
func TestParseSpecAcceptsShippedExamples(t *testing.T) {
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
