package activities

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/notify"
)

// hookReceiver is a webhook that answers status and counts the event IDs
// it received.
type hookReceiver struct {
	mu     sync.Mutex
	status int
	ids    []string
	srv    *httptest.Server
}

func newHookReceiver(t *testing.T, status int) *hookReceiver {
	t.Helper()
	h := &hookReceiver{status: status}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e struct {
			ID string `json:"id"`
		}
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &e)
		h.mu.Lock()
		defer h.mu.Unlock()
		if e.ID == "" { // the Slack shape: the ID is in the header
			e.ID = r.Header.Get("X-Godwit-Event-Id")
		}
		h.ids = append(h.ids, e.ID)
		w.WriteHeader(h.status)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) received() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.ids...)
}

func notifyEnv(t *testing.T, logs io.Writer) *testsuite.TestActivityEnvironment {
	t.Helper()
	old := notifySenderOptions
	notifySenderOptions = notify.Options{Backoff: time.Millisecond, MaxBackoff: time.Millisecond}
	t.Cleanup(func() { notifySenderOptions = old })
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	a := &Activities{Logger: hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Trace})}
	env.RegisterActivityWithOptions(a.Notify, activity.RegisterOptions{Name: NotifyName})
	return env
}

func completedEvent() notify.Event {
	return notify.Event{ID: notify.NewEventID("orders", "run-1", 9, notify.Completed), Type: notify.Completed,
		Migration: "orders", Status: "COMPLETED", Progress: 100, Message: "the migration completed",
		Time: time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC)}
}

func TestNotify(t *testing.T) {
	const secretPath = "/services/T0/B0/HOOKSECRET"
	ok := newHookReceiver(t, http.StatusOK)
	down := newHookReceiver(t, http.StatusServiceUnavailable)
	gone := newHookReceiver(t, http.StatusGone)
	picky := newHookReceiver(t, http.StatusOK)
	t.Setenv("GODWIT_TEST_HOOK_OK", ok.srv.URL+secretPath)
	t.Setenv("GODWIT_TEST_HOOK_DOWN", down.srv.URL+secretPath)
	t.Setenv("GODWIT_TEST_HOOK_GONE", gone.srv.URL+secretPath)
	t.Setenv("GODWIT_TEST_HOOK_PICKY", picky.srv.URL+secretPath)
	env := func(name string) config.SecretRef { return config.SecretRef{FromEnv: name} }

	tests := []struct {
		name          string
		notifications []config.Notification
		delivered     []int // the heartbeat of an earlier attempt
		wantErrType   string
		retryable     bool
		// wantSent maps each receiver to how many times it got the event.
		wantSent map[*hookReceiver]int
	}{
		{
			name: "every webhook that wants the event gets it once",
			notifications: []config.Notification{
				{Kind: notify.KindSlack, URL: env("GODWIT_TEST_HOOK_OK")},
				{Kind: notify.KindJSON, URL: env("GODWIT_TEST_HOOK_PICKY"), Events: []notify.EventType{notify.PhaseFailed}},
			},
			wantSent: map[*hookReceiver]int{ok: 1, picky: 0},
		},
		{
			name: "a down receiver fails the attempt (retryable) but the others get the event",
			notifications: []config.Notification{
				{Kind: notify.KindJSON, URL: env("GODWIT_TEST_HOOK_DOWN")},
				{Kind: notify.KindJSON, URL: env("GODWIT_TEST_HOOK_OK")},
			},
			wantErrType: ErrTypeNotifyFailed, retryable: true,
			wantSent: map[*hookReceiver]int{down: notify.DefaultAttempts, ok: 1},
		},
		{
			name: "a retry skips the webhooks that already have the event",
			notifications: []config.Notification{
				{Kind: notify.KindJSON, URL: env("GODWIT_TEST_HOOK_OK")},
				{Kind: notify.KindJSON, URL: env("GODWIT_TEST_HOOK_PICKY")},
			},
			delivered: []int{0},
			wantSent:  map[*hookReceiver]int{ok: 0, picky: 1},
		},
		{
			name: "a refusing receiver or a missing URL is not retried",
			notifications: []config.Notification{
				{Kind: notify.KindJSON, URL: env("GODWIT_TEST_HOOK_GONE")},
				{Kind: notify.KindJSON, URL: env("GODWIT_TEST_HOOK_NOT_SET")},
			},
			wantErrType: ErrTypeNotifyRejected,
			wantSent:    map[*hookReceiver]int{gone: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := map[*hookReceiver]int{}
			for r := range tt.wantSent {
				before[r] = len(r.received())
			}
			var logs bytes.Buffer
			e := notifyEnv(t, &logs)
			if tt.delivered != nil {
				e.SetHeartbeatDetails(notifyProgress{Delivered: tt.delivered})
			}
			_, err := e.ExecuteActivity(NotifyName, NotifyInput{Notifications: tt.notifications, Event: completedEvent()})
			for r, n := range tt.wantSent {
				got := r.received()[before[r]:]
				assert.Len(t, got, n)
				for _, id := range got {
					assert.Equal(t, "orders/run-1/9/migration.completed", id)
				}
			}
			assert.NotContains(t, logs.String(), "HOOKSECRET")
			if tt.wantErrType == "" {
				require.NoError(t, err)
				return
			}
			appErr := appError(t, err)
			assert.Equal(t, tt.wantErrType, appErr.Type())
			assert.Equal(t, !tt.retryable, appErr.NonRetryable())
			assert.NotContains(t, err.Error(), "HOOKSECRET")
			assert.Contains(t, err.Error(), "notifications[")
		})
	}
}
