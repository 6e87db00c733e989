package config

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Placeholder begins every value `godwit init` writes where it cannot
// derive one (a store's DSN variable, a route, the gateway's address); the
// rest of the value says what to put there. A spec holding one is not
// valid: each is reported at its field until filled in.
const Placeholder = "TODO(godwit init)"

// PlaceholderMessage begins the message of a field that is still a
// placeholder.
const PlaceholderMessage = "is still a placeholder written by godwit init: fill in "

// placeholders lists the scalar values of the document that are still
// placeholders, each at its field's path and line.
func placeholders(path string, n *yaml.Node) FieldErrors {
	var out FieldErrors
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			out = append(out, placeholders(path, c)...)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			out = append(out, placeholders(joinPath(path, n.Content[i].Value), n.Content[i+1])...)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			out = append(out, placeholders(path+"["+strconv.Itoa(i)+"]", c)...)
		}
	case yaml.ScalarNode:
		if rest, ok := strings.CutPrefix(n.Value, Placeholder); ok {
			hint := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), ":"))
			out = append(out, FieldError{Path: path, Line: n.Line, Message: PlaceholderMessage + hint})
		}
	}
	return out
}

// withoutPlaceheld drops the errors about a field that is a placeholder:
// the placeholder's own message says what to do.
func withoutPlaceheld(errs, held FieldErrors) FieldErrors {
	var out FieldErrors
	for _, e := range errs {
		covered := false
		for _, h := range held {
			if within(e.Path, h.Path) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, e)
		}
	}
	return out
}
