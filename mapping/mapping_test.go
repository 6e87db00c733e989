package mapping

import (
	"errors"
	"strings"
	"testing"
)

func TestApplyRule(t *testing.T) {
	cases := []struct{ rule, in, want string }{
		{RulePascal, "order_line_id", "OrderLineId"},
		{RulePascal, "orders", "Orders"},
		{RulePascal, "order_ID", "OrderID"},
		{RulePascal, "_leading__double_", "LeadingDouble"},
		{RulePascal, "OrderLine", "OrderLine"},
		{RuleCamel, "order_line_id", "orderLineId"},
		{RuleCamel, "Order_line", "orderLine"},
		{RuleSnake, "OrderLineId", "order_line_id"},
		{RuleSnake, "orderLineID", "order_line_id"},
		{RuleSnake, "HTTPServer", "http_server"},
		{RuleSnake, "order_line_id", "order_line_id"},
		{RuleSnake, "Line2Total", "line2_total"},
		{RuleLower, "Order_Line", "order_line"},
		{RuleUpper, "order_line", "ORDER_LINE"},
		{RuleAsIs, "Order_line", "Order_line"},
		{"", "Order_line", "Order_line"},
	}
	for _, c := range cases {
		t.Run(c.rule+"/"+c.in, func(t *testing.T) {
			if got := ApplyRule(c.rule, c.in); got != c.want {
				t.Errorf("ApplyRule(%q, %q) = %q, want %q", c.rule, c.in, got, c.want)
			}
		})
	}
}

func TestCheckRuleSuggests(t *testing.T) {
	err := CheckRule("pascalcase")
	if err == nil || !strings.Contains(err.Error(), `did you mean "PascalCase"`) {
		t.Fatalf("CheckRule(pascalcase) = %v, want a suggestion of PascalCase", err)
	}
	for _, r := range Rules {
		if err := CheckRule(r); err != nil {
			t.Errorf("CheckRule(%s) = %v", r, err)
		}
	}
}

func TestCheckShape(t *testing.T) {
	cases := []struct {
		name     string
		spec     Spec
		wantPath string
		wantMsg  string
	}{
		{"unknown names rule", Spec{Names: "Kebab", Tables: map[string]TableSpec{"a": {}}}, "names", "not known"},
		{"no tables", Spec{}, "tables", "is required"},
		{"table mapped twice by name and pattern", Spec{Tables: map[string]TableSpec{"orders_2024": {}, "orders_*": {}}},
			"tables.orders_2024", "mapped twice"},
		{"two tables one target", Spec{Names: RulePascal, Tables: map[string]TableSpec{"order_line": {}, "x": {To: "OrderLine"}}},
			"tables.x", "both map to target table OrderLine"},
		{"pattern with to", Spec{Tables: map[string]TableSpec{"orders_*": {To: "Orders"}}}, "tables.orders_*.to", "pattern maps many tables"},
		{"add without expr", Spec{Tables: map[string]TableSpec{"t": {Add: map[string]Computed{"Total": {Type: "int"}}}}},
			"tables.t.add.Total.expr", "is required"},
		{"add without type", Spec{Tables: map[string]TableSpec{"t": {Add: map[string]Computed{"Total": {Expr: "a+b"}}}}},
			"tables.t.add.Total.type", "is required"},
		{"now refused", Spec{Tables: map[string]TableSpec{"t": {Add: map[string]Computed{"At": {Expr: "NOW()", Type: "timestamp"}}}}},
			"tables.t.add.At.expr", "calls NOW"},
		{"random refused", Spec{Tables: map[string]TableSpec{"t": {Add: map[string]Computed{"R": {Expr: "random() * 2", Type: "float"}}}}},
			"tables.t.add.R.expr", "calls random"},
		{"uuid refused", Spec{Tables: map[string]TableSpec{"t": {Add: map[string]Computed{"U": {Expr: "uuid()", Type: "char(36)"}}}}},
			"tables.t.add.U.expr", "calls uuid"},
		{"rand refused", Spec{Tables: map[string]TableSpec{"t": {Add: map[string]Computed{"U": {Expr: "rand()", Type: "double"}}}}},
			"tables.t.add.U.expr", "calls rand"},
		{"current_timestamp refused", Spec{Tables: map[string]TableSpec{"t": {Add: map[string]Computed{"U": {Expr: "current_timestamp", Type: "timestamp"}}}}},
			"tables.t.add.U.expr", "calls current_timestamp"},
		{"volatile filter refused", Spec{Tables: map[string]TableSpec{"t": {Where: "created_at > now() - interval '1 day'"}}},
			"tables.t.where", "calls now"},
		{"rename and add collide", Spec{Tables: map[string]TableSpec{"t": {Columns: map[string]string{"a": "Total"}, Add: map[string]Computed{"total": {Expr: "a+b", Type: "int"}}}}},
			"tables.t.add.total", "written by both"},
		{"two renames collide", Spec{Tables: map[string]TableSpec{"t": {Columns: map[string]string{"a": "X", "b": "X"}}}},
			"tables.t.columns.b", "written by both"},
		{"dropped and renamed", Spec{Tables: map[string]TableSpec{"t": {Columns: map[string]string{"a": "X"}, Drop: []string{"a"}}}},
			"tables.t.drop[0]", "both dropped and renamed"},
		{"cast without type", Spec{Tables: map[string]TableSpec{"t": {Cast: map[string]Cast{"p": {}}}}},
			"tables.t.cast.p.type", "is required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps := c.spec.Check()
			for _, p := range ps {
				if p.Path == c.wantPath && strings.Contains(p.Message, c.wantMsg) {
					return
				}
			}
			t.Fatalf("Check() = %+v, want %s: …%s…", ps, c.wantPath, c.wantMsg)
		})
	}
}

