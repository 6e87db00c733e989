// Package hook runs a configured command as a migration phase's action or
// compensation: it builds the command's environment, streams and redacts its
// output, keeps a bounded tail of it, and makes sure a timed-out or cancelled
// command dies together with everything it started. It knows nothing of
// Temporal; the activity layer decides what a failure means.
package hook

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
)

const (
	defaultMaxOutput    = 16384
	defaultTickInterval = 5 * time.Second

	// killGrace is how long a process group gets between SIGTERM and SIGKILL.
	killGrace = 2 * time.Second
	// waitDelay bounds how long Wait waits for the output pipe to close after
	// the command exited or was cancelled: a background child may hold it open.
	// It is longer than killGrace so that, on cancellation, the group has been
	// SIGKILLed (and the pipe closed) before exec gives up on it.
	waitDelay = killGrace + time.Second

	// readBufSize is the size of a single read of the output; a longer line is
	// handled in pieces, so output memory stays bounded whatever the command prints.
	readBufSize = 64 << 10

	// tailErrorBytes is about how much output an ExitError message carries.
	tailErrorBytes = 500

	recordsPrefix    = "godwit:records="
	progressPrefix   = "godwit:progress="
	checkpointPrefix = "godwit:checkpoint="
	outputPrefix     = "godwit:output."
	// maxOutputValue and maxOutputs bound the outputs a hook hands on:
	// they travel in the workflow's history.
	maxOutputValue = 1024
	maxOutputs     = 32
	// maxCheckpoint bounds a checkpoint: it travels in every heartbeat.
	maxCheckpoint = 4096
	redacted      = "***"

	// godwitEnvPrefix marks the worker's own settings and credentials
	// (GODWIT_TEMPORAL_APIKEY, GODWIT_CODEC_KEYS, ...), which never reach
	// a command from the worker's environment: the only GODWIT_* variables
	// a hook sees are those the caller sets in Command.Env.
	godwitEnvPrefix = "GODWIT_"
)

// BaseEnv are the variables of the worker's environment every command
// gets: what a program needs to run and to format text, nothing that could
// be a credential. Anything else it gets from Command.Env or names in
// Command.Inherit.
var BaseEnv = []string{"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"}

// Command is a process to run.
type Command struct {
	Argv []string          // program and arguments; Argv[0] looked up in PATH
	Env  map[string]string // the command's own variables (override inherited values)
	// Inherit names variables of the worker's environment the command gets
	// beyond BaseEnv (an explicit allow-list; unset ones are skipped).
	// GODWIT_* names are never inherited.
	Inherit []string
	Dir     string        // working directory; "" = the worker's
	Timeout time.Duration // 0 = no timeout of its own (ctx still applies)
}

// Options tune a run.
type Options struct {
	MaxOutput    int            // bytes of combined stdout+stderr kept (the TAIL is kept); default 16384
	Redact       []string       // secret values: every occurrence, and of each of their Variants, is replaced by "***" in the captured output and in log lines; empty strings ignored
	Logger       hclog.Logger   // each output line logged at Info ("hook output", "line", ...), redacted; nil = hclog.NewNullLogger()
	Tick         func(Progress) // called every TickInterval while the process runs, with the progress reported so far (the activity heartbeats here); may be nil
	TickInterval time.Duration  // default 5s
}

// Progress is what a running command has reported about itself through
// marker lines: "godwit:records=N" (records moved so far),
// "godwit:progress=P" (percent done, 0-100) and "godwit:checkpoint=TEXT"
// (where to resume after a crash, at most 4096 bytes).
type Progress struct {
	Records    int64
	Percent    float64
	Checkpoint string
}

// Outputs are the named values a command reported with marker lines
// "godwit:output.NAME=VALUE" (last one wins), for later phases.
type Outputs map[string]string

