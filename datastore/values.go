package datastore

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Canonical values: what ReadBatch returns and WriteBatch takes, per Kind.
//
//	smallint, int, bigint      int64
//	decimal                    string (decimal text, e.g. "-12.30")
//	float, double              float64
//	bool                       bool
//	text, varchar, uuid, json  string
//	bytes                      []byte
//	date                       time.Time, midnight UTC
//	timestamp                  time.Time in UTC holding the wall-clock value
//	timestamptz                time.Time in UTC (the instant)
//	NULL                       nil
//
// Precision: timestamps are kept to the microsecond (PostgreSQL's and
// MariaDB's resolution).

// timeFormats are the text forms accepted for dates and timestamps (SQLite
// stores them as text; drivers sometimes hand them over as text).
var timeFormats = []string{
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999-07",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02",
}

func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, f := range timeFormats {
		if t, err := time.Parse(f, s); err == nil {
			return t, nil
		}
	}
	if l := strings.ToLower(s); l == "infinity" || l == "-infinity" {
		// PostgreSQL's infinite dates and times have no value of their own
		// here yet; only the PostgreSQL → PostgreSQL COPY pipe carries them.
		return time.Time{}, fmt.Errorf("%w: %q (PostgreSQL's infinite date or time) has no canonical value in Godwit: "+
			"the PostgreSQL → PostgreSQL copy carries it as it is, but another target, a decoded copy or a row fetched by reconcile cannot; "+
			"map it to a date on the way (docs/mapping.md: drop the column and add one computed by CASE WHEN … = 'infinity' THEN … END)", ErrBadValue, s)
	}
	return time.Time{}, fmt.Errorf("%w: %q is not a date or timestamp", ErrBadValue, s)
}

// Canonical converts a value as a driver scanned it (or as another engine's
// canonical value) into the canonical form of kind t.
func Canonical(t Type, v any) (any, error) {
	// A value already of its kind's canonical type is returned as the
	// same interface value: converting it back would box it again, an
	// allocation per value of every row read.
	switch v.(type) {
	case nil:
		return nil, nil
	case int64:
		if t.Kind == KindSmallInt || t.Kind == KindInt || t.Kind == KindBigInt {
			return v, nil
		}
	case string:
		if t.Padded {
			return strings.TrimRight(v.(string), " "), nil
		}
		if t.Kind == KindText || t.Kind == KindVarchar || t.Kind == KindUUID || t.Kind == KindUnsupported {
			return v, nil
		}
	case float64:
		if t.Kind == KindFloat || t.Kind == KindDouble {
			return v, nil
		}
	case bool:
		if t.Kind == KindBool {
			return v, nil
		}
	case []byte:
		if t.Kind == KindBytes {
			return v, nil
		}
	}
	if b, ok := v.([]byte); ok && t.Kind != KindBytes {
		v = string(b)
	}
	switch t.Kind {
	case KindSmallInt, KindInt, KindBigInt:
		return toInt(v)
	case KindDecimal:
		return toDecimalScaled(t, v)
	case KindFloat, KindDouble:
		return toFloat(v)
	case KindBool:
		return toBool(v)
	case KindText, KindVarchar, KindUUID, KindUnsupported:
		if t.Padded {
			if s, ok := v.(string); ok {
				return strings.TrimRight(s, " "), nil
			}
		}
		return toText(v)
	case KindJSON:
		return toJSON(v)
	case KindBytes:
		switch x := v.(type) {
		case []byte:
			return x, nil
		case string:
			return []byte(x), nil
		}
	case KindDate:
		tm, err := toTime(v)
		if err != nil {
			return nil, err
		}
		return time.Date(tm.Year(), tm.Month(), tm.Day(), 0, 0, 0, 0, time.UTC), nil
	case KindTimestamp:
		tm, err := toTime(v)
		if err != nil {
			return nil, err
		}
		// The wall clock is the value: keep it, label it UTC.
		return time.Date(tm.Year(), tm.Month(), tm.Day(), tm.Hour(), tm.Minute(), tm.Second(),
			tm.Nanosecond()/1000*1000, time.UTC), nil
	case KindTimestampTZ:
		tm, err := toTime(v)
		if err != nil {
			return nil, err
		}
		return tm.UTC().Truncate(time.Microsecond), nil
	}
	return nil, fmt.Errorf("%w: %T into %s", ErrBadValue, v, t)
}

func toInt(v any) (any, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return nil, fmt.Errorf("%w: %d overflows a 64-bit signed integer", ErrBadValue, x)
		}
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case bool:
		if x {
			return int64(1), nil
		}
		return int64(0), nil
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return nil, fmt.Errorf("%w: %v is not an integer", ErrBadValue, x)
		}
		return int64(x), nil
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			// An unsigned 64-bit value (or a wide decimal) into a signed
			// bigint: refused, never wrapped or rounded.
			return nil, fmt.Errorf("%w: %s does not fit a signed 64-bit integer: give the target column a wider type (numeric(20,0), DECIMAL(20,0))", ErrBadValue, strings.TrimSpace(x))
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %q is not an integer", ErrBadValue, x)
		}
		return n, nil
	}
	return nil, fmt.Errorf("%w: %T into an integer", ErrBadValue, v)
}

