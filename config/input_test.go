package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSpecOverTheSizeLimitIsRefused: a spec over 1 MiB is refused with
// its size, before Temporal refuses it at start with a raw gRPC error.
func TestSpecOverTheSizeLimitIsRefused(t *testing.T) {
	big := "name: m\nphases: [{phase: validate, hook: {run: {command: [a]}}}]\n# " + strings.Repeat("x", MaxSpecBytes) + "\n"
	_, err := ParseSpec([]byte(big))
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("the spec is %d bytes (1.0 MiB), over the limit of 1048576 bytes (1 MiB)", len(big)))

	path := filepath.Join(t.TempDir(), "big.yaml")
	require.NoError(t, os.WriteFile(path, []byte(big), 0o600))
	_, err = LoadSpec(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("the spec is %d bytes (1.0 MiB), over the limit", len(big)))

	// Just under the limit is fine.
	ok := "name: m\nphases: [{phase: validate, hook: {run: {command: [a]}}}]\n# " + strings.Repeat("x", MaxSpecBytes-200) + "\n"
	_, err = ParseSpec([]byte(ok))
	require.NoError(t, err)
}

// TestLoadSpecReadsAtMostTheLimit: a path that never ends (/dev/zero)
// fails at once instead of filling the memory.
func TestLoadSpecReadsAtMostTheLimit(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	done := make(chan error, 1)
	go func() {
		_, err := LoadSpec("/dev/zero")
		done <- err
	}()
	select {
	case err := <-done:
		require.Error(t, err)
		assert.Contains(t, err.Error(), "the spec is more than 1048576 bytes, over the limit")
	case <-time.After(30 * time.Second):
		t.Fatal("LoadSpec(/dev/zero) still reading after 30s: it must stop after MaxSpecBytes+1 bytes")
	}
}

// TestWrittenZerosAreRefusedWithTheirRange: a 0 that has no meaning is
// refused, naming the range, instead of silently becoming the default.
func TestWrittenZerosAreRefusedWithTheirRange(t *testing.T) {
	spec := `name: m
defaults:
  retry: {backoffCoefficient: 0}
phases:
  - phase: validate
    retry: {maxAttempts: 0}
    hook: {run: {command: [a]}}
`
	_, err := ParseSpec([]byte(spec))
	require.Error(t, err)
	var errs FieldErrors
	require.ErrorAs(t, err, &errs)
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	assert.Equal(t, []string{
		"defaults.retry.backoffCoefficient (line 3): must be at least 1, not 0" + zeroNote,
		"phases[0].retry.maxAttempts (line 6): must be at least 1 (1 means no retry), not 0" + zeroNote,
	}, got)
}

// TestZerosThatMeanSomethingStay: a written 0 that Check accepts keeps
// what the defaults make of it (here: nothing refuses a 0 there).
func TestZerosThatMeanSomethingStay(t *testing.T) {
	spec, err := ParseSpec([]byte(`name: m
phases:
  - phase: validate
    approval: {gate: go, timeout: 0s}
    hook: {run: {command: [a]}}
`))
	require.NoError(t, err)
	assert.Zero(t, spec.Phases[0].Approval.Timeout, "an approval timeout of 0 waits for ever")
	assert.Equal(t, DefaultMaxAttempts, spec.Phases[0].Retry.MaxAttempts)
}

// TestPrepareFillsDefaultsOfAJSONSpec: a spec sent as JSON by another
// client, without defaults, is filled as ParseSpec fills a YAML one.
func TestPrepareFillsDefaultsOfAJSONSpec(t *testing.T) {
	var spec Spec
	require.NoError(t, json.Unmarshal([]byte(`{"name":"x","phases":[{"phase":"validate","hook":{"run":{"command":["true"]}}}]}`), &spec))
	require.Nil(t, spec.Phases[0].Retry, "the input has no retry policy")
	require.NoError(t, spec.Prepare())
	require.NotNil(t, spec.Phases[0].Retry)
	assert.Equal(t, DefaultMaxAttempts, spec.Phases[0].Retry.MaxAttempts)
	assert.Equal(t, Duration(DefaultPhaseTimeout), spec.Phases[0].Timeout)
	assert.Equal(t, Duration(DefaultCommandTimeout), spec.Phases[0].Hook().Run.Timeout)

	var bad Spec
	require.NoError(t, json.Unmarshal([]byte(`{"name":"x","phases":[{"phase":"validate"}]}`), &bad))
	err := bad.Prepare()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "phases[0]: has no action")
}

