package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Kind is the shape of the body a webhook receives.
type Kind string

// Body shapes.
const (
	// KindSlack posts a Slack incoming-webhook message ({"text", "blocks"});
	// Mattermost, Rocket.Chat and Teams' Slack-compatible hooks take it too.
	KindSlack Kind = "slack"
	// KindJSON posts the Event itself as JSON.
	KindJSON Kind = "json"
)

// Kinds lists every body shape.
var Kinds = []Kind{KindSlack, KindJSON}

// Target is one webhook: where to post, in which shape, for which events.
type Target struct {
	// Name identifies the target in logs and errors, e.g.
	// "notifications[0]"; never the URL, which may hold a token.
	Name string
	Kind Kind
	// URL is the resolved webhook URL: a secret.
	URL string
	// Events the target wants; empty means every event.
	Events []EventType
}

// Wants reports whether the target wants events of type e.
func (t Target) Wants(e EventType) bool {
	if len(t.Events) == 0 {
		return true
	}
	for _, w := range t.Events {
		if w == e {
			return true
		}
	}
	return false
}

// Options configure a Sender; zero values take the defaults.
type Options struct {
	// Timeout bounds one attempt (default 10 s).
	Timeout time.Duration
	// Attempts is how many times one Send tries before giving up
	// (default 3). The activity's own retries come on top.
	Attempts int
	// Backoff is the first wait between attempts, doubled each time
	// (default 500 ms); a Retry-After answer of at most MaxBackoff wins.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Transport carries the requests; nil uses http.DefaultTransport.
	Transport http.RoundTripper
	// Logger gets one line per delivery and failed attempt.
	Logger hclog.Logger
}

// Default options.
const (
	DefaultTimeout    = 10 * time.Second
	DefaultAttempts   = 3
	DefaultBackoff    = 500 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
)

// Sender posts events to webhooks.
type Sender struct {
	opts Options
	http *http.Client
}

// NewSender returns a Sender with opts, defaults filled in.
func NewSender(opts Options) *Sender {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Attempts <= 0 {
		opts.Attempts = DefaultAttempts
	}
	if opts.Backoff <= 0 {
		opts.Backoff = DefaultBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	return &Sender{opts: opts, http: &http.Client{Transport: opts.Transport, Timeout: opts.Timeout,
		// A redirect would resend the body to a URL nobody configured.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Error is a delivery that failed. Its message never holds the target's
// URL (it may carry a token); Target names the target instead.
type Error struct {
	Target string
	// Status is the last HTTP status, 0 when no answer came.
	Status int
	// Message says what went wrong, with the URL removed.
	Message string
	// Permanent is true when retrying cannot help: the receiver refused
	// the request (4xx other than 408 and 429) or the target is unusable.
	Permanent bool
}

func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("notify %s: receiver answered %d: %s", e.Target, e.Status, e.Message)
	}
	return fmt.Sprintf("notify %s: %s", e.Target, e.Message)
}

// IsPermanent reports whether err is a delivery error retrying cannot fix.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent
}

// Body returns what target t receives for event e.
func Body(kind Kind, e Event) ([]byte, error) {
	switch kind {
	case KindJSON:
		return json.Marshal(e)
	case KindSlack:
		return json.Marshal(slackMessage(e))
	}
	return nil, fmt.Errorf("unknown notification kind %q: use slack or json", kind)
}

// Send posts e to t, trying up to Options.Attempts times on network
// errors, timeouts, 408, 429 and 5xx answers. Every attempt carries the
// event's ID (header Idempotency-Key and X-Godwit-Event-Id, and in the
// body), so a receiver that got an attempt whose answer was lost can drop
// the next one. A target that does not want e is skipped.
func (s *Sender) Send(ctx context.Context, t Target, e Event) error {
	if !t.Wants(e.Type) {
		return nil
	}
	log := s.opts.Logger.With("target", t.Name, "kind", t.Kind, "event", e.Type, "id", e.ID)
	body, err := Body(t.Kind, e)
	if err != nil {
		return &Error{Target: t.Name, Message: err.Error(), Permanent: true}
	}
	if err := CheckURL(t.URL); err != nil {
		return &Error{Target: t.Name, Message: err.Error(), Permanent: true}
	}
	wait := s.opts.Backoff
	var last *Error
	for attempt := 1; attempt <= s.opts.Attempts; attempt++ {
		var retryAfter time.Duration
		last, retryAfter = s.post(ctx, t, e, body)
		if last == nil {
			log.Info("notification delivered", "attempt", attempt)
			return nil
		}
		if last.Permanent || attempt == s.opts.Attempts {
			break
		}
		log.Warn("notification attempt failed; retrying", "attempt", attempt, "status", last.Status, "error", last.Message)
		if retryAfter > 0 && retryAfter <= s.opts.MaxBackoff {
			wait = retryAfter
		}
		select {
		case <-ctx.Done():
			return &Error{Target: t.Name, Message: "gave up: " + ctx.Err().Error()}
		case <-time.After(wait):
		}
		wait = min(2*wait, s.opts.MaxBackoff)
	}
	log.Warn("notification not delivered", "status", last.Status, "error", last.Message, "permanent", last.Permanent)
	return last
}

// post makes one attempt; it returns nil on a 2xx answer.
func (s *Sender) post(ctx context.Context, t Target, e Event, body []byte) (*Error, time.Duration) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return &Error{Target: t.Name, Message: redact(err.Error(), t.URL), Permanent: true}, 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "godwit-notify")
	req.Header.Set("Idempotency-Key", e.ID)
	req.Header.Set("X-Godwit-Event-Id", e.ID)
	req.Header.Set("X-Godwit-Event-Type", string(e.Type))
	res, err := s.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error's text quotes the URL
		}
		return &Error{Target: t.Name, Message: redact(err.Error(), t.URL)}, 0
	}
	defer res.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		return nil, 0
	}
	msg := strings.TrimSpace(string(text))
	if msg == "" {
		msg = http.StatusText(res.StatusCode)
	}
	permanent := res.StatusCode < 500 && res.StatusCode != http.StatusRequestTimeout && res.StatusCode != http.StatusTooManyRequests
	return &Error{Target: t.Name, Status: res.StatusCode, Message: redact(msg, t.URL), Permanent: permanent},
		retryAfter(res.Header.Get("Retry-After"))
}

func retryAfter(h string) time.Duration {
	if secs, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	return 0
}

// redact removes the URL and the parts of it that can hold a token (path,
// query, user info) from msg.
func redact(msg, rawURL string) string {
	msg = strings.ReplaceAll(msg, rawURL, "<webhook URL>")
	u, err := url.Parse(rawURL)
	if err != nil {
		return msg
	}
	for _, part := range []string{u.RawQuery, u.User.String(), u.EscapedPath(), u.Path} {
		if len(part) > 1 {
			msg = strings.ReplaceAll(msg, part, "<redacted>")
		}
	}
	return msg
}

// CheckURL refuses a webhook URL that is not http(s) with a host. Its error
// never quotes the URL (nor url.Parse's error, which does): it may hold a
// token.
func CheckURL(raw string) error {
	if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("the URL is not an http(s) URL (its value is not shown: it may hold a token)")
	}
	return nil
}
