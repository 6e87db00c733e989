package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseConfig(t *testing.T) {
	good := `
listen: 127.0.0.1:18080
admin: {listen: 127.0.0.1:19090, tokenEnv: GW_TOKEN}
stateFile: /tmp/gw-state.json
routes:
  - name: users
    match: {pathPrefix: /users}
    legacy: http://127.0.0.1:8081
    new: http://127.0.0.1:8082/v2/
    weights: {read: 5}
    stickyKey: {header: X-User-ID}
    breaker: {openFor: 30s}
`
	c, err := ParseConfig([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Routes[0]
	if r.Breaker.ConsecutiveFailures != 5 || r.Breaker.OpenFor != 30*time.Second || r.Timeout != 30*time.Second ||
		r.WriteHold.MaxWait != 10*time.Second || r.Weights.Read != 5 || r.Weights.Write != 0 {
		t.Fatalf("defaults or values wrong: %+v", r)
	}

	bad := []struct {
		name, yaml, want string
	}{
		{"misspelt key", "routes: [{name: a, legacy: http://x, new: http://y, wieghts: {read: 1}}]", "wieghts"},
		{"no routes", "listen: :8080", "at least one route"},
		{"weight above 100", "routes: [{name: a, legacy: http://x, new: http://y, weights: {read: 101}}]", "0..100"},
		{"upstream without scheme", "routes: [{name: a, legacy: x:80, new: http://y}]", "legacy"},
		{"two key sources", "routes: [{name: a, legacy: http://x, new: http://y, stickyKey: {header: H, clientIP: true}}]", "stickyKey"},
		{"duplicate names", "routes: [{name: a, legacy: http://x, new: http://y}, {name: a, legacy: http://x, new: http://y}]", "duplicate"},
		{"relative prefix", "routes: [{name: a, legacy: http://x, new: http://y, match: {pathPrefix: users}}]", "pathPrefix"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

func TestAdminToken(t *testing.T) {
	t.Setenv("GW_TEST_TOKEN", "from-env")
	if tok, err := (AdminConfig{TokenEnv: "GW_TEST_TOKEN"}).Token(); err != nil || tok != "from-env" {
		t.Fatalf("env token: %q, %v", tok, err)
	}
	if _, err := (AdminConfig{TokenEnv: "GW_TEST_TOKEN_UNSET"}).Token(); err == nil {
		t.Fatal("an unset token variable was accepted")
	}
	if tok, err := (AdminConfig{}).Token(); err != nil || tok != "" {
		t.Fatalf("no token configured: %q, %v", tok, err)
	}
}

// A state file the gateway could not save to is refused when it starts,
// naming the field and the directory, not at its first save after an admin
// change (which it would already have applied).
func TestNewRefusesAStateFileItCannotSave(t *testing.T) {
	missingDir := filepath.Join(t.TempDir(), "no-such-dir")
	isDir := t.TempDir()
	for _, c := range []struct{ name, stateFile, want string }{
		{"missing directory", filepath.Join(missingDir, "state.json"),
			"stateFile: directory " + missingDir + " does not exist: create it (mkdir -p " + missingDir + ")"},
		{"a directory", isDir, "stateFile: " + isDir + " is a directory: name a file in it"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte("stateFile: " + c.stateFile + "\nroutes: [{name: a, legacy: http://x, new: http://y}]"))
			if err != nil {
				t.Fatalf("the file itself is valid: %v", err)
			}
			_, err = New(Options{Config: cfg})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

// A mistake in gateway.yaml is reported the way the spec's are: the field's
// path and line, what is wrong in words rather than Go types, the field a
// misspelt key was probably meant to be, and every mistake at once.
func TestParseConfigNamesTheFieldAndLine(t *testing.T) {
	for _, c := range []struct {
		name, yaml string
		want       []string
	}{
		{"misspelt key", "routes:\n  - name: a\n    legacy: http://x\n    new: http://y\n    wieghts: {read: 1}\n",
			[]string{`routes[0].wieghts (line 5): unknown field (did you mean "weights"?); known fields here: name, match, legacy, new, weights,`}},
		{"misspelt top-level key", "listen: :8080\nstatFile: /tmp/s.json\nroutes: [{name: a, legacy: http://x, new: http://y}]\n",
			[]string{`statFile (line 2): unknown field (did you mean "stateFile"?)`}},
		{"text for a number", "routes:\n  - name: a\n    legacy: http://x\n    new: http://y\n    weights:\n      read: half\n",
			[]string{`routes[0].weights.read (line 6): must be a whole number, not "half"`}},
		{"a number for a duration", "routes:\n  - name: a\n    legacy: http://x\n    new: http://y\n    timeout: 5\n",
			[]string{`routes[0].timeout (line 5): "5" is not a duration: write a number with a unit, such as 30s, 5m or 1h30m`}},
		{"a tab in the indentation", "listen: :8080\nroutes:\n\t- name: a\n",
			[]string{`(document) (line 3): not valid YAML: found character that cannot start any token (a tab? YAML indents with spaces only)`}},
		{"a list for a mapping", "admin: [127.0.0.1:9090]\nroutes: [{name: a, legacy: http://x, new: http://y}]\n",
			[]string{`admin (line 1): must be a mapping (key: value lines), not a list`}},
		{"every mistake at once", "routes:\n  - name: a\n    legacy: http://x\n    new: http://y\n    shadow: {enabled: yes}\n    breaker: {consecutiveFailures: -1}\n",
			[]string{`routes[0].shadow.enabled (line 5): must be true or false, not "yes"`,
				`routes[0].breaker.consecutiveFailures (line 6): must be a whole number, 0 or more, not "-1"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(c.yaml))
			if err == nil {
				t.Fatal("the configuration was accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\nwant it to contain\n%s", err, w)
				}
			}
			if strings.Contains(err.Error(), "gateway.") || strings.Contains(err.Error(), "!!") {
				t.Errorf("error names Go types or YAML tags: %v", err)
			}
		})
	}
}

// A refused file is named in the error, so a reload or restart refused in
// the log (or a gateway per host) says which file to fix; a trial saw
// "reload refused; ...: parse gateway config: routes[0].wieghts (line 12)"
// without it.
func TestLoadConfigNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gw1.yaml")
	require.NoError(t, os.WriteFile(path, []byte("routes:\n  - name: users\n    legacy: http://127.0.0.1:1\n    new: http://127.0.0.1:2\n    wieghts: {read: 0}\n"), 0o600))
	_, err := LoadConfig(path)
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), path+": parse gateway config: routes[0].wieghts (line 5): unknown field"), err.Error())

	require.NoError(t, os.WriteFile(path, []byte("routes:\n  - name: users\n    new: http://127.0.0.1:2\n"), 0o600))
	_, err = LoadConfig(path)
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), path+": "), err.Error())
}
