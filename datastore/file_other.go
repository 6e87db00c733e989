//go:build !unix

package datastore

import (
	"os"
)

// writable, where the operating system cannot be asked without trying:
// the path must exist (its permissions are checked when written).
func writable(path string) error {
	_, err := os.Stat(path)
	return err
}

// fileID: no device and inode here (the caller uses the absolute path).
func fileID(fi os.FileInfo) (string, bool) { return "", false }
