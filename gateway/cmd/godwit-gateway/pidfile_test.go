package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A script that reads the pid file while a successor writes its own must
// see one whole id: a new-user trial's hand-over loop read "" once, when
// the file was truncated in place before the new id was written. Replaced
// by a rename, a reader that opened the file before still reads the old id
// whole, and the path holds the new one.
func TestThePidFileIsReplacedWholeNotRewrittenInPlace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gw.pid")
	require.NoError(t, os.WriteFile(path, []byte("123\n"), 0o644))
	before, err := os.Open(path)
	require.NoError(t, err)
	defer before.Close()

	require.NoError(t, writePidFile(path, 456))

	old, err := io.ReadAll(before)
	require.NoError(t, err)
	assert.Equal(t, "123\n", string(old), "a reader of the old file must not see it emptied or changed")
	now, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "456\n", string(now))
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), st.Mode().Perm())
	left, err := filepath.Glob(filepath.Join(filepath.Dir(path), ".gw.pid.*"))
	require.NoError(t, err)
	assert.Empty(t, left, "no temporary file left behind")

	err = writePidFile(filepath.Join(t.TempDir(), "missing", "gw.pid"), 1)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "pid file ")
}
