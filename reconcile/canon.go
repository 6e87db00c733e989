package reconcile

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"

	"github.com/godwit/godwit/datastore"
)

// The canonical text of a value — what a row's hash is computed over and
// what fetched rows are compared by — is the same whichever engine the value
// came from (docs/reconcile.md has the table):
//
//	integers         decimal digits                         42
//	bool             1 or 0                                 1
//	decimal          trailing fractional zeros removed      12.3 (from 12.30)
//	float, double    rounded to FloatDecimals, then as decimal
//	text, varchar    as stored (TrimRight, EmptyIsNull on request)
//	uuid             lower case                              3f2a…
//	bytes            lower-case hex                          00ff
//	date             2006-01-02
//	timestamp(tz)    2006-01-02 15:04:05.000000 (UTC for tz), Precision on request
//	json             keys sorted, no spaces (in Go only; see below)
//
// NULL is the byte 0x1e; columns are joined with 0x1f. Inside the
// databases the same text is built in SQL (sqlCanon); a value whose SQL
// rendering differs from the Go one only costs a fetch (the fetched rows are
// compared in Go), never a missed difference.
const (
	nullMark = "\x1e"
	colSep   = "\x1f"
)

// Under hashCRC the text is built with bytes no UTF-8 text holds: columns
// joined with 0xff, NULL as 0xfe. A text value holding 0x1f or 0x1e (MARC
// records and ASCII-delimited data do) then cannot move a column boundary
// or stand for NULL and hide a difference, at no cost: MariaDB joins
// binary strings as cheaply, and Go builds the other side's text. The MD5
// path keeps 0x1f and 0x1e, as PostgreSQL's md5 of text cannot take a
// byte that is not UTF-8 (see docs/reconcile.md).
const (
	crcNullMark = "\xfe"
	crcColSep   = "\xff"
)

// colPlan is one compared column: its name (the target's, which findings
// use), its type on each side, and its rule.
type colPlan struct {
	name     string
	src, tgt datastore.Type
	rule     ColumnRule
	tol      *big.Rat // nil: exact
	key      bool
	// fixedScale: a decimal of the same declared scale on both sides,
	// both hashed in the database, which then render it at that scale
	// ("12.30") without trimming: the same text on both sides, cheaper.
	fixedScale bool
	// uuidText: a text column (CHAR(36)) compared with a uuid on the
	// other side, in lower case as the uuid's canonical text is: a copy
	// may have written it in upper case.
	uuidText bool
}

// sqlHint is what one side knows of a compared column that lets its SQL
// canonical text be built more cheaply (see rowHashSQL); the zero value
// makes no assumption.
type sqlHint struct {
	notNull bool // a column (not an expression) declared NOT NULL
	utf8    bool // MySQL text whose charset stores UTF-8 bytes (utf8mb4, utf8mb3, ascii)
	micro   bool // MySQL DATETIME(6) / TIMESTAMP(6): renders as the canonical text itself
}

