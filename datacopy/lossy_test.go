package datacopy_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/godwit/godwit/datacopy"
	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// lossyCase is a source table with types that have no lossless mapping to
// the target's engine.
type lossyCase struct {
	from, to datastore.Engine
	ddl, ins string
	// refused are the "table.column (type)" the refusal must name;
	// overrides the typeOverrides line it must suggest.
	refused   []string
	overrides string
	// want is the target's rows, read back, after a copy with the
	// suggested overrides: the source's values, in the source's text form
	// where the target type is text.
	want [][]any
}

const (
	pgLossyDDL = `CREATE TABLE jobs (id bigint PRIMARY KEY, every interval, at time)`
	pgLossyIns = `INSERT INTO jobs VALUES (1, '1 day 02:03:04.5', '12:34:56.789'), (2, '1 year 2 mons -3 days', '23:59:59'), (3, NULL, NULL)`
	myLossyDDL = "CREATE TABLE jobs (id INT PRIMARY KEY, big BIGINT UNSIGNED, t TIME(3), y YEAR, b BIT(8))"
	myLossyIns = "INSERT INTO jobs VALUES (1, 18446744073709551615, '-838:59:59.5', 2024, b'101'), (2, 9223372036854775808, '12:00:00', 1999, b'11111111'), (3, NULL, NULL, NULL, NULL)"
)

var pgLossyWant = [][]any{{int64(1), "1 day 02:03:04.5", "12:34:56.789"}, {int64(2), "1 year 2 mons -3 days", "23:59:59"}, {int64(3), nil, nil}}

// The unsigned 64-bit column needs no opt-in: it maps to a decimal wide
// enough for every value (numeric(20,0), DECIMAL_TEXT(20,0)).
var myLossyWant = [][]any{
	{int64(1), "18446744073709551615", "-838:59:59.500", int64(2024), []byte{0x05}},
	{int64(2), "9223372036854775808", "12:00:00.000", int64(1999), []byte{0xff}},
	{int64(3), nil, nil, nil, nil},
}

var myRefused = []string{"jobs.t (time(3))", "jobs.y (year(4))", "jobs.b (bit(8))"}

// TestLossyTypesNeedAnOptInPerColumn: provision refuses each column whose
// type has no lossless mapping, naming it, its type and the spec line that
// opts in; with that line the copy carries every value through.
func TestLossyTypesNeedAnOptInPerColumn(t *testing.T) {
	cases := []lossyCase{
		{datastore.Postgres, datastore.MySQL, pgLossyDDL, pgLossyIns, []string{"jobs.every (interval)", "jobs.at (time without time zone)"},
			`typeOverrides: {"jobs.every": "VARCHAR(64)", "jobs.at": "VARCHAR(64)"}`, pgLossyWant},
		{datastore.Postgres, datastore.SQLite, pgLossyDDL, pgLossyIns, []string{"jobs.every (interval)", "jobs.at (time without time zone)"},
			`typeOverrides: {"jobs.every": "TEXT", "jobs.at": "TEXT"}`, pgLossyWant},
		{datastore.MySQL, datastore.Postgres, myLossyDDL, myLossyIns, myRefused,
			`typeOverrides: {"jobs.t": "text", "jobs.y": "smallint", "jobs.b": "bytea"}`, myLossyWant},
		{datastore.MySQL, datastore.SQLite, myLossyDDL, myLossyIns, myRefused,
			`typeOverrides: {"jobs.t": "TEXT", "jobs.y": "INTEGER", "jobs.b": "BLOB"}`, myLossyWant},
	}
	for _, tc := range cases {
		t.Run(string(tc.from)+"→"+string(tc.to), func(t *testing.T) {
			ctx := context.Background()
			src, dst := dbtest.New(t, tc.from).Store, dbtest.New(t, tc.to).Store
			dbtest.Exec(t, src, tc.ddl, tc.ins)
			jobs, err := src.Introspect(ctx, "jobs")
			if err != nil {
				t.Fatal(err)
			}
			_, err = datastore.Provision(ctx, dst, []*datastore.Table{jobs}, datastore.ProvisionOptions{Owner: "m"})
			if !errors.Is(err, datastore.ErrUnsupportedType) {
				t.Fatalf("err = %v, want ErrUnsupportedType", err)
			}
			for _, want := range append(tc.refused, tc.overrides) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("refusal %q does not say %q", err, want)
				}
			}
			if tables, _ := dst.ListTables(ctx); len(tables) != 0 {
				t.Fatalf("tables created although refused: %v", tables)
			}
			if _, err := datastore.Provision(ctx, dst, []*datastore.Table{jobs}, datastore.ProvisionOptions{Owner: "m", TypeOverrides: overrides(t, tc.overrides)}); err != nil {
				t.Fatalf("provision with the suggested overrides: %v", err)
			}
			if _, err := datacopy.Run(ctx, datacopy.Options{From: src, To: dst, Tables: []string{"jobs"}}, datacopy.Checkpoint{}, nil); err != nil {
				t.Fatalf("copy: %v", err)
			}
			_, got := dbtest.ReadAll(t, dst, "jobs")
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("target rows:\n%#v\nwant\n%#v", got, tc.want)
			}
		})
	}
}

