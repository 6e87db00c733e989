package datastore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/godwit/godwit/datastore"
	"github.com/godwit/godwit/datastore/dbtest"
	"github.com/godwit/godwit/mapping"
)

func orderLine() *datastore.Table {
	return &datastore.Table{Name: "order_line", Engine: datastore.Postgres, PrimaryKey: []string{"order_line_id"},
		Columns: []datastore.Column{
			{Name: "order_line_id", Type: datastore.Type{Kind: datastore.KindBigInt}, NativeType: "bigint"},
			{Name: "customer_id", Type: datastore.Type{Kind: datastore.KindInt}, NativeType: "integer"},
			{Name: "unit_price", Type: datastore.Type{Kind: datastore.KindDecimal, Precision: 10, Scale: 2}, NativeType: "numeric(10,2)"},
			{Name: "price_text", Type: datastore.Type{Kind: datastore.KindText}, NativeType: "text", Nullable: true},
			{Name: "legacy_note", Type: datastore.Type{Kind: datastore.KindText}, NativeType: "text", Nullable: true},
		},
		Indexes: []datastore.Index{{Name: "by_customer", Columns: []string{"customer_id"}}, {Name: "by_note", Columns: []string{"legacy_note"}}},
		ForeignKeys: []datastore.ForeignKey{
			{Name: "fk_customer", Columns: []string{"customer_id"}, RefTable: "customer", RefColumns: []string{"id"}},
			{Name: "fk_note", Columns: []string{"legacy_note"}, RefTable: "notes", RefColumns: []string{"text"}},
		},
	}
}