// Result is what a finished command produced.
type Result struct {
	ExitCode  int           // -1 when the command did not start or its status is unknown
	Output    string        // redacted tail of combined output, at most MaxOutput bytes plus a leading marker "[... N bytes cut ...]\n" when cut
	Truncated bool          // Output lost its beginning
	Duration  time.Duration // from start to exit
	Progress  Progress      // what the marker lines reported: records ("godwit:records=N", last one wins), percent, checkpoint
	Outputs   Outputs       // "godwit:output.NAME=VALUE" lines, redacted; nil when none
}

// ExitError is returned when the command ran but exited non-zero.
type ExitError struct {
	Code int    // exit code; 128+signal when killed by a signal, as shells report it
	Tail string // last line(s) of the redacted output, at most about 500 bytes
}

// Error reports the exit code and the end of the output, where the reason
// for a failure usually is.
func (e *ExitError) Error() string {
	if e.Tail == "" {
		return fmt.Sprintf("exited with code %d", e.Code)
	}
	return fmt.Sprintf("exited with code %d: %s", e.Code, e.Tail)
}

// ErrTimeout is returned, wrapped, when Command.Timeout expires.
var ErrTimeout = errors.New("command timed out")

// Run runs cmd and waits for it. The Result is filled as far as known even
// when an error is returned.
func Run(ctx context.Context, cmd Command, opts Options) (Result, error) {
	res := Result{ExitCode: -1}
	if len(cmd.Argv) == 0 || cmd.Argv[0] == "" {
		return res, errors.New("empty command")
	}
	opts = withDefaults(opts)
	env, err := environ(cmd)
	if err != nil {
		return res, err
	}

	runCtx := ctx
	var timeoutErr error
	if cmd.Timeout > 0 {
		// The cause tells our own timeout apart from the caller's deadline.
		timeoutErr = fmt.Errorf("%w after %s", ErrTimeout, cmd.Timeout)
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeoutCause(ctx, cmd.Timeout, timeoutErr)
		defer cancel()
	}

	c := exec.CommandContext(runCtx, cmd.Argv[0], cmd.Argv[1:]...)
	c.Env = env
	c.Dir = cmd.Dir
	// Its own process group, so that killing the group also kills whatever
	// a shell hook started.
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var killTimer atomic.Pointer[time.Timer]
	c.Cancel = func() error {
		pgid := c.Process.Pid
		if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil {
			if errors.Is(err, syscall.ESRCH) {
				return os.ErrProcessDone
			}
			return err
		}
		killTimer.Store(time.AfterFunc(killGrace, func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) }))
		return nil
	}
	c.WaitDelay = waitDelay

	// The same writer for both streams makes exec use one pipe, so stdout and
	// stderr lines stay in the order the command wrote them.
	pr, pw := io.Pipe()
	c.Stdout = pw
	c.Stderr = pw
	out := newOutput(opts)

	opts.Logger.Debug("hook starting", "argv", out.redactString(strings.Join(cmd.Argv, " ")), "dir", cmd.Dir)
	start := time.Now()
	if err := c.Start(); err != nil {
		pw.Close()
		return res, fmt.Errorf("start %q: %w", cmd.Argv[0], err)
	}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		out.consume(pr)
	}()
	stopTick := startTicker(opts.Tick, out.progress, opts.TickInterval)

	waitErr := c.Wait()
	res.Duration = time.Since(start)
	stopTick()
	// exec's copying goroutine has finished once Wait returned; closing the
	// writer lets the reader drain what is left and stop.
	pw.Close()
	<-readDone

	if runCtx.Err() != nil {
		// Whatever of the group survived SIGTERM gets no more chances.
		if t := killTimer.Load(); t != nil {
			t.Stop()
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		}
	}

	res.Output, res.Truncated = out.tail.String()
	res.Progress = out.progress()
	res.Outputs = out.takeOutputs()
	if c.ProcessState != nil {
		res.ExitCode = exitCode(c.ProcessState)
	}
	opts.Logger.Debug("hook finished", "exit_code", res.ExitCode, "duration", res.Duration)

	switch {
	case waitErr == nil:
		return res, nil
	case errors.Is(waitErr, exec.ErrWaitDelay):
		// The command itself succeeded; a background child it left running
		// kept the output open. That child is its business, not a failure.
		opts.Logger.Warn("hook exited but its output stayed open; background processes may still run", "wait_delay", waitDelay)
		return res, nil
	case runCtx.Err() != nil:
		if timeoutErr != nil && context.Cause(runCtx) == timeoutErr {
			return res, timeoutErr
		}
		return res, fmt.Errorf("command interrupted: %w", ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(waitErr, &ee) {
		return res, &ExitError{Code: res.ExitCode, Tail: out.tail.lastLines(tailErrorBytes)}
	}
	return res, fmt.Errorf("wait for %q: %w", cmd.Argv[0], waitErr)
}

func withDefaults(o Options) Options {
	if o.MaxOutput <= 0 {
		o.MaxOutput = defaultMaxOutput
	}
	if o.TickInterval <= 0 {
		o.TickInterval = defaultTickInterval
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	return o
}

// environ returns the command's environment: BaseEnv and the Inherit
// names from the worker's environment (never a GODWIT_* variable, which
// holds the worker's own settings and credentials), then cmd.Env, all
// sorted by name so the result does not depend on map order. Nothing else
// of the worker's environment — store DSNs, keyrings, tokens — reaches it.
func environ(cmd Command) ([]string, error) {
	vars := make(map[string]string, len(BaseEnv)+len(cmd.Inherit)+len(cmd.Env)+1)
	for _, name := range append(append([]string(nil), BaseEnv...), cmd.Inherit...) {
		if strings.HasPrefix(name, godwitEnvPrefix) {
			return nil, fmt.Errorf("inherit %s: the worker's GODWIT_* variables hold its settings and credentials and are never passed to a command", name)
		}
		if v, ok := os.LookupEnv(name); ok {
			vars[name] = v
		}
	}
	// A shell trusts PWD; the worker's would be wrong in another directory.
	if cmd.Dir != "" {
		abs, err := filepath.Abs(cmd.Dir)
		if err != nil {
			return nil, fmt.Errorf("dir %q: %w", cmd.Dir, err)
		}
		vars["PWD"] = abs
	}
	for k, v := range cmd.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, fmt.Errorf("invalid environment variable name %q", k)
		}
		vars[k] = v
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	env := make([]string, 0, len(keys))
	for _, k := range keys {
		env = append(env, k+"="+vars[k])
	}
	return env, nil
}

// startTicker calls tick every interval until the returned stop is called;
// stop returns only once tick can no longer be called, so no heartbeat
// follows the end of Run.
func startTicker(tick func(Progress), progress func() Progress, interval time.Duration) (stop func()) {
	if tick == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				tick(progress())
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// exitCode reports a death by signal as 128+signal, as shells do, so that
// it is never mistaken for success.
func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// output turns the command's output into redacted log lines, a bounded
// tail and the progress its marker lines report.
type output struct {
	logger  hclog.Logger
	secrets [][]byte // longest first, so a secret containing another is hidden whole
	maxLen  int      // length of the longest secret
	tail    *tail
	// Written by the reading goroutine, read by the ticker's.
	records    atomic.Int64
	percent    atomic.Uint64 // math.Float64bits
	checkpoint atomic.Pointer[string]
	outMu      sync.Mutex
	outputs    Outputs
}

func (o *output) takeOutputs() Outputs {
	o.outMu.Lock()
	defer o.outMu.Unlock()
	return o.outputs
}

// parseOutput takes a "godwit:output.NAME=VALUE" line, already redacted
// so that a secret never reaches history; malformed or oversized ones are
// logged and dropped.
func (o *output) parseOutput(red []byte) {
	s := strings.TrimSpace(string(red))
	rest, ok := strings.CutPrefix(s, outputPrefix)
	if !ok {
		return
	}
	name, value, ok := strings.Cut(rest, "=")
	o.outMu.Lock()
	defer o.outMu.Unlock()
	_, known := o.outputs[name]
	switch {
	case !ok || !validOutputName(name):
		o.logger.Warn("ignored output line: want godwit:output.NAME=VALUE with NAME of letters, digits and _", "line", s)
	case len(value) > maxOutputValue:
		o.logger.Warn("ignored output: value too long", "name", name, "bytes", len(value), "max", maxOutputValue)
	case !known && len(o.outputs) >= maxOutputs:
		o.logger.Warn("ignored output: too many outputs", "name", name, "max", maxOutputs)
	default:
		if o.outputs == nil {
			o.outputs = Outputs{}
		}
		o.outputs[name] = value
	}
}

func validOutputName(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

func (o *output) progress() Progress {
	p := Progress{Records: o.records.Load(), Percent: math.Float64frombits(o.percent.Load())}
	if c := o.checkpoint.Load(); c != nil {
		p.Checkpoint = *c
	}
	return p
}

func newOutput(opts Options) *output {
	o := &output{logger: opts.Logger, tail: newTail(opts.MaxOutput)}
	seen := make(map[string]bool)
	for _, secret := range opts.Redact {
		// A secret printed encoded (base64, hex, URL-encoded, reversed) is
		// as readable as the value: each form is redacted too.
		for _, s := range Variants(secret) {
			if seen[s] {
				continue
			}
			seen[s] = true
			o.secrets = append(o.secrets, []byte(s))
			o.maxLen = max(o.maxLen, len(s))
		}
	}
	sort.SliceStable(o.secrets, func(i, j int) bool { return len(o.secrets[i]) > len(o.secrets[j]) })
	return o
}

// consume reads r to the end. It reads with a bufio.Reader rather than a
// Scanner, which gives up on long lines: a line longer than the buffer is
// passed on in pieces instead.
func (o *output) consume(r io.Reader) {
	br := bufio.NewReaderSize(r, readBufSize)
	var pending []byte // the part of the current line not yet passed on
	continued := false // pending does not start at the beginning of a line
	for {
		frag, err := br.ReadSlice('\n')
		pending = append(pending, frag...)
		if errors.Is(err, bufio.ErrBufferFull) {
			// Keep back the bytes that could begin a secret completed by the
			// next read, so that redaction works across pieces.
			limit := len(pending) - max(o.maxLen-1, 0)
			if limit <= 0 {
				continue
			}
			red, n := o.redact(nil, pending, limit)
			o.emit(red)
			pending = pending[:copy(pending, pending[n:])]
			continued = true
			continue
		}
		if len(pending) > 0 {
			red, _ := o.redact(nil, pending, len(pending))
			if !continued {
				o.parseMarker(pending)
				o.parseOutput(red)
			}
			o.emit(red)
			pending = pending[:0]
			continued = false
		}
		if err != nil {
			// io.EOF, or the pipe closed: either way there is no more output.
			return
		}
	}
}

// emit stores redacted output in the tail and logs it as one line.
func (o *output) emit(red []byte) {
	o.tail.Write(red)
	line := strings.TrimRight(string(red), "\r\n")
	o.logger.Info("hook output", "line", line)
}

// parseMarker takes a records or progress marker line; malformed or
// out-of-range values are ignored, since they are only shown to people.
func (o *output) parseMarker(line []byte) {
	s := strings.TrimSpace(string(line))
	if v, ok := strings.CutPrefix(s, recordsPrefix); ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			o.records.Store(n)
		}
	}
	if v, ok := strings.CutPrefix(s, progressPrefix); ok {
		if p, err := strconv.ParseFloat(v, 64); err == nil && p >= 0 && p <= 100 {
			o.percent.Store(math.Float64bits(p))
		}
	}
	if v, ok := strings.CutPrefix(s, checkpointPrefix); ok && len(v) <= maxCheckpoint {
		o.checkpoint.Store(&v)
	}
}

// redact appends to dst the bytes of b before limit with every secret
// replaced, and returns how much of b it consumed: at least limit, more when
// a secret starting before limit ends after it. The caller guarantees that
// any secret starting before limit lies wholly within b.
func (o *output) redact(dst, b []byte, limit int) ([]byte, int) {
	if len(o.secrets) == 0 {
		return append(dst, b[:limit]...), limit
	}
	// next[k] is where secret k next occurs at or after i (-1: nowhere), so
	// that each secret's occurrences are searched for once, not per match.
	next := make([]int, len(o.secrets))
	for k, s := range o.secrets {
		next[k] = bytes.Index(b, s)
	}
	i := 0
	for i < limit {
		at, n := -1, 0
		for k, s := range o.secrets {
			if next[k] >= 0 && next[k] < i {
				if j := bytes.Index(b[i:], s); j >= 0 {
					next[k] = i + j
				} else {
					next[k] = -1
				}
			}
			// Strictly earlier wins; on a tie the longer secret, listed first.
			if next[k] >= 0 && (at < 0 || next[k] < at) {
				at, n = next[k], len(s)
			}
		}
		if at < 0 || at >= limit {
			break
		}
		dst = append(dst, b[i:at]...)
		dst = append(dst, redacted...)
		i = at + n
	}
	if i < limit {
		dst = append(dst, b[i:limit]...)
		i = limit
	}
	return dst, i
}

func (o *output) redactString(s string) string {
	red, _ := o.redact(nil, []byte(s), len(s))
	return string(red)
}

// tail keeps the last max bytes written to it, in at most 2*max bytes of
// memory, however much is written.
type tail struct {
	max     int
	buf     []byte
	written int64
}

func newTail(n int) *tail { return &tail{max: n, buf: make([]byte, 0, 2*n)} }

// Write appends p, dropping the oldest bytes once more than 2*max are held;
// compacting only then keeps the copying amortised.
func (t *tail) Write(p []byte) {
	t.written += int64(len(p))
	if len(p) >= t.max {
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		return
	}
	if len(t.buf)+len(p) > cap(t.buf) {
		keep := t.max - len(p)
		t.buf = t.buf[:copy(t.buf, t.buf[len(t.buf)-keep:])]
	}
	t.buf = append(t.buf, p...)
}

// kept returns the last max bytes, starting at a character boundary so the
// text stays valid UTF-8 when the command's was.
func (t *tail) kept() []byte {
	b := t.buf
	if len(b) > t.max {
		b = b[len(b)-t.max:]
	}
	if int64(len(b)) < t.written {
		b = trimToRuneStart(b)
	}
	return b
}

// String returns the kept output, behind a marker saying how much was cut.
func (t *tail) String() (string, bool) {
	b := t.kept()
	cut := t.written - int64(len(b))
	if cut == 0 {
		return string(b), false
	}
	return fmt.Sprintf("[... %d bytes cut ...]\n", cut) + string(b), true
}

// lastLines returns about the last n bytes of output, from the start of a
// line when one begins within them, without trailing blank space.
func (t *tail) lastLines(n int) string {
	b := bytes.TrimRight(t.kept(), " \t\r\n")
	if len(b) > n {
		b = b[len(b)-n:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 && i < len(b)-1 {
			b = b[i+1:]
		} else {
			b = trimToRuneStart(b)
		}
	}
	return string(b)
}

// trimToRuneStart drops the continuation bytes of a character cut in half.
func trimToRuneStart(b []byte) []byte {
	for i := 0; i < len(b) && i < utf8.UTFMax; i++ {
		if utf8.RuneStart(b[i]) {
			return b[i:]
		}
	}
	return b
}
