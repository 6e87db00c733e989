package hook

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sh(script string) Command { return Command{Argv: []string{"sh", "-c", script}} }

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func bufferLogger(buf *syncBuffer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Output: buf, Level: hclog.Debug, JSONFormat: true})
}

// outputLines returns the "line" values of the "hook output" entries logged.
func outputLines(t *testing.T, buf *syncBuffer) []string {
	t.Helper()
	var lines []string
	for _, raw := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var entry map[string]any
		require.NoError(t, json.Unmarshal([]byte(raw), &entry), raw)
		if entry["@message"] == "hook output" {
			lines = append(lines, entry["line"].(string))
		}
	}
	return lines
}

func TestRunCapturesOutput(t *testing.T) {
	tests := []struct {
		name    string
		script  string
		want    string
		records int64
	}{
		{"stdout", `echo hello; echo world`, "hello\nworld\n", 0},
		{"stderr merged in order", `echo one; echo two >&2; echo three`, "one\ntwo\nthree\n", 0},
		{"no trailing newline", `printf 'a\nb'`, "a\nb", 0},
		{"records from last line", "echo godwit:records=5; echo work; echo godwit:records=42; echo done", "godwit:records=5\nwork\ngodwit:records=42\ndone\n", 42},
		{"records ignores negative and junk", "echo godwit:records=7; echo godwit:records=-1; echo godwit:records=x; echo ' godwit:records=9x'", "godwit:records=7\ngodwit:records=-1\ngodwit:records=x\n godwit:records=9x\n", 7},
		{"records only at line start", "echo 'moved godwit:records=3'", "moved godwit:records=3\n", 0},
		{"empty", `true`, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Run(context.Background(), sh(tt.script), Options{})
			require.NoError(t, err)
			assert.Equal(t, 0, res.ExitCode)
			assert.Equal(t, tt.want, res.Output)
			assert.False(t, res.Truncated)
			assert.Equal(t, tt.records, res.Progress.Records)
			assert.Positive(t, res.Duration)
		})
	}
}

func TestRunNonZeroExit(t *testing.T) {
	tests := []struct {
		name     string
		script   string
		code     int
		wantTail string
		wantMsg  string
	}{
		{"code and last lines", `echo starting; echo "boom: disk full" >&2; exit 3`, 3, "starting\nboom: disk full", "exited with code 3: starting\nboom: disk full"},
		{"no output", `exit 7`, 7, "", "exited with code 7"},
		{"killed by signal", `kill -KILL $$`, 128 + 9, "", "exited with code 137"},
		{"long output keeps only the end", `i=0; while [ $i -lt 200 ]; do echo "line $i"; i=$((i+1)); done; exit 1`, 1, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Run(context.Background(), sh(tt.script), Options{})
			var ee *ExitError
			require.ErrorAs(t, err, &ee)
			assert.Equal(t, tt.code, ee.Code)
			assert.Equal(t, tt.code, res.ExitCode)
			if tt.wantMsg != "" || tt.wantTail != "" {
				assert.Equal(t, tt.wantTail, ee.Tail)
				assert.Equal(t, tt.wantMsg, err.Error())
				return
			}
			// Tail: whole lines, ending with the last one, about 500 bytes.
			assert.LessOrEqual(t, len(ee.Tail), tailErrorBytes)
			assert.Greater(t, len(ee.Tail), tailErrorBytes-20)
			assert.True(t, strings.HasPrefix(ee.Tail, "line "), "tail starts mid-line: %q", ee.Tail)
			assert.True(t, strings.HasSuffix(ee.Tail, "line 199"), "tail: %q", ee.Tail)
		})
	}
}

