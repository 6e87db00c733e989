package cdc

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/godwit/godwit/datastore"
)

// Every object a capture creates starts with one of these prefixes, so
// Leftovers can find them and a person can recognise them.
const (
	prefix          = "godwit_"
	changelogPrefix = datastore.ChangelogPrefix
	triggerPrefix   = "godwit_tr_"
	functionPrefix  = "godwit_fn_"
	slotPrefix      = "godwit_"
	maxNameLen      = 40
	maxIdentLen     = 63 // PostgreSQL's limit (MySQL's is 64)
)

// CaptureName derives a capture's name from a migration's name and a
// string that identifies the source (the DSN's reference, never the DSN):
// readable, short enough for every engine's identifiers, and distinct for
// two migrations or two sources.
func CaptureName(migration, source string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(migration) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	readable := strings.Trim(b.String(), "_")
	if len(readable) > 24 {
		readable = readable[:24]
	}
	sum := sha256.Sum256([]byte(migration + "\x00" + source))
	return strings.Trim(readable+"_"+hex.EncodeToString(sum[:])[:8], "_")
}

func checkName(name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("cdc: %w: capture name %q must have 1 to %d characters", datastore.ErrBadPattern, name, maxNameLen)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return fmt.Errorf("cdc: %w: capture name %q may hold only a-z, 0-9 and _", datastore.ErrBadPattern, name)
		}
	}
	return nil
}

// ident builds an identifier from parts, shortened with a hash suffix when
// it would pass the engines' limit (a long table name).
func ident(parts ...string) string {
	s := strings.Join(parts, "_")
	if len(s) <= maxIdentLen {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return s[:maxIdentLen-9] + "_" + hex.EncodeToString(sum[:])[:8]
}

// The objects of a capture.
func slotName(name string) string        { return slotPrefix + name }
func publicationName(name string) string { return prefix + name }
func changelogName(name, table string) string {
	return ident(strings.TrimSuffix(changelogPrefix, "_"), name, table)
}
func triggerName(name, table, op string) string {
	return ident(strings.TrimSuffix(triggerPrefix, "_"), name, table, op)
}
func functionName(name, table string) string {
	return ident(strings.TrimSuffix(functionPrefix, "_"), name, table)
}
