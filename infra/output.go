package infra

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/godwit/godwit/hook"
)

// DefaultMaxOutput is how much of Terraform's output an Output keeps.
const DefaultMaxOutput = 16 << 10

// Output collects what Terraform prints: only its tail is kept, and secret
// values are replaced by "***" when it is read. Safe for concurrent writes
// (stdout and stderr).
type Output struct {
	mu      sync.Mutex
	max     int
	buf     []byte
	cut     int
	secrets []string
}

// NewOutput keeps at most max bytes (DefaultMaxOutput when max <= 0) and
// hides secrets.
func NewOutput(max int, secrets []string) *Output {
	if max <= 0 {
		max = DefaultMaxOutput
	}
	// Each secret's encoded forms (base64, hex, URL-encoded, reversed) are
	// hidden too, longest first so that a form containing another goes
	// whole.
	var kept []string
	for _, s := range secrets {
		kept = append(kept, hook.Variants(s)...)
	}
	sort.SliceStable(kept, func(i, j int) bool { return len(kept[i]) > len(kept[j]) })
	return &Output{max: max, secrets: kept}
}

// Write appends p, dropping the oldest bytes beyond twice the limit (a
// secret split by the cut is still hidden: String cuts after redacting).
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf = append(o.buf, p...)
	if extra := len(o.buf) - 2*o.max; extra > 0 {
		o.cut += extra
		o.buf = append(o.buf[:0], o.buf[extra:]...)
	}
	return len(p), nil
}

// String returns the redacted tail, with a note of what was cut.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	text := o.redact(string(o.buf))
	cut := o.cut
	if extra := len(text) - o.max; extra > 0 {
		cut += extra
		text = text[extra:]
	}
	if cut > 0 {
		return fmt.Sprintf("[... %d bytes cut ...]\n%s", cut, text)
	}
	return text
}

// redact hides every secret in s.
func (o *Output) redact(s string) string {
	for _, secret := range o.secrets {
		s = strings.ReplaceAll(s, secret, "***")
	}
	return s
}
