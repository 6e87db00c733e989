package redact

import (
	"io"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Mask replaces a secret in redacted text.
const Mask = "***"

// MinSecretLen is the shortest value a Set redacts: a shorter one ("1",
// "on") would blank out ordinary words of every log line.
const MinSecretLen = 4

// Set is the secrets one worker process knows: every value it read from a
// secret reference (hook secrets, store DSNs and their passwords, gateway
// tokens), its keyring and its Temporal credentials. Each is named by where
// it comes from ("env:VAR", "file:PATH"), a name that is the same on every
// worker running the same spec: a sealed checkpoint names the secret, never
// holds it. Safe for concurrent use.
type Set struct {
	mu      sync.RWMutex
	values  map[string]string // name → value
	hide    *strings.Replacer // every form → Mask; nil when empty
	seal    *strings.Replacer // every form → its placeholder
	hasForm bool
}

// NewSet returns an empty set.
func NewSet() *Set { return &Set{values: map[string]string{}} }

// Add records the secret value under name; a value that holds a DSN's
// password (a URL's, a MySQL DSN's, a key=value DSN's password=) records
// the password too, under name+"#password". Values shorter than
// MinSecretLen are ignored.
func (s *Set) Add(name, value string) {
	if s == nil || len(value) < MinSecretLen {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := s.put(name, value)
	if pw := DSNPassword(value); pw != "" && pw != value {
		changed = s.put(name+"#password", pw) || changed
	}
	if changed {
		s.rebuild()
	}
}

func (s *Set) put(name, value string) bool {
	if len(value) < MinSecretLen || s.values[name] == value {
		return false
	}
	s.values[name] = value
	return true
}

// Values returns every secret value, in no particular order.
func (s *Set) Values() []string {
	if s == nil {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.values))
	for _, v := range s.values {
		out = append(out, v)
	}
	return out
}

// rebuild makes the replacers: forms longest first, since a Replacer tries
// its patterns in order at each position and a secret containing another
// must be hidden whole.
func (s *Set) rebuild() {
	type nf struct{ name, kind, text string }
	var forms []nf
	for name, v := range s.values {
		for _, f := range Forms(v) {
			forms = append(forms, nf{name, f.Kind, f.Text})
		}
	}
	sort.Slice(forms, func(i, j int) bool {
		if len(forms[i].text) != len(forms[j].text) {
			return len(forms[i].text) > len(forms[j].text)
		}
		if forms[i].text != forms[j].text {
			return forms[i].text < forms[j].text
		}
		return forms[i].name < forms[j].name
	})
	hide := make([]string, 0, 2*len(forms))
	seal := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		hide = append(hide, f.text, Mask)
		seal = append(seal, f.text, placeholder(f.name, f.kind))
	}
	s.hide, s.seal, s.hasForm = strings.NewReplacer(hide...), strings.NewReplacer(seal...), len(forms) > 0
}

// String returns text with every form of every secret replaced by Mask.
func (s *Set) String(text string) string {
	if s == nil {
		return text
	}
	s.mu.RLock()
	r, ok := s.hide, s.hasForm
	s.mu.RUnlock()
	if !ok {
		return text
	}
	return r.Replace(text)
}

// Contains reports whether text holds a form of a secret.
func (s *Set) Contains(text string) bool { return s.String(text) != text }

// Seal returns text with every form of every secret replaced by a
// placeholder naming the secret and the form, which Unseal turns back
// into the value on a worker that knows the secret. A checkpoint is sealed
// before it leaves the worker (heartbeat details, history).
func (s *Set) Seal(text string) string {
	if s == nil {
		return text
	}
	s.mu.RLock()
	r, ok := s.seal, s.hasForm
	s.mu.RUnlock()
	if !ok {
		return text
	}
	return r.Replace(text)
}

// Unseal puts the values back into a text Seal returned. It reports the
// names of secrets it does not know (their placeholders stay), so that the
// caller can say which secret a resume lacks.
func (s *Set) Unseal(text string) (string, []string) {
	if !strings.Contains(text, placeholderPrefix) {
		return text, nil
	}
	var missing []string
	out := placeholderPattern.ReplaceAllStringFunc(text, func(m string) string {
		sub := placeholderPattern.FindStringSubmatch(m)
		name, kind := sub[1], sub[2]
		var value string
		var ok bool
		if s != nil {
			s.mu.RLock()
			value, ok = s.values[name]
			s.mu.RUnlock()
		}
		if ok {
			for _, f := range Forms(value) {
				if f.Kind == kind {
					return f.Text
				}
			}
		}
		missing = append(missing, name)
		return m
	})
	return out, missing
}

const placeholderPrefix = "{godwit-secret:"

// placeholderPattern matches placeholder(name, kind): the name may hold
// ':' (env:VAR), the kind may not.
var placeholderPattern = regexp.MustCompile(`\{godwit-secret:([^{}]+):([A-Za-z0-9@-]+)\}`)

func placeholder(name, kind string) string { return placeholderPrefix + name + ":" + kind + "}" }

// Writer returns a writer that redacts each write before passing it to w.
// A logger writes each entry in one write, so a secret is never split
// between two.
func (s *Set) Writer(w io.Writer) io.Writer { return writer{s, w} }

type writer struct {
	s *Set
	w io.Writer
}

func (r writer) Write(p []byte) (int, error) {
	red := r.s.String(string(p))
	if _, err := io.WriteString(r.w, red); err != nil {
		return 0, err
	}
	return len(p), nil
}

// mysqlDSN matches go-sql-driver's "user:password@tcp(host)/db".
var mysqlDSN = regexp.MustCompile(`^[^:@/]*:([^@]+)@`)

// keywordPassword matches libpq's "password=..." (quoted or not).
var keywordPassword = regexp.MustCompile(`(?:^|\s)password\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S+))`)

// DSNPassword returns the password a DSN holds, or "".
func DSNPassword(dsn string) string {
	if strings.Contains(dsn, "://") {
		if u, err := url.Parse(dsn); err == nil && u.User != nil {
			if pw, ok := u.User.Password(); ok {
				return pw
			}
		}
	}
	if m := mysqlDSN.FindStringSubmatch(dsn); m != nil && !strings.Contains(dsn, "://") {
		return m[1]
	}
	if m := keywordPassword.FindStringSubmatch(dsn); m != nil {
		if m[1] != "" {
			return m[1]
		}
		return m[2]
	}
	return ""
}