// overrides reads back the suggested `typeOverrides: {"a.b": "T", ...}`.
func overrides(t *testing.T, line string) map[string]string {
	t.Helper()
	out := map[string]string{}
	body := strings.TrimSuffix(strings.TrimPrefix(line, "typeOverrides: {"), "}")
	for _, kv := range strings.Split(body, ", ") {
		var k, v string
		if _, err := fmt.Sscanf(strings.Replace(kv, ": ", " ", 1), "%q %q", &k, &v); err != nil {
			t.Fatalf("override %q: %v", kv, err)
		}
		out[k] = v
	}
	return out
}

// TestUnsignedBigintIntoSignedIsAnErrorNotALoss: an override (or an
// existing target table) that narrows an unsigned 64-bit column to a
// signed one fails the batch on the first value above 2^63-1, saying so;
// nothing of the batch is written.
func TestUnsignedBigintIntoSignedIsAnErrorNotALoss(t *testing.T) {
	for _, tc := range []struct {
		to        datastore.Engine
		overrides map[string]string
	}{
		{datastore.Postgres, map[string]string{"jobs.big": "bigint", "jobs.t": "text", "jobs.y": "smallint", "jobs.b": "bytea"}},
		{datastore.SQLite, map[string]string{"jobs.big": "INTEGER", "jobs.t": "TEXT", "jobs.y": "INTEGER", "jobs.b": "BLOB"}},
	} {
		t.Run(string(tc.to), func(t *testing.T) {
			ctx := context.Background()
			src, dst := dbtest.New(t, datastore.MySQL).Store, dbtest.New(t, tc.to).Store
			dbtest.Exec(t, src, myLossyDDL, myLossyIns)
			jobs, err := src.Introspect(ctx, "jobs")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := datastore.Provision(ctx, dst, []*datastore.Table{jobs}, datastore.ProvisionOptions{Owner: "m", TypeOverrides: tc.overrides}); err != nil {
				t.Fatal(err)
			}
			_, err = datacopy.Run(ctx, datacopy.Options{From: src, To: dst, Tables: []string{"jobs"}}, datacopy.Checkpoint{}, nil)
			if !errors.Is(err, datastore.ErrBadValue) || !datastore.IsPermanent(err) {
				t.Fatalf("err = %v, want a permanent ErrBadValue", err)
			}
			for _, want := range []string{"column big", "18446744073709551615 does not fit a signed 64-bit integer"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if n, _ := dst.Count(ctx, "jobs"); n != 0 {
				t.Errorf("target holds %d rows, want 0 (the failing batch is not half written)", n)
			}
		})
	}
}

// TestDecimalThatWouldBeRoundedIsRefused: a SQLite DECIMAL(10,2) may hold
// 9.999 (SQLite does not enforce the scale); PostgreSQL's numeric(10,2)
// and MySQL's DECIMAL(10,2) would round it silently, so the batch fails
// saying which value and column, and nothing of it is written.
func TestDecimalThatWouldBeRoundedIsRefused(t *testing.T) {
	for _, to := range []datastore.Engine{datastore.Postgres, datastore.MySQL} {
		t.Run(string(to), func(t *testing.T) {
			ctx := context.Background()
			src, dst := dbtest.New(t, datastore.SQLite).Store, dbtest.New(t, to).Store
			dbtest.Exec(t, src, "CREATE TABLE prices (id INTEGER PRIMARY KEY, total DECIMAL(10,2))",
				"INSERT INTO prices VALUES (1, 12.5), (2, 9.999), (3, NULL)")
			prices, err := src.Introspect(ctx, "prices")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := datastore.Provision(ctx, dst, []*datastore.Table{prices}, datastore.ProvisionOptions{Owner: "m"}); err != nil {
				t.Fatal(err)
			}
			_, err = datacopy.Run(ctx, datacopy.Options{From: src, To: dst, Tables: []string{"prices"}}, datacopy.Checkpoint{}, nil)
			if !errors.Is(err, datastore.ErrBadValue) || !strings.Contains(err.Error(), "row 1 column total: value cannot be converted: 9.999 has 3 decimal places and the target column is DECIMAL(10,2): it would be rounded") {
				t.Fatalf("err = %v, want the rounding refused", err)
			}
			if n, _ := dst.Count(ctx, "prices"); n != 0 {
				t.Errorf("target holds %d rows, want 0", n)
			}
		})
	}
}
