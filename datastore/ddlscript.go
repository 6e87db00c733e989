package datastore

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// ErrBadDDL is a DDL script provision cannot apply as it is: a statement
// that is not CREATE TABLE, CREATE INDEX or ALTER TABLE on the listed
// tables, a table listed but not created, one created twice.
var ErrBadDDL = errors.New("bad DDL script")

// StatementKind says what a DDL statement does.
type StatementKind string

// The statements a DDL script may hold.
const (
	CreateTable StatementKind = "create table"
	CreateIndex StatementKind = "create index"
	AlterTable  StatementKind = "alter table"
)

// Statement is one statement of a DDL script.
type Statement struct {
	SQL   string        // as written, without its ';'
	Line  int           // 1-based line where it starts
	Kind  StatementKind // what it does
	Table string        // the table it creates, indexes or alters
}

// ParseDDL splits a script into statements (on ';' outside quotes,
// comments and PostgreSQL dollar quotes) and classifies each. Only CREATE
// TABLE, CREATE INDEX and ALTER TABLE are accepted, on unqualified table
// names (the store's default schema); anything else is ErrBadDDL naming
// the statement and its line, so a script cannot drop, fill or change
// what provision does not own.
func ParseDDL(engine Engine, script string) ([]Statement, error) {
	var out []Statement
	for _, raw := range splitSQL(engine, script) {
		st, err := classify(engine, raw.sql)
		if err != nil {
			return nil, fmt.Errorf("%w: statement %d (line %d): %v", ErrBadDDL, len(out)+1, raw.line, err)
		}
		st.Line = raw.line
		out = append(out, st)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no statement in it", ErrBadDDL)
	}
	return out, nil
}

type rawStatement struct {
	sql  string
	line int
}

// ScriptStatement is one statement of a SQL script, as written, without
// its ';'.
type ScriptStatement struct {
	SQL  string
	Line int // 1-based line where it starts
}

// SplitScript cuts a script into statements by the engine's rules: ';'
// ends a statement outside quotes, comments, PostgreSQL dollar quotes and
// the BEGIN ... END body of a CREATE TRIGGER, PROCEDURE or FUNCTION.
func SplitScript(engine Engine, script string) []ScriptStatement {
	raw := splitSQL(engine, script)
	out := make([]ScriptStatement, len(raw))
	for i, r := range raw {
		out[i] = ScriptStatement{SQL: r.sql, Line: r.line}
	}
	return out
}

// splitSQL cuts a script into statements. MySQL strings take backslash
// escapes; PostgreSQL has $tag$ ... $tag$ quotes; a routine's body
// (CREATE TRIGGER ... BEGIN ... END) holds ';' of its own.
func splitSQL(engine Engine, s string) []rawStatement {
	var out []rawStatement
	start, line, startLine := 0, 1, 0
	var b blockDepth
	flush := func(end int) {
		if text := strings.TrimSpace(s[start:end]); text != "" && startLine > 0 {
			out = append(out, rawStatement{sql: text, line: startLine})
		}
		start, startLine = end+1, 0
		b = blockDepth{}
	}
	mark := func() {
		if startLine == 0 {
			startLine = line
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\n':
			line++
		case c == '-' && i+1 < len(s) && s[i+1] == '-', c == '#' && engine == MySQL:
			for i < len(s) && s[i] != '\n' {
				i++
			}
			i-- // the newline is counted by the loop
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				end = len(s) - i - 4
			}
			line += strings.Count(s[i:i+2+end+2], "\n")
			i += 2 + end + 1
		case c == '\'' || c == '"' || c == '`':
			mark()
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' && c == '\'' && engine == MySQL {
					j++
				}
				j++
			}
			line += strings.Count(s[i:min(j+1, len(s))], "\n")
			i = j
		case c == '$' && engine == Postgres:
			mark()
			if tag := dollarTag(s[i:]); tag != "" {
				end := strings.Index(s[i+len(tag):], tag)
				if end < 0 {
					end = len(s) - i - len(tag)*2
				}
				stop := min(i+len(tag)+end+len(tag), len(s))
				line += strings.Count(s[i:stop], "\n")
				i = stop - 1
			}
		case c == ';':
			if b.depth == 0 {
				flush(i)
			}
		case isWordByte(c):
			mark()
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			b.word(s[i:j], s[j:])
			i = j - 1
		case !unicode.IsSpace(rune(c)):
			mark()
		}
	}
	flush(len(s))
	return out
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// blockDepth follows a statement's words to know when a ';' is inside a
// routine's BEGIN ... END body (a trigger on MySQL or SQLite, a BEGIN
// ATOMIC function on PostgreSQL) rather than the statement's end.
type blockDepth struct {
	words   int
	create  bool // the statement starts with CREATE
	routine bool // ... and is a trigger, procedure or function
	depth   int
	skip    bool // the next word is END CASE's CASE
}

func (b *blockDepth) word(w, rest string) {
	b.words++
	if b.skip {
		b.skip = false
		return
	}
	switch {
	case b.words == 1:
		b.create = strings.EqualFold(w, "CREATE")
	case b.create && b.depth == 0 && (strings.EqualFold(w, "TRIGGER") || strings.EqualFold(w, "PROCEDURE") || strings.EqualFold(w, "FUNCTION")):
		b.routine = true
	case b.routine && strings.EqualFold(w, "BEGIN"), b.depth > 0 && strings.EqualFold(w, "CASE"):
		b.depth++
	case b.depth > 0 && strings.EqualFold(w, "END"):
		// END IF, END LOOP, END WHILE and END REPEAT close what BEGIN did
		// not open; END and END CASE close a BEGIN or a CASE.
		next := strings.TrimLeftFunc(rest, unicode.IsSpace)
		for _, k := range []string{"IF", "LOOP", "WHILE", "REPEAT"} {
			if len(next) >= len(k) && strings.EqualFold(next[:len(k)], k) && (len(next) == len(k) || !isWordByte(next[len(k)])) {
				return
			}
		}
		b.skip = len(next) >= 4 && strings.EqualFold(next[:4], "CASE") && (len(next) == 4 || !isWordByte(next[4]))
		b.depth--
	}
}

