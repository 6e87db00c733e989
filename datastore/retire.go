package datastore

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/godwit/godwit/glob"
)

// RetireMode says what decommissioning does with a store's tables.
type RetireMode string

// The retire modes.
const (
	// RetireRename renames each table out of the way (the default): the
	// data stays, and a person can rename it back.
	RetireRename RetireMode = "rename"
	// RetireDrop drops each table: the point of no return.
	RetireDrop RetireMode = "drop"
	// RetireKeep leaves the tables as they are and only says so.
	RetireKeep RetireMode = "keep"
)

// DefaultRetiredName is the rename pattern when none is given.
const DefaultRetiredName = "{table}_retired"

// RetireOptions say which tables to retire and how.
type RetireOptions struct {
	// Tables are names or glob patterns (ValidatePattern).
	Tables []string
	Mode   RetireMode
	// RenameTo is the new name's pattern for RetireRename; it must hold
	// "{table}" (default DefaultRetiredName).
	RenameTo string
}

// RetireResult is what Retire did, table by table, sorted.
type RetireResult struct {
	Mode RetireMode `json:"mode"`
	// Done maps each retired table to its new name (rename), "" (drop), or
	// itself (keep).
	Done map[string]string `json:"done"`
	// Already lists the tables an earlier attempt had retired.
	Already []string `json:"already,omitempty"`
}

// RetiredName returns the name table is renamed to under pattern.
func RetiredName(pattern, table string) string {
	if pattern == "" {
		pattern = DefaultRetiredName
	}
	return strings.ReplaceAll(pattern, "{table}", table)
}

// RetiredOriginal returns the table a retired name was made from under
// pattern (false when name is not one).
func RetiredOriginal(pattern, name string) (string, bool) {
	if pattern == "" {
		pattern = DefaultRetiredName
	}
	before, after, ok := strings.Cut(pattern, "{table}")
	if !ok || !strings.HasPrefix(name, before) || !strings.HasSuffix(name, after) || len(name) <= len(before)+len(after) {
		return "", false
	}
	return name[len(before) : len(name)-len(after)], true
}

// Retire decommissions the tables of s matching opts.Tables. It can be
// repeated: a table an earlier attempt renamed or dropped counts as done
// (Already), so a retried phase finishes the rest. A pattern that matches
// nothing, and was not retired before, is ErrUnknownTable (retiring the
// wrong store must not succeed quietly) — except with RetireDrop, where a
// dropped table leaves no trace: there it counts as Already.
func Retire(ctx context.Context, s *Store, opts RetireOptions) (RetireResult, error) {
	if opts.Mode == "" {
		opts.Mode = RetireRename
	}
	res := RetireResult{Mode: opts.Mode, Done: map[string]string{}}
	if opts.RenameTo != "" && (!strings.Contains(opts.RenameTo, "{table}") || opts.RenameTo == "{table}") {
		return res, fmt.Errorf("retire: %w: renameTo %q must hold {table}", ErrBadPattern, opts.RenameTo)
	}
	all, err := s.ListTables(ctx)
	if err != nil {
		return res, fmt.Errorf("retire: %w", err)
	}
	exists := map[string]bool{}
	for _, n := range all {
		exists[n] = true
	}
	for _, p := range opts.Tables {
		if err := ValidatePattern(p); err != nil {
			return res, fmt.Errorf("retire: %w", err)
		}
		var matched []string
		already := false
		for _, n := range all {
			if orig, ok := RetiredOriginal(opts.RenameTo, n); ok && opts.Mode == RetireRename {
				// A table this retire renamed earlier: done, and never a
				// new candidate even if the pattern matches its new name.
				if m, _ := glob.Match(p, orig); m && !exists[orig] {
					res.Already = appendNew(res.Already, orig)
					already = true
				}
				continue
			}
			if ok, _ := glob.Match(p, n); ok {
				matched = append(matched, n)
			}
		}
		if len(matched) == 0 && !already {
			if opts.Mode != RetireDrop {
				return res, fmt.Errorf("retire: %w: nothing matches %q", ErrUnknownTable, p)
			}
			// A dropped table leaves no trace: on a retry, a pattern
			// that matches nothing was dropped by the earlier attempt
			// (preflight, before anything changed, checks that it
			// matched then).
			res.Already = appendNew(res.Already, p)
		}
		for _, n := range matched {
			if _, done := res.Done[n]; done {
				continue
			}
			to, err := retireOne(ctx, s, n, opts, exists)
			if err != nil {
				return res, err
			}
			res.Done[n] = to
		}
	}
	sort.Strings(res.Already)
	return res, nil
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

func matchesAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := glob.Match(p, name); ok {
			return true
		}
	}
	return false
}

func retireOne(ctx context.Context, s *Store, table string, opts RetireOptions, exists map[string]bool) (string, error) {
	switch opts.Mode {
	case RetireKeep:
		return table, nil
	case RetireDrop:
		if _, err := s.DB.ExecContext(ctx, "DROP TABLE "+s.d.quote(table)); err != nil {
			return "", fmt.Errorf("retire: drop %s: %w", table, err)
		}
		return "", nil
	case RetireRename:
		to := RetiredName(opts.RenameTo, table)
		if exists[to] {
			return "", fmt.Errorf("retire: rename %s: %w: %s exists already (an earlier retire?): rename or drop it first", table, ErrTableExists, to)
		}
		if _, err := s.DB.ExecContext(ctx, "ALTER TABLE "+s.d.quote(table)+" RENAME TO "+s.d.quote(to)); err != nil {
			return "", fmt.Errorf("retire: rename %s to %s: %w", table, to, err)
		}
		return to, nil
	}
	return "", fmt.Errorf("retire: %w: mode %q (want rename, drop or keep)", ErrBadPattern, opts.Mode)
}

// Unretire renames back the tables Retire renamed (RetireRename only; a
// dropped table cannot come back). A table already back, or never renamed,
// is left alone, so it can be repeated. It returns the tables renamed back.
func Unretire(ctx context.Context, s *Store, opts RetireOptions) ([]string, error) {
	if opts.Mode != "" && opts.Mode != RetireRename {
		return nil, nil
	}
	all, err := s.ListTables(ctx)
	if err != nil {
		return nil, fmt.Errorf("unretire: %w", err)
	}
	exists := map[string]bool{}
	for _, n := range all {
		exists[n] = true
	}
	var back []string
	for _, n := range all {
		orig, ok := RetiredOriginal(opts.RenameTo, n)
		if !ok || exists[orig] || !matchesAny(opts.Tables, orig) {
			continue
		}
		if _, err := s.DB.ExecContext(ctx, "ALTER TABLE "+s.d.quote(n)+" RENAME TO "+s.d.quote(orig)); err != nil {
			return back, fmt.Errorf("unretire: rename %s back to %s: %w", n, orig, err)
		}
		back = append(back, orig)
	}
	sort.Strings(back)
	return back, nil
}
