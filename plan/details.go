package plan

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// DefaultDetailsBytes bounds Details: the Temporal UI shows the text beside
// the run, and it is stored with the run's start event, so a spec of many
// phases must not make it grow without end.
const DefaultDetailsBytes = 8 << 10

// maxCell cuts one table cell (a rollback command can be long).
const maxCell = 100

// Details writes the plan in Markdown for the Temporal UI: a headline
// (phases, estimated total, risk, point of no return), a table of the
// phases with their estimate, risk, gate and rollback step, the risk
// factors and the warnings. It is at most maxBytes long (DefaultDetailsBytes
// when maxBytes <= 0): phases and factors that do not fit are counted in a
// last line that says how to see them all.
func (p *Plan) Details(maxBytes int) string {
	if maxBytes <= 0 {
		maxBytes = DefaultDetailsBytes
	}
	var head strings.Builder
	fmt.Fprintf(&head, "**Plan**: %d phases, about %s, risk **%s** (score %d)", len(p.Phases), p.EstimatedTotal, p.OverallRisk, p.RiskScore)
	if p.PointOfNoReturn != "" {
		fmt.Fprintf(&head, "; point of no return: %s", p.PointOfNoReturn)
	}
	head.WriteString(".\n\n| # | phase | kind | estimate | risk | gate | rollback step |\n|---|---|---|---|---|---|---|\n")
	lines := []string{}
	for _, ph := range p.Phases {
		gate := ph.Gate
		if ph.StepGates > 0 {
			gate = strings.TrimPrefix(gate+fmt.Sprintf(", %d in its steps", ph.StepGates), ", ")
		}
		rollback := ph.RollbackStep
		if !ph.Reversible {
			rollback = "**irreversible**: " + rollback
		}
		lines = append(lines, fmt.Sprintf("| %d | %s | %s | %s | %s | %s | %s |\n", ph.Order, cell(ph.Name), ph.Kind,
			minutes(ph.EstimatedMinutes), ph.Risk, cell(gate), cell(rollback)))
	}
	extra := []string{}
	for _, f := range p.RiskFactors {
		extra = append(extra, fmt.Sprintf("- risk +%d %s: %s\n", f.Points, f.Factor, cell(f.Detail)))
	}
	for _, w := range p.Warnings {
		extra = append(extra, fmt.Sprintf("- warning: %s\n", cell(w)))
	}
	return bounded(head.String(), lines, extra, maxBytes)
}

// bounded joins head, the table rows and, after a blank line, the extra
// lines, keeping as many as fit in max bytes with room for a closing line
// that counts what was left out.
func bounded(head string, rows, extra []string, max int) string {
	const tail = "\n… %d more line(s): run `godwit plan -f SPEC` for the whole plan.\n"
	room := max - len(fmt.Sprintf(tail, len(rows)+len(extra)))
	if len(head) > room {
		return cut(head, max)
	}
	var b strings.Builder
	b.WriteString(head)
	left := 0
	add := func(s string) {
		if left == 0 && b.Len()+len(s) <= room {
			b.WriteString(s)
			return
		}
		left++
	}
	for _, r := range rows {
		add(r)
	}
	if len(extra) > 0 && left == 0 && b.Len()+1 <= room {
		b.WriteString("\n")
	}
	for _, e := range extra {
		add(e)
	}
	if left > 0 {
		fmt.Fprintf(&b, tail, left)
	}
	return b.String()
}

// cell makes text safe for a Markdown table cell and cuts it.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", `\|`)
	return cut(s, maxCell)
}

// cut shortens s to at most n bytes without splitting a character.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n - len("…")
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
