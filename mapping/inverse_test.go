package mapping

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// invertibleSpec is the rollback case: a names rule, a rename, a
// computed column, a cast with its inverse and a column replaced by a
// computed one that gives it back.
func invertibleSpec() Spec {
	return Spec{Names: RulePascal, Tables: map[string]TableSpec{"order_line": {
		To:      "SalesLine",
		Columns: map[string]string{"unit_price": "Price"},
		Drop:    []string{"amount_cents"},
		Add: map[string]Computed{
			"LineTotal": {Expr: "unit_price * quantity", Type: "decimal(12,2)"},
			"Amount":    {Expr: "amount_cents / 100.0", Type: "decimal(12,2)", Inverse: map[string]string{"amount_cents": "CAST(Amount * 100 AS bigint)"}},
		},
		Cast: map[string]Cast{"price_text": {Type: "decimal(10,2)", Inverse: "CAST(PriceText AS varchar(20))"}},
	}}}
}

// editedSpec is invertibleSpec with order_line's rules edited.
func editedSpec(edit func(*TableSpec)) Spec {
	s := invertibleSpec()
	ts := s.Tables["order_line"]
	edit(&ts)
	s.Tables["order_line"] = ts
	return s
}

var orderLine = SourceTable{Name: "order_line",
	Columns: []string{"order_line_id", "unit_price", "quantity", "amount_cents", "price_text"}, Key: []string{"order_line_id"}}

func TestInverseMapsBack(t *testing.T) {
	s := invertibleSpec()
	if ps := s.Check(); len(ps) > 0 {
		t.Fatalf("Check() = %+v", ps)
	}
	if ps := s.Invertible(); len(ps) > 0 {
		t.Fatalf("Invertible() = %+v, want none", ps)
	}
	fwd, err := s.Resolve(orderLine)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := fwd.Inverse([]string{"order_line_id", "amount_cents"})
	if err != nil {
		t.Fatal(err)
	}
	want := Table{Source: "SalesLine", Target: "order_line", Key: []string{"order_line_id"}, Columns: []Column{
		{Source: "OrderLineId", Target: "order_line_id"},
		{Source: "Price", Target: "unit_price"},
		{Source: "Quantity", Target: "quantity"},
		{Target: "price_text", Expr: "CAST(PriceText AS varchar(20))"},
		{Target: "amount_cents", Expr: "CAST(Amount * 100 AS bigint)"},
	}}
	if !reflect.DeepEqual(inv, want) {
		t.Errorf("Inverse() =\n%+v\nwant\n%+v", inv, want)
	}
	if inv.Column("LineTotal") != nil || inv.Column("Amount") != nil {
		t.Errorf("an added column is carried back: %+v", inv.Columns)
	}
}

func TestInverseOfRenamesIsTheForwardBack(t *testing.T) {
	s := Spec{Names: RuleSnake, Tables: map[string]TableSpec{"OrderLine": {Columns: map[string]string{"UnitPrice": "price"}}}}
	src := SourceTable{Name: "OrderLine", Columns: []string{"OrderLineId", "UnitPrice"}, Key: []string{"OrderLineId"}}
	fwd, err := s.Resolve(src)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := fwd.Inverse(src.Columns)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Source != "order_line" || inv.Target != "OrderLine" || strings.Join(inv.TargetColumns(), ",") != "OrderLineId,UnitPrice" ||
		strings.Join(inv.SourceColumns(), ",") != "order_line_id,price" || strings.Join(inv.Key, ",") != "OrderLineId" {
		t.Errorf("Inverse() = %+v", inv)
	}
}

func TestInverseRefusesNamingTheRule(t *testing.T) {
	cases := []struct {
		name    string
		edit    func(*TableSpec)
		notNull []string
		want    string
	}{
		{"a filter", func(t *TableSpec) { t.Where = "quantity > 0" }, nil,
			"where: a filter (where: quantity > 0) carries only the rows it holds for"},
		{"a cast with no inverse", func(t *TableSpec) { t.Cast = map[string]Cast{"price_text": {Type: "decimal(10,2)"}} }, nil,
			"cast.price_text: price_text reaches the target as decimal(10,2): reverse replication needs cast.price_text.inverse"},
		{"a dropped NOT NULL column", func(t *TableSpec) { t.Drop = append(t.Drop, "quantity") }, []string{"quantity"},
			"drop: quantity is dropped but NOT NULL with no default on the source"},
		{"a NOT NULL column whose add lost its inverse", func(t *TableSpec) {
			a := t.Add["Amount"]
			a.Inverse = nil
			t.Add["Amount"] = a
		}, []string{"amount_cents"}, "drop: amount_cents is dropped but NOT NULL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := editedSpec(c.edit)
			fwd, err := s.Resolve(orderLine)
			if err != nil {
				t.Fatal(err)
			}
			_, err = fwd.Inverse(c.notNull)
			if !errors.Is(err, ErrMapping) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "table order_line has no inverse") {
				t.Fatalf("Inverse() = %v\nwant ErrMapping naming table order_line and %q", err, c.want)
			}
		})
	}
}

func TestInvertibleNamesEachRuleAtValidate(t *testing.T) {
	s := editedSpec(func(ts *TableSpec) {
		ts.Where = "quantity > 0"
		ts.Cast = map[string]Cast{"price_text": {Type: "decimal(10,2)"}}
	})
	ps := s.Invertible()
	if len(ps) != 2 || ps[0].Path != "tables.order_line.where" || ps[1].Path != "tables.order_line.cast.price_text.inverse" {
		t.Fatalf("Invertible() = %+v, want the filter and the cast", ps)
	}
	if !strings.Contains(ps[1].Message, "e.g. CAST(PriceText AS <its type on the source>)") {
		t.Errorf("the cast's message does not show the target name: %s", ps[1].Message)
	}
}

func TestCheckRefusesBadInverses(t *testing.T) {
	cases := []struct {
		name     string
		edit     func(*TableSpec)
		wantPath string
		wantMsg  string
	}{
		{"a carried column given back", func(t *TableSpec) {
			t.Add["Amount"] = Computed{Expr: "1", Type: "int", Inverse: map[string]string{"quantity": "Amount"}}
		}, "tables.order_line.add.Amount.inverse.quantity", "quantity is not dropped"},
		{"given back twice", func(t *TableSpec) {
			t.Add["Other"] = Computed{Expr: "1", Type: "int", Inverse: map[string]string{"amount_cents": "Other"}}
		}, "tables.order_line.add.Other.inverse.amount_cents", "given back by both Amount and Other"},
		{"a volatile inverse", func(t *TableSpec) {
			t.Cast = map[string]Cast{"price_text": {Type: "decimal(10,2)", Inverse: "CAST(now() AS text)"}}
		}, "tables.order_line.cast.price_text.inverse", "calls now"},
		{"an empty inverse", func(t *TableSpec) {
			t.Add["Amount"] = Computed{Expr: "1", Type: "int", Inverse: map[string]string{"amount_cents": " "}}
		}, "tables.order_line.add.Amount.inverse.amount_cents", "is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := editedSpec(c.edit)
			for _, p := range s.Check() {
				if p.Path == c.wantPath && strings.Contains(p.Message, c.wantMsg) {
					return
				}
			}
			t.Fatalf("Check() = %+v\nwant %s: ...%s", s.Check(), c.wantPath, c.wantMsg)
		})
	}
}
