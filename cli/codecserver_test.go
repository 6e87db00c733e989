package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/godwit/godwit/payloadcodec"
)

// syncBuffer is a bytes.Buffer the server goroutine and the test share.
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

func writeKeyring(t *testing.T, dir string) (string, *payloadcodec.Keyring) {
	t.Helper()
	key := make([]byte, payloadcodec.KeySize)
	_, err := rand.Read(key)
	require.NoError(t, err)
	text := "cli-key:" + base64.StdEncoding.EncodeToString(key) + "\n"
	path := filepath.Join(dir, "keys")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	ring, err := payloadcodec.ParseKeyring("test", text)
	require.NoError(t, err)
	return path, ring
}

func TestCodecServerCommandServesDecode(t *testing.T) {
	dir := isolate(t)
	keys, ring := writeKeyring(t, dir)
	tokenFile := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("tok-123\n"), 0o600))

	var out, errOut syncBuffer
	a := &app{out: &out, errOut: &errOut, dial: noDial(t)}
	root := newRootCommand(a)
	root.SetArgs([]string{"codec-server", "--codec-keys-file", keys, "--listen", "127.0.0.1:0", "--token-file", tokenFile})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	listening := regexp.MustCompile(`listening on (http://\S+)`)
	var url string
	require.Eventually(t, func() bool {
		m := listening.FindStringSubmatch(out.String())
		if m != nil {
			url = m[1]
		}
		return m != nil
	}, 10*time.Second, 20*time.Millisecond, "stdout: %s stderr: %s", out.String(), errOut.String())
	assert.Contains(t, out.String(), "encrypting with key cli-key")
	assert.Contains(t, out.String(), "token required")

	sealed, err := payloadcodec.New(ring).Encode([]*commonpb.Payload{{Data: []byte(`"hook said hello"`)}})
	require.NoError(t, err)
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: sealed})
	require.NoError(t, err)
	post := func(auth string) (int, string) {
		req, err := http.NewRequest("POST", url+"/decode", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, resp := post("Bearer tok-123")
	assert.Equal(t, 200, code, resp)
	var decoded commonpb.Payloads
	require.NoError(t, protojson.Unmarshal([]byte(resp), &decoded))
	assert.Equal(t, `"hook said hello"`, string(decoded.Payloads[0].Data))
	code, _ = post("")
	assert.Equal(t, 401, code)

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("codec-server did not stop when its context ended")
	}
	assert.Contains(t, errOut.String(), "status=200", "one log line per request at info level")
	assert.NotContains(t, errOut.String(), "tok-123")
}

func TestCodecServerCommandErrors(t *testing.T) {
	dir := t.TempDir()
	keys, _ := writeKeyring(t, dir)
	empty := filepath.Join(dir, "empty-token")
	require.NoError(t, os.WriteFile(empty, []byte("\n"), 0o600))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no keys", []string{"codec-server"}, "codec-server: no keys: set --codec-keys-file"},
		{"missing keys file", []string{"codec-server", "--codec-keys-file", filepath.Join(dir, "none")}, "temporal.codec: read keyring"},
		{"empty token file", []string{"codec-server", "--codec-keys-file", keys, "--token-file", empty}, "--token-file: " + empty + " is empty"},
		{"port taken or bad", []string{"codec-server", "--codec-keys-file", keys, "--listen", "127.0.0.1:notaport"}, "codec-server: listen on 127.0.0.1:notaport"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := godwit(t, noDial(t), tt.args...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestCodecServerHelp(t *testing.T) {
	out, _, err := godwit(t, noDial(t), "codec-server", "--help")
	require.NoError(t, err)
	squashed := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{
		"--codec-endpoint http://127.0.0.1:8081 --codec-auth \"Bearer $(cat token)\"",
		"temporal server start-dev --ui-codec-endpoint http://127.0.0.1:8081",
		"TEMPORAL_CODEC_ENDPOINT",
		"--cors-origin", "--token-file", "GODWIT_CODEC_SERVER_TOKEN", "http://localhost:8233",
	} {
		assert.Contains(t, squashed, want)
	}
}