// dollarTag returns the $tag$ that s starts with ("" if none).
func dollarTag(s string) string {
	for j := 1; j < len(s); j++ {
		c := s[j]
		if c == '$' {
			return s[:j+1]
		}
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || j > 1 && c >= '0' && c <= '9') {
			return ""
		}
	}
	return ""
}

// token is a word or a (quoted) identifier at the head of a statement.
type token struct {
	text   string
	quoted bool
}

// tokens returns the statement's first n words, identifiers and
// punctuation, comments skipped.
func tokens(sql string, n int) []token {
	var out []token
	for i := 0; i < len(sql) && len(out) < n; {
		c := sql[i]
		switch {
		case unicode.IsSpace(rune(c)):
			i++
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-', c == '#':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return out
			}
			i += end + 4
		case c == '"' || c == '`':
			end := strings.IndexByte(sql[i+1:], c)
			if end < 0 {
				return out
			}
			out = append(out, token{text: sql[i+1 : i+1+end], quoted: true})
			i += end + 2
		case c == '_' || c == '$' || unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)) || c >= 0x80:
			j := i
			for j < len(sql) && (sql[j] == '_' || sql[j] == '$' || sql[j] >= 0x80 || unicode.IsLetter(rune(sql[j])) || unicode.IsDigit(rune(sql[j]))) {
				j++
			}
			out = append(out, token{text: sql[i:j]})
			i = j
		default:
			out = append(out, token{text: string(c)})
			i++
		}
	}
	return out
}

// tokenCursor walks a statement's tokens.
type tokenCursor struct {
	toks []token
	i    int
}

func (c *tokenCursor) peek(words ...string) bool {
	if c.i >= len(c.toks) || c.toks[c.i].quoted {
		return false
	}
	for _, w := range words {
		if strings.EqualFold(c.toks[c.i].text, w) {
			return true
		}
	}
	return false
}

func (c *tokenCursor) skip(words ...string) bool {
	if c.peek(words...) {
		c.i++
		return true
	}
	return false
}

// name reads a table name: unqualified, folded as the engine folds an
// unquoted name.
func (c *tokenCursor) name(engine Engine) (string, error) {
	if c.i >= len(c.toks) {
		return "", errors.New("no table name")
	}
	t := c.toks[c.i]
	c.i++
	if c.i < len(c.toks) && c.toks[c.i].text == "." && !c.toks[c.i].quoted {
		return "", fmt.Errorf("%q is qualified with a schema: name the table alone (it is created in the store's default schema)", t.text)
	}
	if !t.quoted && engine == Postgres {
		return strings.ToLower(t.text), nil
	}
	return t.text, nil
}

const allowedDDL = "only CREATE TABLE, CREATE INDEX and ALTER TABLE on the listed tables are allowed"

// notDDL says a statement is not one a DDL script may hold. It quotes none
// of the statement: a file that is not a DDL script (a password file named
// by mistake or malice) must not be shown in an error.
const notDDL = "is not a CREATE TABLE, CREATE INDEX or ALTER TABLE statement: " + allowedDDL

// classify says what one statement creates or changes.
func classify(engine Engine, sql string) (Statement, error) {
	c := &tokenCursor{toks: tokens(sql, 16)}
	st := Statement{SQL: sql}
	switch {
	case c.skip("CREATE"):
		c.skip("OR")
		c.skip("REPLACE")
		if c.peek("TEMP", "TEMPORARY", "GLOBAL", "LOCAL") {
			return st, errors.New("a temporary table vanishes with the session: create a plain table")
		}
		c.skip("UNLOGGED")
		switch {
		case c.skip("TABLE"):
			st.Kind = CreateTable
			if c.skip("IF") {
				c.skip("NOT")
				c.skip("EXISTS")
			}
		case c.peek("UNIQUE", "FULLTEXT", "SPATIAL", "INDEX"):
			c.skip("UNIQUE", "FULLTEXT", "SPATIAL")
			if !c.skip("INDEX") {
				return st, errors.New(notDDL)
			}
			st.Kind = CreateIndex
			if c.peek("CONCURRENTLY") {
				return st, errors.New("CREATE INDEX CONCURRENTLY cannot run inside the transaction that makes the script all-or-nothing: leave CONCURRENTLY out (the tables are new and empty)")
			}
			if c.skip("IF") {
				c.skip("NOT")
				c.skip("EXISTS")
			}
			for c.i < len(c.toks) && !c.peek("ON") {
				c.i++ // the index's name, if any
			}
			if !c.skip("ON") {
				return st, errors.New("CREATE INDEX without ON table")
			}
			c.skip("ONLY")
		default:
			return st, errors.New(notDDL)
		}
	case c.skip("ALTER"):
		if !c.skip("TABLE") {
			return st, errors.New(notDDL)
		}
		st.Kind = AlterTable
		if c.skip("IF") {
			c.skip("EXISTS")
		}
		c.skip("ONLY")
	default:
		return st, errors.New(notDDL)
	}
	name, err := c.name(engine)
	if err != nil {
		return st, err
	}
	st.Table = name
	return st, nil
}