func TestCheckAcceptsAWellFormedMapping(t *testing.T) {
	s := issueSpec()
	if ps := s.Check(); len(ps) != 0 {
		t.Fatalf("Check() = %+v, want none", ps)
	}
	// A quoted word is data, not a call.
	s.Tables["order_line"] = TableSpec{Where: "note <> 'now()'"}
	if ps := s.Check(); len(ps) != 0 {
		t.Fatalf("Check() with a quoted now() = %+v, want none", ps)
	}
}

// issueSpec is the mapping of issue 19's example.
func issueSpec() Spec {
	return Spec{From: "legacy", To: "new", Names: RulePascal, Tables: map[string]TableSpec{
		"order_line": {
			To:      "SalesLine",
			Columns: map[string]string{"unit_price": "Price"},
			Drop:    []string{"legacy_note"},
			Add:     map[string]Computed{"LineTotal": {Expr: "unit_price * quantity", Type: "decimal(12,2)"}},
			Cast:    map[string]Cast{"price_text": {Type: "decimal(10,2)"}},
			Where:   "quantity > 0",
		},
		"customer_account": {},
		"audit_*":          {},
	}}
}

func TestResolve(t *testing.T) {
	s := issueSpec()
	got, err := s.Resolve(SourceTable{Name: "order_line",
		Columns: []string{"order_line_id", "unit_price", "quantity", "legacy_note", "price_text"}, Key: []string{"order_line_id"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Target != "SalesLine" || got.Where != "quantity > 0" {
		t.Errorf("table = %s where %q, want SalesLine where quantity > 0", got.Target, got.Where)
	}
	want := []Column{
		{Source: "order_line_id", Target: "OrderLineId"},
		{Source: "unit_price", Target: "Price"},
		{Source: "quantity", Target: "Quantity"},
		{Source: "price_text", Target: "PriceText", Type: "decimal(10,2)"},
		{Target: "LineTotal", Expr: "unit_price * quantity", Type: "decimal(12,2)"},
	}
	if len(got.Columns) != len(want) {
		t.Fatalf("columns = %+v, want %+v", got.Columns, want)
	}
	for i := range want {
		if got.Columns[i] != want[i] {
			t.Errorf("column %d = %+v, want %+v", i, got.Columns[i], want[i])
		}
	}
	if strings.Join(got.Key, ",") != "OrderLineId" {
		t.Errorf("key = %v, want [OrderLineId]", got.Key)
	}
	if s, _ := got.TargetOf("legacy_note"); s != "" {
		t.Errorf("legacy_note is carried as %s, want dropped", s)
	}
	if strings.Join(got.SourceColumns(), ",") != "order_line_id,unit_price,quantity,price_text" {
		t.Errorf("source columns = %v", got.SourceColumns())
	}
}

func TestResolveRefuses(t *testing.T) {
	cases := []struct {
		name string
		spec Spec
		src  SourceTable
		want string
	}{
		{"unknown renamed column with a suggestion",
			Spec{Tables: map[string]TableSpec{"t": {Columns: map[string]string{"unit_prise": "Price"}}}},
			SourceTable{Name: "t", Columns: []string{"id", "unit_price"}, Key: []string{"id"}},
			`columns.unit_prise: column unit_prise is not in source table t (did you mean "unit_price"?)`},
		{"unknown dropped column",
			Spec{Tables: map[string]TableSpec{"t": {Drop: []string{"nope"}}}},
			SourceTable{Name: "t", Columns: []string{"id"}, Key: []string{"id"}}, "drop: column nope is not in source table t"},
		{"key dropped",
			Spec{Tables: map[string]TableSpec{"t": {Drop: []string{"id"}}}},
			SourceTable{Name: "t", Columns: []string{"id", "a"}, Key: []string{"id"}}, "id is a key column of t"},
		{"collision after the names rule",
			Spec{Names: RuleLower, Tables: map[string]TableSpec{"t": {}}},
			SourceTable{Name: "t", Columns: []string{"id", "Name", "name"}, Key: []string{"id"}}, "target column name of t would be written by both column Name and column name"},
		{"added column collides with a carried one",
			Spec{Names: RulePascal, Tables: map[string]TableSpec{"t": {Add: map[string]Computed{"Total": {Expr: "1", Type: "int"}}}}},
			SourceTable{Name: "t", Columns: []string{"id", "total"}, Key: []string{"id"}}, "Total of T would be written by both column total and the added column Total"},
		// A column "recomputed in place": the copy reads the added column
		// beside the source's under its name, so this stopped the copy
		// after provision had created the table; now preflight says so.
		{"added column under a dropped source column's name",
			Spec{Tables: map[string]TableSpec{"contract": {Drop: []string{"valid_to"},
				Add: map[string]Computed{"valid_to": {Expr: "CASE WHEN valid_to = 'infinity' THEN NULL ELSE valid_to END", Type: "datetime(6)"}}}}},
			SourceTable{Name: "contract", Columns: []string{"id", "valid_to"}, Key: []string{"id"}},
			"add.valid_to: valid_to is also a column of source table contract, and an added column needs a name the source does not use: name it otherwise (e.g. valid_to_new"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.spec.Resolve(c.src)
			if !errors.Is(err, ErrMapping) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Resolve() = %v, want ErrMapping with %q", err, c.want)
			}
		})
	}
}

func TestResolveAll(t *testing.T) {
	s := issueSpec()
	cols := func(name string) (SourceTable, error) {
		if name == "order_line" {
			return SourceTable{Name: name, Columns: []string{"order_line_id", "unit_price", "quantity", "legacy_note", "price_text"}, Key: []string{"order_line_id"}}, nil
		}
		return SourceTable{Name: name, Columns: []string{"id"}, Key: []string{"id"}}, nil
	}
	got, err := s.ResolveAll([]string{"audit_2024", "audit_2025", "customer_account", "order_line", "other"}, cols)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tb := range got {
		names = append(names, tb.Source+">"+tb.Target)
	}
	if strings.Join(names, " ") != "audit_2024>Audit2024 audit_2025>Audit2025 customer_account>CustomerAccount order_line>SalesLine" {
		t.Errorf("tables = %v", names)
	}
	if _, err := s.ResolveAll([]string{"customer_acount", "order_line", "audit_1"}, cols); err == nil ||
		!strings.Contains(err.Error(), `tables.customer_account: no such source table (did you mean "customer_acount"?)`) {
		t.Errorf("ResolveAll without customer_account = %v, want an unknown table with a suggestion", err)
	}
	p := Spec{Tables: map[string]TableSpec{"a_*": {}, "*_b": {}}}
	if _, err := p.ResolveAll([]string{"a_b"}, cols); err == nil || !strings.Contains(err.Error(), "mapped twice") {
		t.Errorf("two patterns over one table = %v, want mapped twice", err)
	}
	q := Spec{Names: RuleLower, Tables: map[string]TableSpec{"A_*": {}, "a_*": {}}}
	if _, err := q.ResolveAll([]string{"A_x", "a_x"}, cols); err == nil || !strings.Contains(err.Error(), "both map to target table a_x") {
		t.Errorf("two tables onto one target = %v, want a collision", err)
	}
}

func TestTargetPatterns(t *testing.T) {
	s := issueSpec()
	if got := strings.Join(s.TargetPatterns(), ","); got != "Audit*,CustomerAccount,SalesLine" {
		t.Errorf("TargetPatterns() = %s", got)
	}
	for name, want := range map[string]bool{"SalesLine": true, "Audit2024": true, "CustomerAccount": true, "OrderLine": false, "order_line": false} {
		if got := s.MapsTo(name); got != want {
			t.Errorf("MapsTo(%s) = %v, want %v", name, got, want)
		}
	}
}

// Only what changes from one evaluation to the next is refused: a column
// named like a function (uuid, random, now) and a function of the row's
// own columns (unix_timestamp(created_at), a classic computed column) are
// not; the problem names the call that is volatile.
func TestVolatileCall(t *testing.T) {
	cases := map[string]string{
		"now()":                                 "now",
		"NOW ()":                                "NOW",
		"created_at > current_timestamp":        "current_timestamp",
		"x > localtimestamp - interval '1 day'": "localtimestamp",
		"rand() < 0.5":                          "rand",
		"uuid()":                                "uuid",
		"unix_timestamp()":                      "unix_timestamp",
		"unix_timestamp( )":                     "unix_timestamp",
		"unix_timestamp(now())":                 "now",
		"nextval('s')":                          "nextval",
		"unix_timestamp(created_at)":            "",
		"UNIX_TIMESTAMP(invoice_date) * 1000":   "",
		"uuid IS NOT NULL":                      "",
		"concat(uuid, '-', id)":                 "",
		"random + 1":                            "",
		`"now" > 0`:                             "",
		"`random` * 2":                          "",
		"note <> 'now()'":                       "",
		"current_date_col > 3":                  "",
	}
	for expr, want := range cases {
		if got := VolatileCall(expr); got != want {
			t.Errorf("VolatileCall(%q) = %q, want %q", expr, got, want)
		}
	}
}

// Every table's problems are named at once: a trial's preflight named only
// invoice_line's misspelt column, and the misspelt one of the next table
// only after that was fixed.
func TestResolveAllNamesTheProblemsOfEveryTable(t *testing.T) {
	s := Spec{Names: RulePascal, Tables: map[string]TableSpec{
		"invoice_line": {Columns: map[string]string{"unit_prise": "Price"}},
		"customer":     {Drop: []string{"faks"}},
		"track":        {},
	}}
	cols := func(name string) (SourceTable, error) {
		switch name {
		case "invoice_line":
			return SourceTable{Name: name, Columns: []string{"invoice_line_id", "unit_price"}, Key: []string{"invoice_line_id"}}, nil
		case "customer":
			return SourceTable{Name: name, Columns: []string{"customer_id", "fax"}, Key: []string{"customer_id"}}, nil
		}
		return SourceTable{Name: name, Columns: []string{"track_id"}, Key: []string{"track_id"}}, nil
	}
	_, err := s.ResolveAll([]string{"customer", "invoice_line", "track"}, cols)
	if err == nil {
		t.Fatal("want the two misspelt columns refused")
	}
	for _, want := range []string{`column unit_prise is not in source table invoice_line (did you mean "unit_price"?)`, `column faks is not in source table customer (did you mean "fax"?)`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
	if !errors.Is(err, ErrMapping) {
		t.Errorf("want ErrMapping: %v", err)
	}
}

// An ad-hoc mapping's unknown column is named as the user gave it, by its
// --map-column flag, not by a spec's field path (a trial's godwit diff said
// "columns.totl: column totl is not in source table invoice").
func TestAdhocNamesAnUnknownColumnByItsFlag(t *testing.T) {
	s, err := Adhoc("invoice", "", RulePascal, map[string]string{"totl": "Total"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Resolve(SourceTable{Name: "invoice", Columns: []string{"invoice_id", "total"}, Key: []string{"invoice_id"}})
	want := `--map-column totl=Total: column totl is not in source table invoice (did you mean "total"?)`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Resolve = %v, want %q", err, want)
	}
	if err != nil && strings.Contains(err.Error(), "columns.totl") {
		t.Errorf("Resolve = %v: names a spec's field", err)
	}
}
