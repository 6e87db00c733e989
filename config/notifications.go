package config

import (
	"fmt"
	"strings"

	"github.com/godwit/godwit/notify"
)

// Notification is one webhook of a spec's `notifications:` list: the
// team's channel hears of the run's phases, gates and rollbacks as they
// happen. The URL holds a token (a Slack webhook URL is one), so the spec
// names where the worker finds it, never the URL itself:
//
//	notifications:
//	  - kind: slack
//	    url: {fromEnv: SLACK_WEBHOOK_URL}
//	    events: [phase.failed, gate.waiting, rollback.started, rollback.finished, migration.completed]
//	  - kind: json
//	    url: {fromFile: /etc/godwit/audit-hook-url}
type Notification struct {
	// Kind is the body's shape: slack or json.
	Kind notify.Kind `yaml:"kind" json:"kind"`
	// URL is where the webhook's URL is: {fromEnv: VAR} or {fromFile: PATH}.
	URL SecretRef `yaml:"url" json:"url"`
	// Events the webhook receives; empty: every event.
	Events []notify.EventType `yaml:"events" json:"events,omitempty"`
}

// CheckNotifications reports every problem of a spec's notifications list
// found at path (normally "notifications"), each with its field's path.
func CheckNotifications(path string, ns []Notification) FieldErrors {
	var errs FieldErrors
	add := func(p, format string, args ...any) {
		errs = append(errs, FieldError{Path: p, Message: fmt.Sprintf(format, args...)})
	}
	kinds := make([]string, len(notify.Kinds))
	for i, k := range notify.Kinds {
		kinds[i] = string(k)
	}
	events := make([]string, len(notify.EventTypes))
	for i, e := range notify.EventTypes {
		events[i] = string(e)
	}
	for i, n := range ns {
		item := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case n.Kind == "":
			add(item+".kind", "is required: one of %s", strings.Join(kinds, ", "))
		case !contains(kinds, string(n.Kind)):
			add(item+".kind", "%q is not a notification kind: use one of %s", n.Kind, strings.Join(kinds, ", "))
		}
		switch {
		case n.URL.FromEnv == "" && n.URL.FromFile == "":
			add(item+".url", "is required: {fromEnv: VAR} or {fromFile: PATH}, read by the worker (a webhook URL holds a token, so it never goes in the spec)")
		case n.URL.FromEnv != "" && n.URL.FromFile != "":
			add(item+".url", "sets both fromEnv and fromFile: choose one")
		case n.URL.FromEnv != "" && !envNamePattern.MatchString(n.URL.FromEnv):
			// Never echo it: someone may have pasted the URL itself here.
			add(item+".url.fromEnv", "is not an environment variable name: use letters, digits and '_' (write the URL in that variable, not here)")
		}
		seen := map[notify.EventType]bool{}
		for j, e := range n.Events {
			ep := fmt.Sprintf("%s.events[%d]", item, j)
			switch {
			case !e.Valid():
				add(ep, "%q is not an event: use %s", e, strings.Join(events, ", "))
			case seen[e]:
				add(ep, "%q is listed twice", e)
			}
			seen[e] = true
		}
	}
	return errs
}