// canonText renders a canonical datastore value (or, for AsText, the
// engine's text) of kind k; ok is false for NULL.
func canonText(k datastore.Kind, v any, c *colPlan, floatDec int) (string, bool) {
	if v == nil {
		return "", false
	}
	if c.rule.AsText || k == datastore.KindUnsupported {
		s := fmt.Sprint(v)
		if b, isBytes := v.([]byte); isBytes {
			s = string(b)
		}
		return textRules(s, c.rule)
	}
	switch k {
	case datastore.KindSmallInt, datastore.KindInt, datastore.KindBigInt:
		if c.tol != nil {
			return bucket(fmt.Sprint(v), c.tol), true
		}
		return fmt.Sprint(v), true
	case datastore.KindBool:
		if b, _ := v.(bool); b {
			return "1", true
		}
		return "0", true
	case datastore.KindDecimal:
		s := fmt.Sprint(v)
		if c.tol != nil {
			return bucket(s, c.tol), true
		}
		return trimNumber(s), true
	case datastore.KindFloat, datastore.KindDouble:
		f, _ := v.(float64)
		// The databases convert a double to decimal at 15 significant
		// digits (6 for a float) before rounding: do the same.
		digits := 15
		if k == datastore.KindFloat {
			digits = 6
		}
		s := strconv.FormatFloat(f, 'g', digits, 64)
		if c.tol != nil {
			return bucket(s, c.tol), true
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			return s, true // NaN, Inf
		}
		return trimNumber(r.FloatString(floatDec)), true
	case datastore.KindText, datastore.KindVarchar:
		s, _ := v.(string)
		if c.uuidText {
			s = strings.ToLower(s)
		}
		return textRules(s, c.rule)
	case datastore.KindUUID:
		s, _ := v.(string)
		return strings.ToLower(s), true
	case datastore.KindBytes:
		b, _ := v.([]byte)
		return hex.EncodeToString(b), true
	case datastore.KindDate:
		t, _ := v.(time.Time)
		return t.Format("2006-01-02"), true
	case datastore.KindTimestamp, datastore.KindTimestampTZ:
		t, _ := v.(time.Time)
		return truncTime(t.UTC().Format("2006-01-02 15:04:05.000000"), c.rule.Precision), true
	case datastore.KindJSON:
		s, _ := v.(string)
		return canonJSON(s), true
	}
	return fmt.Sprint(v), true
}

func textRules(s string, r ColumnRule) (string, bool) {
	if r.TrimRight {
		s = strings.TrimRight(s, " ")
	}
	if r.EmptyIsNull && s == "" {
		return "", false
	}
	return s, true
}

// trimNumber removes trailing fractional zeros and a bare point:
// 12.300 → 12.3, 5.000 → 5, -0.000 → 0.
func trimNumber(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "+")
	if strings.Contains(s, ".") && !strings.ContainsAny(s, "eE") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		return "0"
	}
	return s
}

// bucket is round(x / tol) as an integer: values further apart than tol
// always land in different buckets, so a checksum over buckets never hides
// a difference beyond the tolerance (values within it may still differ in
// bucket; the row comparison then decides).
func bucket(s string, tol *big.Rat) string {
	x, ok := new(big.Rat).SetString(strings.TrimSpace(s))
	if !ok {
		return s
	}
	q := new(big.Rat).Quo(x, tol)
	return trimNumber(q.FloatString(0))
}

// truncTime keeps the first digits of the fraction of a
// "2006-01-02 15:04:05.000000" text and zeroes the rest.
func truncTime(s, precision string) string {
	keep := precisionDigits(precision)
	if keep >= 6 || len(s) != 26 {
		return s
	}
	return s[:20+keep] + strings.Repeat("0", 6-keep)
}

func precisionDigits(p string) int {
	switch p {
	case "s":
		return 0
	case "ms":
		return 3
	}
	return 6
}

// canonJSON renders a document with sorted keys and no spaces, numbers as
// written; text that is not JSON is kept as it is.
func canonJSON(s string) string {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return s
	}
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return s
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// sqlCanon is the SQL expression rendering column c (of type t on engine e)
// as its canonical text, NULL for NULL. Only PostgreSQL and MySQL hash
// inside the database.
func sqlCanon(e datastore.Engine, x string, c *colPlan, t datastore.Type, floatDec int, h sqlHint) string {
	if e == datastore.Postgres {
		return pgCanon(x, c, t, floatDec)
	}
	return myCanon(x, c, t, floatDec, h)
}