// TestRunEnvironment: a command gets BaseEnv, the names it inherits and
// its own variables — nothing else of the worker's environment, and never
// a GODWIT_* variable (the worker's settings, keyring and credentials).
func TestRunEnvironment(t *testing.T) {
	t.Setenv("GODWIT_TEMPORAL_APIKEY", "worker-secret")
	t.Setenv("GODWIT_CODEC_KEYS", "k1:a2V5")
	t.Setenv("ORDERS_DSN", "postgres://app:dsn-secret@db/orders")
	t.Setenv("HOOK_TEST_INHERITED", "from-worker")
	t.Setenv("HOOK_TEST_OVERRIDDEN", "old")
	t.Setenv("LANG", "C.UTF-8")

	cmd := sh(`env | sort`)
	cmd.Env = map[string]string{"HOOK_TEST_OVERRIDDEN": "new", "HOOK_TEST_ADDED": "a b=c", "GODWIT_PHASE": "p"}
	cmd.Inherit = []string{"HOOK_TEST_INHERITED", "HOOK_TEST_OVERRIDDEN", "HOOK_TEST_UNSET"}
	res, err := Run(context.Background(), cmd, Options{})
	require.NoError(t, err)
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(res.Output), "\n") {
		name, _, _ := strings.Cut(line, "=")
		names = append(names, name)
	}
	allowed := map[string]bool{"PATH": true, "HOME": true, "LANG": true, "LC_ALL": true, "TZ": true, "TMPDIR": true,
		"HOOK_TEST_INHERITED": true, "HOOK_TEST_OVERRIDDEN": true, "HOOK_TEST_ADDED": true, "GODWIT_PHASE": true,
		// The shell sets these itself.
		"PWD": true, "SHLVL": true, "_": true, "OLDPWD": true}
	for _, n := range names {
		assert.True(t, allowed[n], "the command saw %s, which is neither in BaseEnv, inherited nor its own: %s", n, res.Output)
	}
	for _, want := range []string{"HOOK_TEST_INHERITED=from-worker", "HOOK_TEST_OVERRIDDEN=new", "HOOK_TEST_ADDED=a b=c", "GODWIT_PHASE=p", "LANG=C.UTF-8"} {
		assert.Contains(t, res.Output, want+"\n")
	}
	for _, secret := range []string{"worker-secret", "k1:a2V5", "dsn-secret"} {
		assert.NotContains(t, res.Output, secret)
	}
}

func TestEnvironSortedAndFiltered(t *testing.T) {
	t.Setenv("GODWIT_TEMPORAL_APIKEY", "worker-secret")
	env, err := environ(Command{Env: map[string]string{"ZZ_B": "2", "ZZ_A": "1", "ZZ_C": "3"}})
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(env), 3)
	assert.Equal(t, []string{"ZZ_A=1", "ZZ_B=2", "ZZ_C=3"}, env[len(env)-3:])
	for _, kv := range env {
		assert.False(t, strings.HasPrefix(kv, "GODWIT_TEMPORAL_"), kv)
	}

	_, err = environ(Command{Env: map[string]string{"A=B": "x"}})
	assert.ErrorContains(t, err, `invalid environment variable name "A=B"`)
	_, err = environ(Command{Inherit: []string{"GODWIT_TEMPORAL_APIKEY"}})
	assert.ErrorContains(t, err, "inherit GODWIT_TEMPORAL_APIKEY")
}

func TestRunDir(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "marker.txt"), []byte("here\n"), 0o600))
	cmd := sh(`cat marker.txt; echo "pwd=$PWD"`)
	cmd.Dir = dir
	res, err := Run(context.Background(), cmd, Options{})
	require.NoError(t, err)
	assert.Equal(t, "here\npwd="+dir+"\n", res.Output)

	cmd.Dir = filepath.Join(dir, "missing")
	_, err = Run(context.Background(), cmd, Options{})
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestRunProgramNotFound(t *testing.T) {
	res, err := Run(context.Background(), Command{Argv: []string{"nosuchprog-godwit"}}, Options{})
	require.Error(t, err)
	assert.ErrorIs(t, err, exec.ErrNotFound)
	assert.Equal(t, `start "nosuchprog-godwit": exec: "nosuchprog-godwit": executable file not found in $PATH`, err.Error())
	assert.Equal(t, -1, res.ExitCode)

	_, err = Run(context.Background(), Command{}, Options{})
	assert.EqualError(t, err, "empty command")
}

// alive reports whether pid is a running process; a zombie nobody reaped
// (PID 1 in a container may not) counts as dead.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !os.IsNotExist(err)
	}
	// Format: pid (comm) state ...; comm may contain spaces.
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	return pid
}

func assertGone(t *testing.T, pid int) {
	t.Helper()
	assert.Eventually(t, func() bool { return !alive(pid) }, 10*time.Second, 20*time.Millisecond, "process %d still alive", pid)
	if alive(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL) // don't leak it past the test
	}
}

func TestRunTimeoutKillsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	cmd := sh(`sleep 30 & echo $! > "$PIDFILE"; echo started; sleep 30`)
	cmd.Env = map[string]string{"PIDFILE": pidFile}
	cmd.Timeout = 300 * time.Millisecond

	start := time.Now()
	res, err := Run(context.Background(), cmd, Options{})
	elapsed := time.Since(start)

	require.ErrorIs(t, err, ErrTimeout)
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "300ms")
	// The exit code shows SIGTERM ended it; the bound only shows it did not
	// run its 30 s (loose, for loaded CI machines).
	assert.Less(t, elapsed, 10*time.Second)
	assert.Equal(t, "started\n", res.Output)
	assert.Equal(t, 128+int(syscall.SIGTERM), res.ExitCode)
	assertGone(t, readPid(t, pidFile))
}

