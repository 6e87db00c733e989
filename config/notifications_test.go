package config

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/godwit/godwit/notify"
)

// decodeNotifications decodes a spec fragment's notifications with the
// strict decoder and checks them, as the spec will once it has the field.
func decodeNotifications(t *testing.T, doc string) ([]Notification, FieldErrors) {
	t.Helper()
	var root yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(doc), &root))
	var v struct {
		Notifications []Notification `yaml:"notifications"`
	}
	d := newStrictDecoder(len(doc))
	d.Decode("", &root, reflect.ValueOf(&v).Elem())
	// As ParseSpec does: a field that failed to decode is not also reported empty.
	explained := append([]string(nil), d.Explained...)
	for _, e := range d.Errs {
		explained = append(explained, e.Path)
	}
	return v.Notifications, append(unrelatedTo(CheckNotifications("notifications", v.Notifications), explained), d.Errs...)
}

func TestNotifications(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []Notification
		errs []string // "path: message" of each problem, in order
	}{
		{
			name: "both kinds",
			doc: `notifications:
  - kind: slack
    url: {fromEnv: SLACK_WEBHOOK_URL}
    events: [gate.waiting, rollback.started]
  - kind: json
    url: {fromFile: /etc/godwit/hook}
`,
			want: []Notification{
				{Kind: notify.KindSlack, URL: SecretRef{FromEnv: "SLACK_WEBHOOK_URL"}, Events: []notify.EventType{notify.GateWaiting, notify.RollbackStarted}},
				{Kind: notify.KindJSON, URL: SecretRef{FromFile: "/etc/godwit/hook"}},
			},
		},
		{
			name: "a URL written in the spec is refused without echoing it",
			doc: `notifications:
  - kind: slack
    url: https://hooks.slack.com/services/T0/B0/SECRET
`,
			errs: []string{"notifications[0].url (line 3): must not be written in the spec, where it would be stored in workflow history in plain text: write {fromEnv: VAR} (a variable in the worker's environment) or {fromFile: PATH} (a file on the worker)"},
		},
		{
			name: "a URL pasted as the variable name is refused without echoing it",
			doc: `notifications:
  - kind: json
    url: {fromEnv: "https://example.com/hook?token=SECRET"}
`,
			errs: []string{"notifications[0].url.fromEnv: is not an environment variable name: use letters, digits and '_' (write the URL in that variable, not here)"},
		},
		{
			name: "every problem with its path",
			doc: `notifications:
  - url: {fromEnv: A, fromFile: /b}
    events: [phase.started, phase.exploded, phase.started]
  - kind: teams
    url: {}
    colour: red
`,
			errs: []string{
				"notifications[0].kind: is required: one of slack, json",
				"notifications[0].url: sets both fromEnv and fromFile: choose one",
				`notifications[0].events[1]: "phase.exploded" is not an event: use phase.started, phase.completed, phase.failed, gate.waiting, migration.paused, migration.resumed, rollback.started, rollback.finished, migration.completed`,
				`notifications[0].events[2]: "phase.started" is listed twice`,
				`notifications[1].kind: "teams" is not a notification kind: use one of slack, json`,
				"notifications[1].url: is required: {fromEnv: VAR} or {fromFile: PATH}, read by the worker (a webhook URL holds a token, so it never goes in the spec)",
				"notifications[1].colour (line 6): unknown field; known fields here: kind, url, events",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := decodeNotifications(t, tt.doc)
			var msgs []string
			for _, e := range errs {
				msgs = append(msgs, e.Error())
				assert.NotContains(t, e.Error(), "SECRET")
			}
			assert.Equal(t, tt.errs, msgs)
			if tt.want != nil {
				assert.Equal(t, tt.want, got)
			}
		})
	}
}