func pgCanon(x string, c *colPlan, t datastore.Type, floatDec int) string {
	text := func(s string) string {
		if c.uuidText {
			s = "lower(" + s + ")"
		}
		if c.rule.TrimRight {
			s = "rtrim(" + s + ", ' ')"
		}
		if c.rule.EmptyIsNull {
			s = "NULLIF(" + s + ", '')"
		}
		return s
	}
	if c.rule.AsText || t.Kind == datastore.KindUnsupported {
		return text(x + "::text")
	}
	if c.tol != nil && numeric(t.Kind) {
		return "round(" + x + "::numeric / " + c.tol.FloatString(20) + ")::text"
	}
	switch t.Kind {
	case datastore.KindSmallInt, datastore.KindInt, datastore.KindBigInt:
		return x + "::text"
	case datastore.KindBool:
		return "(CASE WHEN " + x + " THEN '1' WHEN NOT " + x + " THEN '0' END)"
	case datastore.KindDecimal:
		if c.fixedScale {
			return x + "::text"
		}
		// trim_scale (PostgreSQL 13+) drops trailing fractional zeros.
		return "trim_scale(" + x + ")::text"
	case datastore.KindFloat, datastore.KindDouble:
		return "trim_scale(round(" + x + "::numeric, " + strconv.Itoa(floatDec) + "))::text"
	case datastore.KindText, datastore.KindVarchar:
		return text(x + "::text")
	case datastore.KindUUID:
		return "lower(" + x + "::text)"
	case datastore.KindBytes:
		return "encode(" + x + ", 'hex')"
	// to_char drops the era (0044-03-15 BC as 0044-03-15) and is NULL for
	// infinity: those keep PostgreSQL's own text, which no other value
	// and no other engine's canonical text has (a copy that lost the era
	// or turned infinity into NULL is then found; an infinite value
	// fetched is refused by name).
	case datastore.KindDate:
		return "(CASE WHEN " + x + " >= date '0001-01-01' AND " + x + " < date 'infinity' THEN to_char(" + x + ", 'YYYY-MM-DD') ELSE " + x + "::text END)"
	case datastore.KindTimestamp:
		return "(CASE WHEN " + x + " >= timestamp '0001-01-01' AND " + x + " < timestamp 'infinity' THEN " +
			pgTrunc("to_char("+x+", 'YYYY-MM-DD HH24:MI:SS.US')", c.rule.Precision) + " ELSE " + x + "::text END)"
	case datastore.KindTimestampTZ:
		return "(CASE WHEN " + x + " >= timestamptz '0001-01-01 00:00:00+00' AND " + x + " < timestamptz 'infinity' THEN " +
			pgTrunc("to_char("+x+" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')", c.rule.Precision) + " ELSE " + x + "::text END)"
	case datastore.KindJSON:
		// jsonb's own text: equal documents render alike, but not as
		// canonJSON does — so JSON tables between engines hash in Go.
		return x + "::jsonb::text"
	}
	return x + "::text"
}

func pgTrunc(s, precision string) string {
	keep := precisionDigits(precision)
	if keep >= 6 {
		return s
	}
	return "(left(" + s + ", " + strconv.Itoa(20+keep) + ") || '" + strings.Repeat("0", 6-keep) + "')"
}