func TestRunEscalatesToSIGKILL(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	// An ignored signal stays ignored across fork and exec: the whole group
	// shrugs off SIGTERM and must be SIGKILLed.
	cmd := sh(`trap '' TERM; sleep 30 & echo $! > "$PIDFILE"; sleep 30`)
	cmd.Env = map[string]string{"PIDFILE": pidFile}
	cmd.Timeout = 100 * time.Millisecond

	start := time.Now()
	res, err := Run(context.Background(), cmd, Options{})
	elapsed := time.Since(start)

	require.ErrorIs(t, err, ErrTimeout)
	assert.GreaterOrEqual(t, elapsed, killGrace)
	assert.Less(t, elapsed, killGrace+10*time.Second)
	assert.Equal(t, 128+int(syscall.SIGKILL), res.ExitCode)
	assertGone(t, readPid(t, pidFile))
}

func TestRunContextCancel(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	cmd := sh(`sleep 30 & echo $! > "$PIDFILE"; sleep 30`)
	cmd.Env = map[string]string{"PIDFILE": pidFile}
	cmd.Timeout = time.Minute // ours must not be mistaken for the caller's

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	_, err := Run(ctx, cmd, Options{})

	require.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, ErrTimeout)
	assert.Less(t, time.Since(start), 10*time.Second)
	assertGone(t, readPid(t, pidFile))
}

func TestRunContextDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := Run(ctx, sh(`sleep 30`), Options{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, ErrTimeout)
}

func TestRunAlreadyCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, sh(`echo never`), Options{})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestRunTruncatesOutput(t *testing.T) {
	// About 5 MB in 1 KiB lines, then a last line that must survive.
	script := `line=$(printf '%01023d' 0); i=0; while [ $i -lt 5000 ]; do echo "$line"; i=$((i+1)); done; echo THE-END`
	res, err := Run(context.Background(), sh(script), Options{MaxOutput: 1024})
	require.NoError(t, err)
	assert.True(t, res.Truncated)

	marker, kept, ok := strings.Cut(res.Output, "\n")
	require.True(t, ok)
	total := 5000*1024 + len("THE-END\n")
	assert.Equal(t, "[... "+strconv.Itoa(total-len(kept))+" bytes cut ...]", marker)
	assert.LessOrEqual(t, len(kept), 1024)
	assert.Equal(t, 1024, len(kept))
	assert.True(t, strings.HasSuffix(kept, "0000\nTHE-END\n"))
}

func TestRunLongLines(t *testing.T) {
	// One 5 MB line: no line-length limit, memory bounded, the end is kept.
	script := `head -c 5000000 /dev/zero | tr '\0' x; echo; echo godwit:records=12`
	res, err := Run(context.Background(), sh(script), Options{MaxOutput: 1024})
	require.NoError(t, err)
	assert.True(t, res.Truncated)
	assert.True(t, strings.HasSuffix(res.Output, "xxxx\ngodwit:records=12\n"), res.Output[len(res.Output)-40:])
	assert.Equal(t, int64(12), res.Progress.Records)

	// A records marker is honoured only at the start of a line, even when a
	// long line is read in pieces and the marker begins a piece.
	script = `echo godwit:records=12; head -c 65536 /dev/zero | tr '\0' x; echo godwit:records=99`
	res, err = Run(context.Background(), sh(script), Options{})
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(res.Output, "xxxxgodwit:records=99\n"))
	assert.Equal(t, int64(12), res.Progress.Records)
}

func TestRunRedacts(t *testing.T) {
	tests := []struct {
		name   string
		script string
		redact []string
		want   string
	}{
		{"in output", `echo "password is $PW"; echo "again: $PW$PW" >&2`, []string{"s3cr3t"}, "password is ***\nagain: ******\n"},
		{"empty secret ignored", `echo "password is $PW"`, []string{"", "s3cr3t"}, "password is ***\n"},
		{"longer secret wins", `echo "tok=s3cr3t-extra"`, []string{"s3cr3t", "s3cr3t-extra"}, "tok=***\n"},
		{"nothing to hide", `echo plain`, []string{"s3cr3t"}, "plain\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs syncBuffer
			cmd := sh(tt.script)
			cmd.Env = map[string]string{"PW": "s3cr3t"}
			res, err := Run(context.Background(), cmd, Options{Redact: tt.redact, Logger: bufferLogger(&logs)})
			require.NoError(t, err)
			assert.Equal(t, tt.want, res.Output)
			assert.NotContains(t, logs.String(), "s3cr3t")
			assert.Equal(t, strings.Split(strings.TrimSuffix(tt.want, "\n"), "\n"), outputLines(t, &logs))
		})
	}
}

