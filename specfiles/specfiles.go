// Package specfiles resolves the files a spec names (a provision's DDL
// script, ...) on the worker: only files under one base directory are
// read, so that a spec cannot make the worker read /etc/passwd or a
// secret file and quote it back in an error.
package specfiles

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DirEnv names the variable holding the base directory; unset, it is the
// worker's working directory.
const DirEnv = "GODWIT_FILES_DIR"

// ErrOutside is returned, wrapped, for a path outside the base directory.
var ErrOutside = errors.New("is outside the directory the worker reads spec files from")

// Base returns the base directory, absolute and with symbolic links
// resolved.
func Base() (string, error) {
	base := os.Getenv(DirEnv)
	if base == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", fmt.Errorf("the worker's working directory: %w", err)
		}
		base = wd
	}
	abs, err := filepath.Abs(base)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", DirEnv, base, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", DirEnv, base, err)
	}
	return real, nil
}

// Resolve returns the real path of the file field names (relative paths
// are relative to the base directory), or an error when it does not exist
// or lies outside the base directory — by "..", an absolute path or a
// symbolic link. Errors name the field and the path, never the content.
func Resolve(field, path string) (string, error) {
	base, err := Base()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", field, path, err)
	}
	p := path
	if !filepath.IsAbs(p) {
		p = filepath.Join(base, p)
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && !inside(base, filepath.Clean(p)) {
			return "", outside(field, path, base)
		}
		return "", fmt.Errorf("%s %s cannot be read on this worker: %w", field, path, err)
	}
	if !inside(base, real) {
		return "", outside(field, path, base)
	}
	return real, nil
}

func inside(base, p string) bool {
	rel, err := filepath.Rel(base, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

func outside(field, path, base string) error {
	return fmt.Errorf("%s %s %w (%s): put the file under %s, or start the worker with %s set to the directory that holds the spec's files",
		field, path, ErrOutside, base, base, DirEnv)
}
