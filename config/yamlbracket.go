package config

import (
	"fmt"
	"strings"
)

// bracketProblem finds the flow collection ({...} or [...]) that yaml.v3
// gave up on with "did not find expected ',' or '}'" (or ']'): it reports
// the line before the one the bracket opens on, so the person is sent to
// the wrong line. from is that reported line (1-based). It returns the
// line and byte offset of the bracket at fault: one closed by the other
// kind of bracket, or one still open when a later line comes back to its
// indent or less (a flow collection may span lines, indented further).
func bracketProblem(data []byte, from int, msg string) (line, col int, text string, ok bool) {
	var want byte
	switch {
	case strings.HasSuffix(msg, "did not find expected ',' or '}'"):
		want = '{'
	case strings.HasSuffix(msg, "did not find expected ',' or ']'"):
		want = '['
	default:
		return 0, -1, "", false
	}
	closer := map[byte]byte{'{': '}', '[': ']'}
	lines := strings.Split(string(data), "\n")
	type open struct{ line, col, indent int }
	var stack []open
	for i := max(from-1, 0); i < len(lines); i++ {
		text := strings.TrimRight(lines[i], "\r")
		trimmed := strings.TrimLeft(text, " ")
		indent := len(text) - len(trimmed)
		if len(stack) > 0 && trimmed != "" && !strings.HasPrefix(trimmed, "#") && indent <= stack[0].indent {
			break // back at the outermost open bracket's indent: it never closed
		}
		for j := 0; j < len(text); j++ {
			c := text[j]
			switch {
			case c == '#' && (j == 0 || text[j-1] == ' ' || text[j-1] == '\t'):
				j = len(text) // a comment
			case c == '"' || c == '\'':
				if end := closingQuote(text, j); end > j {
					j = end
				}
			case c == '{' || c == '[':
				stack = append(stack, open{i + 1, j, indent})
			case c == '}' || c == ']':
				if len(stack) == 0 {
					continue
				}
				top := stack[len(stack)-1]
				if got := lines[top.line-1][top.col]; closer[got] != c {
					return top.line, top.col, fmt.Sprintf("the %c here is closed by %c: end it with %c", got, c, closer[got]), true
				}
				stack = stack[:len(stack)-1]
			}
		}
	}
	for k := len(stack) - 1; k >= 0; k-- {
		if o := stack[k]; lines[o.line-1][o.col] == want {
			return o.line, o.col, fmt.Sprintf("the %c here is not closed: end it with %c", want, closer[want]), true
		}
	}
	return 0, -1, "", false
}