// TestRunRedactsAMultiLineSecretLineByLine: a PEM key printed as is comes
// out line by line, each line logged on its own; none may show.
func TestRunRedactsAMultiLineSecretLineByLine(t *testing.T) {
	const key = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nkqhkiG9w0BAQ\n-----END PRIVATE KEY-----"
	var logs syncBuffer
	cmd := sh(`printf '%s\n' "$KEY"; printf 'failed: %s\n' "$KEY" >&2; exit 1`)
	cmd.Env = map[string]string{"KEY": key}
	res, err := Run(context.Background(), cmd, Options{Redact: []string{key}, Logger: bufferLogger(&logs)})
	var ee *ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, "***\n***\n***\n***\nfailed: ***\n***\n***\n***\n", res.Output)
	for _, line := range []string{"MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "kqhkiG9w0BAQ"} {
		assert.NotContains(t, logs.String(), line)
		assert.NotContains(t, ee.Error(), line)
	}
}

func TestRunRedactsInExitErrorAndAcrossPieces(t *testing.T) {
	var logs syncBuffer
	// The secret straddles the 64 KiB read boundary of a long line.
	script := `head -c 65530 /dev/zero | tr '\0' a; printf '%s' "$PW"; head -c 100 /dev/zero | tr '\0' b; echo; echo "failed with $PW"; exit 2`
	cmd := sh(script)
	cmd.Env = map[string]string{"PW": "s3cr3t-value"}
	res, err := Run(context.Background(), cmd, Options{Redact: []string{"s3cr3t-value"}, Logger: bufferLogger(&logs), MaxOutput: 1 << 20})
	var ee *ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, "failed with ***", ee.Tail)
	assert.NotContains(t, res.Output, "s3cr3t")
	assert.Contains(t, res.Output, "aaaa***bbbb")
	assert.Equal(t, 65530+3+100+1+len("failed with ***\n"), len(res.Output))
	assert.NotContains(t, logs.String(), "s3cr3t")
	assert.NotContains(t, logs.String(), "value")
}

func TestRunTicks(t *testing.T) {
	var ticks atomic.Int32
	_, err := Run(context.Background(), sh(`sleep 0.3`), Options{Tick: func(Progress) { ticks.Add(1) }, TickInterval: 50 * time.Millisecond})
	require.NoError(t, err)
	n := ticks.Load()
	assert.GreaterOrEqual(t, n, int32(2))
	time.Sleep(150 * time.Millisecond)
	assert.Equal(t, n, ticks.Load(), "Tick called after Run returned")
}

func TestTail(t *testing.T) {
	tests := []struct {
		name      string
		max       int
		writes    []string
		want      string
		truncated bool
	}{
		{"fits", 10, []string{"abc", "def"}, "abcdef", false},
		{"exactly full", 6, []string{"abc", "def"}, "abcdef", false},
		{"drops oldest", 4, []string{"abc", "def", "gh"}, "[... 4 bytes cut ...]\nefgh", true},
		{"one big write", 4, []string{"0123456789"}, "[... 6 bytes cut ...]\n6789", true},
		{"many small writes", 3, strings.Split("abcdefghijklmnopqrstuvwxyz", ""), "[... 23 bytes cut ...]\nxyz", true},
		{"cut inside a character", 4, []string{"aé", "bcd"}, "[... 3 bytes cut ...]\nbcd", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTail(tt.max)
			for _, w := range tt.writes {
				tl.Write([]byte(w))
				assert.LessOrEqual(t, cap(tl.buf), 2*tt.max, "memory must stay bounded")
			}
			got, truncated := tl.String()
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.truncated, truncated)
		})
	}
}

func TestExitErrorMessage(t *testing.T) {
	assert.Equal(t, "exited with code 3: boom", (&ExitError{Code: 3, Tail: "boom"}).Error())
	assert.Equal(t, "exited with code 1", (&ExitError{Code: 1}).Error())
}

func TestRunTicksCarryReportedProgress(t *testing.T) {
	var mu sync.Mutex
	var seen []Progress
	script := `echo godwit:progress=40; echo godwit:records=400; echo godwit:checkpoint=id:400; sleep 0.3; echo godwit:progress=101; echo godwit:progress=80; sleep 0.3`
	res, err := Run(context.Background(), sh(script), Options{
		Tick: func(p Progress) {
			mu.Lock()
			seen = append(seen, p)
			mu.Unlock()
		},
		TickInterval: 50 * time.Millisecond,
	})
	require.NoError(t, err)
	require.Equal(t, int64(400), res.Progress.Records)
	require.Equal(t, Progress{Records: 400, Percent: 80, Checkpoint: "id:400"}, res.Progress)
	mu.Lock()
	defer mu.Unlock()
	require.Contains(t, seen, Progress{Records: 400, Percent: 40, Checkpoint: "id:400"}, "a tick during the first sleep carries the first markers")
	require.Contains(t, seen, Progress{Records: 400, Percent: 80, Checkpoint: "id:400"}, "an out-of-range percent is ignored, the next one taken")
	require.NotContains(t, seen, Progress{Records: 400, Percent: 101, Checkpoint: "id:400"})
}
