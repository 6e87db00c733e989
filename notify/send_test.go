package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// receiver is a webhook endpoint that answers with the statuses in
// answers, one per request (the last one repeats), and keeps what it got.
type receiver struct {
	mu       sync.Mutex
	answers  []int
	echoPath bool // answer errors with the request's path and query, as a careless server would
	got      []request
	srv      *httptest.Server
}

type request struct {
	path   string
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, answers ...int) *receiver {
	t.Helper()
	r := &receiver{answers: answers}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, request{path: req.URL.RequestURI(), header: req.Header.Clone(), body: body})
		status := http.StatusOK
		if len(r.answers) > 0 {
			status = r.answers[min(len(r.got), len(r.answers))-1]
		}
		echo := r.echoPath
		r.mu.Unlock()
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "0")
		}
		w.WriteHeader(status)
		if echo && status >= 300 {
			_, _ = io.WriteString(w, "no hook at "+req.URL.RequestURI())
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.got...)
}

var when = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

func gateEvent() Event {
	return Event{
		ID: NewEventID("orders", "run-1", 4, GateWaiting), Type: GateWaiting, Migration: "orders",
		Phase: "shift-traffic", Status: "WAITING_APPROVAL", Time: when, Gate: "go-live", Progress: 50,
		Message: "phase shift-traffic waits for approval of gate go-live <now> & then",
	}
}

func fastSender(logs io.Writer) *Sender {
	return NewSender(Options{Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		Logger: hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Trace})})
}

func TestJSONBody(t *testing.T) {
	rc := newReceiver(t)
	e := gateEvent()
	require.NoError(t, fastSender(io.Discard).Send(t.Context(), Target{Name: "n0", Kind: KindJSON, URL: rc.srv.URL + "/hook"}, e))
	got := rc.requests()
	require.Len(t, got, 1)
	assert.Equal(t, "/hook", got[0].path)
	assert.Equal(t, "application/json", got[0].header.Get("Content-Type"))
	assert.Equal(t, "orders/run-1/4/gate.waiting", got[0].header.Get("Idempotency-Key"))
	assert.Equal(t, "orders/run-1/4/gate.waiting", got[0].header.Get("X-Godwit-Event-Id"))
	assert.Equal(t, "gate.waiting", got[0].header.Get("X-Godwit-Event-Type"))
	var back Event
	require.NoError(t, json.Unmarshal(got[0].body, &back))
	assert.Equal(t, e, back)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(got[0].body, &raw))
	assert.Equal(t, "gate.waiting", raw["type"])
	assert.Equal(t, "2025-03-14T09:30:00Z", raw["time"])
	assert.NotContains(t, raw, "error", "empty fields are left out")
}

func TestSlackBody(t *testing.T) {
	rc := newReceiver(t)
	require.NoError(t, fastSender(io.Discard).Send(t.Context(), Target{Name: "n0", Kind: KindSlack, URL: rc.srv.URL}, gateEvent()))
	got := rc.requests()
	require.Len(t, got, 1)
	var msg struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
			Text struct {
				Type, Text string
			} `json:"text"`
			Elements []struct{ Type, Text string } `json:"elements"`
		} `json:"blocks"`
	}
	require.NoError(t, json.Unmarshal(got[0].body, &msg))
	assert.Equal(t, "orders: phase shift-traffic waits for approval of gate go-live <now> & then", msg.Text)
	require.Len(t, msg.Blocks, 2)
	assert.Equal(t, "section", msg.Blocks[0].Type)
	assert.Equal(t, "mrkdwn", msg.Blocks[0].Text.Type)
	assert.Equal(t, ":raised_hand: *orders*: phase shift-traffic waits for approval of gate go-live &lt;now&gt; &amp; then\n"+
		"status WAITING_APPROVAL, 50% done\n"+
		"approve with `godwit approve orders --gate go-live`", msg.Blocks[0].Text.Text)
	assert.Equal(t, "context", msg.Blocks[1].Type)
	require.Len(t, msg.Blocks[1].Elements, 1)
	assert.Equal(t, "gate.waiting · 2025-03-14 09:30:00 UTC · event orders/run-1/4/gate.waiting", msg.Blocks[1].Elements[0].Text)
}

