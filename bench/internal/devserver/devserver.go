// Package devserver starts a Temporal dev server of a benchmark's own, on
// free ports, with Godwit's search attributes, so a bench never meets a
// server (or workflows) another run left.
package devserver

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// Start runs `temporal server start-dev` (GODWIT_TEMPORAL_BIN, default
// bin/temporal) and waits until it listens; it returns the frontend's
// address and a function that stops the server.
func Start() (address string, stop func(), err error) {
	bin := os.Getenv("GODWIT_TEMPORAL_BIN")
	if bin == "" {
		bin = "bin/temporal"
	}
	if _, err := os.Stat(bin); err != nil {
		return "", nil, fmt.Errorf("the Temporal CLI: %w (run ./scripts/test.sh, or set GODWIT_TEMPORAL_BIN)", err)
	}
	ports := make([]int, 3)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", nil, err
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close() // free again for the server; a race with another process is unlikely
	}
	address = fmt.Sprintf("127.0.0.1:%d", ports[0])
	var logs bytes.Buffer
	cmd := exec.Command(bin, "server", "start-dev", "--headless", "--ip", "127.0.0.1",
		"--port", strconv.Itoa(ports[0]), "--http-port", strconv.Itoa(ports[1]), "--metrics-port", strconv.Itoa(ports[2]),
		"--search-attribute", "MigrationPhase=Keyword", "--search-attribute", "MigrationStatus=Keyword",
		"--search-attribute", "ReplicationLag=Double", "--log-level", "error")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop = func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	deadline := time.Now().Add(60 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", address, time.Second); err == nil {
			c.Close()
			return address, stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("temporal dev server did not listen: %s", logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
