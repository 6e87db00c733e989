package notify

import (
	"fmt"
	"strings"
)

// slackBody is a Slack incoming-webhook message: text is the fallback
// (notifications, clients without blocks); blocks are what people see.
type slackBody struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// icons give each event a glance-able mark.
var icons = map[EventType]string{
	PhaseStarted:     ":arrow_forward:",
	PhaseCompleted:   ":white_check_mark:",
	PhaseFailed:      ":x:",
	GateWaiting:      ":raised_hand:",
	Paused:           ":double_vertical_bar:",
	Resumed:          ":arrow_forward:",
	RollbackStarted:  ":rewind:",
	RollbackFinished: ":leftwards_arrow_with_hook:",
	Completed:        ":tada:",
}

func slackMessage(e Event) slackBody {
	headline := fmt.Sprintf("%s *%s*: %s", icons[e.Type], escape(e.Migration), escape(e.Message))
	var details []string
	if e.Status != "" {
		details = append(details, fmt.Sprintf("status %s, %.0f%% done", e.Status, e.Progress))
	}
	if e.Gate != "" {
		details = append(details, fmt.Sprintf("approve with `godwit approve %s --gate %s`", e.Migration, e.Gate))
	}
	if e.By != "" {
		details = append(details, "by "+escape(e.By))
	}
	if e.Reason != "" {
		details = append(details, "reason: "+escape(e.Reason))
	}
	if e.Error != "" {
		details = append(details, "error: "+escape(e.Error))
	}
	text := headline
	if len(details) > 0 {
		text += "\n" + strings.Join(details, "\n")
	}
	return slackBody{
		Text: fmt.Sprintf("%s: %s", e.Migration, e.Message),
		Blocks: []slackBlock{
			{Type: "section", Text: &slackText{Type: "mrkdwn", Text: text}},
			{Type: "context", Elements: []slackText{{Type: "mrkdwn", Text: fmt.Sprintf("%s · %s · event %s",
				e.Type, e.Time.UTC().Format("2006-01-02 15:04:05 UTC"), escape(e.ID))}}},
		},
	}
}

// escape keeps Slack from reading &, < and > as markup (links, mentions).
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
