package reconcile

import (
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/godwit/godwit/datastore"
)

func TestCanonText(t *testing.T) {
	tol := func(s string) *big.Rat { r, _ := new(big.Rat).SetString(s); return r }
	ts := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)
	cases := []struct {
		name string
		kind datastore.Kind
		v    any
		c    colPlan
		want string
		null bool
	}{
		{"integer", datastore.KindBigInt, int64(-42), colPlan{}, "-42", false},
		{"decimal scale dropped", datastore.KindDecimal, "12.300", colPlan{}, "12.3", false},
		{"decimal integral", datastore.KindDecimal, "5.000", colPlan{}, "5", false},
		{"decimal negative zero", datastore.KindDecimal, "-0.00", colPlan{}, "0", false},
		{"decimal integer kept", datastore.KindDecimal, "100", colPlan{}, "100", false},
		{"double at 6 places", datastore.KindDouble, 1.0 / 7, colPlan{}, "0.142857", false},
		{"double rounds like the databases", datastore.KindDouble, 0.1234565, colPlan{}, "0.123457", false},
		{"double tiny negative", datastore.KindDouble, -1e-7, colPlan{}, "0", false},
		{"double large", datastore.KindDouble, 1e20, colPlan{}, "100000000000000000000", false},
		{"bool", datastore.KindBool, true, colPlan{}, "1", false},
		{"uuid lower", datastore.KindUUID, "A0EE-BC", colPlan{}, "a0ee-bc", false},
		{"bytes hex", datastore.KindBytes, []byte{0, 255}, colPlan{}, "00ff", false},
		{"timestamp micro", datastore.KindTimestampTZ, ts, colPlan{}, "2024-05-06 07:08:09.123456", false},
		{"timestamp to ms", datastore.KindTimestamp, ts, colPlan{rule: ColumnRule{Precision: "ms"}}, "2024-05-06 07:08:09.123000", false},
		{"timestamp to s", datastore.KindTimestamp, ts, colPlan{rule: ColumnRule{Precision: "s"}}, "2024-05-06 07:08:09.000000", false},
		{"date", datastore.KindDate, ts, colPlan{}, "2024-05-06", false},
		{"json sorted compact", datastore.KindJSON, `{"b": 1.0, "a": [1, "é<"]}`, colPlan{}, `{"a":[1,"é<"],"b":1.0}`, false},
		{"text kept", datastore.KindText, "a  ", colPlan{}, "a  ", false},
		{"text trimmed", datastore.KindText, "a  ", colPlan{rule: ColumnRule{TrimRight: true}}, "a", false},
		{"empty is null", datastore.KindVarchar, "", colPlan{rule: ColumnRule{EmptyIsNull: true}}, "", true},
		{"null", datastore.KindText, nil, colPlan{}, "", true},
		{"tolerance bucket", datastore.KindDecimal, "1.26", colPlan{tol: tol("0.1")}, "13", false},
		{"as text", datastore.KindDecimal, "1.50", colPlan{rule: ColumnRule{AsText: true}}, "1.50", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := canonText(c.kind, c.v, &c.c, 6)
			if got != c.want || ok == c.null {
				t.Fatalf("canonText(%v) = %q, %v; want %q, null=%v", c.v, got, ok, c.want, c.null)
			}
		})
	}
}

func TestBucketsSeparateValuesBeyondTheTolerance(t *testing.T) {
	tol, _ := new(big.Rat).SetString("0.01")
	for _, p := range [][2]string{{"1.000", "1.011"}, {"-3.2", "-3.215"}, {"0.004", "0.0151"}} {
		if bucket(p[0], tol) == bucket(p[1], tol) {
			t.Errorf("%s and %s differ by more than 0.01 but share a bucket", p[0], p[1])
		}
		if withinTolerance(p[0], p[1], tol) {
			t.Errorf("%s and %s are not within 0.01", p[0], p[1])
		}
	}
	if !withinTolerance("1.000", "1.009", tol) {
		t.Error("1.000 and 1.009 are within 0.01")
	}
}

func TestRowHashMatchesPostgresFormula(t *testing.T) {
	// ('x' || substr(md5('a'), 1, 15))::bit(60)::bigint = 57446577476672362
	if got := rowHash(hashMD5, []string{"a"}, []bool{false}); got != 57446577476672362 {
		t.Fatalf("rowHash(a) = %d", got)
	}
	// MariaDB: SELECT CRC32('a') * CRC32C('a'), and of 'a', then NULL
	// (CONCAT_WS(CAST(x'ff' AS BINARY), 'a', CAST(x'fe' AS BINARY))).
	if got := rowHash(hashCRC, []string{"a"}, []bool{false}); got != 12695604257390278032 {
		t.Fatalf("rowHash(crc, a) = %d", got)
	}
	if got := rowHash(hashCRC, []string{"a", "x"}, []bool{false, true}); got != 1146045237266260512 {
		t.Fatalf("rowHash(crc, a, NULL) = %d", got)
	}
	var a acc
	a.add(1<<60 - 1)
	a.add(1<<60 - 1)
	if c := a.checksum(); c.Count != 2 || c.Sum != "2305843009213693950" {
		t.Fatalf("sum %+v", c)
	}
}

func TestToleranceGate(t *testing.T) {
	rep := &Report{Tables: []TableReport{{Table: "a", SourceRows: 1000, Missing: 2, Mismatched: 5, Complete: true}}}
	cases := []struct {
		name string
		tol  Tolerance
		want string
	}{
		{"zero by default", Tolerance{}, "2 missing_in_target, tolerance 0; 5 mismatched, tolerance 0"},
		{"counts", Tolerance{MaxMissing: 2, MaxMismatched: 5}, ""},
		{"percent", Tolerance{MaxMissingPercent: 0.2, MaxMismatchedPercent: 0.4}, "5 mismatched, tolerance 4"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := strings.Join(c.tol.Check(rep), "; "); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}