// TestUnclosedQuoteIsReportedAtItsLine: yaml.v3 reports where it gave up
// (the end of the file, the next key, the line before); the spec's error
// points at the quote.
func TestUnclosedQuoteIsReportedAtItsLine(t *testing.T) {
	cases := []struct {
		name, yaml string
		line       int
		want       string
	}{
		{"in a value, closed by a later quote", "name: m\ndescription: \"abc\nphases:\n  - phase: \"validate\"\n    hook: {run: {command: [a]}}\n",
			2, `not valid YAML: the value that starts with " here is not closed on this line: end it with "`},
		{"on the first line", "name: \"m\nphases:\n  - phase: validate\n", 1, `the value that starts with " here is not closed`},
		{"in a flow list", "name: m\nphases:\n  - phase: validate\n    hook:\n      run:\n        command: [echo, \"hi]\n        dir: \"x\"\n",
			6, `the value that starts with " here is not closed`},
		{"an apostrophe in single quotes", "name: m\nphases:\n  - phase: validate\n    name: 'it's'\n    hook: {run: {command: [a]}}\n",
			4, `text "s'" follows the value closed by ' here: a ' inside '...' is written ''`},
		{"over two lines, never closed", "name: m\ndescription: \"starts here\n  and goes on\nphases:\n  - phase: validate\n    hook: {run: {command: [\"true\"]}}\n",
			2, "the value that starts with \" here is not closed on this line: end it with \" (a \" inside it is written \\\")\n" +
				"    2 | description: \"starts here\n" +
				"      |              ^"},
		{"a value over two lines that closes is not blamed for a later mistake", "name: m\ndescription: \"a long\n  description\"\nphases:\n\t- phase: validate\n",
			5, "a tab? YAML indents with spaces only)\n    5 | \t- phase: validate"},
		{"the caret counts characters, not bytes", "name: m\ndescription: \"Zoë's\" text\nphases: []\n",
			2, "    2 | description: \"Zoë's\" text\n      |                    ^"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseSpec([]byte(c.yaml))
			require.Error(t, err)
			var errs FieldErrors
			require.ErrorAs(t, err, &errs)
			require.Len(t, errs, 1, err.Error())
			assert.Equal(t, c.line, errs[0].Line, err.Error())
			assert.Contains(t, errs[0].Message, c.want)
		})
	}
}

// TestUnclosedBracketIsReportedAtItsLine: for a flow collection left open
// yaml.v3 names the line before the bracket's; the spec's error points at
// the bracket.
func TestUnclosedBracketIsReportedAtItsLine(t *testing.T) {
	cases := []struct {
		name, yaml string
		line       int
		want       string
	}{
		{"a flow mapping at the end", "name: m\nphases:\n  - phase: copy\n    hook: {run: {command: [a]}\n",
			4, "the { here is not closed: end it with }\n    4 |     hook: {run: {command: [a]}\n      |           ^"},
		{"a flow mapping before the next item", "name: m\nphases:\n  - phase: copy\n    hook: {run: {command: [a]}\n  - phase: reconcile\n    hook: {run: {command: [b]}}\n",
			4, "the { here is not closed: end it with }"},
		{"a flow list before the next key", "name: m\nphases:\n  - phase: validate\n    hook:\n      run:\n        command: [echo, hi\n        dir: /tmp\n",
			6, "the [ here is not closed: end it with ]\n    6 |         command: [echo, hi\n      |                  ^"},
		{"a list closed by a brace", "name: m\nphases:\n  - phase: validate\n    hook: {run: {command: [echo, hi}}}\n",
			4, "the [ here is closed by }: end it with ]"},
		{"a flow mapping over two lines that closes is not blamed", "name: m\nphases:\n  - phase: validate\n    hook: {run: {command: [a],\n      dir: /tmp}}\n    retry: {maxAttempts: 2\n",
			6, "the { here is not closed: end it with }"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseSpec([]byte(c.yaml))
			require.Error(t, err)
			var errs FieldErrors
			require.ErrorAs(t, err, &errs)
			require.Len(t, errs, 1, err.Error())
			assert.Equal(t, c.line, errs[0].Line, err.Error())
			assert.Contains(t, errs[0].Message, c.want)
		})
	}
}

// TestQuotesThatAreFineAreNotBlamed: quotes in plain text, comments, block
// scalars and escapes do not count as unclosed.
func TestQuotesThatAreFineAreNotBlamed(t *testing.T) {
	doc := "name: it's fine # don't\ndescription: |\n  a \"quote\n  it's\nx: \"a \\\" b\"\ny: 'it''s'\nz: [\"a\", 'b']\n"
	_, _, _, found := quoteProblem([]byte(doc))
	assert.False(t, found)
}

// TestLiteralAssignment: a secret-named variable set to a literal in a
// shell script is found; references, command output and other names are not.
func TestLiteralAssignment(t *testing.T) {
	for script, want := range map[string]string{
		"PGPASSWORD=s3cret psql -h db":             "PGPASSWORD",
		"export API_TOKEN='abc'; curl x":           "API_TOKEN",
		"cd /x && DB_PASS=\"pw\" ./run":            "DB_PASS",
		"env GITHUB_TOKEN=ghp_1 gh api":            "GITHUB_TOKEN",
		"PGPASSWORD=$PGPW psql":                    "",
		"PGPASSWORD=\"${PGPW}\" psql":              "",
		"PGPASSWORD=$(cat /run/pw) psql":           "",
		"PGPASSWORD=`cat /run/pw` psql":            "",
		"TOKEN_TTL= ./y":                           "",
		"PGHOST=db PGUSER=app psql":                "",
		"psql --set=ON_ERROR_STOP=1 -c 'select 1'": "",
	} {
		assert.Equal(t, want, literalAssignment(script), script)
	}
}
