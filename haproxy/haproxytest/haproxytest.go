// Package haproxytest starts a real haproxy for tests.
package haproxytest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/godwit/godwit/haproxy"
)

// Start runs a real haproxy (scripts/test.sh installs it from
// Debian) with a runtime socket at level admin in a temp dir and a backend
// be of two servers, s1 and s2, at weight 100 and 0.
func Start(t testing.TB) haproxy.Runtime {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Fatal("haproxy is not installed: run scripts/test.sh (it installs Debian's haproxy) or apt-get install haproxy")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "admin.sock")
	cfg := fmt.Sprintf(`global
  stats socket %s mode 600 level admin
defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 5s
frontend fe
  bind unix@%s
  default_backend be
backend be
  server s1 127.0.0.1:1 weight 100
  server s2 127.0.0.1:2 weight 0
`, sock, filepath.Join(dir, "fe.sock"))
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-db", "-f", cfgPath)
	out, _ := os.Create(filepath.Join(dir, "haproxy.log"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start haproxy: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	rt := haproxy.Runtime{Socket: sock, Timeout: 2 * time.Second}
	for i := 0; ; i++ {
		if _, err := rt.Command(context.Background(), "show info"); err == nil {
			return rt
		}
		if i == 100 {
			log, _ := os.ReadFile(filepath.Join(dir, "haproxy.log"))
			t.Fatalf("haproxy runtime socket never answered; its log:\n%s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
