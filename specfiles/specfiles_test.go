package specfiles

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolveKeepsToTheBaseDirectory(t *testing.T) {
	base, other := t.TempDir(), t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(base, "sql"), 0o755))
	must(os.WriteFile(filepath.Join(base, "sql", "shop.sql"), []byte("CREATE TABLE t (id int);"), 0o600))
	must(os.WriteFile(filepath.Join(other, "secret"), []byte("hunter2 is the password"), 0o600))
	must(os.Symlink(filepath.Join(other, "secret"), filepath.Join(base, "link.sql")))
	t.Setenv(DirEnv, base)

	for _, tt := range []struct {
		name, path, wantErr string
	}{
		{"relative to the base", "sql/shop.sql", ""},
		{"absolute under the base", filepath.Join(base, "sql", "shop.sql"), ""},
		{"a .. escape", "../" + filepath.Base(other) + "/secret", "outside"},
		{"many .. to /etc/passwd", "../../../../../../etc/passwd", "outside"},
		{"an absolute path elsewhere", filepath.Join(other, "secret"), "outside"},
		{"a symbolic link out", "link.sql", "outside"},
		{"a missing file inside", "sql/gone.sql", "cannot be read on this worker"},
		{"a missing file outside", "../nope/x.sql", "outside"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve("ddl.fromFile", tt.path)
			if tt.wantErr == "" {
				if err != nil || !strings.HasSuffix(got, filepath.Join("sql", "shop.sql")) {
					t.Fatalf("Resolve(%q) = %q, %v", tt.path, got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Resolve(%q) = %q, %v: want an error saying %q", tt.path, got, err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("the error quotes the file: %v", err)
			}
			if tt.wantErr == "outside" && (!errors.Is(err, ErrOutside) || !strings.Contains(err.Error(), DirEnv)) {
				t.Fatalf("error %v: want ErrOutside, naming %s", err, DirEnv)
			}
		})
	}
}