func myCanon(x string, c *colPlan, t datastore.Type, floatDec int, h sqlHint) string {
	text := func(s string) string {
		if c.uuidText {
			s = "LOWER(" + s + ")"
		}
		if c.rule.TrimRight {
			s = "TRIM(TRAILING ' ' FROM " + s + ")"
		}
		if c.rule.EmptyIsNull {
			s = "NULLIF(" + s + ", '')"
		}
		return s
	}
	trim := func(s string) string {
		return "(CASE WHEN LOCATE('.', " + s + ") > 0 THEN TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM " + s + ")) ELSE " + s + " END)"
	}
	if c.rule.AsText || t.Kind == datastore.KindUnsupported {
		return text("CAST(" + x + " AS CHAR)")
	}
	if c.tol != nil && numeric(t.Kind) {
		if t.Kind == datastore.KindFloat || t.Kind == datastore.KindDouble {
			x = mySignificant(x, t.Kind) // as PostgreSQL's x::numeric, not the double's own digits
		}
		return "CAST(CAST(ROUND(" + x + " / " + c.tol.FloatString(20) + ") AS DECIMAL(65,0)) AS CHAR)"
	}
	// Numbers and DATETIME(6) are rendered by CONCAT_WS itself (rowHashSQL):
	// the same digits as CAST(x AS CHAR) without converting them to the
	// connection's charset, a third of MySQL's text cost.
	switch t.Kind {
	case datastore.KindSmallInt, datastore.KindInt, datastore.KindBigInt:
		return x
	case datastore.KindBool:
		return "(CASE WHEN " + x + " <> 0 THEN '1' WHEN " + x + " = 0 THEN '0' END)"
	case datastore.KindDecimal:
		switch {
		case c.fixedScale || t.Precision > 0 && t.Scale == 0: // no point to trim
			return x
		case t.Precision > 0: // always a point: trim without looking for it
			return "TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM CAST(" + x + " AS CHAR)))"
		}
		return trim("CAST(" + x + " AS CHAR)")
	case datastore.KindFloat, datastore.KindDouble:
		// PostgreSQL and Go convert a double to decimal at 15 significant
		// digits (a float at 6) before rounding to floatDec places;
		// MySQL's CAST keeps the shortest form that reads back (17 digits,
		// or a float's exact binary value: 1234.5677 is 1234.567749), so
		// nearly every float rendered differently and each range holding
		// one was fetched. Round to the same significant digits first
		// (DECIMAL(65,25) holds a float's range; a double beyond 10^40
		// still renders differently: a fetch).
		return "TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM CAST(CAST(" + mySignificant(x, t.Kind) +
			" AS DECIMAL(65," + strconv.Itoa(floatDec) + ")) AS CHAR)))"
	case datastore.KindText, datastore.KindVarchar:
		return text(x)
	case datastore.KindUUID:
		return "LOWER(" + x + ")"
	case datastore.KindBytes:
		return "LOWER(HEX(" + x + "))"
	case datastore.KindDate:
		return "DATE_FORMAT(" + x + ", '%Y-%m-%d')"
	case datastore.KindTimestamp, datastore.KindTimestampTZ:
		// Sessions run in UTC (datastore.Open), so TIMESTAMP reads as UTC.
		// DATETIME(6) renders as 2006-01-02 15:04:05.000000, the canonical
		// text, at a tenth of DATE_FORMAT's cost.
		s := "CAST(CAST(" + x + " AS DATETIME(6)) AS CHAR)"
		if h.micro {
			s = x // already six digits: no conversion
		}
		if keep := precisionDigits(c.rule.Precision); keep < 6 {
			s = "CONCAT(LEFT(" + s + ", " + strconv.Itoa(20+keep) + "), '" + strings.Repeat("0", 6-keep) + "')"
		}
		return s
	case datastore.KindJSON:
		return "CAST(" + x + " AS CHAR)"
	}
	return "CAST(" + x + " AS CHAR)"
}

// mySignificant is MySQL's decimal of float or double x at the
// significant digits PostgreSQL's x::numeric and Go (canonText) keep: 15
// for a double, 6 for a float; NULL for NULL. Zero, whose logarithm is
// NULL, is 0: a NULL there would make a zero hash as NULL does.
func mySignificant(x string, k datastore.Kind) string {
	digits := 14
	if k == datastore.KindFloat {
		digits = 5
	}
	return "(CASE WHEN " + x + " = 0 THEN 0 ELSE ROUND(CAST(" + x + " AS DECIMAL(65,25)), " + strconv.Itoa(digits) +
		" - FLOOR(LOG10(ABS(" + x + ")))) END)"
}

func numeric(k datastore.Kind) bool {
	switch k {
	case datastore.KindSmallInt, datastore.KindInt, datastore.KindBigInt, datastore.KindDecimal,
		datastore.KindFloat, datastore.KindDouble:
		return true
	}
	return false
}

