package compat

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// SQLType is a column type reduced to what decides compatibility: a
// canonical name, its family and its size.
type SQLType struct {
	// Name is the canonical name: smallint, integer, bigint, numeric, real,
	// double precision, varchar, char, text, boolean, date, time,
	// timestamp, timestamptz, uuid, json, jsonb, bytea, or the type as
	// written when it is not one of these.
	Name   string
	Family string // integer, decimal, float, string, bool, time, other
	// Length is the maximum length of a varchar or char; 0 = unbounded.
	Length int
	// Precision and Scale of a numeric; Precision 0 = unbounded.
	Precision, Scale int
	// Fraction is a timestamp's or timestamptz's fractional-second digits
	// when written with fewer than six: 1–5, or WholeSeconds; 0 is six
	// (microseconds, PostgreSQL's default, so timestamp(6) is timestamp).
	Fraction int
}

// WholeSeconds is SQLType.Fraction of a timestamp(0).
const WholeSeconds = -1

// fractionDigits is how many fractional-second digits a timestamp keeps.
func (t SQLType) fractionDigits() int {
	if t.Fraction == WholeSeconds {
		return 0
	}
	if t.Fraction > 0 && t.Fraction < 6 {
		return t.Fraction
	}
	return 6
}

// zonedTimestamp is PostgreSQL's spelling of a timestamp with digits,
// as format_type writes it: timestamp(3) without time zone.
var zonedTimestamp = regexp.MustCompile(`^\s*(?i:timestamp)\s*(\(\s*\d+\s*\))\s*(?i:(with|without)\s+time\s+zone)\s*$`)

var typePattern = regexp.MustCompile(`^\s*([A-Za-z][A-Za-z0-9 _]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*$`)

// aliases map the names engines use to one canonical name.
var aliases = map[string]string{
	"int": "integer", "int4": "integer", "integer": "integer", "mediumint": "integer", "serial": "integer",
	"int8": "bigint", "bigint": "bigint", "bigserial": "bigint",
	"int2": "smallint", "smallint": "smallint", "tinyint": "smallint", "smallserial": "smallint",
	"decimal": "numeric", "numeric": "numeric",
	"real": "real", "float4": "real", "float": "double precision", "float8": "double precision",
	"double": "double precision", "double precision": "double precision",
	"varchar": "varchar", "character varying": "varchar", "nvarchar": "varchar",
	"char": "char", "character": "char", "nchar": "char",
	"text": "text", "mediumtext": "text", "longtext": "text", "tinytext": "text", "clob": "text", "string": "text",
	"bool": "boolean", "boolean": "boolean",
	"date": "date", "time": "time",
	"timestamp": "timestamp", "datetime": "timestamp", "timestamp without time zone": "timestamp",
	"timestamptz": "timestamptz", "timestamp with time zone": "timestamptz",
	"uuid": "uuid", "json": "json", "jsonb": "jsonb",
	"bytea": "bytea", "blob": "bytea", "binary": "bytea", "varbinary": "bytea", "longblob": "bytea",
}

var families = map[string]string{
	"smallint": "integer", "integer": "integer", "bigint": "integer",
	"numeric": "decimal", "real": "float", "double precision": "float",
	"varchar": "string", "char": "string", "text": "string",
	"boolean": "bool", "date": "time", "time": "time", "timestamp": "time", "timestamptz": "time",
}

// intDigits is how many decimal digits every value of an integer type
// fits in, to tell whether a numeric(p, s) holds it.
var intDigits = map[string]int{"smallint": 5, "integer": 10, "bigint": 19}

// ParseType reads a type as written in a schema description ("varchar",
// "VARCHAR(255)", "decimal(10,2)") with the length, precision and scale
// fields the description may give beside it.
func ParseType(typ string, length, precision, scale int) (SQLType, error) {
	if z := zonedTimestamp.FindStringSubmatch(typ); z != nil {
		name := "timestamp"
		if strings.EqualFold(z[2], "with") {
			name = "timestamptz"
		}
		typ = name + z[1]
	}
	m := typePattern.FindStringSubmatch(typ)
	if m == nil {
		return SQLType{}, fmt.Errorf("%q is not a type: write a name with an optional size, e.g. varchar(255) or numeric(10,2)", typ)
	}
	name := strings.Join(strings.Fields(strings.ToLower(m[1])), " ")
	canon, ok := aliases[name]
	if !ok {
		canon = name
	}
	t := SQLType{Name: canon, Family: families[canon]}
	if t.Family == "" {
		t.Family = "other"
	}
	a, _ := strconv.Atoi(m[2])
	b, _ := strconv.Atoi(m[3])
	switch t.Name {
	case "varchar", "char":
		t.Length = firstNonZero(a, length)
		if t.Name == "char" && t.Length == 0 {
			t.Length = 1
		}
	case "numeric":
		t.Precision, t.Scale = firstNonZero(a, precision), firstNonZero(b, scale)
		if t.Scale > t.Precision && t.Precision > 0 {
			return SQLType{}, fmt.Errorf("%q has a scale larger than its precision", typ)
		}
	case "timestamp", "timestamptz":
		switch {
		case m[2] == "" || a >= 6:
		case a == 0:
			t.Fraction = WholeSeconds
		default:
			t.Fraction = a
		}
	}
	// Any other size (int(11) in MySQL) is a display width: it does not
	// change what the column holds.
	return t, nil
}

