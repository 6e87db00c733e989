// Package haproxy drives a running HAProxy through its runtime API (the
// "stats socket" of its configuration, at level admin): it reads and sets
// server weights, which is how the traffic driver moves a backend's share
// between a legacy and a new server for teams that run HAProxy instead of
// godwit-gateway. It knows nothing of Temporal.
package haproxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// ErrRefused marks an answer in which HAProxy refused a command (no such
// backend or server, socket not at level admin): retrying cannot help.
var ErrRefused = errors.New("haproxy refused the command")

// Runtime talks to one HAProxy runtime socket. Each command uses its own
// connection (HAProxy's non-interactive mode), so a Runtime is safe for
// concurrent use and holds no resources.
type Runtime struct {
	// Socket is a unix socket path, or host:port for a TCP stats socket.
	Socket string
	// Timeout bounds each command (default 5s).
	Timeout time.Duration
}

// Command sends one runtime API command and returns HAProxy's answer.
func (r Runtime) Command(ctx context.Context, cmd string) (string, error) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	network := "unix"
	if !strings.Contains(r.Socket, "/") && strings.Contains(r.Socket, ":") {
		network = "tcp"
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, r.Socket)
	if err != nil {
		return "", fmt.Errorf("haproxy runtime socket %s: %w", r.Socket, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := conn.Write([]byte(cmd + "\n")); err != nil {
		return "", fmt.Errorf("haproxy %q: %w", cmd, err)
	}
	var b strings.Builder
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		b.WriteString(sc.Text())
		b.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("haproxy %q: %w", cmd, err)
	}
	return strings.TrimSpace(b.String()), nil
}

// Weight returns a server's current weight ("get weight BACKEND/SERVER").
func (r Runtime) Weight(ctx context.Context, backend, server string) (int, error) {
	out, err := r.Command(ctx, fmt.Sprintf("get weight %s/%s", backend, server))
	if err != nil {
		return 0, err
	}
	// "25 (initial 1)"
	first, _, _ := strings.Cut(out, " ")
	w, convErr := strconv.Atoi(first)
	if convErr != nil {
		return 0, fmt.Errorf("get weight %s/%s: %w: %s", backend, server, ErrRefused, out)
	}
	return w, nil
}

// SetWeight sets a server's weight (0..256); HAProxy answers nothing on
// success and a message on refusal.
func (r Runtime) SetWeight(ctx context.Context, backend, server string, weight int) error {
	if weight < 0 || weight > 256 {
		return fmt.Errorf("set weight %s/%s %d: %w: weights run 0..256", backend, server, weight, ErrRefused)
	}
	out, err := r.Command(ctx, fmt.Sprintf("set weight %s/%s %d", backend, server, weight))
	if err != nil {
		return err
	}
	if out != "" {
		return fmt.Errorf("set weight %s/%s %d: %w: %s", backend, server, weight, ErrRefused, out)
	}
	return nil
}

// Split sets a backend's legacy and new servers so that percent% of new
// connections go to new: weights 100-percent and percent. New goes first
// when it shrinks and last when it grows, so the share of new never
// overshoots the target in between.
func (r Runtime) Split(ctx context.Context, backend, legacy, newServer string, percent int) error {
	if percent < 0 || percent > 100 {
		return fmt.Errorf("split %s: %w: %d is not a percentage", backend, ErrRefused, percent)
	}
	cur, err := r.Weight(ctx, backend, newServer)
	if err != nil {
		return err
	}
	steps := []struct {
		server string
		weight int
	}{{legacy, 100 - percent}, {newServer, percent}}
	if percent < cur {
		steps[0], steps[1] = steps[1], steps[0]
	}
	for _, s := range steps {
		if err := r.SetWeight(ctx, backend, s.server, s.weight); err != nil {
			return err
		}
	}
	return nil
}

// Percent returns new's share, 0..100, from the two servers' weights.
func (r Runtime) Percent(ctx context.Context, backend, legacy, newServer string) (int, error) {
	lw, err := r.Weight(ctx, backend, legacy)
	if err != nil {
		return 0, err
	}
	nw, err := r.Weight(ctx, backend, newServer)
	if err != nil {
		return 0, err
	}
	if lw+nw == 0 {
		return 0, nil
	}
	return (100*nw + (lw+nw)/2) / (lw + nw), nil
}