// rowHashSQL is the expression of a row's hash: the first 15 hex digits
// of the MD5 of the joined canonical texts, as an integer the database sums
// exactly (numeric / DECIMAL). With native set (both sides PostgreSQL) it
// is hashtextextended(text, 0) instead — PostgreSQL's hash-partitioning
// hash, stable across versions and platforms, about 3x cheaper than MD5,
// but not computable by MySQL or in Go. With hk hashCRC it is MariaDB's
// CRC-32 × CRC-32C of the text (crcHash), and on PostgreSQL the text
// itself, which Go hashes.
//
// hints (nil, or one per column) let a side leave out what cannot change
// the text: the NULL mark's COALESCE of a NOT NULL column, MySQL's charset
// conversion of text already stored as UTF-8 bytes (CAST AS BINARY only
// relabels them). Each leaves the hashed bytes as they were.
func rowHashSQL(e datastore.Engine, exprs []string, cols []colPlan, types []datastore.Type, floatDec int, native bool, hk hashKind, hints []sqlHint) string {
	parts := make([]string, len(cols))
	// MySQL's marks as binary strings: a bare x'fe' beside a UTF-8 string
	// is converted to its charset, and refused (error 1300).
	mySep, myNull := "'"+colSep+"'", "_binary'"+nullMark+"'"
	if hk == hashCRC {
		mySep, myNull = "CAST(x'ff' AS BINARY)", "CAST(x'fe' AS BINARY)"
	}
	for i := range cols {
		var h sqlHint
		if hints != nil {
			h = hints[i]
		}
		x := sqlCanon(e, exprs[i], &cols[i], types[i], floatDec, h)
		// A NOT NULL column stays non-NULL through every rendering but
		// emptyIsNull's NULLIF.
		nn := h.notNull && !cols[i].rule.EmptyIsNull
		if e == datastore.Postgres && !neverNull(&cols[i], types[i].Kind) {
			// A rendering NULL for a value would make the whole text
			// NULL and leave the row out of the checksum.
			nn = false
		}
		switch {
		case e == datastore.Postgres && nn:
			parts[i] = x
		case e == datastore.Postgres:
			parts[i] = "coalesce(" + x + ", '" + nullMark + "')"
		case asciiCanon(&cols[i], types[i].Kind) && nn:
			parts[i] = x
		case asciiCanon(&cols[i], types[i].Kind):
			// Digits, dates, hex: the same bytes in any charset, and the
			// NULL mark's binary string makes CONCAT's result binary.
			parts[i] = "COALESCE(" + x + ", " + myNull + ")"
		default:
			// One charset and no collation: bytes are what is hashed.
			b := "CAST(CONVERT(" + x + " USING utf8mb4) AS BINARY)"
			if h.utf8 {
				b = "CAST(" + x + " AS BINARY)"
			}
			if nn {
				parts[i] = b
			} else {
				parts[i] = "COALESCE(" + b + ", " + myNull + ")"
			}
		}
	}
	if e == datastore.Postgres {
		text := strings.Join(parts, " || '"+colSep+"' || ")
		switch {
		case native:
			return "hashtextextended(" + text + ", 0)"
		case hk == hashCRC:
			// Never hashed as it is: a goHash side builds this text in Go
			// with the CRC marks (side.goText), which a PostgreSQL text
			// cannot hold; the tests check the two agree but for them.
			return text
		}
		return "('x' || substr(md5(" + text + "), 1, 15))::bit(60)::bigint"
	}
	// CONCAT_WS: every part is non-NULL (the NULL mark, or NOT NULL), so
	// it joins them as CONCAT with separators would, more cheaply; a part
	// NULL for a value all the same (a zero date) is skipped, not
	// nulling the row's hash, and the text then differs from the other
	// side's: a fetch, not a row left out.
	text := "CONCAT_WS(" + mySep + ", " + strings.Join(parts, ", ") + ")"
	if hk == hashCRC {
		// The text is built once, kept in a user variable for the second
		// CRC. MariaDB evaluates a product's operands left to right; were
		// it ever otherwise, the CRC-32C would read the previous row's
		// text and the ranges differ: rows fetched and compared (slower),
		// never a difference missed, as the CRC-32 is the row's own.
		return "CRC32(@godwit_row := " + text + ") * CRC32C(@godwit_row)"
	}
	return "CAST(CONV(LEFT(MD5(" + text + "), 15), 16, 10) AS UNSIGNED)"
}

// neverNull reports whether PostgreSQL's canonical text of a non-NULL
// value of kind k is never NULL (pgCanon), so a NOT NULL column needs no
// NULL mark.
func neverNull(c *colPlan, k datastore.Kind) bool {
	if c.rule.AsText || c.tol != nil {
		return true
	}
	switch k {
	case datastore.KindSmallInt, datastore.KindInt, datastore.KindBigInt, datastore.KindBool, datastore.KindDecimal,
		datastore.KindText, datastore.KindVarchar, datastore.KindUUID, datastore.KindBytes,
		datastore.KindDate, datastore.KindTimestamp, datastore.KindTimestampTZ: // infinite and BC values keep their ::text
		return true
	}
	return false
}

