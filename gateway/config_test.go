package gateway

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
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
