package integration

// Helpers of the fault-injection suite (faults_*_test.go): real
// godwit-worker processes killed with SIGKILL at chosen points, TCP proxies
// that inject database faults (toxiproxy, in-process), and the CLI pointed
// at a dev server of a test's own.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/godwit/godwit/cli"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/migration"
)

// workerProc is one godwit-worker process of a fault test.
type workerProc struct {
	cmd  *exec.Cmd
	logs *syncBuffer
}

// startWorkerAt runs the godwit-worker binary against a Temporal address
// on queue, with extra environment variables, until the test ends.
func startWorkerAt(t *testing.T, address, queue string, env ...string) *workerProc {
	t.Helper()
	w := &workerProc{logs: &syncBuffer{}}
	w.cmd = exec.Command(buildWorker(t), "--address", address, "--task-queue", queue, "--log-format", "json")
	w.cmd.Env = append(os.Environ(), env...)
	w.cmd.Stdout, w.cmd.Stderr = w.logs, w.logs
	require.NoError(t, w.cmd.Start())
	t.Cleanup(w.kill)
	return w
}

// kill ends the worker with SIGKILL: no drain, no goodbye, as a crashed
// machine would.
func (w *workerProc) kill() {
	_ = w.cmd.Process.Signal(syscall.SIGKILL)
	_, _ = w.cmd.Process.Wait()
}

// logLines returns the worker's JSON log lines, decoded.
func (w *workerProc) logLines() []map[string]any {
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(w.logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			lines = append(lines, m)
		}
	}
	return lines
}

// logged reports whether the worker logged a line with the message and
// every field given (values compared as printed).
func (w *workerProc) logged(msg string, fields map[string]string) bool {
	for _, l := range w.logLines() {
		if l["@message"] != msg {
			continue
		}
		ok := true
		for k, v := range fields {
			if fmt.Sprint(l[k]) != v {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// waitLogged polls the worker's log until logged holds; it polls often so
// that a kill lands within milliseconds of the line.
func (w *workerProc) waitLogged(t *testing.T, within time.Duration, msg string, fields map[string]string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !w.logged(msg, fields) {
		if time.Now().After(deadline) {
			t.Fatalf("the worker did not log %q %v within %s:\n%s", msg, fields, within, w.logs.String())
		}
		time.Sleep(3 * time.Millisecond)
	}
}

// godwitAt runs the CLI in-process against a Temporal address of the
// test's own.
func godwitAt(t *testing.T, address, queue string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := cli.NewRootCommand(&out, &errOut)
	root.SetArgs(append(args, "--address", address, "--task-queue", queue))
	err := root.Execute()
	return out.String() + errOut.String(), err
}

// statusAt is `godwit status NAME -o json` against address.
func statusAt(t *testing.T, address, queue, name string) migration.Report {
	t.Helper()
	out, err := godwitAt(t, address, queue, "status", name, "-o", "json")
	require.NoError(t, err, out)
	var rep migration.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	return rep
}

// waitReport polls the status until cond holds.
func waitReport(t *testing.T, address, queue, name, what string, within time.Duration, cond func(migration.Report) bool) migration.Report {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		out, err := godwitAt(t, address, queue, "status", name, "-o", "json")
		var rep migration.Report
		if err == nil && json.Unmarshal([]byte(out), &rep) == nil && cond(rep) {
			return rep
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last status: %s %v", within, what, out, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// faultProxy is a TCP proxy between the worker and a database server,
// into which a test injects faults (toxics) while a migration runs.
type faultProxy struct {
	*toxiproxy.Proxy
	t    *testing.T
	Addr string
}

// newFaultProxy proxies 127.0.0.1:<free port> to upstream until the test
// ends.
func newFaultProxy(t *testing.T, name, upstream string) *faultProxy {
	t.Helper()
	ports, err := freePorts(1)
	require.NoError(t, err)
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(server, name, addr, upstream)
	require.NoError(t, p.Start())
	t.Cleanup(p.Stop)
	return &faultProxy{Proxy: p, t: t, Addr: addr}
}

// add injects a toxic: typ is latency, reset_peer, timeout...; stream is
// upstream (to the database) or downstream (to the worker).
func (p *faultProxy) add(name, typ, stream string, attrs map[string]any) {
	p.t.Helper()
	body, err := json.Marshal(map[string]any{"name": name, "type": typ, "stream": stream, "attributes": attrs})
	require.NoError(p.t, err)
	_, err = p.Toxics.AddToxicJson(bytes.NewReader(body))
	require.NoError(p.t, err, "add toxic %s", name)
}

// remove takes a toxic out; the connections it broke stay broken.
func (p *faultProxy) remove(name string) {
	p.t.Helper()
	require.NoError(p.t, p.Toxics.RemoveToxic(context.Background(), name))
}

// serverAddr is the host:port of a PostgreSQL URL or MySQL DSN.
func serverAddr(t *testing.T, engine datastore.Engine, dsn string) string {
	t.Helper()
	switch engine {
	case datastore.Postgres:
		u, err := url.Parse(dsn)
		require.NoError(t, err)
		return u.Host
	case datastore.MySQL:
		i, j := strings.Index(dsn, "tcp("), strings.Index(dsn, ")/")
		require.True(t, i >= 0 && j > i, "MySQL DSN without tcp(host:port): %s", dsn)
		return dsn[i+4 : j]
	}
	t.Fatalf("%s has no server to proxy", engine)
	return ""
}

// viaProxy rewrites a DSN to reach its server through addr.
func viaProxy(t *testing.T, engine datastore.Engine, dsn, addr string) string {
	t.Helper()
	host := serverAddr(t, engine, dsn)
	if engine == datastore.MySQL {
		return strings.Replace(dsn, "tcp("+host+")", "tcp("+addr+")", 1)
	}
	return strings.Replace(dsn, "@"+host+"/", "@"+addr+"/", 1)
}

// freeAddr is a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ports, err := freePorts(1)
	require.NoError(t, err)
	return net.JoinHostPort("127.0.0.1", fmt.Sprint(ports[0]))
}