func resolved(t *testing.T, m *mapping.Spec, src *datastore.Table, key []string) mapping.Table {
	t.Helper()
	st := mapping.SourceTable{Name: src.Name, Key: key, Columns: src.ColumnNames()}
	out, err := m.Resolve(st)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTargetTableRenamesEverything(t *testing.T) {
	m := &mapping.Spec{Names: mapping.RulePascal, Tables: map[string]mapping.TableSpec{
		"order_line": {To: "SalesLine", Columns: map[string]string{"unit_price": "Price"}, Drop: []string{"legacy_note"},
			Add:  map[string]mapping.Computed{"LineTotal": {Expr: "unit_price * 2", Type: "decimal(12,2)"}},
			Cast: map[string]mapping.Cast{"price_text": {Type: "decimal(10,2)"}}},
		"customer": {},
	}}
	src := orderLine()
	ol := resolved(t, m, src, src.PrimaryKey)
	customer := resolved(t, m, &datastore.Table{Name: "customer", Columns: []datastore.Column{{Name: "id"}}}, []string{"id"})
	got, overrides, notes := datastore.TargetTable(src, ol, map[string]mapping.Table{"order_line": ol, "customer": customer})
	if got.Name != "SalesLine" || strings.Join(got.ColumnNames(), ",") != "OrderLineId,CustomerId,Price,PriceText,LineTotal" {
		t.Errorf("table %s columns %v", got.Name, got.ColumnNames())
	}
	if strings.Join(got.PrimaryKey, ",") != "OrderLineId" {
		t.Errorf("key %v", got.PrimaryKey)
	}
	if overrides["SalesLine.LineTotal"] != "decimal(12,2)" || overrides["SalesLine.PriceText"] != "decimal(10,2)" || len(overrides) != 2 {
		t.Errorf("declared types %v", overrides)
	}
	if len(got.Indexes) != 1 || strings.Join(got.Indexes[0].Columns, ",") != "CustomerId" {
		t.Errorf("indexes %+v", got.Indexes)
	}
	if len(got.ForeignKeys) != 1 || got.ForeignKeys[0].RefTable != "Customer" || got.ForeignKeys[0].RefColumns[0] != "Id" || got.ForeignKeys[0].Columns[0] != "CustomerId" {
		t.Errorf("foreign keys %+v", got.ForeignKeys)
	}
	if n := strings.Join(notes, "\n"); !strings.Contains(n, "index by_note not carried") || !strings.Contains(n, "foreign key fk_note not carried") {
		t.Errorf("notes %q: want the index and foreign key over the dropped column named", n)
	}
	if src.Name != "order_line" || src.Columns[2].Name != "unit_price" {
		t.Error("TargetTable changed the source table")
	}
	// The rendered DDL has the declared types.
	my := dbtest.New(t, datastore.MySQL)
	ddl, _, err := my.Store.CreateTableSQL(got, overrides)
	if err != nil || !strings.Contains(ddl, "`LineTotal` decimal(12,2)") || !strings.Contains(ddl, "`PriceText` decimal(10,2)") {
		t.Errorf("DDL %s (%v)", ddl, err)
	}
}

func TestMapTableRefusesWhatDoesNotFit(t *testing.T) {
	src := orderLine()
	m := &mapping.Spec{Tables: map[string]mapping.TableSpec{"order_line": {
		Add: map[string]mapping.Computed{"customer_id2": {Expr: "customer_id", Type: "int"}}}}}
	ol := resolved(t, m, src, src.PrimaryKey)
	dst, _, _ := datastore.TargetTable(src, ol, nil)
	if _, _, err := datastore.MapTable(src, dst, ol); err != nil {
		t.Fatalf("a fitting target: %v", err)
	}
	noTotal := *dst
	noTotal.Columns = dst.Columns[:len(dst.Columns)-1]
	if _, _, err := datastore.MapTable(src, &noTotal, ol); !errors.Is(err, datastore.ErrShapeMismatch) {
		t.Errorf("a target without the computed column: %v, want ErrShapeMismatch", err)
	}
	otherKey := *dst
	otherKey.PrimaryKey = []string{"customer_id"}
	if _, _, err := datastore.MapTable(src, &otherKey, ol); err == nil || !strings.Contains(err.Error(), "the target's key is (customer_id)") {
		t.Errorf("a target keyed otherwise: %v", err)
	}
	clash := &mapping.Spec{Tables: map[string]mapping.TableSpec{"order_line": {
		Columns: map[string]string{"customer_id": "CustomerId"},
		Add:     map[string]mapping.Computed{"customer_id": {Expr: "1", Type: "int"}}}}}
	// Refused when the mapping is resolved (preflight), before any view.
	st := mapping.SourceTable{Name: src.Name, Key: src.PrimaryKey, Columns: src.ColumnNames()}
	if _, err := clash.Resolve(st); !errors.Is(err, mapping.ErrMapping) {
		t.Errorf("a computed column named like a source column: %v, want ErrMapping", err)
	}
	// And by the view itself, for a resolved table built otherwise.
	bad := resolved(t, m, src, src.PrimaryKey)
	bad.Columns = append(bad.Columns, mapping.Column{Target: "customer_id", Expr: "1", Type: "int"})
	if _, err := datastore.SourceView(src, bad); !errors.Is(err, mapping.ErrMapping) {
		t.Errorf("a view with a computed column named like a source column: %v, want ErrMapping", err)
	}
}

func TestDriftOfAMappedViewLooksAtCarriedColumnsOnly(t *testing.T) {
	src := orderLine()
	m := &mapping.Spec{Tables: map[string]mapping.TableSpec{"order_line": {Drop: []string{"legacy_note"},
		Add: map[string]mapping.Computed{"total": {Expr: "unit_price * 2", Type: "numeric"}}}}}
	view, err := datastore.SourceView(src, resolved(t, m, src, src.PrimaryKey))
	if err != nil {
		t.Fatal(err)
	}
	added := orderLine()
	added.Columns = append(added.Columns, datastore.Column{Name: "new_col", NativeType: "text"})
	if d := datastore.Drift(view, added); d != nil {
		t.Errorf("a column added to the source is not carried, so not drift: %v", d)
	}
	retyped := orderLine()
	retyped.Columns[2].NativeType = "numeric(12,4)"
	retyped.Columns = retyped.Columns[:4] // legacy_note dropped: not carried anyway
	if d := datastore.Drift(view, retyped); d == nil || strings.Join(d.Changes, ";") != "column unit_price retyped (numeric(10,2) → numeric(12,4))" {
		t.Errorf("drift %v, want only the carried column retyped", d)
	}
}

func TestCompileMappedNamesEachBadExpression(t *testing.T) {
	db := dbtest.New(t, datastore.Postgres)
	dbtest.Exec(t, db.Store, "CREATE TABLE order_line (order_line_id bigint PRIMARY KEY, unit_price numeric(10,2), customer_id int, price_text text, legacy_note text)")
	src, err := db.Store.Introspect(context.Background(), "order_line")
	if err != nil {
		t.Fatal(err)
	}
	m := &mapping.Spec{Tables: map[string]mapping.TableSpec{"order_line": {Where: "qty > 0",
		Add: map[string]mapping.Computed{"Good": {Expr: "unit_price * 2", Type: "numeric"}, "Bad": {Expr: "unit_prize * 2", Type: "numeric"}}}}}
	view, err := datastore.SourceView(src, resolved(t, m, src, src.PrimaryKey))
	if err != nil {
		t.Fatal(err)
	}
	errs := db.Store.CompileMapped(context.Background(), view)
	var got []string
	for _, e := range errs {
		got = append(got, strings.SplitN(e.Error(), ":", 2)[0])
	}
	if strings.Join(got, "|") != `add.Bad (expr "unit_prize * 2")|where "qty > 0"` {
		t.Errorf("problems %q", got)
	}
}

func TestCastLoss(t *testing.T) {
	ty := func(e datastore.Engine, s string) datastore.Type { return datastore.ParseType(e, s) }
	pg, my := datastore.Postgres, datastore.MySQL
	cases := []struct {
		name     string
		from, to datastore.Type
		lossless bool
	}{
		{"int into bigint", ty(pg, "integer"), ty(my, "BIGINT"), true},
		{"bigint into int", ty(pg, "bigint"), ty(my, "INT"), false},
		{"int into decimal(12,2)", ty(pg, "integer"), ty(my, "decimal(12,2)"), true},
		{"bigint into decimal(12,2)", ty(pg, "bigint"), ty(my, "decimal(12,2)"), false},
		{"decimal widened", ty(pg, "numeric(10,2)"), ty(my, "decimal(12,2)"), true},
		{"decimal scale cut", ty(pg, "numeric(10,4)"), ty(my, "decimal(12,2)"), false},
		{"text into decimal", ty(pg, "text"), ty(my, "decimal(10,2)"), false},
		{"anything into text", ty(pg, "numeric(10,2)"), ty(my, "TEXT"), true},
		{"longer varchar", ty(pg, "character varying(20)"), ty(my, "VARCHAR(40)"), true},
		{"shorter varchar", ty(pg, "text"), ty(my, "VARCHAR(10)"), false},
		{"double into float", ty(pg, "double precision"), ty(my, "FLOAT"), false},
		// A PostgreSQL target's type as people write it (godwit init writes
		// varchar(20)), not only as format_type spells it.
		{"longer varchar on postgres", ty(pg, "character varying(24)"), ty(pg, "varchar(40)"), true},
		{"shorter varchar on postgres", ty(pg, "character varying(24)"), ty(pg, "varchar(20)"), false},
		{"int into int8", ty(pg, "integer"), ty(pg, "int8"), true},
		{"decimal widened on postgres", ty(pg, "numeric(10,2)"), ty(pg, "decimal(12,2)"), true},
		{"timestamp alias", ty(pg, "timestamp without time zone"), ty(pg, "timestamp"), true},
		{"timestamp(3) alias", ty(pg, "timestamp(3) without time zone"), ty(pg, "timestamp(3)"), true},
		// Fractional seconds: fewer digits round every value that has more.
		{"timestamp into timestamp(0)", ty(pg, "timestamp without time zone"), ty(pg, "timestamp(0)"), false},
		{"datetime(6) into datetime", ty(my, "datetime(6)"), ty(my, "DATETIME"), false},
		{"datetime into timestamp(3)", ty(my, "datetime"), ty(pg, "timestamp(3)"), true},
		{"timestamptz(3) into timestamptz", ty(pg, "timestamp(3) with time zone"), ty(pg, "timestamptz"), true},
		{"timestamptz into timestamptz(3)", ty(pg, "timestamptz"), ty(pg, "timestamptz(3)"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			why := datastore.CastLoss(c.from, c.to)
			if (why == "") != c.lossless {
				t.Errorf("CastLoss(%s, %s) = %q, want lossless %v", c.from, c.to, why, c.lossless)
			}
		})
	}
}

// A foreign key to a table the mapping filters is not carried: the filter
// may leave out a parent whose children are carried, and a parent the
// source moves out of the filter could not be deleted on the target
// (the music-store trial's invoice {where: "total > 0"}: change capture
// stopped for good on InvoiceItem's foreign key).
func TestAForeignKeyToAFilteredTableIsNotCarried(t *testing.T) {
	m := &mapping.Spec{Names: mapping.RulePascal, Tables: map[string]mapping.TableSpec{
		"order_line": {Drop: []string{"legacy_note"}},
		"customer":   {Where: "active = 1"},
	}}
	src := orderLine()
	ol := resolved(t, m, src, src.PrimaryKey)
	customer := resolved(t, m, &datastore.Table{Name: "customer", Columns: []datastore.Column{{Name: "id"}, {Name: "active"}}}, []string{"id"})
	got, _, notes := datastore.TargetTable(src, ol, map[string]mapping.Table{"order_line": ol, "customer": customer})
	if len(got.ForeignKeys) != 0 {
		t.Errorf("foreign keys %+v, want none", got.ForeignKeys)
	}
	want := "OrderLine: foreign key fk_customer not carried: its parent table customer is filtered (where: active = 1)"
	if n := strings.Join(notes, "\n"); !strings.Contains(n, want) {
		t.Errorf("notes %q: want %q", n, want)
	}
}

// A mapped table with a column of a type that has no lossless mapping is
// refused with the fix in the mapping's terms: a cast: under the source
// table, keyed by the source column. A new-user trial (Sakila's film,
// PostgreSQL → SQLite) was told to add typeOverrides, which a mapped
// provision refuses at validate.
func TestAMappedTablesUnmappedTypeNamesACast(t *testing.T) {
	src := orderLine()
	src.Columns = append(src.Columns, datastore.Column{Name: "time_spent", Type: datastore.Type{Kind: datastore.KindUnsupported}, NativeType: "interval", Nullable: true})
	m := &mapping.Spec{Names: mapping.RulePascal, Tables: map[string]mapping.TableSpec{"order_line": {To: "SalesLine"}}}
	ol := resolved(t, m, src, src.PrimaryKey)
	tt, overrides, _ := datastore.TargetTable(src, ol, map[string]mapping.Table{"order_line": ol})
	dst := dbtest.New(t, datastore.SQLite).Store
	_, _, err := dst.CreateTableSQL(tt, overrides)
	if !errors.Is(err, datastore.ErrUnsupportedType) {
		t.Fatalf("err = %v, want ErrUnsupportedType", err)
	}
	want := `SalesLine.TimeSpent (interval); opt in per column in the mapping, under tables.order_line: cast: {time_spent: {type: "TEXT"}}`
	if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "typeOverrides") {
		t.Errorf("err = %v\nwant it to contain %s and not name typeOverrides", err, want)
	}
}
