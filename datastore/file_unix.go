//go:build unix

package datastore

import (
	"fmt"
	"os"
	"syscall"
)

// writable reports whether this process may write path (a file or a
// directory), asking the operating system rather than trying.
func writable(path string) error { return syscall.Access(path, 2 /* W_OK */) }

// fileID is a file's device and inode: the same file under any path.
func fileID(fi os.FileInfo) (string, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", false
	}
	return fmt.Sprintf("dev:%d/ino:%d", st.Dev, st.Ino), true
}
