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
// that have the event, so a retry sends only to the others.
type notifyProgress struct {
	Delivered []int `json:"delivered"`
}

// notifySenderOptions are the sender's options; tests shorten the waits.
var notifySenderOptions = notify.Options{}

// Notify posts the event to every webhook of the spec that wants it. Each
// webhook that received it is recorded in the heartbeat, so a retry of the
// activity does not send it there again (and if the record is lost, the
// event's ID lets the receiver drop the duplicate).
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
	var failed, rejected []error
	for i, n := range in.Notifications {
		target := notify.Target{Name: fmt.Sprintf("notifications[%d]", i), Kind: n.Kind, Events: n.Events}
		if slices.Contains(progress.Delivered, i) || !target.Wants(in.Event.Type) {
			continue
		}
		url, err := ResolveSecret(n.URL)
		if err != nil {
			// The error names the variable or file, never a value.
			rejected = append(rejected, fmt.Errorf("notify %s: webhook URL: %w", target.Name, err))
			continue
		}
		target.URL = url
		if err := sender.Send(ctx, target, in.Event); err != nil {
			if notify.IsPermanent(err) {
				rejected = append(rejected, err)
			} else {
				failed = append(failed, err)
			}
			continue
		}
		progress.Delivered = append(progress.Delivered, i)
		activity.RecordHeartbeat(ctx, progress)
	}
	all := errors.Join(append(failed, rejected...)...)
	switch {
	case len(failed) > 0:
		return temporal.NewApplicationError(all.Error(), ErrTypeNotifyFailed)
	case len(rejected) > 0:
		return temporal.NewNonRetryableApplicationError(all.Error(), ErrTypeNotifyRejected, nil)
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
