package datastore

import (
	"fmt"
	"strconv"
	"strings"
)

// unmappedError refuses a table whose columns have no lossless mapping to
// this store's engine, naming each (table.column and its source type) and
// the typeOverrides line that opts in to copying them anyway.
func (s *Store) unmappedError(t *Table, cols []Column, inKey map[string]bool) error {
	var named, lines []string
	for _, c := range cols {
		named = append(named, fmt.Sprintf("%s.%s (%s)", t.Name, c.Name, c.NativeType))
		lines = append(lines, fmt.Sprintf("%s: %s", strconv.Quote(t.Name+"."+c.Name), strconv.Quote(s.suggestedType(t.Engine, c, inKey[c.Name]))))
	}
	what := "column " + named[0]
	if len(named) > 1 {
		what = "columns " + strings.Join(named, ", ")
	}
	tail := "a text type gets the source's text form"
	for _, c := range cols {
		if SpatialType(t.Engine, c.NativeType) {
			tail += "; a spatial type's value is MySQL's stored form, which needs a binary type: a 4-byte SRID, then the geometry as WKB"
			break
		}
	}
	if t.MappedFrom != "" {
		// A mapped provision refuses typeOverrides: the fix is the
		// mapping's cast:, keyed by the source's column names.
		var casts []string
		for _, c := range cols {
			src := t.SourceColumns[c.Name]
			if src == "" {
				src = c.Name
			}
			casts = append(casts, fmt.Sprintf("%s: {type: %s}", src, strconv.Quote(s.suggestedType(t.Engine, c, inKey[c.Name]))))
		}
		return fmt.Errorf("table %s: %w to %s for %s; opt in per column in the mapping, under tables.%s: cast: {%s} (%s)",
			t.Name, ErrUnsupportedType, s.Engine, what, t.MappedFrom, strings.Join(casts, ", "), tail)
	}
	return fmt.Errorf("table %s: %w to %s for %s; opt in per column in the provision section with typeOverrides: {%s} (%s)",
		t.Name, ErrUnsupportedType, s.Engine, what, strings.Join(lines, ", "), tail)
}

// SpatialType reports whether a native type of engine e is a MySQL/MariaDB
// spatial one (GEOMETRY, POINT, POLYGON, ...), whose values the driver
// reads as MySQL's binary stored form and which CAST(x AS CHAR) refuses.
// (PostGIS's geometry on PostgreSQL is not: its driver value is text.)
func SpatialType(e Engine, native string) bool {
	if e != MySQL {
		return false
	}
	n := strings.ToLower(strings.TrimSpace(native))
	if i := strings.IndexAny(n, "( "); i >= 0 {
		n = n[:i]
	}
	switch n {
	case "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
		"multipolygon", "geometrycollection", "geomcollection":
		return true
	}
	return false
}

func (s *Store) suggestedType(src Engine, c Column, key bool) string {
	return SuggestedType(s.Engine, src, c, key)
}

// SuggestedType is a type of engine target that takes a column c (of a
// src table) of a type without a mapping with nothing lost: the source's
// text form (an interval's "1 day 02:00:00", a time's "12:30:00"), a
// BIT's bytes, a YEAR's number, a spatial column's stored bytes.
func SuggestedType(target, src Engine, c Column, key bool) string {
	s := struct{ Engine Engine }{target}
	base := strings.ToLower(strings.TrimSpace(typeArgs.ReplaceAllString(c.NativeType, "")))
	switch {
	case SpatialType(src, c.NativeType):
		// Its driver value is MySQL's stored form, binary (a 4-byte SRID,
		// then WKB): a text column would refuse it (PostgreSQL: "invalid
		// byte sequence for encoding UTF8: 0x00").
		return map[Engine]string{Postgres: "bytea", MySQL: "LONGBLOB", SQLite: "BLOB"}[s.Engine]
	case base == "bit":
		return map[Engine]string{Postgres: "bytea", MySQL: "VARBINARY(8)", SQLite: "BLOB"}[s.Engine]
	case base == "year":
		return map[Engine]string{Postgres: "smallint", MySQL: "SMALLINT", SQLite: "INTEGER"}[s.Engine]
	}
	switch s.Engine {
	case Postgres:
		return "text"
	case SQLite:
		return "TEXT"
	}
	short := strings.HasPrefix(base, "interval") || strings.HasPrefix(base, "time")
	if short || key {
		return map[bool]string{true: "VARCHAR(64)", false: "VARCHAR(255)"}[short]
	}
	return "LONGTEXT"
}

// checkDecimals refuses a decimal that does not fit its target column's
// precision and scale: PostgreSQL and MySQL would round its fraction
// silently (a SQLite DECIMAL(10,2) may hold 9.999; an unbounded PostgreSQL
// numeric may have more than the 30 places of MySQL's DECIMAL(65,30)).
func checkDecimals(t *Table, rows [][]any) error {
	for i, c := range t.Columns {
		if c.Type.Kind != KindDecimal || c.Type.Precision <= 0 {
			continue
		}
		for r, row := range rows {
			s, ok := row[i].(string)
			if !ok {
				continue
			}
			if err := fitsDecimal(s, c.Type.Precision, c.Type.Scale); err != nil {
				return fmt.Errorf("row %d column %s: %w", r, c.Name, err)
			}
		}
	}
	return nil
}

// fitsDecimal checks a plain decimal text against DECIMAL(p,s). Forms
// other than [-+]digits[.digits] are left to the database.
func fitsDecimal(v string, p, s int) error {
	if !plainDecimal(v) {
		return nil
	}
	d := strings.TrimLeft(v, "+-")
	whole, frac, _ := strings.Cut(d, ".")
	whole = strings.TrimLeft(whole, "0")
	frac = strings.TrimRight(frac, "0")
	switch {
	case len(frac) > s:
		return fmt.Errorf("%w: %s has %d decimal places and the target column is DECIMAL(%d,%d): it would be rounded; widen the target column", ErrBadValue, v, len(frac), p, s)
	case len(whole) > p-s:
		return fmt.Errorf("%w: %s has %d digits before the point and the target column is DECIMAL(%d,%d), which holds %d; widen the target column", ErrBadValue, v, len(whole), p, s, p-s)
	}
	return nil
}
