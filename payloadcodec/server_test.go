package payloadcodec

import (
	"bytes"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

const uiOrigin = "http://localhost:8233"

func payloadsJSON(t *testing.T, ps ...*commonpb.Payload) string {
	t.Helper()
	b, err := protojson.Marshal(&commonpb.Payloads{Payloads: ps})
	require.NoError(t, err)
	return string(b)
}

func parsePayloads(t *testing.T, body string) []*commonpb.Payload {
	t.Helper()
	var out commonpb.Payloads
	require.NoError(t, protojson.Unmarshal([]byte(body), &out), body)
	return out.Payloads
}

func TestCodecServer(t *testing.T) {
	codec := New(mustRing(t, "k1:"+newKey(t)))
	other := New(mustRing(t, "elsewhere:"+newKey(t)))
	plain := &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`{"dsn":"report text 42"}`)}
	sealed, err := codec.Encode([]*commonpb.Payload{plain})
	require.NoError(t, err)
	foreign, err := other.Encode([]*commonpb.Payload{plain})
	require.NoError(t, err)
	const token = "s3cr3t-token"

	cases := []struct {
		name       string
		method     string
		path       string
		header     map[string]string
		body       string
		wantStatus int
		wantHeader map[string]string
		check      func(t *testing.T, body string)
	}{
		{
			name: "decode", method: "POST", path: "/decode", body: payloadsJSON(t, sealed...),
			header:     map[string]string{"Authorization": "Bearer " + token, "Origin": uiOrigin, "X-Namespace": "default"},
			wantStatus: 200, wantHeader: map[string]string{"Access-Control-Allow-Origin": uiOrigin},
			check: func(t *testing.T, body string) {
				got := parsePayloads(t, body)
				require.Len(t, got, 1)
				assert.Equal(t, plain.Data, got[0].Data)
			},
		},
		{
			name: "decode under a path prefix, as behind a proxy", method: "POST", path: "/godwit/decode", body: payloadsJSON(t, sealed...),
			header: map[string]string{"Authorization": "Bearer " + token}, wantStatus: 200,
		},
		{
			name: "encode", method: "POST", path: "/encode", body: payloadsJSON(t, plain),
			header: map[string]string{"Authorization": "Bearer " + token}, wantStatus: 200,
			check: func(t *testing.T, body string) {
				got := parsePayloads(t, body)
				require.Len(t, got, 1)
				assert.Equal(t, "k1", string(got[0].Metadata[MetadataKeyID]))
				back, err := codec.Decode(got)
				require.NoError(t, err)
				assert.Equal(t, plain.Data, back[0].Data)
			},
		},
		{
			name: "preflight from the UI needs no token", method: "OPTIONS", path: "/decode",
			header:     map[string]string{"Origin": uiOrigin, "Access-Control-Request-Method": "POST"},
			wantStatus: 204,
			wantHeader: map[string]string{
				"Access-Control-Allow-Origin":      uiOrigin,
				"Access-Control-Allow-Credentials": "true",
				"Access-Control-Allow-Headers":     "Content-Type, X-Namespace, Authorization",
			},
		},
		{
			name: "preflight from another origin", method: "OPTIONS", path: "/decode",
			header: map[string]string{"Origin": "https://evil.example"}, wantStatus: 403,
			wantHeader: map[string]string{"Access-Control-Allow-Origin": ""},
		},
		{
			name: "decode from another origin, even with the token", method: "POST", path: "/decode", body: payloadsJSON(t, sealed...),
			header: map[string]string{"Origin": "https://evil.example", "Authorization": "Bearer " + token}, wantStatus: 403,
		},
		{
			name: "no token", method: "POST", path: "/decode", body: payloadsJSON(t, sealed...), wantStatus: 401,
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="godwit-codec"`},
		},
		{
			name: "wrong token", method: "POST", path: "/decode", body: payloadsJSON(t, sealed...),
			header: map[string]string{"Authorization": "Bearer " + token + "x"}, wantStatus: 401,
		},
		{
			name: "token without Bearer", method: "POST", path: "/decode", body: payloadsJSON(t, sealed...),
			header: map[string]string{"Authorization": token}, wantStatus: 401,
		},
		{
			name: "GET", method: "GET", path: "/decode", header: map[string]string{"Authorization": "Bearer " + token},
			wantStatus: 405,
		},
		{
			name: "unknown path", method: "POST", path: "/other", body: payloadsJSON(t, sealed...),
			header: map[string]string{"Authorization": "Bearer " + token}, wantStatus: 404,
		},
		{
			name: "payload of a key the server does not hold", method: "POST", path: "/decode", body: payloadsJSON(t, foreign...),
			header: map[string]string{"Authorization": "Bearer " + token}, wantStatus: 400,
			check: func(t *testing.T, body string) { assert.Contains(t, body, `key "elsewhere"`) },
		},
		{
			name: "body over the limit", method: "POST", path: "/decode", body: `{"payloads":[{"data":"` + strings.Repeat("A", 2048) + `"}]}`,
			header: map[string]string{"Authorization": "Bearer " + token}, wantStatus: 400,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := NewHTTPHandler(codec, ServerOptions{
				AllowedOrigins: []string{uiOrigin}, Token: token, MaxBodyBytes: 1024,
				Logger: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Trace}),
			})
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			body, _ := io.ReadAll(rec.Body)
			assert.Equal(t, tc.wantStatus, rec.Code, "body: %s", body)
			for k, v := range tc.wantHeader {
				assert.Equal(t, v, rec.Header().Get(k), k)
			}
			if tc.check != nil {
				tc.check(t, string(body))
			}
			assert.Contains(t, logs.String(), fmt.Sprintf("status=%d", tc.wantStatus))
			assert.NotContains(t, logs.String(), token)
			assert.NotContains(t, logs.String(), "report text 42")
		})
	}
}

func TestCodecServerWithoutToken(t *testing.T) {
	codec := New(mustRing(t, "k1:"+newKey(t)))
	sealed, err := codec.Encode([]*commonpb.Payload{{Data: []byte(`"x"`)}})
	require.NoError(t, err)
	h := NewHTTPHandler(codec, ServerOptions{AllowedOrigins: []string{"*"}})
	req := httptest.NewRequest("POST", "/decode", strings.NewReader(payloadsJSON(t, sealed...)))
	req.Header.Set("Origin", "https://ui.example")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, 200, rec.Code, rec.Body.String())
	assert.Equal(t, "https://ui.example", rec.Header().Get("Access-Control-Allow-Origin"))
}
