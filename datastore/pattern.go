package datastore

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/godwit/godwit/glob"
)

// Table patterns are globs over table names in the store's default schema
// (PostgreSQL's current_schema(), the MySQL DSN's database, SQLite's main):
//
//	*        any run of characters, e.g. orders_* matches orders_2024
//	?        any one character
//	[abc]    one of a, b or c; [a-z] a range; [!0-9] anything but a digit
//	\*       a literal *
//
// A pattern without *, ? or [ is a table name and must exist. A pattern
// must match at least one table. SQL LIKE wildcards (%), schema-qualified
// names (a.b) and empty patterns are refused with ErrBadPattern.

// ValidatePattern reports whether p is a usable table pattern; a spec parser
// can call it to refuse a bad pattern before anything runs.
func ValidatePattern(p string) error {
	// A character escaped with \ is taken as it is: `order\ items` names
	// the table "order items" (Literal writes such patterns).
	bare := unescaped(p)
	switch {
	case strings.TrimSpace(p) == "":
		return fmt.Errorf("%w: empty pattern", ErrBadPattern)
	case strings.Contains(bare, "%"):
		return fmt.Errorf("%w: %q: use * and ? (glob), not SQL LIKE's %%", ErrBadPattern, p)
	case strings.Contains(bare, "."):
		return fmt.Errorf("%w: %q: schema-qualified names are not supported; tables are looked up in the DSN's default schema", ErrBadPattern, p)
	case strings.ContainsAny(bare, "/ \t\n"):
		return fmt.Errorf("%w: %q: whitespace and / are not allowed (escape them with \\ in a table's name: `order\\ items`)", ErrBadPattern, p)
	}
	if _, err := glob.Match(p, ""); err != nil {
		return fmt.Errorf("%w: %q: unbalanced [ ] or trailing \\", ErrBadPattern, p)
	}
	return nil
}

// unescaped is p without its escaped characters (a \ and the character
// after it), what is left to check for characters a pattern may not hold.
func unescaped(p string) string {
	if !strings.Contains(p, "\\") {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '\\' && i+1 < len(p) {
			i++
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// Literal is the pattern that selects exactly the table name, whatever it
// holds: glob characters, whitespace, / . and % are escaped. A fan-out
// unit is a table's name, and a table listed by "*" may be named
// "order items" or "a*b".
func Literal(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		if strings.IndexByte("\\*?[] \t\n/.%", name[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(name[i])
	}
	return b.String()
}

// IsGlob reports whether a (valid) pattern has wildcards.
func IsGlob(p string) bool { return strings.ContainsAny(p, "*?[\\") }

// MatchTables returns the names that the patterns select, sorted and without
// duplicates. A literal name that is not in names is ErrUnknownTable; a glob
// that matches nothing is ErrUnknownTable too (a typo must not copy nothing).
func MatchTables(names []string, patterns []string) ([]string, error) {
	if len(patterns) == 0 {
		return nil, fmt.Errorf("%w: no tables or patterns given", ErrBadPattern)
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range patterns {
		if err := ValidatePattern(p); err != nil {
			return nil, err
		}
		n := 0
		for _, name := range names {
			if ok, _ := glob.Match(p, name); ok {
				n++
				if !seen[name] {
					seen[name] = true
					out = append(out, name)
				}
			}
		}
		if n == 0 {
			if IsGlob(p) {
				return nil, fmt.Errorf("%w: pattern %q matches no table", ErrUnknownTable, p)
			}
			return nil, fmt.Errorf("%w: %q", ErrUnknownTable, p)
		}
	}
	sort.Strings(out)
	return out, nil
}

// The tables change capture keeps in a source (package cdc names them):
// a changelog per captured table, and on SQLite one origin table.
const (
	// ChangelogPrefix starts the name of every changelog table.
	ChangelogPrefix = "godwit_cl_"
	// OriginTable is SQLite's table of origin tags shared by its captures.
	OriginTable = "godwit_origin"
)

// isGodwitTable reports whether name is one of Godwit's own bookkeeping
// tables (provisioning records, pending foreign keys, changelogs), which
// no table pattern selects: a capture set up with tables "*" before the
// copy must not have the copy take its changelogs for application tables.
func isGodwitTable(name string) bool {
	switch name {
	case provisionTable, databaseMarker, pendingTable, OriginTable:
		return true
	}
	return strings.HasPrefix(name, ChangelogPrefix)
}

// ListTables returns the base tables of the store's default schema, sorted,
// leaving out Godwit's own bookkeeping tables.
func (s *Store) ListTables(ctx context.Context) ([]string, error) {
	names, err := s.d.listTables(ctx, s.DB)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	out := names[:0]
	for _, n := range names {
		if !isGodwitTable(n) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// ResolveTables lists the store's tables and returns those the patterns
// select (see MatchTables).
func (s *Store) ResolveTables(ctx context.Context, patterns []string) ([]string, error) {
	for _, p := range patterns {
		if err := ValidatePattern(p); err != nil {
			return nil, err
		}
	}
	names, err := s.ListTables(ctx)
	if err != nil {
		return nil, err
	}
	return MatchTables(names, patterns)
}