// rowHash is rowHashSQL computed in Go over canonical texts.
func rowHash(k hashKind, texts []string, nulls []bool) uint64 {
	if k == hashCRC {
		n := len(texts)
		for _, s := range texts {
			n += len(s)
		}
		b := make([]byte, 0, n)
		for i, s := range texts {
			if i > 0 {
				b = append(b, crcColSep...)
			}
			if nulls[i] {
				b = append(b, crcNullMark...)
			} else {
				b = append(b, s...)
			}
		}
		return crcHash(b)
	}
	h := newMD5()
	for i, s := range texts {
		if i > 0 {
			h.WriteString(colSep)
		}
		if nulls[i] {
			h.WriteString(nullMark)
		} else {
			h.WriteString(s)
		}
	}
	return h.sum60()
}

// recordHashSQL is the row hash between two PostgreSQL databases when every
// compared column has the same type on both sides and no rule: each
// column's own extended hash function (the ones hash partitioning uses,
// stable across versions and platforms) seeded by the column's position,
// NULL as a constant of that position, combined by exclusive or. It costs
// a third of building the canonical text and a quarter less than
// hash_record_extended over a ROW (no tuple to form). Equal values hash
// alike (numeric's hash ignores trailing zeros as trim_scale does); values
// that differ only as the canonical text rounds them (floats) cost a fetch,
// which compares canonical texts, never a missed difference. The seeds
// keep values swapped between two columns apart. Text is hashed as plain
// text in the C collation: a case-insensitive collation or citext must not
// make 'A' and 'a' alike; a zoned timestamp at UTC, which has no repeated
// hour.
func recordHashSQL(exprs []string, types []datastore.Type) string {
	parts := make([]string, len(exprs))
	for i, x := range exprs {
		fn, arg := "hash_record_extended", "ROW(%s)" // date, bytea: no extended hash callable by their own type
		if h, ok := extendedHash[types[i].Kind]; ok {
			fn, arg = h.fn, h.arg
		}
		h := fn + "(" + fmt.Sprintf(arg, x) + ", " + strconv.Itoa(i+1) + ")"
		parts[i] = "coalesce(" + h + ", " + strconv.FormatInt(nullHash+int64(i), 10) + ")"
	}
	return "(" + strings.Join(parts, " # ") + ")"
}

// extendedHash is each kind's extended hash function in PostgreSQL and
// how its argument is written around the column's expression.
var extendedHash = map[datastore.Kind]struct{ fn, arg string }{
	datastore.KindSmallInt:    {"hashint2extended", "%s"},
	datastore.KindInt:         {"hashint4extended", "%s"},
	datastore.KindBigInt:      {"hashint8extended", "%s"},
	datastore.KindBool:        {"hashint4extended", "(%s)::int"},
	datastore.KindDecimal:     {"hash_numeric_extended", "%s"},
	datastore.KindFloat:       {"hashfloat4extended", "%s"},
	datastore.KindDouble:      {"hashfloat8extended", "%s"},
	datastore.KindText:        {"hashtextextended", `(%s)::text COLLATE "C"`},
	datastore.KindVarchar:     {"hashtextextended", `(%s)::text COLLATE "C"`},
	datastore.KindUUID:        {"uuid_hash_extended", "%s"},
	datastore.KindTimestamp:   {"timestamp_hash_extended", "%s"},
	datastore.KindTimestampTZ: {"timestamp_hash_extended", "(%s) AT TIME ZONE 'UTC'"},
}

// nullHash (plus the column's position) stands for NULL in recordHashSQL.
const nullHash = 0x1e1e1e1e1e1e1e1e

