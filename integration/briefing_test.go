package integration

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/migration"
)

var updateBriefs = flag.Bool("update-briefs", false, "rewrite integration/testdata/brief-*.golden from this run")

// normalise replaces what differs between runs (times, durations, rates
// that depend on them) by fixed words, so a run compares with a golden file.
func normalise(s string) string {
	for _, r := range []struct{ re, with string }{
		{`\d{4}-\d\d-\d\d \d\d:\d\d UTC`, "<time>"},
		{`\d\d:\d\d UTC`, "<hh:mm>"},
		{`\b\d+(\.\d+)?(ms|s|m\d+s|h\d+m\d+s)\b`, "<duration>"},
		{`\b\d+ records/minute`, "<n> records/minute"},
		{`approved by \S+\)`, "approved by <user>)"},
	} {
		s = regexp.MustCompile(r.re).ReplaceAllString(s, r.with)
	}
	return s
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *updateBriefs {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "write it with: go test ./integration -run TestBriefingsOfARealRun -update-briefs")
	require.Equal(t, string(want), got)
}

// TestBriefingsOfARealRun fills the executive summary and the team update
// from the demo migration while it waits at its gate and once it
// completed, and compares them, times normalised, with golden files.
func TestBriefingsOfARealRun(t *testing.T) {
	t.Parallel()
	d := newDemo(t, "it-briefings", "0.01")
	d.start()
	d.waitFor("the go-live gate", waitingAt("go-live"))

	for _, format := range []string{"exec", "team"} {
		out, err := godwit(t, "status", d.name, "--format", format)
		require.NoError(t, err, out)
		require.NotRegexp(t, `\[[A-Z][^\]]*\]`, out, "no placeholder left")
		checkGolden(t, "brief-waiting."+format, normalise(out))
	}

	out, err := godwit(t, "approve", d.name, "--gate", "go-live")
	require.NoError(t, err, out)
	d.waitFor("the end", func(r migration.Report) bool { return r.Status.Final() })
	out, err = godwit(t, "status", d.name, "--format", "markdown")
	require.NoError(t, err, out)
	checkGolden(t, "brief-completed.markdown", normalise(out))
}
