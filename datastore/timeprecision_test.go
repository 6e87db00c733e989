package datastore_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
)

// A timestamp's fractional-second digits are carried between engines, so a
// value written with a fraction on the target (now()) is rounded there as
// the source would round it, and reaches the source unchanged on the way
// back: a DATETIME (no fraction) was a PostgreSQL timestamp (microseconds).
func TestProvisionCarriesTimestampFractionDigits(t *testing.T) {
	cases := []struct {
		name     string
		from, to datastore.Engine
		ddl      string
		want     map[string]string // column → the target's native type
	}{
		{"mariadb onto postgres", datastore.MySQL, datastore.Postgres,
			"CREATE TABLE ts (id INT PRIMARY KEY, plain DATETIME, milli DATETIME(3), micro DATETIME(6), stamp TIMESTAMP NULL DEFAULT NULL, stamp6 TIMESTAMP(6) NULL DEFAULT NULL)",
			map[string]string{
				"plain": "timestamp(0) without time zone", "milli": "timestamp(3) without time zone",
				"micro": "timestamp without time zone", "stamp": "timestamp(0) with time zone", "stamp6": "timestamp with time zone",
			}},
		{"postgres onto mariadb", datastore.Postgres, datastore.MySQL,
			"CREATE TABLE ts (id int PRIMARY KEY, plain timestamp(0), milli timestamptz(3), micro timestamp, created timestamp(3) NOT NULL DEFAULT now())",
			map[string]string{"plain": "datetime", "milli": "datetime(3)", "micro": "datetime(6)", "created": "datetime(3)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			src := dbtest.New(t, c.from).Store
			dst := dbtest.New(t, c.to).Store
			dbtest.Exec(t, src, c.ddl)
			tab, err := src.Introspect(ctx, "ts")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := datastore.Provision(ctx, dst, []*datastore.Table{tab}, datastore.ProvisionOptions{Owner: "m1"}); err != nil {
				t.Fatal(err)
			}
			got, err := dst.Introspect(ctx, "ts")
			if err != nil {
				t.Fatal(err)
			}
			for col, want := range c.want {
				if g := got.Column(col); g == nil || g.NativeType != want {
					t.Errorf("%s: target column %+v, want %s", col, g, want)
				} else if g.Type.FractionDigits() != tab.Column(col).Type.FractionDigits() {
					t.Errorf("%s: target type %s, source %s", col, g.Type, tab.Column(col).Type)
				}
			}
		})
	}
}

// A Type stored before Fraction existed (a running migration's payload)
// reads as six digits, as every timestamp was provisioned then; whole
// seconds survive a round trip through JSON.
func TestTimestampFractionJSON(t *testing.T) {
	var old datastore.Type
	if err := json.Unmarshal([]byte(`{"kind":"timestamp"}`), &old); err != nil || old.FractionDigits() != 6 {
		t.Fatalf("old payload = %+v (%d digits), %v; want 6 digits", old, old.FractionDigits(), err)
	}
	whole := datastore.ParseType(datastore.MySQL, "datetime")
	b, _ := json.Marshal(whole)
	var back datastore.Type
	if err := json.Unmarshal(b, &back); err != nil || back != whole || back.FractionDigits() != 0 {
		t.Fatalf("datetime through JSON %s = %+v, %v; want 0 digits", b, back, err)
	}
	if b, _ := json.Marshal(datastore.ParseType(datastore.Postgres, "timestamp")); string(b) != `{"kind":"timestamp"}` {
		t.Errorf("a microsecond timestamp marshals as %s, want it as before the field", b)
	}
}