// recordHashable reports whether the compared columns allow recordHashSQL:
// no rule (each rule reshapes the canonical text), the same type on both
// sides, and a kind whose hash equality is its value equality (JSON is left
// out: jsonb's equality ignores what its canonical text keeps).
func recordHashable(cols []colPlan) bool {
	for _, c := range cols {
		if c.rule != (ColumnRule{}) || c.src != c.tgt {
			return false
		}
		switch c.src.Kind {
		case datastore.KindSmallInt, datastore.KindInt, datastore.KindBigInt, datastore.KindBool,
			datastore.KindDecimal, datastore.KindFloat, datastore.KindDouble, datastore.KindText,
			datastore.KindVarchar, datastore.KindUUID, datastore.KindBytes, datastore.KindDate,
			datastore.KindTimestamp, datastore.KindTimestampTZ:
		default:
			return false
		}
	}
	return true
}

// recordHashAvailable reports whether both PostgreSQL servers have
// hash_record_extended (PostgreSQL 14 and later).
func recordHashAvailable(ctx context.Context, stores ...*datastore.Store) (bool, error) {
	return postgres14(ctx, stores...)
}

// bitXorAvailable reports whether every PostgreSQL store among stores has
// bit_xor (PostgreSQL 14 and later); MySQL and SQLite (hashed in Go) do.
func bitXorAvailable(ctx context.Context, stores ...*datastore.Store) (bool, error) {
	var pg []*datastore.Store
	for _, s := range stores {
		if s.Engine == datastore.Postgres {
			pg = append(pg, s)
		}
	}
	return postgres14(ctx, pg...)
}

// crcUsable says whether a check between these stores hashes with
// hashCRC: when one is MySQL-family and each such one has CRC32C (MariaDB
// 10.8 and later; MySQL has none). Between PostgreSQL and SQLite MD5 in
// PostgreSQL costs no more than streaming its text.
func crcUsable(ctx context.Context, stores ...*datastore.Store) (hashKind, error) {
	mysql := false
	for _, s := range stores {
		if s.Engine != datastore.MySQL {
			continue
		}
		mysql = true
		var v sql.NullInt64
		if err := s.DB.QueryRowContext(ctx, "SELECT CRC32C('')").Scan(&v); err != nil {
			var me *mysqldrv.MySQLError
			if errors.As(err, &me) { // MySQL: FUNCTION db.CRC32C does not exist (1305), or no database selected (1046)
				return hashMD5, nil
			}
			return hashMD5, fmt.Errorf("crc32c on %s: %w", s.Engine, err)
		}
	}
	if mysql {
		return hashCRC, nil
	}
	return hashMD5, nil
}

func postgres14(ctx context.Context, stores ...*datastore.Store) (bool, error) {
	for _, s := range stores {
		var v int
		if err := s.DB.QueryRowContext(ctx, "SELECT current_setting('server_version_num')::int").Scan(&v); err != nil {
			return false, fmt.Errorf("postgres version: %w", err)
		}
		if v < 140000 {
			return false, nil
		}
	}
	return true, nil
}

// asciiCanon reports whether column c's canonical text in MySQL is plain
// ASCII whatever the column's charset (numbers, booleans, dates, hex), so
// it needs no conversion before hashing.
func asciiCanon(c *colPlan, k datastore.Kind) bool {
	if c.rule.AsText {
		return false
	}
	switch k {
	case datastore.KindSmallInt, datastore.KindInt, datastore.KindBigInt, datastore.KindBool, datastore.KindDecimal,
		datastore.KindFloat, datastore.KindDouble, datastore.KindBytes, datastore.KindDate,
		datastore.KindTimestamp, datastore.KindTimestampTZ:
		return true
	}
	return false
}

// pgRender is how Go turns one column's PostgreSQL output into its
// canonical text on a goHash side. PostgreSQL's own output of a value
// costs it far less than the canonical rendering in SQL (to_char of a
// timestamp alone was 0.4 of 1.5 CPU-s for a million rows, and the
// concatenation most of the rest); Go's fix-ups are a few byte copies.
type pgRender int

