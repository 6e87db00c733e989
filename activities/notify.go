package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/godwit/godwit/config"
	"github.com/godwit/godwit/notify"
)

// NotifyName is the notification activity's stable name.
const NotifyName = "Notify"

// Error types of the notification activity: a failed delivery is retried
// by the activity's retry policy; a rejected one (a 4xx answer, a webhook
// URL this worker cannot read) is not.
const (
	ErrTypeNotifyFailed   = "NotificationFailed"
	ErrTypeNotifyRejected = "NotificationRejected"
)

// NotifyInput is one event for the spec's webhooks. The notifications name
// their URLs by reference; the worker reads them, they never enter history.
type NotifyInput struct {
	Notifications []config.Notification `json:"notifications"`
	Event         notify.Event          `json:"event"`
}

// notifyProgress is the activity's heartbeat: the webhooks (by index)
// that have the event, so a retry sends only to the others, and those
// that cannot have it (a URL this worker cannot read, a 4xx answer), with
// why, so a retry for another webhook's 5xx neither sends to them again
// nor forgets to report them.
type notifyProgress struct {
	Delivered []int             `json:"delivered"`
	Rejected  []notifyRejection `json:"rejected,omitempty"`
}

// notifyRejection is a webhook that cannot have the event and why (the
// message names the variable or file, never the URL).
type notifyRejection struct {
	Index int    `json:"index"`
	Error string `json:"error"`
}

// done says whether webhook i has had its attempt for good.
func (p notifyProgress) done(i int) bool {
	return slices.Contains(p.Delivered, i) || slices.ContainsFunc(p.Rejected, func(r notifyRejection) bool { return r.Index == i })
}

// notifySenderOptions are the sender's options; tests shorten the waits.
var notifySenderOptions = notify.Options{}

// Notify posts the event to every webhook of the spec that wants it. Each
// webhook that received it is recorded in the heartbeat, so a retry of the
// activity does not send it there again (and if the record is lost, the
// event's ID lets the receiver drop the duplicate). A webhook that cannot
// have it (a configuration error, a 4xx) is recorded too: while another
// webhook's delivery fails (a 5xx, retried by the retry policy) the error
// is retryable and names both; once only rejections are left it is not
// retryable, so a configuration error ends the retries without holding
// back the webhooks that can still get the event.
func (a *Activities) Notify(ctx context.Context, in NotifyInput) error {
	var progress notifyProgress
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &progress); err != nil {
			progress = notifyProgress{}
		}
	}
	opts := notifySenderOptions
	opts.Logger = a.Logger.Named("notify").With("migration", in.Event.Migration)
	sender := notify.NewSender(opts)
	var failed []error
	reject := func(i int, err error) {
		progress.Rejected = append(progress.Rejected, notifyRejection{Index: i, Error: err.Error()})
		activity.RecordHeartbeat(ctx, progress)
	}
	for i, n := range in.Notifications {
		target := notify.Target{Name: fmt.Sprintf("notifications[%d]", i), Kind: n.Kind, Events: n.Events}
		if progress.done(i) || !target.Wants(in.Event.Type) {
			continue
		}
		url, err := ResolveSecret(n.URL)
		if err != nil {
			// The error names the variable or file, never a value.
			reject(i, fmt.Errorf("notify %s: webhook URL: %w", target.Name, err))
			continue
		}
		target.URL = url
		if err := sender.Send(ctx, target, in.Event); err != nil {
			if notify.IsPermanent(err) {
				reject(i, err)
			} else {
				failed = append(failed, err)
			}
			continue
		}
		progress.Delivered = append(progress.Delivered, i)
		activity.RecordHeartbeat(ctx, progress)
	}
	all := failed
	for _, r := range progress.Rejected {
		if len(failed) > 0 {
			// Beside the retried ones, say which are not.
			r.Error += " (not retried)"
		}
		all = append(all, errors.New(r.Error))
	}
	switch {
	case len(failed) > 0:
		return temporal.NewApplicationError(errors.Join(all...).Error(), ErrTypeNotifyFailed)
	case len(progress.Rejected) > 0:
		return temporal.NewNonRetryableApplicationError(errors.Join(all...).Error(), ErrTypeNotifyRejected, nil)
	}
	return nil
}

// notificationProblems checks, at preflight, that each webhook's URL can be
// read on this worker and is an http(s) URL: the Notify activity finds out
// only when an event is sent, in the background, and a webhook it cannot
// reach gets no event of the whole run (an audit trail with holes) while
// the run goes on. No message holds the URL.
func notificationProblems(ns []config.Notification) []Problem {
	var ps []Problem
	for i, n := range ns {
		at := fmt.Sprintf("notifications[%d].url", i)
		u, err := ResolveSecret(n.URL)
		if err == nil {
			err = notify.CheckURL(u)
		}
		if err != nil {
			ps = append(ps, Problem{Phase: "notifications", Message: fmt.Sprintf(
				"%s: %v: this webhook would get no event of the run; fix it on every worker", at, err)})
		}
	}
	return ps
}
