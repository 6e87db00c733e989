package deploy

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/dashboard"
	"github.com/godwit/godwit/gateway"
	"github.com/godwit/godwit/payloadcodec"
	"github.com/godwit/godwit/workermetrics"
)

var devTCP = regexp.MustCompile(`/dev/tcp/127\.0\.0\.1/(\d+)`)

// bashCheck returns the script of a `["CMD", "bash", "-c", SCRIPT]`
// healthcheck and the port it calls.
func bashCheck(t *testing.T, svc types.ServiceConfig) (string, string) {
	t.Helper()
	if svc.HealthCheck == nil {
		t.Fatalf("service %s has no healthcheck", svc.Name)
	}
	test := []string(svc.HealthCheck.Test)
	if len(test) != 4 || test[0] != "CMD" || test[1] != "bash" || test[2] != "-c" {
		t.Fatalf("service %s: healthcheck %q is not [CMD, bash, -c, SCRIPT]", svc.Name, test)
	}
	m := devTCP.FindStringSubmatch(test[3])
	if m == nil {
		t.Fatalf("service %s: healthcheck %q calls no /dev/tcp/127.0.0.1/PORT", svc.Name, test[3])
	}
	return test[3], m[1]
}

// listenPort is the port of the listen address that follows "--listen" in
// an entrypoint.
func listenPort(t *testing.T, svc types.ServiceConfig) string {
	t.Helper()
	i := slices.Index(svc.Entrypoint, "--listen")
	if i < 0 || i+1 >= len(svc.Entrypoint) {
		t.Fatalf("service %s: entrypoint %q has no --listen ADDR", svc.Name, svc.Entrypoint)
	}
	_, port, err := net.SplitHostPort(svc.Entrypoint[i+1])
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// runCheck runs script against addr (host:port) in place of the
// container's port; it returns the error bash exited with.
func runCheck(t *testing.T, script, port, addr string) error {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	script = strings.ReplaceAll(script, "/dev/tcp/127.0.0.1/"+port, "/dev/tcp/127.0.0.1/"+p)
	out, err := exec.Command("bash", "-c", script).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

// TestHealthchecksPassAgainstTheRealEndpoints runs each Godwit service's
// healthcheck script (bash, as in the image) against the very handler the
// service serves, on the port the compose file gives it, and against
// something that is not that service: the check must pass on the first
// and fail on the second.
func TestHealthchecksPassAgainstTheRealEndpoints(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash here")
	}
	root, project := loadCompose(t)
	notFound := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notFound.Close)
	// A port nothing listens on, held for the test: bound, never listened
	// on, so a connection is refused and no other test's server can take
	// it. A port closed after its listener was picked was taken once, in
	// CI's parallel packages, by a server that answered 200 on /healthz.
	closed := func() string {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { syscall.Close(fd) })
		if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			t.Fatal(err)
		}
		sa, err := syscall.Getsockname(fd)
		if err != nil {
			t.Fatal(err)
		}
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	}()

	cases := []struct {
		service string
		port    func(svc types.ServiceConfig) string // where the service listens per the compose file
		serve   func(t *testing.T) string            // the real handler; returns host:port
	}{
		{"worker", func(svc types.ServiceConfig) string {
			v := svc.Environment["GODWIT_METRICS_LISTEN"]
			if v == nil {
				t.Fatal("worker: GODWIT_METRICS_LISTEN is not set, the metrics endpoint is off")
			}
			_, port, _ := net.SplitHostPort(*v)
			return port
		}, func(t *testing.T) string {
			m, err := workermetrics.New(hclog.NewNullLogger())
			if err != nil {
				t.Fatal(err)
			}
			addr, stop, err := m.Serve("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = stop(context.Background()) })
			return addr
		}},
		{"codec-server", func(svc types.ServiceConfig) string { return listenPort(t, svc) }, func(t *testing.T) string {
			keys, err := payloadcodec.ParseKeyring("test", "k1:"+strings.Repeat("A", 43)+"=")
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(payloadcodec.NewHTTPHandler(payloadcodec.New(keys), payloadcodec.ServerOptions{AllowedOrigins: []string{"http://localhost:8080"}}))
			t.Cleanup(srv.Close)
			return srv.Listener.Addr().String()
		}},
		{"dashboard", func(svc types.ServiceConfig) string { return listenPort(t, svc) }, func(t *testing.T) string {
			s, err := dashboard.New(dashboard.Options{Token: "t"})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(s)
			t.Cleanup(srv.Close)
			return srv.Listener.Addr().String()
		}},
		{"gateway", func(svc types.ServiceConfig) string {
			cfg, err := gateway.LoadConfig(filepath.Join(root, "deploy", "gateway.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			_, port, _ := net.SplitHostPort(cfg.Admin.Listen)
			return port
		}, func(t *testing.T) string {
			cfg, err := gateway.LoadConfig(filepath.Join(root, "deploy", "gateway.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			cfg.StateFile = filepath.Join(t.TempDir(), "state.json")
			g, err := gateway.New(gateway.Options{Config: cfg, Token: "t"})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(g.AdminHandler())
			t.Cleanup(srv.Close)
			return srv.Listener.Addr().String()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.service, func(t *testing.T) {
			svc := project.Services[tc.service]
			script, port := bashCheck(t, svc)
			if want := tc.port(svc); port != want {
				t.Fatalf("the healthcheck calls port %s, the service listens on %s", port, want)
			}
			if err := runCheck(t, script, port, tc.serve(t)); err != nil {
				t.Errorf("healthcheck fails against the real %s: %v\nscript: %s", tc.service, err, script)
			}
			if err := runCheck(t, script, port, notFound.Listener.Addr().String()); err == nil {
				t.Errorf("healthcheck passes against a server that answers 404 to everything\nscript: %s", script)
			}
			if err := runCheck(t, script, port, closed); err == nil {
				t.Errorf("healthcheck passes with nothing listening\nscript: %s", script)
			}
		})
	}
}
