package config

import (
	"bytes"
	"fmt"
	"strings"
)

// yamlErrorIn is yamlError for a document that failed to parse, but it
// points at a quote that is not closed, or that closes too early, when the
// document has one: yaml.v3 then reports the line where it gave up (the
// end of the file, the next key) or the line before, not the quote's.
func yamlErrorIn(data []byte, err error) FieldError {
	fe := yamlError(err)
	if line, msg, ok := quoteProblem(data); ok {
		fe.Line, fe.Message = line, "not valid YAML: "+msg
	}
	return fe
}

// quoteProblem finds the first quoted value ("..." or '...') that is not
// closed on the line where it opens, or that is followed by more text after
// its closing quote ('it's'). A quoted value may span lines in YAML, but a
// spec almost never means one, so when the document does not parse this is
// the likeliest mistake. Block scalars (| and >) and comments are skipped.
func quoteProblem(data []byte) (line int, msg string, ok bool) {
	blockIndent := -1 // the indent of the key whose block scalar is being skipped
	for i, text := range strings.Split(string(data), "\n") {
		text = strings.TrimRight(text, "\r")
		trimmed := strings.TrimLeft(text, " ")
		indent := len(text) - len(trimmed)
		if blockIndent >= 0 {
			if trimmed == "" || indent > blockIndent {
				continue
			}
			blockIndent = -1
		}
		if m, found := lineQuoteProblem(text); found {
			return i + 1, m, true
		}
		if opensBlockScalar(trimmed) {
			blockIndent = indent
		}
	}
	return 0, "", false
}

// lineQuoteProblem scans one line; see quoteProblem.
func lineQuoteProblem(text string) (string, bool) {
	prev := byte(0) // the last non-space character outside quotes
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '#' && (i == 0 || text[i-1] == ' ' || text[i-1] == '\t'):
			return "", false // a comment
		case (c == '"' || c == '\'') && startsScalar(prev, text, i):
			end := closingQuote(text, i)
			if end < 0 {
				return fmt.Sprintf("the value that starts with %c here is not closed on this line: end it with %c (a %c inside it is written %s)",
					c, c, c, escapedQuote[c]), true
			}
			rest := strings.TrimLeft(text[end+1:], " \t")
			if rest != "" && !strings.ContainsRune(",]}:#", rune(rest[0])) {
				return fmt.Sprintf("text %q follows the value closed by %c here: a %c inside %c...%c is written %s",
					firstWord(rest), c, c, c, c, escapedQuote[c]), true
			}
			i, prev = end, c
		case c != ' ' && c != '\t':
			prev = c
		}
	}
	return "", false
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
