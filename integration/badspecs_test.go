package integration

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/godwit/godwit/cli"
)

var updateGolden = flag.Bool("update", false, "rewrite the .want files of testdata/bad-specs from the current messages")

// TestValidateRejectsBadSpecs runs `godwit validate -f` on every spec of
// testdata/bad-specs — each a different kind of mistake, described in its
// first line — and compares what the user reads with the .want file beside
// it, exactly. Nothing runs: validate is offline.
func TestValidateRejectsBadSpecs(t *testing.T) {
	specs, err := filepath.Glob("testdata/bad-specs/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) < 30 {
		t.Fatalf("the corpus has %d bad specs; it must keep at least 30", len(specs))
	}
	for _, spec := range specs {
		name := strings.TrimSuffix(filepath.Base(spec), ".yaml")
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			root := cli.NewRootCommand(&out, &errOut)
			root.SetArgs([]string{"validate", "-f", spec})
			err := root.Execute()
			if err == nil {
				t.Fatalf("validate accepted %s:\n%s", spec, out.String())
			}
			got := "godwit: " + err.Error() + "\n"
			want := strings.TrimSuffix(spec, ".yaml") + ".want"
			if *updateGolden {
				if err := os.WriteFile(want, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			w, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run go test ./integration -run TestValidateRejectsBadSpecs -update, then read the message)", err)
			}
			if got != string(w) {
				t.Errorf("validate -f %s said:\n%s\nwant:\n%s", spec, got, w)
			}
		})
	}
}
