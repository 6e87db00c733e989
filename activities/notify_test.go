package activities

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
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

// A webhook URL the worker cannot read (a configuration error) and a
// webhook answering 4xx beside one answering 5xx: the attempt is
// retryable for the 5xx and says the others are not retried; the retry
// sends neither to the webhook that has the event nor to the refusing one
// (before, each retry posted to it again) and does not read the URL
// again, and once the 5xx one has the event the rejections end the
// activity, not retryable.
func TestNotifyAConfigErrorBesideA5xxIsReportedOnceTheOthersAreDelivered(t *testing.T) {
	ok := newHookReceiver(t, http.StatusOK)
	down := newHookReceiver(t, http.StatusServiceUnavailable)
	gone := newHookReceiver(t, http.StatusGone)
	t.Setenv("GODWIT_TEST_HOOK_OK", ok.srv.URL+"/hook")
	t.Setenv("GODWIT_TEST_HOOK_DOWN", down.srv.URL+"/hook")
	t.Setenv("GODWIT_TEST_HOOK_GONE", gone.srv.URL+"/hook")
	in := NotifyInput{Event: completedEvent(), Notifications: []config.Notification{
		{Kind: notify.KindJSON, URL: config.SecretRef{FromEnv: "GODWIT_TEST_HOOK_OK"}},
		{Kind: notify.KindJSON, URL: config.SecretRef{FromFile: filepath.Join(t.TempDir(), "missing-url")}},
		{Kind: notify.KindJSON, URL: config.SecretRef{FromEnv: "GODWIT_TEST_HOOK_DOWN"}},
		{Kind: notify.KindJSON, URL: config.SecretRef{FromEnv: "GODWIT_TEST_HOOK_GONE"}},
	}}

	e := notifyEnv(t, io.Discard)
	var last notifyProgress
	e.SetOnActivityHeartbeatListener(func(_ *activity.Info, details converter.EncodedValues) {
		require.NoError(t, details.Get(&last))
	})
	_, err := e.ExecuteActivity(NotifyName, in)
	first := appError(t, err)
	assert.Equal(t, ErrTypeNotifyFailed, first.Type(), "the 5xx is retried")
	assert.False(t, first.NonRetryable())
	assert.Contains(t, err.Error(), "notifications[1]: webhook URL")
	assert.Contains(t, err.Error(), "(not retried)")
	assert.Equal(t, []int{0}, last.Delivered)
	require.Len(t, last.Rejected, 2)
	assert.Equal(t, 1, last.Rejected[0].Index)
	assert.Equal(t, 3, last.Rejected[1].Index)
	require.Len(t, gone.received(), 1)

	// The retry, the 5xx webhook back up.
	down.mu.Lock()
	down.status = http.StatusOK
	down.mu.Unlock()
	sentOK, sentDown := len(ok.received()), len(down.received())
	e = notifyEnv(t, io.Discard)
	e.SetHeartbeatDetails(last)
	_, err = e.ExecuteActivity(NotifyName, in)
	second := appError(t, err)
	assert.Equal(t, ErrTypeNotifyRejected, second.Type(), "the configuration error is reported as one")
	assert.True(t, second.NonRetryable())
	assert.Contains(t, err.Error(), "notifications[1]: webhook URL")
	assert.NotContains(t, err.Error(), "not retried")
	assert.Len(t, ok.received(), sentOK, "the webhook that had the event does not get it again")
	assert.Len(t, down.received(), sentDown+1, "the 5xx webhook gets it on the retry")
	assert.Len(t, gone.received(), 1, "the webhook that refused it (4xx) is not sent it again")
	assert.Contains(t, err.Error(), "notifications[3]")
}
