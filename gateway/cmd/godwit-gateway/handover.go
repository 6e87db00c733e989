package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/godwit/godwit/gateway"
)

// A successor started by SIGUSR2 finds its inherited sockets through these
// variables: the descriptor numbers of the traffic and admin listeners, and
// of the pipe on which it says it is ready.
const (
	envTrafficFD = "GODWIT_GATEWAY_TRAFFIC_FD"
	envAdminFD   = "GODWIT_GATEWAY_ADMIN_FD"
	envReadyFD   = "GODWIT_GATEWAY_READY_FD"
)

// readyTimeout bounds how long a predecessor waits for its successor.
const readyTimeout = 60 * time.Second

// processListeners are the process's two listening sockets and, in a
// successor, the pipe to the predecessor.
type processListeners struct {
	traffic, admin net.Listener
	ready          *os.File
}

// listeners opens the configured listeners, or takes over the ones a
// predecessor passed down.
func listeners(cfg gateway.Config, log hclog.Logger) (*processListeners, error) {
	if os.Getenv(envTrafficFD) == "" {
		traffic, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("listen for traffic: %w", err)
		}
		admin, err := net.Listen("tcp", cfg.Admin.Listen)
		if err != nil {
			_ = traffic.Close()
			return nil, fmt.Errorf("listen for admin API: %w", err)
		}
		return &processListeners{traffic: traffic, admin: admin}, nil
	}
	lns := &processListeners{}
	var err error
	if lns.traffic, err = inherited(envTrafficFD, "traffic"); err != nil {
		return nil, err
	}
	if lns.admin, err = inherited(envAdminFD, "admin"); err != nil {
		_ = lns.traffic.Close()
		return nil, err
	}
	if fd, err := strconv.Atoi(os.Getenv(envReadyFD)); err == nil {
		lns.ready = os.NewFile(uintptr(fd), "ready")
	}
	for _, v := range []string{envTrafficFD, envAdminFD, envReadyFD} {
		_ = os.Unsetenv(v) // this process's own successor gets fresh ones
	}
	for _, c := range []struct{ name, configured, got string }{
		{"listen", cfg.Listen, lns.traffic.Addr().String()},
		{"admin.listen", cfg.Admin.Listen, lns.admin.Addr().String()},
	} {
		if c.configured != c.got {
			log.Warn("serving on the inherited socket, not the configured address; stop and start the gateway to move it",
				"setting", c.name, "configured", c.configured, "inherited", c.got)
		}
	}
	log.Info("took over the listening sockets of the previous process", "traffic", lns.traffic.Addr().String(),
		"admin", lns.admin.Addr().String())
	return lns, nil
}

func inherited(env, what string) (net.Listener, error) {
	fd, err := strconv.Atoi(os.Getenv(env))
	if err != nil {
		return nil, fmt.Errorf("%s=%q: want a descriptor number", env, os.Getenv(env))
	}
	f := os.NewFile(uintptr(fd), what)
	defer f.Close() // FileListener keeps a duplicate
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("inherited %s socket (descriptor %d): %w", what, fd, err)
	}
	return ln, nil
}

// signalReady tells the predecessor that this process serves.
func (l *processListeners) signalReady() error {
	if l.ready == nil {
		return nil
	}
	defer l.ready.Close()
	_, err := io.WriteString(l.ready, "ready\n")
	return err
}

func (l *processListeners) close() {
	_ = l.traffic.Close()
	_ = l.admin.Close()
}

// handOver starts a successor on the same listening sockets and waits until
// it serves. The state is saved first and changes are refused from then on
// (503, retried by the callers until they reach the successor), so the
// successor starts from the last state this process accepted. On any
// failure the hand-over is undone and this process goes on serving.
func handOver(g *gateway.Gateway, lns *processListeners, configPath string, log hclog.Logger) error {
	// A configuration the successor would refuse is found here, before
	// anything changes.
	if _, _, err := loadConfig(configPath); err != nil {
		return err
	}
	if err := g.HandOver(); err != nil {
		return err
	}
	pid, err := startSuccessor(lns, log)
	if err != nil {
		g.AbortHandOver()
		return err
	}
	log.Info("successor serving; this process drains and exits", "successor", pid)
	return nil
}

// startSuccessor runs this program again with the same arguments, passing
// the listening sockets as descriptors 3 and 4 and a pipe as 5, and waits
// for "ready" on the pipe.
//
// It uses syscall.ForkExec on the sockets' own descriptors rather than
// exec.Cmd.ExtraFiles: ExtraFiles takes *os.File, whose Fd() switches the
// shared open file to blocking mode, and with it this process's listener.
func startSuccessor(lns *processListeners, log hclog.Logger) (int, error) {
	path, err := executable()
	if err != nil {
		return 0, err
	}
	trafficFD, err := socketFD(lns.traffic)
	if err != nil {
		return 0, err
	}
	adminFD, err := socketFD(lns.admin)
	if err != nil {
		return 0, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("ready pipe: %w", err)
	}
	defer r.Close()
	env := make([]string, 0, len(os.Environ())+3)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name != envTrafficFD && name != envAdminFD && name != envReadyFD {
			env = append(env, kv)
		}
	}
	env = append(env, envTrafficFD+"=3", envAdminFD+"=4", envReadyFD+"=5")
	pid, err := syscall.ForkExec(path, os.Args, &syscall.ProcAttr{
		Env:   env,
		Files: []uintptr{0, 1, 2, trafficFD, adminFD, w.Fd()},
	})
	_ = w.Close() // the successor holds the write end now
	if err != nil {
		return 0, fmt.Errorf("start successor %s: %w", path, err)
	}
	proc, _ := os.FindProcess(pid)
	exited := make(chan error, 1)
	go func() {
		st, err := proc.Wait() // reaps a successor that fails; one that serves outlives this process
		if err == nil {
			err = fmt.Errorf("successor (pid %d) exited: %s", pid, st)
		}
		exited <- err
	}()
	log.Info("started successor; waiting until it serves", "successor", pid)
	answer := make(chan error, 1)
	go func() {
		line := make([]byte, 6)
		_, err := io.ReadFull(r, line)
		if err == nil && string(line) != "ready\n" {
			err = fmt.Errorf("successor said %q", line)
		}
		answer <- err
	}()
	select {
	case err := <-answer:
		if err == nil {
			return pid, nil
		}
		// The pipe closed without "ready": the successor failed to start
		// (its log says why); wait for its exit status.
		select {
		case e := <-exited:
			return 0, e
		case <-time.After(5 * time.Second):
			return 0, fmt.Errorf("successor (pid %d) did not become ready: %w", pid, err)
		}
	case err := <-exited:
		return 0, err
	case <-time.After(readyTimeout):
		_ = proc.Kill()
		return 0, errors.New("successor did not become ready within " + readyTimeout.String() + "; stopped it")
	}
}

// executable is the program to run again: the path it was started by, so an
// upgraded binary put in its place is the one that starts.
func executable() (string, error) {
	if p, err := exec.LookPath(os.Args[0]); err == nil {
		return p, nil
	}
	return os.Executable()
}

// socketFD is a listener's descriptor, valid while the listener is open.
func socketFD(ln net.Listener) (uintptr, error) {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return 0, fmt.Errorf("listener %s has no descriptor", ln.Addr())
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var fd uintptr
	if err := rc.Control(func(f uintptr) { fd = f }); err != nil {
		return 0, err
	}
	return fd, nil
}
