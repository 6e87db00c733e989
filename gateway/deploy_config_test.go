package gateway

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// The gateway configuration docker-compose mounts must load.
func TestDeployConfigLoads(t *testing.T) {
	cfg, err := LoadConfig(filepath.Join("..", "deploy", "gateway.yaml"))
	require.NoError(t, err)
	require.Len(t, cfg.Routes, 1)
	require.Equal(t, "api", cfg.Routes[0].Name)
}