// toDecimalScaled is toDecimal, with a number SQLite hands back for a
// NUMERIC(p,s) column (a float64 or an int64) padded to the column's s
// fraction digits, as the other engines write it: 12.3 → "12.30". Up to 15
// significant digits the float64's shortest form is exactly the decimal
// that was stored. A value with more fraction digits than s (SQLite does
// not enforce the scale) is never rounded here: a target that would round
// it refuses it.
func toDecimalScaled(t Type, v any) (any, error) {
	if t.Scale > 0 && t.Precision > 0 && t.Precision <= SQLiteDecimalDigits {
		switch x := v.(type) {
		case float64:
			if !math.IsInf(x, 0) && !math.IsNaN(x) {
				return padScale(strconv.FormatFloat(x, 'f', -1, 64), t.Scale), nil
			}
		case int64:
			return padScale(strconv.FormatInt(x, 10), t.Scale), nil
		}
	}
	return toDecimal(v)
}

// padScale adds fraction zeros to a plain decimal up to scale digits.
func padScale(s string, scale int) string {
	dot := strings.IndexByte(s, '.')
	if dot < 0 {
		return s + "." + strings.Repeat("0", scale)
	}
	if have := len(s) - dot - 1; have < scale {
		return s + strings.Repeat("0", scale-have)
	}
	return s
}

func toDecimal(v any) (any, error) {
	switch x := v.(type) {
	case string:
		s := strings.TrimSpace(x)
		if plainDecimal(s) {
			return s, nil // the usual form, checked without big.Rat's allocations
		}
		if _, ok := new(big.Rat).SetString(s); !ok {
			return nil, fmt.Errorf("%w: %q is not a decimal", ErrBadValue, x)
		}
		return s, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case fmt.Stringer:
		return toDecimal(x.String())
	}
	n, err := toInt(v)
	if err != nil {
		return nil, err
	}
	return strconv.FormatInt(n.(int64), 10), nil
}

// plainDecimal reports whether s is [-+]digits[.digits], the form every
// engine prints a decimal in.
func plainDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits, dot := 0, false
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}

func toFloat(v any) (any, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return nil, fmt.Errorf("%w: %q is not a number", ErrBadValue, x)
		}
		return f, nil
	}
	n, err := toInt(v)
	if err != nil {
		return nil, err
	}
	return float64(n.(int64)), nil
}

func toBool(v any) (any, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "t", "true", "1", "y", "yes", "on":
			return true, nil
		case "f", "false", "0", "n", "no", "off":
			return false, nil
		}
		return nil, fmt.Errorf("%w: %q is not a boolean", ErrBadValue, x)
	}
	n, err := toInt(v)
	if err != nil {
		return nil, err
	}
	return n.(int64) != 0, nil
}

func toText(v any) (any, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case time.Time:
		return x.Format(time.RFC3339Nano), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case [16]byte: // a UUID as some drivers scan it
		return fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16]), nil
	}
	return fmt.Sprint(v), nil
}

func toJSON(v any) (any, error) {
	switch x := v.(type) {
	case string:
		if !json.Valid([]byte(x)) {
			return nil, fmt.Errorf("%w: not valid JSON: %.40q", ErrBadValue, x)
		}
		return x, nil
	case int64, float64, bool:
		// SQLite's NUMERIC affinity turns a scalar JSON document into a number.
		b, _ := json.Marshal(x)
		return string(b), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %T as JSON: %v", ErrBadValue, v, err)
	}
	return string(b), nil
}

func toTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x, nil
	case string:
		return parseTime(x)
	}
	return time.Time{}, fmt.Errorf("%w: %T into a date or timestamp", ErrBadValue, v)
}

// EncodeValue renders a canonical value as a string for a checkpoint (JSON
// numbers would lose 64-bit integers; times and bytes need a form); see
// DecodeValue.
func EncodeValue(v any) (string, error) {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10), nil
	case string:
		return x, nil
	case []byte:
		return base64.StdEncoding.EncodeToString(x), nil
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), nil
	case bool:
		return strconv.FormatBool(x), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	}
	return "", fmt.Errorf("%w: %T cannot be encoded", ErrBadValue, v)
}

// DecodeValue is the inverse of EncodeValue for a value of type t.
func DecodeValue(t Type, s string) (any, error) {
	if t.Kind == KindBytes {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadValue, err)
		}
		return b, nil
	}
	return Canonical(t, s)
}

// EncodeKey renders a row's primary-key values with EncodeValue.
func EncodeKey(t *Table, key []any) ([]string, error) {
	if len(key) != len(t.PrimaryKey) {
		return nil, fmt.Errorf("encode key of %s: %d values for %d key columns", t.Name, len(key), len(t.PrimaryKey))
	}
	out := make([]string, len(key))
	for i, v := range key {
		s, err := EncodeValue(v)
		if err != nil {
			return nil, fmt.Errorf("encode key of %s column %s: %w", t.Name, t.PrimaryKey[i], err)
		}
		out[i] = s
	}
	return out, nil
}

// DecodeKey is the inverse of EncodeKey, using the key columns' kinds.
func DecodeKey(t *Table, key []string) ([]any, error) {
	if len(key) != len(t.PrimaryKey) {
		return nil, fmt.Errorf("decode key of %s: %d values for %d key columns (did the key change?)", t.Name, len(key), len(t.PrimaryKey))
	}
	out := make([]any, len(key))
	for i, s := range key {
		c := t.Column(t.PrimaryKey[i])
		v, err := DecodeValue(c.Type, s)
		if err != nil {
			return nil, fmt.Errorf("decode key of %s column %s: %w", t.Name, c.Name, err)
		}
		out[i] = v
	}
	return out, nil
}
