package datastore

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// UndefinedTypes checks, for a PostgreSQL table provisioned on another
// PostgreSQL database (where native types are kept as they are), that the
// target knows every column's type. A domain or enum created in the source
// database (Sakila's year and mpaa_rating) does not exist on a fresh target:
// without this check preflight passed and CREATE TABLE failed half-way
// through the provision. It returns an error wrapping ErrUnsupportedType
// naming each column, or nil.
func (s *Store) UndefinedTypes(ctx context.Context, t *Table, overrides map[string]string) error {
	if s.Engine != Postgres || t.Engine != Postgres {
		return nil
	}
	var cols []string
	byType := map[string][]string{}
	for _, c := range t.Columns {
		if _, ok := overrides[t.Name+"."+c.Name]; ok || c.NativeType == "" {
			continue
		}
		if byType[c.NativeType] == nil {
			cols = append(cols, c.NativeType)
		}
		byType[c.NativeType] = append(byType[c.NativeType], c.Name)
	}
	if len(cols) == 0 {
		return nil
	}
	missing, err := queryStrings(ctx, s.DB, `SELECT n FROM unnest($1::text[]) n WHERE to_regtype(n) IS NULL`, "{"+quoteArray(cols)+"}")
	if err != nil {
		return fmt.Errorf("table %s: look up its column types on the target: %w", t.Name, err)
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	var named, opts []string
	for _, typ := range missing {
		for _, c := range byType[typ] {
			named = append(named, fmt.Sprintf("%s.%s (%s)", t.Name, c, typ))
			opts = append(opts, fmt.Sprintf("%q: \"text\"", t.Name+"."+c))
		}
	}
	return fmt.Errorf("table %s: %w: the target database has no type %s, used by %s (a domain, enum or other type created in the source database): create it on the target first (CREATE DOMAIN / CREATE TYPE as in the source's schema), or give each column a type the target has in the provision section, e.g. typeOverrides: {%s} (the domain's base type keeps its values)",
		t.Name, ErrUnsupportedType, strings.Join(missing, ", "), strings.Join(named, ", "), strings.Join(opts, ", "))
}

// quoteArray renders strings as the elements of a PostgreSQL array literal.
func quoteArray(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
	}
	return strings.Join(q, ",")
}
