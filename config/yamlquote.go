package config

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// yamlErrorIn is yamlError for a document that failed to parse, but it
// points at a quote that is not closed, or that closes too early, when the
// document has one: yaml.v3 then reports the line where it gave up (the
// end of the file, the next key) or the line before, not the quote's.
func yamlErrorIn(data []byte, err error) FieldError {
	fe := yamlError(err)
	col := -1
	if line, c, msg, ok := quoteProblem(data); ok {
		fe.Line, fe.Message, col = line, "not valid YAML: "+msg, c
	} else if line, c, msg, ok := bracketProblem(data, fe.Line, fe.Message); ok {
		fe.Line, fe.Message, col = line, "not valid YAML: "+msg, c
	}
	fe.Message += sourceLine(data, fe.Line, col)
	return fe
}

// sourceLine shows line n of data (1-based) under an error, with a caret
// under column col when it is known (>= 0), so a person sees what the line
// number points at:
//
//	2 | description: "abc
//	  |              ^
func sourceLine(data []byte, n, col int) string {
	lines := strings.Split(string(data), "\n")
	if n < 1 || n > len(lines) {
		return ""
	}
	text := strings.TrimRight(lines[n-1], "\r")
	if n == 1 {
		text = strings.TrimPrefix(text, "\ufeff")
	}
	gutter := fmt.Sprintf("%5d | ", n)
	out := "\n" + gutter + text
	if col >= 0 && col <= len(text) {
		out += "\n" + strings.Repeat(" ", len(gutter)-2) + "| " + strings.Repeat(" ", utf8.RuneCountInString(text[:col])) + "^"
	}
	return out
}

// quoteProblem finds the first quoted value ("..." or '...') that is not
// closed where it should be: one that never closes, or closes on a later
// line with more text after its closing quote (the quote meant to close it
// was left out, so it runs on to the next quote in the document), or that
// is followed by more text after its closing quote on its own line
// ('it's'). A quoted value may span lines in YAML: one that closes cleanly
// on a later line is fine and skipped, so a later mistake is not blamed on
// it. Block scalars (| and >) and comments are skipped. col is the byte
// offset of the quote at fault in its line.
func quoteProblem(data []byte) (line, col int, msg string, ok bool) {
	lines := strings.Split(string(data), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], "\r")
	}
	blockIndent := -1 // the indent of the key whose block scalar is being skipped
	start, prev := 0, byte(0)
	for i := 0; i < len(lines); i++ {
		text := lines[i]
		trimmed := strings.TrimLeft(text, " ")
		indent := len(text) - len(trimmed)
		if blockIndent >= 0 {
			if trimmed == "" || indent > blockIndent {
				continue
			}
			blockIndent = -1
		}
		c, m, found, open := lineQuoteProblem(text, start, prev)
		start, prev = 0, 0
		if found {
			return i + 1, c, m, true
		}
		if open >= 0 {
			q := text[open]
			j, end := closesLater(lines, i, open)
			if j < 0 || !cleanAfter(lines[j][end+1:]) {
				return i + 1, open, fmt.Sprintf("the value that starts with %c here is not closed on this line: end it with %c (a %c inside it is written %s)",
					q, q, q, escapedQuote[q]), true
			}
			// A value over several lines, closed cleanly: go on after it.
			i, start, prev = j-1, end+1, q
			continue
		}
		if opensBlockScalar(trimmed) {
			blockIndent = indent
		}
	}
	return 0, -1, "", false
}

// lineQuoteProblem scans one line from byte start, prev being the last
// non-space character before it outside quotes; see quoteProblem. It
// returns a problem found on the line, or open >= 0: the offset of a quote
// whose value the line does not close.
func lineQuoteProblem(text string, start int, prev byte) (col int, msg string, found bool, open int) {
	for i := start; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '#' && (i == 0 || text[i-1] == ' ' || text[i-1] == '\t'):
			return -1, "", false, -1 // a comment
		case (c == '"' || c == '\'') && startsScalar(prev, text, i):
			end := closingQuote(text, i)
			if end < 0 {
				return -1, "", false, i
			}
			if !cleanAfter(text[end+1:]) {
				rest := strings.TrimLeft(text[end+1:], " \t")
				return end, fmt.Sprintf("text %q follows the value closed by %c here: a %c inside %c...%c is written %s",
					firstWord(rest), c, c, c, c, escapedQuote[c]), true, -1
			}
			i, prev = end, c
		case c != ' ' && c != '\t':
			prev = c
		}
	}
	return -1, "", false, -1
}

// cleanAfter reports whether what follows a closing quote may follow it:
// nothing, a comment, or the ',', ']', '}' or ':' of the structure around.
func cleanAfter(rest string) bool {
	rest = strings.TrimLeft(rest, " \t")
	return rest == "" || strings.ContainsRune(",]}:#", rune(rest[0]))
}

// closesLater finds where the value opened at lines[i][open] and not
// closed on that line closes: the line and offset of its closing quote,
// or -1, -1 when the document ends first.
func closesLater(lines []string, i, open int) (int, int) {
	q := lines[i][open]
	for j := i + 1; j < len(lines); j++ {
		text := lines[j]
		for k := 0; k < len(text); k++ {
			switch {
			case q == '"' && text[k] == '\\':
				k++
			case text[k] == q && q == '\'' && k+1 < len(text) && text[k+1] == '\'':
				k++
			case text[k] == q:
				return j, k
			}
		}
	}
	return -1, -1
}

// escapedQuote is how a quote is written inside a value quoted with it.
var escapedQuote = map[byte]string{'"': `\"`, '\'': "''"}

// startsScalar reports whether a quote at text[i] begins a value: first
// on the line, or after "key: ", "- ", "[", "{", "," or "?".
func startsScalar(prev byte, text string, i int) bool {
	switch prev {
	case 0, '[', '{', ',', '?':
		return true
	case ':', '-':
		return i > 0 && (text[i-1] == ' ' || text[i-1] == '\t')
	}
	return false
}

// closingQuote returns the index of the quote that closes the value opened
// at text[open], or -1 when the line ends first.
func closingQuote(text string, open int) int {
	q := text[open]
	for j := open + 1; j < len(text); j++ {
		switch {
		case q == '"' && text[j] == '\\':
			j++ // an escape: skip the escaped character
		case text[j] == q && q == '\'' && j+1 < len(text) && text[j+1] == '\'':
			j++ // '' is an apostrophe inside '...'
		case text[j] == q:
			return j
		}
	}
	return -1
}

// opensBlockScalar reports whether a line ends with a block scalar's
// indicator (key: |, - >-), whose following lines are text.
func opensBlockScalar(trimmed string) bool {
	if k := strings.Index(trimmed, " #"); k >= 0 {
		trimmed = strings.TrimSpace(trimmed[:k])
	}
	f := strings.Fields(trimmed)
	if len(f) == 0 {
		return false
	}
	last := f[len(f)-1]
	return len(f) >= 2 && len(last) > 0 && (last[0] == '|' || last[0] == '>') &&
		strings.Trim(last[1:], "+-0123456789") == ""
}

func firstWord(s string) string {
	if k := bytes.IndexAny([]byte(s), " \t,]}"); k > 0 {
		return s[:k]
	}
	return s
}
