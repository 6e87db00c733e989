package drivers_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/config"
	_ "github.com/godwit/godwit/drivers" // every driver's spec section, as the CLI and worker have them
)

// The examples shipped with the repository must stay valid. This test
// lives here rather than in config so that it links every driver (which
// import config) and can read examples that use them, without changing the
// driver list config's own tests see.
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
