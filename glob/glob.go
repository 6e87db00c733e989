// Package glob matches table names against the patterns a spec gives:
// Go's path.Match, except that a class opened by "[!" is negated, as in a
// shell and as docs/data-plane.md promises ("[^" works too). path.Match
// alone reads "[!0-9]" as "'!' or a digit", the opposite of what was
// meant, so every pattern of a spec is matched here.
package glob

import (
	"path"
	"strings"
)

// Match reports whether name matches pattern; the error is path.Match's
// for a malformed pattern (an unbalanced "[" or a trailing "\").
func Match(pattern, name string) (bool, error) {
	return path.Match(translate(pattern), name)
}

// translate rewrites each class opened by "[!" to "[^", leaving escaped
// characters and the contents of classes alone.
func translate(p string) string {
	if !strings.Contains(p, "[!") {
		return p
	}
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			b.WriteByte(c)
			i++
			c = p[i]
		case !inClass && c == '[':
			inClass = true
			b.WriteByte(c)
			if i+1 < len(p) && p[i+1] == '!' {
				b.WriteByte('^')
				i++
			}
			continue
		case inClass && c == ']':
			inClass = false
		}
		b.WriteByte(c)
	}
	return b.String()
}
