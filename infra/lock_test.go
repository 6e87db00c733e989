package infra

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// holdLock takes the local backend's lock on a workspace's state the way
// another terraform process would: a POSIX write lock on the state file
// and the lock's description beside it.
func holdLock(t *testing.T, dir, workspace string, info map[string]string) {
	t.Helper()
	stateDir := filepath.Join(dir, "terraform.tfstate.d", workspace)
	f, err := os.OpenFile(filepath.Join(stateDir, "terraform.tfstate"), os.O_RDWR, 0)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	lock := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0}
	require.NoError(t, syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lock))
	text, err := json.Marshal(info)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(stateDir, ".terraform.tfstate.lock.info"), text, 0o644))
}

func TestHeldLockIsARetryableErrorNamingItsHolder(t *testing.T) {
	t.Parallel()
	m, dir := newModule(t, "locked")
	apply(t, m, phase("preparation"))
	holdLock(t, dir, "locked", map[string]string{
		"ID": "5d1c0b2e-lock", "Operation": "OperationTypeApply", "Who": "alice@ci-runner-7",
		"Version": "1.6.6", "Created": "2026-11-25T10:00:00Z", "Path": "terraform.tfstate",
	})

	_, err := m.Plan(ctx(t), phase("execution"))
	require.Error(t, err)
	var locked *LockedError
	require.True(t, errors.As(err, &locked), "got %v", err)
	assert.Equal(t, "alice@ci-runner-7", locked.Who)
	assert.Equal(t, "5d1c0b2e-lock", locked.ID)
	assert.Equal(t, "OperationTypeApply", locked.Operation)
	assert.False(t, IsPermanent(err), "someone else's lock goes away: retry")
	assert.Contains(t, err.Error(), "the state is locked by someone else: alice@ci-runner-7 (OperationTypeApply since 2026-11-25 10:00:00 +0000 UTC), lock ID 5d1c0b2e-lock")
}