const (
	renderSQL       pgRender = iota // the column's SQL canonical text (pgCanon), as is
	renderBool                      // t / f → 1 / 0
	renderTrimScale                 // numeric: trailing fractional zeros (and the point) dropped, as trim_scale
	renderAsIs                      // numeric at its declared scale on both sides, uuid: already canonical
	renderHex                       // bytea (bytea_output hex): the \x dropped
	renderDate                      // ISO date; BC and infinite dates as PostgreSQL writes them (see appendRendered)
	renderTimestamp                 // ISO timestamp (TimeZone UTC): "+00" dropped, fraction to 6 digits; BC and infinite as PostgreSQL writes them
)

// pgGoColumns is what a goHash PostgreSQL side selects per compared
// column, and how Go renders each. The session's DateStyle, TimeZone and
// bytea_output are set for it (pgOutputSettings). Columns with a rule or
// computed by a mapping keep their SQL canonical text.
func pgGoColumns(exprs []string, cols []colPlan, types []datastore.Type, floatDec int) ([]string, []pgRender) {
	sel, how := make([]string, len(cols)), make([]pgRender, len(cols))
	for i := range cols {
		c, x := &cols[i], exprs[i]
		sel[i], how[i] = pgCanon(x, c, types[i], floatDec), renderSQL
		if c.rule != (ColumnRule{}) || c.tol != nil || strings.HasPrefix(x, "(") {
			continue
		}
		switch types[i].Kind {
		case datastore.KindBool:
			sel[i], how[i] = x, renderBool
		case datastore.KindDecimal:
			sel[i], how[i] = x, renderTrimScale
			if c.fixedScale {
				how[i] = renderAsIs
			}
		case datastore.KindUUID:
			sel[i], how[i] = x, renderAsIs
		case datastore.KindBytes:
			sel[i], how[i] = x, renderHex
		case datastore.KindDate:
			sel[i], how[i] = x, renderDate
		case datastore.KindTimestamp, datastore.KindTimestampTZ:
			sel[i], how[i] = x, renderTimestamp
		}
	}
	return sel, how
}

// pgOutputSettings make PostgreSQL's output what pgRender expects,
// whatever the server's or role's defaults.
var pgOutputSettings = []string{"SET LOCAL DateStyle = 'ISO, YMD'", "SET LOCAL TimeZone = 'UTC'", "SET LOCAL bytea_output = 'hex'"}

// appendRendered appends value v (PostgreSQL's text output; nil for
// NULL) rendered as its canonical text, or the NULL mark of hashCRC (the
// only hash built in Go from PostgreSQL's output).
func appendRendered(b []byte, how pgRender, v []byte) []byte {
	if v == nil {
		return append(b, crcNullMark...)
	}
	switch how {
	case renderBool:
		switch string(v) {
		case "t":
			return append(b, '1')
		case "f":
			return append(b, '0')
		}
	case renderTrimScale:
		if bytes.IndexByte(v, '.') >= 0 {
			v = bytes.TrimRight(v, "0")
			v = bytes.TrimSuffix(v, []byte("."))
		}
	case renderHex:
		v = bytes.TrimPrefix(v, []byte(`\x`))
	case renderDate, renderTimestamp:
		// A BC or infinite value is kept as PostgreSQL writes it, not as
		// the SQL canonical text has it (to_char drops the era and is NULL
		// for infinity): that made 0044-03-15 BC hash as 0044-03-15 and
		// infinity as NULL, and a copy that lost the era or the infinity
		// passed the check. The other side of this path is MariaDB, which
		// holds neither: the text differs, the range is fetched and
		// compared (an infinite value is then refused by name).
		if bytes.HasSuffix(v, []byte(" BC")) || string(v) == "infinity" || string(v) == "-infinity" {
			break
		}
		if how == renderDate {
			break
		}
		v = bytes.TrimSuffix(v, []byte("+00"))
		frac := 0
		if dot := bytes.LastIndexByte(v, '.'); dot >= 0 {
			frac = len(v) - dot - 1
		} else {
			v = append(b, v...)
			return append(v, ".000000"...)
		}
		b = append(b, v...)
		return append(b, "000000"[:max(0, 6-frac)]...)
	}
	return append(b, v...)
}