func TestDelivery(t *testing.T) {
	tests := []struct {
		name      string
		answers   []int
		events    []EventType
		wantReqs  int
		wantErr   string
		permanent bool
	}{
		{name: "first time", answers: []int{200}, wantReqs: 1},
		{name: "any 2xx", answers: []int{204}, wantReqs: 1},
		{name: "retries on 5xx until it succeeds", answers: []int{500, 503, 200}, wantReqs: 3},
		{name: "retries on 429 and 408", answers: []int{429, 408, 202}, wantReqs: 3},
		{name: "gives up after its attempts", answers: []int{502}, wantReqs: 3,
			wantErr: "notify n0: receiver answered 502: Bad Gateway"},
		{name: "a refusal is permanent", answers: []int{404}, wantReqs: 1, permanent: true,
			wantErr: "notify n0: receiver answered 404: Not Found"},
		{name: "an event the target does not want is not sent", events: []EventType{Completed, PhaseFailed}, wantReqs: 0},
		{name: "an event the target wants is sent", events: []EventType{GateWaiting}, wantReqs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, tt.answers...)
			err := fastSender(io.Discard).Send(t.Context(), Target{Name: "n0", Kind: KindJSON, URL: rc.srv.URL, Events: tt.events}, gateEvent())
			got := rc.requests()
			assert.Len(t, got, tt.wantReqs)
			for _, r := range got {
				assert.Equal(t, gateEvent().ID, r.header.Get("Idempotency-Key"), "every attempt carries the same event ID")
				assert.Equal(t, got[0].body, r.body, "every attempt sends the same body")
			}
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.wantErr)
			assert.Equal(t, tt.permanent, IsPermanent(err))
		})
	}
}

func TestCancelledContextStopsRetrying(t *testing.T) {
	rc := newReceiver(t, 503)
	ctx, cancel := context.WithCancel(t.Context())
	s := NewSender(Options{Backoff: time.Hour, Attempts: 5})
	done := make(chan error, 1)
	go func() { done <- s.Send(ctx, Target{Name: "n0", Kind: KindJSON, URL: rc.srv.URL}, gateEvent()) }()
	require.Eventually(t, func() bool { return len(rc.requests()) == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	err := <-done
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gave up: context canceled")
	assert.False(t, IsPermanent(err))
}

// closedPort returns a URL on which nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "http://" + addr
}

func TestNoSecretInErrorsOrLogs(t *testing.T) {
	const secret = "XXSECRETXX"
	rc := newReceiver(t, 500)
	rc.echoPath = true
	refused := newReceiver(t, 403)
	refused.echoPath = true
	tests := []struct {
		name string
		url  string
	}{
		{"token in the path, receiver echoes it", rc.srv.URL + "/services/T0/B0/" + secret},
		{"token in the query, receiver echoes it", refused.srv.URL + "/hook?token=" + secret},
		{"token in user info, nobody listening", "http://bot:" + secret + "@" + closedPort(t)[len("http://"):] + "/hook"},
		{"not a URL at all", "hooks.slack.com/services/" + secret},
		{"unparseable URL", "http://[::1/" + secret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			err := fastSender(&logs).Send(t.Context(), Target{Name: "notifications[1]", Kind: KindSlack, URL: tt.url}, gateEvent())
			require.Error(t, err)
			assert.NotContains(t, err.Error(), secret)
			assert.NotContains(t, logs.String(), secret)
			assert.Contains(t, err.Error(), "notifications[1]", "the error names the target instead")
		})
	}
}

func TestBodyOfUnknownKind(t *testing.T) {
	_, err := Body("teams", gateEvent())
	require.EqualError(t, err, `unknown notification kind "teams": use slack or json`)
}