func firstNonZero(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// columnType parses a column's type; the description was checked, so an
// error cannot happen here and yields the type as written.
func columnType(c Column) SQLType {
	t, err := ParseType(c.Type, c.Length, c.Precision, c.Scale)
	if err != nil {
		return SQLType{Name: c.Type, Family: "other"}
	}
	return t
}

// columnType is columnType in the dialect's terms: a timestamp written
// without digits has MySQL's default, none (typeSQL writes datetime),
// rather than PostgreSQL's six.
func (d Dialect) columnType(c Column) SQLType {
	t := columnType(c)
	if d == MySQL && timestamp(t) && t.Fraction == 0 && !strings.Contains(c.Type, "(") {
		t.Fraction = WholeSeconds
	}
	return t
}

// TypeChange says what a change of type does to existing data and writers.
type TypeChange int

// The kinds of type change.
const (
	TypeSame TypeChange = iota
	// TypeWidened holds every value the old type held.
	TypeWidened
	// TypeNarrowed may not hold some values of the old type.
	TypeNarrowed
	// TypeConverted changes the kind of value: readers and writers change.
	TypeConverted
)

// CompareTypes classifies the change from a to b.
func CompareTypes(a, b SQLType) TypeChange {
	if a == b {
		return TypeSame
	}
	switch {
	case a.Family == "string" && b.Family == "string":
		if b.Name == "char" && a.Name != "char" {
			return TypeNarrowed // char pads: values change
		}
		return sizeChange(a.Length, b.Length)
	case a.Family == "integer" && b.Family == "integer":
		if intDigits[b.Name] >= intDigits[a.Name] {
			return TypeWidened
		}
		return TypeNarrowed
	case a.Family == "integer" && b.Family == "decimal":
		if b.Precision == 0 || b.Precision-b.Scale >= intDigits[a.Name] {
			return TypeWidened
		}
		return TypeNarrowed
	case a.Family == "decimal" && b.Family == "decimal":
		if b.Precision == 0 {
			return TypeWidened
		}
		if a.Precision == 0 || b.Scale < a.Scale || b.Precision-b.Scale < a.Precision-a.Scale {
			return TypeNarrowed
		}
		return TypeWidened
	case a.Family == "float" && b.Family == "float":
		if b.Name == "double precision" {
			return TypeWidened
		}
		return TypeNarrowed
	case timestamp(a) && timestamp(b) && b.fractionDigits() < a.fractionDigits():
		return TypeNarrowed // fractions rounded away
	case a.Name == "timestamp" && b.Name == "timestamptz", a.Name == "json" && b.Name == "jsonb":
		return TypeWidened
	case a.Name == b.Name:
		return sizeChange(a.Length, b.Length)
	}
	return TypeConverted
}

func timestamp(t SQLType) bool { return t.Name == "timestamp" || t.Name == "timestamptz" }

// sizeChange compares two lengths where 0 means unbounded.
func sizeChange(a, b int) TypeChange {
	switch {
	case a == b:
		return TypeWidened // same size, other name (varchar -> text, both unbounded)
	case b == 0:
		return TypeWidened
	case a == 0 || b < a:
		return TypeNarrowed
	}
	return TypeWidened
}

// String writes t as a PostgreSQL type.
func (t SQLType) String() string {
	switch {
	case (t.Name == "varchar" || t.Name == "char") && t.Length > 0:
		return fmt.Sprintf("%s(%d)", t.Name, t.Length)
	case t.Name == "numeric" && t.Precision > 0 && t.Scale > 0:
		return fmt.Sprintf("numeric(%d,%d)", t.Precision, t.Scale)
	case t.Name == "numeric" && t.Precision > 0:
		return fmt.Sprintf("numeric(%d)", t.Precision)
	case timestamp(t) && t.fractionDigits() < 6:
		return fmt.Sprintf("%s(%d)", t.Name, t.fractionDigits())
	}
	return t.Name
}
